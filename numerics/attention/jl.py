"""Independent computations for the Johnson-Lindenstrauss dimension (numpy / scipy only; no closed forms).

A Gaussian projection ``f(u) = G u / sqrt(d)`` (``G`` a ``d x D`` matrix of independent standard
normal entries) maps a difference ``u`` of two points to ``||f(u)||^2 / ||u||^2 ~ chi^2_d / d``,
whatever ``u``. So a pair of points is kept within a window ``[lower, upper]`` of its squared
distance with an exactly known probability (seed 003, exercise 1.9):

* :func:`distance_window`: the window of the squared-distance ratio that keeps a squared distance
  within ``1 +- eps`` (``[1 - eps, 1 + eps]``) or a distance within ``1 +- eps``
  (``[(1 - eps)^2, (1 + eps)^2]``);
* :func:`pair_failure_probability`: ``P(chi^2_d / d`` outside the window``)`` from scipy's
  ``chi2`` law; :func:`union_bound`: that times the ``m(m-1)/2`` pairs;
* :func:`smallest_sufficient_dimension`: the smallest integer ``d`` whose union bound is at most a
  target failure probability, by a search over the integers: the statement's quantity from its
  definition, with the exact law instead of any Chernoff bound;
* :func:`projection_trials` and :func:`binomial_p_value`: an empirical check that projects ``m``
  random points many times and tests the number of trials with a distorted pair.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.spatial.distance import pdist

LOG_TARGET_MARGIN = 1e-9
"""The union bound must be below the target by this much of ``|ln P|``: more than scipy's error in
``ln P`` (within 1e-11 of 50-digit quadrature up to ``d = 3e6``), so rounding never makes a dimension
look sufficient that is not."""


def distance_window(eps, squared: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` for ``||f(u)||^2 / ||u||^2``: ``1 -+ eps`` for squared distances, ``(1 -+ eps)^2`` for distances.

    Raises ``ValueError`` naming ``eps`` unless ``0 < eps < 1``.
    """
    eps = np.asarray(eps, dtype=float)
    if not np.all((eps > 0) & (eps < 1)):
        raise ValueError("distance_window: eps must lie in (0, 1)")
    if squared:
        return 1 - eps, 1 + eps
    return (1 - eps) ** 2, (1 + eps) ** 2


def _log_pair_failure(d, lower, upper) -> np.ndarray:
    """``ln P(chi^2_d / d < lower or > upper)``, both tails in logarithms (no underflow below 1e-300)."""
    return np.logaddexp(stats.chi2.logsf(d * upper, d), stats.chi2.logcdf(d * lower, d))


def pair_failure_probability(d, lower, upper) -> np.ndarray:
    """``P(chi^2_d / d`` outside ``[lower, upper])``: one pair distorted beyond the window by ``f(u) = G u / sqrt(d)``.

    Raises ``ValueError`` naming ``d`` unless ``d > 0`` and finite, or the window unless ``0 <= lower < upper``.
    """
    d, lower, upper = _checked("pair_failure_probability", d, lower, upper)
    return np.exp(_log_pair_failure(d, lower, upper))


def _checked(function: str, d, lower, upper):
    d, lower, upper = (np.asarray(v, dtype=float) for v in (d, lower, upper))
    if not np.all((d > 0) & np.isfinite(d)):
        raise ValueError(f"{function}: d must be positive and finite")
    if not np.all((lower >= 0) & (lower < upper) & np.isfinite(upper)):
        raise ValueError(f"{function}: the window must have 0 <= lower < upper, finite")
    return d, lower, upper


def _log_pairs(function: str, m) -> np.ndarray:
    m = np.asarray(m, dtype=float)
    if not np.all((m >= 2) & np.isfinite(m)):
        raise ValueError(f"{function}: m must be at least 2 and finite")
    return np.log(m) + np.log(m - 1) - np.log(2.0)


def union_bound(m, d, lower, upper) -> np.ndarray:
    """``m(m-1)/2 P(chi^2_d / d`` outside ``[lower, upper])``: the union bound over all pairs with the exact pair law.

    At most ``t`` means that a Gaussian projection to ``d`` dimensions keeps every pair of ``m``
    points inside the window with probability at least ``1 - t``. Computed in logarithms (``m`` up
    to 1e15 has 5e29 pairs). Raises ``ValueError`` naming ``m``, ``d`` or the window when out of range.
    """
    log_pairs = _log_pairs("union_bound", m)
    d, lower, upper = _checked("union_bound", d, lower, upper)
    return np.exp(log_pairs + _log_pair_failure(d, lower, upper))


def smallest_sufficient_dimension(m, lower, upper, failure) -> np.ndarray:
    """The smallest integer ``d >= 1`` with ``m(m-1)/2 P(chi^2_d / d`` outside ``[lower, upper]) <= failure``.

    The union bound with the exact law of one pair (scipy's ``chi2``), evaluated in logarithms and
    required to be below ``ln failure`` by :data:`LOG_TARGET_MARGIN` of ``|ln P|``, so rounding can
    only make the answer larger. The search runs over the integers for all instances at once: the
    upper end doubles from 1 until it suffices, then the bracket ``(insufficient, sufficient]`` is
    halved down to adjacent integers. That relies on the pair's failure probability falling as
    ``d`` grows (``chi^2_d / d`` concentrates; the tests check it on every integer up to 4096 at
    several windows). Raises ``ValueError`` naming ``m``, the window or ``failure`` when out of range.
    """
    log_pairs = _log_pairs("smallest_sufficient_dimension", m)
    _, lower, upper = _checked("smallest_sufficient_dimension", 1.0, lower, upper)
    failure = np.asarray(failure, dtype=float)
    if not np.all((failure > 0) & (failure < 1)):
        raise ValueError("smallest_sufficient_dimension: failure must lie in (0, 1)")
    log_pairs, lower, upper, log_target = np.broadcast_arrays(log_pairs, lower, upper, np.log(failure))

    def sufficient(d):
        log_union = log_pairs + _log_pair_failure(d, lower, upper)
        return log_union <= log_target - LOG_TARGET_MARGIN * np.abs(log_union - log_pairs)

    high = np.ones_like(log_target)
    while not np.all(enough := sufficient(high)):
        high = np.where(enough, high, 2 * high)
    low = high / 2  # insufficient unless high = 1, where the answer is 1
    low = np.where(high == 1, 0.0, low)
    while np.any(open_ := high - low > 1):
        middle = np.where(open_, np.floor((low + high) / 2), high)
        enough = sufficient(middle)
        low, high = np.where(open_ & ~enough, middle, low), np.where(open_ & enough, middle, high)
    return high


def projection_trials(m: int, D: int, d: int, eps: float, trials: int, rng: np.random.Generator) -> np.ndarray:
    """For each of ``trials`` independent Gaussian projections, the number of pairs whose squared distance moves beyond ``1 +- eps``.

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
