"""The ridge solve, its rounding bound, and the counted factorisation and solves behind the FLOP counts."""

import numpy as np
import pytest

from numerics.icl.ridge import (
    cholesky_counted,
    least_squares_layer,
    ridge_prediction,
    ridge_rounding_bound,
    triangular_solve_counted,
)


def _tokens(seed, n=5, d=3, m=2, d_v=2, instances=4):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((instances, m, d)), rng.standard_normal((instances, n, d)),
            rng.standard_normal((instances, n, d_v)), rng.uniform(0.1, 10, instances))


@pytest.mark.parametrize("n, d", [(5, 3), (2, 6), (4, 4)])
def test_the_augmented_least_squares_solves_the_normal_equations(n, d):
    Q, K, V, alpha = _tokens(0, n, d)
    prediction, W = ridge_prediction(Q, K, V, alpha)
    KT = np.swapaxes(K, 1, 2)
    residual = (KT @ K + alpha[:, None, None] * np.eye(d)) @ W - KT @ V
    assert np.abs(residual).max() < 1e-12 and np.allclose(prediction, Q @ W, rtol=0, atol=1e-15)


def test_the_rounding_bound_covers_two_routes_and_is_small():
    Q, K, V, alpha = _tokens(1, 6, 3)
    prediction, W = ridge_prediction(Q, K, V, alpha)
    A = np.swapaxes(K, 1, 2) @ K + alpha[:, None, None] * np.eye(3)
    other = Q @ np.linalg.solve(A, np.swapaxes(K, 1, 2) @ V)
    bound, push_through, gap = ridge_rounding_bound(Q, K, V, alpha, W)
    assert np.all(np.abs(other - prediction).max(axis=(1, 2)) <= bound)
    assert np.all(bound <= push_through) and np.all(bound / np.abs(prediction).max(axis=(1, 2)) < 1e-10)


def test_cholesky_and_triangular_solves_and_their_operation_counts():
    rng = np.random.default_rng(2)
    M = rng.standard_normal((4, 4))
    A = M @ M.T + np.eye(4)
    L, operations = cholesky_counted(A)
    assert np.allclose(L @ L.T, A, atol=1e-13) and np.allclose(L, np.tril(L))
    assert operations == 1 * 4 + 3 * 3 + 5 * 2 + 7 * 1  # (2j + 1)(4 - j): the column j's entries
    C = rng.standard_normal((4, 2))
    X, forward = triangular_solve_counted(L, C)
    Y, backward = triangular_solve_counted(L, C, transpose=True)
    assert np.allclose(L @ X, C) and np.allclose(L.T @ Y, C)
    assert forward == backward == 2 * 16  # size^2 per right-hand side


@pytest.mark.parametrize("form", ["layer", "push_through"])
def test_both_forms_of_the_layer_are_the_ridge_prediction(form):
    Q, K, V, alpha = _tokens(3, 5, 3, m=5, d_v=3, instances=1)
    output, flops = least_squares_layer(Q[0], K[0], V[0], alpha[0], form)
    assert np.allclose(output, ridge_prediction(Q, K, V, alpha)[0][0], atol=1e-12) and flops > 0


def test_an_unknown_form_is_refused():
    with pytest.raises(ValueError, match="form"):
        least_squares_layer(np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1)), 1.0, "dual")
