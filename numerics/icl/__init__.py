"""Independent computations for the in-context-learning theorems (numpy and torch; no closed forms).

* The literal linear self-attention layer of von Oswald et al. 2023 (eq. 1 and Prop. 1),
  ``e <- e + P W_V (sum_j e_j (W_K e_j)^T) W_Q e`` on every token
  (:func:`linear_self_attention`), and the weights of their construction
  (:func:`gradient_descent_construction`).
* Explicit gradient descent on ``L(W) = 1/(2N) sum_j ||W x_j - y_j||^2`` with the gradient
  from torch autograd (:func:`gradient_descent_step`), and the tokens that step predicts
  (:func:`gradient_descent_tokens`): ``x`` unchanged, ``y -> y - (W_1 - W_0) x``.
* A float64 rounding bound for those token updates (:func:`token_rounding_bound`).

Tokens are columns: a batch of token matrices has shape ``(n, d_x + d_y, T)``, the first
axis being the instance, ``x`` channels first, and the query last.
"""

from __future__ import annotations

import numpy as np

from numerics.threads import one_torch_thread

UNIT_ROUNDOFF = np.finfo(float).eps / 2


def token_matrix(X, Y, x_q, y_q) -> np.ndarray:
    """``E = [[X, x_q], [Y, y_q]]``: the ``N`` context tokens ``(x_j, y_j)`` and the query, as columns.

    ``X`` is ``(n, d_x, N)``, ``Y`` is ``(n, d_y, N)``, ``x_q`` is ``(n, d_x, 1)``, ``y_q`` is ``(n, d_y, 1)``.
    """
    return np.concatenate([np.concatenate([X, x_q], axis=-1), np.concatenate([Y, y_q], axis=-1)], axis=-2)


def linear_self_attention(E, W_K, W_Q, W_V, P, context: int | None = None) -> np.ndarray:
    """One linear self-attention layer with a residual connection, on every column of ``E``.

    ``e <- e + P W_V (sum_{j <= context} e_j (W_K e_j)^T) W_Q e``: the first ``context`` columns
    (default: all but the last, the query) are the keys and values; every column is updated.
    No softmax and no ``1/sqrt(d)``. ``E`` is ``(n, d, T)``; the weights are ``(d, d)`` or
    ``(n, d, d)`` and broadcast over the batch. von Oswald et al. 2023, eq. (1).
    """
    E = np.asarray(E, dtype=float)
    context = E.shape[-1] - 1 if context is None else context
    Z = E[..., :context]
    # sum_j e_j (W_K e_j)^T is Z (W_K Z)^T: a product is the sum of its columns' outer products.
    memory = Z @ np.swapaxes(W_K @ Z, -1, -2)
    return E + P @ W_V @ memory @ W_Q @ E


def gradient_descent_construction(W_0, eta, N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(W_K, W_Q, W_V, P)`` of von Oswald et al. 2023, Prop. 1, one set per instance.

    ``W_K = W_Q = [[I, 0], [0, 0]]``, ``W_V = [[0, 0], [W_0, -I]]``, ``P = (eta / N) I``, each
    ``(n, d_x + d_y, d_x + d_y)``, for ``W_0`` of shape ``(n, d_y, d_x)`` and ``eta`` of shape ``(n,)``.
    """
    W_0 = np.asarray(W_0, dtype=float)
    n, d_y, d_x = W_0.shape
    d = d_x + d_y
    W_K = np.zeros((n, d, d))
    W_K[:, np.arange(d_x), np.arange(d_x)] = 1.0
    W_V = np.zeros((n, d, d))
    W_V[:, d_x:, :d_x] = W_0
    W_V[:, np.arange(d_x, d), np.arange(d_x, d)] = -1.0
    P = (np.asarray(eta, dtype=float) / N).reshape(-1, 1, 1) * np.eye(d)
    return W_K, W_K.copy(), W_V, np.broadcast_to(P, (n, d, d)).copy()


def gradient_descent_step(X, Y, W_0, eta, device: str = "cpu") -> np.ndarray:
    """``W_1 = W_0 - eta grad L(W_0)`` for ``L(W) = 1/(2N) sum_j ||W x_j - y_j||^2``, batched.

    The gradient comes from torch autograd in float64 (no formula for it is written here).
    The instances' losses are summed before differentiating: instance ``i``'s loss depends
    only on its own ``W_i``, so each gradient is that instance's own.
    """
    import torch

    def tensor(a):
        return torch.as_tensor(np.asarray(a, dtype=float), dtype=torch.float64, device=device)

    with one_torch_thread():  # at most 12 x 65 matrices
        X, Y, eta = tensor(X), tensor(Y), tensor(eta)
        W = tensor(W_0).clone().requires_grad_(True)
        N = X.shape[-1]
        loss = ((W @ X - Y) ** 2).sum() / (2 * N)
        (gradient,) = torch.autograd.grad(loss, W)
        W_1 = W.detach() - eta.reshape(-1, 1, 1) * gradient
        return W_1.cpu().numpy()


def gradient_descent_tokens(X, Y, x_q, y_q, W_0, eta, device: str = "cpu") -> np.ndarray:
    """The tokens after one explicit GD step: ``x`` unchanged, every ``y`` moved to ``y - (W_1 - W_0) x``.

    Training targets become ``y_j - (W_1 - W_0) x_j`` (the data on which the loss at ``W_0``
    is the original loss at ``W_1``) and the query's ``y`` channel ``y_q - (W_1 - W_0) x_q``.
    Returns ``(n, d_x + d_y, N + 1)``, the query last.
    """
    W_0 = np.asarray(W_0, dtype=float)
    shift = gradient_descent_step(X, Y, W_0, eta, device) - W_0
    E = token_matrix(X, Y, x_q, y_q)
    d_x = W_0.shape[-1]
    E[:, d_x:] -= shift @ E[:, :d_x]
    return E


def token_rounding_bound(X, Y, x_q, y_q, W_0, eta) -> np.ndarray:
    """A bound on ``|computed - exact|`` for the GD tokens, entrywise, covering two float64 computations.

    Each ``y`` entry ``y - (W_1 - W_0) z`` with ``W_1 - W_0 = -(eta/N)(W_0 X - Y) X^T`` is a chain
    of sums of at most ``K = N + 2 d_x + 10`` rounded operations (``d_x`` terms in ``W_0 x_j``,
    ``N`` in the gradient, ``d_x`` in the product with ``z``, and the scalings, the GD step and
    the subtractions). The standard first-order bound for such products is ``gamma_K`` times the
    same computation in absolute values,
    ``M = |y| + (2 |W_0| + (eta/N) (|W_0| |X| + |Y|) |X|^T) |z|`` (``2 |W_0|`` bounds the rounding
    of forming ``W_1`` and subtracting ``W_0``), whatever the summation order. Two independent
    computations (the claim's and the oracle's) differ by at most ``2 gamma_K M``. The ``x``
    channels are copied exactly: bound 0.
    """
    X, Y, W_0 = (np.asarray(a, dtype=float) for a in (X, Y, W_0))
    E = np.abs(token_matrix(X, Y, x_q, y_q))
    n, d_y, d_x = W_0.shape
    N = X.shape[-1]
    K = N + 2 * d_x + 10
    gamma = K * UNIT_ROUNDOFF / (1 - K * UNIT_ROUNDOFF)
    scale = (np.asarray(eta, dtype=float) / N).reshape(-1, 1, 1)
    gradient_size = scale * (np.abs(W_0) @ np.abs(X) + np.abs(Y)) @ np.swapaxes(np.abs(X), -1, -2)
    bound = np.zeros_like(E)
    bound[:, d_x:] = 2 * gamma * (E[:, d_x:] + (2 * np.abs(W_0) + gradient_size) @ E[:, :d_x])
    return bound
