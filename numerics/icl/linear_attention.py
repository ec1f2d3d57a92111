"""Independent computations for exercise 1.4 (numpy, scipy and torch; no closed forms).

* The literal linear attention ``(Q K^T) V`` (:func:`linear_attention`) and one explicit gradient step from
  ``W = 0`` on the exercise's loss, its gradient from torch autograd (:func:`one_step_weights`); the step
  size that makes the step's prediction the attention output (:func:`matching_step_size`).
* The Hopfield update as a concave-convex step done numerically: the gradient of log-sum-exp by autograd
  (:func:`log_sum_exp_gradient`), the convex surrogate minimised by L-BFGS (:func:`minimise_surrogate`),
  the energy by ``scipy.special.logsumexp`` (:func:`hopfield_energy`).
* Rounding bounds for comparing these with the closed forms (:func:`step_size_accuracy`,
  :func:`hopfield_accuracy`).
* For the closed forms' evaluation: the log-weights ``log softmax(beta X xi)`` (:func:`log_softmax_weights`).

Shapes: ``X`` is ``(n, N, d)`` (the context inputs as rows, the exercise's convention), ``Y`` is
``(n, N, d_y)``, a state or query ``xi`` is ``(n, d, 1)``, ``beta`` is ``(n,)``.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

from numerics.attention.kernels import gamma, softmax_weight_error
from numerics.icl import UNIT_ROUNDOFF


def linear_attention(Q, K, V) -> np.ndarray:
    """``(Q K^T) V``: linear attention without softmax or scaling, batched (the exercise's ``O`` for ``Q = x_test^T``)."""
    Q, K, V = (np.asarray(a, dtype=float) for a in (Q, K, V))
    return (Q @ np.swapaxes(K, -1, -2)) @ V


def one_step_weights(X, Y, mean: bool, device: str = "cpu") -> np.ndarray:
    """``W_1 = 0 - grad L(0)`` (a unit step) for ``L(W) = 1/2 ||X W - Y||^2``, divided by ``N`` when ``mean``.

    The gradient comes from torch autograd in float64; the instances' losses are summed before
    differentiating (instance ``i``'s loss depends only on its own ``W_i``). Returns ``(n, d, d_y)``.
    """
    import torch

    X = torch.as_tensor(np.asarray(X, dtype=float), device=device)
    Y = torch.as_tensor(np.asarray(Y, dtype=float), device=device)
    W = torch.zeros(X.shape[0], X.shape[-1], Y.shape[-1], dtype=torch.float64, device=device, requires_grad=True)
    loss = ((X @ W - Y) ** 2).sum() / 2
    if mean:
        loss = loss / X.shape[-2]
    (gradient,) = torch.autograd.grad(loss, W)
    return (-gradient).cpu().numpy()


def matching_step_size(target, prediction) -> np.ndarray:
    """``<target, prediction> / <prediction, prediction>`` per instance: the step size ``eta`` that makes
    ``eta * prediction`` closest to ``target`` (a gradient step from ``W = 0`` predicts ``eta`` times the unit
    step's prediction, by the definition of the step)."""
    target, prediction = (np.asarray(a, dtype=float).reshape(len(a), -1) for a in (target, prediction))
    return (target * prediction).sum(axis=1) / (prediction * prediction).sum(axis=1)


def log_sum_exp_gradient(X, xi, beta, device: str = "cpu") -> np.ndarray:
    """``grad_xi lse(beta, X xi)``, ``lse(beta, z) = log(sum_j exp(beta z_j)) / beta``, by torch autograd. ``(n, d, 1)``."""
    import torch

    X = torch.as_tensor(np.asarray(X, dtype=float), device=device)
    beta = torch.as_tensor(np.asarray(beta, dtype=float).reshape(-1, 1, 1), device=device)
    xi = torch.as_tensor(np.asarray(xi, dtype=float), device=device).clone().requires_grad_(True)
    lse = torch.logsumexp(beta * (X @ xi), dim=-2) / beta[..., 0]
    (gradient,) = torch.autograd.grad(lse.sum(), xi)
    return gradient.cpu().numpy()


def minimise_surrogate(g) -> tuple[np.ndarray, np.ndarray]:
    """``argmin_zeta zeta^T zeta / 2 - g^T zeta`` for every instance, by L-BFGS on their sum, and ``zeta - g``.

    The concave-convex step's convex problem, solved numerically (one problem over all instances:
    it separates, so each block's minimiser is that instance's). Its Hessian is the identity, so
    the distance of the returned point from the minimiser is exactly the norm of its gradient
    ``zeta - g``, which is returned for the error budget. L-BFGS learns that curvature from its first
    step and lands on the minimiser at the second, to float64 accuracy (``gtol`` 1e-12 stops it there).
    """
    g = np.asarray(g, dtype=float)
    flat = g.ravel()

    def objective(zeta):
        return 0.5 * zeta @ zeta - flat @ zeta, zeta - flat

    result = optimize.minimize(objective, np.zeros_like(flat), jac=True, method="L-BFGS-B", options={"gtol": 1e-12})
    zeta = result.x.reshape(g.shape)
    return zeta, zeta - g


def hopfield_energy(X, xi, beta) -> np.ndarray:
    """``E(xi) = -lse(beta, X xi) + xi^T xi / 2`` with ``scipy.special.logsumexp``, per instance ``(n,)``.

    Ramsauer et al. 2020, eq. (2) (their pattern matrix is ``X^T`` here; the constant terms dropped).
    """
    X, xi = np.asarray(X, dtype=float), np.asarray(xi, dtype=float)
    beta = np.asarray(beta, dtype=float)
    lse = special.logsumexp(beta[:, None] * (X @ xi)[..., 0], axis=-1) / beta
    return -lse + 0.5 * (xi * xi).sum(axis=(-2, -1))


def log_softmax_weights(X, xi, beta) -> np.ndarray:
    """``log softmax(beta X xi)`` over the ``N`` context rows, ``(n, N, 1)`` (``scipy.special.log_softmax``)."""
    scores = np.asarray(beta, dtype=float).reshape(-1, 1, 1) * (np.asarray(X, dtype=float) @ np.asarray(xi, dtype=float))
    return special.log_softmax(scores, axis=-2)


def step_size_accuracy(X, Y, x_test, prediction, step_size) -> np.ndarray:
    """A bound on ``|computed - exact|`` of :func:`matching_step_size` of ``O`` against a unit step's ``prediction``.

    ``O = x_test^T X^T Y`` and the prediction (``x_test^T X^T Y`` or that over ``N``, from the autograd
    gradient) are products of at most ``K = N + d + 8`` rounded operations, each within
    ``gamma_K M`` of its exact value, ``M = |x_test|^T |X|^T |Y|`` (the same products in absolute
    values). ``eta - eta_exact = <e_O - eta e_p, p> / ||p||^2`` to first order, so
    ``|eta - eta_exact| <= (||e_O|| + |eta| ||e_p||) / ||p||``; the two inner products and the division
    add ``gamma_(2 d_y + 2) |eta|``. Doubled for safety. This grows as ``||p||`` (that is ``||O||``)
    shrinks: near ``O = 0`` every step size nearly matches.
    """
    X, Y, x_test = (np.asarray(a, dtype=float) for a in (X, Y, x_test))
    n, N, d = X.shape
    K = N + d + 8
    magnitude = np.abs(np.swapaxes(x_test, -1, -2)) @ np.abs(np.swapaxes(X, -1, -2)) @ np.abs(Y)
    size = np.linalg.norm(magnitude.reshape(n, -1), axis=1)
    norm = np.linalg.norm(np.asarray(prediction, dtype=float).reshape(n, -1), axis=1)
    step_size = np.abs(np.asarray(step_size, dtype=float))
    # e_p comes from the mean loss's gradient too, which carries the factor 1/N: its bound is gamma_K M / N,
    # and |eta| ||e_p|| <= N gamma_K ||M|| / N.
    return 2 * (2 * gamma(K) * size / norm + gamma(2 * Y.shape[-1] + 2) * step_size)


def hopfield_accuracy(X, xi, xi_new, beta, surrogate_gradient) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on ``|computed - exact|`` for the update ``xi_new`` (``(n, d, 1)``) and the energy decrease (``(n,)``),
    covering the closed form's evaluation and this module's (first order in ``u``).

    The update: each evaluation forms ``p = softmax(beta X xi)`` from scores off by at most
    ``gamma_(d+2) beta max_j (|X||xi|)_j`` (:func:`numerics.attention.kernels.softmax_weight_error` gives the
    weights' relative error ``rho``), then ``X^T p`` adds ``gamma_N``: each is within
    ``(rho + gamma_N) |X|^T p`` of ``X^T p``, two differ by twice that, plus the optimiser's distance
    from its minimiser, ``|zeta - g|`` (exact, the Hessian being ``I``), and its rounding ``u |g|``.

    The decrease: the energies, Gram products and log-weights are sums of terms of total size at most
    ``S = max_j (|X||xi|)_j + max_j (|X||xi_new|)_j + |lse| + |lse_new| + 2 / beta + (|xi| + |xi_new|)^2
    + sum_j p_j (|log p_j| + |log p_new,j|) / beta``, each formed in at most ``K = N + d + 8`` rounded
    operations; a weight off by ``rho`` relatively moves them by at most ``rho S`` more; and the
    update's own error ``delta`` moves the decrease by at most
    ``(|xi| + |xi_new| + 2 max_j |x_j|) |delta|`` (its gradient in ``xi_new``). Both evaluations, doubled.
    """
    X, xi, xi_new = (np.asarray(a, dtype=float) for a in (X, xi, xi_new))
    beta = np.asarray(beta, dtype=float)
    n, N, d = X.shape
    K = N + d + 8
    reach = (np.abs(X) @ np.abs(xi))[..., 0].max(axis=-1)
    rho = softmax_weight_error(gamma(d + 2) * 2 * beta * reach, N)
    scores = beta[:, None] * (X @ xi)[..., 0]
    log_p = scores - special.logsumexp(scores, axis=-1, keepdims=True)
    p = np.exp(log_p)
    update = 2 * (rho + gamma(N))[:, None, None] * (np.abs(np.swapaxes(X, -1, -2)) @ p[..., None])
    update = update + np.abs(surrogate_gradient) + UNIT_ROUNDOFF * np.abs(xi_new)

    new_scores = beta[:, None] * (X @ xi_new)[..., 0]
    log_p_new = new_scores - special.logsumexp(new_scores, axis=-1, keepdims=True)
    lengths = np.linalg.norm(xi, axis=(-2, -1)), np.linalg.norm(xi_new, axis=(-2, -1))
    size = (
        reach
        + (np.abs(X) @ np.abs(xi_new))[..., 0].max(axis=-1)
        + np.abs(special.logsumexp(scores, axis=-1)) / beta
        + np.abs(special.logsumexp(new_scores, axis=-1)) / beta
        + 2 / beta
        + (lengths[0] + lengths[1]) ** 2
        + (p * (np.abs(log_p) + np.abs(log_p_new))).sum(axis=-1) / beta
    )
    slope = lengths[0] + lengths[1] + 2 * np.linalg.norm(X, axis=-1).max(axis=-1)
    decrease = 2 * ((gamma(K) + rho) * size + slope * np.linalg.norm(update, axis=(-2, -1)))
    return update, decrease
