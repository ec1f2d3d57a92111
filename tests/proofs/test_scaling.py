"""The compute-optimal allocation derivation: every step proved, wrong or non-following steps rejected."""


import pytest
import sympy as sp

from proofs.derivation import DerivationError, differentiate
from proofs.scaling import A, B, C, D, E, N, alpha, beta, compute_optimal_allocation, u

a = beta / (alpha + beta)
b = alpha / (alpha + beta)
G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))




def test_every_step_is_proved():
    derivation = compute_optimal_allocation()
    assert [s.evidence for s in derivation.check()] == ["proved"] * len(derivation.steps)
    assert derivation.counts() == {"steps": 16, "proved": 16, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_labelled_results_are_hoffmanns_allocation():
    derivation = compute_optimal_allocation()
    expected = {
        "a": a,
        "b": b,
        "G": G,
        "N_opt": G * (C / 6) ** a,
        "D_opt": (C / 6) ** b / G,
        "tokens_per_param": (C / 6) ** (b - a) / G**2,
    }
    for label, value in expected.items():
        assert sp.simplify(derivation.expression(label) - value) == 0, label
    N_opt, D_opt = expected["N_opt"], expected["D_opt"]
    loss = E + A * N_opt**-alpha + B * D_opt**-beta
    assert sp.simplify(derivation.expression("L_opt") - loss) == 0
    assert sp.simplify(a + b - 1) == 0


def test_the_result_is_the_column_of_size_data_and_loss():
    derivation = compute_optimal_allocation()
    assert derivation.result.shape == (3, 1)
    assert derivation.result.free_symbols == {A, B, C, E, alpha, beta}


def test_the_optimum_spends_the_whole_budget_and_is_stationary():
    derivation = compute_optimal_allocation()
    N_opt, D_opt = derivation.expression("N_opt"), derivation.expression("D_opt")
    assert sp.simplify(6 * N_opt * D_opt - C) == 0
    slope = derivation.expression("dL_du").subs(u, derivation.expression("u_opt"))
    assert sp.simplify(slope) == 0


def test_the_second_derivative_in_N_turns_negative_for_large_N():
    """Why the second-order test in N is only local: at the defaults f'' < 0 for N well above N_opt."""
    derivation = compute_optimal_allocation()
    defaults = {A: sp.Rational(4064, 10), B: sp.Rational(4107, 10), alpha: sp.Rational(34, 100),
                beta: sp.Rational(28, 100), C: sp.Rational(576, 1) * 10**21, E: sp.Rational(169, 100)}
    second = sp.diff(derivation.expression("constrained"), N, 2).subs(defaults)
    N_opt = derivation.expression("N_opt").subs(defaults)
    assert second.subs(N, N_opt) > 0
    assert second.subs(N, 10**6 * N_opt) < 0
    curvature_in_u = derivation.expression("d2L_du2").subs(defaults)
    assert curvature_in_u.subs(u, sp.log(10**6 * N_opt)) > 0


def test_a_wrong_stated_result_names_its_step():
    derivation = compute_optimal_allocation()
    number = derivation.step_number("N_opt")
    wrong = derivation.with_step(number, stated=G * C**a)  # C instead of C/6
    with pytest.raises(DerivationError, match=rf"step {number} ") as error:
        wrong.check()
    assert error.value.counts["failed"] == 1 and error.value.counts["proved"] == number - 1


def test_swapped_exponents_are_rejected():
    derivation = compute_optimal_allocation()
    number = derivation.step_number("a")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=b).check()


def test_a_step_that_does_not_follow_from_the_previous_one_is_rejected():
    # The stated derivative is the true dg/du, but the operation now differentiates in N.
    derivation = compute_optimal_allocation()
    number = derivation.step_number("dL_du")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, operation=differentiate(N)).check()


def test_the_constraint_must_be_six_N_D():
    derivation = compute_optimal_allocation()
    wrong = derivation.with_step(1, stated=E + A * N**-alpha + B * (C / N) ** -beta)
    with pytest.raises(DerivationError, match="step 1 "):
        wrong.check()
    assert D not in derivation.expression("constrained").free_symbols
