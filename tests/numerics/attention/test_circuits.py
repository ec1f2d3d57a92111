"""Literal multi-head attention against torch.nn.MultiheadAttention, and the rounding bound."""

import numpy as np
import pytest
import torch

from numerics.attention.circuits import multi_head_attention, rounding_bound


def _weights(rng, m, n, d_model, heads, d_head):
    X = rng.standard_normal((m, n, d_model))
    W_Q, W_K, W_V = (rng.standard_normal((m, heads, d_model, d_head)) / np.sqrt(d_model) for _ in range(3))
    W_O = rng.standard_normal((m, heads * d_head, d_model)) / np.sqrt(heads * d_head)
    return X, W_Q, W_K, W_V, W_O


def _torch_attention(X, W_Q, W_K, W_V, W_O):
    """One instance through torch.nn.MultiheadAttention (bias off), with our weights in torch's layout."""
    heads, d_model, d_head = W_Q.shape
    module = torch.nn.MultiheadAttention(d_model, heads, bias=False, batch_first=True, dtype=torch.float64)
    # torch computes q = x W^T with the heads' rows stacked: row block h of W is W_Q^h transposed.
    stacked = [np.swapaxes(W, 1, 2).reshape(heads * d_head, d_model) for W in (W_Q, W_K, W_V)]
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.from_numpy(np.concatenate(stacked)))
        module.out_proj.weight.copy_(torch.from_numpy(W_O.T))
        x = torch.from_numpy(X)[None]
        output, weights = module(x, x, x, need_weights=True, average_attn_weights=False)
    return output[0].numpy(), weights[0].numpy()


@pytest.mark.parametrize("n, heads, d_head", [(1, 1, 1), (3, 2, 2), (5, 3, 1), (4, 4, 3)])
def test_literal_attention_matches_torch(n, heads, d_head):
    rng = np.random.default_rng(n + 10 * heads)
    X, W_Q, W_K, W_V, W_O = _weights(rng, 3, n, heads * d_head, heads, d_head)
    Z, patterns = multi_head_attention(X, W_Q, W_K, W_V, W_O)
    for i in range(3):
        expected, expected_patterns = _torch_attention(X[i], W_Q[i], W_K[i], W_V[i], W_O[i])
        np.testing.assert_allclose(Z[i], expected, rtol=0, atol=1e-13)
        np.testing.assert_allclose(patterns[i], expected_patterns, rtol=0, atol=1e-14)


def test_the_rounding_bound_covers_a_reassociated_evaluation():
    rng = np.random.default_rng(4)
    X, W_Q, W_K, W_V, W_O = _weights(rng, 200, 6, 8, 3, 4)
    Z, patterns = multi_head_attention(X, W_Q, W_K, W_V, W_O)
    # The same output with the sums in another order: W_OV first, heads summed last.
    rows = W_O.reshape(200, 3, 4, 8)
    reassociated = np.einsum("mhij,mjk,mhkl->mil", patterns, X, W_V @ rows)
    output_bound, pattern_bound = rounding_bound(X, W_Q, W_K, W_V, W_O)
    gap = np.abs(reassociated - Z)
    assert np.all(gap <= output_bound) and gap.max() > 0
    # Loose (first-order worst case) but far below the order-one disagreements of the mutants.
    assert output_bound.max() < 1e-10 and pattern_bound.max() < 1e-11
    # The patterns through W_QK = W_Q W_K^T, with another softmax implementation.
    logits = X[:, None] @ (W_Q @ np.swapaxes(W_K, -1, -2)) @ np.swapaxes(X, -1, -2)[:, None] / 2.0
    through_qk = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    assert np.all(np.abs(through_qk - patterns) <= pattern_bound)


def test_bad_shapes_are_rejected():
    rng = np.random.default_rng(0)
    X, W_Q, W_K, W_V, W_O = _weights(rng, 2, 3, 4, 2, 2)
    with pytest.raises(ValueError, match="X"):
        multi_head_attention(X[0], W_Q, W_K, W_V, W_O)
    with pytest.raises(ValueError, match="W_V"):
        multi_head_attention(X, W_Q, W_K, W_V[..., :1], W_O)
    with pytest.raises(ValueError, match="W_O"):
        rounding_bound(X, W_Q, W_K, W_V, W_O[:, :3])
