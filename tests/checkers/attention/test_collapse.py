"""rank-collapse and rank-collapse-rate: verified, mutants refuted, properties, worked examples, figure, bad input."""

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from scipy.optimize import minimize

import transformer_proofs as tp
from checkers.attention.collapse import _bound_holds, rank_collapse, rate_for_kept_fraction_theorem
from checkers.engine import mutant_outcome, run_check
from checkers.sampling import single_instance
from checkers.worked import example_params, theorem_figures, worked_example
from checkers.results import Plot
from numerics.attention.collapse import composite_norm, self_attention


def test_rank_collapse_verifies_with_the_lemmas_given_steps_counted():
    result = run_check(rank_collapse, instances=150, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 12, "proved": 9, "sampled": 0, "given": 3, "failed": 0, "custom": 4}


def test_every_rank_collapse_mutant_is_refuted():
    outcome = mutant_outcome(rank_collapse, instances=150, seed=0, generated=False)
    assert {m.name: m.refuted for m in outcome.mutants} == {name: True for name in rank_collapse.mutants}


def test_a_bound_that_is_too_small_fails():
    """The one-sided check can fail: a bound ten times too small is violated (two-point instances reach 0.12 of it)."""
    too_small = replace(
        rank_collapse,
        id="rank-collapse-too-small",
        assemble=lambda closed_form, X, W_Q, W_K, W_V, d_qk: _bound_holds(
            lambda **constants: closed_form(**constants) / 10, X, W_Q, W_K, W_V, d_qk
        ),
        mutants={},
    )
    result = run_check(too_small, instances=100, seed=1)
    assert result.status == "failed" and result.numeric.max_error > 1
    assert result.numeric.counterexample is not None


def test_the_example_bound_holds_with_an_independently_minimised_residual():
    example = worked_example(rank_collapse)
    assert example.verified
    v = example.values
    # The bound by hand from the reported constants: 4 gamma beta r^3 / sqrt(64).
    assert v["rhs"] == pytest.approx(4 * v["gamma"] * v["beta"] * v["res_norm"] ** 3 / 8, rel=1e-12)
    assert 0 < v["lhs"] < v["rhs"] and v["ratio"] == pytest.approx(v["lhs"] / v["rhs"])
    assert 1 <= v["gamma"] <= 2 and v["eps"] <= 0.3
    assert v["stack_sigma2_pure"] < 1e-14 and v["stack_sigma2_skip"] > 1e-10  # floor vs far above it
    # The left-hand side again by Nelder-Mead from several starts (not an LP): never below the LP value.
    params = example.params
    group = single_instance(rank_collapse, params, seed=0)
    Y = self_attention(**group.inputs, d_qk=params["d_qk"])[0]
    values = []
    for start in (Y.mean(axis=0), np.median(Y, axis=0), Y[0]):
        found = minimize(lambda x: composite_norm((Y - x)[None])[0], start, method="Nelder-Mead",
                         options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000})
        values.append(found.fun)
    assert min(values) >= v["lhs"] * (1 - 1e-7)
    assert min(values) == pytest.approx(v["lhs"], rel=1e-3)


def test_two_tokens_with_uniform_attention_reach_tanh_over_4_eps():
    """The adversarial family by hand: E = +-eps/2, P rows (sigma(eps), sigma(-eps)), so measured / bound = tanh(eps/2)/(4 eps)."""
    for eps in (0.02, 0.3, 0.6):
        example = worked_example(rank_collapse, n_tokens=2, tokens="two-point", eps=eps, d_qk=7, spread=3.0)
        v = example.values
        assert example.verified and v["gamma"] == pytest.approx(1.0, rel=1e-12)
        assert v["eps"] == pytest.approx(eps, rel=1e-9)
        assert v["ratio"] == pytest.approx(math.tanh(eps / 2) / (4 * eps), rel=1e-6)


def test_the_tightness_figures():
    v = worked_example(rank_collapse).values
    assert v["tightness_instances"] == 400
    # The two-point family's supremum is 1/8 (eps -> 0); eps <= 0.628 keeps it above tanh(0.314)/2.512 = 0.1209.
    assert 0.1209 < v["tightness_max_two_point"] < 0.125 and v["tightness_max"] < 0.125
    assert v["tightness_max"] == max(v["tightness_max_gaussian"], v["tightness_max_two_point"])
    assert v["tightness_median_gaussian"] < 0.02 < v["tightness_median_two_point"]
    assert min(v["tightness_median_gaussian"], v["tightness_median_two_point"]) <= v["tightness_median"]
    # The sample's ratios again, each bound by hand from its constants and the lhs minimised by this module's LP.
    from checkers.sampling import draw_instances
    from numerics.attention.collapse import collapse_constants, residual

    ratios = []
    for group in draw_instances(rank_collapse, 400, 0):
        inputs, d_qk = group.inputs, group.params["d_qk"]
        r, x = residual(inputs["X"])
        c = collapse_constants(inputs["X"], x, inputs["W_Q"], inputs["W_K"], inputs["W_V"], d_qk)
        lhs, _ = residual(self_attention(d_qk=d_qk, **inputs))
        ratios.append(lhs / (4 * c["gamma"] * c["beta"] * r**3 / np.sqrt(d_qk)))
    ratios = np.concatenate(ratios)
    assert v["tightness_max"] == pytest.approx(ratios.max(), rel=1e-9)
    assert v["tightness_median"] == pytest.approx(np.median(ratios), rel=1e-9)


@given(tp.strategies.parameters(rank_collapse))
@settings(max_examples=12, deadline=None)
def test_property_the_bound_holds_anywhere_in_the_contracting_regime(params):
    example = worked_example(rank_collapse, seed=3, **params)
    assert example.verified, (params, example.values)
    assert example.values["eps"] <= params["eps"] * (1 + 1e-12)


def test_the_figure_is_the_50_layer_experiment():
    plots = theorem_figures(rank_collapse, seed=0)
    assert len(plots) == 1 and isinstance(plots[0], Plot) and plots[0].name == "singular-values"
    assert "50-layer" in plots[0].caption


def test_rate_verifies_and_every_mutant_is_refuted():
    result = run_check(rate_for_kept_fraction_theorem, instances=300, seed=0)
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
@settings(max_examples=60, deadline=None)
def test_property_the_bound_keeps_exactly_the_fraction(params):
    example = worked_example(rate_for_kept_fraction_theorem, **params)
    assert example.verified
    v, L, f = example.values, params["layers"], params["fraction"]
    assert math.exp(-v["lambda_norm"] * L) == pytest.approx(f, rel=1e-12)
    assert math.exp(-2 * v["lambda_variance"] * L) == pytest.approx(f, rel=1e-12)


def test_the_erratum_refutes_nothing_the_exercise_did_not_state():
    (erratum,) = rate_for_kept_fraction_theorem.errata
    assert erratum.section == "exercise 1.7" and erratum.refuted_by is None
    assert "states no formula" in erratum.evidence and "0.19188" in erratum.evidence


@pytest.mark.parametrize(
    "theorem, bad",
    [
        (rate_for_kept_fraction_theorem, {"layers": 0}),
        (rate_for_kept_fraction_theorem, {"fraction": 1.5}),
        (rate_for_kept_fraction_theorem, {"C": float("nan")}),
        (rank_collapse, {"eps": 0.9}),
        (rank_collapse, {"n_tokens": 1}),
    ],
)
def test_out_of_domain_parameters_are_bad_input(theorem, bad):
    with pytest.raises(ValueError):
        example_params(theorem, bad)
