"""The icl numerics: explicit GD by autograd, the literal LSA layer, the construction, the rounding bound."""

import numpy as np
import pytest

from numerics.icl import (
    gradient_descent_construction,
    gradient_descent_step,
    gradient_descent_tokens,
    linear_self_attention,
    token_matrix,
    token_rounding_bound,
)


def random_problem(rng, n, d_x, d_y, N):
    return dict(
        X=rng.standard_normal((n, d_x, N)),
        Y=rng.standard_normal((n, d_y, N)),
        x_q=rng.standard_normal((n, d_x, 1)),
        y_q=rng.standard_normal((n, d_y, 1)),
        W_0=rng.standard_normal((n, d_y, d_x)),
        eta=rng.uniform(0.001, 1.0, size=n),
    )


def literal_layer(problem):
    N = problem["X"].shape[-1]
    weights = gradient_descent_construction(problem["W_0"], problem["eta"], N)
    E = token_matrix(problem["X"], problem["Y"], problem["x_q"], problem["y_q"])
    return linear_self_attention(E, *weights)


# A hand case: d_x = d_y = 1, N = 2, x = (1, 2), y = (3, 4), W_0 = 0, eta = 1/2.
# grad L(0) = (1/N) sum_j (0 - y_j) x_j = -(3 + 8)/2 = -5.5, so W_1 = 0 + 0.5 * 5.5 = 2.75.
HAND = dict(
    X=np.array([[[1.0, 2.0]]]),
    Y=np.array([[[3.0, 4.0]]]),
    x_q=np.array([[[2.0]]]),
    y_q=np.array([[[0.0]]]),
    W_0=np.array([[[0.0]]]),
    eta=np.array([0.5]),
)


def test_one_gradient_step_by_hand():
    W_1 = gradient_descent_step(HAND["X"], HAND["Y"], HAND["W_0"], HAND["eta"])
    assert W_1.shape == (1, 1, 1)
    assert W_1[0, 0, 0] == pytest.approx(2.75, abs=1e-15)


def test_gd_tokens_by_hand():
    tokens = gradient_descent_tokens(**HAND)
    # x unchanged; y_j - W_1 x_j = 3 - 2.75, 4 - 5.5; the query 0 - 2.75 * 2 = -W_1 x_q.
    np.testing.assert_allclose(tokens[0], [[1.0, 2.0, 2.0], [0.25, -1.5, -5.5]], atol=1e-14)


def test_the_literal_layer_by_hand():
    np.testing.assert_allclose(literal_layer(HAND)[0], [[1.0, 2.0, 2.0], [0.25, -1.5, -5.5]], atol=1e-14)


def test_the_hand_construction():
    W_K, W_Q, W_V, P = gradient_descent_construction(np.array([[[0.5, -1.0]]]), np.array([0.2]), 4)
    np.testing.assert_array_equal(W_K[0], np.diag([1.0, 1.0, 0.0]))
    np.testing.assert_array_equal(W_Q[0], W_K[0])
    np.testing.assert_array_equal(W_V[0], [[0, 0, 0], [0, 0, 0], [0.5, -1.0, -1.0]])
    np.testing.assert_allclose(P[0], 0.05 * np.eye(3))


@pytest.mark.parametrize("d_x, d_y, N", [(1, 1, 1), (3, 1, 10), (2, 4, 5), (8, 4, 64)])
def test_the_literal_layer_with_the_construction_is_explicit_gd_on_every_token(d_x, d_y, N):
    problem = random_problem(np.random.default_rng(d_x * 100 + N), 7, d_x, d_y, N)
    layer, gd = literal_layer(problem), gradient_descent_tokens(**problem)
    assert layer.shape == gd.shape == (7, d_x + d_y, N + 1)
    bound = token_rounding_bound(**problem)
    assert np.all(np.abs(layer - gd) <= bound)
    inputs = token_matrix(problem["X"], problem["Y"], problem["x_q"], problem["y_q"])
    np.testing.assert_array_equal(gd[:, :d_x], inputs[:, :d_x])


def test_the_query_is_not_a_key():
    problem = random_problem(np.random.default_rng(1), 3, 2, 1, 4)
    moved = dict(problem, x_q=problem["x_q"] + 5.0, y_q=problem["y_q"] - 3.0)
    np.testing.assert_allclose(literal_layer(problem)[..., :-1], literal_layer(moved)[..., :-1], atol=1e-13)


def test_a_zero_projection_leaves_the_tokens_unchanged():
    E = np.random.default_rng(2).standard_normal((2, 3, 5))
    eye = np.eye(3)
    np.testing.assert_array_equal(linear_self_attention(E, eye, eye, eye, np.zeros((3, 3))), E)


def test_batching_equals_instances_one_at_a_time():
    problem = random_problem(np.random.default_rng(3), 6, 3, 2, 8)
    batched = gradient_descent_tokens(**problem)
    singles = [gradient_descent_tokens(**{k: v[i : i + 1] for k, v in problem.items()}) for i in range(6)]
    np.testing.assert_allclose(batched, np.concatenate(singles), rtol=0, atol=1e-13)
    layer_singles = [literal_layer({k: v[i : i + 1] for k, v in problem.items()}) for i in range(6)]
    np.testing.assert_allclose(literal_layer(problem), np.concatenate(layer_singles), rtol=0, atol=1e-13)


def test_one_gd_step_decreases_the_loss_for_a_small_step():
    problem = random_problem(np.random.default_rng(4), 5, 3, 2, 20)
    X, Y, W_0 = problem["X"], problem["Y"], problem["W_0"]
    W_1 = gradient_descent_step(X, Y, W_0, np.full(5, 0.05))

    def loss(W):
        return ((W @ X - Y) ** 2).sum(axis=(1, 2)) / (2 * X.shape[-1])

    assert np.all(loss(W_1) < loss(W_0))


def test_the_moved_targets_carry_the_loss_of_w1():
    # On the moved data the loss at W_0 is the original loss at W_1 (von Oswald et al., Prop. 1).
    problem = random_problem(np.random.default_rng(5), 4, 3, 2, 9)
    X, Y, W_0 = problem["X"], problem["Y"], problem["W_0"]
    moved_Y = gradient_descent_tokens(**problem)[:, 3:, :-1]
    W_1 = gradient_descent_step(X, Y, W_0, problem["eta"])
    np.testing.assert_allclose(W_0 @ X - moved_Y, W_1 @ X - Y, atol=1e-12)


def test_the_rounding_bound_is_zero_on_x_and_positive_on_y():
    problem = random_problem(np.random.default_rng(6), 3, 2, 2, 6)
    bound = token_rounding_bound(**problem)
    assert bound.shape == (3, 4, 7)
    assert np.all(bound[:, :2] == 0) and np.all(bound[:, 2:] > 0)
    assert np.all(bound[:, 2:] < 1e-11)
