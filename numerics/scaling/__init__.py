"""Independent computations for the scaling-law theorems (numpy / scipy only; no closed forms).

* Compute-optimal allocation (Hoffmann et al. 2022, section 3.3, approach 3; seed 000,
  hours 5-6): the parametric loss :func:`parametric_loss`, and its numerical minimisation
  along the budget ``C = 6 N D`` for a whole batch of instances at once
  (:func:`compute_optimal_allocation`), which returns its own accuracy.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import elementwise

UNIT_ROUNDOFF = np.finfo(float).eps / 2


def parametric_loss(N, D, A, B, E, alpha, beta):
    """``L(N, D) = E + A N^-alpha + B D^-beta`` (Hoffmann et al. 2022, eq. 2), elementwise."""
    return E + A * N**-alpha + B * D**-beta


def _loss_slope_in_log_size(u, A, B, C, alpha, beta):
    """``dL/du`` along ``D = C/(6N)``, ``N = e^u``, by the chain rule: ``N dL/dN - D dL/dD``.

    Both terms are evaluated from ``N`` and ``D`` themselves, not from any rearranged form of
    the stationarity condition. The slope increases with ``u`` (the loss is convex in ``u``),
    so a sign change brackets the one minimum.
    """
    N = np.exp(u)
    D = C / (6 * N)
    return -alpha * A * N**-alpha + beta * B * D**-beta


def compute_optimal_allocation(A, B, C, E, alpha, beta):
    """Minimise ``L(N, D)`` on ``6 N D = C`` numerically; ``(values, accuracy)``, both of shape ``(n, 3)``.

    Each row of ``values`` is ``(N, D, L)`` at the minimiser. All instances are solved together:
    :func:`scipy.optimize.elementwise.bracket_root` expands a bracket from ``N = D`` (the
    symmetric split of the budget) until ``dL/du`` changes sign, and
    :func:`scipy.optimize.elementwise.find_root` (Chandrupatla) shrinks it to a few ulps of
    ``u``, terminating on the bracket width only (no function-value tolerance).

    ``accuracy`` bounds ``|value - exact minimiser|`` per instance and component. The root
    of the exact slope lies in the final bracket of width ``w``, up to where rounding can flip
    the computed slope's sign: each of its two terms ``T = alpha A N^-alpha`` and
    ``beta B D^-beta`` is computed to within 8 ulps, and near the root, where both equal
    ``T``, the exact slope is ``(alpha + beta) T (u - u*)`` to first order, so the sign is
    right once ``|u - u*| > 2 * 8 u_r / (alpha + beta)`` (``u_r`` the unit roundoff). With
    ``delta = w + 32 u_r / (alpha + beta)`` (twice that margin) the relative error of
    ``N = e^u`` and of ``D = C/(6N)`` is at most ``expm1(delta)`` (plus 4 ulps of their own
    rounding), and the loss, stationary at ``u*``, is off by at most
    ``(1/2) e^delta g''(u) delta^2`` with ``g''(u) = alpha^2 A N^-alpha + beta^2 B D^-beta``.
    """
    A, B, C, E, alpha, beta = (np.asarray(x, dtype=float) for x in (A, B, C, E, alpha, beta))
    arguments = (A, B, C, alpha, beta)
    equal_split = 0.5 * np.log(C / 6)
    u, width = bracketed_root(_loss_slope_in_log_size, equal_split, arguments)
    delta = width + 32 * UNIT_ROUNDOFF / (alpha + beta)
    N = np.exp(u)
    D = C / (6 * N)
    L = parametric_loss(N, D, A, B, E, alpha, beta)
    relative = np.expm1(delta) + 4 * UNIT_ROUNDOFF
    curvature = alpha**2 * A * N**-alpha + beta**2 * B * D**-beta
    accuracy = np.stack([relative * N, relative * D, 0.5 * np.exp(delta) * curvature * delta**2], axis=-1)
    return np.stack([N, D, L], axis=-1), accuracy

def bracketed_root(function, start, args=(), *, xatol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Roots of ``function(u, *args)`` for a batch, near ``start``, and each final bracket's width.

    :func:`scipy.optimize.elementwise.bracket_root` widens ``[start - 1, start + 1]`` until the
    sign changes; :func:`~scipy.optimize.elementwise.find_root` (Chandrupatla) shrinks it to a
    width of ``xatol + 4 eps |u|``, terminating on the bracket alone (no function-value
    tolerance). An exact zero of the computed function ends the search early and its bracket
    says nothing, so the width is 0 there. Raises ArithmeticError if either step fails.
    """
    start = np.asarray(start, dtype=float)
    bracket = elementwise.bracket_root(function, start - 1, start + 1, args=args)
    if not np.all(bracket.success):
        raise ArithmeticError(f"{function.__name__}: no sign change was found")
    tolerances = {"xatol": xatol, "xrtol": 4 * np.finfo(float).eps, "fatol": 0.0, "frtol": 0.0}
    root = elementwise.find_root(function, bracket.bracket, args=args, tolerances=tolerances)
    if not np.all(root.success):
        raise ArithmeticError(f"{function.__name__}: the root finder did not converge")
    return root.x, np.where(root.f_x == 0, 0.0, root.bracket[1] - root.bracket[0])


def checked_arrays(positive: dict, exponents: dict | None = None) -> list[np.ndarray]:
    """The arguments as float arrays, in order; ValueError naming the first one out of its domain.

    ``positive`` must be positive and finite; ``exponents`` must lie in (0, 1).
    """
    arrays = []
    for name, value in positive.items():
        array = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(array) & (array > 0)):
            raise ValueError(f"{name} must be positive and finite")
        arrays.append(array)
    for name, value in (exponents or {}).items():
        array = np.asarray(value, dtype=float)
        if not np.all((array > 0) & (array < 1)):
            raise ValueError(f"{name} must lie in (0, 1)")
        arrays.append(array)
    return arrays


from numerics.scaling.fit import fit_chinchilla  # noqa: E402,F401
from numerics.scaling.fit import load_runs  # noqa: E402,F401
