"""Window and Laguerre projections, the derivative signal, the window memory and the figure, on hand cases."""

import functools

import numpy as np
import pytest

from numerics.ssm.hippo import (
    fourier_derivative,
    integrate_window_memory,
    laguerre_projection,
    legendre_reconstruction,
    reconstruction_figure,
    window_projection,
    window_times,
)
from numerics.ssm.legs import fourier_signal


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


def test_derivative_signal_by_hand():
    coefficients = {"amplitude": np.array([[2.0]]), "frequency": np.array([[3.0]]), "phase": np.array([[0.5]])}
    derivative = fourier_derivative(**coefficients)
    times = np.array([[0.0, 1.0]])
    np.testing.assert_allclose(fourier_signal(times, **derivative), -6.0 * np.sin(3.0 * times + 0.5), atol=1e-14)


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
    # f = cos(w s): c_0 = int_0^oo cos(w (T - y)) e^{-y} dy = (cos wT + w sin wT) / (1 + w^2).
    T, w = np.array([0.3, 2.0]), 1.7
    constant = laguerre_projection(T, [[2.0], [2.0]], [[0.0], [0.0]], [[0.0], [0.0]], 4)
    np.testing.assert_allclose(constant, [[2.0, 0, 0, 0]] * 2, atol=1e-15)
    cosine = laguerre_projection(T, [[1.0], [1.0]], [[w], [w]], [[0.0], [0.0]], 1)
    np.testing.assert_allclose(cosine[:, 0], (np.cos(w * T) + w * np.sin(w * T)) / (1 + w**2), rtol=1e-14)


def test_laguerre_projection_against_gauss_laguerre_quadrature():
    from numpy.polynomial import laguerre
    from scipy.special import eval_laguerre

    rng = np.random.default_rng(3)
    coefficients = {
        "amplitude": rng.standard_normal((2, 3)),
        "frequency": rng.uniform(0, 1, (2, 3)),
        "phase": rng.uniform(0, 6, (2, 3)),
    }
    T = np.array([0.5, 4.0])
    y, w = laguerre.laggauss(150)  # int_0^oo g(y) e^{-y} dy = sum w_j g(y_j)
    history = fourier_signal(T[:, None] - y, **coefficients)
    quadrature = np.stack([(history * eval_laguerre(k, y) * w).sum(axis=1) for k in range(5)], axis=1)
    np.testing.assert_allclose(laguerre_projection(T, **coefficients, size=5), quadrature, atol=1e-9)


def test_laguerre_projection_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="amplitude"):
        laguerre_projection(np.zeros(2), np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3)), 2)
