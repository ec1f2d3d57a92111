"""The inference-optimal allocation, numerically (numpy / scipy / matplotlib only; no closed forms).

* :func:`inference_optimal_allocation`: minimise the lifetime cost ``6 N D + 2 N D_inf`` over
  the models that reach the loss of a reference model ``(N_ref, D_ref)`` under
  ``L = E + A N^-alpha + B D^-beta`` (Sardana et al. 2023), for a whole batch at once.
* :func:`increasing_root`: the root of a batch of increasing functions of ``ln x`` (NaN where
  there is none).
* :func:`inference_figure`: how the optimum moves with the inference demand ``D_inf``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import elementwise
from scipy.special import expit, log_expit

from numerics.scaling import checked_arrays, log_sum_exp, minimise_smooth, parametric_loss

EPS = np.finfo(float).eps


def reducible_loss(N, D, A, B, alpha, beta):
    """``A N^-alpha + B D^-beta``: the loss above its floor ``E`` (Hoffmann et al. 2022, eq. 2)."""
    N, D, A, B, alpha, beta = checked_arrays({"N": N, "D": D, "A": A, "B": B}, {"alpha": alpha, "beta": beta})
    return parametric_loss(N, D, A, B, 0.0, alpha, beta)


def _log_sizes(s, A, B, R, alpha, beta):
    """``ln N`` and ``ln D`` of the model whose size term carries the share ``t = expit(s)`` of the reducible loss ``R``.

    ``A N^-alpha = t R`` and ``B D^-beta = (1 - t) R``: every real ``s`` is a model of loss ``E + R``.
    Working in ``s = logit(t)`` keeps ``ln t = -ln(1 + e^-s)`` and ``ln(1 - t) = -ln(1 + e^s)``
    accurate near both ends; written with :func:`~numerics.scaling.log_sum_exp`, they take complex ``s``.
    """
    log_t, log_t_complement = -log_sum_exp(0.0, -s), -log_sum_exp(0.0, s)
    return (np.log(A) - log_t - np.log(R)) / alpha, (np.log(B) - log_t_complement - np.log(R)) / beta


def log_lifetime_cost(s, A, B, R, alpha, beta, D_inf):
    """``ln(6 N D + 2 N D_inf)`` for the model of reducible loss ``R`` at share ``s`` (complex ``s`` allowed)."""
    log_N, log_D = _log_sizes(s, A, B, R, alpha, beta)
    return log_N + log_sum_exp(np.log(6) + log_D, np.log(2 * D_inf))


def inference_optimal_allocation(A, B, alpha, beta, N_ref, D_ref, D_inf):
    """``(values, accuracy)``, both ``(n, 3)``: rows ``(N, D, cost)`` of the cheapest model as good as the reference.

    The models of the reference's loss are parametrised by the share ``t = expit(s)`` of the
    reducible loss due to model size (:func:`_log_sizes`); the logarithm of the lifetime cost
    along them (:func:`log_lifetime_cost`) is minimised for all instances at once by
    :func:`numerics.scaling.minimise_smooth` (scipy's bracketing minimiser on its values, then
    Newton's method with complex-step slopes). No Lagrange condition is used.

    ``accuracy``: the slope of ``ln cost`` in ``s``, times ``alpha beta``, is
    ``-beta (1 - t) + alpha t w`` with ``w = 6 D/(6 D + 2 D_inf)``; its terms are rounded to
    4 ulps each, and ``w`` depends on ``z = ln 3D - ln D_inf``, whose absolute error ``e_z`` comes
    from the logarithms (``4 eps (|ln D| + |ln D_inf| + 2)`` plus ``ln D``'s own
    ``e_D = 4 eps (|ln B| + |ln(1-t)| + |ln R| + 2)/beta``) and moves ``w`` by at most
    ``w (1 - w) e_z``. That scaled slope rises in ``s`` at rate at least ``t (1 - t) (beta + alpha w)``,
    so ``s`` is off by ``delta``: the last Newton correction plus twice the rounding over that
    rate. Then ``ln N`` is off by ``(delta (1 - t) + 4 eps (|ln A| + |ln t| + |ln R| + 2))/alpha``
    and ``ln D`` by ``delta t / beta + e_D``; ``N`` and ``D`` carry these as relative errors (plus
    ``2 eps |ln x|`` from the exponential), and the cost the sum of both plus 4 ulps (a first-order
    bound: the cost is stationary along the curve, so this overstates it).
    """
    A, B, N_ref, D_ref, D_inf, alpha, beta = checked_arrays(
        {"A": A, "B": B, "N_ref": N_ref, "D_ref": D_ref, "D_inf": D_inf}, {"alpha": alpha, "beta": beta}
    )
    R = A * N_ref**-alpha + B * D_ref**-beta
    s, correction = minimise_smooth(log_lifetime_cost, np.zeros_like(R), (A, B, R, alpha, beta, D_inf))
    t, t_complement = expit(s), expit(-s)
    log_N, log_D = _log_sizes(s, A, B, R, alpha, beta)
    w = expit(np.log(3) + log_D - np.log(D_inf))
    error_log_D = 4 * EPS * (np.abs(np.log(B)) + np.abs(log_expit(-s)) + np.abs(np.log(R)) + 2) / beta
    error_z = 4 * EPS * (np.abs(log_D) + np.abs(np.log(D_inf)) + 2) + error_log_D
    rounding = 4 * EPS * (beta * t_complement + alpha * t * w) + alpha * t * w * (1 - w) * error_z
    rate = t * t_complement * (beta + alpha * w)
    delta = correction + 2 * rounding / rate
    error_log_N = (delta * t_complement + 4 * EPS * (np.abs(np.log(A)) + np.abs(log_expit(s)) + np.abs(np.log(R)) + 2)) / alpha
    relative_N = np.expm1(error_log_N) + 2 * EPS * np.abs(log_N)
    relative_D = np.expm1(delta * t / beta + error_log_D) + 2 * EPS * np.abs(log_D)
    N, D = np.exp(log_N), np.exp(log_D)
    cost = 6 * N * D + 2 * N * D_inf
    values = np.stack([N, D, cost], axis=-1)
    relative = np.stack([relative_N, relative_D, relative_N + relative_D + 4 * EPS], axis=-1)
    return values, relative * values


def increasing_root(function, guess, args=()) -> np.ndarray:
    """The roots ``x`` of a batch of increasing functions ``function(ln x, *args)``; NaN where there is none.

    :func:`scipy.optimize.elementwise.bracket_root` widens ``ln guess +- 1`` until the sign
    changes; :func:`~scipy.optimize.elementwise.find_root` (Chandrupatla) shrinks the bracket to
    a relative width of ``4 eps`` (no function-value tolerance). Where no sign change is found, or
    the search does not converge, the root is NaN: the function has none there.
    """
    start = np.log(np.asarray(guess, dtype=float))
    bracket = elementwise.bracket_root(function, start - 1, start + 1, args=args)
    tolerances = {"xatol": 0.0, "xrtol": 4 * EPS, "fatol": 0.0, "frtol": 0.0}
    found = elementwise.find_root(function, bracket.bracket, args=args, tolerances=tolerances)
    return np.where(bracket.success & found.success, np.exp(found.x), np.nan)


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
