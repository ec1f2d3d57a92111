"""The log-sum-exp form behind scaling-law-fit: every step proved, the gradient by hand, a wrong step rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError, differentiate
from proofs.scaling import PARAMETRIC_LOSS, A, B, D, E, N, alpha, beta
from proofs.scaling.fit import a, b, e, log_D, log_N, log_sum_exp_form, planted_law_fits_its_runs


def test_every_step_is_proved():
    derivation = log_sum_exp_form()
    assert [s.evidence for s in derivation.check()] == ["proved"] * len(derivation.steps)
    assert derivation.counts() == {"steps": 14, "proved": 14, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_shifting_every_term_shifts_the_prediction_and_not_the_gradient():
    derivation = log_sum_exp_form()
    s = sp.Symbol("s", real=True)
    assert sp.simplify(derivation.expression("shifted_log_loss") - derivation.expression("log_loss") + s) == 0
    assert derivation.result == derivation.expression("gradient")


def test_the_planted_law_zeroes_every_residual():
    derivation = planted_law_fits_its_runs()
    assert derivation.result == 0
    assert derivation.counts() == {"steps": 2, "proved": 2, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_the_prediction_is_the_log_of_the_parametric_loss():
    prediction = log_sum_exp_form().expression("log_loss")
    # Back to N, D, A, B, E: e^(ln L) must be the loss itself.
    back = sp.exp(prediction).subs({log_N: sp.log(N), log_D: sp.log(D), a: sp.log(A), b: sp.log(B), e: sp.log(E)})
    assert sp.simplify(back - PARAMETRIC_LOSS) == 0


def test_the_gradient_is_the_softmax_weights_by_hand():
    # At a = b = e = 0, alpha = beta = 1, n = d = 0 the three terms are equal: every weight is 1/3.
    gradient = log_sum_exp_form().result
    point = {a: 0, b: 0, e: 0, alpha: 1, beta: 1, log_N: 0, log_D: 0}
    assert list(gradient.subs(point)) == [sp.Rational(1, 3)] * 3 + [0, 0]
    # At n = d = 1 the exponents' derivatives are -n w_N and -d w_D with w_N = w_D = 1/(2 + e).
    point = {a: 1, b: 1, e: 0, alpha: 0, beta: 0, log_N: 1, log_D: 1}
    weight = sp.E / (2 * sp.E + 1)
    assert sp.simplify(gradient.subs(point) - sp.Matrix([weight, weight, 1 / (2 * sp.E + 1), -weight, -weight])) == sp.zeros(5, 1)


def test_a_wrong_derivative_is_rejected():
    derivation = log_sum_exp_form()
    step = derivation.step_number("d_alpha")
    # The plausible slip: forgetting the chain-rule factor -n.
    wrong = derivation.with_step(step, stated=derivation.expression("d_a"))
    with pytest.raises(DerivationError):
        wrong.check()


def test_a_step_that_does_not_follow_is_rejected():
    derivation = log_sum_exp_form()
    step = derivation.step_number("d_b")
    with pytest.raises(DerivationError):
        derivation.with_step(step, operation=differentiate(beta)).check()
