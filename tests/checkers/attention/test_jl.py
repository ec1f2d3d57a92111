"""jl-dimension: verified, every mutant refuted, property, the exercise's numbers by hand, erratum, bad input."""

import math

from dataclasses import replace

import sympy as sp

import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.attention.jl import jl_dimension_theorem
from checkers.engine import run_check
from checkers.worked import worked_example
from numerics.attention.jl import distance_window, union_bound
from proofs.attention.jl import jl_dimension
from proofs.derivation import Derivation
from transformer_proofs.render import environment


def example_latex(example):
    """The theorem's own template, rendered directly (not through the registry of every topic)."""
    template = environment().get_template("attention/jl-dimension.tex.j2")
    return template.render(example=example, theorem=jl_dimension_theorem, derivation=jl_dimension_theorem.built_derivation())


def test_it_verifies_with_every_step_proved():
    result = run_check(jl_dimension_theorem, instances=150, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 5, "proved": 5, "sampled": 0, "given": 0, "failed": 0, "custom": 1}
    assert result.numeric.policy == "bound" and 0.9 < result.numeric.extras["tightness"] < 1
    assert all(anchor.agrees for anchor in result.numeric.anchors)


def _closed_form_with_exercise_constant(constant):
    """The derivation's closed form with the 8 of 8 ln m / eps^2 replaced (a derivation of no steps: its start is its result)."""
    result = jl_dimension().result
    return lambda: Derivation("edited", result.xreplace({sp.Integer(8): sp.Integer(constant)}))


def test_an_edited_constant_of_the_exercise_formula_fails():
    """8 ln m / eps^2 -> 2 ln m / eps^2: below the smallest dimension that keeps distances (about 3 ln m / eps^2)."""
    wrong = replace(jl_dimension_theorem, derivation=_closed_form_with_exercise_constant(2))
    assert wrong.evaluate_claim(m=[1e12], eps=[0.1])[0, 0] == pytest.approx(22104.82 / 4, rel=1e-6)
    result = run_check(wrong, instances=60, seed=0)
    assert result.status == "failed" and result.numeric.max_error > 1


@pytest.fixture(scope="module")
def example():
    """The worked example at the exercise's numbers (its simulation takes seconds: computed once)."""
    return worked_example(jl_dimension_theorem)


def test_the_exercise_numbers_by_hand(example):
    assert example.verified and example.params == {"m": 1e12, "eps": 0.1}
    v = example.values
    by_hand = 8 * 12 * math.log(10) / 0.1**2
    assert v["d_min_exact"] == pytest.approx(by_hand, rel=1e-13) and v["d_min"] == 22105
    assert v["d_dasgupta_gupta_exact"] == pytest.approx(4 * 12 * math.log(10) / (0.005 - 0.001 / 3), rel=1e-13)
    assert v["d_dasgupta_gupta"] == 23684
    assert 0.40 < v["success_probability_at_d_min"] < 0.45 < 0.98 < v["success_probability_at_d_dasgupta_gupta"]
    # Exact chi^2 union bound at d_DG, well below the 1 - 1/m the lemma needs (1 - 0.986 by the line above).
    assert 0.01 < v["union_bound_at_d_dasgupta_gupta"] < 0.02 and v["required_union_bound"] == 1 - 1e-12
    # Distances themselves: 22105 dimensions fail with probability below 1e-70; far fewer suffice.
    assert v["distance_failure_at_d_min"] < 1e-70
    assert v["sufficient_for_distances"] < v["sufficient_for_squared_distances"] < v["d_min"]


def test_the_anchor_by_hand_at_one_pair():
    """m = 2, eps = 0.7: the tails of chi^2_1 = Z^2 and chi^2_2 / 2 ~ Exp(1) by hand (the oracle's anchor)."""
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    distances_at_1 = 2 * (1 - phi(1.7)) + 2 * phi(0.3) - 1
    squared_at_1 = 2 * (1 - phi(math.sqrt(1.7))) + 2 * phi(math.sqrt(0.3)) - 1
    squared_at_2 = math.exp(-1.7) + 1 - math.exp(-0.3)
    assert distances_at_1 == pytest.approx(0.325, abs=1e-3) and squared_at_1 == pytest.approx(0.609, abs=1e-3)
    assert squared_at_2 == pytest.approx(0.442, abs=1e-3)
    assert distances_at_1 < 0.5 < squared_at_1 and squared_at_2 < 0.5
    assert union_bound(2.0, 1.0, *distance_window(0.7, squared=False)) == pytest.approx(distances_at_1, rel=1e-12)
    assert union_bound(2.0, 2.0, *distance_window(0.7, squared=True)) == pytest.approx(squared_at_2, rel=1e-12)


def test_the_simulation_reduces_the_dimension_and_agrees_with_the_lemma(example):
    v = example.values
    by_hand = math.ceil(4 * math.log(50) / (0.3**2 / 2 - 0.3**3 / 3))  # 435
    assert v["simulated_eps"] == 0.3 and v["simulated_dimension"] == by_hand == 435
    assert v["simulated_ambient"] >= 8 * v["simulated_dimension"]  # a reduction, not an embedding
    assert 0 <= v["simulated_failed_trials"] <= v["simulated_trials"] == 20
    assert v["binomial_p_value"] >= v["rejection_level"] == 1e-9 and v["simulation_consistent"] == "yes"


def test_the_template_follows_the_binomial_test(example):
    assert "consistent with the lemma" in example_latex(example)
    rejected = replace(example, values={**example.values, "binomial_p_value": 1e-12, "simulation_consistent": "no"})
    text = example_latex(rejected)
    assert "rejects the lemma's rate" in text and "consistent with the lemma" not in text


@given(tp.strategies.parameters(jl_dimension_theorem))
@settings(max_examples=40, deadline=None)
def test_property_the_exact_union_bound_confirms_dasgupta_gupta(params):
    """Sufficiency without the Chernoff tail: m(m-1)/2 P(|chi^2_d/d - 1| > eps) <= 1 - 1/m at d = ceil(d_DG)."""
    m, eps = params["m"], params["eps"]
    d_dg = math.ceil(4 * math.log(m) / (eps**2 / 2 - eps**3 / 3))  # by hand
    assert union_bound(m, d_dg, *distance_window(eps, squared=True)) <= 1 - 1 / m


@given(tp.strategies.parameters(jl_dimension_theorem))
@settings(max_examples=40, deadline=None)
def test_property_the_exercise_dimension_is_below_dasgupta_gupta(params):
    dimensions = jl_dimension_theorem.evaluate_claim(m=[params["m"]], eps=[params["eps"]])[0]
    assert 0 < dimensions[0] < dimensions[1]
    assert dimensions[0] / dimensions[1] == pytest.approx(1 - 2 * params["eps"] / 3, rel=1e-12)


def test_the_erratum_is_ambiguous_with_both_readings():
    (erratum,) = jl_dimension_theorem.errata
    assert erratum.section == "exercise 1.9" and erratum.refuted_by is None and "1.16e-24" in erratum.evidence
    assert erratum.kind == "ambiguous" and len(erratum.readings) == 2
    assert "distances as distances" in erratum.readings[0].replace("``", "").replace("''", "")
    assert "0.42" in erratum.readings[1] and "23684" in erratum.readings[1]


def test_the_squared_reading_of_the_formula_is_refuted_where_the_statement_says():
    # m = 1e3, eps = 0.5: 8 ln m / eps^2 = 221.05, while squared distances need 222 dimensions.
    d = jl_dimension_theorem.oracle(np.array([1e3]), np.array([0.5]))[0]
    assert d[1] == 222 > 8 * math.log(1e3) / 0.25 > d[0]
