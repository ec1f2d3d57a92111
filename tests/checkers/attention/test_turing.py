"""turing-completeness: verified, mutants refuted, property, worked example against a hand-written simulator."""


from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.attention.turing import LEMMAS, _construction, claim_from, turing_completeness
from numerics.attention.turing import transformer_tape_history
from checkers.engine import run_check
from checkers.worked import theorem_figures, worked_example
from proofs.attention.turing import most_recent_write, one_hot_conjunction, x
from proofs.derivation import Derivation, substitute


def _run_by_hand(delta, steps):
    """The machine run once more, written out here: state, head, symbol read after each step, final tape."""
    tape, state, head = {}, 0, 0
    trace = [(0, 0, 0)]
    for _ in range(steps):
        state_next, written, move = delta[state][tape.get(head, 0)]
        tape[head] = written
        state, head = state_next, head + move
        trace.append((state, head, tape.get(head, 0)))
    return trace, [tape.get(cell, 0) for cell in range(-steps, steps + 1)]


def test_it_verifies():
    result = run_check(turing_completeness, instances=100, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 24, "proved": 24, "sampled": 0, "given": 0, "failed": 0, "custom": 3}
    assert result.numeric.max_error == 0 and [anchor.agrees for anchor in result.numeric.anchors] == [True]


def test_the_construction_is_read_off_the_lemmas():
    construction = _construction(LEMMAS)
    assert construction.query == ((1, 0, 0, 0), (0, 0, 0, 1), (0, 0, 0, 1))
    assert construction.key == ((0, 0, 0, 1), (0, -1, 0, 0), (0, 0, 1, 0))
    assert construction.positional[:3] == (Fraction(1, 2), Fraction(1, 4), Fraction(1, 6))
    assert sorted(construction.detector) == [(-1, 1), (0, -2), (1, 1)] and construction.conjunction == (1, 1, -1)


def _detector_without_its_right_unit():
    """An edited match detector, e(x) = relu(x + 1) - relu(x): each step still checks (1 at 0, 1 at k >= 1, 0 at -k)."""
    k = sp.Symbol("k", integer=True, positive=True)
    e = sp.Max(0, x + 1) - sp.Max(0, x)
    return (
        Derivation("An edited detector", e)
        .then(substitute({x: 0}), 1)
        .then(substitute({x: k}), 1, on="start")
        .then(substitute({x: -k}), 0, on="start")
    )


def test_an_edited_lemma_changes_the_transformer_and_the_check_fails():
    lemmas = (most_recent_write, _detector_without_its_right_unit, one_hot_conjunction)
    edited = replace(turing_completeness, lemmas=lemmas, claim=claim_from(lemmas))
    result = run_check(edited, instances=40, seed=0)
    assert result.symbolic["failed"] == 0  # the edited lemma is itself consistent
    assert result.status == "failed" and result.numeric.max_error > 1


@given(tp.strategies.parameters(turing_completeness))
@settings(max_examples=15, deadline=None)
def test_property_every_machine_is_simulated(params):
    example = worked_example(turing_completeness, seed=3, **params)
    assert example.verified, (params, example.message)
    v = example.values
    trace, tape = _run_by_hand(v["delta"], params["steps"])
    assert list(zip(v["states"], v["heads"], v["reads"])) == trace
    assert v["tape"] == tape


def test_worked_example():
    example = worked_example(turing_completeness)
    assert example.verified
    assert example.params == {"states": 4, "symbols": 3, "steps": 12}
    v = example.values
    trace, tape = _run_by_hand(v["delta"], 12)
    assert list(zip(v["states"], v["heads"], v["reads"])) == trace
    assert v["tape"] == tape
    # The seed-0 machine rewrites cells and comes back to them: a trace that needs the most recent write.
    assert len(set(v["heads"])) < len(v["heads"]) - 5
    assert v["lemma_steps_proved"] == 24 and "2 j + 2" in v["score_argument"]


def test_the_space_time_figure_is_the_machines_tape():
    example = worked_example(turing_completeness)
    (plot,) = theorem_figures(turing_completeness)
    assert plot.name == "space-time"
    delta, steps = example.values["delta"], example.params["steps"]
    history = transformer_tape_history(np.array(delta), steps, _construction(LEMMAS))
    for t in range(steps + 1):
        tape = dict(zip(range(-t, t + 1), _run_by_hand(delta, t)[1]))
        assert history[t] == [tape.get(cell, 0) for cell in range(-steps, steps + 1)]
