"""turing-completeness: verified, mutants refuted, property, worked example against a hand-written simulator."""


import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.attention.turing import turing_completeness
from numerics.attention.turing import transformer_tape_history
from checkers.engine import mutant_outcome, run_check
from checkers.worked import example_params, theorem_figures, worked_example


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
    result = run_check(turing_completeness, instances=150, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 19, "proved": 19, "sampled": 0, "given": 0, "failed": 0, "custom": 3}
    assert result.numeric.max_error == 0


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(turing_completeness, instances=150, seed=0, generated=False)
    assert len(outcome.mutants) == 5
    assert all(m.refuted for m in outcome.mutants), [m.evidence for m in outcome.mutants if not m.refuted]


@given(tp.strategies.parameters(turing_completeness))
@settings(max_examples=20, deadline=None)
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
    assert v["lemma_steps_proved"] == 19 and "2 j + 2" in v["score_argument"]


def test_the_worked_example_renders():
    latex = tp.example("turing-completeness").to_latex()
    assert "symbol read" in latex and "Not confirmed" not in latex


@pytest.mark.parametrize("bad", [{"states": 1}, {"states": 5}, {"symbols": 4}, {"steps": 0}, {"steps": 17}])
def test_out_of_domain_parameters_are_bad_input(bad):
    with pytest.raises(ValueError):
        example_params(turing_completeness, bad)


def test_the_space_time_figure_is_the_machines_tape():
    example = worked_example(turing_completeness)
    (plot,) = theorem_figures(turing_completeness)
    assert plot.name == "space-time"
    delta, steps = example.values["delta"], example.params["steps"]
    history = transformer_tape_history(np.array(delta), steps)
    for t in range(steps + 1):
        tape = dict(zip(range(-t, t + 1), _run_by_hand(delta, t)[1]))
        assert history[t] == [tape.get(cell, 0) for cell in range(-steps, steps + 1)]
