"""``turing-completeness``: a hard-attention transformer simulates a Turing machine step by step, exactly.

The claim is the transformer of numerics.attention.turing (after Pérez, Barceló, Marinković
2021): its configurations after every step, read off its residual stream. The transformer is
assembled from its three lemmas (proofs.attention.turing): the query and key maps and the
positional term are read off the selection lemma's start, the detector's units off the match
detector's, and the AND unit of the read and transition layers off the conjunction lemma's
(:func:`_construction`). An edited lemma therefore runs an edited transformer. The oracle is a
direct simulation of the machine, which shares no code with the transformer. There is no closed
form to compile, so the theorem gives ``claim=`` and the lemmas are its ``lemmas=``: checked,
counted and shown with it; the step from the lemmas to the claim (an induction over the decoded
tokens) is written out in the statement.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from fractions import Fraction

import numpy as np
import sympy as sp

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.results import Plot
from checkers.sampling import single_instance
from checkers.theorem import Anchor, Theorem
from numerics.attention.turing import (
    Construction,
    busy_beaver,
    direct_configurations,
    random_machines,
    transformer_configurations,
    transformer_run,
    transformer_tape_history,
)
from proofs.attention.turing import PEREZ, j, match_detector, most_recent_write, one_hot_conjunction

PEREZ_2019 = "Perez, Marinkovic, Barcelo 2019, On the Turing Completeness of Modern Neural Network Architectures (ICLR)"
RADO = "Rado 1962, On non-computable functions (Bell System Technical Journal 41): the 2-state busy beaver"

MAX_STEPS = 16
LEMMAS = (most_recent_write, match_detector, one_hot_conjunction)


def _integers(matrix: sp.MatrixBase) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(entry) for entry in row) for row in matrix.tolist())


def _exact(value: sp.Basic) -> Fraction:
    """A SymPy rational as a Fraction (the construction is exact); anything else cannot be a weight."""
    if not value.is_Rational:
        raise ValueError(f"the construction needs exact rationals, got {value}")
    return Fraction(int(value.p), int(value.q))


def _relu_units(expression: sp.Basic, variable: sp.Symbol) -> tuple[tuple[int, int], ...]:
    """``((c, w), ...)`` of ``sum w relu(variable + c)``: the units of a one-input ReLU layer."""
    units = []
    for term in sp.Add.make_args(expression):
        weight, unit = term.as_coeff_Mul()
        if not (isinstance(unit, sp.Max) and 0 in unit.args):
            raise ValueError(f"{term} is not a weighted relu(x + c) unit")
        (argument,) = (arg for arg in unit.args if arg != 0)
        units.append((int(argument - variable), int(weight)))
    return tuple(units)


@functools.lru_cache(maxsize=None)
def _construction(lemmas) -> Construction:
    """The pieces of the transformer, read off the derivations of ``lemmas`` (selection, detector, conjunction).

    The selection lemma starts from ``query_token^T W_Q^T W_K key_token``: its ``W_Q`` and ``W_K``
    are the query and key maps, and the key token's third coordinate is the positional term
    ``p_j``, tabulated exactly for positions ``0..MAX_STEPS``. The detector lemma starts from
    ``e(x) = sum w relu(x + c)``; the conjunction lemma from ``relu(c_u u + c_v v + c_0)``.
    """
    selection, detector, conjunction = (build() for build in lemmas)
    _, W_Q_transposed, W_K, key_token = selection.start.args
    positional = tuple(_exact(key_token[2].subs(j, t)) for t in range(MAX_STEPS + 1))
    (x,) = detector.start.free_symbols
    (argument,) = (arg for arg in conjunction.start.args if arg != 0)
    u, v = sorted(argument.free_symbols, key=str)
    coefficients = sp.Poly(argument, u, v)
    return Construction(
        query=_integers(W_Q_transposed.T),
        key=_integers(W_K),
        positional=positional,
        detector=_relu_units(detector.start, x),
        conjunction=(int(coefficients.coeff_monomial(u)), int(coefficients.coeff_monomial(v)), int(coefficients.coeff_monomial(1))),
    )


def claim_from(lemmas):
    """The claim: the transformer assembled from ``lemmas``, run on each machine."""

    def claim(delta, steps):
        return transformer_configurations(delta, steps, _construction(lemmas))

    return claim


def _variant(change=None, **wiring):
    """The transformer with one plausible mistake: a changed construction piece, or a wiring keyword."""

    def mutant(delta, steps):
        construction = _construction(LEMMAS)
        return transformer_configurations(delta, steps, change(construction) if change else construction, **wiring)

    return mutant


def _without_positional_key(construction: Construction) -> Construction:
    """The keys without their positional coordinate: two writes to one cell tie."""
    return replace(construction, key=tuple(row[:2] + (0,) + row[3:] for row in construction.key))


def _linear_positional(construction: Construction) -> Construction:
    """``p_t = (t + 1)/2``: the ``i`` of Pérez et al.'s ``pos(i)`` used where ``1/i`` belongs."""
    return replace(construction, positional=tuple(Fraction(t + 1, 2) for t in range(len(construction.positional))))


def _lemma_values() -> dict:
    """The selection lemma's score argument, and the steps proved in the three lemmas (a failing step raises)."""
    derivations = [build() for build in LEMMAS]
    return {
        "score_argument": sp.latex(derivations[0].expression("score_argument")),
        "lemma_steps_proved": sum(derivation.counts()["proved"] for derivation in derivations),
    }


def _trace_values(steps, delta):
    """The example run as the transformer decodes it (the oracle confirms the same instance)."""
    machine_states, heads, reads, tape = transformer_run(delta, steps, _construction(LEMMAS))
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
    construction = _construction(LEMMAS)
    history = np.array(transformer_tape_history(delta, steps, construction), dtype=float)
    heads = transformer_run(delta, steps, construction)[1]
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


def _machines(rng, n, states, symbols):
    """Uniformly random transition tables."""
    return {"delta": random_machines(rng, n, states, symbols)}


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
        r"cell $h_t$ (when there is one). From the lemmas to the claim, by induction on $t$: if tokens $0, \dots, t$ "
        r"record the writes of steps $0, \dots, t$ and token $t$ holds $(q_t, h_t)$, cell $h_t$ holds the symbol of "
        r"the most recent write to it (blank if none); the selection lemma makes the head return exactly that write, "
        r"the detector $e$ is 1 iff it is at $h_t$, the AND unit $\mathrm{relu}(u + v - 1) = u v$ keeps its symbol "
        r"only then (else the blank), and the same unit fires only for the pair $(q_t, s_t)$, whose output is "
        r"$\delta(q_t, s_t)$; the output layer forms token $t + 1$ with $h_{t+1} = h_t + m_t$. So the state, head "
        r"and tape of the decoded tokens equal those of the machine at every step, in exact rational arithmetic."
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
        r"the three lemmas (selection of the most recent write, the match detector, the AND unit) are proved "
        r"symbolically in proofs.attention.turing, and the transformer that is run takes its query and key maps, "
        r"positional term, detector units and AND unit from those derivations; the induction joining them is checked "
        r"by running that transformer against a direct simulation on random machines and on the busy beaver",
    ),
    sources=(f"{PEREZ} (the construction)", PEREZ_2019, RADO, "seed 000, hours 1-2 (Turing completeness)"),
    parameters={
        "states": Integer(2, 4, shape=True, default=4),
        "symbols": Integer(2, 3, shape=True, default=3),
        "steps": Integer(1, MAX_STEPS, shape=True, default=12),
    },
    inputs=_machines,
    claim=claim_from(LEMMAS),
    lemmas=LEMMAS,
    oracle=lambda delta, steps: direct_configurations(delta, steps),
    mutants={
        "average attention instead of hard attention": _variant(selection="average"),
        "no most-recent tie-break (ties averaged)": _variant(_without_positional_key),
        "positional term i instead of 1/i": _variant(_linear_positional),
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
    anchors=(
        Anchor(
            {"states": 4, "symbols": 3, "steps": 5},
            (0, 0, 0, 1, 1, 0, 0, 0, 1, 1, -1, 0, 0, -2, 0, 1, -1, 1) + (0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0),
            "the 2-state busy beaver (A0 -> 1RB, A1 -> 1LB, B0 -> 1LA) traced by hand: (state, head, read) after "
            "steps 0-5 are (A,0,0), (B,1,0), (A,0,1), (B,-1,0), (A,-2,0), (B,-1,1), and cells -5..5 hold four 1s "
            "on -2..1; its 6th step halts with those four 1s (Rado 1962: S(2) = 6, Sigma(2) = 4)",
            rtol=0.0,
            inputs={"delta": busy_beaver(1, 4, 3)[0]},
        ),
    ),
    figures=_space_time_figure,
)
