"""Scaled dot-product attention in plain numpy, and attention read as a kernel smoother (no closed forms).

* :func:`scaled_dot_product_attention` (seed 003, task 2.1; Vaswani et al. 2017, section
  3.2.1): ``softmax(Q K^T / sqrt(d_k)) V``, batched over leading dimensions, with a boolean
  mask that follows ``torch.nn.functional.scaled_dot_product_attention``'s ``attn_mask``.
* :func:`softmax`: along the last axis, max-subtracted (huge logits do not overflow), with an
  optional mask; :func:`attention_weights`: the softmax of the scores ``Q K^T / sqrt(d_k)``.
* :func:`nadaraya_watson`, :func:`squared_distances`, :func:`gaussian_kernel`,
  :func:`gaussian_kernel_smoother`: the kernel-weighted average of the values (Nadaraya 1964,
  Watson 1964), here with the Gaussian kernel of the distances between queries and keys.
* :func:`gaussian_kernel_and_attention`: the Gaussian kernel of every query-key pair (from the
  distances) beside softmax attention computed by torch, with their rounding bounds.
* :func:`hard_attention_weights`: the zero-temperature limit of the weights, uniform over the
  keys with the largest score (ties averaged).
* :func:`temperature_figure`: the weights of one query across several temperatures, for the
  handout of ``attention-kernel-smoother``.
* :func:`gamma`, :func:`softmax_weight_error`, :func:`softmax_average_error`,
  :func:`smoother_rounding_bound`, :func:`kernel_rounding_bound`: float64 rounding
  bounds (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., sections 3.1-3.5) for
  comparing two evaluations of a softmax-weighted average.
"""

from __future__ import annotations

import math

import numpy as np

UNIT_ROUNDOFF = np.finfo(float).eps / 2
"""``u = 2^-53``: float64 rounds every operation to within a relative ``u``."""


def _float_array(name: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (..., tokens, features), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.result_type(array.dtype, np.float64) if array.dtype.kind in "iub" else array.dtype)


def _checked_mask(mask, scores_shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise ValueError(f"mask must be boolean (True = the key takes part), got dtype {mask.dtype}")
    try:
        np.broadcast_shapes(mask.shape, scores_shape)
    except ValueError:
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to the scores' shape {scores_shape}") from None
    return mask


def _scores(Q, K) -> np.ndarray:
    """``Q K^T / sqrt(d_k)`` with the shapes checked; the leading dimensions broadcast as in numpy."""
    Q, K = _float_array("Q", Q), _float_array("K", K)
    if Q.shape[-1] != K.shape[-1]:
        raise ValueError(f"K has {K.shape[-1]} features per key, Q has {Q.shape[-1]} per query: they must agree")
    try:
        np.broadcast_shapes(Q.shape[:-2], K.shape[:-2])
    except ValueError:
        raise ValueError(f"K's leading dimensions {K.shape[:-2]} do not broadcast with Q's {Q.shape[:-2]}") from None
    # A Python float keeps float32 inputs in float32 (numpy's promotion rules).
    return (Q @ np.swapaxes(K, -1, -2)) / math.sqrt(Q.shape[-1])


def softmax(scores, mask=None) -> np.ndarray:
    """``softmax`` along the last axis, each row shifted by its largest entry, so no score, however large, overflows.

    The shift leaves the result unchanged (the factor ``exp(-max)`` cancels between numerator
    and denominator) and makes every exponent at most 0. ``mask`` (boolean, broadcastable to
    ``scores``) marks the entries that take part (``True``), as torch's boolean ``attn_mask``; a
    masked entry gets weight exactly 0, and a row with no entry taking part all-zero weights
    (torch 2.13 returns a zero output there too).
    """
    scores = np.asarray(scores)
    if mask is not None:
        scores = np.where(_checked_mask(mask, scores.shape), scores, -np.inf)
    largest = scores.max(axis=-1, keepdims=True)
    # A fully masked row has largest = -inf; shifting by 0 there keeps exp(-inf) = 0 instead of NaN.
    shifted = np.exp(scores - np.where(np.isfinite(largest), largest, 0.0))
    total = shifted.sum(axis=-1, keepdims=True)
    return np.divide(shifted, total, out=np.zeros_like(shifted), where=total > 0)


def attention_weights(Q, K, mask=None) -> np.ndarray:
    """``softmax(Q K^T / sqrt(d_k))`` along the keys, shape ``(..., n_queries, n_keys)``.

    The :func:`softmax` is max-subtracted; ``mask`` (boolean, broadcastable to the scores) marks
    the keys that take part (``True``), as torch's boolean ``attn_mask``; a masked key gets weight
    exactly 0 and a query with no key taking part all-zero weights.
    """
    return softmax(_scores(Q, K), mask)


def scaled_dot_product_attention(Q, K, V, mask=None) -> np.ndarray:
    """Single-head scaled dot-product attention ``softmax(Q K^T / sqrt(d_k)) V`` (seed 003, task 2.1).

    ``Q`` has shape ``(..., n_queries, d_k)``, ``K`` ``(..., n_keys, d_k)``, ``V`` ``(..., n_keys,
    d_v)``; the leading dimensions broadcast (numpy rules) and the result has shape ``(...,
    n_queries, d_v)``, as ``torch.nn.functional.scaled_dot_product_attention``. ``mask``
    (optional, boolean, broadcastable to ``(..., n_queries, n_keys)``) follows torch's boolean
    ``attn_mask``: ``True`` means the key takes part in the query's attention. A query whose
    keys are all masked gets a zero output (as torch 2.13 returns). The softmax is
    max-subtracted (see :func:`attention_weights`). Integer inputs are computed in float64,
    float inputs keep their precision.

    Raises ``ValueError`` naming the argument when ``Q`` and ``K`` disagree on ``d_k``, ``V`` and
    ``K`` on the number of keys, the leading dimensions do not broadcast, or ``mask`` is not a
    boolean array of a broadcastable shape. Vaswani et al. 2017, section 3.2.1, equation (1).
    """
    V = _float_array("V", V)
    K_shape = np.shape(K)
    if len(K_shape) >= 2 and V.shape[-2] != K_shape[-2]:
        raise ValueError(f"V has {V.shape[-2]} rows but K has {K_shape[-2]} keys: each key needs one value")
    weights = attention_weights(Q, K, mask)
    try:
        np.broadcast_shapes(weights.shape[:-2], V.shape[:-2])
    except ValueError:
        raise ValueError(f"V's leading dimensions {V.shape[:-2]} do not broadcast with Q's and K's") from None
    return weights @ V


def nadaraya_watson(log_kernel, values) -> np.ndarray:
    """``sum_j K_ij v_j / sum_j K_ij`` from ``log K``, shape ``(..., n_queries, n_keys)`` (Nadaraya 1964, Watson 1964).

    Each row's largest ``log K`` is subtracted before exponentiating, so kernels far below
    float64's range (a Gaussian kernel at large distance) still give the right weights.
    """
    return softmax(np.asarray(log_kernel, dtype=float)) @ np.asarray(values, dtype=float)


def squared_distances(queries, keys) -> np.ndarray:
    """``||q_i - k_j||^2`` from the differences themselves (not from dot products): ``(..., n_queries, n_keys)``."""
    differences = np.asarray(queries, dtype=float)[..., :, None, :] - np.asarray(keys, dtype=float)[..., None, :, :]
    return (differences * differences).sum(axis=-1)


def gaussian_kernel(queries, keys, width) -> np.ndarray:
    """``exp(-||q_i - k_j||^2 / (2 width))`` for every pair, from the differences: ``(..., n_queries, n_keys)``.

    ``width`` (the squared bandwidth) broadcasts against the leading dimensions: shape ``(m,)`` for a
    batch of ``m`` instances. Not normalised.
    """
    width = np.asarray(width, dtype=float)
    return np.exp(-squared_distances(queries, keys) / (2 * width.reshape(width.shape + (1, 1))))


def gaussian_kernel_and_attention(queries, keys, values, temperature) -> tuple[np.ndarray, np.ndarray]:
    """``(values, accuracy)``: the Gaussian kernel of every pair beside softmax attention, ``(m, n, n + d_v)``.

    ``queries, keys`` are ``(m, n, d)``, ``values`` ``(m, n, d_v)``, ``temperature`` ``(m,)``. Columns
    ``:n`` hold :func:`gaussian_kernel` with squared bandwidth ``tau sqrt d`` (from the distances);
    columns ``n:`` hold softmax attention at temperature ``tau``,
    ``torch.nn.functional.scaled_dot_product_attention(q / tau, k, v)`` in float64 (none of this
    module's softmax). ``accuracy`` bounds, entry by entry, the gap to any other float64 evaluation
    of the same quantities: :func:`kernel_rounding_bound` relative to each kernel value and
    :func:`smoother_rounding_bound` for each output.
    """
    import torch  # imported here: listing theorems must stay fast

    queries, keys, values = (np.asarray(a, dtype=float) for a in (queries, keys, values))
    temperature = np.asarray(temperature, dtype=float)
    m, n, d = keys.shape
    kernel = gaussian_kernel(queries, keys, temperature * math.sqrt(d))
    scaled = torch.from_numpy(queries / temperature[:, None, None])
    attention = torch.nn.functional.scaled_dot_product_attention(scaled, torch.from_numpy(keys), torch.from_numpy(values))
    accuracy = np.concatenate(
        [
            kernel * kernel_rounding_bound(queries, keys, temperature)[:, None, None],
            np.broadcast_to(smoother_rounding_bound(queries, keys, values, temperature)[:, None, None], values.shape),
        ],
        axis=-1,
    )
    return np.concatenate([kernel, attention.numpy()], axis=-1), accuracy


def gaussian_kernel_smoother(queries, keys, values, width) -> np.ndarray:
    """The Nadaraya-Watson estimator with the Gaussian kernel ``exp(-||q - k||^2 / (2 width))``.

    ``width`` (the squared bandwidth) broadcasts against the leading dimensions: shape ``(m,)``
    for a batch of ``m`` instances.
    """
    width = np.asarray(width, dtype=float)
    width = width.reshape(width.shape + (1, 1))
    return nadaraya_watson(-squared_distances(queries, keys) / (2 * width), values)


def hard_attention_weights(scores) -> np.ndarray:
    """The ``temperature -> 0`` limit of ``softmax(scores / temperature)`` along the last axis.

    Uniform over the entries equal to the row's maximum (ties averaged), zero elsewhere: the
    softmax weight of a key below the maximum by ``g > 0`` is at most ``exp(-g / temperature)``.
    """
    scores = np.asarray(scores, dtype=float)
    winners = scores == scores.max(axis=-1, keepdims=True)
    return winners / winners.sum(axis=-1, keepdims=True)


def temperature_figure(query, keys, temperatures):
    """The attention weights of one query over its keys, one line per temperature.

    ``query`` has shape ``(d,)``, ``keys`` ``(n, d)``; the weights are
    ``softmax(q . k_j / (temperature sqrt(d)))``. The hard (zero-temperature) and uniform
    (infinite-temperature) limits are drawn as dashed references. A ``Figure`` built without
    pyplot (no global state); the same inputs give the same drawing.
    """
    # Imported here: matplotlib is only needed when a handout is drawn (``list`` stays fast).
    from matplotlib.figure import Figure

    query, keys = np.asarray(query, dtype=float), np.asarray(keys, dtype=float)
    figure = Figure(figsize=(5.0, 3.0))
    axes = figure.add_subplot()
    positions = np.arange(1, len(keys) + 1)
    for temperature in temperatures:
        weights = attention_weights(query[None] / temperature, keys)[0]
        axes.plot(positions, weights, marker="o", label=f"temperature {temperature:g}")
    scores = keys @ query
    axes.plot(positions, hard_attention_weights(scores), "k--", linewidth=0.8, label="hard limit (0)")
    axes.axhline(1 / len(keys), color="grey", linestyle=":", linewidth=0.8, label=r"uniform limit ($\infty$)")
    axes.set_xlabel("key $j$")
    axes.set_ylabel("attention weight")
    axes.set_xticks(positions)
    axes.legend(fontsize=7)
    figure.tight_layout()
    return figure


def gamma(terms: int) -> float:
    """Higham's ``gamma_k = k u / (1 - k u)``: the relative error bound of ``k`` chained rounded operations."""
    return terms * UNIT_ROUNDOFF / (1 - terms * UNIT_ROUNDOFF)


def softmax_weight_error(exponent_error, n_keys: int):
    """A bound on the relative error of every computed weight ``softmax(s)_j`` (first order in ``u``).

    ``exponent_error`` bounds the absolute error of every (shifted) exponent ``s_j - c`` as
    computed (broadcasts, e.g. one per instance). Each ``exp`` is then relatively off by
    ``exponent_error + u``; normalising at most doubles that (the numerator and the sum of
    positive terms), and the sum and the division add ``gamma_(n+1)``.
    """
    return 2 * (np.asarray(exponent_error, dtype=float) + UNIT_ROUNDOFF) + gamma(n_keys + 1)


def softmax_average_error(exponent_error, value_magnitude, n_keys: int):
    """A bound on ``|computed - exact|`` for ``sum_j w_j v_j``, ``w = softmax(s)``, entry by entry.

    The weights are off as :func:`softmax_weight_error` says; ``value_magnitude`` bounds ``|v_j|``
    (broadcasts); the weighted sum of ``n`` values, whose weights total 1, adds ``gamma_n |v|``.
    """
    return (softmax_weight_error(exponent_error, n_keys) + gamma(n_keys)) * np.asarray(value_magnitude, dtype=float)


def smoother_rounding_bound(queries, keys, values, temperature) -> np.ndarray:
    """``(m,)``: a bound on the gap between any two of the evaluations of the attention kernel smoother.

    The evaluations: softmax of ``q.k / (tau sqrt d)`` (max-subtracted), the Gaussian kernel of
    ``||q - k||^2`` (differences, max-subtracted) and the product ``c(q) exp(q.k / (tau sqrt d))``
    (not shifted). With ``E = (max|q| + max|k|)^2 / (2 tau sqrt d)`` per instance, every log-kernel is
    a sum of terms of total size at most ``2E`` (``|q|^2/2, |k|^2/2, |q||k|`` and ``||q-k||^2/2``, over
    ``tau sqrt d``), each formed in at most ``d + 8`` rounded operations; the shift by the row's
    largest doubles that, so each exponent is off by at most ``4 E gamma_(d+8)``; keys of norm ``r``
    stored in float64 change ``|k_j|^2`` by ``gamma_(d+3)`` relatively, another ``2 E gamma_(d+3)`` in the
    Gaussian exponent. Two evaluations differ by at most twice :func:`softmax_average_error` of
    ``6 E gamma_(d+8)`` with ``|v| <= max|v|`` (first order in ``u``).
    """
    queries, keys, values = (np.asarray(a, dtype=float) for a in (queries, keys, values))
    m, n_keys, d = keys.shape
    scale = np.asarray(temperature, dtype=float) * np.sqrt(d)
    largest_query = np.linalg.norm(queries, axis=-1).reshape(m, -1).max(axis=1)
    largest_key = np.linalg.norm(keys, axis=-1).max(axis=1)
    exponent = (largest_query + largest_key) ** 2 / (2 * scale)
    value_magnitude = np.abs(values).reshape(m, -1).max(axis=1)
    return 2 * softmax_average_error(6 * exponent * gamma(d + 8), value_magnitude, n_keys)


def kernel_rounding_bound(queries, keys, temperature) -> np.ndarray:
    """``(m,)``: a bound on the relative gap between two float64 evaluations of one Gaussian kernel value.

    The evaluations: ``exp(-||q - k||^2 / (2 tau sqrt d))`` from the differences, and
    ``exp(-(||q||^2 + r^2) / (2 tau sqrt d)) exp(q.k / (tau sqrt d))`` from norms and the dot product
    (``r`` the keys' common norm). With ``E`` as in :func:`smoother_rounding_bound`, each log-kernel is
    a sum of terms of total size at most ``2E``, formed in at most ``d + 8`` rounded operations, and
    the stored keys' norms differ from ``r`` by ``gamma_(d+3)`` relatively (``2 E gamma_(d+3)`` in the
    exponent): the two exponents differ by at most ``6 E gamma_(d+8)``, and the exponentials and the
    product add ``gamma_6``. Unshifted, a relative exponent gap ``delta <= 1`` changes the kernel by
    at most ``|e^delta - 1| <= 2 delta``.
    """
    queries, keys = (np.asarray(a, dtype=float) for a in (queries, keys))
    m, _, d = keys.shape
    scale = np.asarray(temperature, dtype=float) * np.sqrt(d)
    largest_query = np.linalg.norm(queries, axis=-1).reshape(m, -1).max(axis=1)
    largest_key = np.linalg.norm(keys, axis=-1).max(axis=1)
    exponent = (largest_query + largest_key) ** 2 / (2 * scale)
    return 2 * (6 * exponent * gamma(d + 8) + gamma(6))
