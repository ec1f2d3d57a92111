"""HiPPO on a sliding window (LegT), and online reconstructions (numpy / scipy / matplotlib only; no closed forms).

* :func:`window_projection`: ``c_n(T) = (1/theta) int_{T-theta}^T f(s) g_n(s, T) ds`` with
  ``g_n(s, T) = sqrt(2n+1) P_n(2(s - T)/theta + 1)``, by Gauss-Legendre quadrature;
* :func:`fourier_derivative`: the coefficients of ``f'`` for the trigonometric signals of
  :func:`numerics.ssm.legs.fourier_signal`, so that the projection of ``f'`` (the rate of change of
  the window's coefficients at fixed ``x``) is computed without any Legendre identity;
* :func:`integrate_window_memory`: the linear memory ``c' = (1/theta)(-A c + B f(t))`` with
  ``A`` and ``B`` supplied by the caller, for a batch in one stacked ``solve_ivp``;
* :func:`legendre_reconstruction` and :func:`reconstruction_figure` for the online
  reconstruction of a signal from its coefficients;
* :func:`laguerre_projection`: the HiPPO-LagT coefficients
  ``c_n(T) = int_0^oo f(T - y) L_n(y) e^{-y} dy`` of a trigonometric signal, in closed form from
  the Laplace transform of the Laguerre polynomials.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from numerics.ssm.legs import QUADRATURE_NODES, Signal, scaled_legendre_basis, unit_interval_quadrature


def window_times(T, theta, x) -> np.ndarray:
    """``s = T + theta (x - 1)/2``: the times of the window ``[T - theta, T]`` at ``x`` in [-1, 1]; shape ``(n, m)``."""
    T, theta = (np.asarray(v, dtype=float).reshape(-1, 1) for v in (T, theta))
    return T + theta * (np.asarray(x, dtype=float) - 1) / 2


def window_projection(signal: Signal, T, theta, size: int, nodes: int = QUADRATURE_NODES) -> np.ndarray:
    """``c_n(T)`` for ``n < size`` on the window ``[T - theta, T]``, by Gauss-Legendre quadrature; shape ``(n, size)``.

    ``signal`` maps times of shape ``(n, m)`` (row ``i`` for instance ``i``) to values of the
    same shape. With ``s = T + theta (x - 1)/2`` the projection is
    ``(1/2) int_{-1}^{1} f(s) sqrt(2n+1) P_n(x) dx``; vectorised over instances.
    """
    T, theta = np.asarray(T, dtype=float), np.asarray(theta, dtype=float)
    if T.ndim != 1 or theta.shape != T.shape:
        raise ValueError("T and theta must be 1-D arrays of the same length")
    if not np.all(theta > 0):
        raise ValueError("theta must be positive")
    if size < 1:
        raise ValueError("size must be at least 1")
    x, w = unit_interval_quadrature(nodes)
    return (signal(window_times(T, theta, x)) * w) @ scaled_legendre_basis(x, size)


def fourier_derivative(amplitude, frequency, phase) -> dict[str, np.ndarray]:
    """The coefficients of ``f'`` for ``f = sum_k a_k cos(w_k t + phi_k)``: ``a_k w_k cos(w_k t + phi_k + pi/2)``."""
    amplitude, frequency, phase = (np.asarray(v, dtype=float) for v in (amplitude, frequency, phase))
    return {"amplitude": amplitude * frequency, "frequency": frequency, "phase": phase + np.pi / 2}


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


def laguerre_projection(T, amplitude, frequency, phase, size: int) -> np.ndarray:
    """``c_n(T) = int_0^oo f(T - y) L_n(y) e^{-y} dy`` for ``f = sum_k a_k cos(w_k t + phi_k)`` and ``n < size``.

    With ``f(T - y) = Re sum_k a_k e^{i(w_k T + phi_k)} e^{-i w_k y}`` and the Laplace transform
    ``int_0^oo L_n(y) e^{-p y} dy = (p - 1)^n / p^(n+1)`` (a table identity, Re p > 0) at
    ``p = 1 + i w_k``: ``c_n(T) = Re sum_k a_k e^{i(w_k T + phi_k)} (i w_k)^n / (1 + i w_k)^(n+1)``.
    ``T`` has shape ``(n,)``, the signal's coefficients ``(n, K)``; returns ``(n, size)``.
    """
    T = np.asarray(T, dtype=float)
    amplitude, frequency, phase = (np.asarray(v, dtype=float) for v in (amplitude, frequency, phase))
    if T.ndim != 1 or not (amplitude.shape == frequency.shape == phase.shape == (len(T), amplitude.shape[-1])):
        raise ValueError("T must be (n,) and amplitude, frequency, phase (n, K)")
    if size < 1:
        raise ValueError("size must be at least 1")
    degrees = np.arange(size)
    rotation = amplitude * np.exp(1j * (frequency * T[:, None] + phase))
    ratio = (1j * frequency / (1 + 1j * frequency))[..., None] ** degrees / (1 + 1j * frequency)[..., None]
    return np.real(np.einsum("ik,ikn->in", rotation, ratio))
