"""The numerical constrained minimisation behind chinchilla-allocation: hand cases, accuracy, batching."""

import mpmath
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from numerics.scaling import compute_optimal_allocation, parametric_loss


def _random_fits(n, seed=0):
    rng = np.random.default_rng(seed)
    log_uniform = lambda low, high: np.exp(rng.uniform(np.log(low), np.log(high), n))
    return {
        "A": log_uniform(10, 1e4),
        "B": log_uniform(10, 1e4),
        "C": log_uniform(1e15, 1e28),
        "E": rng.uniform(0, 10, n),
        "alpha": rng.uniform(0.05, 0.95, n),
        "beta": rng.uniform(0.05, 0.95, n),
    }


def test_a_symmetric_loss_splits_the_budget_equally():
    # A = B and alpha = beta: by symmetry N = D = sqrt(C/6); here C/6 = 1e4, so N = D = 100.
    values, accuracy = compute_optimal_allocation(
        A=np.array([1.0, 7.0]), B=np.array([1.0, 7.0]), C=np.array([6e4, 6e4]),
        E=np.array([0.0, 2.0]), alpha=np.array([0.5, 0.3]), beta=np.array([0.5, 0.3]),
    )
    expected = np.array([[100.0, 100.0, 0.2], [100.0, 100.0, 2.0 + 14.0 * 100.0**-0.3]])
    assert np.all(np.abs(values - expected) <= accuracy + 1e-14 * np.abs(expected))


def test_shapes_and_positive_accuracy():
    fits = _random_fits(7)
    values, accuracy = compute_optimal_allocation(**fits)
    assert values.shape == accuracy.shape == (7, 3)
    assert np.all(accuracy > 0) and np.all(accuracy[:, :2] < 1e-12 * values[:, :2])


def test_the_allocation_spends_the_budget_and_beats_its_neighbours():
    fits = _random_fits(50, seed=1)
    values, _ = compute_optimal_allocation(**fits)
    N, D, L = values.T
    assert np.allclose(6 * N * D, fits["C"], rtol=1e-14)
    fit = (fits["A"], fits["B"], fits["E"], fits["alpha"], fits["beta"])
    loss = lambda scale: parametric_loss(N * scale, D / scale, *fit)
    assert np.allclose(loss(1.0), L, rtol=1e-15)
    assert np.all(loss(1.01) > L) and np.all(loss(1 / 1.01) > L)


def test_batching_equals_one_instance_at_a_time():
    fits = _random_fits(20, seed=2)
    batched, batched_accuracy = compute_optimal_allocation(**fits)
    for i in range(20):
        single, single_accuracy = compute_optimal_allocation(**{k: v[i : i + 1] for k, v in fits.items()})
        np.testing.assert_allclose(single[0], batched[i], rtol=0, atol=0)
        np.testing.assert_allclose(single_accuracy[0], batched_accuracy[i], rtol=1e-12)


def test_an_independent_minimiser_agrees():
    """Brent's method per instance on the reducible loss along the budget, with no derivative at all."""
    fits = _random_fits(6, seed=3)
    values, _ = compute_optimal_allocation(**fits)
    for i in range(6):
        A, B, C, alpha, beta = (fits[k][i] for k in ("A", "B", "C", "alpha", "beta"))
        reducible = lambda u: A * np.exp(-alpha * u) + B * (C / (6 * np.exp(u))) ** -beta
        start = 0.5 * np.log(C / 6)
        best = minimize_scalar(reducible, bracket=(start - 1, start + 1), tol=1e-12)
        assert best.success
        assert np.exp(best.x) == pytest.approx(values[i, 0], rel=1e-6)
        assert best.fun + fits["E"][i] == pytest.approx(values[i, 2], rel=1e-12)


def test_the_stated_accuracy_covers_a_50_digit_solution():
    fits = _random_fits(8, seed=4)
    values, accuracy = compute_optimal_allocation(**fits)
    for i in range(8):
        with mpmath.workdps(50):
            A, B, C, E, alpha, beta = (mpmath.mpf(float(fits[k][i])) for k in ("A", "B", "C", "E", "alpha", "beta"))
            slope = lambda u: -alpha * A * mpmath.exp(-alpha * u) + beta * B * (C / (6 * mpmath.exp(u))) ** -beta
            exact_N = mpmath.exp(mpmath.findroot(slope, mpmath.mpf(float(np.log(values[i, 0])))))
            exact_D = C / (6 * exact_N)
            exact = [exact_N, exact_D, E + A * exact_N**-alpha + B * exact_D**-beta]
            errors = [abs(mpmath.mpf(float(v)) - t) for v, t in zip(values[i], exact)]
        # The loss value also carries the oracle's own float64 rounding of a sum of positive terms.
        budget = accuracy[i] + np.array([0.0, 0.0, 8 * np.finfo(float).eps * float(exact[2])])
        assert np.all(np.array([float(e) for e in errors]) <= budget)


def test_minimise_smooth_finds_a_batch_of_minima_to_float64():
    from numerics.scaling import minimise_smooth

    # cosh(u - c): minimum exactly at c, curvature 1; the complex step works on cosh.
    def shifted_cosh(u, c):
        return np.cosh(u - c)

    minima, correction = minimise_smooth(shifted_cosh, np.zeros(3), (np.array([-7.5, 0.25, 30.0]),))
    np.testing.assert_allclose(minima, [-7.5, 0.25, 30.0], rtol=1e-15, atol=1e-15)
    assert np.all(correction <= 1e-14 * 30)


def test_minimise_smooth_refuses_a_function_without_a_minimum():
    from numerics.scaling import minimise_smooth

    def falling(u):
        return -u

    with pytest.raises(ArithmeticError, match="falling: no minimum"):
        minimise_smooth(falling, np.zeros(2))


def test_the_complex_step_slope_is_exact_to_rounding():
    from numerics.scaling import complex_step_slope, reducible_loss_along_budget

    fits = _random_fits(50, seed=5)
    arguments = tuple(fits[k] for k in ("A", "B", "C", "alpha", "beta"))
    u = 0.5 * np.log(fits["C"] / 6)
    A, B, C, alpha, beta = arguments
    N, D = np.exp(u), fits["C"] / (6 * np.exp(u))
    by_hand = -alpha * A * N**-alpha + beta * B * D**-beta
    scale = alpha * A * N**-alpha + beta * B * D**-beta
    assert np.all(np.abs(complex_step_slope(reducible_loss_along_budget, u, arguments) - by_hand) <= 1e-13 * scale)
