"""Rank-collapse derivations: every step proved, the unrolled bound by hand, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.attention.collapse import (
    L,
    a,
    beta,
    d_qk,
    fraction,
    gamma,
    layers,
    rate_for_kept_fraction,
    res_norm,
    residual_bound_over_depth,
    s_0,
)
from proofs.derivation import DerivationError


def test_every_step_of_the_depth_bound_is_proved():
    derivation = residual_bound_over_depth()
    assert derivation.counts() == {"steps": 5, "proved": 5, "sampled": 0, "given": 0, "failed": 0}


def test_the_unrolled_bound_matches_iterating_the_single_layer_by_hand():
    bound = residual_bound_over_depth().expression("L_layer")
    r = res_norm
    two_layers = a * (a * r**3) ** 3  # r_1 <= a r^3, r_2 <= a r_1^3
    three_layers = a * two_layers**3
    assert sp.simplify(bound.subs(L, 2) - two_layers) == 0
    assert sp.simplify(bound.subs(L, 3) - three_layers) == 0


def test_the_closed_form_is_the_single_layer_bound():
    result = residual_bound_over_depth().result
    assert sp.simplify(result - 4 * gamma * beta * res_norm**3 / sp.sqrt(d_qk)) == 0


def test_a_wrong_unrolling_is_rejected():
    derivation = residual_bound_over_depth()
    wrong = derivation.with_step(2, stated=3**L * s_0 + 3**L / 2 * sp.log(a))
    with pytest.raises(DerivationError, match="step 2"):
        wrong.check()


def test_every_step_of_the_rate_is_proved_and_gives_both_readings():
    derivation = rate_for_kept_fraction()
    assert derivation.counts() == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0}
    at_exercise = {fraction: sp.Rational(1, 10), layers: 12}
    assert sp.simplify(derivation.expression("lambda_norm").subs(at_exercise) - sp.log(10) / 12) == 0
    assert sp.simplify(derivation.expression("lambda_variance").subs(at_exercise) - sp.log(10) / 24) == 0


def test_a_rate_that_does_not_follow_is_rejected():
    derivation = rate_for_kept_fraction()
    wrong = derivation.with_step(derivation.step_number("lambda_variance"), stated=2 * sp.log(1 / fraction) / layers)
    with pytest.raises(DerivationError):
        wrong.check()
