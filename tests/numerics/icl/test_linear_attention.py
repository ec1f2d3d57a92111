"""Exercise 1.4's numerics: literal linear attention, autograd gradient steps, the numerical concave-convex step, the energy."""

import math

import numpy as np
import pytest

from numerics.icl.linear_attention import (
    hopfield_accuracy,
    hopfield_energy,
    linear_attention,
    log_softmax_weights,
    log_sum_exp_gradient,
    matching_step_size,
    minimise_surrogate,
    one_step_weights,
    step_size_accuracy,
)

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 5, 3))
Y = RNG.standard_normal((4, 5, 2))
XI = RNG.standard_normal((4, 3, 1))
BETA = np.array([0.3, 1.0, 2.0, 7.0])


def test_linear_attention_is_the_sum_of_scored_values():
    O = linear_attention(np.swapaxes(XI, -1, -2), X, Y)
    by_hand = np.einsum("nj,njk->nk", (X @ XI)[..., 0], Y)
    np.testing.assert_allclose(O[:, 0], by_hand, rtol=1e-13)


@pytest.mark.parametrize("mean", [False, True])
def test_a_unit_step_is_minus_the_gradient(mean):
    W_1 = one_step_weights(X, Y, mean)
    expected = np.swapaxes(X, -1, -2) @ Y / (X.shape[1] if mean else 1)
    np.testing.assert_allclose(W_1, expected, rtol=1e-13)


def test_the_matching_step_size_scales_a_prediction_back():
    prediction = RNG.standard_normal((3, 1, 2))
    np.testing.assert_allclose(matching_step_size(2.5 * prediction, prediction), 2.5, rtol=1e-15)


def test_the_surrogate_minimiser_is_the_gradient_of_log_sum_exp():
    g = log_sum_exp_gradient(X, XI, BETA)
    weights = np.exp(log_softmax_weights(X, XI, BETA))
    np.testing.assert_allclose(g, np.swapaxes(X, -1, -2) @ weights, rtol=1e-12)
    zeta, residual = minimise_surrogate(g)
    np.testing.assert_array_equal(residual, zeta - g)
    assert np.abs(residual).max() < 1e-13


def test_the_energy_by_hand():
    # Patterns +1 and -1 in one dimension, beta = 1: E(v) = -log(2 cosh v) + v^2 / 2.
    patterns = np.array([[[1.0], [-1.0]]])
    energy = hopfield_energy(patterns, np.array([[[0.5]]]), np.array([1.0]))
    assert energy[0] == pytest.approx(-math.log(2 * math.cosh(0.5)) + 0.125, abs=1e-15)


def test_the_log_weights_are_normalised():
    assert np.allclose(np.exp(log_softmax_weights(X, XI, BETA)).sum(axis=1), 1.0, rtol=1e-14)


def test_the_step_size_budget_grows_as_the_output_shrinks():
    prediction = np.ones((1, 1, 2))
    small, large = (step_size_accuracy(X[:1], Y[:1], XI[:1], scale * prediction, 1.0) for scale in (1e-6, 1.0))
    assert small[0] > 1e5 * large[0] > 0


def test_the_hopfield_budgets_are_small_and_positive():
    zeta, residual = minimise_surrogate(log_sum_exp_gradient(X, XI, BETA))
    update, decrease = hopfield_accuracy(X, XI, zeta, BETA, residual)
    assert update.shape == XI.shape and decrease.shape == (4,)
    assert np.all(update > 0) and np.all(decrease > 0)
    assert update.max() < 1e-11 and decrease.max() < 1e-10
