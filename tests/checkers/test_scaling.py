"""chinchilla-allocation: verified, every mutant refuted, property test, worked example, bad input, an edited statement fails."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

import proofs.scaling
import transformer_proofs as tp
from checkers.engine import run_check
from checkers.worked import worked_example
from checkers.scaling import ALLOCATION_VALUES, chinchilla_allocation, evaluated

CATALOG_VALUES = {"N_opt", "D_opt", "L_opt", "a", "b", "G"}


@given(tp.strategies.parameters(chinchilla_allocation))
@settings(max_examples=60, deadline=None)
def test_property_the_example_is_confirmed_anywhere_in_the_domain(params):
    example = worked_example(chinchilla_allocation, seed=0, **params)
    assert example.verified, (params, example.message)
    values = example.values
    assert values["a"] + values["b"] == pytest.approx(1.0, rel=1e-15)
    assert 6 * values["N_opt"] * values["D_opt"] == pytest.approx(params["C"], rel=1e-12)


def test_worked_example_at_hoffmanns_fit():
    example = worked_example(chinchilla_allocation)
    assert example.verified
    assert set(example.values) == set(ALLOCATION_VALUES) and CATALOG_VALUES <= set(example.values)
    assert example.params == {"A": 406.4, "B": 410.7, "E": 1.69, "alpha": 0.34, "beta": 0.28, "C": 5.76e23}
    values = example.values
    assert values["a"] == pytest.approx(0.28 / 0.62) and values["b"] == pytest.approx(0.34 / 0.62)
    assert values["N_opt"] == pytest.approx(3.219e10, rel=1e-3)
    assert values["D_opt"] == pytest.approx(2.982e12, rel=1e-3)
    # The rounded approach-3 fit asks for far more tokens per parameter than Chinchilla's 20.
    assert values["tokens_per_param"] == pytest.approx(values["D_opt"] / values["N_opt"], rel=1e-12)
    assert 90 < values["tokens_per_param"] < 95
    assert values["L_opt"] == pytest.approx(1.9307, rel=1e-4)


def test_evaluated_at_a_point_and_on_a_batch():
    # a = beta/(alpha + beta) by hand: 0.28/0.62 at Hoffmann et al.'s fit.
    a = evaluated(chinchilla_allocation, "a", alpha=0.34, beta=0.28)
    assert isinstance(a, float) and a == pytest.approx(0.28 / 0.62, rel=1e-15)
    # Arrays give the batch; scalars are repeated along it.
    batch = evaluated(chinchilla_allocation, "a", alpha=np.array([0.34, 0.5]), beta=0.28)
    np.testing.assert_allclose(batch, [0.28 / 0.62, 0.28 / 0.78], rtol=1e-15)
    # No label: the claim, one row (N_opt, D_opt, L_opt) at a point; D_opt = C/(6 N_opt) by the budget.
    N, D, _ = evaluated(chinchilla_allocation, **chinchilla_allocation.default_params())
    assert D == pytest.approx(5.76e23 / (6 * N), rel=1e-13)


def test_a_derivation_under_another_flop_count_fails_the_check(monkeypatch):
    """Derived consistently (every step proved) under C = 5 N D instead of 6 N D: the oracle refutes the result."""
    C = proofs.scaling.C

    def five_flops_per_parameter_and_token():
        with monkeypatch.context() as patch:
            patch.setattr(proofs.scaling, "_budget", C / 5)
            return proofs.scaling.compute_optimal_allocation()

    edited = dataclasses.replace(chinchilla_allocation, derivation=five_flops_per_parameter_and_token)
    assert edited.built_derivation().counts()["proved"] == 16
    assert edited.built_derivation().result != chinchilla_allocation.built_derivation().result
    result = run_check(edited, instances=20, seed=0)
    assert result.status == "failed" and result.numeric.max_error > 1e6


def test_the_anchor_worked_by_hand_holds_for_claim_and_oracle():
    result = run_check(chinchilla_allocation, instances=5, seed=1)
    (anchor,) = result.numeric.anchors
    assert anchor.claim_agrees and anchor.oracle_agrees


def test_the_20_tokens_erratum_is_context_not_an_error():
    (erratum,) = chinchilla_allocation.errata
    assert erratum.kind == "context" and "table 3" in erratum.corrected
