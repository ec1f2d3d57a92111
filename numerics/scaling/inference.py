"""The inference-optimal allocation, numerically (numpy / scipy / matplotlib only; no closed forms).

* :func:`inference_optimal_allocation`: minimise the lifetime cost ``6 N D + 2 N D_inf`` over
  the models that reach the loss of a reference model ``(N_ref, D_ref)`` under
  ``L = E + A N^-alpha + B D^-beta`` (Sardana et al. 2023), for a whole batch at once.
* :func:`increasing_root`: the root of a batch of increasing functions of ``ln x``.
* :func:`inference_figure`: how the optimum moves with the inference demand ``D_inf``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit

from numerics.scaling import bracketed_root, checked_arrays, parametric_loss

EPS = np.finfo(float).eps


def reducible_loss(N, D, A, B, alpha, beta):
    """``A N^-alpha + B D^-beta``: the loss above its floor ``E`` (Hoffmann et al. 2022, eq. 2)."""
    N, D, A, B, alpha, beta = checked_arrays({"N": N, "D": D, "A": A, "B": B}, {"alpha": alpha, "beta": beta})
    return parametric_loss(N, D, A, B, 0.0, alpha, beta)


def _log_sizes(s, A, B, R, alpha, beta):
    """``ln N`` and ``ln D`` of the model whose size term carries the share ``t = expit(s)`` of the reducible loss ``R``.

    ``A N^-alpha = t R`` and ``B D^-beta = (1 - t) R``: every real ``s`` is a model of loss ``E + R``.
    Working in ``s = logit(t)`` keeps ``ln t`` and ``ln(1 - t)`` accurate near both ends.
    """
    return (np.log(A) - log_expit(s) - np.log(R)) / alpha, (np.log(B) - log_expit(-s) - np.log(R)) / beta


def _cost_slope(s, A, B, R, alpha, beta, D_inf):
    """``alpha beta t (1 - t) d ln(cost)/dt`` along the iso-loss curve at ``t = expit(s)``, by the chain rule.

    ``ln cost = ln N + ln(6 D + 2 D_inf)``, ``d ln N/dt = -1/(alpha t)``, ``d ln D/dt = 1/(beta (1 - t))``,
    and ``6 D/(6 D + 2 D_inf) = expit(ln 3D - ln D_inf)``. The result, ``-beta (1 - t) + alpha t w``,
    rises from ``-beta`` to ``alpha`` as ``s`` runs over the reals: one root, the minimum.
    """
    _, log_D = _log_sizes(s, A, B, R, alpha, beta)
    w = expit(np.log(3) + log_D - np.log(D_inf))
    return -beta * expit(-s) + alpha * expit(s) * w


def inference_optimal_allocation(A, B, alpha, beta, N_ref, D_ref, D_inf):
    """``(values, accuracy)``, both ``(n, 3)``: rows ``(N, D, cost)`` of the cheapest model as good as the reference.

    The models of the reference's loss are parametrised by the share ``t = expit(s)`` of the
    reducible loss due to model size; :func:`scipy.optimize.elementwise.bracket_root` and
    ``find_root`` (Chandrupatla, terminating on the bracket width) find where the lifetime cost
    stops falling, for all instances at once. No Lagrange condition is used.

    ``accuracy``: the slope's terms are rounded to 4 ulps each; ``w`` depends on
    ``z = ln 3D - ln D_inf``, whose absolute error ``e_z`` comes from the logarithms
    (``4 eps (|ln D| + |ln D_inf| + 2)`` plus ``ln D``'s own ``e_D = 4 eps (|ln B| + |ln(1-t)| + |ln R| + 2)/beta``),
    and moves ``w`` by at most ``w (1 - w) e_z``. The slope rises in ``s`` at rate at least
    ``t (1 - t) (beta + alpha w)``, so ``s`` is off by ``delta`` = bracket width plus twice the
    rounding over that rate. Then ``ln N`` is off by ``(delta (1 - t) + 4 eps (|ln A| + |ln t| + |ln R| + 2))/alpha``
    and ``ln D`` by ``delta t / beta + e_D``; ``N`` and ``D`` carry these as relative errors (plus
    ``2 eps |ln x|`` from the exponential), and the cost the sum of both plus 4 ulps (a first-order
    bound: the cost is stationary along the curve, so this overstates it).
    """
    A, B, N_ref, D_ref, D_inf, alpha, beta = checked_arrays(
        {"A": A, "B": B, "N_ref": N_ref, "D_ref": D_ref, "D_inf": D_inf}, {"alpha": alpha, "beta": beta}
    )
    R = reducible_loss(N_ref, D_ref, A, B, alpha, beta)
    arguments = (A, B, R, alpha, beta, D_inf)
    s, width = bracketed_root(_cost_slope, np.zeros_like(R), arguments, xatol=4 * EPS)
    t, t_complement = expit(s), expit(-s)
    log_N, log_D = _log_sizes(s, A, B, R, alpha, beta)
    w = expit(np.log(3) + log_D - np.log(D_inf))
    error_log_D = 4 * EPS * (np.abs(np.log(B)) + np.abs(log_expit(-s)) + np.abs(np.log(R)) + 2) / beta
    error_z = 4 * EPS * (np.abs(log_D) + np.abs(np.log(D_inf)) + 2) + error_log_D
    rounding = 4 * EPS * (beta * t_complement + alpha * t * w) + alpha * t * w * (1 - w) * error_z
    rate = t * t_complement * (beta + alpha * w)
    delta = width + 2 * rounding / rate
    error_log_N = (delta * t_complement + 4 * EPS * (np.abs(np.log(A)) + np.abs(log_expit(s)) + np.abs(np.log(R)) + 2)) / alpha
    relative_N = np.expm1(error_log_N) + 2 * EPS * np.abs(log_N)
    relative_D = np.expm1(delta * t / beta + error_log_D) + 2 * EPS * np.abs(log_D)
    N, D = np.exp(log_N), np.exp(log_D)
    cost = 6 * N * D + 2 * N * D_inf
    values = np.stack([N, D, cost], axis=-1)
    relative = np.stack([relative_N, relative_D, relative_N + relative_D + 4 * EPS], axis=-1)
    return values, relative * values


def increasing_root(function, guess, args=()):
    """The root ``x`` of increasing functions ``function(ln x, *args)`` for a batch, and its bracket width in ``ln x``.

    :func:`scipy.optimize.elementwise.bracket_root` from ``ln guess +- 1``, then ``find_root``
    to a relative width of 4 eps; ValueError if ``guess`` is not positive.
    """
    (guess,) = checked_arrays({"guess": guess}, {})
    log_x, width = bracketed_root(function, np.log(guess), args)
    return np.exp(log_x), width


def inference_figure(D_inf, N, D, N_reference, D_reference) -> Figure:
    """Optimal parameters and tokens per parameter against the inference demand, the reference marked."""
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    (D_inf, N, D) = checked_arrays({"D_inf": D_inf, "N": N, "D": D}, {})
    figure = Figure(figsize=(7.5, 3.0))
    size_axes, ratio_axes = figure.subplots(1, 2, sharex=True)
    size_axes.loglog(D_inf, N, "-", color="black", label="inference-optimal")
    size_axes.axhline(N_reference, color="gray", linestyle=":", label="reference model")
    ratio_axes.loglog(D_inf, D / N, "-", color="black", label="inference-optimal")
    ratio_axes.axhline(D_reference / N_reference, color="gray", linestyle=":", label="reference model")
    size_axes.set(xlabel=r"inference tokens $D_{\mathrm{inf}}$", ylabel="parameters $N$")
    ratio_axes.set(xlabel=r"inference tokens $D_{\mathrm{inf}}$", ylabel="tokens per parameter $D/N$")
    for axes in (size_axes, ratio_axes):
        axes.grid(True, which="major", linewidth=0.3)
        axes.legend(fontsize=7)
    figure.tight_layout()
    return figure
