"""The Chinchilla frontier of exercise 1.5, numerically (numpy / scipy / matplotlib only; no closed forms).

* :func:`budget_split`: the model size ``N`` and data ``D = r N`` that spend a budget
  ``C = 6 N D`` exactly, by root finding in ``u = ln N`` for a whole batch at once.
* :func:`frontier_figure`: the compute-optimal frontier ``N(C)``, ``D(C)`` on log axes with
  published models marked (Hoffmann et al. 2022; Rae et al. 2021; Meta 2024).
"""

from __future__ import annotations

import numpy as np

from numerics.scaling import bracketed_root, checked_arrays

EPS = np.finfo(float).eps


def _budget_residual(u, C, tokens_per_param):
    """``6 N D / C - 1`` at ``N = e^u``, ``D = r N``: zero where the split spends the budget."""
    N = np.exp(u)
    return 6 * N * (tokens_per_param * N) / C - 1


def budget_split(C, tokens_per_param):
    """``(values, accuracy)``, both ``(n, 2)``: rows ``(N, D)`` with ``6 N D = C`` and ``D = r N``.

    :func:`scipy.optimize.elementwise.bracket_root` and ``find_root`` (Chandrupatla, terminating
    on the bracket width alone) solve ``6 N (r N) / C = 1`` in ``u = ln N`` for all instances.
    Accuracy: the residual is computed to within 4 ulps and rises with slope 2 in ``u`` near the
    root, so its sign is right once ``|u - u*| > 2 eps``; with ``delta`` the final bracket width
    plus twice that, ``N = e^u`` and ``D = r N`` are relatively accurate to ``expm1(delta)``
    plus 2 ulps of their own rounding.
    """
    C, tokens_per_param = checked_arrays({"C": C, "tokens_per_param": tokens_per_param})
    guess = 0.5 * np.log(C / 6)
    u, width = bracketed_root(_budget_residual, guess, (C, tokens_per_param))
    relative = np.expm1(width + 4 * EPS) + 2 * EPS
    N = np.exp(u)
    D = tokens_per_param * N
    values = np.stack([N, D], axis=-1)
    return values, relative[:, None] * values


def frontier_figure(C, frontiers, models) -> Figure:
    """Model size and training tokens against compute on log axes, with published models marked.

    ``C`` is the grid of budgets; ``frontiers`` maps a legend label to ``(N, D)`` arrays on that
    grid; ``models`` maps a model's name to its ``(N, D)``, drawn at its compute ``6 N D``.
    """
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    (C,) = checked_arrays({"C": C})
    figure = Figure(figsize=(7.5, 3.4))
    size_axes, data_axes = figure.subplots(1, 2, sharex=True)
    styles = ("-", "--", ":", "-.")
    for (label, (N, D)), style in zip(frontiers.items(), styles):
        size_axes.loglog(C, N, style, color="black", label=label)
        data_axes.loglog(C, D, style, color="black", label=label)
    markers = ("o", "s", "^", "D", "v", "P")
    for (name, (N, D)), marker in zip(models.items(), markers):
        compute = 6 * N * D
        size_axes.loglog([compute], [N], marker, linestyle="none", label=name)
        data_axes.loglog([compute], [D], marker, linestyle="none", label=name)
    size_axes.set(xlabel="training compute $C$ (FLOPs)", ylabel="parameters $N$")
    data_axes.set(xlabel="training compute $C$ (FLOPs)", ylabel="training tokens $D$")
    for axes in (size_axes, data_axes):
        axes.grid(True, which="major", linewidth=0.3)
    data_axes.legend(fontsize=6.5, loc="upper left")
    figure.tight_layout()
    return figure
