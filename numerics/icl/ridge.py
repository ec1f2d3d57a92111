"""Independent computations for least-squares attention (numpy, scipy and torch; no closed forms).

* :func:`ridge_prediction`: the ridge regression from the keys to the values, solved as the ordinary
  least-squares problem of the augmented system ``[K; sqrt(alpha) I] W = [V; 0]`` by
  ``scipy.linalg.lstsq`` (an SVD-based solver that never forms ``K^T K``), and its prediction ``Q W``.
* :func:`ridge_rounding_bound`: a float64 error bound for two such computations of ``Q W``.
* :func:`least_squares_layer`: the layer run as a program (Gram matrix, Cholesky factorisation,
  two triangular solves, products) with every FLOP counted: the products by torch's own
  ``FlopCounterMode``, the factorisation and the solves by :func:`cholesky_counted` and
  :func:`triangular_solve_counted`, which tally the scalar operations they perform.

Tokens are rows: ``Q`` is ``(n_instances, m, d)``, ``K`` is ``(n_instances, n, d)``, ``V`` is
``(n_instances, n, d_v)``.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

UNIT_ROUNDOFF = np.finfo(float).eps / 2


def ridge_prediction(Q, K, V, alpha) -> tuple[np.ndarray, np.ndarray]:
    """``(Q W, W)`` with ``W = argmin ||K W - V||_F^2 + alpha ||W||_F^2``, one instance at a time.

    ``||K W - V||^2 + alpha ||W||^2`` is ``||[K; sqrt(alpha) I] W - [V; 0]||^2``, an ordinary
    least-squares problem, solved by ``scipy.linalg.lstsq`` (scipy's solver takes one system at a
    time, hence the loop).
    """
    Q, K, V = (np.asarray(a, dtype=float) for a in (Q, K, V))
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (len(K),))
    n_instances, _, d = K.shape
    weights = np.empty((n_instances, d, V.shape[-1]))
    for i in range(n_instances):
        inputs = np.vstack([K[i], np.sqrt(alpha[i]) * np.eye(d)])
        targets = np.vstack([V[i], np.zeros((d, V.shape[-1]))])
        weights[i] = linalg.lstsq(inputs, targets)[0]
    return Q @ weights, weights


def _spectral_norm(M) -> np.ndarray:
    return np.linalg.norm(M, ord=2, axis=(-2, -1))


def _inverse_norm_and_condition(singular, alpha, size: int):
    """``||M^{-1}||_2`` and ``kappa(M)`` for ``M = K^T K + alpha I`` (``size = d``) or ``K K^T + alpha I`` (``size = n``).

    The eigenvalues of either are ``s_i^2 + alpha`` for the singular values ``s_i`` of ``K``, and ``alpha`` for the
    ``size - min(n, d)`` directions ``K`` does not reach.
    """
    smallest = singular[:, -1] ** 2 if singular.shape[1] == size else np.zeros(len(singular))
    inverse_norm = 1 / (smallest + alpha)
    return inverse_norm, (singular[:, 0] ** 2 + alpha) * inverse_norm


def ridge_rounding_bound(Q, K, V, alpha, W) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds on ``|computed - exact|``, per instance, covering two computations each, for ``Q W``, for
    ``Q K^T (K K^T + alpha I)^{-1} V`` and for ``alpha Q W - Q K^T V``.

    A first-order bound for either route to ``W`` (the augmented least squares, or the inverse of
    ``A = K^T K + alpha I``): forming ``A`` and ``K^T V`` and solving costs at most
    ``gamma (kappa(A) ||W|| + ||A^{-1}|| ||K|| ||V||)`` in the spectral norm, with
    ``gamma = (n + d + m + d_v) u`` the length of the longest chain of sums; the least-squares solver
    also carries its residual ``r = [V; 0] - [K; sqrt(alpha) I] W`` (``||r|| <= ||V||``), through
    ``kappa^2 ||r|| / ||[K; sqrt(alpha) I]||`` with ``kappa^2 = kappa(A)`` (large when the fit explains
    little of ``V``: small keys, large ``alpha``); the product with ``Q``
    multiplies that by ``||Q||`` and adds ``gamma ||Q|| ||W||``. Two computations differ by at most
    twice the sum; a factor 2 more covers the constants of the solvers. The push-through form inverts
    ``B = K K^T + alpha I`` instead: add ``4 gamma ||Q|| ||K|| (kappa(B) + 1) ||B^{-1}|| ||V||``. For
    ``alpha Q W - Q K^T V`` (the claim forms ``-Q A^{-1} K^T K K^T V`` directly, the oracle subtracts)
    the bound is ``alpha`` times the first plus the products ``Q K^T V`` and ``A^{-1} K^T K K^T V``
    (``kappa(A) ||A^{-1}|| ||K||^3 ||V||``). An entry is at most the spectral norm.
    """
    Q, K, V, W = (np.asarray(a, dtype=float) for a in (Q, K, V, W))
    alpha = np.asarray(alpha, dtype=float)
    n, d = K.shape[-2:]
    m, d_v = Q.shape[-2], V.shape[-1]
    gamma = (n + d + m + d_v) * UNIT_ROUNDOFF
    singular = np.linalg.svd(K, compute_uv=False)
    inverse_A, kappa_A = _inverse_norm_and_condition(singular, alpha, d)
    inverse_B, kappa_B = _inverse_norm_and_condition(singular, alpha, n)
    q, k, v, w = _spectral_norm(Q), singular[:, 0], _spectral_norm(V), _spectral_norm(W)
    residual = kappa_A * v / np.sqrt(k**2 + alpha)
    prediction = 4 * gamma * q * (kappa_A * w + inverse_A * k * v + residual + w)
    push_through = prediction + 4 * gamma * q * k * (kappa_B + 1) * inverse_B * v
    gap = alpha * prediction + 4 * gamma * q * k * v * (1 + kappa_A * inverse_A * k**2)
    return prediction, push_through, gap


# --- counted FLOPs ----------------------------------------------------------------------------


def cholesky_counted(A) -> tuple[np.ndarray, int]:
    """The lower-triangular ``L`` with ``A = L L^T`` (column by column), and the scalar operations it took.

    Entry ``(i, j)``, ``i >= j``, is ``sqrt(A_jj - L_j,:j . L_j,:j)`` on the diagonal and
    ``(A_ij - L_i,:j . L_j,:j) / L_jj`` below it; a dot product of length ``j`` is ``j`` multiplications
    and ``j - 1`` additions, then one subtraction (when ``j > 0``) and one square root or division.
    """
    A = np.asarray(A, dtype=float)
    size = len(A)
    L = np.zeros_like(A)
    operations = 0
    for j in range(size):
        entries = size - j  # the diagonal entry and those below it
        dots = L[j:, :j] @ L[j, :j]
        operations += entries * (max(2 * j - 1, 0) + (j > 0))
        L[j, j] = np.sqrt(A[j, j] - dots[0])
        L[j + 1 :, j] = (A[j + 1 :, j] - dots[1:]) / L[j, j]
        operations += entries  # one square root, size - 1 - j divisions
    return L, operations


def triangular_solve_counted(L, C, transpose: bool = False) -> tuple[np.ndarray, int]:
    """``X`` with ``L X = C`` (forward substitution), or ``L^T X = C`` (backward), and the scalar operations it took.

    Row ``j`` of the substitution (0-based, in its order) is a dot product of length ``j``
    (``2j - 1`` operations), one subtraction (when ``j > 0``) and one division, for every column of ``C``.
    """
    T = np.asarray(L, dtype=float).T if transpose else np.asarray(L, dtype=float)
    C = np.asarray(C, dtype=float)
    size, columns = C.shape
    order = range(size - 1, -1, -1) if transpose else range(size)
    X = np.zeros_like(C)
    operations = 0
    for j, row in enumerate(order):
        done = list(order)[:j]
        X[row] = (C[row] - T[row, done] @ X[done]) / T[row, row]
        operations += columns * (max(2 * j - 1, 0) + (j > 0) + 1)
    return X, operations


def _counted_products(function, *tensors):
    """``function(*tensors)`` under torch's FLOP counter: its value and the FLOPs of its matrix products."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        value = function(*(torch.as_tensor(t, dtype=torch.float64) for t in tensors))
    return value.numpy(), counter.get_total_flops()


def _solve_counted(A, C) -> tuple[np.ndarray, int]:
    """``A^{-1} C`` for symmetric positive definite ``A``: Cholesky, then a forward and a backward solve."""
    L, factorisation = cholesky_counted(A)
    Y, forward = triangular_solve_counted(L, C)
    X, backward = triangular_solve_counted(L, Y, transpose=True)
    return X, factorisation + forward + backward


def least_squares_layer(Q, K, V, alpha, form: str = "layer") -> tuple[np.ndarray, int]:
    """Least-squares attention on one sequence, run as a program, and the FLOPs it took.

    ``form="layer"``: ``G = K^T K``, ``C = K^T V``, ``(G + alpha I) W = C`` by Cholesky and two
    triangular solves, ``Q W``. ``form="push_through"``: ``H = K K^T``, ``(H + alpha I) Y = V``,
    ``(Q K^T) Y``. ``form="attention"``: softmax attention ``softmax(Q K^T / sqrt(d)) V`` on the
    same tokens (its softmax and scaling are pointwise and not counted). Products are counted by
    torch's ``FlopCounterMode``; adding ``alpha I`` is pointwise and not counted.
    """
    import torch

    Q, K, V = (np.asarray(a, dtype=float) for a in (Q, K, V))
    if form == "layer":
        G, gram = _counted_products(lambda K: K.T @ K, K)
        C, moment = _counted_products(lambda K, V: K.T @ V, K, V)
        W, solves = _solve_counted(G + alpha * np.eye(len(G)), C)
        output, last = _counted_products(lambda Q, W: Q @ W, Q, W)
        return output, gram + moment + solves + last
    if form == "push_through":
        H, products = _counted_products(lambda K: K @ K.T, K)
        Y, solves = _solve_counted(H + alpha * np.eye(len(H)), V)
        output, last = _counted_products(lambda Q, K, Y: (Q @ K.T) @ Y, Q, K, Y)
        return output, products + solves + last
    if form == "attention":
        scale = np.sqrt(K.shape[-1])
        return _counted_products(lambda Q, K, V: torch.softmax(Q @ K.T / scale, dim=-1) @ V, Q, K, V)
    raise ValueError(f"form must be 'layer', 'push_through' or 'attention', got {form!r}")
