"""The Chinchilla frontier of exercise 1.5, numerically (numpy / scipy / matplotlib only; no closed forms).

* :func:`budget_split`: the model size ``N`` and data ``D`` that satisfy both of the exercise's
  equations, ``6 N D = C`` and ``D = r N``, solved together by a general-purpose solver.
* :func:`frontier_figure`: the compute-optimal frontier ``N(C)``, ``D(C)`` on log axes with
  published models marked (Hoffmann et al. 2022; Rae et al. 2021; Meta 2024).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import root

from numerics.scaling import checked_arrays

EPS = np.finfo(float).eps


def _mismatches(logs, C, tokens_per_param):
    """The two equations as logarithmic mismatches, ``ln(6 N D / C)`` and ``ln(D / (r N))``, at ``(N, D) = e^logs``.

    Both sides of each equation are positive, so each holds exactly where its mismatch is 0; in
    logarithms the mismatches are linear in ``(ln N, ln D)``, which keeps the solver's steps exact
    (as relative differences, ``D/(rN) - 1``, the curvature stalls MINPACK's trust region).
    """
    N, D = np.exp(logs)
    return np.log(np.array([6 * N * D / C, D / (tokens_per_param * N)]))


def budget_split(C, tokens_per_param):
    """``(values, accuracy)``, both ``(n, 2)``: rows ``(N, D)`` with ``6 N D = C`` and ``D = r N``.

    The two equations are solved together for ``(ln N, ln D)`` by MINPACK's hybrid Powell method
    (:func:`scipy.optimize.root`), from the equal split ``N = D = sqrt(C/6)``; the one-variable
    equation ``6 r N^2 = C`` that the derivation solves is never formed. A loop over instances:
    ``root`` solves one system at a time.

    Accuracy, a posteriori: at the returned point the two mismatches,
    ``rho_1 = ln(6 N D / C)`` and ``rho_2 = ln(D / (r N))``, are linear in ``(ln N, ln D)``
    (``ln N + ln D - ln(C/6)`` and ``ln D - ln N - ln r``), so the exact solution lies at
    ``ln N - (rho_1 - rho_2)/2``, ``ln D - (rho_1 + rho_2)/2``. Each computed ``rho`` is within
    ``8 eps`` of its exact value (the exponentials, three products and the logarithm), so ``ln N``
    and ``ln D`` are each off by at most ``delta = (|rho_1| + |rho_2|)/2 + 8 eps``, and ``N``, ``D``
    by a relative ``expm1(delta)`` plus an ulp of their own rounding.
    """
    C, tokens_per_param = checked_arrays({"C": C, "tokens_per_param": tokens_per_param})
    logs = np.empty((len(C), 2))
    for i, (budget, ratio) in enumerate(zip(C, tokens_per_param)):
        equal_split = np.full(2, 0.5 * np.log(budget / 6))
        solved = root(_mismatches, equal_split, args=(budget, ratio), method="hybr", options={"xtol": 4 * EPS})
        if not np.all(np.isfinite(solved.x)):
            raise ArithmeticError(f"budget_split: no solution found for C = {budget:g}, r = {ratio:g}")
        logs[i] = solved.x
    mismatch = _mismatches(logs.T, C, tokens_per_param)
    delta = 0.5 * np.abs(mismatch).sum(axis=0) + 8 * EPS
    values = np.exp(logs)
    relative = np.expm1(delta) + EPS
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
