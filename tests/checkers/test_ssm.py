"""hippo-legs: verified, mutants refuted, anchors, an edited closed form fails, the ODE's coefficients are the
optimal projection, the worked example."""

import dataclasses
import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers import ssm
from checkers.closed_form import compile_closed_form
from checkers.engine import mutant_outcome, run_check
from checkers.sampling import draw_instances
from checkers.theorem import call_with
from checkers.worked import example_params, worked_example
from numerics.ssm.legs import fourier_signal, integrate_memory, residual_inner_products
from proofs.ssm import LEGS_N_MAX

MUTANTS = {"diagonal n instead of n + 1", "B_n = 1", "no 1/t: c' = -A c + B f"}


def test_hippo_legs_verifies_with_every_step_proved_and_its_anchors():
    result = run_check(ssm.hippo_legs, instances=200, seed=3)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 2}
    assert result.numeric.max_error <= 0.5
    assert len(result.numeric.anchors) == 2 and all(a.agrees for a in result.numeric.anchors)


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(ssm.hippo_legs, instances=80, seed=1, generated=False)
    refuted = {m.name: m.refuted for m in outcome.mutants}
    assert set(refuted) == MUTANTS
    for name in MUTANTS:
        assert refuted[name], name


def _edited(edit):
    wrong = compile_closed_form(edit(ssm.hippo_legs.built_derivation().result))
    return dataclasses.replace(
        ssm.hippo_legs,
        assemble=lambda _, **arguments: call_with(functools.partial(ssm.hippo_legs.assemble, wrong), arguments),
    )


def test_an_edited_matrix_entry_fails():
    # A_21 = sqrt(15) (the only sqrt(15) of the closed form) -> 1.001 sqrt(15): one entry of the statement's A.
    edited = _edited(lambda R: R.xreplace({sp.sqrt(15): sp.Float(1.001) * sp.sqrt(15)}))
    assert run_check(edited, instances=30, seed=0).status == "failed"


def test_an_edited_rate_fails():
    t = sp.Symbol("t", positive=True)
    assert run_check(_edited(lambda R: R.subs(t, t**2)), instances=30, seed=0).status == "failed"


def test_only_sizes_the_derivation_covers_are_sampled():
    sizes = {group.params["N"] for group in draw_instances(ssm.hippo_legs, 300, seed=0)}
    assert sizes == set(range(1, LEGS_N_MAX + 1))
    for bad in (0, LEGS_N_MAX + 1):
        with pytest.raises(ValueError, match=f"N={bad}"):
            example_params(ssm.hippo_legs, {"N": bad})


def test_the_ode_with_the_derived_matrices_gives_the_optimal_projection():
    # Integrated from t0 = 1e-9 T (c ODE), the residual f - sum c_n g_n is orthogonal to every g_k in L2(mu_T).
    rng = np.random.default_rng(7)
    signal_coefficients = ssm.signal_inputs(rng, 20)
    signal = functools.partial(fourier_signal, **signal_coefficients)
    T = rng.uniform(0.5, 5.0, 20)
    for N in (1, 4, 8):
        A, B = ssm.legs_matrices(N)
        inner = residual_inner_products(integrate_memory(A, B, signal, T), signal, T)
        assert np.abs(inner).max() <= 1e-8, N
        wrong = residual_inner_products(integrate_memory(A, np.ones(N), signal, T), signal, T)
        assert N == 1 or np.abs(wrong).max() > 1e-3


@given(st.integers(1, LEGS_N_MAX), st.floats(0.25, 4.0), st.integers(0, 2**32 - 1))
@settings(max_examples=12, deadline=None)
def test_worked_examples_verify_over_the_parameter_space(N, t, seed):
    assert worked_example(ssm.hippo_legs, seed=seed, N=N, t=t).verified


def test_worked_example_values():
    example = worked_example(ssm.hippo_legs, seed=0)
    assert example.params == {"N": 4, "t": 1.0} and example.verified
    assert set(example.values) == {"A", "B"}
    A, B = np.asarray(example.values["A"]), example.values["B"]
    np.testing.assert_allclose(A, ssm.LEGS_PRINTED[0], rtol=1e-15)
    np.testing.assert_allclose(B, ssm.LEGS_PRINTED[1], rtol=1e-15)


def test_the_erratum_is_ambiguous_with_both_readings():
    (erratum,) = ssm.hippo_legs.errata
    assert erratum.kind == "ambiguous" and len(erratum.readings) == 2


def test_worked_example_renders():
    from transformer_proofs.render import example_latex

    latex = example_latex(worked_example(ssm.hippo_legs, seed=0))
    assert r"\begin{pmatrix}" in latex and r"\num{5.916}" in latex and "agree within the tolerance" in latex


def test_the_worked_example_renders_the_derived_rows():
    from proofs.ssm import c, f, t
    from transformer_proofs.render import example_latex

    latex = example_latex(worked_example(ssm.hippo_legs, seed=0))
    rows = ssm.hippo_legs.built_derivation().expression("ode")
    # By hand: c_0' = (f - c_0)/t and c_1' = (sqrt(3) f - sqrt(3) c_0 - 2 c_1)/t.
    assert sp.simplify(rows[0] - (f(t) - c(0, t)) / t) == 0
    assert sp.simplify(rows[1] - (sp.sqrt(3) * (f(t) - c(0, t)) - 2 * c(1, t)) / t) == 0
    assert all(sp.latex(rows[n]) in latex for n in range(4)) and sp.latex(rows[4]) not in latex
