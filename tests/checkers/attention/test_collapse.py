"""rank-collapse and rank-collapse-rate: verified, mutants refuted, edited claims fail, properties, worked examples, figure, bad input."""

import math
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.attention.collapse import rank_collapse, rate_for_kept_fraction_theorem
from checkers.engine import mutant_outcome, run_check
from checkers.worked import theorem_figures, worked_example
from checkers.results import Plot
from proofs.attention.collapse import L, a, beta, d_qk, fraction, gamma, layers, rate, res_norm
from proofs.attention.collapse import rate_for_kept_fraction, residual_bound_over_depth
from proofs.derivation import apply_map, solve_for, substitute


def test_rank_collapse_verifies_with_the_lemmas_given_steps_counted():
    result = run_check(rank_collapse, instances=150, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 12, "proved": 9, "sampled": 0, "given": 3, "failed": 0, "custom": 2}
    assert result.numeric.policy == "bound" and 0.05 < result.numeric.extras["tightness"] < 0.125
    assert all(anchor.agrees for anchor in result.numeric.anchors)


def test_every_rank_collapse_mutant_is_refuted():
    outcome = mutant_outcome(rank_collapse, instances=150, seed=0, generated=False)
    assert {m.name: m.refuted for m in outcome.mutants} == {name: True for name in rank_collapse.mutants}


def _depth_bound_with_constant(constant):
    """The depth derivation with the lemma's constant 4 replaced, consistently, so every step still checks."""

    def build():
        derivation = residual_bound_over_depth()
        prefactor = constant * gamma * beta / sp.sqrt(d_qk)
        return derivation.with_step(
            len(derivation.steps),
            operation=substitute({a: prefactor}),
            stated=prefactor ** ((3**L - 1) / 2) * res_norm ** (3**L),
        )

    return build


def test_an_edited_constant_of_the_bound_fails():
    """4 gamma beta -> gamma beta / 4: a bound 16^((3^L - 1)/2) times smaller; the two-point family exceeds it."""
    edited = replace(rank_collapse, derivation=_depth_bound_with_constant(sp.Rational(1, 4)))
    result = run_check(edited, instances=60, seed=0)
    assert result.status == "failed" and result.symbolic["failed"] == 0
    assert result.numeric.max_error > 1 and result.numeric.counterexample is not None


def test_the_example_bound_by_hand_and_the_residual_layer_by_layer():
    example = worked_example(rank_collapse)
    assert example.verified
    v, p = example.values, example.params
    # The bound by hand from the reported constants at L = 2, d_qk = 64: (4 gamma beta / 8)^4 r^9.
    assert v["rhs"] == pytest.approx((4 * v["gamma"] * v["beta"] / 8) ** 4 * v["res_norm"] ** 9, rel=1e-12)
    assert v["rhs"] == pytest.approx(p["bound_ratio"] * v["res_norm"], rel=1e-12)  # the instances are scaled so
    assert v["gamma"] == 2.0 and 1 <= v["gamma_first_layer"] <= 2 and v["contraction"] <= 1
    assert len(v["residuals"]) == p["layers"] + 1 and v["residuals"][0] == v["res_norm"]
    assert v["residuals"][2] < v["residuals"][1] ** 2 < v["residuals"][0]  # faster than geometric
    assert 0 < v["lhs"] < v["rhs"] and v["ratio"] == pytest.approx(v["lhs"] / v["rhs"])


@pytest.mark.parametrize("bound_ratio", [0.02, 0.3, 1.0])
def test_two_tokens_reach_tanh_over_4_eps_of_the_one_layer_bound(bound_ratio):
    """By hand: E = +-eps/2, rows of P (sigma(eps), sigma(-eps)), so measured / bound = tanh(eps/2)/(4 eps) / (gamma = sqrt 2)."""
    example = worked_example(
        rank_collapse, n_tokens=2, d_model=1, tokens="two-point", layers=1, bound_ratio=bound_ratio, spread=3.0
    )
    v = example.values
    eps = bound_ratio / (2 * math.sqrt(2))
    assert example.verified and v["gamma_first_layer"] == pytest.approx(1.0, rel=1e-12)
    assert v["eps"] == pytest.approx(eps, rel=1e-9)
    assert v["ratio"] == pytest.approx(math.tanh(eps / 2) / (4 * eps) / math.sqrt(2), rel=1e-9)


def test_the_example_reports_what_skip_connections_change():
    v = worked_example(rank_collapse).values
    assert v["stack_depths"] == [1, 10, 25, 50] and v["skip_value_scales"] == [1.0, 0.3, 0.1]
    assert v["pure_sigma2"][-1] < 1e-15 and v["stack_sigma2_pure"] == v["pure_sigma2"][-1]
    at_scale_one, _, at_tenth = v["skip_sigma2"]
    assert at_scale_one[1:] == pytest.approx([0.14, 1.9e-3, 9e-7], rel=0.05) and v["stack_sigma2_skip"] == at_scale_one[-1]
    assert min(at_tenth) > 0.9


@given(tp.strategies.parameters(rank_collapse))
@settings(max_examples=8, deadline=None)
def test_property_the_bound_holds_at_any_depth_in_the_contracting_regime(params):
    example = worked_example(rank_collapse, seed=3, **params)
    assert example.verified, (params, example.values)
    assert example.values["eps"] <= 0.36 and example.values["contraction"] <= 1 + 1e-12


def test_the_figure_is_the_50_layer_experiment_with_and_without_skip_connections():
    plots = theorem_figures(rank_collapse, seed=0)
    assert len(plots) == 1 and isinstance(plots[0], Plot) and plots[0].name == "singular-values"
    assert "50-layer" in plots[0].caption and "exponentially instead of doubly exponentially" in plots[0].caption


def test_rate_verifies_and_every_mutant_is_refuted():
    result = run_check(rate_for_kept_fraction_theorem, instances=150, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    outcome = mutant_outcome(rate_for_kept_fraction_theorem, instances=200, seed=0, generated=False)
    assert all(m.refuted for m in outcome.mutants) and len(outcome.mutants) == 4


def test_rate_worked_example_gives_both_readings():
    example = worked_example(rate_for_kept_fraction_theorem)
    assert example.verified and example.params == {"layers": 12, "fraction": 0.1, "C": 1.0}
    assert example.values["lambda_norm"] == pytest.approx(math.log(10) / 12, rel=1e-15)
    assert example.values["lambda_variance"] == pytest.approx(math.log(10) / 24, rel=1e-15)
    assert 0.19188 < example.values["lambda_norm"] < 0.19189
    assert "necessary" in example.values["reading"]


@given(tp.strategies.parameters(rate_for_kept_fraction_theorem))
@settings(max_examples=25, deadline=None)
def test_property_the_bound_keeps_exactly_the_fraction(params):
    example = worked_example(rate_for_kept_fraction_theorem, **params)
    assert example.verified
    v, L, f = example.values, params["layers"], params["fraction"]
    assert math.exp(-v["lambda_norm"] * L) == pytest.approx(f, rel=1e-12)
    assert math.exp(-2 * v["lambda_variance"] * L) == pytest.approx(f, rel=1e-12)


def test_the_erratum_is_ambiguous_with_both_readings():
    (erratum,) = rate_for_kept_fraction_theorem.errata
    assert erratum.section == "exercise 1.7" and erratum.refuted_by is None and erratum.kind == "ambiguous"
    assert "states no formula" in erratum.evidence and "0.19188" in erratum.evidence
    assert "0.192" in erratum.readings[0] and "0.0959" in erratum.readings[1]


def _rate_with_cubed_variance():
    """The rate derivation with ``variance'' read as the cube of the share, every step consistent."""
    derivation = rate_for_kept_fraction()
    kept = derivation.step_number("kept_variance")
    derivation = derivation.with_step(kept, operation=apply_map(lambda share: share**3), stated=sp.exp(-3 * rate * layers))
    derivation = derivation.with_step(kept + 1, stated=sp.exp(-3 * rate * layers) - fraction)
    derivation = derivation.with_step(kept + 2, operation=solve_for(rate), stated=sp.log(1 / fraction) / (3 * layers))
    return derivation.with_step(
        kept + 3, stated=sp.Matrix([sp.log(1 / fraction) / layers, sp.log(1 / fraction) / (3 * layers)])
    )


def test_an_edited_rate_fails():
    edited = replace(rate_for_kept_fraction_theorem, derivation=_rate_with_cubed_variance)
    result = run_check(edited, instances=40, seed=0)
    assert result.status == "failed" and result.symbolic["failed"] == 0 and result.numeric.max_error > 1
