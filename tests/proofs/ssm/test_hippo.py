"""The HiPPO-LegT and LagT derivations: every step proved, the closed form against hand values, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.ssm import P, c, f, n, t, x
from proofs.ssm.hippo import (
    LAGT_N_MAX,
    LEGT_N_MAX,
    lagt_dynamics,
    lagt_matrix,
    laguerre_derivative_expansion,
    legendre_derivative_expansion,
    legt_dynamics,
    legt_input,
    legt_matrix,
    theta,
    window_start_values,
    y,
)


def test_every_step_is_proved_for_at_least_six_sizes():
    assert LEGT_N_MAX >= 6
    derivation = legt_dynamics()
    assert [step.evidence for step in derivation.check()] == ["proved"] * 7
    assert derivation.counts() == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 2}


def test_the_closed_form_against_hand_values():
    result = legt_dynamics().result
    assert result.shape == (LEGT_N_MAX, LEGT_N_MAX + 2)
    A, B, e = -theta * result[:, :LEGT_N_MAX], theta * result[:, LEGT_N_MAX], theta * result[:, LEGT_N_MAX + 1]
    # By hand (Gu et al. 2020, appendix D.1, lambda_n = 1): sqrt(2n+1) sqrt(2k+1) on and below the diagonal,
    # times (-1)^(n-k) above it.
    assert A[:3, :3] == sp.Matrix(
        [[1, -sp.sqrt(3), sp.sqrt(5)], [sp.sqrt(3), 3, -sp.sqrt(15)], [sp.sqrt(5), sp.sqrt(15), 5]]
    )
    assert list(B[:3]) == [1, sp.sqrt(3), sp.sqrt(5)] and list(e[:3]) == [1, -sp.sqrt(3), sp.sqrt(5)]
    assert A == legt_matrix(LEGT_N_MAX) and B == legt_input(LEGT_N_MAX) and e == window_start_values(LEGT_N_MAX)


def test_a_is_the_derivative_part_plus_the_rank_one_window_correction():
    exact = sp.ImmutableMatrix(legt_dynamics().expression("exact"))
    unknowns = [c(k, t) for k in range(LEGT_N_MAX)]
    D = -theta * exact.jacobian(unknowns)
    e = -theta * exact.jacobian([f(t - theta)])
    assert e == window_start_values(LEGT_N_MAX)
    assert D.is_lower and all(D[i, i] == 0 for i in range(LEGT_N_MAX))
    assert D + e * e.T == legt_matrix(LEGT_N_MAX)


@pytest.mark.parametrize("degree", range(LEGT_N_MAX))
def test_the_legendre_facts_hold_by_sympys_own_polynomials(degree):
    y = sp.Symbol("y")
    derivative = sp.diff(sp.legendre(degree, y), y)
    assert sp.expand(legendre_derivative_expansion(degree).subs(x, y) - derivative) == 0
    assert sp.legendre(degree, -1) == (-1) ** degree and sp.legendre(degree, 1) == 1


def _wrong_leaving_sign(derivation):
    return derivation.steps[0].stated.subs(P(n, -1), -P(n, -1))


def _wrong_change_of_variables(derivation):
    return derivation.steps[1].stated.subs(f(t), 2 * f(t))


def _wrong_parity_row(derivation):
    rows = derivation.steps[3].stated.as_mutable()
    integral = sp.Integral(f(t + theta * (x - 1) / 2) * (legendre_derivative_expansion(3) + 5 * P(2, x)), (x, -1, 1))
    rows[3] = sp.sqrt(7) * f(t) / theta + sp.sqrt(7) * f(t - theta) / theta - sp.sqrt(7) * integral / theta
    return rows


def _wrong_exact_row(derivation):
    rows = derivation.steps[4].stated.as_mutable()
    rows[2] += c(0, t) / theta
    return rows


def _wrong_reconstruction(derivation):
    rows = derivation.steps[5].stated.as_mutable()
    rows[1] -= c(1, t) / theta
    return rows


def _wrong_closed_form(derivation):
    matrix = derivation.steps[6].stated.as_mutable()
    matrix[0, 1] = -sp.sqrt(3) / theta
    return matrix


@pytest.mark.parametrize(
    "number, perturb",
    [
        (1, _wrong_leaving_sign),
        (2, _wrong_change_of_variables),
        (4, _wrong_parity_row),
        (5, _wrong_exact_row),
        (6, _wrong_reconstruction),
        (7, _wrong_closed_form),
    ],
)
def test_a_perturbed_step_is_rejected_with_its_number(number, perturb):
    derivation = legt_dynamics()
    with pytest.raises(DerivationError, match=f"step {number} "):
        derivation.with_step(number, stated=perturb(derivation)).check()


def test_the_leibniz_step_has_the_entering_and_leaving_values():
    derivative = legt_dynamics().steps[0].stated
    terms = sp.Add.make_args(derivative)
    assert sp.sqrt(2 * n + 1) * P(n, 1) * f(t) / theta in terms
    assert -sp.sqrt(2 * n + 1) * P(n, -1) * f(t - theta) / theta in terms
    assert len(derivative.atoms(sp.Integral)) == 1


# --- hippo-lagt ---------------------------------------------------------------------------------


def test_lagt_every_step_is_proved_for_at_least_six_sizes():
    assert LAGT_N_MAX >= 6
    derivation = lagt_dynamics()
    assert derivation.counts() == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 2}


def test_lagt_closed_form_against_hand_values():
    result = lagt_dynamics().result
    A, B = -result[:, :LAGT_N_MAX], result[:, LAGT_N_MAX]
    # By hand (Gu et al. 2020, LagT): ones on and below the diagonal, B_n = 1.
    assert A[:3, :3] == sp.Matrix([[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert A == lagt_matrix(LAGT_N_MAX) and list(B) == [1] * LAGT_N_MAX


@pytest.mark.parametrize("degree", range(LAGT_N_MAX))
def test_the_laguerre_facts_hold_by_sympys_own_polynomials(degree):
    z = sp.Symbol("z")
    derivative = sp.diff(sp.laguerre(degree, z), z)
    assert sp.expand(laguerre_derivative_expansion(degree).subs(y, z) - derivative) == 0
    assert sp.laguerre(degree, 0) == 1


def _lagt_wrong_entering(derivation):
    return derivation.steps[0].stated.subs(f(t), 2 * f(t))


def _lagt_wrong_linearity(derivation):
    # A wrong step whose comparison holds no integral over [0, oo): SymPy would try to evaluate one before
    # giving up, which takes minutes (the identity step itself is covered by the Laguerre facts above).
    rows = derivation.steps[5].stated.as_mutable()
    rows[3] += c(0, t)
    return rows


def _lagt_wrong_diagonal(derivation):
    matrix = derivation.steps[6].stated.as_mutable()
    matrix[1, 1] = -sp.Rational(1, 2)
    return matrix


@pytest.mark.parametrize(
    "number, perturb", [(1, _lagt_wrong_entering), (6, _lagt_wrong_linearity), (7, _lagt_wrong_diagonal)]
)
def test_lagt_a_perturbed_step_is_rejected_with_its_number(number, perturb):
    derivation = lagt_dynamics()
    with pytest.raises(DerivationError, match=f"step {number} "):
        derivation.with_step(number, stated=perturb(derivation)).check()
