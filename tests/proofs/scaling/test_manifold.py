"""The manifold-exponent derivation: every step proved (lemma included), the cell error, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.scaling.manifold import (
    K,
    N,
    a1,
    a2,
    axis_error_scaling,
    cells_filling_the_manifold,
    d,
    h,
    manifold_exponent,
    x,
    y,
)


def test_every_step_is_proved_with_the_lemma():
    assert manifold_exponent().counts() == {"steps": 11, "proved": 11, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
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


def test_for_every_d_the_constant_is_a_symbol_not_the_square_cell_s():
    derivation = manifold_exponent()
    assert derivation.expression("mse_of_N") == K * N ** (-4 / d)
    # The d = 2 constant carried into the step for general d is rejected.
    number = derivation.step_number("mse_of_N")
    square_cell = a1**2 / 30 + a1 * a2 / 18 + a2**2 / 30
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=N ** (-4 / d) * square_cell).check()


def test_in_three_dimensions_the_mean_square_is_h4_times_another_constant():
    # By hand for d = 3: the mean of (sum_i a_i x_i (x_i - h))^2 over [0, h]^3 has no h left after dividing by h^4,
    # and it differs from the square cell's constant (a_3 enters), which is why the general step names it K.
    a3, z = sp.symbols("a_3 z", real=True)
    error = a1 * x * (x - h) + a2 * y * (y - h) + a3 * z * (z - h)
    mean = sp.integrate(error**2, (x, 0, h), (y, 0, h), (z, 0, h)) / h**3
    constant = sp.simplify(mean / h**4)
    assert h not in constant.free_symbols and a3 in constant.free_symbols
    # Each term x(x - h) has mean -h^2/6 and mean square h^4/30: K_3 = sum a_i^2/30 + sum_{i != j} a_i a_j/36.
    assert sp.expand(constant - (a1**2 + a2**2 + a3**2) / 30 - (a1 * a2 + a1 * a3 + a2 * a3) / 18) == 0
    assert axis_error_scaling().counts() == {"steps": 1, "proved": 1, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_the_root_mean_square_exponent_is_rejected():
    derivation = manifold_exponent()
    with pytest.raises(DerivationError, match=f"step {len(derivation.steps)} "):
        derivation.with_step(len(derivation.steps), stated=-2 / d).check()


def test_a_first_order_error_is_rejected():
    derivation = manifold_exponent()
    number = derivation.step_number("error")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=a1 * h * x + a2 * h * y).check()
