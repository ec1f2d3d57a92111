"""``turing-completeness``: a hard-attention transformer simulates a Turing machine step by step, exactly.

The claim is the transformer of numerics.attention.turing (after Pérez, Barceló, Marinković
2021): its configurations after every step, read off its residual stream. The oracle is a
direct simulation of the machine. There is no closed form to compile, so the theorem gives
``claim=``; the reason the construction works (the hard-attention selection of the most recent
write, and the ReLU match detector) is proved in proofs.attention.turing, and those derivations
are the theorem's ``lemmas=``: checked, counted and shown with it.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.sampling import single_instance
from checkers.theorem import Theorem
from checkers.results import Plot
from numerics.attention.turing import (
    direct_configurations,
    random_machines,
    transformer_configurations,
    transformer_run,
    transformer_tape_history,
)
from proofs.attention.turing import PEREZ, match_detector, most_recent_write

PEREZ_2019 = "Perez, Marinkovic, Barcelo 2019, On the Turing Completeness of Modern Neural Network Architectures (ICLR)"


def _variant(**mistake):
    """The transformer with one plausible mistake in its construction."""

    def mutant(delta, steps):
        return transformer_configurations(delta, steps, **mistake)

    return mutant


def _lemma_values() -> dict:
    """The selection lemma's score argument, and the steps proved in it and the match detector (a failing step raises)."""
    selection, detector = most_recent_write(), match_detector()
    return {
        "score_argument": sp.latex(selection.expression("score_argument")),
        "lemma_steps_proved": selection.counts()["proved"] + detector.counts()["proved"],
    }


def _trace_values(steps, delta):
    """The example run as the transformer decodes it (the oracle confirms the same instance)."""
    machine_states, heads, reads, tape = transformer_run(delta, steps)
    return {
        "delta": np.asarray(delta).tolist(),
        "states": [int(s) for s in machine_states],
        "heads": [int(h) for h in heads],
        "reads": [int(r) for r in reads],
        "tape": [int(c) for c in tape],
        **_lemma_values(),
    }


def _space_time_figure(seed, states, symbols, steps):
    """The example machine's tape after every step, as the transformer reads it, with the head's cell marked."""
    from matplotlib.figure import Figure

    params = {"states": states, "symbols": symbols, "steps": steps}
    delta = single_instance(turing_completeness, params, seed).inputs["delta"][0]
    history = np.array(transformer_tape_history(delta, steps), dtype=float)
    heads = transformer_run(delta, steps)[1]
    figure = Figure(figsize=(5.0, 3.2))
    axes = figure.add_subplot()
    extent = (-steps - 0.5, steps + 0.5, steps + 0.5, -0.5)
    image = axes.imshow(history, cmap="Greys", vmin=0, vmax=symbols - 1, extent=extent, aspect="auto")
    axes.plot([float(h) for h in heads], range(steps + 1), "o", color="C3", markersize=4, label="head")
    visited = [int(h) for h in heads]
    axes.set_xlim(max(-steps, min(visited) - 3) - 0.5, min(steps, max(visited) + 3) + 0.5)  # the cells that matter
    axes.set_xlabel("tape cell")
    axes.set_ylabel("step t")
    axes.legend(fontsize=7, loc="lower right")
    figure.colorbar(image, ax=axes, ticks=range(symbols), label="symbol")
    figure.tight_layout()
    caption = (
        f"The example machine's tape after each of its {steps} steps, each cell read by the transformer's "
        "hard-attention head (a probe query at that cell over the tokens decoded so far); dots mark the head."
    )
    return [Plot(name="space-time", caption=caption, figure=figure)]


turing_completeness = Theorem(
    id="turing-completeness",
    title="A hard-attention transformer simulates a Turing machine (Perez et al.)",
    topic="attention",
    statement=(
        r"For every Turing machine with one two-way infinite tape, states $\{0, \dots, Q-1\}$ (start 0), symbols "
        r"$\{0, \dots, S-1\}$ (0 the blank), moves $\{-1, 0, +1\}$, started on a blank tape at cell 0, there is a "
        r"decoder-only transformer with one hard-attention head and three ReLU layers, all weights integers, whose "
        r"$t$-th decoded token holds the machine's configuration after $t$ steps: the state (one-hot), the head "
        r"cell $h_t$ and the write of step $t$. With the positional term $p_j = 1/(2(j+1))$ and Perez et al.'s "
        r"score $-|\langle q, k_j\rangle|$, query $(h_t, 1, 1)$ and key $(1, -a_j, p_j)$ give "
        r"$\langle q, k_j \rangle = h_t - a_j + 1/(2(j+1))$, whose unique maximiser is the most recent write to "
        r"cell $h_t$ (when there is one): so the symbol under the head, and the whole tape, are read from the "
        r"history of writes, and the state, head and tape of the decoded tokens equal those of the machine at every "
        r"step, in exact rational arithmetic."
    ),
    assumptions=(
        r"machine class: deterministic, one tape infinite both ways, no halting state (the run is cut after "
        r"$\mathit{steps}$ steps), blank input; Perez et al. also handle an input word and halting, and use moves "
        r"$\pm 1$ only",
        r"simplified from Perez et al.: the head cell is carried in the token and updated by the output layer "
        r"($h_{t+1} = h_t + m_t$) instead of being recovered by an averaging head from the moves, so one attention "
        r"layer (reading the tape) suffices where their decoder has more; the symbol under the head is decoded by ReLU "
        r"layers ($e(x) = \mathrm{relu}(x+1) - 2\,\mathrm{relu}(x) + \mathrm{relu}(x-1)$ detects a matching cell)",
        r"hard attention as in Perez et al.: the values of the maximal scores are averaged; all arithmetic is exact, "
        r"in $\mathbb{Q}$ (Python integers and fractions.Fraction; no floating point until the comparison)",
        r"the compared configuration: state, head cell and symbol under the head after every step, and the final tape "
        r"on cells $-\mathit{steps}, \dots, \mathit{steps}$, read by the same attention and ReLU layers with a probe "
        r"query at each cell",
        r"the selection lemma (the unique maximiser of $-|\langle q, k_j \rangle|$ is the most recent write) and the "
        r"match detector $e$ are proved symbolically in proofs.attention.turing; the theorem itself is checked on "
        r"random machines",
    ),
    sources=(f"{PEREZ} (the construction)", PEREZ_2019, "seed 000, hours 1-2 (Turing completeness)"),
    parameters={
        "states": Integer(2, 4, shape=True, default=4),
        "symbols": Integer(2, 3, shape=True, default=3),
        "steps": Integer(1, 16, shape=True, default=12),
    },
    inputs=lambda rng, n, states, symbols: {"delta": random_machines(rng, n, states, symbols)},
    claim=lambda delta, steps: transformer_configurations(delta, steps),
    lemmas=(most_recent_write, match_detector),
    oracle=lambda delta, steps: direct_configurations(delta, steps),
    mutants={
        "average attention instead of hard attention": _variant(selection="average"),
        "no most-recent tie-break (ties averaged)": _variant(tie_break=False),
        "positional term i instead of 1/i": _variant(position="linear"),
        "off by one: reads the previous head cell": _variant(query="previous"),
        "off by one: causal mask hides the current token": _variant(mask="strict"),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=1e-12,
        reason=(
            "the transformer computes in exact rationals and the direct simulator in integers; only the conversion "
            "of the exact values (integers of size at most 16 when the construction is right) to float64 for the "
            "comparison rounds, by less than 1e-15; any disagreement above 1e-12 is a real one"
        ),
    ),
    example={"states": 4, "symbols": 3, "steps": 12},
    values=_trace_values,
    figures=_space_time_figure,
)
