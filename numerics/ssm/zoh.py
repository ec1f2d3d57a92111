"""One step of a linear state-space model with the input held, by numerical integration (numpy / scipy only).

:func:`held_input_step` integrates ``x' = A x + B u`` over ``[0, Delta]`` with ``u`` constant
for a whole batch in one stacked ``solve_ivp``, returning the exact step ``(A_bar | B_bar)``
without any matrix exponential: the independent oracle of the zero-order-hold theorem.
:func:`discretisation_error_figure` draws the error of a simplified input matrix against
``Delta`` on log-log axes.
"""

from __future__ import annotations

import numpy as np

STEP_RTOL = 1e-13
STEP_ATOL = 1e-15
"""DOP853's local tolerances for :func:`held_input_step` (on the RMS norm of the stacked state)."""


def held_input_step(A, B, Delta, *, rtol: float = STEP_RTOL, atol: float = STEP_ATOL) -> np.ndarray:
    """``(A_bar | B_bar)``, shape ``(n, N, N + 1)``: the map ``(x(0), u) -> x(Delta)`` of ``x' = A x + B u``.

    ``A`` is ``(n, N, N)``, ``B`` is ``(n, N)`` and ``Delta`` is ``(n,)``. The columns are the
    solutions of the matrix ODE ``Y' = A Y + [0 | B]``, ``Y(0) = [I | 0]``: the first ``N``
    columns are the free response to each unit initial state, the last the response to the
    unit input from rest. Each instance runs on its own ``[0, Delta_i]``; in the rescaled time
    ``tau = s / Delta_i`` every instance shares ``[0, 1]``, so the batch is one flattened state
    in one ``solve_ivp`` (DOP853) with ``dY/dtau = Delta_i (A_i Y + [0 | B_i])``.
    """
    from scipy.integrate import solve_ivp  # imported here so that listing theorems stays fast

    A, B, Delta = (np.asarray(v, dtype=float) for v in (A, B, Delta))
    if A.ndim != 3 or A.shape[1] != A.shape[2]:
        raise ValueError(f"A must have shape (n, N, N), got {A.shape}")
    n, size = A.shape[:2]
    if B.shape != (n, size):
        raise ValueError(f"B must have shape {(n, size)}, got {B.shape}")
    if Delta.shape != (n,) or not np.all(Delta > 0):
        raise ValueError("Delta must hold one positive step per instance")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B)) and np.all(np.isfinite(Delta))):
        raise ValueError("A, B and Delta must be finite")
    forcing = np.concatenate([np.zeros((n, size, size)), B[:, :, None]], axis=2)

    def derivative(tau: float, state: np.ndarray) -> np.ndarray:
        Y = state.reshape(n, size, size + 1)
        return (Delta[:, None, None] * (A @ Y + forcing)).ravel()

    initial = np.concatenate([np.broadcast_to(np.eye(size), (n, size, size)), np.zeros((n, size, 1))], axis=2)
    solution = solve_ivp(derivative, (0.0, 1.0), initial.ravel(), method="DOP853", rtol=rtol, atol=atol)
    if not solution.success:
        raise RuntimeError(f"solve_ivp failed: {solution.message}")
    return solution.y[:, -1].reshape(n, size, size + 1)


def discretisation_error_figure(Delta, error, leading_term, *, label: str = r"$\|\bar B - \Delta B\|$"):
    """Log-log plot of a discretisation error against the step ``Delta``, with its leading term as a dashed line.

    ``Delta``, ``error`` and ``leading_term`` are 1-D arrays of the same length. A ``Figure``
    built without pyplot (no global state); the same inputs give the same drawing.
    """
    # Imported here: matplotlib is only needed when a handout is drawn (``list`` stays fast).
    from matplotlib.figure import Figure

    Delta, error, leading_term = (np.asarray(v, dtype=float) for v in (Delta, error, leading_term))
    if not (Delta.shape == error.shape == leading_term.shape) or Delta.ndim != 1:
        raise ValueError("Delta, error and leading_term must be 1-D arrays of the same length")
    figure = Figure(figsize=(5.0, 3.2))
    axes = figure.add_subplot()
    axes.loglog(Delta, error, marker="o", markersize=3, label=label)
    axes.loglog(Delta, leading_term, "k--", linewidth=0.8, label=r"$\frac{1}{2}\Delta^2 \|A B\|$ (slope 2)")
    axes.set_xlabel(r"step $\Delta$")
    axes.set_ylabel("error of the input matrix")
    axes.grid(True, which="major", linewidth=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    return figure
