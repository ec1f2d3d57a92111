"""Independent computations for the risk of one gradient step in context (numpy only; no closed forms).

The task (seed 004, track A): ``w ~ N(0, I_d)``, ``k`` examples ``x_a ~ N(0, I_d)`` (the rows of
``X``), ``y_a = w^T x_a``, a query ``x_q ~ N(0, I_d)`` with ``y_q = w^T x_q``. One gradient step from
``W = 0`` on ``1/(2k) ||X W - y||^2`` with step ``eta`` gives ``W_1 = (eta / k) X^T y`` and the
prediction ``y_hat = x_q^T W_1``.

* :func:`simulated_risks`: direct simulation of tasks, contexts and that step, the query averaged exactly.
* :func:`exact_one_step_risk`: ``E[(y_q - y_hat)^2]`` exactly, by expanding the square into monomials
  of independent standard normals and taking each monomial's mean (:func:`gaussian_monomial_means`);
  :func:`exact_trace_moments` does the same for ``E tr(X^T X)`` and ``E tr((X^T X)^2)``.
"""

from __future__ import annotations

import functools

import numpy as np

_ODD_FACTORIAL = np.array([1, 0, 1, 0, 3, 0, 15, 0, 105])
"""``E[z^p]`` for ``z ~ N(0, 1)``, ``p = 0..8``: ``(p - 1)!!`` for even ``p``, 0 for odd."""


def gaussian_monomial_means(variables: np.ndarray) -> np.ndarray:
    """``E[z_v1 z_v2 ... z_vL]`` for each row of labels, the ``z`` independent standard normals.

    Labels that are equal name the same variable. By independence the mean is the product over
    distinct variables of ``E[z^p]`` (``p`` its multiplicity), ``(p - 1)!!`` for even ``p`` and 0 for odd.
    """
    labels = np.sort(np.asarray(variables), axis=1)
    multiplicity = (labels[:, :, None] == labels[:, None, :]).sum(axis=2)
    first = np.ones(labels.shape, dtype=bool)
    first[:, 1:] = labels[:, 1:] != labels[:, :-1]
    return np.prod(np.where(first, _ODD_FACTORIAL[multiplicity], 1), axis=1)


def _index_grid(*sizes) -> list[np.ndarray]:
    """Every tuple of indices below ``sizes``, one flat array per position."""
    return [axis.ravel() for axis in np.indices(sizes)]


@functools.lru_cache(maxsize=None)
def one_step_error_moments(d: int, k: int) -> tuple[int, int, int]:
    """``(T_1, T_2, T_3)`` with ``E[(y_q - y_hat)^2] = T_1 - 2 (eta/k) T_2 + (eta/k)^2 T_3``, exactly.

    ``y_q = sum_i x_i w_i`` and ``k y_hat / eta = sum_{i, a, j} x_i X_ai X_aj w_j`` (``x = x_q``), so
    ``T_1 = E[y_q^2]``, ``T_2 = E[y_q k y_hat / eta]`` and ``T_3 = E[(k y_hat / eta)^2]``: sums over index
    tuples of means of monomials in the independent normals ``x_i`` (label ``i``), ``w_j``
    (``d + j``) and ``X_ai`` (``2d + a d + i``). ``d^4 k^2`` tuples for ``T_3``.
    """

    def x(i):
        return i

    def w(j):
        return d + j

    def entry(a, i):
        return 2 * d + a * d + i

    i, i2 = _index_grid(d, d)
    first = np.stack([x(i), w(i), x(i2), w(i2)], axis=1)
    i, i2, a2, j2 = _index_grid(d, d, k, d)
    second = np.stack([x(i), w(i), x(i2), entry(a2, i2), entry(a2, j2), w(j2)], axis=1)
    i, a, j, i2, a2, j2 = _index_grid(d, k, d, d, k, d)
    third = np.stack(
        [x(i), entry(a, i), entry(a, j), w(j), x(i2), entry(a2, i2), entry(a2, j2), w(j2)], axis=1
    )
    return tuple(int(gaussian_monomial_means(terms).sum()) for terms in (first, second, third))


def exact_one_step_risk(d: int, k: int, eta) -> np.ndarray:
    """``E[(y_q - y_hat)^2]`` at step ``eta`` (an array), from the exact moments of :func:`one_step_error_moments`."""
    T_1, T_2, T_3 = one_step_error_moments(d, k)
    scale = np.asarray(eta, dtype=float) / k
    return T_1 - 2 * scale * T_2 + scale**2 * T_3


@functools.lru_cache(maxsize=None)
def exact_trace_moments(d: int, k: int) -> tuple[int, int]:
    """``(E tr(X^T X), E tr((X^T X)^2))`` for ``X`` (``k x d``) with independent ``N(0, 1)`` entries, exactly.

    ``tr(X^T X) = sum_{a, i} X_ai^2`` and ``tr((X^T X)^2) = sum_{i, j, a, b} X_ai X_aj X_bi X_bj``.
    """
    a, i = _index_grid(k, d)
    first = np.stack([a * d + i, a * d + i], axis=1)
    i, j, a, b = _index_grid(d, d, k, k)
    second = np.stack([a * d + i, a * d + j, b * d + i, b * d + j], axis=1)
    return int(gaussian_monomial_means(first).sum()), int(gaussian_monomial_means(second).sum())


def simulated_risks(d: int, k: int, eta, seeds, draws: int, tasks: int = 4) -> np.ndarray:
    """Simulated ``E[(y_q - y_hat)^2 | w, X]``, ``(n, draws)``: draw ``t`` of instance ``i`` averages ``tasks`` tasks.

    Each draw simulates one context ``X`` (``k x d``) and ``tasks`` independent ``w``; for each, the
    labels ``y = X w`` and one explicit gradient step ``W_1 = (eta / k) X^T y``. The query is
    averaged exactly: for ``x_q ~ N(0, I_d)`` independent of ``w`` and ``X``, ``y_q - y_hat =
    x_q^T (w - W_1)`` has mean square ``||w - W_1||^2`` (this removes the query's chi-square factor,
    whose skew made the Monte Carlo test's lower tail heavy). Sharing ``X`` among a draw's tasks
    saves drawing it (``k d`` normals against ``d`` per task); the draws are independent. Each
    instance has its own random stream (``Generator(SFC64(seeds[i]))``), so its draws do not depend
    on the batch it is evaluated in; this loops over instances.
    """
    eta = np.asarray(eta, dtype=float)
    samples = np.empty((len(eta), draws))
    for number, (step, seed) in enumerate(zip(eta, seeds)):
        stream = np.random.Generator(np.random.SFC64(int(seed)))
        X = stream.standard_normal((draws, k, d))
        w = stream.standard_normal((draws, d, tasks))  # one column per task
        y = X @ w
        W_1 = (step / k) * (np.swapaxes(X, 1, 2) @ y)
        samples[number] = ((w - W_1) ** 2).sum(axis=1).mean(axis=1)
    return samples
