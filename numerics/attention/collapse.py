"""Independent computations for rank collapse in attention (numpy / scipy / matplotlib; no closed forms).

* The residual ``res(X) = X - 1 x^T`` of Dong, Cordonnier and Loukas 2021 (ICML; arXiv:2103.03404,
  section 2), ``x`` minimising the composite norm ``||M||_(1,inf) = sqrt(||M||_1 ||M||_inf)``
  (``||.||_1``: largest absolute column sum, ``||.||_inf``: largest absolute row sum), found by
  linear programming (:func:`residual`).
* Single-head self-attention with ``scipy.special.softmax`` (:func:`self_attention`), a stack of
  it evaluated without cancellation (:func:`centred_attention_stack`) and the measured residual
  after the stack (:func:`residual_after_stack`): the rank-collapse oracle.
* What the bound is evaluated with: the residual of tokens symmetric about their mean
  (:func:`symmetric_residual_norm`), the weights' constant ``beta`` (:func:`weight_constant`),
  both with ``numpy.linalg.norm``; ``gamma`` and the logit perturbation of one layer
  (:func:`collapse_constants`, for the worked example).
* The 50-layer experiment of task 2.3 (seed 003): singular values of the token matrix of a
  pure attention stack and of the same stack with skip connections, at several scales of the
  value weights (:class:`StackConfig`, :func:`attention_stack_singular_values`,
  :func:`singular_value_figure`).
* Exercise 1.7 (seed 003): the largest rate ``lambda`` at which a network whose residual follows
  ``C e^(-lambda l)`` keeps a fraction of its norm or of its token variance, by running that
  network and bisecting (:func:`largest_rate_keeping`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix
from scipy.special import softmax

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


# --- self-attention and its stack (the oracle) ---------------------------------------------------


def _finite_batch(function: str, name: str, value, ndim: int) -> np.ndarray:
    """``value`` as a finite float array with ``ndim`` dimensions, or a ValueError naming ``name``."""
    array = np.asarray(value, dtype=float)
    if array.ndim != ndim:
        raise ValueError(f"{function}: {name} must have {ndim} dimensions, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{function}: {name} must be finite (no NaN or infinity)")
    return array


def _attention_inputs(function: str, X, W_Q, W_K, W_V, d_qk, stacked: bool = False):
    """The checked batch ``(X, W_Q, W_K, W_V, d_qk)``: ``X`` is ``(N, n, d)``; ``W_Q, W_K`` are ``(N, [L,] d, k)``,
    ``W_V`` is ``(N, [L,] d, d)`` (``L`` layers when ``stacked``); ``d_qk > 0``, a scalar or one per instance."""
    X = _finite_batch(function, "X", X, 3)
    ndim = 4 if stacked else 3
    W_Q, W_K, W_V = (_finite_batch(function, name, w, ndim) for name, w in (("W_Q", W_Q), ("W_K", W_K), ("W_V", W_V)))
    if W_Q.shape != W_K.shape or W_Q.shape[0] != X.shape[0] or W_Q.shape[-2] != X.shape[2]:
        raise ValueError(f"{function}: W_Q {W_Q.shape} and W_K {W_K.shape} must both be (N, {'L, ' if stacked else ''}d, k) for X {X.shape}")
    if W_V.shape != W_Q.shape[:-2] + (X.shape[2], X.shape[2]):
        raise ValueError(f"{function}: W_V must be (N, {'L, ' if stacked else ''}d, d) for X {X.shape}, got {W_V.shape}")
    d_qk = np.broadcast_to(np.asarray(d_qk, dtype=float).reshape(-1), (len(X),)) if np.size(d_qk) in (1, len(X)) else None
    if d_qk is None or not np.all(np.isfinite(d_qk) & (d_qk > 0)):
        raise ValueError(f"{function}: d_qk must be positive and finite, a scalar or one per instance")
    return X, W_Q, W_K, W_V, d_qk


def self_attention(X, W_Q, W_K, W_V, d_qk) -> np.ndarray:
    """``SA(X) = softmax(X W_Q (X W_K)^T / sqrt(d_qk)) X W_V`` (row softmax, no skip, no bias), batched.

    ``X`` is ``(N, n, d)``, ``W_Q, W_K`` are ``(N, d, k)`` (``k`` is ``d_qk`` or larger, with the
    columns past ``d_qk`` zero), ``W_V`` is ``(N, d, d)``, and ``d_qk`` (scalar or ``(N,)``) is the
    scale (Dong et al. 2021, section 2). The softmax is ``scipy.special.softmax``.
    Raises ``ValueError`` naming the argument for a wrong shape, a non-finite entry or ``d_qk <= 0``.
    """
    X, W_Q, W_K, W_V, d_qk = _attention_inputs("self_attention", X, W_Q, W_K, W_V, d_qk)
    logits = (X @ W_Q) @ np.swapaxes(X @ W_K, -1, -2) / np.sqrt(d_qk)[:, None, None]
    return softmax(logits, axis=-1) @ (X @ W_V)


def centred_attention_stack(X, W_Q, W_K, W_V, d_qk, layers) -> np.ndarray:
    """``D^(L) = X^(L) - 1 m^(L)T``: the stack's output less a common row, computed without cancellation.

    ``X^(l) = SA_l(X^(l-1))`` (pure attention, no skip connection, no MLP); instance ``i`` runs its
    first ``layers[i]`` layers, the weights holding one slot per layer (``W_Q, W_K``:
    ``(N, L_max, d, k)``, ``W_V``: ``(N, L_max, d, d)``). Tokens that have collapsed to within
    ``1e-16`` of each other cannot be told apart once formed (the common part dominates every
    entry), so the layer is carried out on ``X = 1 m^T + D`` with ``m`` and ``D`` kept apart. With
    ``W = W_Q W_K^T / sqrt(d_qk)``, the logits are ``u_j + E_ij`` up to terms constant along a row
    (``u_j = m^T W d_j``, ``E = D W D^T``), ``P = softmax(u + E)`` row-wise, and
    ``P X W_V = 1 m^T W_V + P D W_V``. Writing ``pi = softmax(u)``,
    ``P D = 1 pi^T D + (P - 1 pi^T) D``; the first term joins the common row,
    ``m <- (m + D^T pi)^T W_V``, and the second is the new deviation, ``D <- (P - 1 pi^T) D W_V``, with
    ``P_ij - pi_j = pi_j sum_k pi_k e^(E_ik) expm1(E_ij - E_ik) / sum_k pi_k e^(E_ik)`` (the same
    number as ``softmax(u + E)_ij - pi_j``, formed from the small ``E`` differences rather than
    from two nearly equal softmax values). Every factor is formed to a few ulps of itself, so
    ``D`` keeps its relative accuracy at any depth (down to float64's smallest normal numbers).
    The rows of ``X^(L)`` are ``m^(L) + D^(L)``, and ``res(X^(L)) = res(D^(L))``.
    Raises ``ValueError`` for a wrong shape, a non-finite entry, ``d_qk <= 0`` or a number of
    layers outside ``1 .. L_max``.
    """
    X, W_Q, W_K, W_V, d_qk = _attention_inputs("centred_attention_stack", X, W_Q, W_K, W_V, d_qk, stacked=True)
    layers = np.broadcast_to(np.asarray(layers), (len(X),))
    if not np.all((layers >= 1) & (layers <= W_Q.shape[1])):
        raise ValueError(f"centred_attention_stack: layers must lie in 1..{W_Q.shape[1]} (the weights' layer slots)")
    m = X.mean(axis=1)
    D = X - m[:, None, :]
    for layer in range(int(layers.max())):
        W = W_Q[:, layer] @ np.swapaxes(W_K[:, layer], -1, -2) / np.sqrt(d_qk)[:, None, None]
        E = D @ W @ np.swapaxes(D, -1, -2)
        pi = softmax(np.einsum("nk,nkl,njl->nj", m, W, D), axis=-1)
        tilted = pi[:, None, :] * np.exp(E)  # pi_k e^(E_ik)
        excess = (tilted[:, :, None, :] * np.expm1(E[:, :, :, None] - E[:, :, None, :])).sum(axis=-1)
        P_less_pi = pi[:, None, :] * excess / tilted.sum(axis=-1)[:, :, None]
        active = (layer < layers)[:, None]
        m_next = (m + np.einsum("nj,njd->nd", pi, D))[:, None, :] @ W_V[:, layer]
        m = np.where(active, m_next[:, 0], m)
        D = np.where(active[:, :, None], P_less_pi @ D @ W_V[:, layer], D)
    return D


def residual_after_stack(X, W_Q, W_K, W_V, d_qk, layers) -> np.ndarray:
    """``||res(X^(L))||_(1,inf)``: the stack run (:func:`centred_attention_stack`) and its residual minimised by LP (:func:`residual`).

    The norm is evaluated exactly at the LP's minimiser, so rounding aside it is never below the
    true minimum: an error of the minimisation can only make a bound check stricter.
    """
    return residual(centred_attention_stack(X, W_Q, W_K, W_V, d_qk, layers))[0]


# --- what the bound is evaluated with ---------------------------------------------------------------


def symmetric_residual_norm(X) -> np.ndarray:
    """``||res(X)||_(1,inf)`` for tokens symmetric about their mean ``c`` (rows ``c +- r_i``, and ``c`` itself if ``n`` is odd).

    For such tokens ``x = c`` is a minimiser, so no optimisation is needed: every column of
    ``X - 1 x^T`` has its absolute sum minimised at the column's median, which is ``c``; and each
    pair of rows has ``sum |r - y| + sum |-r - y| >= 2 sum |r|`` (triangle inequality, ``y = x - c``),
    so the largest row sum is smallest at ``y = 0`` (a centre row adds ``sum |y|``, which is 0 there).
    Both norms with ``numpy.linalg.norm`` (``ord=1``: column sums, ``ord=inf``: row sums). The
    caller vouches for the symmetry; for other tokens this is only an upper bound.
    """
    X = np.asarray(X, dtype=float)
    centred = X - X.mean(axis=1, keepdims=True)
    return np.sqrt(np.linalg.norm(centred, 1, axis=(-2, -1)) * np.linalg.norm(centred, np.inf, axis=(-2, -1)))


def weight_constant(W_Q, W_K, W_V, layers) -> np.ndarray:
    """``beta = max_l ||W_Q^(l) W_K^(l)T||_1 ||W_V^(l)||_(1,inf)`` over each instance's first ``layers`` layers.

    Weights as for :func:`attention_stack` (``(N, L_max, d, k)`` and ``(N, L_max, d, d)``); the
    norms with ``numpy.linalg.norm``.
    """
    W_Q, W_K, W_V = (np.asarray(w, dtype=float) for w in (W_Q, W_K, W_V))
    W_QK = W_Q @ np.swapaxes(W_K, -1, -2)
    value = np.sqrt(np.linalg.norm(W_V, 1, axis=(-2, -1)) * np.linalg.norm(W_V, np.inf, axis=(-2, -1)))
    products = np.linalg.norm(W_QK, 1, axis=(-2, -1)) * value
    used = np.arange(W_Q.shape[1])[None, :] < np.asarray(layers).reshape(-1, 1)
    return np.where(used, products, 0.0).max(axis=1)


def collapse_constants(X, x, W_Q, W_K, W_V, d_qk) -> dict[str, np.ndarray]:
    """``gamma``, ``beta`` and the logit perturbation size ``eps`` of one layer's bound, per instance.

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
    pi = softmax(np.einsum("nik,nlk,nl->ni", R, W_QK, x) / scale[:, None], axis=-1)
    return {
        "gamma": np.sqrt(X.shape[1] * pi.max(axis=-1)),
        "beta": column_norm(W_QK) * composite_norm(W_V),
        "eps": composite_norm(R) ** 2 * column_norm(W_QK) / scale,
    }


# --- task 2.3: the 50-layer experiment ----------------------------------------------------------


@dataclass(frozen=True)
class StackConfig:
    """A stack of random single-head attention layers (task 2.3 of seed 003).

    Weights are Gaussian with variance ``1/d_model`` (``W_Q, W_K``: ``d_model x d_qk``, ``W_V``:
    ``d_model x d_model``, times ``value_scale``), drawn afresh for every layer from ``seed``; the
    input tokens are standard Gaussian. ``depths`` are the layers the handout's spectra show.
    """

    n_tokens: int = 32
    d_model: int = 32
    d_qk: int = 32
    layers: int = 50
    depths: tuple[int, ...] = (1, 10, 25, 50)
    seed: int = 0
    value_scale: float = 1.0

    def __post_init__(self):
        for name in ("n_tokens", "d_model", "d_qk", "layers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"StackConfig: {name} must be a positive integer, got {getattr(self, name)!r}")
        if not self.depths or any(not 1 <= depth <= self.layers for depth in self.depths):
            raise ValueError(f"StackConfig: depths must lie in 1..layers={self.layers}, got {self.depths!r}")
        if not (np.isfinite(self.value_scale) and self.value_scale > 0):
            raise ValueError(f"StackConfig: value_scale must be positive and finite, got {self.value_scale!r}")


def attention_stack_singular_values(config: StackConfig) -> dict[str, np.ndarray]:
    """Singular values of the tokens after every layer: ``{"pure": (layers, k), "skip": (layers, k)}``.

    ``pure``: ``X <- SA_l(X)``; ``skip``: ``X <- X + SA_l(X)``, with the same weights and input.
    Each row is divided by its largest singular value (the skip stack's scale grows with depth;
    rank is about the ratios), so a collapsed stack shows one value 1 and the rest at the
    float64 floor. ``k = min(n_tokens, d_model)``; row ``l - 1`` is after layer ``l``.
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
    for W_Q, W_K, W_V in weights:
        W_V = config.value_scale * W_V
        pure = self_attention(pure, W_Q, W_K, W_V, config.d_qk)
        skip = skip + self_attention(skip, W_Q, W_K, W_V, config.d_qk)
        for name, tokens in (("pure", pure), ("skip", skip)):
            values = np.linalg.svd(tokens[0], compute_uv=False)
            recorded[name].append(values / values[0])
    return {name: np.array(rows) for name, rows in recorded.items()}


SKIP_VALUE_SCALES = (1.0, 0.3, 0.1)
"""Scales of the value weights at which the handout compares the skip stack with the pure one."""


def singular_value_figure(config: StackConfig) -> "Figure":
    """Two panels: the pure stack's normalised singular values at ``config.depths`` (task 2.3), and
    ``sigma_2 / sigma_1`` after every layer for the pure stack and the skip stack at each of
    :data:`SKIP_VALUE_SCALES` times the value weights (log scale)."""
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    figure = Figure(figsize=(7.0, 3.0))
    spectra_axis, ratio_axis = figure.subplots(1, 2)
    floor = np.finfo(float).eps / 10
    pure = attention_stack_singular_values(config)["pure"]
    for depth in config.depths:
        values = pure[depth - 1]
        spectra_axis.semilogy(np.arange(1, len(values) + 1), np.maximum(values, floor), marker=".", label=f"layer {depth}")
    spectra_axis.set_title("pure attention (no skip)", fontsize=9)
    spectra_axis.set_xlabel("index $i$")
    spectra_axis.set_ylabel(r"$\sigma_i / \sigma_1$")
    spectra_axis.legend(fontsize=7)
    depth = np.arange(1, config.layers + 1)
    ratio_axis.semilogy(depth, np.maximum(pure[:, 1], floor), color="k", label="pure")
    for scale in SKIP_VALUE_SCALES:
        skip = attention_stack_singular_values(replace(config, value_scale=scale))["skip"]
        ratio_axis.semilogy(depth, np.maximum(skip[:, 1], floor), label=f"skip, $W_V \\times {scale:g}$")
    ratio_axis.set_title(r"$\sigma_2 / \sigma_1$ by depth", fontsize=9)
    ratio_axis.set_xlabel("layer")
    ratio_axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


# --- exercise 1.7: the rate that keeps a fraction -------------------------------------------------

RATE_TOKENS, RATE_FEATURES = 4, 3
"""The size of the simulated network's token matrix (the rate does not depend on it)."""


def _extremal_network_share(rate, running, start, limit, power):
    """Run ``H <- 1 v^T + e^(-rate) (H - 1 v^T)`` for each instance's number of layers and return the kept share.

    ``start`` is ``(tokens, features, instances)`` and ``limit`` ``(1, features, instances)``, the
    instances last so that every update runs along them. They are sorted by their number of layers,
    most first: layer ``l`` updates the first ``running[l]`` of them, those with more than ``l``
    layers (the others keep their tokens). The share is the token variance (summed over features)
    after the layers over the variance at layer 0, to the power ``power / 2``: ``power = 1`` reads
    the kept quantity as the norm of ``H - 1 v^T``, ``power = 2`` as its square, the variance itself.
    """
    H = start.copy()
    decay = np.exp(-rate)
    for k in running:  # in place, in the order of limit + decay (H - limit): the same roundings
        H[..., :k] -= limit[..., :k]
        H[..., :k] *= decay[:k]
        H[..., :k] += limit[..., :k]
    variance = H.var(axis=0).sum(axis=0) / start.var(axis=0).sum(axis=0)
    return variance ** (power / 2)


def largest_rate_keeping(layers, fraction, C, power, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The largest ``lambda`` at which a network whose residual norm is exactly ``C e^(-lambda l)`` keeps ``fraction``.

    The network attains the bound of exercise 1.7 with equality: its tokens ``H^(0) = 1 v^T + D``
    (``D`` Gaussian with zero token mean, scaled to ``||D||_F = C``; ``v`` Gaussian of norm ``C``,
    both from ``rng``) move towards ``1 v^T`` by ``H <- 1 v^T + e^(-lambda) (H - 1 v^T)`` in every
    layer. The kept share after ``layers`` layers is measured from the tokens (their variance
    about their mean ``v``, to the power ``power/2``: the norm for ``power = 1``, the variance for
    ``power = 2``), and ``lambda`` is found by bisection on ``share >= fraction`` (the share falls
    as ``lambda`` grows), all instances at once: the upper end doubled from 1 until the share
    falls below the fraction, then halved until the bracket is two adjacent floats.

    Returns ``(lambda, accuracy)`` per instance. ``accuracy`` is the final bracket plus the
    rounding band: each layer's update rounds the deviation by at most ``u (3 ||D|| + sqrt(n) ||v||)``
    in norm, so near the answer (``||D_L|| = f^(1/p) C``) the share is off by at most a relative
    ``p (L (3 + sqrt(n) / f^(1/p)) + n d) u`` and ``lambda`` by that over ``p L`` (the share's
    relative slope). Raises ``ValueError`` naming the argument unless ``layers >= 1`` (an integer),
    ``0 < fraction < 1``, ``C > 0`` and ``power > 0``, all finite.
    """
    layers, fraction, C = (np.asarray(v, dtype=float) for v in (layers, fraction, C))
    layers, fraction, C = np.broadcast_arrays(layers, fraction, C)
    for name, value, valid in (
        ("layers", layers, (layers >= 1) & (layers == np.round(layers))),
        ("fraction", fraction, (fraction > 0) & (fraction < 1)),
        ("C", C, C > 0),
    ):
        if not np.all(valid & np.isfinite(value)):
            raise ValueError(f"largest_rate_keeping: {name} must be {'in (0, 1)' if name == 'fraction' else 'positive'} and finite")
    if not (np.isfinite(power) and power > 0):
        raise ValueError(f"largest_rate_keeping: power must be positive and finite, got {power!r}")
    n = len(fraction)
    D = rng.standard_normal((n, RATE_TOKENS, RATE_FEATURES))
    D -= D.mean(axis=1, keepdims=True)
    D *= (C / np.linalg.norm(D, axis=(1, 2)))[:, None, None]
    v = rng.standard_normal((n, 1, RATE_FEATURES))
    v *= (C / np.linalg.norm(v, axis=(1, 2)))[:, None, None]
    start = v + D
    # Sorted by depth, most layers first, so that each layer updates a prefix of the instances.
    order = np.argsort(-layers, kind="stable")
    running = np.count_nonzero(layers[order][None, :] > np.arange(int(np.max(layers)))[:, None], axis=1)
    start, v = (np.ascontiguousarray(a[order].transpose(1, 2, 0)) for a in (start, v))
    fraction_sorted = fraction[order]

    def keeps(rate):
        return _extremal_network_share(rate, running, start, v, power) >= fraction_sorted

    low, high = np.zeros(n), np.ones(n)
    while not np.all(unkept := ~keeps(high)):
        high = np.where(unkept, high, 2 * high)
    while np.any(open_ := np.nextafter(low, high) < high):
        middle = np.where(open_, low + (high - low) / 2, low)
        kept = keeps(middle)
        low, high = np.where(open_ & kept, middle, low), np.where(open_ & ~kept, middle, high)
    rate, bracket = np.empty(n), np.empty(n)
    rate[order], bracket[order] = low, high - low
    band = power * (layers * (3 + np.sqrt(RATE_TOKENS) / fraction ** (1 / power)) + RATE_TOKENS * RATE_FEATURES) * UNIT_ROUNDOFF
    return rate, bracket + band / (power * layers)
