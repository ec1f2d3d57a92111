"""Kaplan et al.'s joint scaling law, numerically (numpy / scipy only; no closed forms).

* :func:`kaplan_loss`: ``L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D``
  (Kaplan et al. 2020, eq. 1.5), evaluated in logarithms so no power overflows.
* :func:`kaplan_allocation`: its numerical minimisation along ``C = 6 N D`` for a whole batch,
  with the accuracy of each value.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from numerics.scaling import bracketed_root, checked_arrays

EPS = np.finfo(float).eps


def _log_terms(N, D, N_c, D_c, alpha_N, alpha_D):
    """The logarithms ``x1 = p ln(N_c/N)``, ``x2 = ln(D_c/D)`` of the bracket's two terms, ``p = alpha_N/alpha_D``."""
    return alpha_N / alpha_D * (np.log(N_c) - np.log(N)), np.log(D_c) - np.log(D)


def kaplan_loss(N, D, N_c, D_c, alpha_N, alpha_D):
    """``[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D`` (Kaplan et al. 2020, eq. 1.5), elementwise."""
    N, D, N_c, D_c, alpha_N, alpha_D = checked_arrays(
        {"N": N, "D": D, "N_c": N_c, "D_c": D_c}, {"alpha_N": alpha_N, "alpha_D": alpha_D}
    )
    x1, x2 = _log_terms(N, D, N_c, D_c, alpha_N, alpha_D)
    return np.exp(alpha_D * np.logaddexp(x1, x2))


def _log_loss_slope(u, C, N_c, D_c, alpha_N, alpha_D):
    """``(d ln L / du) / alpha_D`` along ``D = C/(6N)``, ``N = e^u``, by the chain rule.

    ``ln L = alpha_D ln(e^x1 + e^x2)`` with ``dx1/du = -p`` and ``dx2/du = +1`` (``ln D`` falls
    as ``ln N`` rises), so the slope is ``w2 - p w1`` with ``(w1, w2)`` the softmax of
    ``(x1, x2)``, written with ``expit`` of their difference so nothing overflows. It rises
    from ``-p`` to ``1`` as ``u`` grows, so a sign change brackets the one minimum.
    """
    N = np.exp(u)
    x1, x2 = _log_terms(N, C / (6 * N), N_c, D_c, alpha_N, alpha_D)
    p = alpha_N / alpha_D
    return expit(x2 - x1) - p * expit(x1 - x2)


def kaplan_allocation(C, N_c, D_c, alpha_N, alpha_D):
    """Minimise the joint law on ``6 N D = C`` numerically; ``(values, accuracy)``, both ``(n, 3)``.

    Each row of ``values`` is ``(N, D, L)`` at the minimiser, found for all instances together
    by :func:`scipy.optimize.elementwise.bracket_root` (from the equal split ``N = D``) and
    ``find_root`` on the slope of ``ln L`` in ``u = ln N``, terminating on the bracket width.

    ``accuracy``: the slope depends on ``d = x2 - x1`` only, with ``dd/du = 1 + p``; near the
    root it rises with slope ``p`` in ``u``. The computed ``d`` carries an absolute error
    ``e_d <= 4 eps (p (|ln N_c| + |u|) + |ln D_c| + |ln C| + |u| + 2)`` (the logarithms'
    rounding) and the slope itself ``2 eps (1 + p)``, so the root in ``u`` is off by at most
    ``e_d/(1 + p) + 2 eps (1 + p)/p``; ``delta`` is the final bracket width plus twice that.
    ``N`` and ``D`` are then relatively accurate to ``expm1(delta)`` plus 2 ulps; ``L``,
    stationary at the root, to its own rounding ``alpha_D (e_d + 4 eps (|x1| + |x2| + 1))``
    plus ``alpha_D (1 + p)^2 delta^2`` (its curvature in ``u`` is at most ``alpha_D (1 + p)^2 / 4``
    times ``L``).
    """
    C, N_c, D_c, alpha_N, alpha_D = checked_arrays(
        {"C": C, "N_c": N_c, "D_c": D_c}, {"alpha_N": alpha_N, "alpha_D": alpha_D}
    )
    arguments = (C, N_c, D_c, alpha_N, alpha_D)
    equal_split = 0.5 * np.log(C / 6)
    u, width = bracketed_root(_log_loss_slope, equal_split, arguments)
    p = alpha_N / alpha_D
    N = np.exp(u)
    D = C / (6 * N)
    x1, x2 = _log_terms(N, D, N_c, D_c, alpha_N, alpha_D)
    rounding_d = 4 * EPS * (p * (np.abs(np.log(N_c)) + np.abs(u)) + np.abs(np.log(D_c)) + np.abs(np.log(C)) + np.abs(u) + 2)
    delta = width + 2 * (rounding_d / (1 + p) + 2 * EPS * (1 + p) / p)
    L = np.exp(alpha_D * np.logaddexp(x1, x2))
    relative = np.expm1(delta) + 2 * EPS
    loss_relative = alpha_D * (rounding_d + 4 * EPS * (np.abs(x1) + np.abs(x2) + 1)) + alpha_D * (1 + p) ** 2 * delta**2
    accuracy = np.stack([relative * N, relative * D, loss_relative * L], axis=-1)
    return np.stack([N, D, L], axis=-1), accuracy
