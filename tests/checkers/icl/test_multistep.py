"""lsa-multistep-gd: the registry entry, the worked example (the stack against explicit descent, the flipped value
matrix after one and two layers, GD++, the factors), the anchors, GD++ at gamma = 0, and an edited step size failing."""

import dataclasses

import numpy as np
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from checkers.icl.multistep import MUTANTS, _parts, lsa_multistep_gd
from checkers.sampling import single_instance
from checkers.worked import worked_example
from proofs.derivation import given as given_step
from proofs.icl import eta
from transformer_proofs.strategies import parameters


def test_the_registry_knows_it():
    assert tp.get("lsa-multistep-gd") is lsa_multistep_gd and lsa_multistep_gd.topic == "icl"
    assert list(lsa_multistep_gd.parameters) == ["d_x", "d_y", "N", "K", "eta", "gamma"]
    assert lsa_multistep_gd.default_params() == {"d_x": 3, "d_y": 1, "N": 10, "K": 3, "eta": 0.1, "gamma": 0.05}
    assert len(MUTANTS) == 8


def test_the_worked_example():
    example = worked_example(lsa_multistep_gd, seed=0)
    values = example.values
    assert example.verified
    np.testing.assert_allclose(values["y_lsa"], values["y_gd"], rtol=1e-12)
    np.testing.assert_allclose(values["y_lsa_plus"], values["y_gd_plus"], rtol=1e-12)
    np.testing.assert_allclose(values["factors"], values["measured_factors"], rtol=1e-10)
    # The flipped value matrix: right after one layer, wrong after two.
    np.testing.assert_allclose(values["friendly_1"], values["y_gd_1"], rtol=1e-12)
    assert abs(values["friendly_2"][0] - values["y_gd_2"][0]) > 1e-3


def test_gd_plus_plus_at_gamma_zero_is_gd():
    params = {**lsa_multistep_gd.default_params(), "gamma": 0.0}
    group = single_instance(lsa_multistep_gd, params, seed=2)
    row = lsa_multistep_gd.evaluate_claim(**group.arguments())[:, 0]
    gd, plus, _ = _parts(row, 3, 1, 10)
    np.testing.assert_allclose(plus, gd, rtol=1e-13, atol=1e-15)


def test_the_anchors_worked_by_hand_hold_for_claim_and_oracle():
    result = run_check(lsa_multistep_gd, instances=5, seed=1)
    assert result.status == "verified", result.message
    assert len(result.numeric.anchors) == 2 and all(a.claim_agrees and a.oracle_agrees for a in result.numeric.anchors)


def test_a_doubled_step_size_in_the_closed_form_fails_the_check():
    derivation = lsa_multistep_gd.built_derivation()
    doubled = derivation.result.xreplace({eta: 2 * eta})
    asserting = lambda: derivation.then(given_step("the step size doubled", source="this test"), doubled)  # noqa: E731
    result = run_check(dataclasses.replace(lsa_multistep_gd, derivation=asserting), instances=20, seed=0)
    assert result.status == "failed" and result.symbolic["given"] == 1


@settings(max_examples=6, deadline=None)
@given(params=parameters(lsa_multistep_gd))
def test_property_every_parameter_point_verifies(params):
    example = worked_example(lsa_multistep_gd, seed=params["N"], **params)
    assert example.verified, (params, example.message)
