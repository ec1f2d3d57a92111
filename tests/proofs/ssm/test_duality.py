"""The SSD mask derivation: every step proved; the mask entries by hand; wrong masks rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.ssm.duality import SSD_L_MAX, a, causal_linear_attention_mask, off_diagonal_rank_one, ssd_mask


def test_every_step_is_proved_by_a_named_rule():
    # The main derivation's 3 steps, the rank-one lemma's 3 and the linear-attention lemma's 1.
    assert ssd_mask().counts() == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_mask_entries_by_hand():
    mask = ssd_mask().expression("mask")
    a1, a2, a3, a4 = a[:4]
    assert mask[0, 0] == 1 and mask[1, 0] == a2 and mask[2, 0] == a2 * a3 and mask[3, 1] == a3 * a4
    assert mask[0, 1] == 0 and mask[2, 3] == 0
    assert mask.shape == (SSD_L_MAX, SSD_L_MAX)
    assert ssd_mask().result == mask  # the claim; the rank-one block and a_t = 1 are its lemmas


def test_an_off_by_one_mask_is_rejected():
    derivation = ssd_mask()
    number = derivation.step_number("mask")
    wrong = sp.Matrix(SSD_L_MAX, SSD_L_MAX, lambda i, j: sp.Mul(*a[j : i + 1]) if i >= j else 0)  # a_j ... a_i
    with pytest.raises(DerivationError, match=f"step {number} "):
        derivation.with_step(number, stated=wrong).check()


def test_off_diagonal_blocks_have_rank_one():
    mask = ssd_mask().expression("mask")
    assert mask[3:, :3].rank(simplify=True) == 1
    assert mask[4:, :4].rank(simplify=True) == 1
    assert sp.Matrix(off_diagonal_rank_one().result.doit()).rank(simplify=True) == 1


def test_a_wrong_factorisation_and_a_wrong_causal_mask_are_rejected():
    lemma = off_diagonal_rank_one()
    with pytest.raises(DerivationError, match="step 3 "):
        lemma.with_step(3, stated=lemma.steps[1].stated.T).check()  # the block transposed
    causal = causal_linear_attention_mask()
    with pytest.raises(DerivationError, match="step 1 "):
        causal.with_step(1, stated=sp.ones(SSD_L_MAX, SSD_L_MAX)).check()
