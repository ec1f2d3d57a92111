"""The literal one-layer attention-only transformer against torch's attention, its rounding bound, and circuit ranks."""

import numpy as np
import pytest
import torch

from numerics.attention.rank import orthonormal_frames
from numerics.circuits.framework import circuit_ranks, one_layer_attention_only, rounding_bound


def _model(rng, m, n, n_vocab, d_model, heads, d_head):
    """Gaussian weights (variance 1 / fan-in) and uniform random one-hot tokens."""
    return {
        "T": np.eye(n_vocab)[rng.integers(0, n_vocab, size=(m, n))],
        "W_E": rng.standard_normal((m, n_vocab, d_model)),
        "W_Q": 2 * rng.standard_normal((m, heads, d_model, d_head)) / np.sqrt(d_model),
        "W_K": rng.standard_normal((m, heads, d_model, d_head)) / np.sqrt(d_model),
        "W_V": rng.standard_normal((m, heads, d_model, d_head)) / np.sqrt(d_model),
        "W_O": rng.standard_normal((m, heads, d_head, d_model)) / np.sqrt(d_head),
        "W_U": rng.standard_normal((m, d_model, n_vocab)) / np.sqrt(d_model),
    }


@pytest.mark.parametrize("n, n_vocab, d_model, heads, d_head", [(1, 1, 1, 1, 1), (4, 5, 4, 2, 2), (6, 3, 2, 3, 4)])
def test_the_forward_pass_matches_torch_causal_attention(n, n_vocab, d_model, heads, d_head):
    rng = np.random.default_rng(n + 7 * heads)
    weights = _model(rng, 3, n, n_vocab, d_model, heads, d_head)
    logits, patterns = one_layer_attention_only(**weights)
    t = {k: torch.from_numpy(v) for k, v in weights.items()}
    x = t["T"] @ t["W_E"]
    stream = x.clone()
    for h in range(heads):
        q, k, v = x @ t["W_Q"][:, h], x @ t["W_K"][:, h], x @ t["W_V"][:, h]
        stream = stream + torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True) @ t["W_O"][:, h]
    np.testing.assert_allclose(logits, (stream @ t["W_U"]).numpy(), rtol=0, atol=1e-13)
    assert np.allclose(np.triu(patterns, k=1), 0) and np.allclose(patterns.sum(axis=-1), 1)


def test_the_rounding_bound_covers_the_sum_of_paths():
    rng = np.random.default_rng(5)
    weights = _model(rng, 200, 5, 6, 4, 3, 2)
    logits, patterns = one_layer_attention_only(**weights)
    T, W_E, W_V, W_O, W_U = (weights[k] for k in ("T", "W_E", "W_V", "W_O", "W_U"))
    # The direct path plus each head's pattern times T times its OV circuit, summed in another order.
    circuits = W_E[:, None] @ W_V @ W_O @ W_U[:, None]
    paths = T @ W_E @ W_U + np.einsum("mhij,mjv,mhvw->miw", patterns, T, circuits)
    logit_bound, pattern_bound = rounding_bound(**weights)
    gap = np.abs(paths - logits)
    assert np.all(gap <= logit_bound) and gap.max() > 0
    assert logit_bound.max() < 1e-10 and pattern_bound.max() < 1e-10  # first-order worst case, far below a mutant


def test_circuit_ranks_are_min_of_the_sizes_for_generic_weights_and_drop_with_a_zero_head():
    rng = np.random.default_rng(2)
    m, heads, n_vocab, d_model, d_head = 50, 2, 5, 4, 2

    def frames(rows, cols):
        return orthonormal_frames(rng, m * heads, rows, cols).reshape(m, heads, rows, cols)

    W_E, W_U = orthonormal_frames(rng, m, n_vocab, d_model), orthonormal_frames(rng, m, d_model, n_vocab)
    W_Q, W_K, W_V = (frames(d_model, d_head) for _ in range(3))
    W_O = frames(d_head, d_model)
    rank_qk, rank_ov = circuit_ranks(W_E, W_Q, W_K, W_V, W_O, W_U)
    assert np.all(rank_qk == 2) and np.all(rank_ov == 2)
    W_Q[:, 1] = 0.0
    with np.errstate(invalid="ignore"):  # a zero circuit's singular values are 0 / 0 relative to the largest
        assert np.all(circuit_ranks(W_E, W_Q, W_K, W_V, W_O, W_U)[0] == [2, 0])


def test_bad_shapes_are_rejected():
    rng = np.random.default_rng(0)
    weights = _model(rng, 2, 3, 4, 2, 1, 1)
    with pytest.raises(ValueError, match="W_O"):
        one_layer_attention_only(**{**weights, "W_O": weights["W_O"][..., :1]})
    with pytest.raises(ValueError, match="T must be"):
        one_layer_attention_only(**{**weights, "T": weights["T"][0]})
