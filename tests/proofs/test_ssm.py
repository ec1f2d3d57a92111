"""The HiPPO-LegS derivation: every step proved, the closed form, and wrong steps rejected with their number."""


import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.ssm import (
    DP,
    LEGS_N_MAX,
    P,
    c,
    f,
    legendre_identity_right_side,
    legs_dynamics,
    legs_input,
    legs_matrix,
    n,
    t,
    x,
)



def test_the_derivation_covers_at_least_six_sizes_and_every_step_is_proved():
    assert LEGS_N_MAX >= 6
    derivation = legs_dynamics()
    assert [step.evidence for step in derivation.check()] == ["proved"] * len(derivation.steps)
    assert derivation.counts() == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 2}
    assert derivation.steps[-1].operation.rule == "jacobian"


def test_the_closed_form_is_minus_A_next_to_B_over_t():
    result = legs_dynamics().result
    assert result.shape == (LEGS_N_MAX, LEGS_N_MAX + 1)
    A, B = -t * result[:, :LEGS_N_MAX], t * result[:, LEGS_N_MAX]
    # Hand values from the paper: A = [[1, 0, 0], [sqrt 3, 2, 0], [sqrt 5, sqrt 15, 3]], B = (1, sqrt 3, sqrt 5).
    assert A[:3, :3] == sp.Matrix([[1, 0, 0], [sp.sqrt(3), 2, 0], [sp.sqrt(5), sp.sqrt(15), 3]])
    assert list(B[:3]) == [1, sp.sqrt(3), sp.sqrt(5)]
    assert A.is_lower and A == legs_matrix(LEGS_N_MAX) and B == legs_input(LEGS_N_MAX)


def test_the_leibniz_step_has_the_three_terms():
    derivation = legs_dynamics()
    derivative = derivation.steps[0].stated
    boundary = sp.sqrt(2 * n + 1) * P(n, 1) * f(t) / t
    assert boundary in sp.Add.make_args(derivative)
    assert len(derivative.atoms(sp.Integral)) == 2
    assert derivation.expression("derivative").coeff(c(n, t)) == -1 / t


@pytest.mark.parametrize("degree", range(LEGS_N_MAX))
def test_the_legendre_identity_holds_by_expansion(degree):
    left = (x + 1) * DP(degree, x)
    assert sp.expand(left - legendre_identity_right_side(degree)) == 0
    assert sp.expand(P(degree, 1)) == 1


def test_a_wrong_legendre_coefficient_does_not_expand_to_zero():
    wrong = legendre_identity_right_side(3) + P(3, x)
    assert sp.expand((x + 1) * DP(3, x) - wrong) != 0


def _wrong_boundary(derivation):
    return derivation.steps[0].stated.subs(P(n, 1), 2 * P(n, 1))


def _wrong_recognition(derivation):
    return derivation.steps[2].stated + c(n, t) / t


def _wrong_coefficient_row(derivation):
    rows = derivation.steps[5].stated.as_mutable()
    rows[4] += c(0, t) / t
    return rows


def _wrong_diagonal(derivation):
    matrix = derivation.steps[6].stated.as_mutable()
    matrix[2, 2] = -2 / t
    return matrix


def _wrong_input_in_identity_step(derivation):
    rows = derivation.steps[4].stated.as_mutable()
    rows[2] = rows[2].subs(f(t), 2 * f(t))
    return rows


@pytest.mark.parametrize(
    "number, perturb",
    [
        (1, _wrong_boundary),
        (3, _wrong_recognition),
        (5, _wrong_input_in_identity_step),
        (6, _wrong_coefficient_row),
        (7, _wrong_diagonal),
    ],
)
def test_a_perturbed_step_is_rejected_with_its_number(number, perturb):
    derivation = legs_dynamics()
    with pytest.raises(DerivationError, match=f"step {number} "):
        derivation.with_step(number, stated=perturb(derivation)).check()


def test_a_wrong_legendre_identity_in_step_5_is_rejected():
    derivation = legs_dynamics()
    rows = derivation.steps[4].stated.as_mutable()
    wrong_integrand = sp.Integral(f(t * (x + 1) / 2) * (legendre_identity_right_side(3) + P(3, x)), (x, -1, 1))
    rows[3] = -c(3, t) / t + sp.sqrt(7) * f(t) / t - sp.sqrt(7) * wrong_integrand / (2 * t)
    with pytest.raises(DerivationError, match="step 5 "):
        derivation.with_step(5, stated=rows).check()
