"""attention-rank: verified, every mutant refuted, the erratum, property test, worked example, bad input."""

import dataclasses
import functools
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.attention.rank import EXERCISE_MUTANT, attention_rank
from checkers.closed_form import compile_closed_form
from checkers.engine import mutant_outcome, run_check
from checkers.theorem import call_with
from checkers.worked import theorem_figures, worked_example


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(attention_rank, instances=200, seed=0, generated=False)
    assert len(outcome.mutants) >= 3
    assert all(m.refuted for m in outcome.mutants), [m.evidence for m in outcome.mutants if not m.refuted]


def test_the_exercise_bound_is_an_erratum_refuted_by_a_rank_above_it():
    (erratum,) = attention_rank.errata
    assert (erratum.source, erratum.section, erratum.refuted_by) == ("seed 003", "exercise 1.3", EXERCISE_MUTANT)
    (mutant,) = [m for m in mutant_outcome(attention_rank, instances=200, generated=False).mutants if m.name == EXERCISE_MUTANT]
    # The evidence is a violation of the bound (oracle above mutant), not only a loose bound.
    claimed, observed = (float(x) for x in mutant.evidence.split("mutant ")[1].split(" (")[0].split(", oracle "))
    assert observed > claimed


def test_the_erratum_is_false_under_the_sheets_reading_of_attention():
    (erratum,) = attention_rank.errata
    assert erratum.kind == "false" and "softmax" in erratum.evidence and "linear attention" in erratum.evidence


def test_the_anchors_worked_by_hand_hold_for_claim_and_oracle():
    assert [a.value for a in attention_rank.anchors] == [[2.0, 1.0, 2.0], [3.0, 1.0, 2.0]]
    result = run_check(attention_rank, instances=4, seed=0)
    assert all(a.claim_agrees and a.oracle_agrees for a in result.numeric.anchors)


def test_dropping_d_model_from_the_multihead_bound_fails_the_check():
    # Edit the derived closed form: min(n, H d_v, d_model) -> min(n, H d_v). The check must see a projection
    # W_O with fewer columns than the heads' rank (a rank above the edited bound is impossible, one below it is).
    symbols = {s.name: s for s in attention_rank.built_derivation().result.free_symbols}
    n, H, d_v, d_model = (symbols[name] for name in ("n", "H", "d_v", "d_model"))
    edited_form = compile_closed_form(
        attention_rank.built_derivation().result.xreplace({sp.Min(n, H * d_v, d_model): sp.Min(n, H * d_v)})
    )
    edited = dataclasses.replace(
        attention_rank,
        assemble=lambda _, **arguments: call_with(functools.partial(attention_rank.assemble, edited_form), arguments),
    )
    assert run_check(attention_rank, instances=40, seed=0).status == "verified"
    result = run_check(edited, instances=40, seed=0)
    assert result.status == "failed"
    params = result.numeric.counterexample.params
    assert params["d_model"] < min(params["n_tokens"], params["H"] * params["d_v"])


def test_the_claim_is_the_compiled_derivation():
    sizes = {"n_tokens": 4, "d_k": 1, "d_v": 3, "H": 2, "d_model": 5}
    claim = attention_rank.evaluate_claim(**sizes, Q=np.zeros((2, 1)))
    assert claim.tolist() == [[3.0, 1.0, 4.0]] * 2  # min(4, 3), min(4, 1, 3), min(4, 6, 5)


@given(tp.strategies.parameters(attention_rank))
@settings(max_examples=40, deadline=None)
def test_property_the_bounds_are_attained_anywhere_in_the_domain(params):
    example = worked_example(attention_rank, seed=1, **params)
    assert example.verified, (params, example.message)
    v, n, d_k, d_v, H, d_model = example.values, *(params[k] for k in ("n_tokens", "d_k", "d_v", "H", "d_model"))
    assert (v["rank_softmax"], v["rank_linear"], v["rank_multihead"]) == (
        min(n, d_v),
        min(n, d_k, d_v),
        min(n, H * d_v, d_model),
    )
    assert v["rank_softmax"] >= v["exercise_bound_here"]


def test_worked_example_gives_the_counterexample_then_the_bounds():
    example = worked_example(attention_rank)
    assert example.verified
    assert example.params == {"n_tokens": 3, "d_k": 1, "d_v": 3, "H": 2, "d_model": 2}
    v = example.values
    assert v["q"] == [1.0, -1.0] and v["k"] == [1.0, -1.0]
    e = math.e
    np.testing.assert_allclose(v["A"], np.array([[e, 1 / e], [1 / e, e]]) / (e + 1 / e), rtol=1e-15)
    assert v["det_A"] == pytest.approx(math.tanh(1.0), rel=1e-15)
    assert (v["rank_A"], v["exercise_bound"]) == (2, 1)
    # By hand at n = 3, d_k = 1, d_v = 3, H = 2, d_model = 2.
    assert (v["bound_softmax"], v["bound_linear"], v["bound_multihead"]) == (3, 1, 2)
    assert (v["rank_softmax"], v["rank_linear"], v["rank_multihead"]) == (3, 1, 2)
    assert v["exercise_bound_here"] == 1


def test_the_worked_example_renders_the_refutation_first():
    latex = tp.example("attention-rank").to_latex()
    assert latex.index("is false") < latex.index("bounds that hold")
    assert r"\tanh 1" in latex and r"\num{0.761594}" in latex and "Not confirmed" not in latex


def test_the_figure():
    (plot,) = theorem_figures(attention_rank, seed=0)
    assert plot.name == "softmax-singular-values" and plot.figure.axes
