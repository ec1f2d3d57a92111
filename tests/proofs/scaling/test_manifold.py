"""The manifold-exponent derivation: every step proved (lemma included), the cell error, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.scaling.manifold import N, a1, a2, cells_filling_the_manifold, d, h, manifold_exponent, x, y


def test_every_step_is_proved_with_the_lemma():
    assert manifold_exponent().counts() == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0}
    assert cells_filling_the_manifold().expression("h") == N ** (-1 / d)


def test_the_one_dimensional_cell_error_by_hand():
    # d = 1 (a_2 = 0): (1/h) int_0^h a^2 x^2 (x - h)^2 dx = a^2 h^4 / 30.
    cell = manifold_exponent().expression("cell_mse").subs(a2, 0)
    assert sp.simplify(cell - a1**2 * h**4 / 30) == 0
    assert sp.simplify(sp.integrate((a1 * x * (x - h)) ** 2, (x, 0, h)) / h - cell) == 0


def test_the_result_is_minus_four_over_d():
    derivation = manifold_exponent()
    assert derivation.result == -4 / d
    assert derivation.expression("error") == a1 * x * (x - h) + a2 * y * (y - h)


def test_the_root_mean_square_exponent_is_rejected():
    derivation = manifold_exponent()
    with pytest.raises(DerivationError, match=f"step {len(derivation.steps)} "):
        derivation.with_step(len(derivation.steps), stated=-2 / d).check()


def test_a_first_order_error_is_rejected():
    derivation = manifold_exponent()
    number = derivation.step_number("error")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=a1 * h * x + a2 * h * y).check()
