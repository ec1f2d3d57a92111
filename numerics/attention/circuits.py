"""Multi-head attention computed literally, and the rounding bound for comparing it (numpy / torch only).

* :func:`multi_head_attention`: concatenate-then-project multi-head self-attention without
  biases (Vaswani et al. 2017, section 3.2.2), in torch (float64): each head's pattern
  ``torch.softmax((X W_Q^h)(X W_K^h)^T / sqrt(d_head))``, its output from
  ``torch.nn.functional.scaled_dot_product_attention``, the outputs concatenated along the
  features and multiplied by the whole ``W_O``. Batched over instances; no sum over heads, no
  Kronecker product and none of this project's softmax appear in it. It agrees with
  ``torch.nn.MultiheadAttention(bias=False)`` (tested).
* :func:`rounding_bound`: a bound on the difference between two float64 evaluations of the
  same output and patterns that associate the sums differently (the literal one and the
  circuits form).
"""

from __future__ import annotations

import numpy as np

from numerics.attention.kernels import UNIT_ROUNDOFF, gamma


def _check_shapes(X, W_Q, W_K, W_V, W_O) -> None:
    if X.ndim != 3:
        raise ValueError(f"X must be (m, n, d_model), got shape {X.shape}")
    m, _, d_model = X.shape
    for name, weight in (("W_Q", W_Q), ("W_K", W_K), ("W_V", W_V)):
        if weight.ndim != 4 or weight.shape[:3] != (m, W_Q.shape[1], d_model) or weight.shape != W_Q.shape:
            expected = f"(m, H, d_model, d_head) = ({m}, H, {d_model}, d_head)"
            raise ValueError(f"{name} must be {expected}, got {weight.shape}")
    heads, d_head = W_Q.shape[1], W_Q.shape[3]
    if W_O.shape != (m, heads * d_head, d_model):
        raise ValueError(f"W_O must be (m, H d_head, d_model) = {(m, heads * d_head, d_model)}, got {W_O.shape}")


def multi_head_attention(X, W_Q, W_K, W_V, W_O) -> tuple[np.ndarray, np.ndarray]:
    """``(Z, patterns)``: multi-head attention of ``X (m, n, d_model)``, concatenate-then-project, in torch.

    ``W_Q, W_K, W_V`` are ``(m, H, d_model, d_head)`` and ``W_O`` is ``(m, H d_head, d_model)``.
    Returns ``Z`` of shape ``(m, n, d_model)`` and the patterns ``(m, H, n, n)`` as numpy arrays.
    """
    import torch  # imported here: listing theorems must stay fast

    X, W_Q, W_K, W_V, W_O = (np.asarray(a, dtype=float) for a in (X, W_Q, W_K, W_V, W_O))
    _check_shapes(X, W_Q, W_K, W_V, W_O)
    x, w_q, w_k, w_v, w_o = (torch.from_numpy(a) for a in (X, W_Q, W_K, W_V, W_O))
    rows = x[:, None]  # one copy of the residual stream per head
    queries, keys, values = rows @ w_q, rows @ w_k, rows @ w_v
    patterns = torch.softmax(queries @ keys.transpose(-1, -2) / np.sqrt(W_Q.shape[-1]), dim=-1)
    heads = torch.nn.functional.scaled_dot_product_attention(queries, keys, values)
    concatenated = torch.cat(heads.unbind(dim=1), dim=-1)
    return (concatenated @ w_o).numpy(), patterns.numpy()


def rounding_bound(X, W_Q, W_K, W_V, W_O) -> tuple[np.ndarray, np.ndarray]:
    """Entrywise bounds on ``|Z - Z'|`` and ``|A - A'|`` for two float64 evaluations of the same attention.

    The bounds have the shapes of ``Z`` ``(m, n, d_model)`` and of the patterns ``(m, H, n, n)``.

    Any evaluation of a product chain whose inner sums total at most ``k`` terms is within
    ``gamma_k |F_1| ... |F_r|`` of the exact chain (Higham, Accuracy and Stability of Numerical
    Algorithms, 2nd ed., section 3.5, to first order). With ``k`` the longest chain of either
    evaluation (the literal one, or the circuits form ``(W_OV^T kron A) vec X`` with its
    ``n d_model`` terms), two evaluations differ by at most ``2 gamma_k`` times:

    * logits: ``T = |X| |W_Q| |W_K|^T |X|^T / sqrt(d_head)``;
    * patterns: ``A ((2 gamma_k + 4 u) max_k T + 2 (n + 4) u)`` (the softmax's relative
      sensitivity to its inputs is at most twice their largest error; the shift by the row
      maximum adds ``2 |s| u``; the exponentials, the sum and the division their own rounding);
    * output: ``sum_h |A^h| |X| |W_V^h| |W_O^h|`` plus the patterns' error carried through
      ``|X| |W_V^h| |W_O^h|``.
    """
    X, W_Q, W_K, W_V, W_O = (np.asarray(a, dtype=float) for a in (X, W_Q, W_K, W_V, W_O))
    _check_shapes(X, W_Q, W_K, W_V, W_O)
    m, n, d_model = X.shape
    heads, d_head = W_Q.shape[1], W_Q.shape[3]
    chain = 2 * gamma(n * d_model + n + 2 * d_model + heads * d_head + d_head + heads + 2)
    magnitude = np.abs(X)[:, None]
    logits = magnitude @ np.abs(W_Q) @ np.swapaxes(magnitude @ np.abs(W_K), -1, -2) / np.sqrt(d_head)
    _, patterns = multi_head_attention(X, W_Q, W_K, W_V, W_O)
    largest = logits.max(axis=-1, keepdims=True)
    # exp(s - max s) is relatively accurate to the error of its argument, which is at most 2 |s| u after the shift.
    pattern_error = patterns * ((2 * chain + 4 * UNIT_ROUNDOFF) * largest + 2 * (n + 4) * UNIT_ROUNDOFF)
    output_rows = np.abs(W_O).reshape(m, heads, d_head, d_model)
    carried = magnitude @ np.abs(W_V) @ output_rows
    output_error = (chain * patterns + pattern_error) @ carried
    return output_error.sum(axis=1), pattern_error
