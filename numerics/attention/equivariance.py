"""Self-attention on permuted tokens, with and without positions or a mask (numpy / torch only; no closed forms).

Seed 003, exercise 1.1 and task 2.1 (validation: the attention function is permutation
equivariant). Every function is batched: the first axis is the instance.

* :func:`attention_of_permuted_tokens`: the three settings run directly on ``P_s X`` with torch's
  ``scaled_dot_product_attention`` (its own causal mask, positions written out in torch), with a
  bound on the rounding gap to any other float64 evaluation; :func:`lexicographic_permutation`
  numbers the permutations.
* :func:`permute_tokens`: ``P_s X``, row ``i`` being row ``s(i)`` of ``X``.
* :func:`projections`: ``(X W_Q, X W_K, X W_V)``, the queries, keys and values of self-attention
  (attention itself is :func:`numerics.attention.kernels.scaled_dot_product_attention`).
* :func:`sinusoidal_positions`, :func:`causal_mask`: what breaks the equivariance when it
  stays with the slots rather than moving with the tokens.
* :func:`self_attention_rounding_bound`: how far two float64 evaluations of self-attention can
  differ, per instance.
"""

from __future__ import annotations

import math

import numpy as np

from numerics.attention import sinusoidal_encoding
from numerics.attention.kernels import gamma, softmax_average_error
from numerics.threads import one_torch_thread

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


def lexicographic_permutation(index, n: int) -> np.ndarray:
    """``(m, n)``: permutation number ``index[i]`` of ``0 .. n-1`` in lexicographic order (0 the identity).

    Read off the factorial number system (Lehmer code): the leading digit ``index // (n-1)!`` picks
    which of the remaining items comes first, and so on.
    """
    rows = []
    for number in np.asarray(index, dtype=int).tolist():
        remaining, row = list(range(n)), []
        for place in range(n - 1, -1, -1):
            digit, number = divmod(number, math.factorial(place))
            row.append(remaining.pop(digit))
        rows.append(row)
    return np.array(rows, dtype=int).reshape(-1, n)


def attention_of_permuted_tokens(X, W_Q, W_K, W_V, permutation, base: float = PE_BASE):
    """``(outputs, accuracy)``: self-attention of the permuted tokens ``P_s X`` in three settings, in torch.

    ``X`` is ``(m, n, d)``, the weights ``(m, d, d_k)``, ``permutation`` ``(m, n)`` with ``s(i) =
    permutation[:, i]``. ``outputs`` ``(m, 3, n, d_k)`` stacks ``Attn(P_s X)``, ``Attn(P_s X + E)`` with
    the sinusoidal encodings ``E`` of positions ``0 .. n-1`` in the slots (``E[p, 2i] = sin(p / base^(2i/d'))``,
    ``E[p, 2i+1] = cos(...)``, ``d' = d`` rounded up to even, the last column dropped for odd ``d``), and
    ``Attn_C(P_s X)`` with torch's causal mask (query ``i`` sees keys ``j <= i``). Every attention is
    ``torch.nn.functional.scaled_dot_product_attention`` (float64, scale ``1/sqrt(d_k)``); none of this
    project's softmax or masks is used. ``accuracy`` ``(m,)`` is
    :func:`self_attention_rounding_bound` of the larger of the unencoded and the encoded tokens (a
    mask only zeroes weights).
    """
    import torch  # imported here: listing theorems must stay fast

    x, w_q, w_k, w_v = (torch.from_numpy(np.asarray(a, dtype=float)) for a in (X, W_Q, W_K, W_V))
    s = torch.from_numpy(np.asarray(permutation, dtype=np.int64))
    n, d = x.shape[1:]

    def attention(tokens, causal=False):
        return torch.nn.functional.scaled_dot_product_attention(tokens @ w_q, tokens @ w_k, tokens @ w_v, is_causal=causal)

    with one_torch_thread():  # matrices of 3 tokens: a second thread only waits
        permuted = torch.take_along_dim(x, s[:, :, None], dim=1)
        even = d + d % 2
        angles = torch.arange(n, dtype=torch.float64)[:, None] * base ** (-torch.arange(0, even, 2, dtype=torch.float64) / even)
        encodings = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).reshape(n, even)[:, :d]
        encoded = permuted + encodings
        outputs = torch.stack([attention(permuted), attention(encoded), attention(permuted, causal=True)], dim=1)
    accuracy = np.maximum(*(self_attention_rounding_bound(t.numpy(), W_Q, W_K, W_V) for t in (permuted, encoded)))
    return outputs.numpy(), accuracy


def self_attention_rounding_bound(X, W_Q, W_K, W_V) -> np.ndarray:
    """``(m,)``: a bound on the entrywise gap between two float64 evaluations of ``softmax(S) X W_V``.

    ``S = X W_Q (X W_K)^T / sqrt(d_k)``, with or without a mask (masked weights are exactly 0 in
    both). From the instance's own magnitudes (Higham, Accuracy and Stability of Numerical
    Algorithms, 2nd ed., section 3.5, to first order): each score is off by at most
    ``gamma_(d + d_k + 2) T``, ``T`` the largest entry of ``|X| |W_Q| (|X| |W_K|)^T / sqrt(d_k)``, so
    each max-shifted exponent by twice that plus ``|S| u <= T u``; each value entry by
    ``gamma_d V``, ``V`` the largest entry of ``|X| |W_V|`` (also a bound on ``|X W_V|``). Each
    evaluation is within :func:`~numerics.attention.kernels.softmax_average_error` plus
    ``gamma_d V`` of the exact output, whether or not it subtracts the row maximum before
    exponentiating (unshifted, each exponent is off by the score's error alone); ``gamma_(n+1) V`` more
    is kept as slack for an evaluation that normalises each term by its own row sum (the
    permutation-equivariance closed form); two evaluations within twice that.
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
