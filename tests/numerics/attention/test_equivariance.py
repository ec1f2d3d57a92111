"""Task 2.1's validation for any number of tokens: the numpy attention is permutation equivariant, unless
positions or a causal mask stay with the slots; the helpers (permutations, encodings, mask, weights) by hand."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.attention.equivariance import (
    causal_mask,
    inverse_permutation,
    permute_tokens,
    self_attention,
    sinusoidal_positions,
    unnormalised_weights,
)


def _instance(seed, m, n, d, d_head):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(m, d, d_head)) / math.sqrt(d) for _ in range(3)]
    permutation = np.argsort(rng.random((m, n)), axis=1)
    return rng.normal(size=(m, n, d)), *weights, permutation


@given(n=st.integers(1, 12), d=st.integers(1, 8), d_head=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_property_attention_is_permutation_equivariant_for_any_number_of_tokens(n, d, d_head, seed):
    X, W_Q, W_K, W_V, permutation = _instance(seed, 4, n, d, d_head)
    direct = self_attention(permute_tokens(X, permutation), W_Q, W_K, W_V)
    permuted = permute_tokens(self_attention(X, W_Q, W_K, W_V), permutation)
    np.testing.assert_allclose(direct, permuted, rtol=0, atol=1e-13)


@given(n=st.integers(2, 12), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_property_positions_and_the_mask_must_move_with_the_tokens(n, seed):
    X, W_Q, W_K, W_V, permutation = _instance(seed, 4, n, 4, 3)
    inverse = inverse_permutation(permutation)
    E = sinusoidal_positions(n, 4)
    with_positions = self_attention(permute_tokens(X, permutation) + E, W_Q, W_K, W_V)
    moved_positions = permute_tokens(np.broadcast_to(E, X.shape), inverse)
    moved = permute_tokens(self_attention(X + moved_positions, W_Q, W_K, W_V), permutation)
    np.testing.assert_allclose(with_positions, moved, rtol=0, atol=1e-13)
    C = causal_mask(n)
    masked = self_attention(permute_tokens(X, permutation), W_Q, W_K, W_V, C)
    moved_mask = C[inverse[:, :, None], inverse[:, None, :]]
    moved = permute_tokens(self_attention(X, W_Q, W_K, W_V, moved_mask), permutation)
    np.testing.assert_allclose(masked, moved, rtol=0, atol=1e-13)


def test_fixed_positions_and_a_fixed_causal_mask_break_equivariance():
    X, W_Q, W_K, W_V, _ = _instance(7, 1, 3, 4, 3)
    cycle = np.array([[1, 2, 0]])
    E = sinusoidal_positions(3, 4)
    stays = permute_tokens(self_attention(X + E, W_Q, W_K, W_V), cycle)
    assert np.abs(self_attention(permute_tokens(X, cycle) + E, W_Q, W_K, W_V) - stays).max() > 1e-3
    C = causal_mask(3)
    stays = permute_tokens(self_attention(X, W_Q, W_K, W_V, C), cycle)
    assert np.abs(self_attention(permute_tokens(X, cycle), W_Q, W_K, W_V, C) - stays).max() > 1e-3


def test_permute_tokens_moves_rows_and_the_inverse_undoes_it():
    X = np.arange(12.0).reshape(1, 3, 4)
    s = np.array([[1, 2, 0]])
    np.testing.assert_array_equal(permute_tokens(X, s)[0], X[0][[1, 2, 0]])  # row i of P_s X is row s(i)
    np.testing.assert_array_equal(inverse_permutation(s), [[2, 0, 1]])
    np.testing.assert_array_equal(permute_tokens(permute_tokens(X, s), inverse_permutation(s)), X)


def test_sinusoidal_positions_by_hand():
    E = sinusoidal_positions(3, 3)
    # Columns: sin(pos), cos(pos), sin(pos / 10000^(2/4)) (d = 3 drops the last cosine of d = 4).
    expected = [[math.sin(p), math.cos(p), math.sin(p / 100.0)] for p in range(3)]
    np.testing.assert_allclose(E, expected, rtol=1e-15, atol=1e-16)


def test_causal_mask_by_hand():
    np.testing.assert_array_equal(causal_mask(3), [[True, False, False], [True, True, False], [True, True, True]])


def test_unnormalised_weights_normalise_to_softmax_and_are_zero_where_masked():
    X, W_Q, W_K, _, _ = _instance(8, 2, 4, 3, 2)
    w = unnormalised_weights(X, W_Q, W_K)
    scores = (X @ W_Q) @ np.swapaxes(X @ W_K, 1, 2) / math.sqrt(2)
    softmax = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(w / w.sum(axis=-1, keepdims=True), softmax, rtol=1e-14)
    assert np.all(w <= 1.0) and np.all(w.max(axis=-1) == 1.0)
    masked = unnormalised_weights(X, W_Q, W_K, causal_mask(4))
    assert np.all(masked[:, ~causal_mask(4)] == 0.0)


@pytest.mark.parametrize("n", [1, 2])
def test_one_or_two_tokens(n):
    X, W_Q, W_K, W_V, permutation = _instance(9, 3, n, 2, 2)
    np.testing.assert_allclose(
        self_attention(permute_tokens(X, permutation), W_Q, W_K, W_V),
        permute_tokens(self_attention(X, W_Q, W_K, W_V), permutation),
        rtol=0,
        atol=1e-14,
    )
