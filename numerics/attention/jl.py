"""Independent computations for the Johnson-Lindenstrauss dimension (numpy / scipy only; no closed forms).

* :func:`union_bound_dimension`: the dimension at which the union bound over all pairs of
  Dasgupta and Gupta's per-pair tail reaches ``1 - 1/m``, by root finding (seed 003, exercise 1.9).
* :func:`pair_failure_probability`: the exact probability that a Gaussian projection distorts one
  pair's squared distance by more than ``1 +- eps`` (the squared length of a projected unit
  vector is ``chi^2_d / d``); :func:`exact_union_bound`: that probability times the number of
  pairs, the union bound with the exact tail instead of the Chernoff bound.
* :func:`projection_trials` and :func:`binomial_p_value`: an empirical check that projects ``m``
  random points many times and tests the number of trials with a distorted pair against the
  union-bound rate.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.optimize import elementwise
from scipy.spatial.distance import pdist

UNIT_ROUNDOFF = np.finfo(float).eps / 2


def _log_union_bound_gap(d, m, eps, cubic):
    """``ln(pairs * 2 exp(-d kappa / 2)) - ln(1 - 1/m)``, ``kappa = eps^2/2 - cubic eps^3/3``: the union bound against its target."""
    kappa = eps**2 / 2 - cubic * eps**3 / 3
    pairs = m * (m - 1) / 2
    return np.log(pairs) + np.log(2.0) - d * kappa / 2 - np.log1p(-1 / m)


def union_bound_dimension(m, eps, cubic: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The smallest ``d`` at which ``m(m-1)/2`` pairs times ``2 exp(-d kappa / 2)`` is at most ``1 - 1/m``; ``(d, accuracy)``.

    ``kappa = eps^2/2 - eps^3/3`` (Dasgupta and Gupta's Lemma 2.2), or ``eps^2/2`` with
    ``cubic=False``. The gap is evaluated in logarithms (``m`` up to 1e15 has 5e29 pairs) and
    decreases in ``d``; all instances are solved together by
    :func:`scipy.optimize.elementwise.bracket_root` from ``[0, 1]`` and Chandrupatla's
    :func:`~scipy.optimize.elementwise.find_root`. ``accuracy`` is the final bracket plus the band
    where rounding of the gap (16 ulps of ``ln(m^2)``, its largest term) can flip its sign,
    divided by the slope ``kappa / 2``.

    This is not independent of the derivation's premises: it root-finds the same union-bound
    equation (the per-pair Chernoff tail ``2 exp(-d kappa / 2)`` and the target ``1 - 1/m``, typed
    here by hand), so it confirms the algebra (solving, dropping the cubic term), not the tail
    bound. :func:`exact_union_bound` checks sufficiency with the exact ``chi^2`` tail instead.
    Raises ``ValueError`` naming ``m`` unless ``m >= 2``, or ``eps`` unless ``0 < eps < 1``.
    """
    m, eps = (np.asarray(v, dtype=float) for v in (m, eps))
    if not np.all(m >= 2):
        raise ValueError("union_bound_dimension: m must be at least 2 (and not NaN)")
    if not np.all((eps > 0) & (eps < 1)):
        raise ValueError("union_bound_dimension: eps must lie in (0, 1)")
    arguments = (m, eps, float(cubic))
    start = np.zeros_like(eps)
    bracket = elementwise.bracket_root(_log_union_bound_gap, start, start + 1, xmin=0.0, args=arguments)
    if not np.all(bracket.success):
        raise ArithmeticError("union_bound_dimension: no sign change of the union bound was found")
    root = elementwise.find_root(
        _log_union_bound_gap,
        bracket.bracket,
        args=arguments,
        tolerances={"xatol": 0.0, "xrtol": 4 * np.finfo(float).eps, "fatol": 0.0, "frtol": 0.0},
    )
    if not np.all(root.success):
        raise ArithmeticError("union_bound_dimension: the root finder did not converge")
    kappa = eps**2 / 2 - float(cubic) * eps**3 / 3
    width = np.where(root.f_x == 0, 0.0, root.bracket[1] - root.bracket[0])
    return root.x, width + 16 * UNIT_ROUNDOFF * 2 * np.log(m) / (kappa / 2)


def pair_failure_probability(d, eps) -> np.ndarray:
    """``P(|chi^2_d / d - 1| > eps)``: one pair's squared distance distorted by more than ``1 +- eps``.

    For ``f(u) = G u / sqrt(d)`` with ``G`` a ``d x D`` standard Gaussian matrix,
    ``||f(u)||^2 / ||u||^2`` has exactly the law of ``chi^2_d / d`` whatever ``u``; both tails
    are taken in logarithms so that values far below 1e-300 do not underflow on the way.
    Raises ``ValueError`` naming ``d`` unless ``d > 0``, or ``eps`` unless ``0 < eps < 1``.
    """
    return np.exp(_log_pair_failure(*_checked_dimension_and_distortion("pair_failure_probability", d, eps)))


def _checked_dimension_and_distortion(function: str, d, eps) -> tuple[np.ndarray, np.ndarray]:
    """``(d, eps)`` as float arrays, or a ValueError naming the one out of range (``d > 0`` finite, ``0 < eps < 1``)."""
    d, eps = (np.asarray(v, dtype=float) for v in (d, eps))
    if not np.all((d > 0) & np.isfinite(d)):
        raise ValueError(f"{function}: d must be positive and finite")
    if not np.all((eps > 0) & (eps < 1)):
        raise ValueError(f"{function}: eps must lie in (0, 1)")
    return d, eps


def _log_pair_failure(d: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """``ln P(|chi^2_d / d - 1| > eps)``, both tails in logarithms."""
    return np.logaddexp(stats.chi2.logsf(d * (1 + eps), d), stats.chi2.logcdf(d * (1 - eps), d))


def exact_union_bound(m, d, eps) -> np.ndarray:
    """``m(m-1)/2 * P(|chi^2_d / d - 1| > eps)``: the union bound over all pairs with the exact per-pair law.

    At most ``1 - 1/m`` means the Gaussian projection to ``d`` dimensions keeps every pair of
    ``m`` points within ``1 +- eps`` with probability at least ``1/m`` without any Chernoff bound:
    an independent confirmation that a dimension is sufficient. Computed in logarithms (``m`` up
    to 1e15 has 5e29 pairs). Raises ``ValueError`` naming ``m``, ``d`` or ``eps`` when out of range.
    """
    m = np.asarray(m, dtype=float)
    if not np.all(m >= 2) or not np.all(np.isfinite(m)):
        raise ValueError("exact_union_bound: m must be at least 2 and finite")
    d, eps = _checked_dimension_and_distortion("exact_union_bound", d, eps)
    return np.exp(np.log(m) + np.log(m - 1) - np.log(2.0) + _log_pair_failure(d, eps))


def projection_trials(m: int, D: int, d: int, eps: float, trials: int, rng: np.random.Generator) -> np.ndarray:
    """For each of ``trials`` independent Gaussian projections, the number of pairs distorted beyond ``1 +- eps``.

    Each trial draws ``m`` standard Gaussian points in ``R^D`` and a ``d x D`` standard Gaussian
    matrix ``G``, projects with ``G / sqrt(d)``, and compares all ``m(m-1)/2`` squared distances.
    """
    for name, value in (("m", m), ("D", D), ("d", d), ("trials", trials)):
        if not isinstance(value, (int, np.integer)) or value < (2 if name == "m" else 1):
            raise ValueError(f"projection_trials: {name} must be a positive integer (m >= 2), got {value!r}")
    if not 0 < eps < 1:
        raise ValueError(f"projection_trials: eps must lie in (0, 1), got {eps!r}")
    distorted = np.empty(trials, dtype=int)
    for t in range(trials):
        points = rng.standard_normal((m, D))
        projected = points @ rng.standard_normal((D, d)) / np.sqrt(d)
        ratio = pdist(projected, "sqeuclidean") / pdist(points, "sqeuclidean")
        distorted[t] = int(np.count_nonzero(np.abs(ratio - 1) > eps))
    return distorted


def binomial_p_value(failed: int, trials: int, rate: float) -> float:
    """``P(Binomial(trials, rate) >= failed)``: how surprising ``failed`` trials are if each fails with probability at most ``rate``."""
    if not 0 <= rate <= 1:
        raise ValueError(f"binomial_p_value: rate must lie in [0, 1], got {rate!r}")
    return float(stats.binom.sf(failed - 1, trials, rate))
