"""zoh-discretization: verified, mutants refuted, anchors, an edited closed form fails, property test, worked
example by other algorithms, figure, input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from checkers.engine import mutant_outcome, run_check
from checkers.sampling import draw_instances
from checkers.worked import example_params, theorem_figures, worked_example
from checkers.ssm.zoh import N_MAX, zoh_discretization as theorem
from proofs.ssm.zoh import Delta, a
from transformer_proofs.render import example_latex

MUTANTS = {
    "missing inverse: B_bar = (exp(Delta A) - I) Delta B",
    "exp(A) instead of exp(Delta A)",
    "Mamba's B_bar = Delta B claimed exact",
    "forward Euler: A_bar = I + Delta A, B_bar = Delta B",
}


def test_an_edited_closed_form_fails(edited):
    # B_bar with its 1/a replaced by Delta (the "missing inverse"): the check must fail.
    wrong = edited(theorem, lambda result: result.subs(1 / a, Delta))
    assert wrong.closed_form is not None
    result = run_check(wrong, instances=30, seed=0)
    assert result.status == "failed" and result.numeric.max_error > 1e6


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(theorem, instances=100, seed=2, generated=False)
    refuted = {m.name: m.refuted for m in outcome.mutants}
    assert set(refuted) == MUTANTS and all(refuted.values()), refuted


def test_sampled_systems_are_diagonalisable_mostly_stable_and_of_covered_sizes():
    groups = draw_instances(theorem, 200, seed=0)
    assert {g.params["N"] for g in groups} == set(range(1, N_MAX + 1))
    unstable = []
    for group in groups:
        eigenvalues = np.sort(np.linalg.eigvals(group.inputs["A"]).real, axis=1)
        np.testing.assert_allclose(eigenvalues, np.sort(group.inputs["eigenvalues"], axis=1), rtol=1e-9)
        assert np.all((eigenvalues <= 1) & (np.abs(eigenvalues) >= 0.1 - 1e-12))
        assert np.all(np.linalg.cond(group.inputs["V"]) <= 4 + 1e-9)
        unstable.append(eigenvalues > 0)
    assert 0.15 < np.concatenate([u.ravel() for u in unstable]).mean() < 0.35


def test_the_anchors_are_diagonal_hand_cases():
    for anchor in theorem.anchors:
        inputs = anchor.inputs
        np.testing.assert_array_equal(inputs["A"], np.diag(inputs["eigenvalues"]))
        np.testing.assert_array_equal(inputs["V"], np.eye(anchor.params["N"]))
        A_bar, B_bar = np.asarray(anchor.value)[:, :-1], np.asarray(anchor.value)[:, -1]
        lam, Delta = inputs["eigenvalues"], anchor.params["Delta"]
        np.testing.assert_allclose(A_bar, np.diag(np.exp(Delta * lam)), rtol=1e-15)
        np.testing.assert_allclose(B_bar, (np.exp(Delta * lam) - 1) / lam * inputs["B"], rtol=1e-15)


@given(st.integers(1, N_MAX), st.floats(1e-3, 2.0), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_worked_examples_verify_over_the_parameter_space(N, Delta, seed):
    assert worked_example(theorem, seed=seed, N=N, Delta=Delta).verified


def test_worked_example_against_the_matrix_exponential_and_van_loans_block_trick():
    example = worked_example(theorem, seed=0)
    assert example.params == {"N": 2, "Delta": 0.1} and example.verified
    v = example.values
    A, B, Delta = np.asarray(v["A"]), np.asarray(v["B"]), 0.1
    np.testing.assert_allclose(v["A_bar"], expm(Delta * A), rtol=1e-12)
    # Van Loan: exp(Delta [[A, B], [0, 0]]) holds int_0^Delta e^{sA} ds B in its last column.
    block = np.zeros((3, 3))
    block[:2, :2], block[:2, 2] = A, B
    np.testing.assert_allclose(v["B_bar"], expm(Delta * block)[:2, 2], rtol=1e-12)
    np.testing.assert_allclose(v["B_bar_euler"], Delta * B, rtol=1e-15)
    error = np.linalg.norm(np.asarray(v["B_bar"]) - Delta * B)
    assert v["error"] == pytest.approx(error, rel=1e-12)
    # The series: B_bar - Delta B = Delta^2 A B / 2 + Delta^3 A^2 B / 6 + O(Delta^4), by hand.
    series = Delta**2 * A @ B / 2 + Delta**3 * A @ A @ B / 6
    remainder = Delta**4 * np.linalg.norm(A, 2) ** 3 * np.linalg.norm(B)
    assert np.linalg.norm(np.asarray(v["B_bar"]) - Delta * B - series) <= remainder
    assert v["leading_term"] == pytest.approx(Delta**2 * np.linalg.norm(A @ B) / 2, rel=1e-12)


def test_the_figure_shows_slope_two_for_small_steps():
    (plot,) = theorem_figures(theorem, seed=0)
    assert plot.name == "euler-error"
    Delta, error = plot.figure.axes[0].lines[0].get_data()
    small = Delta <= 1e-2
    slope = np.polyfit(np.log(Delta[small]), np.log(error[small]), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.02)
    large = Delta >= 5.0
    assert np.polyfit(np.log(Delta[large]), np.log(error[large]), 1)[0] < 1.5


def test_a_step_outside_the_domain_is_bad_input():
    with pytest.raises(ValueError, match="Delta=5"):
        example_params(theorem, {"Delta": 5.0})


def test_the_worked_example_renders_the_derived_formulas():
    latex = example_latex(worked_example(theorem, seed=0))
    # The scalar closed form and the lemma's series, as SymPy prints them, typed here by hand.
    assert r"\bar A = e^{\Delta a}" in latex and r"\bar B = \frac{b \left(e^{\Delta a} - 1\right)}{a}" in latex
    assert r"\frac{\Delta^{3} a^{2} b}{6} + \frac{\Delta^{2} a b}{2}" in latex
    assert r"e^{\Delta A}" not in latex and "Not confirmed" not in latex
