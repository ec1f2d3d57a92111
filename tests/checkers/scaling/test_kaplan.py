"""kaplan-exponents: verified, mutants refuted, property test, Kaplan's numbers, seed 001's erratum, bad input,
the anchor, the blind spots, an edited exponent fails."""

import dataclasses

import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from proofs.derivation import given as given_step
from proofs.scaling.kaplan import alpha_D, alpha_N
from checkers.worked import worked_example
from checkers.scaling.kaplan import kaplan_exponents


@given(tp.strategies.parameters(kaplan_exponents))
@settings(max_examples=40, deadline=None)
def test_property_the_optimum_spends_the_budget(params):
    example = worked_example(kaplan_exponents, **params)
    assert example.verified
    values = example.values
    assert 6 * values["N_opt"] * values["D_opt"] == pytest.approx(params["C"], rel=1e-12)
    assert values["a"] + values["b"] == pytest.approx(1.0, rel=1e-15)


def test_kaplans_joint_fit():
    example = worked_example(kaplan_exponents)
    assert example.verified
    assert example.params == {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13, "C": 5.76e23}
    v = example.values
    # By hand: 10^-0.076 = 0.8395, 10^-0.103 = 0.7889; a = 0.103/0.179; alpha_C = 0.076*0.103/0.179 = 0.04373.
    assert v["gain_N"] == pytest.approx(0.83946, rel=1e-4)
    assert v["gain_D"] == pytest.approx(0.78886, rel=1e-4)
    assert v["a"] == pytest.approx(0.103 / 0.179, rel=1e-14) and v["b"] == pytest.approx(0.076 / 0.179, rel=1e-14)
    assert v["alpha_C_joint"] == pytest.approx(0.076 * 0.103 / 0.179, rel=1e-14)
    # N_opt = N_c^b (alpha_N C / (6 alpha_D D_c))^a, in logs: b ln(6.4e13) + a ln(3.9353e9) = 13.497 + 12.713 = 26.210.
    assert v["N_opt"] == pytest.approx(2.4153e11, rel=1e-4)
    # Kaplan et al. print D ~ N^0.74 (section 1.2): alpha_N/alpha_D = 0.738.
    assert v["N_ridge_exponent"] == pytest.approx(0.74, abs=0.005)
    # Chinchilla's approach-3 exponent beta/(alpha + beta) = 0.28/0.62, far below Kaplan's published 0.73.
    assert v["a_chinchilla"] == pytest.approx(0.28 / 0.62) and v["a_kaplan_published"] == 0.73


def test_the_anchor_worked_by_hand_holds_for_claim_and_oracle():
    (anchor,) = run_check(kaplan_exponents, instances=5, seed=1).numeric.anchors
    assert anchor.claim_agrees and anchor.oracle_agrees


def test_an_allocation_with_the_exponents_edited_fails_the_check():
    """The closed form with alpha_N and alpha_D exchanged in a, b (asserted as given): the check fails."""
    derivation = kaplan_exponents.built_derivation()
    exchanged = derivation.result.xreplace({alpha_N: alpha_D, alpha_D: alpha_N})
    asserting = lambda: derivation.then(given_step("the exponents exchanged", source="this test"), exchanged)
    result = run_check(dataclasses.replace(kaplan_exponents, derivation=asserting), instances=20, seed=0)
    assert result.status == "failed" and result.symbolic["given"] == 1
