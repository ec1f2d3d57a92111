"""Kaplan's joint-law derivation: every step proved, the labelled results, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.scaling import C, D, N
from proofs.scaling.kaplan import JOINT_LOSS, D_c, N_c, alpha_D, alpha_N, kaplan_allocation


def test_every_step_is_proved():
    assert kaplan_allocation().counts() == {"steps": 23, "proved": 23, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_the_single_variable_laws_and_tenfold_gains():
    derivation = kaplan_allocation()
    assert derivation.expression("L_N") == (N_c / N) ** alpha_N
    assert derivation.expression("L_D") == (D_c / D) ** alpha_D
    assert derivation.expression("gain_N") == 10**-alpha_N
    assert derivation.expression("gain_D") == 10**-alpha_D


def test_the_allocation_is_stationary_and_spends_the_budget():
    derivation = kaplan_allocation()
    n, d = derivation.expression("N_opt"), derivation.expression("D_opt")
    assert sp.simplify(6 * n * d - C) == 0
    # Independently: the joint law along D = C/(6N) at exact rational exponents, differentiated in N.
    point = {alpha_N: sp.Rational(3, 40), alpha_D: sp.Rational(1, 10), N_c: 7, D_c: 5, C: 600}
    along = JOINT_LOSS.subs(D, C / (6 * N)).subs(point)
    slope = sp.diff(along, N).subs(N, n.subs(point))
    assert abs(sp.N(slope, 50)) < 1e-40
    assert sp.simplify(derivation.expression("a") + derivation.expression("b") - 1) == 0


def test_the_compute_exponent_of_the_joint_law():
    derivation = kaplan_allocation()
    assert sp.simplify(derivation.expression("alpha_C_joint") - alpha_N * alpha_D / (alpha_N + alpha_D)) == 0


def test_a_wrong_exponent_is_rejected():
    derivation = kaplan_allocation()
    number = derivation.step_number("a")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=alpha_N / (alpha_N + alpha_D)).check()


def test_a_wrong_tenfold_gain_is_rejected():
    derivation = kaplan_allocation()
    number = derivation.step_number("gain_N")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=10**alpha_N).check()
