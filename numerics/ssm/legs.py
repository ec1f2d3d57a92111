"""HiPPO-LegS by direct computation: Legendre projections of a signal's history (numpy / scipy only; no closed forms).

HiPPO-LegS (Gu, Dao, Ermon, Rudra, Re 2020, "HiPPO: Recurrent Memory with Optimal
Polynomial Projections", section 3): the optimal projection of the history of a signal onto
the normalised scaled Legendre polynomials ``g_n(s, t) = sqrt(2n+1) P_n(2s/t - 1)``, computed
directly by Gauss-Legendre quadrature (:func:`legendre_projection`, analytic in ``t``, so it
may be evaluated at complex times for a complex-step derivative), the inner products of
the reconstruction's residual with the basis (:func:`residual_inner_products`), smooth test
signals (:func:`fourier_signal`, :func:`legendre_signals`), and the integration of a linear memory ODE
``c' = r(t) (-A c + B f(t))`` for a whole batch in one stacked ``solve_ivp``
(:func:`integrate_memory`), with ``A`` and ``B`` supplied by the caller. The scaled Legendre
basis and the quadrature are shared with the sliding window of :mod:`numerics.ssm.hippo`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.polynomial import legendre

Signal = Callable[[np.ndarray], np.ndarray]
"""A signal: times of shape ``(n, ...)`` (row ``i`` for instance ``i``) to values of the same shape."""

QUADRATURE_NODES = 64
"""Gauss-Legendre nodes: exact for polynomials of degree 127, and for the band-limited test
signals below (at most 5 radians per unit of ``x``) the quadrature error is far below float64
rounding (Bernstein-ellipse bound with rho = 8: below 1e-90)."""


def fourier_signal(times, amplitude, frequency, phase) -> np.ndarray:
    """``f_i(t) = sum_k amplitude_ik cos(frequency_ik t + phase_ik)`` at ``times`` of shape ``(n, ...)``.

    ``amplitude``, ``frequency`` and ``phase`` have shape ``(n, K)``; instance ``i`` is
    evaluated at ``times[i]`` (real or complex). An entire function of ``t``: smooth test signals for HiPPO.
    """
    times = np.asarray(times)
    shape = (len(times),) + (1,) * (times.ndim - 1) + (-1,)
    amplitude, frequency, phase = (np.asarray(a, dtype=float).reshape(shape) for a in (amplitude, frequency, phase))
    return (amplitude * np.cos(frequency * times[..., None] + phase)).sum(axis=-1)


def legendre_signals(start, end, count: int) -> list[Signal]:
    """The signals ``P_m(2 (s - start) / (end - start) - 1)``, ``m < count``: Legendre polynomials on ``[start, end]``.

    ``start`` and ``end`` have shape ``(n,)`` (one interval per instance). Test signals whose
    projections on that interval are multiples of unit vectors, so that a memory's dynamics
    read off from them are well conditioned.
    """
    start, end = (np.asarray(v, dtype=float)[:, None] for v in (start, end))
    units = np.eye(count)
    return [
        lambda times, degree=m: legendre.legval(2 * (np.asarray(times) - start) / (end - start) - 1, units[degree])
        for m in range(count)
    ]


def scaled_legendre_basis(x: np.ndarray, size: int) -> np.ndarray:
    """``sqrt(2n+1) P_n(x)`` for ``n < size`` at the points ``x`` (shape ``x.shape + (size,)``).

    Orthonormal on [-1, 1] for the measure ``dx / 2``, i.e. ``g_n(s, t)`` at ``x = 2s/t - 1``
    is orthonormal in L2 of the uniform probability measure on [0, t].
    """
    return legendre.legvander(np.asarray(x, dtype=float), size - 1) * np.sqrt(2 * np.arange(size) + 1)


def unit_interval_quadrature(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes on [-1, 1] and weights for the probability measure ``dx / 2``."""
    x, w = legendre.leggauss(nodes)
    return x, w / 2


def legendre_projection(signal: Signal, T, size: int, nodes: int = QUADRATURE_NODES) -> np.ndarray:
    """``c_n(T) = (1/T) int_0^T f(s) g_n(s, T) ds`` for ``n < size``, by Gauss-Legendre quadrature.

    ``signal`` maps times of shape ``(n, m)`` (row ``i`` for instance ``i``) to values of the
    same shape; ``T`` has shape ``(n,)``. With ``s = T (x + 1)/2`` the integral is
    ``(1/2) int_{-1}^{1} f(T (x+1)/2) sqrt(2n+1) P_n(x) dx``. Returns shape ``(n, size)``;
    vectorised over instances (one matrix product). ``T`` may be complex: for a signal analytic
    in time the sum is analytic in ``T``.
    """
    x, w = unit_interval_quadrature(nodes)
    T = np.asarray(T)
    values = signal(T[:, None] * (x + 1) / 2)
    return (values * w) @ scaled_legendre_basis(x, size)


def residual_inner_products(coefficients, signal: Signal, T, nodes: int = QUADRATURE_NODES) -> np.ndarray:
    """``<f - sum_n c_n g_n(., T), g_k(., T)>`` in L2 of the uniform measure on [0, T], for every ``k``.

    ``coefficients`` has shape ``(n, size)``; the residual of the reconstruction is
    evaluated at the quadrature nodes and integrated against each basis function directly
    (orthonormality is not used). Zero for every ``k`` exactly when the coefficients are the
    optimal (orthogonal) projection. Returns shape ``(n, size)``.
    """
    coefficients = np.asarray(coefficients, dtype=float)
    x, w = unit_interval_quadrature(nodes)
    basis = scaled_legendre_basis(x, coefficients.shape[1])
    T = np.asarray(T, dtype=float)
    residual = signal(T[:, None] * (x + 1) / 2) - coefficients @ basis.T
    return (residual * w) @ basis


def integrate_memory(
    A,
    B,
    signal: Signal,
    T,
    *,
    scaled: bool = True,
    start: float = 1e-9,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> np.ndarray:
    """``c(T)`` for the memory ODE ``c'(t) = r(t) (-A c(t) + B f(t))``, ``r = 1/t`` (scaled) or 1, for a batch.

    ``A`` is ``(N, N)``, ``B`` is ``(N,)``, ``T`` is ``(n,)`` and ``signal`` maps times of
    shape ``(n,)`` to values ``(n,)``. Returns ``(n, N)``.

    The ``1/t`` singularity at 0 is handled in logarithmic time: instance ``i`` runs from
    ``t0_i = start * T_i`` to ``T_i`` along ``t_i(tau) = T_i start^(1 - tau)``, ``tau`` in [0, 1],
    so every instance shares the interval and the batch is one flattened state vector in one
    ``solve_ivp`` (DOP853). With ``L = -ln(start)``, ``dc/dtau = L t r(t) (-A c + B f(t))``:
    for ``r = 1/t`` the system is time-invariant in ``tau`` apart from ``f``, and not stiff.

    The start value is the projection of the constant ``f(0)``, ``f(0) e_0``. For the
    LegS dynamics its error, at most ``sup|f'| t0 / sqrt(3)`` (Bessel's inequality), is
    carried to ``T`` by ``exp(-A ln(T / t0))``, of norm at most ``N t0 / T`` for the
    lower-triangular LegS ``A`` (eigenvalues ``1..N``; the factor ``N`` is the supremum of
    ``||exp(-(A - I) tau)||``, found numerically for ``N <= 8``): an error of at most
    ``N start^2 T sup|f'| / sqrt(3)`` at ``T``: below 1e-15 for ``start = 1e-9`` and the signals of
    ``checkers.ssm`` (``sup|f'| <= 18``, ``T <= 5``).

    ``rtol``/``atol`` are solve_ivp's local tolerances on the RMS norm of the whole stacked
    state, so a single component may locally carry up to ``sqrt(n N)`` times them.
    """
    from scipy.integrate import solve_ivp  # imported here so that listing theorems stays fast

    A, B, T = (np.asarray(a, dtype=float) for a in (A, B, T))
    n, size = len(T), len(B)
    span = -np.log(start)

    def derivative(tau: float, state: np.ndarray) -> np.ndarray:
        times = T * start ** (1 - tau)
        drift = np.multiply.outer(signal(times), B) - state.reshape(n, size) @ A.T
        drift *= span if scaled else span * times[:, None]
        return drift.ravel()

    initial = np.zeros((n, size))
    initial[:, 0] = signal(np.zeros(n))
    solution = solve_ivp(derivative, (0.0, 1.0), initial.ravel(), method="DOP853", rtol=rtol, atol=atol)
    if not solution.success:
        raise RuntimeError(f"solve_ivp failed: {solution.message}")
    return solution.y[:, -1].reshape(n, size)
