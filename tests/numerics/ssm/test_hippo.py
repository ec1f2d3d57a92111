"""Window and Laguerre projections, complex-step rates and memory dynamics, the window memory and the figure, on hand
cases."""

import functools

import numpy as np
import pytest

from numerics.ssm.hippo import (
    complex_step,
    integrate_window_memory,
    laguerre_projection,
    laguerre_signals,
    legendre_reconstruction,
    memory_dynamics,
    reconstruction_figure,
    window_projection,
    window_times,
)
from numerics.ssm.legs import fourier_signal, legendre_projection, legendre_signals


def identity_signal(times):
    return np.asarray(times, dtype=float)


def test_window_times_cover_the_window():
    times = window_times(np.array([3.0]), np.array([2.0]), np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_allclose(times, [[1.0, 2.0, 3.0]])


def test_projection_of_polynomials_by_hand():
    T, theta = np.array([1.0, 4.0]), np.array([0.5, 2.0])
    constant = window_projection(lambda s: np.full_like(s, 2.0), T, theta, 3)
    np.testing.assert_allclose(constant, [[2.0, 0, 0]] * 2, atol=1e-14)
    # f(s) = s on [T - theta, T]: c_0 = T - theta/2; s = c_0 + (theta/2) x and x = P_1 / 1, so c_1 = theta / (2 sqrt 3).
    linear = window_projection(identity_signal, T, theta, 3)
    np.testing.assert_allclose(linear, np.stack([T - theta / 2, theta / (2 * np.sqrt(3)), 0 * T], axis=1), atol=1e-14)


def test_projection_of_a_cosine_by_hand():
    # c_0 = (1/theta) int_{T-theta}^T cos(w s) ds = (sin(w T) - sin(w (T - theta))) / (w theta).
    w, T, theta = 1.3, np.array([2.0]), np.array([0.7])
    signal = functools.partial(fourier_signal, amplitude=[[1.0]], frequency=[[w]], phase=[[0.0]])
    expected = (np.sin(w * T) - np.sin(w * (T - theta))) / (w * theta)
    np.testing.assert_allclose(window_projection(signal, T, theta, 1)[:, 0], expected, rtol=1e-14)


def test_memory_of_a_constant_stays_constant():
    # c' = (1/theta)(-c + f) with f = 0.7 and c(0) = 0.7.
    c = integrate_window_memory(
        np.array([[1.0]]), np.array([1.0]), lambda s: np.full_like(s, 0.7), np.array([0.5, 4.0]),
        np.array([1.0, 2.0]), np.full((2, 1), 0.7),
    )
    np.testing.assert_allclose(c, 0.7, rtol=1e-12)


def test_memory_relaxes_by_hand():
    # c' = (1/theta)(-c + 1), c(0) = 0: c(T) = 1 - exp(-T / theta).
    T, theta = np.array([0.5, 3.0]), np.array([1.0, 0.5])
    c = integrate_window_memory(np.array([[1.0]]), np.array([1.0]), np.ones_like, T, theta, np.zeros((2, 1)))
    np.testing.assert_allclose(c[:, 0], 1 - np.exp(-T / theta), rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"theta": np.array([0.0])}, "theta"), ({"T": np.array([1.0, 2.0])}, "theta")],
)
def test_bad_input_names_the_argument(kwargs, name):
    arguments = {"signal": identity_signal, "T": np.array([1.0]), "theta": np.array([1.0]), "size": 2, **kwargs}
    with pytest.raises(ValueError, match=name):
        window_projection(**arguments)


def test_reconstruction_of_a_projected_polynomial_is_exact():
    T, theta = np.array([2.0]), np.array([1.5])
    cubic = lambda s: s**3 - s  # noqa: E731
    coefficients = window_projection(cubic, T, theta, 4)[0]
    x = np.linspace(-1, 1, 9)
    expected = cubic(window_times(T, theta, x)[0])
    np.testing.assert_allclose(legendre_reconstruction(coefficients, x), expected, atol=1e-12)


def test_reconstruction_figure_has_one_panel_per_memory():
    times = np.linspace(0, 1, 11)
    panels = [("a", times, {2: times}), ("b", times[5:], {2: times[5:], 4: times[5:]})]
    figure = reconstruction_figure(times, times, panels)
    assert len(figure.axes) == 2 and len(figure.axes[1].lines) == 3


def test_laguerre_projection_of_a_constant_and_a_cosine_by_hand():
    # f = 2: c_0 = 2, the rest 0.
    # f = cos(w s): c_n = Re e^{i w T} int_0^oo L_n(y) e^{-(1 + i w) y} dy = Re e^{i w T} (i w)^n / (1 + i w)^(n+1)
    # (the Laplace transform of L_n at p = 1 + i w).
    T, w = np.array([0.3, 2.0]), 1.7
    constant = laguerre_projection(lambda s: np.full_like(s, 2.0), T, 4)
    # 96 Gauss-Laguerre weights span many orders of magnitude: their sum rounds to about 1e-12.
    np.testing.assert_allclose(constant, [[2.0, 0, 0, 0]] * 2, atol=5e-12)
    cosine_signal = functools.partial(fourier_signal, amplitude=[[1.0]] * 2, frequency=[[w]] * 2, phase=[[0.0]] * 2)
    cosine = laguerre_projection(cosine_signal, T, 5)
    degrees = np.arange(5)
    by_hand = np.real(np.exp(1j * w * T)[:, None] * (1j * w) ** degrees / (1 + 1j * w) ** (degrees + 1))
    np.testing.assert_allclose(cosine, by_hand, atol=1e-12)


def test_laguerre_signals_have_unit_coefficients():
    T = np.array([0.0, 3.5])
    coefficients = np.stack([laguerre_projection(signal, T, 4) for signal in laguerre_signals(T, 4)], axis=1)
    np.testing.assert_allclose(coefficients, np.broadcast_to(np.eye(4), (2, 4, 4)), atol=1e-12)


def test_laguerre_projection_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="T"):
        laguerre_projection(identity_signal, np.zeros((2, 2)), 2)
    with pytest.raises(ValueError, match="size"):
        laguerre_projection(identity_signal, np.zeros(2), 0)


def test_the_complex_step_is_exact_to_rounding():
    t = np.array([0.3, 2.0])
    np.testing.assert_allclose(complex_step(lambda s: np.sin(s) * np.exp(s), t), (np.cos(t) + np.sin(t)) * np.exp(t),
                               rtol=1e-15)


def test_memory_dynamics_of_an_exponential_moving_average_by_hand():
    # c(t) = int_0^oo f(t - y) e^{-y} dy obeys c' = -c + f: the matrix (-1 | 1), from test signals 1, s, s^2.
    t = np.array([0.5, 2.0])
    signals = [lambda s, k=k: np.asarray(s) ** k for k in range(3)]
    R = memory_dynamics(lambda f, times: laguerre_projection(f, times, 1), signals, lambda f: f(t[:, None]), t)
    np.testing.assert_allclose(R, np.broadcast_to([[-1.0, 1.0]], (2, 1, 2)), atol=1e-13)


def test_memory_dynamics_of_a_running_mean_by_hand():
    # c(t) = (1/t) int_0^t f(s) ds obeys c' = (f - c) / t: the matrix (-1/t | 1/t), LegS with N = 1.
    t = np.array([0.5, 3.0])
    signals = legendre_signals(np.zeros(2), t, 3)
    R = memory_dynamics(lambda f, times: legendre_projection(f, times, 1), signals, lambda f: f(t[:, None]), t)
    np.testing.assert_allclose(R[:, 0], np.stack([-1 / t, 1 / t], axis=1), rtol=1e-13)
