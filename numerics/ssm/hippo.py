"""HiPPO on a sliding window (LegT), and online reconstructions (numpy / scipy / matplotlib only; no closed forms).

* :func:`window_projection`: ``c_n(T) = (1/theta) int_{T-theta}^T f(s) g_n(s, T) ds`` with
  ``g_n(s, T) = sqrt(2n+1) P_n(2(s - T)/theta + 1)``, by Gauss-Legendre quadrature;
* :func:`laguerre_projection`: the HiPPO-LagT coefficients
  ``c_n(T) = int_0^oo f(T - y) L_n(y) e^{-y} dy``, by Gauss-Laguerre quadrature, and
  :func:`laguerre_signals`, test signals whose coefficients are unit vectors;
* :func:`memory_dynamics`: the one matrix ``R`` with ``c'(t) = R (c(t), samples of f)`` over a
  family of test signals, the rates by complex-step differentiation of the projections (no
  closed form, no polynomial identity): the HiPPO theorems' oracle;
* :func:`integrate_window_memory`: the linear memory ``c' = (1/theta)(-A c + B f(t))`` with
  ``A`` and ``B`` supplied by the caller, for a batch in one stacked ``solve_ivp``;
* :func:`legendre_reconstruction` and :func:`reconstruction_figure` for the online
  reconstruction of a signal from its coefficients.

The projections are analytic in the time: they accept complex times.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from numpy.polynomial import laguerre

from numerics.ssm.legs import QUADRATURE_NODES, Signal, scaled_legendre_basis, unit_interval_quadrature


LAGUERRE_NODES = 96
"""Gauss-Laguerre nodes: exact for polynomials of degree 191. For the trigonometric test signals (at most 2 radians
per unit) the quadrature error falls from 1e-7 at 48 nodes to 2e-11 at 64 and reaches the rounding floor, a few
1e-12 for the degree-7 coefficient (weights and polynomial values span many orders of magnitude), by 96."""
COMPLEX_STEP = 1e-20
"""The step ``h`` of :func:`complex_step`: its truncation error, ``h^2 / 6`` times the third derivative, is far below
rounding."""


def window_times(T, theta, x) -> np.ndarray:
    """``s = T + theta (x - 1)/2``: the times of the window ``[T - theta, T]`` at ``x`` in [-1, 1]; shape ``(n, m)``."""
    T, theta = (np.asarray(v).reshape(-1, 1) for v in (T, theta))
    return T + theta * (np.asarray(x, dtype=float) - 1) / 2


def window_projection(signal: Signal, T, theta, size: int, nodes: int = QUADRATURE_NODES) -> np.ndarray:
    """``c_n(T)`` for ``n < size`` on the window ``[T - theta, T]``, by Gauss-Legendre quadrature; shape ``(n, size)``.

    ``signal`` maps times of shape ``(n, m)`` (row ``i`` for instance ``i``) to values of the
    same shape. With ``s = T + theta (x - 1)/2`` the projection is
    ``(1/2) int_{-1}^{1} f(s) sqrt(2n+1) P_n(x) dx``; vectorised over instances. ``T`` may be complex.
    """
    T, theta = np.asarray(T), np.asarray(theta, dtype=float)
    if T.ndim != 1 or theta.shape != T.shape:
        raise ValueError("T and theta must be 1-D arrays of the same length")
    if not np.all(theta > 0):
        raise ValueError("theta must be positive")
    if size < 1:
        raise ValueError("size must be at least 1")
    x, w = unit_interval_quadrature(nodes)
    return (signal(window_times(T, theta, x)) * w) @ scaled_legendre_basis(x, size)


def integrate_window_memory(
    A, B, signal: Signal, T, theta, initial, *, rtol: float = 1e-10, atol: float = 1e-12
) -> np.ndarray:
    """``c(T)`` for the memory ``c'(t) = (1/theta)(-A c(t) + B f(t))`` from ``c(0) = initial``, for a batch.

    ``A`` is ``(N, N)``, ``B`` is ``(N,)``; ``T`` and ``theta`` are ``(n,)``, ``initial`` is
    ``(n, N)`` and ``signal`` maps times ``(n,)`` to values ``(n,)``. In the rescaled time
    ``tau = t / T_i`` every instance shares ``[0, 1]``, so the batch is one flattened state in one
    ``solve_ivp`` (DOP853). Returns ``(n, N)``.
    """
    from scipy.integrate import solve_ivp  # imported here so that listing theorems stays fast

    A, B, T, theta, initial = (np.asarray(v, dtype=float) for v in (A, B, T, theta, initial))
    n, size = len(T), len(B)
    if A.shape != (size, size) or initial.shape != (n, size) or theta.shape != (n,):
        raise ValueError("A must be (N, N), theta (n,) and initial (n, N) for B of length N and T of length n")
    if not np.all(theta > 0) or not np.all(T >= 0):
        raise ValueError("theta must be positive and T non-negative")

    def derivative(tau: float, state: np.ndarray) -> np.ndarray:
        drift = np.multiply.outer(signal(tau * T), B) - state.reshape(n, size) @ A.T
        return (drift * (T / theta)[:, None]).ravel()

    solution = solve_ivp(derivative, (0.0, 1.0), initial.ravel(), method="DOP853", rtol=rtol, atol=atol)
    if not solution.success:
        raise RuntimeError(f"solve_ivp failed: {solution.message}")
    return solution.y[:, -1].reshape(n, size)


def legendre_reconstruction(coefficients, x) -> np.ndarray:
    """``sum_n c_n sqrt(2n+1) P_n(x)`` at the points ``x`` in [-1, 1] (one coefficient vector)."""
    coefficients = np.asarray(coefficients, dtype=float)
    return scaled_legendre_basis(x, len(coefficients)) @ coefficients


def reconstruction_figure(times, values, panels: Sequence[tuple[str, np.ndarray, dict[int, np.ndarray]]]):
    """The signal and its reconstructions from memories of growing size, one panel per memory.

    ``times``, ``values``: the signal on a fine grid. Each panel is ``(title, window, curves)``
    where ``window`` holds the times the memory covers and ``curves`` maps the memory size ``N``
    to the reconstruction on ``window``. A ``Figure`` built without pyplot (no global state).
    """
    # Imported here: matplotlib is only needed when a handout is drawn (``list`` stays fast).
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 2.2 * len(panels)))
    axes_list = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    for axes, (title, window, curves) in zip(axes_list, panels):
        axes.plot(times, values, color="black", linewidth=1.2, label="signal $f$")
        axes.axvspan(window[0], window[-1], color="grey", alpha=0.12)
        for size, curve in curves.items():
            axes.plot(window, curve, linewidth=1.0, label=f"$N = {size}$")
        axes.set_title(title, fontsize=9)
        axes.set_xlabel("time $t$")
        axes.legend(fontsize=7, ncol=len(curves) + 1, loc="lower left")
    figure.tight_layout()
    return figure


def laguerre_projection(signal: Signal, T, size: int, nodes: int = LAGUERRE_NODES) -> np.ndarray:
    """``c_n(T) = int_0^oo f(T - y) L_n(y) e^{-y} dy`` for ``n < size``, by Gauss-Laguerre quadrature: ``(n, size)``.

    ``signal`` maps times of shape ``(n, m)`` to values of the same shape; ``T`` has shape ``(n,)``
    and may be complex. The Laguerre polynomials ``L_n`` are orthonormal for the weight ``e^{-y}``,
    so these are the coefficients of the projection of the history weighted by ``e^{-(T - s)}``.
    """
    T = np.asarray(T)
    if T.ndim != 1:
        raise ValueError("T must be a 1-D array")
    if size < 1:
        raise ValueError("size must be at least 1")
    y, w = _gauss_laguerre(nodes)
    return (signal(T[:, None] - y) * w) @ laguerre.lagvander(y, size - 1)


@functools.lru_cache(maxsize=None)
def _gauss_laguerre(nodes: int):
    """``laguerre.laggauss(nodes)``, read-only: a function of ``nodes`` alone, whose Newton polish of the roots
    costs more than the projections it serves, so it is computed once per number of nodes."""
    y, w = laguerre.laggauss(nodes)
    y.flags.writeable = w.flags.writeable = False
    return y, w


def laguerre_signals(T, count: int) -> list[Signal]:
    """The signals ``L_m(T - s)`` for ``m < count`` (``T`` of shape ``(n,)``): at time ``T`` their Laguerre
    coefficients are the unit vectors ``e_m``."""
    T = np.asarray(T, dtype=float)[:, None]
    return [lambda times, degree=m: laguerre.lagval(T - np.asarray(times), np.eye(count)[degree]) for m in range(count)]


def complex_step(function, t, step: float = COMPLEX_STEP) -> np.ndarray:
    """``d/dt function(t)`` at real ``t`` as ``Im(function(t + i h)) / h`` (Squire and Trapp 1998).

    ``function`` must be analytic in ``t`` and real on the real axis. No difference is taken, so
    nothing cancels: the derivative is accurate to rounding for any small ``h``.
    """
    return np.imag(function(np.asarray(t, dtype=float) + 1j * step)) / step


def memory_dynamics(projection, signals: Sequence[Signal], samples, t) -> np.ndarray:
    """The matrix ``R`` with ``c'(t) = R (c(t), samples(f))`` for every signal ``f`` of ``signals``, by least squares.

    ``projection(signal, times)`` gives a memory's coefficients ``c`` (shape ``(n, N)``) at the
    times ``(n,)`` and must be analytic in them; ``samples(signal)`` gives the values of the
    signal the dynamics read, shape ``(n, V)`` (``f(t)``, and ``f(t - theta)`` for a window).
    The rates ``c'(t)`` are complex-step derivatives of the projection itself, so the matrix
    comes from the definition of ``c`` alone. With more signals than the ``N + V`` columns the
    fit is overdetermined: a memory whose rates were not one fixed linear function of ``c`` and
    the samples would leave a residual and a wrong ``R``. Returns shape ``(n, N, N + V)``.
    """
    regressors, rates = [], []
    for signal in signals:
        regressors.append(np.concatenate([projection(signal, t), samples(signal)], axis=1))
        rates.append(complex_step(lambda times: projection(signal, times), t))
    return np.stack(rates, axis=-1) @ np.linalg.pinv(np.stack(regressors, axis=-1))
