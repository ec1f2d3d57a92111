"""Least-squares attention derivations: every step proved; a wrong push-through identity is rejected; the filter
factor's remainder is a bound; the FLOP counts at the smallest size."""

import pytest
from sympy import Identity

from proofs.derivation import DerivationError
from proofs.icl.ridge import (
    GRAM,
    KERNEL,
    K,
    Q,
    V,
    alpha,
    d,
    least_squares_attention,
    least_squares_costs,
    n,
    push_through,
    ridge_filter_factor,
)

PROVED = {"sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_every_step_is_proved_for_symbolic_sizes():
    counts = least_squares_attention().counts()
    assert counts == {"steps": 31, "proved": 31, **PROVED}


def test_the_layer_is_start_and_the_push_through_form_is_labelled():
    derivation = least_squares_attention()
    assert derivation.start == Q * GRAM.I * K.T * V
    assert derivation.expression("dual") == Q * K.T * KERNEL.I * V
    assert derivation.result == -Q * GRAM.I * K.T * K * K.T * V


def test_the_push_through_identity_needs_both_gram_matrices():
    # K^T (K K^T + alpha I) = (K K^T + alpha I) K^T would not even have a shape; (K^T K + 2 alpha I) K^T is false.
    wrong = push_through().with_step(2, stated=(K.T * K + 2 * alpha * Identity(d)) * K.T)
    with pytest.raises(DerivationError, match="step 2"):
        wrong.check()


def test_the_filter_factor_remainder_is_an_upper_bound():
    derivation = ridge_filter_factor()
    assert derivation.relation == "<="
    assert all(step.evidence == "proved" for step in derivation.check())


def test_the_counts_at_one_token_of_width_one():
    # By hand: the layer 2 + 2 (K^T K, K^T V) + 1 (sqrt) + 2 (two divisions) + 2 (Q W) = 9; the push-through form
    # 2 + 1 + 2 + 2 + 2 = 9; attention 2 + 2 = 4.
    counts = least_squares_costs().expression("counts")
    assert list(counts.subs({n: 1, d: 1})) == [9, 9, 4]
