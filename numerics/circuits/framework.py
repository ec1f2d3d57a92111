"""A one-layer attention-only transformer computed literally, and the rounding bound for comparing it (numpy / torch).

* :func:`one_layer_attention_only`: the forward pass of Elhage et al.'s one-layer attention-only
  transformer in torch (float64), as a model runs it: look the tokens' rows up in ``W_E``, then
  for each head in turn queries, keys and values, causally masked ``torch.softmax`` scores, the
  head's output added to the residual stream, and the stream read out by ``W_U``. No path
  expansion, no circuit matrix and no Kronecker product appear in it.
* :func:`circuit_ranks`: the numerical ranks of each head's QK circuit ``W_E W_Q W_K^T W_E^T`` and
  OV circuit ``W_E W_V W_O W_U``, multiplied out and measured by their singular values.
* :func:`rounding_bound`: how far two float64 evaluations of the same logits and patterns can be
  apart when they associate the sums differently (the literal pass and the sum of paths).
"""

from __future__ import annotations

import numpy as np

from numerics.attention.kernels import UNIT_ROUNDOFF, gamma, softmax_weight_error
from numerics.attention.rank import numerical_rank
from numerics.threads import one_torch_thread


def _check_shapes(T, W_E, W_Q, W_K, W_V, W_O, W_U) -> None:
    if T.ndim != 3 or W_E.shape != (T.shape[0], T.shape[2], W_E.shape[2]):
        raise ValueError(f"T must be (m, n, n_vocab) and W_E (m, n_vocab, d_model), got {T.shape}, {W_E.shape}")
    m, _, n_vocab = T.shape
    d_model = W_E.shape[2]
    for name, weight in (("W_Q", W_Q), ("W_K", W_K), ("W_V", W_V)):
        if weight.shape != W_Q.shape or weight.shape[:3] != (m, W_Q.shape[1], d_model):
            raise ValueError(f"{name} must be (m, H, d_model, d_head), got {weight.shape}")
    if W_O.shape != (m, W_Q.shape[1], W_Q.shape[3], d_model) or W_U.shape != (m, d_model, n_vocab):
        shapes = f"{W_O.shape}, {W_U.shape}"
        raise ValueError(f"W_O must be (m, H, d_head, d_model) and W_U (m, d_model, n_vocab), got {shapes}")


def one_layer_attention_only(T, W_E, W_Q, W_K, W_V, W_O, W_U) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, patterns)`` of a one-layer attention-only transformer on one-hot tokens ``T (m, n, n_vocab)``.

    ``W_E`` is ``(m, n_vocab, d_model)``, ``W_Q, W_K, W_V`` are ``(m, H, d_model, d_head)``, ``W_O``
    is ``(m, H, d_head, d_model)`` and ``W_U`` is ``(m, d_model, n_vocab)``. Position ``i`` attends to
    positions ``j <= i`` (causal mask). Returns the logits ``(m, n, n_vocab)`` and the patterns
    ``(m, H, n, n)`` as numpy arrays. Batched over instances, one head after the other.
    """
    import torch  # imported here: listing theorems must stay fast

    arrays = [np.asarray(a, dtype=float) for a in (T, W_E, W_Q, W_K, W_V, W_O, W_U)]
    _check_shapes(*arrays)
    T, W_E, W_Q, W_K, W_V, W_O, W_U = (torch.from_numpy(a) for a in arrays)
    m, n, _ = T.shape
    future = torch.from_numpy(~np.tri(n, dtype=bool))  # key j > query i: masked
    with one_torch_thread():
        tokens = T.argmax(dim=-1)
        residual = W_E[torch.arange(m)[:, None], tokens]  # the embedding lookup: row t_i of W_E at position i
        stream = residual.clone()
        patterns = []
        for h in range(W_Q.shape[1]):
            queries, keys, values = residual @ W_Q[:, h], residual @ W_K[:, h], residual @ W_V[:, h]
            scores = (queries @ keys.transpose(-1, -2) / np.sqrt(W_Q.shape[-1])).masked_fill(future, -torch.inf)
            pattern = torch.softmax(scores, dim=-1)
            stream = stream + pattern @ values @ W_O[:, h]
            patterns.append(pattern)
        return (stream @ W_U).numpy(), torch.stack(patterns, dim=1).numpy()


def circuit_ranks(W_E, W_Q, W_K, W_V, W_O, W_U) -> tuple[np.ndarray, np.ndarray]:
    """``(rank QK, rank OV)``, each ``(m, H)``: numerical ranks of the ``n_vocab x n_vocab`` circuits, multiplied out.

    Ranks from singular values (:func:`numerics.attention.rank.numerical_rank`, which refuses a
    matrix with a singular value in its undecided band).
    """
    W_E, W_U = (np.asarray(a, dtype=float)[:, None] for a in (W_E, W_U))  # one copy per head
    W_Q, W_K, W_V, W_O = (np.asarray(a, dtype=float) for a in (W_Q, W_K, W_V, W_O))
    qk = W_E @ W_Q @ np.swapaxes(W_K, -1, -2) @ np.swapaxes(W_E, -1, -2)
    ov = W_E @ W_V @ W_O @ W_U
    return numerical_rank(qk), numerical_rank(ov)


def rounding_bound(T, W_E, W_Q, W_K, W_V, W_O, W_U) -> tuple[np.ndarray, np.ndarray]:
    """Entrywise bounds on ``|logits - logits'|`` ``(m, n, n_vocab)`` and ``|A - A'|`` ``(m, H, n, n)``, two evaluations.

    Any float64 evaluation of a product chain whose inner sums total at most ``k`` terms lies within
    ``gamma_k |F_1| ... |F_r|`` of the exact chain (Higham, Accuracy and Stability of Numerical
    Algorithms, 2nd ed., section 3.5, first order); two evaluations differ by twice that. Here ``k``
    covers the longest chain of either form: the sum of paths multiplies ``(A kron C^T)`` into
    ``vec_r(T)`` (``n n_vocab`` terms) after forming ``C`` (``3 d_model + d_head``), and adds ``H + 1``
    paths. The embedding is exact (one-hot rows select rows of ``W_E``). With
    ``L = |X| |W_Q| |W_K|^T |X|^T / sqrt(d_head)`` each computed logit is off by at most ``2 gamma_k L``,
    so each weight is relatively off by :func:`numerics.attention.kernels.softmax_weight_error` of
    ``(2 gamma_k + 2 u) max_j L_ij`` (the max shift adds ``2 u`` of the largest logit), and two
    evaluations differ by twice that. The logits then differ by
    ``2 gamma_k (|T||W_E||W_U| + sum_h A^h |T| |C_OV^h|) + sum_h |A^h - A'^h| |T| |C_OV^h|`` with
    ``|C_OV^h| = |W_E||W_V^h||W_O^h||W_U|``.
    """
    _, patterns = one_layer_attention_only(T, W_E, W_Q, W_K, W_V, W_O, W_U)
    T, W_E, W_Q, W_K, W_V, W_O, W_U = (np.abs(np.asarray(a, dtype=float)) for a in (T, W_E, W_Q, W_K, W_V, W_O, W_U))
    _, n, n_vocab = T.shape
    heads, d_model, d_head = W_Q.shape[1:]
    chain = 2 * gamma(n * n_vocab + n + 3 * d_model + d_head + heads + 4)
    X = (T @ W_E)[:, None]  # one copy per head
    logits = X @ W_Q @ np.swapaxes(X @ W_K, -1, -2) / np.sqrt(d_head)
    largest = (chain + 2 * UNIT_ROUNDOFF) * logits.max(axis=-1, keepdims=True)
    pattern_error = 2 * patterns * softmax_weight_error(largest, n)
    carried = X @ W_V @ W_O @ W_U[:, None]  # |T| |C_OV^h|, per head
    through_heads = ((chain * patterns + pattern_error) @ carried).sum(axis=1)
    return chain * (T @ W_E @ W_U) + through_heads, pattern_error
