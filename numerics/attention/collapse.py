"""Independent computations for rank collapse in pure attention (numpy / scipy / matplotlib; no closed forms).

* The residual ``res(X) = X - 1 x^T`` of Dong, Cordonnier and Loukas 2021 (ICML; arXiv:2103.03404,
  section 2), ``x`` minimising the composite norm ``||M||_(1,inf) = sqrt(||M||_1 ||M||_inf)``
  (``||.||_1``: largest absolute column sum, ``||.||_inf``: largest absolute row sum), found by
  linear programming (:func:`residual`); single-head self-attention (:func:`self_attention`)
  and the constants ``gamma, beta`` of the single-layer bound computed from the weights
  (:func:`collapse_constants`).
* The 50-layer experiment of task 2.3 (seed 003): singular values of the token matrix of a
  pure attention stack and of the same stack with skip connections
  (:class:`StackConfig`, :func:`attention_stack_singular_values`, :func:`singular_value_figure`).
* Exercise 1.7 (seed 003): the largest rate ``lambda`` for which the bound ``C e^(-lambda l)``
  keeps a fraction of its layer-0 value, by root finding on the bound itself
  (:func:`largest_rate_keeping`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import elementwise, linprog
from scipy.sparse import coo_matrix

from numerics.attention.kernels import attention_weights, scaled_dot_product_attention

UNIT_ROUNDOFF = np.finfo(float).eps / 2
TIE_BREAK = 1e-7
"""Weight of the second objective when the first is minimised (the ends of the trade-off curve)."""
LP_TOLERANCE = 1e-9
"""A scalarised LP value this far (relative) below a segment counts as a new vertex."""


# --- the composite norm and the residual ------------------------------------------------------


def column_norm(M: np.ndarray) -> np.ndarray:
    """``||M||_1``, the largest absolute column sum, of each matrix of a batch ``(N, n, d)``."""
    return np.abs(M).sum(axis=-2).max(axis=-1)


def row_norm(M: np.ndarray) -> np.ndarray:
    """``||M||_inf``, the largest absolute row sum, of each matrix of a batch ``(N, n, d)``."""
    return np.abs(M).sum(axis=-1).max(axis=-1)


def composite_norm(M: np.ndarray) -> np.ndarray:
    """Dong et al.'s ``||M||_(1,inf) = sqrt(||M||_1 ||M||_inf)`` of each matrix of a batch."""
    return np.sqrt(column_norm(M) * row_norm(M))


def _scalarised_minimisers(Y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``x`` minimising ``w_1 ||Y - 1 x^T||_1 + w_2 ||Y - 1 x^T||_inf`` for every instance, in one LP.

    ``Y`` is ``(N, n, d)``, ``weights`` ``(N, 2)``. The instances are independent blocks of
    one sparse LP (HiGHS). Per instance the variables are ``x`` (d), ``A >= |Y - 1 x^T|``
    (n d), ``F >= every column sum of A`` and ``G >= every row sum of A``.
    """
    N, n, d = Y.shape
    width = d + n * d + 2
    base = width * np.arange(N)[:, None, None]
    k = np.broadcast_to(np.arange(d), (N, n, d))
    i = np.broadcast_to(np.arange(n)[:, None], (N, n, d))
    x_index = base + k
    a_index = base + d + i * d + k
    F_index, G_index = width * np.arange(N) + width - 2, width * np.arange(N) + width - 1
    cells = N * n * d
    row = np.arange(cells).reshape(N, n, d)
    # A >= Y - x  and  A >= x - Y:   -x - A <= -Y,   x - A <= Y.
    rows = [row, row, cells + row, cells + row]
    cols = [x_index, a_index, x_index, a_index]
    vals = [-np.ones(cells), -np.ones(cells), np.ones(cells), -np.ones(cells)]
    bounds_rhs = [-Y.ravel(), Y.ravel()]
    # Column sums: sum_i A_ik - F <= 0;  row sums: sum_k A_ik - G <= 0.
    column_row = 2 * cells + (np.arange(N)[:, None, None] * d + k)
    row_row = 2 * cells + N * d + (np.arange(N)[:, None, None] * n + i)
    rows += [column_row, row_row, 2 * cells + np.arange(N * d), 2 * cells + N * d + np.arange(N * n)]
    cols += [a_index, a_index, np.repeat(F_index, d), np.repeat(G_index, n)]
    vals += [np.ones(cells), np.ones(cells), -np.ones(N * d), -np.ones(N * n)]
    bounds_rhs += [np.zeros(N * d + N * n)]
    flat = [np.concatenate([np.ravel(part) for part in parts]) for parts in (vals, rows, cols)]
    matrix = coo_matrix((flat[0], (flat[1], flat[2])), shape=(2 * cells + N * d + N * n, N * width)).tocsr()
    cost = np.zeros(N * width)
    cost[F_index], cost[G_index] = weights[:, 0], weights[:, 1]
    free = np.zeros(N * width, dtype=bool)
    free[x_index.ravel()] = True
    bounds = np.where(free[:, None], [-np.inf, np.inf], [0.0, np.inf])
    solution = linprog(cost, A_ub=matrix, b_ub=np.concatenate(bounds_rhs), bounds=bounds, method="highs")
    if solution.status != 0:
        raise ArithmeticError(f"residual: the linear program failed: {solution.message}")
    return solution.x.reshape(N, width)[:, :d]


def _objectives(Y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(||Y - 1 x^T||_1, ||Y - 1 x^T||_inf)`` per instance, evaluated exactly at the LP's ``x``."""
    R = Y - x[:, None, :]
    return np.stack([column_norm(R), row_norm(R)], axis=-1)


def residual(Y) -> tuple[np.ndarray, np.ndarray]:
    """``(||res(Y)||_(1,inf), x)`` for a batch ``Y`` of shape ``(N, n, d)``: the composite norm's minimiser.

    ``sqrt(f g)`` with ``f = ||Y - 1 x^T||_1`` and ``g = ||Y - 1 x^T||_inf`` is not convex in
    ``x``, but ``f`` and ``g`` are, so the attainable pairs ``(f, g)`` form a convex set whose
    lower-left boundary is a convex polygonal curve (both objectives are polyhedral). On each of
    its edges ``f g`` is concave, so the minimum is at a vertex; every vertex minimises some
    weighted sum ``w_1 f + w_2 g`` (an LP). The vertices are enumerated by the non-inferior set
    estimation method (Cohon 1978): start from the two ends (each objective minimised, the other
    breaking ties), and between two known vertices minimise the weighted sum normal to the
    segment joining them; a strictly lower value is a new vertex, otherwise the segment is an
    edge. All instances with an open segment are solved together in one LP per round; the
    number of rounds is the largest number of LPs any instance needs (two to a few; the
    enumeration is a Python loop over rounds, not over instances). ``f`` and ``g`` are
    evaluated exactly at the returned ``x``, so the norm is the exact composite norm of the
    returned residual and exceeds the minimum by at most the LP's optimality tolerance.
    Raises ``ValueError`` naming ``Y`` if it is not a finite ``(N, n, d)`` array.
    """
    Y = _finite_batch("residual", "Y", Y, 3)
    if Y.shape[1] < 1 or Y.shape[2] < 1:
        raise ValueError(f"residual: Y must have shape (N, n, d) with n, d >= 1, got {Y.shape}")
    # res(Y - 1 c^T) = res(Y) and res(t Y) = t res(Y): solve on the centred matrix scaled to unit largest
    # entry, so the LP's absolute tolerances are relative to the residual, not to the mean row.
    mean = Y.mean(axis=1, keepdims=True)
    scale = np.abs(Y - mean).max(axis=(1, 2))
    scale = np.where(scale > 0, scale, 1.0)
    norms, x = _scaled_residual((Y - mean) / scale[:, None, None])
    return scale * norms, scale[:, None] * x + mean[:, 0, :]


def _scaled_residual(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`residual` of a centred batch whose largest entry is 1: the vertex enumeration itself."""
    N = len(Y)
    ends = [_scalarised_minimisers(Y, np.tile(w, (N, 1))) for w in ([1.0, TIE_BREAK], [TIE_BREAK, 1.0])]
    first, last = (list(zip(x, _objectives(Y, x))) for x in ends)
    vertices = [[a, b] for a, b in zip(first, last)]
    open_segments = [[(v[0], v[1])] for v in vertices]
    while any(open_segments):
        chosen = [j for j in range(N) if open_segments[j]]
        segments = [open_segments[j].pop() for j in chosen]
        weights = np.array([[a[1][1] - b[1][1], b[1][0] - a[1][0]] for a, b in segments])
        proper = np.all(weights > 0, axis=1)
        if not proper.any():
            continue
        chosen = [j for j, keep in zip(chosen, proper) if keep]
        segments = [seg for seg, keep in zip(segments, proper) if keep]
        weights = weights[proper]
        x = _scalarised_minimisers(Y[chosen], weights)
        values = _objectives(Y[chosen], x)
        for j, (a, b), w, xj, vj in zip(chosen, segments, weights, x, values):
            on_segment = w @ a[1]
            if w @ vj < on_segment - LP_TOLERANCE * on_segment:
                vertices[j].append((xj, vj))
                open_segments[j] += [(a, (xj, vj)), ((xj, vj), b)]
    best = [min(v, key=lambda vertex: vertex[1][0] * vertex[1][1]) for v in vertices]
    norms = np.array([np.sqrt(vertex[1][0] * vertex[1][1]) for vertex in best])
    return norms, np.array([vertex[0] for vertex in best])


# --- self-attention and the constants of the bound --------------------------------------------


def _finite_batch(function: str, name: str, value, ndim: int) -> np.ndarray:
    """``value`` as a finite float array with ``ndim`` dimensions, or a ValueError naming ``name``."""
    array = np.asarray(value, dtype=float)
    if array.ndim != ndim:
        raise ValueError(f"{function}: {name} must have {ndim} dimensions, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{function}: {name} must be finite (no NaN or infinity)")
    return array


def _attention_inputs(function: str, X, W_Q, W_K, W_V, d_qk):
    """The checked batch ``(X, W_Q, W_K, W_V, d_qk)``: shapes ``(N, n, d)``, ``(N, d, k)`` twice, ``(N, d, d)``, ``d_qk > 0``."""
    X = _finite_batch(function, "X", X, 3)
    W_Q, W_K, W_V = (_finite_batch(function, name, w, 3) for name, w in (("W_Q", W_Q), ("W_K", W_K), ("W_V", W_V)))
    if W_Q.shape != W_K.shape or W_Q.shape[:2] != X.shape[:1] + X.shape[2:]:
        raise ValueError(f"{function}: W_Q {W_Q.shape} and W_K {W_K.shape} must both be (N, d, k) for X {X.shape}")
    if W_V.shape != X.shape[:1] + (X.shape[2], X.shape[2]):
        raise ValueError(f"{function}: W_V must be (N, d, d) for X {X.shape}, got {W_V.shape}")
    d_qk = np.broadcast_to(np.asarray(d_qk, dtype=float).reshape(-1), (len(X),)) if np.size(d_qk) in (1, len(X)) else None
    if d_qk is None or not np.all(np.isfinite(d_qk) & (d_qk > 0)):
        raise ValueError(f"{function}: d_qk must be positive and finite, a scalar or one per instance")
    return X, W_Q, W_K, W_V, d_qk


def self_attention(X, W_Q, W_K, W_V, d_qk) -> np.ndarray:
    """``SA(X) = softmax(X W_Q W_K^T X^T / sqrt(d_qk)) X W_V`` (row softmax, no skip, no bias), batched.

    ``X`` is ``(N, n, d)``, ``W_Q, W_K`` are ``(N, d, k)`` (``k`` is ``d_qk`` or larger, with the
    columns past ``d_qk`` zero), ``W_V`` is ``(N, d, d)``, and ``d_qk`` (scalar or ``(N,)``) is the
    scale (Dong et al. 2021, section 2). The attention itself is
    :func:`numerics.attention.kernels.scaled_dot_product_attention`, which divides by
    ``sqrt(k)``; the queries are multiplied by ``sqrt(k / d_qk)`` so that the scale is ``sqrt(d_qk)``.
    Raises ``ValueError`` naming the argument for a wrong shape, a non-finite entry or ``d_qk <= 0``.
    """
    X, W_Q, W_K, W_V, d_qk = _attention_inputs("self_attention", X, W_Q, W_K, W_V, d_qk)
    rescale = np.sqrt(W_Q.shape[-1] / d_qk)[:, None, None]
    return scaled_dot_product_attention(X @ W_Q * rescale, X @ W_K, X @ W_V)


def collapse_constants(X, x, W_Q, W_K, W_V, d_qk) -> dict[str, np.ndarray]:
    """``gamma``, ``beta`` and the logit perturbation size ``eps`` of the single-layer bound, per instance.

    With ``R = X - 1 x^T`` and ``W_QK = W_Q W_K^T``, the logits are ``1 r^T + E`` up to terms
    constant along each row (which softmax ignores): ``r = R W_QK^T x / sqrt(d_qk)`` and
    ``E = R W_QK R^T / sqrt(d_qk)``. Then

    * ``beta = ||W_QK||_1 ||W_V||_(1,inf)`` (Dong et al.'s assumption, taken with equality);
    * ``gamma = sqrt(n max_j pi_j)`` with ``pi = softmax(r)``, the attention every query would pay
      if the logits had no ``E`` part: ``1 <= gamma <= sqrt(n)``, ``gamma = 1`` for uniform attention;
    * ``eps = ||R||_(1,inf)^2 ||W_QK||_1 / sqrt(d_qk)``, which bounds ``max |E_ij|``; the
      single-layer bound needs ``2 eps <= 1.2564`` (where ``e^t - 1 <= 2t`` holds).

    Raises ``ValueError`` naming the argument for a wrong shape, a non-finite entry or ``d_qk <= 0``.
    """
    X, W_Q, W_K, W_V, d_qk = _attention_inputs("collapse_constants", X, W_Q, W_K, W_V, d_qk)
    x = _finite_batch("collapse_constants", "x", x, 2)
    if x.shape != (X.shape[0], X.shape[2]):
        raise ValueError(f"collapse_constants: x must be (N, d) = {(X.shape[0], X.shape[2])}, got {x.shape}")
    scale = np.sqrt(d_qk)
    W_QK = W_Q @ np.swapaxes(W_K, -1, -2)
    R = X - x[:, None, :]
    r = np.einsum("nik,nlk,nl->ni", R, W_QK, x) / scale[:, None]
    # pi = softmax(r): the attention weights of the scores r (one query of score 1 against keys r * sqrt(1)).
    pi = attention_weights(np.ones((len(X), 1, 1)), r[:, :, None])[:, 0, :]
    n = X.shape[1]
    return {
        "gamma": np.sqrt(n * pi.max(axis=-1)),
        "beta": column_norm(W_QK) * composite_norm(W_V),
        "eps": composite_norm(R) ** 2 * column_norm(W_QK) / scale,
    }


# --- task 2.3: the 50-layer experiment ----------------------------------------------------------


@dataclass(frozen=True)
class StackConfig:
    """A stack of random single-head attention layers (task 2.3 of seed 003).

    Weights are Gaussian with variance ``1/d_model`` (``W_Q, W_K``: ``d_model x d_qk``, ``W_V``:
    ``d_model x d_model``), drawn afresh for every layer from ``seed``; the input tokens are
    standard Gaussian. ``depths`` are the layers whose singular values are recorded.
    """

    n_tokens: int = 32
    d_model: int = 32
    d_qk: int = 32
    layers: int = 50
    depths: tuple[int, ...] = (1, 10, 25, 50)
    seed: int = 0

    def __post_init__(self):
        for name in ("n_tokens", "d_model", "d_qk", "layers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"StackConfig: {name} must be a positive integer, got {getattr(self, name)!r}")
        if not self.depths or any(not 1 <= depth <= self.layers for depth in self.depths):
            raise ValueError(f"StackConfig: depths must lie in 1..layers={self.layers}, got {self.depths!r}")


def attention_stack_singular_values(config: StackConfig) -> dict[str, np.ndarray]:
    """Singular values of the tokens after each recorded depth: ``{"pure": (depths, k), "skip": (depths, k)}``.

    ``pure``: ``X <- SA_l(X)``; ``skip``: ``X <- X + SA_l(X)``, with the same weights and input.
    Each row is divided by its largest singular value (the skip stack's scale grows with depth;
    rank is about the ratios), so a collapsed stack shows one value 1 and the rest at the
    float64 floor. ``k = min(n_tokens, d_model)``.
    """
    rng = np.random.default_rng(config.seed)
    X = rng.standard_normal((1, config.n_tokens, config.d_model))
    std = 1 / np.sqrt(config.d_model)
    weights = [
        tuple(rng.normal(0.0, std, (1, config.d_model, cols)) for cols in (config.d_qk, config.d_qk, config.d_model))
        for _ in range(config.layers)
    ]
    recorded = {"pure": [], "skip": []}
    pure, skip = X, X
    for depth, (W_Q, W_K, W_V) in enumerate(weights, start=1):
        pure = self_attention(pure, W_Q, W_K, W_V, config.d_qk)
        skip = skip + self_attention(skip, W_Q, W_K, W_V, config.d_qk)
        if depth in config.depths:
            for name, tokens in (("pure", pure), ("skip", skip)):
                values = np.linalg.svd(tokens[0], compute_uv=False)
                recorded[name].append(values / values[0])
    return {name: np.array(rows) for name, rows in recorded.items()}


def singular_value_figure(config: StackConfig) -> "Figure":
    """Two panels (pure attention, with skip connections): normalised singular values at each recorded depth, log scale."""
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    spectra = attention_stack_singular_values(config)
    figure = Figure(figsize=(7.0, 3.0))
    axes = figure.subplots(1, 2, sharey=True)
    floor = np.finfo(float).eps / 10
    titles = {"pure": "pure attention (no skip)", "skip": "with skip connections"}
    for axis, name in zip(axes, ("pure", "skip")):
        for depth, values in zip(config.depths, spectra[name]):
            axis.semilogy(np.arange(1, len(values) + 1), np.maximum(values, floor), marker=".", label=f"layer {depth}")
        axis.set_title(titles[name], fontsize=9)
        axis.set_xlabel("index $i$")
    axes[0].set_ylabel(r"$\sigma_i / \sigma_1$")
    axes[1].legend(fontsize=7)
    figure.tight_layout()
    return figure


# --- exercise 1.7: the rate that keeps a fraction of the bound ----------------------------------


def _kept_share_gap(rate, layers, fraction, C, power):
    """``(C e^(-rate L))^p / (C e^0)^p - f``: the bound at layer ``L`` against its layer-0 value, minus ``f``."""
    return (C * np.exp(-rate * layers)) ** power / (C * np.exp(-rate * 0.0)) ** power - fraction


def largest_rate_keeping(layers, fraction, C, power) -> tuple[np.ndarray, np.ndarray]:
    """The largest ``lambda`` whose bound ``C e^(-lambda l)`` (to the ``power``) keeps ``fraction`` of its layer-0 value at ``l = layers``.

    Returns ``(lambda, accuracy)`` per instance. The share kept decreases in ``lambda``, so the
    answer is the root of the share minus ``fraction``, found for all instances together:
    :func:`scipy.optimize.elementwise.bracket_root` from ``[0, 1]``, then Chandrupatla's
    :func:`~scipy.optimize.elementwise.find_root` down to a few ulps. ``accuracy`` is the final
    bracket plus the band where rounding of the share (16 ulps of values below 1) can flip its
    sign: ``16 u / |d share / d lambda|`` with ``|d share / d lambda| = p L f`` at the root.
    Raises ``ValueError`` naming the argument unless ``layers > 0``, ``0 < fraction < 1``, ``C > 0``
    and ``power > 0``, all finite.
    """
    layers, fraction, C = (np.asarray(v, dtype=float) for v in (layers, fraction, C))
    for name, value, valid in (
        ("layers", layers, layers > 0),
        ("fraction", fraction, (fraction > 0) & (fraction < 1)),
        ("C", C, C > 0),
    ):
        if not np.all(valid & np.isfinite(value)):
            raise ValueError(f"largest_rate_keeping: {name} must be {'in (0, 1)' if name == 'fraction' else 'positive'} and finite")
    if not (np.isfinite(power) and power > 0):
        raise ValueError(f"largest_rate_keeping: power must be positive and finite, got {power!r}")
    arguments = (layers, fraction, C, float(power))
    start = np.zeros_like(fraction)
    bracket = elementwise.bracket_root(_kept_share_gap, start, start + 1, xmin=0.0, args=arguments)
    if not np.all(bracket.success):
        raise ArithmeticError("largest_rate_keeping: no sign change of the kept share was found")
    root = elementwise.find_root(
        _kept_share_gap,
        bracket.bracket,
        args=arguments,
        tolerances={"xatol": 0.0, "xrtol": 4 * np.finfo(float).eps, "fatol": 0.0, "frtol": 0.0},
    )
    if not np.all(root.success):
        raise ArithmeticError("largest_rate_keeping: the root finder did not converge")
    width = np.where(root.f_x == 0, 0.0, root.bracket[1] - root.bracket[0])
    return root.x, width + 16 * UNIT_ROUNDOFF / (power * layers * fraction)
