"""``chinchilla-frontier`` (seed 003, exercise 1.5): ``N = sqrt(C/(6 r))``, ``D = r N`` from ``C = 6 N D``.

The derivation (proofs.scaling.frontier) against the exercise's two equations, ``6 N D = C`` and
``D = r N``, solved together for ``(N, D)`` by a general-purpose solver (numerics.scaling.frontier;
never the derived one-variable equation ``6 r N^2 = C``), with the budget table from 10B to 1T
parameters and the compute-optimal frontier figure with Chinchilla, Gopher and Llama 3 marked.
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Real
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from checkers.results import Plot
from checkers.scaling import chinchilla_allocation, evaluated
from numerics.scaling.frontier import budget_split, frontier_figure
from proofs.scaling import HOFFMANN
from proofs.scaling.frontier import TOKENS_PER_PARAM_RULE, chinchilla_frontier as frontier_derivation

GOPHER = "Rae et al. 2021, Scaling Language Models: Methods, Analysis and Insights from Training Gopher"
LLAMA3 = "Grattafiori et al. (Llama Team, Meta) 2024, The Llama 3 Herd of Models"

TABLE_SIZES = (1e10, 3e10, 1e11, 3e11, 1e12)
"""Model sizes of the budget table: 10B to 1T parameters."""

PUBLISHED_MODELS = {
    "Chinchilla 70B, 1.4T": (70e9, 1.4e12),
    "Gopher 280B, 300B": (280e9, 300e9),
    "Llama 3 8B, 15T": (8e9, 15e12),
    "Llama 3 70B, 15T": (70e9, 15e12),
}
"""Parameters and training tokens as published (Hoffmann et al. 2022, table 1; Rae et al. 2021; Llama 3, section 3)."""


FRONTIER_ANCHORS = (
    Anchor(
        {"C": 1.2e24, "tokens_per_param": 20.0},
        [1e11, 2e12],
        "seed 003, solution 1.5: 120 N^2 = 1.2e24, N = 1e11 (100 billion parameters), D = 20 N = 2e12 (2 trillion tokens)",
        rtol=1e-14,
    ),
    Anchor(
        {"C": 1.23e22, "tokens_per_param": 20.51},
        [1e10, 2.051e11],
        "Hoffmann et al. 2022, table 3: 10 billion parameters, 1.23e22 FLOPs, 205.1 billion tokens (20.51 per parameter)",
        rtol=2.5e-3,
    ),
)
"""Printed values: exercise 1.5's exact answer (rtol 1e-14, float64 only), and a row of Hoffmann et al.'s
table 3, whose FLOPs are printed to 3 digits: 1.23e22 is known to 0.41 %, which moves ``N = sqrt(C/(6 r))``
and ``D`` by half that, 0.2 %; the printed tokens (205.1 billion, 4 digits) add 0.03 %. rtol 2.5e-3 covers the
rounding (the row agrees to 0.03 %: the table does spend ``C = 6 N D``)."""


def _frontier(closed_form, C, tokens_per_param):
    """The compiled closed form reads ``r``; the parameter is named ``tokens_per_param`` as in the catalog."""
    return closed_form(C=C, r=tokens_per_param)


def _frontier_with(budget_factor: float, swapped: bool = False):
    """A wrong frontier: the true closed form at ``budget_factor * C``, or with ``N`` and ``D`` exchanged."""

    def mutant(C, tokens_per_param):
        values = evaluated(chinchilla_frontier, C=budget_factor * C, tokens_per_param=tokens_per_param)
        return values[:, ::-1] if swapped else values

    return mutant


def _frontier_values(C, tokens_per_param):
    N, D = evaluated(chinchilla_frontier, C=C, tokens_per_param=tokens_per_param)
    sizes = np.array(TABLE_SIZES)
    return {
        "N": float(N),
        "D": float(D),
        "table_N": sizes.tolist(),
        "table_D": evaluated(chinchilla_frontier, "D_of_N", N=sizes, r=tokens_per_param).tolist(),
        "table_C": evaluated(chinchilla_frontier, "C_of_N", N=sizes, r=tokens_per_param).tolist(),
    }


def _frontier_figures(C, tokens_per_param):
    """The frontier of this theorem (at ``tokens_per_param``) beside the approach-3 fit's, with models marked."""
    budgets = np.logspace(21, 26, 101)
    rule = evaluated(chinchilla_frontier, C=budgets, tokens_per_param=tokens_per_param)
    allocation = evaluated(chinchilla_allocation, **{**chinchilla_allocation.default_params(), "C": budgets})
    frontiers = {
        f"$D = {tokens_per_param:g}\\,N$": (rule[:, 0], rule[:, 1]),
        "approach-3 fit": (allocation[:, 0], allocation[:, 1]),
    }
    figure = frontier_figure(budgets, frontiers, PUBLISHED_MODELS)
    caption = (
        f"Compute-optimal frontier: parameters and tokens against training compute $C = 6ND$, for "
        f"$D = {tokens_per_param:g} N$ (solid) and for Hoffmann et al.'s rounded approach-3 fit (dashed). "
        "Chinchilla lies on the 20-token line; Gopher is far too large for its budget; Llama 3 8B and 70B "
        "are trained far beyond it (about 1900 and 210 tokens per parameter) because inference, not "
        "training, dominates their cost (see inference-optimal)."
    )
    return [Plot(name="compute-optimal-frontier", caption=caption, figure=figure)]


chinchilla_frontier = Theorem(
    id="chinchilla-frontier",
    variants={"C": Real(1e21, 1e25, log=True), "tokens_per_param": Real(10.0, 40.0)},
    title="The Chinchilla frontier: parameters and tokens for a compute budget (Ex. 1.5)",
    topic="scaling",
    statement=(
        r"If training a model of $N$ parameters on $D$ tokens costs $C = 6 N D$ FLOPs and the model is trained "
        r"on $r$ tokens per parameter, $D = r N$, then $N = \sqrt{C/(6 r)}$ and $D = \sqrt{r C / 6}$; both grow as "
        r"$\sqrt{C}$. For Chinchilla's $r = 20$, $N = \sqrt{C/120}$: a budget of $C = 1.2 \times 10^{24}$ FLOPs "
        r"buys $N = 10^{11}$ parameters trained on $D = 2 \times 10^{12}$ tokens (exercise 1.5), and a model of "
        r"$N$ parameters costs $C = 6 r N^2$."
    ),
    assumptions=(
        r"training compute $C = 6 N D$ (forward and backward pass, Kaplan et al. 2020, section 2.1)",
        TOKENS_PER_PARAM_RULE,
        r"$C, r > 0$",
    ),
    sources=(
        f"{HOFFMANN}, section 3 and table 3",
        GOPHER,
        LLAMA3,
        "seed 003, exercise 1.5 and solution 1.5",
    ),
    parameters={
        "C": Real(1e15, 1e28, log=True, default=1.2e24),
        "tokens_per_param": Real(1.0, 1e4, log=True, default=20.0),
    },
    derivation=frontier_derivation,
    assemble=_frontier,
    oracle=budget_split,
    mutants={
        "C = N D (the 6 forgotten)": _frontier_with(6.0),
        "C = 2 N D (forward pass only)": _frontier_with(3.0),
        "N and D exchanged": _frontier_with(1.0, swapped=True),
    },
    anchors=FRONTIER_ANCHORS,
    tolerance=Deterministic(
        rtol=1e-14,
        atol=0.0,
        reason=(
            "claim: sqrt(6) sqrt(C) / (6 sqrt(r)) and its D twin take 5 correctly rounded operations, each "
            "adding at most u = 1.1e-16 relative (a square root halves its argument's error): at most 6e-16; "
            "rtol 1e-14 leaves a factor 15. Oracle: returns its own accuracy (numerics.scaling.frontier."
            "budget_split), a posteriori: the two equations' logarithmic mismatches at its solution are linear in "
            "(ln N, ln D), so they bound its distance from the exact solution, plus 8 eps of their own rounding "
            "(at most 6e-15 relative over the domain)"
        ),
    ),
    values=_frontier_values,
    questions={
        "N": (
            r"Training a model of $N$ parameters on $D$ tokens costs $C = 6 N D$ FLOPs, and the model is trained on "
            r"$r$ = \texttt{tokens\_per\_param} tokens per parameter, $D = r N$. Express $N$ through $C$ and $r$, "
            r"and find $N$ for the given budget $C$."
        ),
        "D": r"How many training tokens $D$ does that model see?",
        "table_C": (
            r"What budget $C$ does a model trained by the same rule need at $N = 10^{10}$, $3 \times 10^{10}$, "
            r"$10^{11}$, $3 \times 10^{11}$ and $10^{12}$ parameters?"
        ),
    },
    figures=_frontier_figures,
)
