"""Independent computations for the scaling-law theorems (numpy / scipy only; no closed forms).

* :func:`minimise_smooth`: the minimisers of a batch of smooth functions of one variable, on
  the functions themselves (scipy's bracketing minimiser, then Newton's method with
  complex-step slopes), the shared tool of the scaling oracles; :func:`log_sum_exp` for
  complex arguments.
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


def log_sum_exp(x, y):
    """``ln(e^x + e^y)`` elementwise without overflow, for real or complex arguments (the complex step).

    numpy's ``logaddexp`` takes real arguments only; here the shift is the larger real part.
    """
    shift = np.maximum(np.real(x), np.real(y))
    return shift + np.log(np.exp(x - shift) + np.exp(y - shift))


COMPLEX_STEP = 1e-30
"""The imaginary step of the complex-step slope: far below any rounding, and no difference is taken."""
CURVATURE_STEP = 1e-4
"""Half the spacing of the two complex-step slopes whose difference estimates the curvature in a Newton step."""
NEWTON_STEPS = 4


def complex_step_slope(objective, u, args=()):
    """``d objective / du`` by the complex step, ``Im objective(u + i h) / h`` (Squire and Trapp 1998).

    Exact up to the rounding of the objective's own evaluation: no difference of nearby values
    is taken, so nothing cancels. ``objective`` must accept complex ``u``.
    """
    return np.imag(objective(u + 1j * COMPLEX_STEP, *args)) / COMPLEX_STEP


def minimise_smooth(objective, start, args=()) -> tuple[np.ndarray, np.ndarray]:
    """Minimisers ``u`` of a batch of smooth functions ``objective(u, *args)`` with one minimum each, and the last correction.

    On the objective itself, never on a derived stationarity condition, in two stages:

    1. :func:`scipy.optimize.elementwise.bracket_minimum` from ``start`` and
       :func:`~scipy.optimize.elementwise.find_minimum` (Chandrupatla), by function values
       alone. They end where the objective's rounding hides its curvature: ``u`` is then about
       ``sqrt(eps f / f'')`` from the minimiser (1e-8 to 1e-5 here), too far for a 1e-6 check.
    2. Newton's method polishes it (:data:`NEWTON_STEPS` steps): the slope by the complex step
       (:func:`complex_step_slope`), the curvature by the difference of two such slopes
       ``2 x`` :data:`CURVATURE_STEP` apart (it only scales the step, so its relative error,
       about ``(rate x 1e-4)^2``, slows the convergence without moving the limit).

    Returns ``(u, correction)``: ``|correction|`` is the size of the last Newton step. Each step
    shrinks the distance to the minimiser by a factor far below 1/2 here, so the distance left
    is at most ``|correction|`` plus the rounding band of the slope, which the caller bounds
    from its objective. Raises ArithmeticError where no minimum is found.
    """
    start = np.asarray(start, dtype=float)
    bracket = elementwise.bracket_minimum(objective, start, args=args)
    if not np.all(bracket.success):
        raise ArithmeticError(f"{objective.__name__}: no minimum was bracketed")
    tolerances = {"xatol": 0.0, "xrtol": 4 * np.finfo(float).eps}
    found = elementwise.find_minimum(objective, bracket.bracket, args=args, tolerances=tolerances)
    if not np.all(found.success):
        raise ArithmeticError(f"{objective.__name__}: the minimiser did not converge")
    u = found.x
    correction = np.zeros_like(u)
    for _ in range(NEWTON_STEPS):
        slope = complex_step_slope(objective, u, args)
        curvature = (
            complex_step_slope(objective, u + CURVATURE_STEP, args) - complex_step_slope(objective, u - CURVATURE_STEP, args)
        ) / (2 * CURVATURE_STEP)
        correction = -slope / curvature
        u = u + correction
    if not np.all(np.isfinite(u)):
        raise ArithmeticError(f"{objective.__name__}: Newton's method left the reals")
    return u, np.abs(correction)


def reducible_loss_along_budget(u, A, B, C, alpha, beta):
    """``A N^-alpha + B D^-beta`` at ``N = e^u``, ``D = C/(6N)``: the loss above its floor ``E`` along the budget.

    Accepts complex ``u`` (the complex step). ``E`` is left out: it moves the loss, not its
    minimiser, and it would only add rounding to what the minimiser compares.
    """
    N = np.exp(u)
    D = C / (6 * N)
    return A * N**-alpha + B * D**-beta


def compute_optimal_allocation(A, B, C, E, alpha, beta):
    """Minimise ``L(N, D)`` on ``6 N D = C`` numerically; ``(values, accuracy)``, both of shape ``(n, 3)``.

    Each row of ``values`` is ``(N, D, L)`` at the minimiser. The loss along the budget, in
    ``u = ln N`` (:func:`reducible_loss_along_budget`), is minimised for all instances together
    by :func:`minimise_smooth` from the equal split ``N = D``: scipy's bracketing minimiser on
    its values, then Newton's method with complex-step slopes. Nothing here solves a
    stationarity condition written by hand.

    ``accuracy`` bounds ``|value - exact minimiser|`` per instance and component. The terms
    ``T_N = A N^-alpha`` and ``T_D = B D^-beta`` are computed to a relative ``eps (4 + 2 alpha |ln N|)``
    and ``eps (6 + 2 beta |ln D|)`` (the logarithm of a power's base carries ``eps |ln x|``,
    multiplied by the exponent), and the complex-step slope ``-alpha T_N + beta T_D`` carries
    the same relative errors in each of its terms. The curvature in ``u`` is
    ``alpha^2 T_N + beta^2 T_D``, so the slope's rounding moves the minimiser by at most its
    error over the curvature (``band``). With ``delta = correction + 2 band`` the relative
    error of ``N = e^u`` and of ``D = C/(6N)`` is at most ``expm1(delta)`` plus 4 ulps of their
    own rounding; the loss, stationary at the minimiser, is off by at most
    ``(1/2) e^delta curvature delta^2`` plus the rounding of its terms and of ``E``.
    """
    A, B, C, E, alpha, beta = (np.asarray(x, dtype=float) for x in (A, B, C, E, alpha, beta))
    arguments = (A, B, C, alpha, beta)
    u, correction = minimise_smooth(reducible_loss_along_budget, 0.5 * np.log(C / 6), arguments)
    N = np.exp(u)
    D = C / (6 * N)
    size_term, data_term = A * N**-alpha, B * D**-beta
    eps = np.finfo(float).eps
    size_rounding = eps * (4 + 2 * alpha * np.abs(np.log(N)))
    data_rounding = eps * (6 + 2 * beta * np.abs(np.log(D)))
    curvature = alpha**2 * size_term + beta**2 * data_term
    band = (alpha * size_term * size_rounding + beta * data_term * data_rounding) / curvature
    delta = correction + 2 * band
    L = E + size_term + data_term
    relative = np.expm1(delta) + 4 * UNIT_ROUNDOFF
    loss_error = (
        0.5 * np.exp(delta) * curvature * delta**2
        + size_term * size_rounding
        + data_term * data_rounding
        + 2 * eps * L
    )
    accuracy = np.stack([relative * N, relative * D, loss_error], axis=-1)
    return np.stack([N, D, L], axis=-1), accuracy


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
