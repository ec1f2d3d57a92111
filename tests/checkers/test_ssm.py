"""hippo-legs: verified, every mutant refuted, the optimality of the ODE's coefficients, the worked example."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.engine import mutant_outcome, run_check
from checkers.sampling import draw_instances
from checkers.worked import example_params, worked_example
from checkers import ssm
from numerics.ssm.legs import fourier_signal, residual_inner_products
from proofs.ssm import LEGS_N_MAX

MUTANTS = {"diagonal n instead of n + 1", "B_n = 1", "no 1/t: c' = -A c + B f"}


def test_hippo_legs_verifies_with_every_step_proved():
    result = run_check(ssm.hippo_legs, instances=200, seed=3)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 3}
    assert result.numeric.max_error <= 1


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(ssm.hippo_legs, instances=80, seed=1, generated=False)
    refuted = {m.name: m.refuted for m in outcome.mutants}
    assert set(refuted) == MUTANTS
    for name in MUTANTS:
        assert refuted[name], name


def test_only_sizes_the_derivation_covers_are_sampled():
    sizes = {group.params["N"] for group in draw_instances(ssm.hippo_legs, 300, seed=0)}
    assert sizes == set(range(1, LEGS_N_MAX + 1))
    for bad in (0, LEGS_N_MAX + 1):
        with pytest.raises(ValueError, match=f"N={bad}"):
            example_params(ssm.hippo_legs, {"N": bad})


def _signal(group):
    coefficients = {name: group.inputs[name] for name in ("amplitude", "frequency", "phase")}
    return functools.partial(fourier_signal, **coefficients)


def test_the_ode_coefficients_are_the_optimal_projection():
    # With c from the ODE (not from quadrature), the residual f - sum c_n g_n is orthogonal to every g_k in L2(mu_T).
    for group in draw_instances(ssm.hippo_legs, 120, seed=7):
        coefficients = ssm.hippo_legs.evaluate_claim(**group.arguments())
        inner = residual_inner_products(coefficients, _signal(group), group.inputs["T"])
        assert np.abs(inner).max() <= ssm.hippo_legs.policy.atol, group.params["N"]


def test_a_mutant_memory_is_not_orthogonal():
    groups = [g for g in draw_instances(ssm.hippo_legs, 60, seed=7) if g.params["N"] >= 2]
    mutant = ssm.hippo_legs.mutants["B_n = 1"]
    worst = max(
        np.abs(residual_inner_products(mutant(**g.arguments()), _signal(g), g.inputs["T"])).max() for g in groups
    )
    assert worst > 1e3 * ssm.hippo_legs.policy.atol


@given(st.integers(1, LEGS_N_MAX), st.integers(0, 2**32 - 1))
@settings(max_examples=12, deadline=None)
def test_worked_examples_verify_over_the_parameter_space(N, seed):
    assert worked_example(ssm.hippo_legs, seed=seed, N=N).verified


def test_worked_example_values():
    example = worked_example(ssm.hippo_legs, seed=0)
    assert example.params == {"N": 4} and example.verified
    assert set(example.values) == {"A", "B"}
    A, B = np.asarray(example.values["A"]), example.values["B"]
    assert A.shape == (4, 4) and isinstance(B, list) and len(B) == 4
    rows = np.arange(4)
    np.testing.assert_allclose(np.diag(A), rows + 1)
    np.testing.assert_allclose(A[3, 1], np.sqrt(7 * 3))
    np.testing.assert_allclose(np.triu(A, 1), 0)
    np.testing.assert_allclose(B, np.sqrt(2 * rows + 1))


def test_worked_example_renders():
    from transformer_proofs.render import example_latex

    latex = example_latex(worked_example(ssm.hippo_legs, seed=0))
    assert r"\begin{pmatrix}" in latex and r"\num{5.916}" in latex and "agree within the tolerance" in latex


def test_the_worked_example_renders_the_derived_rows():
    import sympy as sp

    from proofs.ssm import c, f, t
    from transformer_proofs.render import example_latex

    latex = example_latex(worked_example(ssm.hippo_legs, seed=0))
    rows = ssm.hippo_legs.built_derivation().expression("ode")
    # By hand: c_0' = (f - c_0)/t and c_1' = (sqrt(3) f - sqrt(3) c_0 - 2 c_1)/t.
    assert sp.simplify(rows[0] - (f(t) - c(0, t)) / t) == 0
    assert sp.simplify(rows[1] - (sp.sqrt(3) * (f(t) - c(0, t)) - 2 * c(1, t)) / t) == 0
    assert all(sp.latex(rows[n]) in latex for n in range(4)) and sp.latex(rows[4]) not in latex
