"""The scan derivations: every step proved; wrong operators and counts rejected."""

import pytest

from proofs.derivation import DerivationError
from proofs.ssm.scan import (
    a_1,
    a_2,
    a_3,
    affine_composition,
    b_1,
    b_2,
    b_3,
    blelloch_work_growth,
    hillis_steele_work_growth,
    homogeneous,
    m,
    scan_cost,
)


def test_every_step_is_proved_by_a_named_rule():
    # scan_cost's 1 step, its lemmas affine_composition's 6 and the two works' growth 2 each.
    assert scan_cost().counts() == {"steps": 11, "proved": 11, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    lemma = affine_composition().counts()
    assert lemma == {"steps": 6, "proved": 6, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_the_operator_puts_the_later_step_on_the_left():
    lemma = affine_composition()
    assert lemma.expression("combine_a") == a_2 * a_1
    assert lemma.expression("combine_b") == a_2 * b_1 + b_2


def test_associativity_is_checked_with_non_commuting_matrices():
    """Grouping the other way with the factors in the wrong order is rejected (matrices do not commute)."""
    lemma = affine_composition()
    wrong = homogeneous(a_1 * a_2 * a_3, a_3 * a_2 * b_1 + a_3 * b_2 + b_3)
    with pytest.raises(DerivationError, match="step 6 "):
        lemma.with_step(6, stated=wrong).check()


def test_an_order_swapped_operator_is_rejected():
    lemma = affine_composition()
    with pytest.raises(DerivationError, match="step 2 "):
        lemma.with_step(2, stated=a_1 * a_2).check()


def test_counts_at_small_sizes_by_hand():
    """L = 8: Hillis-Steele combines 7 + 6 + 4 = 17 pairs in 3 rounds; Blelloch 4 + 2 + 1 up, 1 + 3 down = 11 in 5."""
    counts = scan_cost().expression("counts")
    assert list(counts.subs(m, 3)) == [7, 7, 3, 17, 5, 11]
    assert list(counts.subs(m, 1)) == [1, 1, 1, 1, 1, 1]


def test_the_counts_are_the_closed_form_and_the_limits_are_lemmas():
    derivation = scan_cost()
    assert derivation.step_number("counts") == 1 and derivation.result == derivation.expression("counts")
    # Hillis-Steele's work over L log2 L tends to 1, Blelloch's over L to 2.
    assert [hillis_steele_work_growth().result, blelloch_work_growth().result] == [1, 2]


def test_a_wrong_limit_is_rejected():
    with pytest.raises(DerivationError, match="step 2 "):
        blelloch_work_growth().with_step(2, stated=1).check()


def test_a_wrong_count_is_rejected():
    derivation = scan_cost()
    wrong = derivation.expression("counts").as_mutable()
    wrong[3] = 2 * 2**m - 2  # "Hillis-Steele is work-efficient"
    with pytest.raises(DerivationError, match="step 1 "):
        derivation.with_step(1, stated=wrong).check()
