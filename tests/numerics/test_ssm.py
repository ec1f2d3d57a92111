"""HiPPO numerics: quadrature projection, residual inner products and the stacked ODE solver on hand cases."""

import functools

import numpy as np
import pytest

from numerics.ssm.legs import (
    fourier_signal,
    integrate_memory,
    legendre_projection,
    residual_inner_products,
    scaled_legendre_basis,
    unit_interval_quadrature,
)

# The LegS dynamics for N = 2, typed here only as a hand case for the solver.
A2 = np.array([[1.0, 0.0], [np.sqrt(3.0), 2.0]])
B2 = np.array([1.0, np.sqrt(3.0)])


def identity_signal(times):
    return np.asarray(times, dtype=float)


def random_signals(seed, n, terms=3):
    """Coefficients of ``n`` random trigonometric signals, and a horizon ``T`` for each."""
    rng = np.random.default_rng(seed)
    coefficients = {
        "amplitude": rng.standard_normal((n, terms)),
        "frequency": rng.uniform(0, 2, (n, terms)),
        "phase": rng.uniform(0, 2 * np.pi, (n, terms)),
    }
    return coefficients, rng.uniform(0.5, 5, n)


def signal_of(coefficients, rows=slice(None)):
    return functools.partial(fourier_signal, **{name: value[rows] for name, value in coefficients.items()})


def test_fourier_signal_hand_values_and_shapes():
    amplitude = np.array([[2.0, 1.0], [1.0, 0.0]])
    frequency = np.array([[0.0, np.pi], [1.0, 0.0]])
    phase = np.array([[0.0, 0.0], [-np.pi / 2, 0.0]])
    values = fourier_signal(np.array([[0.0, 1.0], [np.pi / 2, 0.0]]), amplitude, frequency, phase)
    np.testing.assert_allclose(values, [[3.0, 1.0], [1.0, 0.0]], atol=1e-15)
    assert fourier_signal(np.array([0.0, 1.0]), amplitude, frequency, phase).shape == (2,)


def test_the_basis_is_orthonormal_for_the_uniform_probability_measure():
    x, w = np.polynomial.legendre.leggauss(20)
    basis = scaled_legendre_basis(x, 8)
    np.testing.assert_allclose(basis.T @ (basis * (w / 2)[:, None]), np.eye(8), atol=1e-13)


def test_projection_of_polynomials_by_hand():
    T = np.array([1.0, 3.0])
    constant = legendre_projection(lambda s: np.full_like(s, 2.0), T, 4)
    np.testing.assert_allclose(constant, [[2.0, 0, 0, 0]] * 2, atol=1e-14)
    # f(s) = s: c_0 = T/2, c_1 = (1/T) int_0^T s sqrt(3) (2s/T - 1) ds = T / (2 sqrt 3), the rest vanish.
    linear = legendre_projection(identity_signal, T, 4)
    np.testing.assert_allclose(linear, np.stack([T / 2, T / (2 * np.sqrt(3)), 0 * T, 0 * T], axis=1), atol=1e-14)


def test_projection_of_a_cosine_by_hand():
    omega, T = 1.3, np.array([2.0])
    signal = functools.partial(fourier_signal, amplitude=[[1.0]], frequency=[[omega]], phase=[[0.0]])
    np.testing.assert_allclose(legendre_projection(signal, T, 1)[:, 0], np.sin(omega * T) / (omega * T), rtol=1e-14)


def test_projection_batch_equals_each_instance():
    coefficients, T = random_signals(1, 6)
    batch = legendre_projection(signal_of(coefficients), T, 5)
    assert batch.shape == (6, 5)
    for i in range(6):
        single = legendre_projection(signal_of(coefficients, slice(i, i + 1)), T[i : i + 1], 5)
        np.testing.assert_allclose(batch[i], single[0], rtol=1e-14, atol=1e-15)


def test_residual_inner_products_vanish_exactly_for_the_projection():
    coefficients, T = random_signals(2, 4)
    signal = signal_of(coefficients)
    coefficients = legendre_projection(signal, T, 6)
    np.testing.assert_allclose(residual_inner_products(coefficients, signal, T), 0, atol=1e-13)
    shifted = coefficients.copy()
    shifted[:, 2] += 0.1
    np.testing.assert_allclose(residual_inner_products(shifted, signal, T)[:, 2], -0.1, atol=1e-13)


def test_memory_of_a_constant_stays_constant():
    c = integrate_memory(np.array([[1.0]]), np.array([1.0]), lambda s: np.full_like(s, 0.7), np.array([0.5, 4.0]))
    np.testing.assert_allclose(c, 0.7, rtol=1e-12)


def test_legs_memory_of_a_ramp_by_hand():
    # For f(s) = s the LegS coefficients are c(T) = (T/2, T/(2 sqrt 3)) (projection computed by hand).
    T = np.array([0.5, 2.0, 5.0])
    c = integrate_memory(A2, B2, identity_signal, T)
    np.testing.assert_allclose(c, np.stack([T / 2, T / (2 * np.sqrt(3))], axis=1), rtol=1e-9, atol=1e-12)


def test_unscaled_memory_of_a_ramp_by_hand():
    # c' = -c + t, c(0) = 0 gives c(t) = t - 1 + exp(-t).
    T = np.array([0.5, 3.0])
    c = integrate_memory(np.array([[1.0]]), np.array([1.0]), identity_signal, T, scaled=False)
    np.testing.assert_allclose(c[:, 0], T - 1 + np.exp(-T), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("size", [1, 3, 8])
def test_memory_batch_matches_each_instance_and_has_the_batch_shape(size):
    rows = np.arange(size)
    A = np.tril(np.sqrt(2 * rows[:, None] + 1) * np.sqrt(2 * rows[None, :] + 1), -1) + np.diag(rows + 1.0)
    B = np.sqrt(2 * rows + 1.0)
    coefficients, T = random_signals(size, 5)
    batch = integrate_memory(A, B, signal_of(coefficients), T)
    assert batch.shape == (5, size)
    for i in range(5):
        single = integrate_memory(A, B, signal_of(coefficients, slice(i, i + 1)), T[i : i + 1])
        # Adaptive steps differ between a batch and a single instance: agreement to the solver's accuracy.
        np.testing.assert_allclose(batch[i], single[0], rtol=1e-8, atol=1e-9)


def test_the_package_re_exports_the_public_functions_of_its_submodules():
    import numerics.ssm
    from numerics.ssm import duality, legs, scan, selective

    for module in (duality, legs, scan, selective):
        exported = [name for name in numerics.ssm.__all__ if hasattr(module, name)]
        assert exported, module.__name__
        for name in exported:
            assert getattr(numerics.ssm, name) is getattr(module, name)
    assert {"ssd_quadratic", "ssd_recurrent", "selective_scan_ref", "ssd_minimal_discrete"} <= set(numerics.ssm.__all__)


def test_the_shared_quadrature_is_for_the_probability_measure_on_minus_one_one():
    # (1/2) int_{-1}^{1} x^k dx = 1/(k + 1) for even k, 0 for odd k; 4 nodes are exact up to degree 7.
    x, w = unit_interval_quadrature(4)
    for k in range(8):
        assert np.dot(w, x**k) == pytest.approx(1 / (k + 1) if k % 2 == 0 else 0.0, abs=1e-15)
