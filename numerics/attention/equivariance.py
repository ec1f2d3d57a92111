"""Self-attention on permuted tokens, with and without positions or a mask (numpy only; no closed forms).

Seed 003, exercise 1.1 and task 2.1 (validation: the attention function is permutation
equivariant). Every function is batched: the first axis is the instance.

* :func:`permute_tokens`: ``P_s X``, row ``i`` being row ``s(i)`` of ``X``.
* :func:`projections`: ``(X W_Q, X W_K, X W_V)``, the queries, keys and values of self-attention
  (attention itself is :func:`numerics.attention.kernels.scaled_dot_product_attention`).
* :func:`sinusoidal_positions`, :func:`causal_mask`: what breaks the equivariance when it
  stays with the slots rather than moving with the tokens.
* :func:`self_attention_rounding_bound`: how far two float64 evaluations of self-attention can
  differ, per instance.
"""

from __future__ import annotations

import numpy as np

from numerics.attention import sinusoidal_encoding
from numerics.attention.kernels import gamma, softmax_average_error

PE_BASE = 10000.0
"""The base of the sinusoidal encoding (Vaswani et al. 2017, section 3.5)."""


def permute_tokens(X, permutation) -> np.ndarray:
    """``P_s X`` per instance: ``X`` ``(m, n, ...)``, ``permutation`` ``(m, n)``, ``s(i) = permutation[:, i]``."""
    X, permutation = np.asarray(X), np.asarray(permutation)
    index = permutation.reshape(permutation.shape + (1,) * (X.ndim - 2))
    return np.take_along_axis(X, index, axis=1)


def inverse_permutation(permutation) -> np.ndarray:
    """``s^-1`` per row: ``permute_tokens(permute_tokens(X, s), s^-1)`` is ``X`` again."""
    return np.argsort(np.asarray(permutation), axis=-1)


def projections(X, W_Q, W_K, W_V) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X W_Q, X W_K, X W_V)`` for ``X`` ``(m, n, d)`` and weights ``(m, d, d_k)``: self-attention's ``Q, K, V``."""
    X = np.asarray(X, dtype=float)
    return X @ W_Q, X @ W_K, X @ W_V


def sinusoidal_positions(n: int, d: int) -> np.ndarray:
    """``PE(pos)`` for positions ``0 .. n-1`` as rows, ``(n, d)``; for odd ``d`` the last cosine column is dropped."""
    even = d + d % 2
    return sinusoidal_encoding(np.arange(n, dtype=float)[None], even, np.array([PE_BASE]))[0, :, :d]


def causal_mask(n: int) -> np.ndarray:
    """``(n, n)`` boolean: query ``i`` sees keys ``j <= i`` (True = takes part)."""
    return np.tril(np.ones((n, n), dtype=bool))


def self_attention_rounding_bound(X, W_Q, W_K, W_V) -> np.ndarray:
    """``(m,)``: a bound on the entrywise gap between two float64 evaluations of ``softmax(S) X W_V``.

    ``S = X W_Q (X W_K)^T / sqrt(d_k)``, with or without a mask (masked weights are exactly 0 in
    both). From the instance's own magnitudes (Higham, Accuracy and Stability of Numerical
    Algorithms, 2nd ed., section 3.5, to first order): each score is off by at most
    ``gamma_(d + d_k + 2) T``, ``T`` the largest entry of ``|X| |W_Q| (|X| |W_K|)^T / sqrt(d_k)``, so
    each max-shifted exponent by twice that plus ``|S| u <= T u``; each value entry by
    ``gamma_d V``, ``V`` the largest entry of ``|X| |W_V|`` (also a bound on ``|X W_V|``). Each
    evaluation is within :func:`~numerics.attention.kernels.softmax_average_error` plus
    ``gamma_d V`` of the exact output, plus ``gamma_(n+1) V`` if it normalises the weights once
    more (as the permutation-equivariance closed form does); two evaluations within twice that.
    """
    X, W_Q, W_K, W_V = (np.asarray(a, dtype=float) for a in (X, W_Q, W_K, W_V))
    m, n, d = X.shape
    d_k = W_Q.shape[-1]
    magnitude = np.abs(X)
    scores = (magnitude @ np.abs(W_Q)) @ np.swapaxes(magnitude @ np.abs(W_K), -1, -2) / np.sqrt(d_k)
    largest_score = scores.reshape(m, -1).max(axis=1)
    largest_value = (magnitude @ np.abs(W_V)).reshape(m, -1).max(axis=1)
    exponent_error = (2 * gamma(d + d_k + 2) + gamma(1)) * largest_score
    return 2 * (softmax_average_error(exponent_error, largest_value, n) + (gamma(d) + gamma(n + 1)) * largest_value)
