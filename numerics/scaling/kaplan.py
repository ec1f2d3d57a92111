"""Kaplan et al.'s joint scaling law, numerically (numpy / scipy only; no closed forms).

* :func:`kaplan_loss`: ``L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D``
  (Kaplan et al. 2020, eq. 1.5), evaluated in logarithms so no power overflows.
* :func:`kaplan_allocation`: its numerical minimisation along ``C = 6 N D`` for a whole batch,
  with the accuracy of each value.
"""

from __future__ import annotations

import numpy as np

from numerics.scaling import checked_arrays, log_sum_exp, minimise_smooth

EPS = np.finfo(float).eps


def _log_terms(log_N, log_D, N_c, D_c, alpha_N, alpha_D):
    """The logarithms ``x1 = p ln(N_c/N)``, ``x2 = ln(D_c/D)`` of the bracket's two terms, ``p = alpha_N/alpha_D``."""
    return alpha_N / alpha_D * (np.log(N_c) - log_N), np.log(D_c) - log_D


def kaplan_loss(N, D, N_c, D_c, alpha_N, alpha_D):
    """``[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D`` (Kaplan et al. 2020, eq. 1.5), elementwise."""
    N, D, N_c, D_c, alpha_N, alpha_D = checked_arrays(
        {"N": N, "D": D, "N_c": N_c, "D_c": D_c}, {"alpha_N": alpha_N, "alpha_D": alpha_D}
    )
    x1, x2 = _log_terms(np.log(N), np.log(D), N_c, D_c, alpha_N, alpha_D)
    return np.exp(alpha_D * np.logaddexp(x1, x2))


def log_loss_along_budget(u, C, N_c, D_c, alpha_N, alpha_D):
    """``ln L`` at ``N = e^u``, ``D = C/(6N)``: the joint law's logarithm along the budget (complex ``u`` allowed).

    The logarithm is a strictly increasing map, so it has the loss's minimiser; taking it keeps
    every power finite (``alpha_N/alpha_D`` reaches 99 in the domain).
    """
    x1, x2 = _log_terms(u, np.log(C / 6) - u, N_c, D_c, alpha_N, alpha_D)
    return alpha_D * log_sum_exp(x1, x2)


def kaplan_allocation(C, N_c, D_c, alpha_N, alpha_D):
    """Minimise the joint law on ``6 N D = C`` numerically; ``(values, accuracy)``, both ``(n, 3)``.

    Each row of ``values`` is ``(N, D, L)`` at the minimiser of :func:`log_loss_along_budget` in
    ``u = ln N``, found for all instances together by :func:`numerics.scaling.minimise_smooth`
    from the equal split ``N = D`` (scipy's bracketing minimiser on the values, then Newton's
    method with complex-step slopes). No stationarity condition is written here.

    ``accuracy``: ``ln L / alpha_D = ln(e^x1 + e^x2)`` depends on ``u`` through ``d = x2 - x1``
    only, with ``dd/du = 1 + p``; its slope is ``w2 - p w1`` (``w`` the softmax weights of the
    two terms), and its curvature at the minimiser is ``p``. The computed ``d`` carries an
    absolute error ``e_d <= 4 eps (p (|ln N_c| + |u|) + |ln D_c| + |ln(C/6)| + |u| + 2)`` (the
    logarithms' rounding), which shifts the computed slope's root by ``e_d/(1 + p)``, and the
    complex-step slope its own ``4 eps (w2 + p w1) = 8 eps p/(1 + p)``, which shifts it by
    ``8 eps/(1 + p)``. With ``delta`` the last Newton correction plus twice both, ``N`` and ``D``
    are relatively accurate to ``expm1(delta)`` plus 2 ulps; ``L``, stationary at the root, to its
    own rounding ``alpha_D (e_d + 4 eps (|x1| + |x2| + 1))`` plus
    ``alpha_D (1 + p)^2 delta^2`` (its curvature in ``u`` is at most ``alpha_D (1 + p)^2 / 4`` times ``L``).
    """
    C, N_c, D_c, alpha_N, alpha_D = checked_arrays(
        {"C": C, "N_c": N_c, "D_c": D_c}, {"alpha_N": alpha_N, "alpha_D": alpha_D}
    )
    arguments = (C, N_c, D_c, alpha_N, alpha_D)
    u, correction = minimise_smooth(log_loss_along_budget, 0.5 * np.log(C / 6), arguments)
    p = alpha_N / alpha_D
    N = np.exp(u)
    D = C / (6 * N)
    x1, x2 = _log_terms(u, np.log(D), N_c, D_c, alpha_N, alpha_D)
    rounding_d = 4 * EPS * (p * (np.abs(np.log(N_c)) + np.abs(u)) + np.abs(np.log(D_c)) + np.abs(np.log(C / 6)) + np.abs(u) + 2)
    delta = correction + 2 * (rounding_d + 8 * EPS) / (1 + p)
    L = np.exp(alpha_D * np.logaddexp(x1, x2))
    relative = np.expm1(delta) + 2 * EPS
    loss_relative = alpha_D * (rounding_d + 4 * EPS * (np.abs(x1) + np.abs(x2) + 1)) + alpha_D * (1 + p) ** 2 * delta**2
    accuracy = np.stack([relative * N, relative * D, loss_relative * L], axis=-1)
    return np.stack([N, D, L], axis=-1), accuracy
