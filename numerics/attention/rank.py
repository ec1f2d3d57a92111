"""Numerical ranks of attention outputs (numpy only; seed 003, exercise 1.3).

* :func:`separated_queries_keys`: random queries and keys whose first coordinates are spread
  over a jittered grid, so that the softmax matrix is invertible with a margin far above
  float64 rounding (Gaussian queries with ``d_k = 1`` give an invertible matrix too, but one
  so ill-conditioned beyond ``n = 4`` that no floating-point rank can see it);
* :func:`orthonormal_frames`: generic value and output matrices with all singular values 1;
* :func:`numerical_rank`: the rank from singular values, refusing to decide when a singular
  value falls between the rounding floor and the decision threshold;
* :func:`attention_output_ranks`: the ranks of a softmax head, a linear-attention head and
  ``H`` softmax heads concatenated and projected by ``W_O``, computed literally;
* :func:`singular_value_figure`: the singular values of ``softmax(q k^T)`` with ``d_k = 1``.
"""

from __future__ import annotations

import numpy as np

from numerics.attention.kernels import UNIT_ROUNDOFF, attention_weights, gamma, softmax_weight_error

RANK_THRESHOLD = 1e-10
"""A singular value counts when it exceeds ``RANK_THRESHOLD * sigma_1``.

The decision is justified per matrix, not by the values seen in samples: :func:`numerical_rank`
takes a bound on the rounding error of the computed matrix and refuses a matrix whose rounding
floor (the largest relative size a singular value that is exactly 0 can be computed as) reaches
``RANK_THRESHOLD``, and a matrix with any relative singular value inside ``UNDECIDED`` (except,
where the error bound is given, one above ``RANK_THRESHOLD`` and over 100 times its floor). So
every singular value a decided matrix counts is over 100 times its floor and nonzero in exact
arithmetic (Weyl's inequality): the numerical rank is at most the exact rank.
Where it equals a proved upper bound, the bound is attained on that instance. (A genuine
singular value below ``1e-12 sigma_1`` would go uncounted; the rank would then come out lower
than the bound and the check would fail, never pass wrongly.)
"""

UNDECIDED = (1e-12, 1e-8)
"""Relative singular values in this band leave the rank undecided (:func:`numerical_rank` raises).

The theorem's inputs (separated queries and keys, orthonormal values and ``W_O``) keep genuine
singular values far above the band by construction, and rounding floors (at most ``2e-12`` over
5000 drawn instances) keep rounded zeros below it; a value that lands in the band stops the check
instead of being misread.
"""

GRID_HALF_WIDTH = 2.0
"""Queries' and keys' first coordinates lie on a jittered grid in ``[-2, 2]``: far enough apart
for ``exp(q_a k_b)`` to be well conditioned, not so far that the softmax saturates to hard
attention (which has rank at most 2 when ``d_k = 1``)."""


def _jittered_grid(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """``(m, n)``: the grid ``linspace(-2, 2, n)`` moved by up to a quarter spacing, in random order."""
    spacing = 2 * GRID_HALF_WIDTH / max(n - 1, 1)
    points = np.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, n) + rng.uniform(-spacing / 4, spacing / 4, (m, n))
    return rng.permuted(points, axis=1)


def separated_queries_keys(rng: np.random.Generator, m: int, heads: int, n: int, d_k: int):
    """Queries and keys ``(m, heads, n, d_k)`` for which every head's softmax matrix is safely invertible.

    The first coordinate of the queries and of the keys is a jittered grid scaled by
    ``d_k^(1/4)``, so that it contributes ``q_a k_b`` of order one to the logits after the
    ``1/sqrt(d_k)`` scale; the other coordinates are standard normal.
    """
    if min(m, heads, n, d_k) < 1:
        raise ValueError(f"m, heads, n and d_k must be positive, got {m}, {heads}, {n}, {d_k}")
    queries, keys = (rng.standard_normal((m, heads, n, d_k)) for _ in range(2))
    for array in (queries, keys):
        array[..., 0] = d_k**0.25 * _jittered_grid(rng, m * heads, n).reshape(m, heads, n)
    return queries, keys


def orthonormal_frames(rng: np.random.Generator, m: int, rows: int, cols: int) -> np.ndarray:
    """``(m, rows, cols)`` Haar-random matrices with orthonormal columns (or rows, when ``rows < cols``).

    Generic like Gaussian matrices (the rank-deficient ones have measure zero), but with all
    singular values 1, so they cannot bring a near-zero singular value into an output.
    """
    if min(m, rows, cols) < 1:
        raise ValueError(f"m, rows and cols must be positive, got {m}, {rows}, {cols}")
    gaussian = rng.standard_normal((m, max(rows, cols), min(rows, cols)))
    frames, triangular = np.linalg.qr(gaussian)
    # Signs fixed by the diagonal of R make the frame Haar-distributed (Mezzadri 2007).
    frames = frames * np.sign(np.diagonal(triangular, axis1=-2, axis2=-1))[:, None, :]
    return frames if rows >= cols else np.swapaxes(frames, -1, -2)


def numerical_rank(Z: np.ndarray, error=None) -> np.ndarray:
    """The rank of each matrix of the batch ``Z (..., r, c)``: singular values above ``RANK_THRESHOLD sigma_1``.

    ``error`` (optional, broadcast to the batch) bounds ``||computed Z - exact Z||_2``. By Weyl's
    inequality and the backward stability of LAPACK's SVD, a singular value that is exactly 0 is
    then computed below ``floor = error / sigma_1 + max(r, c)^2 u`` relatively (the square a
    generous stand-in for LAPACK's modest polynomial). Raises ArithmeticError if a floor reaches
    ``RANK_THRESHOLD`` (rounding could be counted as rank) or a relative singular value lies in
    the band ``UNDECIDED``: there the rank is not decided robustly; with ``error``, a value in the
    band above ``RANK_THRESHOLD`` and over 100 times the floor is counted instead (a rare instance
    of a long run: 5.9e-9 at one of 10^7 attention-rank instances).
    """
    Z = np.asarray(Z, dtype=float)
    if Z.ndim < 2:
        raise ValueError(f"Z must be a (batch of) matrix, got shape {Z.shape}")
    singular = np.linalg.svd(Z, compute_uv=False)
    if error is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            floor = np.asarray(error, dtype=float) / singular[..., 0] + max(Z.shape[-2:]) ** 2 * UNIT_ROUNDOFF
        if not np.all(floor < RANK_THRESHOLD):
            raise ArithmeticError(f"numerical_rank: a rounding floor {np.nanmax(floor):.3g} reaches the rank threshold")
    relative = singular / singular[..., :1]
    undecided = (relative > UNDECIDED[0]) & (relative < UNDECIDED[1])
    if error is not None:
        # Counted, as every counted value is, only where rounding cannot explain it: over 100 times the floor.
        undecided &= ~((relative > RANK_THRESHOLD) & (relative > 100 * floor[..., None]))
    if undecided.any():
        raise ArithmeticError(f"numerical_rank: a relative singular value {relative[undecided].min():.3g} is undecided")
    return (relative > RANK_THRESHOLD).sum(axis=-1)


def _spectral(magnitude: np.ndarray) -> np.ndarray:
    """``||M||_2`` per matrix of the batch: ``|||F|||_2`` bounds the spectral norm of any ``F`` with ``|F| <= M``."""
    return np.linalg.norm(magnitude, ord=2, axis=(-2, -1))


def attention_output_ranks(Q, K, V, W_O) -> np.ndarray:
    """``(m, 3)``: ranks of softmax attention, linear attention, and ``H`` softmax heads concatenated and projected.

    ``Q, K`` are ``(m, H, n, d_k)``, ``V`` is ``(m, H, n, d_v)``, ``W_O`` is ``(m, H d_v, d_model)``.
    The single-head outputs use head 0: ``softmax(Q K^T / sqrt(d_k)) V`` and ``(Q K^T) V``.
    The multi-head output is computed literally: each head's ``softmax(...) V_h``, the heads
    concatenated along the feature axis, the concatenation multiplied by ``W_O``.

    Each rank is decided with a bound on the output's rounding error (Higham, Accuracy and
    Stability of Numerical Algorithms, 2nd ed., section 3.5, to first order): a product chain
    is within ``gamma_k |F_1| ... |F_r|`` of the exact one, ``k`` its longest inner sum; each
    softmax weight is relatively within :func:`~numerics.attention.kernels.softmax_weight_error`
    of its exponents' error ``(2 gamma_(d_k+2) + u) max |Q| |K|^T / sqrt(d_k)``.
    """
    Q, K, V, W_O = (np.asarray(x, dtype=float) for x in (Q, K, V, W_O))
    if Q.ndim != 4 or K.shape != Q.shape or V.shape[:3] != Q.shape[:3]:
        raise ValueError(f"Q, K must be (m, H, n, d_k) and V (m, H, n, d_v); got {Q.shape}, {K.shape}, {V.shape}")
    m, heads, n, d_k = Q.shape
    if W_O.ndim != 3 or W_O.shape[:2] != (m, heads * V.shape[-1]):
        raise ValueError(f"W_O must be (m, H d_v, d_model) = ({m}, {heads * V.shape[-1]}, .), got {W_O.shape}")
    weights = attention_weights(Q, K)
    outputs = weights @ V
    scores = np.abs(Q) @ np.swapaxes(np.abs(K), -1, -2) / np.sqrt(d_k)
    weight_error = softmax_weight_error((2 * gamma(d_k + 2) + UNIT_ROUNDOFF) * scores.max(axis=(1, 2, 3)), n)
    carried = weights @ np.abs(V)  # |A| |V|: the weights are positive
    concatenated = np.concatenate([outputs[:, h] for h in range(heads)], axis=-1)
    linear_chain = np.abs(Q[:, 0]) @ np.swapaxes(np.abs(K[:, 0]), -1, -2) @ np.abs(V[:, 0])
    decided = (
        (outputs[:, 0], (weight_error + gamma(n)) * _spectral(carried[:, 0])),
        ((Q[:, 0] @ np.swapaxes(K[:, 0], -1, -2)) @ V[:, 0], gamma(d_k + n) * _spectral(linear_chain)),
        (
            concatenated @ W_O,
            (weight_error + gamma(n) + gamma(heads * V.shape[-1]))
            * _spectral(np.concatenate(list(np.moveaxis(carried, 1, 0)), axis=-1) @ np.abs(W_O)),
        ),
    )
    return np.stack([numerical_rank(z, error) for z, error in decided], axis=-1).astype(float)


def singular_value_figure(seed: int, n: int = 8) -> "Figure":
    """Relative singular values of ``softmax(q k^T)`` with ``d_k = 1``: separated vs Gaussian queries and keys.

    Both matrices are invertible (the kernel ``exp(q k)`` is strictly totally positive for
    distinct points), but with Gaussian points the last singular values sink towards the
    rounding floor, where no numerical rank sees them.
    """
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    rng = np.random.default_rng(seed)
    separated = separated_queries_keys(rng, 1, 1, n, 1)
    gaussian = tuple(rng.standard_normal((1, 1, n, 1)) for _ in range(2))
    figure = Figure(figsize=(5.0, 3.2))
    axes = figure.add_subplot()
    index = np.arange(1, n + 1)
    for (q, k), label, marker in ((separated, "separated (jittered grid)", "o"), (gaussian, "Gaussian", "s")):
        singular = np.linalg.svd(attention_weights(q, k)[0, 0], compute_uv=False)
        axes.semilogy(index, singular / singular[0], marker=marker, label=label)
    axes.axhline(RANK_THRESHOLD, color="black", linestyle="--", linewidth=0.8, label="rank threshold")
    axes.set_xlabel("index $i$")
    axes.set_ylabel(r"$\sigma_i / \sigma_1$")
    axes.set_title(f"softmax($q k^T$), $n = {n}$, $d_k = 1$")
    axes.legend(fontsize="small")
    figure.tight_layout()
    return figure
