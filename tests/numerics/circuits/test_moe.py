"""The routed layer run literally: against a dense computation, its FLOP counts, and the rounding bound."""

import numpy as np
import pytest

from numerics.circuits.moe import expert_outputs, mixture_rounding_bound, routed_mixture


def _layer(rng, m, n, d_model, d_ff, E):
    return (
        rng.standard_normal((m, n, d_model)),
        rng.standard_normal((m, d_model, E)),
        rng.standard_normal((m, E, d_model, d_ff)),
        rng.standard_normal((m, E, d_ff, d_model)),
    )


@pytest.mark.parametrize("n, d_model, d_ff, E, k", [(1, 1, 1, 4, 1), (3, 2, 3, 6, 2), (2, 3, 2, 5, 5)])
def test_the_routed_layer_counts_4_n_k_d_d_ff_flops(n, d_model, d_ff, E, k):
    rng = np.random.default_rng(n + E)
    X, W_r, W_1, W_2 = _layer(rng, 4, n, d_model, d_ff, E)
    Y, gates, routed, dense = routed_mixture(X, W_r, W_1, W_2, k)
    assert np.all(routed == 4 * n * k * d_model * d_ff) and np.all(dense == 4 * n * E * d_model * d_ff)
    assert np.all((gates > 0).sum(axis=-1) == k) and np.allclose(gates.sum(axis=-1), 1)
    # The gates' mixture of every expert's output, as the dense layer would compute it.
    np.testing.assert_allclose(Y, np.einsum("mne,mned->mnd", gates, expert_outputs(X, W_1, W_2)), atol=1e-12)


def test_with_k_equal_e_the_layer_is_the_softmax_mixture():
    rng = np.random.default_rng(0)
    X, W_r, W_1, W_2 = _layer(rng, 3, 2, 2, 2, 4)
    Y, gates, _, _ = routed_mixture(X, W_r, W_1, W_2, 4)
    logits = X @ W_r
    np.testing.assert_allclose(gates, np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True), atol=1e-15)


def test_the_rounding_bound_covers_the_dense_evaluation():
    rng = np.random.default_rng(1)
    X, W_r, W_1, W_2 = _layer(rng, 100, 4, 3, 3, 8)
    Y, gates, _, _ = routed_mixture(X, W_r, W_1, W_2, 2)
    dense = np.einsum("mne,mned->mnd", gates, expert_outputs(X, W_1, W_2))
    bound = mixture_rounding_bound(X, W_r, W_1, W_2, gates)
    assert np.all(np.abs(dense - Y) <= bound) and bound.max() < 1e-12
