"""chinchilla-frontier: verified, mutants refuted, property test, exercise 1.5, the table, the figure, bad input,
the anchors, an edited statement fails."""

import dataclasses

import pytest
import sympy as sp
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from proofs.derivation import given as given_step
from checkers.worked import theorem_figures, worked_example
from checkers.scaling.frontier import PUBLISHED_MODELS, chinchilla_frontier


@given(tp.strategies.parameters(chinchilla_frontier))
@settings(max_examples=40, deadline=None)
def test_property_the_split_spends_the_budget_at_the_ratio(params):
    example = worked_example(chinchilla_frontier, **params)
    assert example.verified
    N, D = example.values["N"], example.values["D"]
    assert 6 * N * D == pytest.approx(params["C"], rel=1e-14)
    assert D / N == pytest.approx(params["tokens_per_param"], rel=1e-14)


def test_exercise_1_5():
    example = worked_example(chinchilla_frontier)
    assert example.verified and example.params == {"C": 1.2e24, "tokens_per_param": 20.0}
    # Solution 1.5: 120 N^2 = 1.2e24, N = 1e11 (100 billion), D = 20 N = 2e12 (2 trillion).
    assert example.values["N"] == pytest.approx(1e11, rel=1e-15)
    assert example.values["D"] == pytest.approx(2e12, rel=1e-15)


def test_the_budget_table_from_10B_to_1T():
    values = worked_example(chinchilla_frontier).values
    # By hand at 20 tokens per parameter: D = 20 N, C = 6 N D = 120 N^2.
    assert values["table_N"] == [1e10, 3e10, 1e11, 3e11, 1e12]
    assert values["table_D"] == pytest.approx([2e11, 6e11, 2e12, 6e12, 2e13], rel=1e-15)
    assert values["table_C"] == pytest.approx([1.2e22, 1.08e23, 1.2e24, 1.08e25, 1.2e26], rel=1e-15)


def test_the_frontier_figure_marks_the_four_models():
    (plot,) = theorem_figures(chinchilla_frontier)
    assert plot.name == "compute-optimal-frontier"
    labels = {line.get_label() for line in plot.figure.axes[0].lines}
    assert set(PUBLISHED_MODELS) <= labels
    # Llama 3 8B: 15e12 / 8e9 = 1875 tokens per parameter, at C = 6 * 8e9 * 15e12 = 7.2e23.
    assert PUBLISHED_MODELS["Llama 3 8B, 15T"] == (8e9, 15e12)


def test_the_anchors_from_the_exercise_and_hoffmanns_table_hold():
    result = run_check(chinchilla_frontier, instances=5, seed=2)
    assert len(result.numeric.anchors) == 2
    assert all(a.claim_agrees and a.oracle_agrees for a in result.numeric.anchors)


def test_a_closed_form_with_five_flops_per_parameter_and_token_fails_the_check():
    """The derivation's result with the 6 of C = 6 N D replaced by 5 (asserted as given): the check fails."""
    derivation = chinchilla_frontier.built_derivation()
    five = derivation.result.xreplace({sp.Integer(6): sp.Integer(5)})
    assert five != derivation.result
    asserting_five = lambda: derivation.then(given_step("the closed form with 5 N D FLOPs", source="this test"), five)
    result = run_check(dataclasses.replace(chinchilla_frontier, derivation=asserting_five), instances=20, seed=0)
    assert result.status == "failed" and result.symbolic["given"] == 1
