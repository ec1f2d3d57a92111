"""Rank-collapse derivations: the evidence of each step, the unrolled bound by hand, wrong steps rejected."""

import math

import pytest
import sympy as sp

import proofs.attention.collapse as collapse
from proofs.attention.collapse import (
    L,
    a,
    beta,
    d_qk,
    epsilon,
    fraction,
    gamma,
    layers,
    rate_for_kept_fraction,
    res_norm,
    residual_bound_over_depth,
    s_0,
    single_layer_bound,
)
from proofs.derivation import DerivationError


def test_the_depth_bound_and_its_single_layer_lemma_count_their_given_steps():
    # The lemma's three norm inequalities are given (prose); its algebra and e^t - 1 <= 2t are proved.
    assert single_layer_bound().counts() == {"steps": 7, "proved": 4, "sampled": 0, "given": 3, "failed": 0, "custom": 1}
    assert [step.evidence for step in single_layer_bound().check()] == [
        "given", "given", "proved", "given", "proved", "proved", "proved"
    ]
    derivation = residual_bound_over_depth()
    assert derivation.counts() == {"steps": 12, "proved": 9, "sampled": 0, "given": 3, "failed": 0, "custom": 2}


def test_the_lemmas_inequalities_carry_their_relation():
    lemma = single_layer_bound()
    assert [step.relation for step in lemma.steps] == ["<=", "<=", "=", "<=", "<=", "=", "="]
    assert lemma.relation == "<="


def test_the_lemma_ends_in_the_bound_the_depth_derivation_starts_from():
    lemma = single_layer_bound().result
    assert sp.simplify(lemma - 4 * gamma * beta * res_norm**3 / sp.sqrt(d_qk)) == 0
    start = residual_bound_over_depth().start.subs(a, 4 * gamma * beta / sp.sqrt(d_qk))
    assert sp.simplify(lemma - start) == 0


def test_the_linear_bound_of_the_exponential_by_hand():
    # e^t - 1 <= 2t up to t = 2 * 0.628 = 1.256 and not beyond 1.2565 (by hand, in floats).
    assert math.expm1(1.256) <= 2 * 1.256 and math.expm1(1.2565) > 2 * 1.2565
    assert collapse._linear_bound_of_the_exponential(3 * (sp.exp(2 * epsilon) - 1)) == 12 * epsilon


def test_the_linear_bound_is_refused_for_a_negative_multiple():
    with pytest.raises(DerivationError, match="positive multiple"):
        collapse._linear_bound_of_the_exponential(1 - sp.exp(2 * epsilon))


def test_the_linear_bound_is_refused_where_it_fails(monkeypatch):
    monkeypatch.setattr(collapse, "CONTRACTING_EPS", sp.Rational(63, 100))  # 2 eps = 1.26 > 1.25643
    with pytest.raises(DerivationError, match="e\\^t - 1 <= 2t"):
        collapse._linear_bound_of_the_exponential(sp.exp(2 * epsilon) - 1)


def test_a_wrong_factor_in_the_lemma_is_rejected():
    lemma = single_layer_bound()
    wrong = lemma.with_step(5, stated=2 * epsilon * gamma * res_norm * collapse.v_norm)  # e^(2 eps) - 1 <= 2 eps
    with pytest.raises(DerivationError, match="step 5"):
        wrong.check()


def test_the_unrolled_bound_matches_iterating_the_single_layer_by_hand():
    bound = residual_bound_over_depth().expression("L_layer")
    r = res_norm
    two_layers = a * (a * r**3) ** 3  # r_1 <= a r^3, r_2 <= a r_1^3
    three_layers = a * two_layers**3
    assert sp.simplify(bound.subs(L, 2) - two_layers) == 0
    assert sp.simplify(bound.subs(L, 3) - three_layers) == 0


def test_the_closed_form_is_the_depth_bound_and_one_layer_is_the_lemma():
    result = residual_bound_over_depth().result
    assert sp.simplify(result - (4 * gamma * beta / sp.sqrt(d_qk)) ** ((3**L - 1) / 2) * res_norm ** (3**L)) == 0
    assert sp.simplify(result.subs(L, 1) - single_layer_bound().result) == 0


def test_a_wrong_unrolling_is_rejected():
    derivation = residual_bound_over_depth()
    wrong = derivation.with_step(derivation.step_number("unrolled"), stated=3**L * s_0 + 3**L / 2 * sp.log(a))
    with pytest.raises(DerivationError, match="step 2"):
        wrong.check()


def test_every_step_of_the_rate_is_proved_and_gives_both_readings():
    derivation = rate_for_kept_fraction()
    assert derivation.counts() == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    at_exercise = {fraction: sp.Rational(1, 10), layers: 12}
    assert sp.simplify(derivation.expression("lambda_norm").subs(at_exercise) - sp.log(10) / 12) == 0
    assert sp.simplify(derivation.expression("lambda_variance").subs(at_exercise) - sp.log(10) / 24) == 0


def test_a_rate_that_does_not_follow_is_rejected():
    derivation = rate_for_kept_fraction()
    wrong = derivation.with_step(derivation.step_number("lambda_variance"), stated=2 * sp.log(1 / fraction) / layers)
    with pytest.raises(DerivationError):
        wrong.check()
