"""scan-associativity: verified, every mutant refuted, anchors, an edited count fails, property test, worked example
by hand, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from checkers.sampling import single_instance
from checkers.worked import worked_example
from checkers.ssm.scan import derived_operator, scan_associativity


def test_it_verifies_with_every_step_proved():
    result = run_check(scan_associativity, instances=150, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 11, "proved": 11, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    # The tolerance is the oracle's per-instance rounding bound; observed errors are a few percent of it.
    assert result.numeric.max_error < 0.5 and 0 < result.numeric.oracle_accuracy < 1e-10
    assert len(result.numeric.anchors) == 2 and all(a.agrees for a in result.numeric.anchors)


def test_an_edited_count_fails(edited):
    # Blelloch's work 2L - m - 2 -> 2L - m - 1: one constant of the closed form changed.
    wrong = edited(scan_associativity, lambda counts: counts.subs(counts[5], counts[5] + 1))
    result = run_check(wrong, instances=20, seed=0)
    assert result.status == "failed" and "m=" in result.message


def test_the_anchors_are_the_geometric_hand_case():
    for anchor in scan_associativity.anchors:
        m, k = anchor.params["m"], anchor.params["k"]
        np.testing.assert_array_equal(anchor.inputs["a"], np.broadcast_to(np.eye(k) / 2, (2**m, k, k)))
        np.testing.assert_array_equal(anchor.inputs["b"], 1.0)
        states = np.asarray(anchor.value)[: 2**m * k]
        np.testing.assert_allclose(states, np.repeat(2 - 0.5 ** np.arange(2**m), k), rtol=1e-15)


def test_reversed_products_only_show_with_matrices():
    """With k = 1 the a-parts commute, so the 'matrix product reversed' mutant agrees; with k = 2 it does not."""
    mutant = scan_associativity.mutants["matrix product reversed (a1 a2, a2 b1 + b2)"]
    for k, agrees in ((1, True), (2, False)):
        group = single_instance(scan_associativity, {"m": 4, "k": k}, seed=1)
        claim = scan_associativity.evaluate_claim(**group.arguments())
        assert np.allclose(mutant(m=4, **group.inputs), claim) == agrees


def test_the_compiled_operator_composes_in_order():
    rng = np.random.default_rng(0)
    a1, a2 = rng.standard_normal((2, 3, 3))
    b1, b2 = rng.standard_normal((2, 3, 1))
    a, b = derived_operator()((a1, b1), (a2, b2))
    np.testing.assert_allclose(a, a2 @ a1)
    np.testing.assert_allclose(b, a2 @ b1 + b2)


@given(tp.strategies.parameters(scan_associativity))
@settings(max_examples=8, deadline=None)
def test_property_the_example_is_confirmed_anywhere_in_the_domain(params):
    example = worked_example(scan_associativity, seed=0, **params)
    assert example.verified, (params, example.message)
    m = params["m"]
    L = 2**m
    # By hand: Hillis-Steele's rounds combine L - 1, L - 2, L - 4, ..., L - L/2 pairs; Blelloch's stay below 2L.
    assert example.values["work_hillis_steele"] == sum(L - 2**d for d in range(m)) == L * m - L + 1
    assert example.values["work_blelloch"] == 2 * L - m - 2 < 2 * L
    if m >= 2:  # L >= 4: Hillis-Steele is not work-efficient, at least (L log2 L) / 2
        assert example.values["work_hillis_steele"] >= L * m / 2


def test_worked_example_by_hand():
    example = worked_example(scan_associativity)
    assert example.verified and example.params == {"m": 3, "k": 2}
    counts = {k: v for k, v in example.values.items() if k.startswith(("depth", "work"))}
    # L = 8: Hillis-Steele rounds of 7, 6, 4 pairs; Blelloch up-sweep 4, 2, 1 and down-sweep 1, 3.
    assert counts == {
        "depth_sequential": 7,
        "work_sequential": 7,
        "depth_hillis_steele": 3,
        "work_hillis_steele": 17,
        "depth_blelloch": 5,
        "work_blelloch": 11,
    }
    inputs = single_instance(scan_associativity, example.params, seed=0).inputs
    h = np.zeros((2, 1))
    for a_t, b_t in zip(inputs["a"][0], inputs["b"][0]):
        h = a_t @ h + b_t
    np.testing.assert_allclose(example.values["h_L"], h.ravel(), rtol=1e-12)


def test_the_cost_figure_draws_derived_and_counted_costs():
    from checkers.worked import theorem_figures

    (plot,) = theorem_figures(scan_associativity)
    assert plot.name == "scan-costs" and len(plot.figure.axes) == 2
    assert len(plot.figure.axes[1].lines) == 6  # counted and derived, for three scans


def test_the_syllabus_o_log_l_is_stated_as_the_depth_not_an_erratum():
    assert scan_associativity.errata == ()
    assert r"$O(\log L)$ of parallel prefix scans is their depth" in scan_associativity.statement
