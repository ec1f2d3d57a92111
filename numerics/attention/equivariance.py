"""Self-attention on permuted tokens, with and without positions or a mask (numpy only; no closed forms).

Seed 003, exercise 1.1 and task 2.1 (validation: the attention function is permutation
equivariant). Every function is batched: the first axis is the instance.

* :func:`permute_tokens`: ``P_s X``, row ``i`` being row ``s(i)`` of ``X``.
* :func:`self_attention`: ``softmax(X W_Q (X W_K)^T / sqrt(d_k)) X W_V`` through
  :func:`numerics.attention.kernels.scaled_dot_product_attention`.
* :func:`sinusoidal_positions`, :func:`causal_mask`: what breaks the equivariance when it
  stays with the slots rather than moving with the tokens.
* :func:`unnormalised_weights`: ``exp`` of the scores (shifted per row), 0 where masked.
"""

from __future__ import annotations

import numpy as np

from numerics.attention import sinusoidal_encoding
from numerics.attention.kernels import scaled_dot_product_attention

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


def self_attention(X, W_Q, W_K, W_V, mask=None) -> np.ndarray:
    """``Attn(X) = softmax(X W_Q (X W_K)^T / sqrt(d_k)) X W_V`` for ``X`` ``(m, n, d)``, weights ``(m, d, d_k)``.

    ``mask`` (boolean, broadcastable to ``(m, n, n)``; ``True`` = the key takes part) as in
    :func:`~numerics.attention.kernels.scaled_dot_product_attention`.
    """
    return scaled_dot_product_attention(X @ W_Q, X @ W_K, X @ W_V, mask)


def sinusoidal_positions(n: int, d: int) -> np.ndarray:
    """``PE(pos)`` for positions ``0 .. n-1`` as rows, ``(n, d)``; for odd ``d`` the last cosine column is dropped."""
    even = d + d % 2
    return sinusoidal_encoding(np.arange(n, dtype=float)[None], even, np.array([PE_BASE]))[0, :, :d]


def causal_mask(n: int) -> np.ndarray:
    """``(n, n)`` boolean: query ``i`` sees keys ``j <= i`` (True = takes part)."""
    return np.tril(np.ones((n, n), dtype=bool))


def unnormalised_weights(X, W_Q, W_K, mask=None) -> np.ndarray:
    """``exp(S_ij - max_j S_ij)`` (0 where ``mask`` is False), ``S = X W_Q (X W_K)^T / sqrt(d_k)``: ``(m, n, n)``.

    The softmax weights up to a positive factor per row, which normalising the rows removes;
    the shift keeps every exponent at most 0.
    """
    scores = (X @ W_Q) @ np.swapaxes(X @ W_K, -1, -2) / np.sqrt(W_Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    return np.exp(scores - scores.max(axis=-1, keepdims=True))
