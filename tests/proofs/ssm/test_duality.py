"""The SSD mask derivation: every step proved; the mask entries by hand; wrong masks rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.ssm.duality import SSD_L_MAX, a, ssd_mask


def test_every_step_is_proved():
    assert ssd_mask().counts() == {"steps": 5, "proved": 5, "sampled": 0, "given": 0, "failed": 0, "custom": 2}


def test_mask_entries_by_hand():
    mask = ssd_mask().expression("mask")
    a1, a2, a3, a4 = a[:4]
    assert mask[0, 0] == 1 and mask[1, 0] == a2 and mask[2, 0] == a2 * a3 and mask[3, 1] == a3 * a4
    assert mask[0, 1] == 0 and mask[2, 3] == 0
    assert mask.shape == (SSD_L_MAX, SSD_L_MAX)
    assert ssd_mask().step_number("mask") == 3  # the claim; the rank-one block and a_t = 1 follow from it


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
