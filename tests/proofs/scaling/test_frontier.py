"""The Chinchilla-frontier derivation: every step proved, exercise 1.5's exact numbers, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.scaling import C, D, N
from proofs.scaling.frontier import chinchilla_frontier, r


def test_every_step_is_proved():
    derivation = chinchilla_frontier()
    assert derivation.counts() == {"steps": 10, "proved": 10, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_the_labelled_results_solve_the_budget():
    derivation = chinchilla_frontier()
    n, d = derivation.expression("N"), derivation.expression("D")
    assert sp.simplify(6 * n * d - C) == 0 and sp.simplify(d - r * n) == 0
    assert sp.simplify(derivation.expression("C_of_N") - 6 * r * N**2) == 0
    assert derivation.expression("D_of_N") == r * N
    assert derivation.result.shape == (2, 1)


def test_exercise_1_5_exactly():
    # 6 N (20 N) = 1.2e24  =>  N^2 = 1e22, N = 1e11, D = 2e12 (solution 1.5).
    derivation = chinchilla_frontier()
    assert derivation.expression("N_ex") == 10**11
    assert derivation.expression("D_ex") == 2 * 10**12
    assert sp.simplify(derivation.expression("N_20") ** 2 - C / 120) == 0


def test_a_wrong_root_is_rejected():
    derivation = chinchilla_frontier()
    number = derivation.step_number("N")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=sp.sqrt(C / r)).check()


def test_a_wrong_exercise_answer_is_rejected():
    derivation = chinchilla_frontier()
    number = derivation.step_number("N_ex")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=sp.Integer(10) ** 12).check()


def test_the_substitution_must_be_D_equals_r_N():
    derivation = chinchilla_frontier()
    with pytest.raises(DerivationError, match="step 1 "):
        derivation.with_step(1, stated=sp.Eq(C, 6 * N**2 / r)).check()
    assert D not in derivation.expression("budget").free_symbols
