"""attention-rank derivations: every step proved, the counterexample's numbers, wrong steps rejected."""

import math

import pytest
import sympy as sp

from proofs.attention.rank import (
    COUNTEREXAMPLE,
    H,
    attention_rank_bounds,
    d_k,
    d_model,
    d_v,
    full_rank_with_one_key_dimension,
    k_1,
    k_2,
    n,
    q_1,
    q_2,
)
from proofs.derivation import DerivationError


def test_every_step_is_proved_lemma_included():
    derivation = attention_rank_bounds()
    assert [s.evidence for s in derivation.check()] == ["proved"] * 6
    assert derivation.counts() == {"steps": 12, "proved": 12, "sampled": 0, "given": 0, "failed": 0, "custom": 1}


def test_the_closed_form_is_the_column_of_three_bounds():
    bounds = [sp.Min(n, d_v), sp.Min(n, d_k, d_v), sp.Min(n, H * d_v, d_model)]
    assert attention_rank_bounds().result == sp.Matrix(bounds)


def test_the_determinant_is_the_ratio_of_exponential_determinant_and_row_sums():
    # Written out by hand: det[[e^{q1k1}, e^{q1k2}], [e^{q2k1}, e^{q2k2}]] / (r1 r2).
    lemma = full_rank_with_one_key_dimension()
    by_hand = (sp.exp(q_1 * k_1) * sp.exp(q_2 * k_2) - sp.exp(q_1 * k_2) * sp.exp(q_2 * k_1)) / (
        (sp.exp(q_1 * k_1) + sp.exp(q_1 * k_2)) * (sp.exp(q_2 * k_1) + sp.exp(q_2 * k_2))
    )
    assert sp.simplify(lemma.expression("det") - by_hand) == 0
    # The determinant vanishes where the queries coincide, and its sign follows (q1 - q2)(k1 - k2).
    assert sp.simplify(lemma.expression("det").subs(q_2, q_1)) == 0
    assert lemma.expression("zero_set") == k_2
    point = {q_1: 2, q_2: sp.Rational(1, 3), k_1: -1, k_2: sp.Rational(1, 2)}
    assert lemma.expression("det").subs(point).evalf() < 0


def test_the_counterexample_has_determinant_tanh_one():
    lemma = full_rank_with_one_key_dimension()
    assert COUNTEREXAMPLE == {q_1: 1, q_2: -1, k_1: 1, k_2: -1}
    assert float(lemma.expression("counterexample")) == pytest.approx(math.tanh(1.0), rel=1e-15)
    assert lemma.result == 1


def test_a_wrong_counterexample_value_is_rejected():
    lemma = full_rank_with_one_key_dimension()
    number = lemma.step_number("counterexample")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        lemma.with_step(number, stated=sp.tanh(2)).check()


def test_the_exercise_bound_for_softmax_is_rejected():
    derivation = attention_rank_bounds()
    number = derivation.step_number("softmax")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=sp.Min(n, d_k, d_v)).check()


def test_a_step_that_does_not_follow_is_rejected():
    # The multi-head bound stated for the linear-attention product, which has no d_model.
    derivation = attention_rank_bounds()
    number = derivation.step_number("linear")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=sp.Min(n, H * d_v, d_model)).check()
