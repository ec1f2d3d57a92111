"""The stacked-layers numerics: the construction, the literal stack, explicit (preconditioned) descent, the measured
contraction, the rounding bound."""

import numpy as np
import pytest

from numerics.icl import gradient_descent_construction, linear_self_attention, token_matrix
from numerics.icl.multistep import (
    explicit_gd_plus_plus,
    explicit_gradient_descent,
    layer_stack,
    measured_contraction,
    residual_tokens,
    stack_rounding_bound,
    stacked_construction,
)

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 2, 6))
Y = RNG.standard_normal((3, 1, 6))
X_Q = RNG.standard_normal((3, 2, 1))
ETA = np.array([0.05, 0.2, 0.4])
GAMMA = np.array([0.0, 0.1, 0.2])


def _prompt():
    return token_matrix(X, Y, X_Q, np.zeros((3, 1, 1)))


def test_the_plain_construction_is_lsa_gds_at_w0_zero():
    plain = stacked_construction(ETA, np.zeros(3), 6, 2, 1)
    for ours, theirs in zip(plain, gradient_descent_construction(np.zeros((3, 1, 2)), ETA, 6)):
        np.testing.assert_array_equal(ours, theirs)
    assert not np.signbit(plain[2][:, 0, 0]).any()  # no -0.0 in the printed value matrix


def test_one_layer_of_the_stack_is_one_layer():
    weights = stacked_construction(ETA, GAMMA, 6, 2, 1)
    np.testing.assert_array_equal(layer_stack(_prompt(), weights, 1), linear_self_attention(_prompt(), *weights))
    np.testing.assert_array_equal(layer_stack(_prompt(), weights, 0), _prompt())


def test_two_gradient_steps_by_hand():
    # d_x = d_y = 1, N = 2, x = (1, 1), y = (1, 1): Sigma = C = 1, W_1 = eta, W_2 = eta + eta (1 - eta).
    W = explicit_gradient_descent(np.ones((1, 1, 2)), np.ones((1, 1, 2)), np.array([0.5]), 2)
    assert W[0, 0, 0] == pytest.approx(0.75, abs=1e-15)


def test_gd_plus_plus_without_correction_is_gd():
    V, inputs, query = explicit_gd_plus_plus(X, Y, X_Q, ETA, np.zeros(3), 3)
    np.testing.assert_allclose(V, explicit_gradient_descent(X, Y, ETA, 3), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(inputs, X)
    np.testing.assert_array_equal(query, X_Q)


def test_gd_plus_plus_matches_its_literal_stack():
    V, inputs, query = explicit_gd_plus_plus(X, Y, X_Q, ETA, GAMMA, 3)
    stack = layer_stack(_prompt(), stacked_construction(ETA, GAMMA, 6, 2, 1), 3)
    np.testing.assert_allclose(stack, token_matrix(inputs, Y - V @ X, query, -V @ X_Q), atol=1e-12)


def test_the_measured_contraction_is_one_minus_eta_lambda_to_the_k():
    ratio, accuracy = measured_contraction(X, Y, ETA, 4)
    eigenvalues = np.linalg.eigvalsh(X @ np.swapaxes(X, -1, -2) / 6)
    np.testing.assert_allclose(ratio, (1 - ETA[:, None] * eigenvalues) ** 4, rtol=1e-10)
    assert np.all(accuracy > 0) and accuracy.max() < 1e-9


def test_residual_tokens_keep_x_and_subtract_the_prediction():
    W = RNG.standard_normal((3, 1, 2))
    tokens = residual_tokens(X, Y, X_Q, W)
    np.testing.assert_array_equal(tokens[:, :2, :6], X)
    np.testing.assert_allclose(tokens[:, 2:, -1:], -W @ X_Q)


def test_the_rounding_bound_grows_with_depth_and_stays_small():
    shallow, deep = (stack_rounding_bound(X, Y, X_Q, ETA, GAMMA, K) for K in (1, 5))
    assert shallow.shape == (3, 3, 7) and np.all(deep >= shallow) and deep.max() < 1e-11
