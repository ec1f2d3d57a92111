"""Task 2.1's validation for any number of tokens: the numpy attention is permutation equivariant, unless
positions or a causal mask stay with the slots; the helpers (permutations, encodings, mask) by hand; the rounding
bound against extended precision."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.attention.equivariance import (
    attention_of_permuted_tokens,
    causal_mask,
    inverse_permutation,
    lexicographic_permutation,
    permute_tokens,
    projections,
    self_attention_rounding_bound,
    sinusoidal_positions,
)
from numerics.attention.kernels import scaled_dot_product_attention


def self_attention(X, W_Q, W_K, W_V, mask=None):
    return scaled_dot_product_attention(*projections(X, W_Q, W_K, W_V), mask)


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


def test_projections_are_the_queries_keys_and_values():
    X, W_Q, W_K, W_V, _ = _instance(8, 2, 4, 3, 2)
    for got, W in zip(projections(X, W_Q, W_K, W_V), (W_Q, W_K, W_V)):
        by_hand = [[[sum(x[i] * w[i, j] for i in range(3)) for j in range(2)] for x in rows] for rows, w in zip(X, W)]
        np.testing.assert_allclose(got, by_hand, rtol=0, atol=1e-15)


def _extended_precision_attention(X, W_Q, W_K, W_V):
    """The same attention in numpy's long double (64-bit significand on x86, u = 2^-64), written out here."""
    X, W_Q, W_K, W_V = (np.asarray(a, dtype=np.longdouble) for a in (X, W_Q, W_K, W_V))
    scores = (X @ W_Q) @ np.swapaxes(X @ W_K, 1, 2) / np.sqrt(np.longdouble(W_Q.shape[-1]))
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)) @ (X @ W_V)


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="long double is no wider than float64 here")
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_the_rounding_bound_covers_float64_against_extended_precision(scale):
    X, W_Q, W_K, W_V, _ = _instance(11, 500, 6, 8, 4)
    X = scale * X
    gap = np.abs(self_attention(X, W_Q, W_K, W_V) - _extended_precision_attention(X, W_Q, W_K, W_V))
    bound = self_attention_rounding_bound(X, W_Q, W_K, W_V)
    # One float64 evaluation is within half the bound (the bound covers two of them).
    used = gap.reshape(500, -1).max(axis=1) / (bound / 2)
    assert used.max() <= 1
    # Not vacuous: a worst case, but the largest gap comes within four decades of it.
    assert used.max() > 1e-4


def test_the_rounding_bound_grows_with_the_values():
    X, W_Q, W_K, W_V, _ = _instance(12, 3, 4, 3, 2)
    np.testing.assert_allclose(
        self_attention_rounding_bound(X, W_Q, W_K, 2 * W_V), 2 * self_attention_rounding_bound(X, W_Q, W_K, W_V)
    )


@pytest.mark.parametrize("n", [1, 2])
def test_one_or_two_tokens(n):
    X, W_Q, W_K, W_V, permutation = _instance(9, 3, n, 2, 2)
    np.testing.assert_allclose(
        self_attention(permute_tokens(X, permutation), W_Q, W_K, W_V),
        permute_tokens(self_attention(X, W_Q, W_K, W_V), permutation),
        rtol=0,
        atol=1e-14,
    )


@pytest.mark.parametrize("n", [1, 3, 4])
def test_lexicographic_numbering_is_itertools_order(n):
    every = lexicographic_permutation(range(math.factorial(n)), n)
    assert every.tolist() == [list(p) for p in itertools.permutations(range(n))]


@pytest.mark.parametrize("n, d, d_head", [(3, 1, 1), (3, 4, 2), (5, 3, 3), (2, 6, 1)])
def test_the_torch_oracle_agrees_with_the_numpy_attention_within_its_bound(n, d, d_head):
    X, W_Q, W_K, W_V, permutation = _instance(n + d, 20, n, d, d_head)
    outputs, accuracy = attention_of_permuted_tokens(X, W_Q, W_K, W_V, permutation)
    permuted = permute_tokens(X, permutation)
    numpy_outputs = np.stack(
        [
            self_attention(permuted, W_Q, W_K, W_V),
            self_attention(permuted + sinusoidal_positions(n, d), W_Q, W_K, W_V),
            self_attention(permuted, W_Q, W_K, W_V, causal_mask(n)),
        ],
        axis=1,
    )
    gap = np.abs(outputs - numpy_outputs).reshape(20, -1).max(axis=1)
    assert outputs.shape == (20, 3, n, d_head) and np.all(gap <= accuracy) and accuracy.max() < 1e-12
