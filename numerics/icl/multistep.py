"""Independent computations for K stacked linear self-attention layers (numpy, scipy and torch; no closed forms).

* The literal stack: :func:`numerics.icl.linear_self_attention` applied K times with the weights of
  :func:`stacked_construction` (von Oswald et al.'s construction with ``W_0 = 0``; GD++'s correction of the
  ``x`` channels for ``gamma > 0``): :func:`layer_stack`.
* Explicit gradient descent, gradients from torch autograd (:func:`numerics.icl.gradient_descent_step`):
  :func:`explicit_gradient_descent`, and GD++ as preconditioned gradient descent whose preconditioner is
  built by transforming the inputs layer by layer (:func:`explicit_gd_plus_plus`); the tokens an iterate
  predicts (:func:`residual_tokens`).
* The error against ordinary least squares (``scipy.linalg.lstsq``) measured along each eigenvector of
  ``Sigma = X X^T / N`` after K explicit steps (:func:`measured_contraction`).
* Rounding bounds for the comparisons (:func:`stack_rounding_bound`).

Conventions are :mod:`numerics.icl`'s: tokens are columns, ``X`` is ``(n, d_x, N)``, ``Y`` ``(n, d_y, N)``,
``x_q`` ``(n, d_x, 1)``, the query last, ``eta`` and ``gamma`` ``(n,)``.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from numerics.attention.kernels import gamma as rounding_gamma
from numerics.icl import UNIT_ROUNDOFF, gradient_descent_step, linear_self_attention, token_matrix


def stacked_construction(eta, gamma, N: int, d_x: int, d_y: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(W_K, W_Q, W_V, P)`` of every layer, one set per instance, each ``(n, d_x + d_y, d_x + d_y)``.

    ``W_K = W_Q = [[I, 0], [0, 0]]``, ``W_V = [[-(gamma/eta) I, 0], [0, -I]]``, ``P = (eta/N) I``: von Oswald et al.
    2023's Prop. 1 with ``W_0 = 0`` when ``gamma = 0``, and GD++'s ``x <- x - (gamma/N) X X^T x`` otherwise.
    """
    eta, gamma = np.asarray(eta, dtype=float), np.asarray(gamma, dtype=float)
    n, d = len(eta), d_x + d_y
    W_K = np.zeros((n, d, d))
    W_K[:, np.arange(d_x), np.arange(d_x)] = 1.0
    W_V = np.zeros((n, d, d))
    W_V[:, np.arange(d_x), np.arange(d_x)] = 0.0 - (gamma / eta)[:, None]  # 0.0 -: no -0.0 at gamma = 0
    W_V[:, np.arange(d_x, d), np.arange(d_x, d)] = -1.0
    P = (eta / N)[:, None, None] * np.eye(d)
    return W_K, W_K.copy(), W_V, P


def layer_stack(E, weights, K: int) -> np.ndarray:
    """The tokens ``E`` ``(n, d, N + 1)`` after ``K`` identical layers with ``weights = (W_K, W_Q, W_V, P)``."""
    for _ in range(K):
        E = linear_self_attention(E, *weights)
    return E


def residual_tokens(X, Y, x_q, W) -> np.ndarray:
    """``[[X, x_q], [Y - W X, -W x_q]]``: the prompt's tokens (``y_q = 0``) after the iterate ``W`` took its residuals."""
    return token_matrix(X, Y - W @ X, x_q, -W @ x_q)


def explicit_gradient_descent(X, Y, eta, K: int, device: str = "cpu") -> np.ndarray:
    """``W^(K)``: ``K`` explicit steps ``W <- W - eta grad L(W)`` from ``W = 0`` (autograd gradients), ``(n, d_y, d_x)``."""
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    W = np.zeros((len(X), Y.shape[1], X.shape[1]))
    for _ in range(K):
        W = gradient_descent_step(X, Y, W, eta, device)
    return W


def explicit_gd_plus_plus(X, Y, x_q, eta, gamma, K: int, device: str = "cpu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GD++ written out: ``K`` preconditioned steps ``V <- V - eta grad L(V) M^T M`` from ``V = 0``, where ``M`` is the
    product of the input transforms so far. Returns ``(V, X_K, x_q_K)``.

    The inputs themselves are transformed layer by layer, ``X <- (I - gamma X X^T / N) X`` with the current ``X``
    (the query likewise), and ``M`` accumulates those ``I - gamma X X^T / N``; the gradient is autograd's at the
    original data (``grad L(V) = V - gradient_descent_step(X, Y, V, 1)``).
    """
    X, Y, x_q = (np.asarray(a, dtype=float) for a in (X, Y, x_q))
    n, d_x, N = X.shape
    gamma = np.asarray(gamma, dtype=float)[:, None, None]
    eta = np.asarray(eta, dtype=float)[:, None, None]
    V = np.zeros((n, Y.shape[1], d_x))
    M = np.broadcast_to(np.eye(d_x), (n, d_x, d_x)).copy()
    inputs, query = X.copy(), x_q.copy()
    unit = np.ones(n)
    for _ in range(K):
        gradient = V - gradient_descent_step(X, Y, V, unit, device)
        V = V - eta * gradient @ np.swapaxes(M, -1, -2) @ M
        transform = np.eye(d_x) - gamma * inputs @ np.swapaxes(inputs, -1, -2) / N
        inputs, query, M = transform @ inputs, transform @ query, transform @ M
    return V, inputs, query


def measured_contraction(X, Y, eta, K: int, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Along each eigenvector ``u_i`` of ``Sigma = X X^T / N`` (ascending eigenvalues), the error of ``K`` explicit GD
    steps against ordinary least squares relative to the initial error, and a bound on its rounding. ``(n, d_x)`` each.

    ``W_*`` is ``scipy.linalg.lstsq``'s solution, ``E_k = W^(k) - W_*`` (``W^(0) = 0``), the ratio
    ``<E_K u, E_0 u> / |E_0 u|^2``. The bound: the iterate's rounding (:func:`_descent_error`)
    and the solution's, ``|dW_*| <= (|W_* X X^T - Y X^T| + gamma_m (|W_*||X||X|^T + |Y||X|^T)) / lambda_min(X X^T)``
    (a posteriori, from the normal equations' residual), divided by ``|E_0 u|``; and the eigenvectors' error,
    which mixes only nearly equal eigenvalues and so moves the ratio by at most
    ``10 d_x K eta u ||Sigma|| max(1, |1 - eta lambda|)^(K-1)`` per unit of ``||E_0|| / |E_0 u|`` (with the
    closed form's eigenvalues' own error, doubled). The whole doubled.
    """
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    n, d_x, N = X.shape
    eta = np.asarray(eta, dtype=float)
    W_K = explicit_gradient_descent(X, Y, eta, K, device)
    W_star = np.stack([linalg.lstsq(x.T, y.T)[0].T for x, y in zip(X, Y)])
    covariance = X @ np.swapaxes(X, -1, -2) / N
    eigenvalues, U = np.linalg.eigh(covariance)
    initial = -W_star @ U
    final = (W_K - W_star) @ U
    size = (initial * initial).sum(axis=1)
    ratio = (final * initial).sum(axis=1) / size

    m = N + d_x + 8
    residual = W_star @ (X @ np.swapaxes(X, -1, -2)) - Y @ np.swapaxes(X, -1, -2)
    residual_size = np.abs(W_star) @ np.abs(X) @ np.abs(np.swapaxes(X, -1, -2)) + np.abs(Y) @ np.abs(np.swapaxes(X, -1, -2))
    solution_error = (_norm(residual) + rounding_gamma(m) * _norm(residual_size)) / (N * eigenvalues[:, 0])
    iterate_error = 2 * _norm(_descent_error(X, Y, eta, np.zeros_like(eta), K)[0])
    reach = np.maximum(1.0, np.abs(1 - eta[:, None] * eigenvalues).max(axis=1)) ** max(K - 1, 0)
    eigen_error = 20 * d_x * K * eta * UNIT_ROUNDOFF * eigenvalues[:, -1] * reach
    length = np.sqrt(size)
    spread = _norm(W_star)[:, None] / length
    accuracy = (iterate_error[:, None] + solution_error[:, None] * (1 + np.abs(ratio))) / length + eigen_error[:, None] * (1 + spread)
    return ratio, 2 * accuracy


def _norm(A) -> np.ndarray:
    """Frobenius norm per instance (bounds the spectral norm)."""
    return np.linalg.norm(np.asarray(A).reshape(len(A), -1), axis=1)


def _descent_error(X, Y, eta, gamma, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First-order bounds ``(e_V, e_M)`` on the rounding errors of ``V^(K)``, ``M^(K)`` and their magnitudes ``(|V|, |M|)``.

    The recursion ``V <- V - (eta/N)(V X - Y) X^T M^T M``, ``M <- M - (gamma/N) M X X^T M^T M`` from ``(0, I)``
    (``gamma = 0``: plain GD, ``M = I``) is run here in float64 for the magnitudes. Each step adds its own
    rounding, at most ``gamma_L`` (``L = N + 4 (d_x + d_y) + 12`` operations: the ``N``-term sums, the
    ``d``-wide products, the scalings) times the step evaluated in absolute values, and carries the errors
    so far through its Jacobian, bounded in absolute values:
    ``e_V' = e_V + (eta/N)(e_V |X||X|^T G + (|V||X| + |Y|)|X|^T (e_M^T |M| + |M|^T e_M))`` and
    ``e_M' = e_M + (gamma/N)(e_M S G + |M| S (e_M^T |M| + |M|^T e_M))`` with ``G = |M|^T |M|``,
    ``S = |X||X|^T``. Any evaluation order of the same recursion (the derived maps, the literal layers,
    explicit descent) is covered to first order in ``u``.
    """
    A, B = np.abs(np.asarray(X, dtype=float)), np.abs(np.asarray(Y, dtype=float))
    n, d_x, N = A.shape
    step = rounding_gamma(N + 4 * (d_x + B.shape[1]) + 12)
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    eta = np.asarray(eta, dtype=float)[:, None, None]
    gamma = np.asarray(gamma, dtype=float)[:, None, None]
    V = np.zeros((n, B.shape[1], d_x))
    M = np.broadcast_to(np.eye(d_x), (n, d_x, d_x)).copy()
    e_V, e_M = np.zeros_like(V), np.zeros_like(M)
    S = A @ np.swapaxes(A, -1, -2)
    T = lambda Z: np.swapaxes(Z, -1, -2)  # noqa: E731 -- the transpose, read as in the formulas
    for _ in range(K):
        v, m = np.abs(V), np.abs(M)
        gram = T(m) @ m
        spread = T(e_M) @ m + T(m) @ e_M
        e_V = (
            e_V
            + eta / N * (e_V @ S @ gram + (v @ A + B) @ T(A) @ spread)
            + step * (v + eta / N * (v @ A + B) @ T(A) @ gram)
        )
        e_M = e_M + gamma / N * (e_M @ S @ gram + m @ S @ spread) + step * (m + gamma / N * m @ S @ gram)
        V, M = V - eta / N * (V @ X - Y) @ T(X) @ T(M) @ M, M - gamma / N * M @ X @ T(X) @ T(M) @ M
    return e_V, e_M, np.abs(V), np.abs(M)


def stack_rounding_bound(X, Y, x_q, eta, gamma, K: int) -> np.ndarray:
    """A bound on ``|computed - exact|`` of the tokens after ``K`` layers, entrywise, ``(n, d_x + d_y, N + 1)``, covering
    two float64 evaluations (the closed form's and the literal layers' or explicit descent's).

    The tokens are ``[[M X, M x_q], [Y - V X, -V x_q]]``: with :func:`_descent_error`'s bounds, each is off by at
    most ``e_M |x| + gamma_(d+2) |M||x|`` (inputs) and ``e_V |x| + gamma_(d+2) (|y| + |V||x|)`` (targets and
    query); two evaluations differ by at most twice that, doubled again for the first-order terms dropped.
    """
    X, Y, x_q = (np.asarray(a, dtype=float) for a in (X, Y, x_q))
    n, d_x, N = X.shape
    e_V, e_M, v, m = _descent_error(X, Y, eta, gamma, K)
    final = rounding_gamma(d_x + 2)
    inputs = e_M @ np.abs(X) + final * m @ np.abs(X), e_M @ np.abs(x_q) + final * m @ np.abs(x_q)
    targets = e_V @ np.abs(X) + final * (np.abs(Y) + v @ np.abs(X)), e_V @ np.abs(x_q) + final * v @ np.abs(x_q)
    return 4 * token_matrix(inputs[0], targets[0], inputs[1], targets[1])
