"""lsa-gd: verified against explicit GD on every token, mutants refuted, worked example, handout block, the anchors,
the erratum's readings, an edited step size fails."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from checkers.sampling import Group, draw_instances, single_instance
from checkers.theorem import call_with
from checkers.worked import worked_example
from checkers.icl import lsa_gd
from numerics.icl import (
    gradient_descent_construction,
    gradient_descent_step,
    gradient_descent_tokens,
    linear_self_attention,
    token_matrix,
)
from proofs.derivation import given as given_step
from proofs.icl import eta, lsa_token_update
from transformer_proofs.strategies import parameters

MUTANTS = {
    "P = eta I (no 1/N)",
    "prediction read out without the minus sign",
    "W_K = W_Q = I on (x, y)",
    "scores scaled by 1/sqrt(d)",
    "friendlier W_V = [[0, 0], [-W_0, I]]",
}


@pytest.fixture(scope="module")
def checked():
    return run_check(lsa_gd, instances=300, seed=0, mutants=True)


def test_it_verifies_with_every_step_proved(checked):
    assert checked.status == "verified", checked.message
    assert checked.numeric.instances == 300 and checked.numeric.max_error <= 1
    assert checked.symbolic == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_mutant_is_refuted(checked, name):
    outcomes = {m.name: m for m in checked.mutants}
    assert set(outcomes) == MUTANTS
    assert outcomes[name].refuted, outcomes[name].evidence


def test_the_registry_knows_it():
    theorem = tp.get("lsa-gd")
    assert theorem is lsa_gd and theorem.topic == "icl"
    assert list(theorem.parameters) == ["d_x", "d_y", "N", "eta"]
    assert theorem.default_params() == {"d_x": 3, "d_y": 1, "N": 10, "eta": 0.1}
    assert theorem.derivation is lsa_token_update
    assert not theorem.parameters["N"].contains(0)


def _group(d_x=2, d_y=3, N=6, seed=0):
    return single_instance(lsa_gd, {"d_x": d_x, "d_y": d_y, "N": N, "eta": 0.3}, seed)


def _call(function, group):
    return call_with(function, group.arguments())


def _with_inputs(group, **inputs):
    return Group(group.params, {**group.inputs, **inputs}, group.index, group.seed)


def test_the_claim_compares_every_token_with_the_layer_and_with_explicit_gd():
    group = _group()
    claim = lsa_gd.evaluate_claim(**group.arguments())
    both, bound = _call(lsa_gd.oracle, group)
    assert claim.shape == both.shape == (1, 2, 5, 7) and bound.shape == (1, 1, 5, 7)
    assert np.all(np.abs(claim - both) <= bound)
    layer, descent = both[:, 0], both[:, 1]
    arguments = group.arguments()
    weights = gradient_descent_construction(arguments["W_0"], arguments["eta"], group.params["N"])
    np.testing.assert_array_equal(layer, linear_self_attention(token_matrix(*(arguments[k] for k in ("X", "Y", "x_q", "y_q"))), *weights))
    gd = gradient_descent_tokens(**{k: arguments[k] for k in ("X", "Y", "x_q", "y_q", "W_0", "eta")})
    np.testing.assert_array_equal(descent, gd)


def test_the_friendlier_value_matrix_reads_w1_but_moves_the_training_targets_the_wrong_way():
    group = _group()
    arguments = group.arguments()
    d_x = group.params["d_x"]
    W_0, x_q = arguments["W_0"], arguments["x_q"]
    # Its own convention: start the query at y_q = W_0 x_q, read the query's y channel without a minus sign.
    friendly = _call(lsa_gd.mutants["friendlier W_V = [[0, 0], [-W_0, I]]"], _with_inputs(group, y_q=W_0 @ x_q))[:, 0]
    W_1 = gradient_descent_step(arguments["X"], arguments["Y"], W_0, arguments["eta"])
    np.testing.assert_allclose(friendly[:, d_x:, -1:], W_1 @ x_q, atol=1e-12)
    gd = gradient_descent_tokens(**{k: arguments[k] for k in ("X", "Y", "x_q", "y_q", "W_0", "eta")})
    training_gap = np.abs(friendly[:, d_x:, :-1] - gd[:, d_x:, :-1])
    assert training_gap.min() > 0 and training_gap.max() > 1e-3


def test_identity_keys_and_queries_are_wrong_on_the_training_tokens():
    group = _group()
    arguments = group.arguments()
    mutant = _call(lsa_gd.mutants["W_K = W_Q = I on (x, y)"], group)[:, 0]
    both, bound = _call(lsa_gd.oracle, group)
    tokens, bound = both[:, 1], bound[:, 0]
    d_x = group.params["d_x"]
    assert np.all(np.abs(mutant[:, d_x:, :-1] - tokens[:, d_x:, :-1]) > 1e3 * bound[:, d_x:, :-1])
    np.testing.assert_array_equal(mutant[:, :d_x], tokens[:, :d_x])


@settings(max_examples=25, deadline=None)
@given(params=parameters(lsa_gd))
def test_property_every_parameter_point_verifies(params):
    example = worked_example(lsa_gd, seed=params["N"], **params)
    assert example.verified, (params, example.message)
    np.testing.assert_allclose(example.values["y_lsa"], example.values["y_gd"], rtol=1e-10, atol=1e-12)


def test_the_worked_example():
    example = worked_example(lsa_gd, seed=0)
    assert example.verified
    assert example.params == {"d_x": 3, "d_y": 1, "N": 10, "eta": 0.1}
    values = example.values
    assert list(values) == ["W_K", "W_Q", "W_V", "P", "y_lsa", "y_gd"]
    W_K, W_Q, W_V, P = gradient_descent_construction(np.zeros((1, 1, 3)), np.array([0.1]), 10)
    for name, want in zip(("W_K", "W_Q", "W_V", "P"), (W_K, W_Q, W_V, P)):
        assert np.asarray(values[name]).shape == (4, 4)
        np.testing.assert_array_equal(values[name], want[0])
    assert isinstance(values["y_lsa"], list) and len(values["y_lsa"]) == 1
    np.testing.assert_allclose(values["y_lsa"], values["y_gd"], rtol=1e-12)
    # Same seed, same data: the example is reproducible.
    assert worked_example(lsa_gd, seed=0).values["y_gd"] == values["y_gd"]


def test_the_example_json_has_the_catalog_names():
    document = tp.example("lsa-gd", seed=2, d_x=2, d_y=2).to_json()
    assert document["params"] == {"d_x": 2, "d_y": 2, "N": 10, "eta": 0.1}
    assert set(document["values"]) == {"W_K", "W_Q", "W_V", "P", "y_lsa", "y_gd"}
    assert len(document["values"]["y_lsa"]) == 2 and len(document["values"]["W_V"]) == 4
    assert document["verified"] is True


def test_sampling_groups_by_the_shape_parameters():
    groups = draw_instances(lsa_gd, 50, seed=1)
    assert sum(g.size for g in groups) == 50
    for g in groups:
        assert g.inputs["X"].shape == (g.size, g.params["d_x"], g.params["N"])
        assert g.inputs["W_0"].shape == (g.size, g.params["d_y"], g.params["d_x"])


def test_the_handout_block_shows_both_value_matrices():
    latex = tp.example("lsa-gd", seed=0).to_latex()
    assert r"-W_0 & I" in latex and "Why the sign matters" in latex
    assert r"\num{0.01}" in latex and "y_{\\mathrm{GD}}" in latex
    assert "agreed with the literal layer and with explicit gradient descent" in latex


def test_the_anchors_worked_by_hand_hold_for_claim_and_oracle(checked):
    anchors = checked.numeric.anchors
    assert len(anchors) == 2 and all(a.claim_agrees and a.oracle_agrees for a in anchors)


def test_the_anchors_data_is_the_hand_data_in_the_papers_setting():
    for anchor in lsa_gd.anchors:
        drawn = single_instance(lsa_gd, anchor.params, seed=4).inputs
        assert set(anchor.inputs) == set(drawn)
        assert all(np.shape(anchor.inputs[k]) == drawn[k].shape[1:] for k in drawn)
        inputs = anchor.inputs
        assert np.all(inputs["X"] == 2) and np.all(inputs["Y"] == 1) and np.all(inputs["x_q"] == 1)
        assert not np.any(inputs["y_q"]) and not np.any(inputs["W_0"])
    wrong_value = [[[2.0, 1.0], [1.0, -1.0]]] * 2
    wrong = dataclasses.replace(lsa_gd, anchors=(dataclasses.replace(lsa_gd.anchors[0], value=wrong_value),))
    failed = run_check(wrong, instances=4, seed=0)
    assert failed.status == "failed" and "X=[[2.]], Y=[[1.]]" in failed.message


def test_the_ols_erratum_is_ambiguous_with_both_readings():
    (erratum,) = lsa_gd.errata
    assert erratum.kind == "ambiguous" and len(erratum.readings) == 2


def test_a_doubled_step_size_in_the_closed_form_fails_the_check():
    """The derivation's result with eta replaced by 2 eta (asserted as given): the check fails."""
    derivation = lsa_gd.built_derivation()
    doubled = derivation.result.xreplace({eta: 2 * eta})
    assert doubled != derivation.result
    asserting = lambda: derivation.then(given_step("the step size doubled", source="this test"), doubled)
    result = run_check(dataclasses.replace(lsa_gd, derivation=asserting), instances=20, seed=0)
    assert result.status == "failed" and result.symbolic["given"] == 1
