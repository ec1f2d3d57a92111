"""The ZOH derivation: every step proved, closed forms against hand values, wrong steps rejected with their number."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.ssm.zoh import (
    B_column,
    Delta,
    a,
    b,
    euler_input_error,
    fundamental_theorem,
    lambda_1,
    lambda_2,
    p,
    r,
    s,
    spectral_exponential,
    u,
    x,
    x_0,
    zoh_discretization,
    zoh_two_by_two,
)


def test_every_step_is_proved_lemmas_included():
    derivation = zoh_discretization()
    assert [step.evidence for step in derivation.check()] == ["proved"] * 9
    assert derivation.counts() == {"steps": 12, "proved": 12, "sampled": 0, "given": 0, "failed": 0, "custom": 1}


def test_the_endpoint_equation_is_built_from_the_start():
    # The step after the integral equates it with the start's increment e^{-a Delta} x(Delta) - x(0), by hand.
    derivation = zoh_discretization()
    assert derivation.start == sp.exp(-a * s) * x(s)
    equation = derivation.steps[3].stated
    assert sp.expand(equation.lhs - (sp.exp(-a * Delta) * x(Delta) - x(0))) == 0
    assert equation.rhs == derivation.steps[2].stated


def test_the_fundamental_theorem_operation_at_a_known_antiderivative():
    # int_0^Delta cos = sin(Delta) - sin(0): the operation's equation holds identically.
    assert fundamental_theorem(sp.sin(s))(sp.integrate(sp.cos(s), (s, 0, Delta))) == sp.true
    assert fundamental_theorem(sp.sin(s))(sp.sin(Delta) + 1) == sp.Eq(sp.sin(Delta), sp.sin(Delta) + 1)


def test_the_closed_form_is_the_zoh_pair():
    A_bar, B_bar = zoh_discretization().result
    assert A_bar == sp.exp(Delta * a)
    # By hand: int_0^Delta e^{a s} ds b = (e^{a Delta} - 1) b / a; at a = -1, Delta = 1, b = 1 it is 1 - 1/e.
    assert sp.simplify(B_bar - sp.integrate(sp.exp(a * s), (s, 0, Delta), conds="none") * b) == 0
    assert sp.simplify(B_bar.subs({a: -1, Delta: 1, b: 1}) - (1 - sp.exp(-1))) == 0


def test_the_update_solves_the_ode_with_the_input_held():
    # Independent of the steps: x(s) = e^{a s} x_0 + (e^{a s} - 1) b u / a satisfies x' = a x + b u and x(0) = x_0.
    update = zoh_discretization().expression("update")
    trajectory = update.subs(Delta, s)
    assert sp.simplify(sp.diff(trajectory, s) - (a * trajectory + b * u)) == 0
    assert trajectory.subs(s, 0) == x_0


def test_mambas_input_matrix_is_off_by_half_delta_squared_a_b():
    # (e^z - 1)/z = 1 + z/2 + z^2/6 + ..., so B_bar - Delta b = Delta^2 a b / 2 + Delta^3 a^2 b / 6 + O(Delta^4).
    lemma = euler_input_error()
    assert [step.evidence for step in lemma.check()] == ["proved"]
    assert sp.expand(lemma.result - (Delta**2 * a * b / 2 + Delta**3 * a**2 * b / 6)) == 0


def test_the_two_by_two_lemma_at_hand_values():
    lemma = zoh_two_by_two()
    assert [step.evidence for step in lemma.check()] == ["proved", "proved"]
    # Diagonal A (r = p = 0): each component is the scalar (e^{Delta lambda} - 1) b / lambda.
    diagonal = lemma.result.subs({r: 0, p: 0})
    for component, lam, entry in zip(diagonal, (lambda_1, lambda_2), B_column):
        assert sp.simplify(component - (sp.exp(Delta * lam) - 1) * entry / lam) == 0


def _wrong_integral(derivation):
    return derivation.steps[2].stated * a  # the 1/a of the integral dropped


def _unweighted_increment(derivation):
    return sp.Eq(x(Delta) - x(0), derivation.steps[2].stated)  # the integrating factor forgotten at s = Delta


def _wrong_initial_state(derivation):
    return derivation.steps[3].stated.subs(x(0), 0)


def _wrong_endpoint(derivation):
    return derivation.steps[5].stated.subs(x_0, 0)


def _wrong_coefficient(derivation):
    return sp.exp(a)  # exp(A) instead of exp(Delta A)


def _wrong_input_coefficient(derivation):
    return (sp.exp(Delta * a) - 1) * Delta * b  # the missing inverse


def _wrong_substitution(derivation):
    return sp.exp(-a * s) * (b * u + a * x(s))


@pytest.mark.parametrize(
    "number, perturb",
    [
        (2, _wrong_substitution),
        (3, _wrong_integral),
        (4, _unweighted_increment),
        (5, _wrong_initial_state),
        (6, _wrong_endpoint),
        (7, _wrong_coefficient),
        (8, _wrong_input_coefficient),
    ],
)
def test_a_perturbed_step_is_rejected_with_its_number(number, perturb):
    derivation = zoh_discretization()
    with pytest.raises(DerivationError, match=f"step {number} "):
        derivation.with_step(number, stated=perturb(derivation)).check()


def test_the_missing_inverse_is_rejected_in_the_two_by_two_lemma():
    lemma = zoh_two_by_two()
    wrong = (spectral_exponential(Delta) - sp.eye(2)) * Delta * B_column
    with pytest.raises(DerivationError, match="step 2 "):
        lemma.with_step(2, stated=wrong).check()
