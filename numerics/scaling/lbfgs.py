"""L-BFGS on many small independent problems at once (numpy only).

Nocedal 1980, "Updating quasi-Newton matrices with limited storage", and Liu and Nocedal 1989:
each problem keeps its last ``memory`` steps ``s = x_(k+1) - x_k`` and gradient changes
``y = g_(k+1) - g_k``; the two-loop recursion turns them into the quasi-Newton direction
``-H_k g_k`` (``H_k`` the inverse-Hessian approximation, scaled by ``s^T y / y^T y`` of the newest
pair); a line search along it finds a step length satisfying the strong Wolfe conditions
(sufficient decrease ``f(x + t d) <= f(x) + c1 t g^T d`` and ``|g(x + t d)^T d| <= c2 |g^T d|``,
Nocedal and Wright, Numerical Optimization, algorithms 3.5 and 3.6), as L-BFGS-B's does. A pair
is stored only if ``s^T y > eps y^T y`` (the curvature condition, which keeps ``H_k`` positive
definite, with L-BFGS-B's margin). Where the line search finds no step along the quasi-Newton
direction, the history is dropped and the problem goes on from steepest descent, as L-BFGS-B
restarts.

scipy's L-BFGS-B solves one problem at a time, so fitting a thousand five-parameter laws is a
thousand Python-level optimisations; here every array carries the problems on its first axis
and each iteration is one vectorised pass over those still running. The problems stay
independent: each has its own history, step length and stopping test, and its iterates do not
depend on which other problems share the batch. A problem stops when its largest gradient
component is at most ``gtol``, when a step no longer lowers its objective or no step length of
the line search is accepted even along the gradient (near a minimum, where the decrease falls
below the objective's rounding), or after ``maxiter`` iterations.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

DECREASE, CURVATURE = 1e-4, 0.9
"""The strong Wolfe constants ``c1``, ``c2``: the usual ones for quasi-Newton methods (Nocedal and Wright, section 3.1)."""
EVALUATIONS = 20
"""Trial steps per line search before it gives up (L-BFGS-B's default too)."""

EPS = np.finfo(float).eps

Objective = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``objective(x, rows) -> (values, gradients)``: problems ``rows`` at points ``x`` ``(len(rows), k)``."""


def lbfgs(
    objective: Objective, x0, *, gtol: float = 1e-12, maxiter: int = 2000, memory: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``len(x0)`` independent problems from the rows of ``x0`` ``(problems, k)``; returns ``(x, values)``.

    ``objective(x, rows)`` evaluates problems ``rows`` (indices into the batch) at ``x``.
    """
    x = np.array(x0, dtype=float)
    problems, k = x.shape
    every = np.arange(problems)
    value, gradient = objective(x, every)
    steps = np.zeros((problems, memory, k))  # newest first; a pair with rho = 0 is empty
    changes = np.zeros((problems, memory, k))
    rho = np.zeros((problems, memory))
    running = np.max(np.abs(gradient), axis=1) > gtol
    for iteration in range(maxiter):
        rows = np.flatnonzero(running)
        if not len(rows):
            break
        direction = _direction(gradient[rows], steps[rows], changes[rows], rho[rows], min(iteration, memory))
        slope = np.sum(direction * gradient[rows], axis=1)
        # Not a descent direction (a history gone stale): forget it and go down the gradient.
        stale = ~(slope < 0)
        if stale.any():
            rho[rows[stale]] = 0.0
            direction[stale] = -gradient[rows[stale]]
            slope[stale] = -np.sum(gradient[rows[stale]] ** 2, axis=1)
        # A problem's first step (no curvature known yet) is scaled to unit length, as L-BFGS-B does.
        first = ~np.any(rho[rows] != 0, axis=1)
        length = np.where(first, 1.0 / np.maximum(np.linalg.norm(direction, axis=1), 1e-300), 1.0)
        moved, new_value, new_gradient = _line_search(objective, rows, x[rows], value[rows], direction, slope, length)
        # No step along the quasi-Newton direction: restart from steepest descent; none along the gradient: stop.
        running[rows[~moved & first]] = False
        rho[rows[~moved & ~first]] = 0.0
        rows, direction, length = rows[moved], direction[moved], length[moved]
        new_value, new_gradient = new_value[moved], new_gradient[moved]
        s, y = direction * length[:, None], new_gradient - gradient[rows]
        curvature = np.sum(s * y, axis=1)
        keep = curvature > EPS * np.sum(y * y, axis=1)
        stored = rows[keep]
        steps[stored] = np.roll(steps[stored], 1, axis=1)
        changes[stored] = np.roll(changes[stored], 1, axis=1)
        rho[stored] = np.roll(rho[stored], 1, axis=1)
        steps[stored, 0], changes[stored, 0], rho[stored, 0] = s[keep], y[keep], 1.0 / curvature[keep]
        x[rows] += s
        # A step that did not lower the objective (the decrease is below its rounding) ends the problem, as
        # L-BFGS-B's relative-decrease test does with ftol = 0.
        running[rows] &= (new_value < value[rows]) & (np.max(np.abs(new_gradient), axis=1) > gtol)
        value[rows], gradient[rows] = new_value, new_gradient
    return x, value


def _direction(gradient, steps, changes, rho, stored: int) -> np.ndarray:
    """The two-loop recursion: ``-H g`` with ``H`` built from the newest ``stored`` pairs of each problem."""
    q = gradient.copy()
    alpha = np.zeros(rho.shape)
    for i in range(stored):  # newest to oldest
        alpha[:, i] = rho[:, i] * np.sum(steps[:, i] * q, axis=1)
        q -= alpha[:, i, None] * changes[:, i]
    # H_0 = (s^T y / y^T y) I from the newest pair (the identity where there is none).
    newest = rho[:, 0] > 0
    scale = np.ones(len(rho))
    scale[newest] = 1.0 / (rho[newest, 0] * np.sum(changes[newest, 0] ** 2, axis=1))
    r = scale[:, None] * q
    for i in reversed(range(stored)):  # oldest to newest
        beta = rho[:, i] * np.sum(changes[:, i] * r, axis=1)
        r += steps[:, i] * (alpha[:, i] - beta)[:, None]
    return -r


def _line_search(objective, rows, x, value, direction, slope, length):
    """A step along ``direction`` satisfying the strong Wolfe conditions, from the trial step ``length``.

    Nocedal and Wright's bracketing and zoom (algorithms 3.5, 3.6) in one loop: ``low`` is the
    best step so far satisfying sufficient decrease (0 at first), ``high`` a step beyond the
    minimum along the line (infinite until one is found). A trial that fails sufficient decrease
    or does not improve on ``low`` becomes ``high``; one that meets the curvature condition is
    accepted; otherwise it becomes ``low`` (``high`` turning into the old ``low`` where the slope
    there points back). The next trial doubles ``low`` while ``high`` is infinite, else minimises
    the quadratic through ``f(low)``, ``f'(low)`` and ``f(high)``, kept inside the middle 80 % of
    the bracket. After :data:`EVALUATIONS` trials a problem takes ``low`` if it is a step (it lowers
    the objective), and has failed if not; it fails at once when it has no step yet and the next
    trial promises a decrease ``|t g^T d|`` below the objective's rounding (near a minimum: no
    trial could show one). Every problem's trial is one batched evaluation.

    Returns ``(moved, values, gradients)``; ``length`` is updated in place to the step taken.
    """
    n = len(rows)
    low, low_value, low_slope = np.zeros(n), value.copy(), slope.copy()
    high, high_value = np.full(n, np.inf), np.full(n, np.inf)
    low_gradient = np.full_like(x, np.nan)
    trial = length.copy()
    accepted = np.zeros(n, dtype=bool)
    new_value, new_gradient = np.empty(n), np.empty_like(x)
    searching = np.arange(n)
    for _ in range(EVALUATIONS):
        t = trial[searching]
        values, gradients = objective(x[searching] + t[:, None] * direction[searching], rows[searching])
        slopes = np.sum(gradients * direction[searching], axis=1)
        decrease = np.isfinite(values) & (values <= value[searching] + DECREASE * t * slope[searching])
        beyond = ~decrease | (values >= low_value[searching])
        curved = np.abs(slopes) <= -CURVATURE * slope[searching]
        done = ~beyond & curved
        finished = searching[done]
        accepted[finished], length[finished] = True, t[done]
        new_value[finished], new_gradient[finished] = values[done], gradients[done]
        # Past the minimum along the line: the trial closes the bracket from above.
        shut = searching[beyond]
        high[shut], high_value[shut] = t[beyond], values[beyond]
        # Still descending, or the slope turned: the trial is the new low end.
        better = ~beyond & ~curved
        moved_up = searching[better]
        turned = better & (slopes * (high[searching] - low[searching]) >= 0)
        flip = searching[turned]
        high[flip], high_value[flip] = low[flip], low_value[flip]
        low[moved_up], low_value[moved_up], low_slope[moved_up] = t[better], values[better], slopes[better]
        low_gradient[moved_up] = gradients[better]
        searching = searching[~done]
        bracket = (low[searching], low_value[searching], low_slope[searching], high[searching], high_value[searching])
        trial[searching] = _next_trial(*bracket)
        # No step yet, and the next one promises less decrease than the objective's rounding: none will be seen.
        hopeless = (low[searching] == 0) & (np.abs(trial[searching] * slope[searching]) <= EPS * np.abs(value[searching]))
        searching = searching[~hopeless]
        if not len(searching):
            break
    # Out of trials: a low end that lowers the objective is a step (without the curvature condition).
    fallback = searching[low[searching] > 0]
    accepted[fallback], length[fallback] = True, low[fallback]
    new_value[fallback], new_gradient[fallback] = low_value[fallback], low_gradient[fallback]
    return accepted, new_value, new_gradient


def _next_trial(low, low_value, low_slope, high, high_value):
    """Twice ``low`` while no upper end is known, else the safeguarded minimiser of the quadratic in the bracket."""
    width = high - low
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        curvature = high_value - low_value - low_slope * width
        quadratic = low - low_slope * width**2 / (2 * curvature)
        inside = np.clip(quadratic, low + 0.1 * width, high - 0.1 * width)
    bracketed = np.where(np.isfinite(inside), inside, low + 0.5 * width)
    return np.where(np.isfinite(high), bracketed, 2 * low)
