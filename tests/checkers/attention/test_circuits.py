"""multihead-circuits: verified, every mutant refuted, property test, worked example against torch, bad input."""

import dataclasses
import functools

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.attention.circuits import multihead_circuits
from checkers.closed_form import compile_closed_form
from checkers.engine import mutant_outcome, run_check
from checkers.independence import independence
from checkers.sampling import single_instance
from checkers.theorem import call_with
from checkers.worked import worked_example


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(multihead_circuits, instances=200, seed=0, generated=False)
    names = {m.name for m in outcome.mutants}
    assert {"row-major vec (numpy's default reshape)", "Kronecker factors swapped: A kron W_OV^T"} <= names
    assert len(names) >= 3
    assert all(m.refuted for m in outcome.mutants), [m.evidence for m in outcome.mutants if not m.refuted]


def test_the_oracle_reaches_none_of_the_claims_code():
    reached = independence(multihead_circuits)
    assert not reached.shared and "numerics.attention.kernels:softmax" in reached.claim


def test_the_ov_circuit_untransposed_in_the_closed_form_fails_the_check():
    # Edit the derived closed form (W_OV^T kron A) vec X into (W_OV kron A) vec X.
    result = multihead_circuits.built_derivation().result
    (kronecker,) = result.atoms(sp.KroneckerProduct)
    ov_transposed, pattern = kronecker.args
    untransposed = sp.Transpose(ov_transposed).doit()
    edited_form = compile_closed_form(result.xreplace({kronecker: sp.KroneckerProduct(untransposed, pattern)}))
    edited = dataclasses.replace(
        multihead_circuits,
        assemble=lambda _, **arguments: call_with(functools.partial(multihead_circuits.assemble, edited_form), arguments),
    )
    assert run_check(multihead_circuits, instances=30, seed=0).status == "verified"
    failed = run_check(edited, instances=30, seed=0)
    assert failed.status == "failed" and failed.numeric.counterexample.params["d_model"] >= 2


def test_the_anchors_are_worked_by_hand_at_their_own_inputs():
    result = run_check(multihead_circuits, instances=4, seed=0)
    assert len(result.numeric.anchors) == 2
    assert all(a.claim_agrees and a.oracle_agrees for a in result.numeric.anchors)
    assert "case" not in multihead_circuits.parameters
    for anchor in multihead_circuits.anchors:
        drawn = single_instance(multihead_circuits, anchor.params, seed=7).inputs
        assert set(anchor.inputs) == set(drawn)
        assert all(np.shape(anchor.inputs[k]) == drawn[k].shape[1:] for k in drawn)
    small, one_head = (a.inputs for a in multihead_circuits.anchors)
    np.testing.assert_array_equal(small["X"], [[0, 0], [1, 1]])
    np.testing.assert_array_equal(small["W_Q"], np.log(2) * np.ones((2, 2, 1)) * [[1], [0]])
    np.testing.assert_array_equal(small["W_V"], [[[1], [0]]] * 2)
    np.testing.assert_array_equal(small["W_O"], [[1, 0], [1, 0]])
    np.testing.assert_array_equal(one_head["X"], [[0], [1], [2]])
    wrong = dataclasses.replace(
        multihead_circuits, anchors=(dataclasses.replace(multihead_circuits.anchors[1], value=np.zeros(13)),)
    )
    failed = run_check(wrong, instances=4, seed=0)
    assert failed.status == "failed" and "X=[[0.] [1.] [2.]]" in failed.message


def test_the_claim_is_the_sum_of_heads_by_hand():
    """The claim's output part equals sum_h A^h X W_V^h W_O^h written with einsum here."""
    params = {"n_tokens": 4, "d_model": 5, "H": 3, "d_head": 2}
    group = single_instance(multihead_circuits, params, seed=3)
    inputs = {k: v for k, v in group.inputs.items()}
    claim = multihead_circuits.evaluate_claim(**params, **inputs)
    X, W_Q, W_K, W_V, W_O = (inputs[k][0] for k in ("X", "W_Q", "W_K", "W_V", "W_O"))
    logits = np.einsum("id,hde,hfe,jf->hij", X, W_Q, W_K, X) / np.sqrt(2)
    patterns = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    Z = np.einsum("hij,jd,hde,hek->ik", patterns, X, W_V, W_O.reshape(3, 2, 5))
    np.testing.assert_allclose(claim[0, :20], Z.ravel(order="F"), atol=1e-13)
    np.testing.assert_allclose(claim[0, 20:68], patterns.ravel(), atol=1e-14)
    assert claim[0, 68:].tolist() == [2.0, 2.0, 2.0]


@given(tp.strategies.parameters(multihead_circuits))
@settings(max_examples=40, deadline=None)
def test_property_circuits_form_equals_literal_anywhere_in_the_domain(params):
    example = worked_example(multihead_circuits, seed=2, **params)
    assert example.verified, (params, example.message)
    v = example.values
    assert v["max_difference"] < 1e-12
    assert v["rank_W_OV"] == [min(params["d_model"], params["d_head"])] * params["H"] == [v["rank_bound"]] * params["H"]


def test_worked_example_against_torch():
    example = worked_example(multihead_circuits)
    assert example.verified
    assert example.params == {"n_tokens": 3, "d_model": 4, "H": 2, "d_head": 2}
    v = example.values
    group = single_instance(multihead_circuits, example.params, seed=0)
    X, W_Q, W_K, W_V, W_O = (group.inputs[k][0] for k in ("X", "W_Q", "W_K", "W_V", "W_O"))
    module = torch.nn.MultiheadAttention(4, 2, bias=False, batch_first=True, dtype=torch.float64)
    stacked = [np.swapaxes(W, 1, 2).reshape(4, 4) for W in (W_Q, W_K, W_V)]
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.from_numpy(np.concatenate(stacked)))
        module.out_proj.weight.copy_(torch.from_numpy(W_O.T))
        x = torch.from_numpy(X)[None]
        expected = module(x, x, x, need_weights=False)[0][0].numpy()
    np.testing.assert_allclose(v["Z"], expected, atol=1e-13)
    assert v["rank_W_OV"] == [2, 2] and v["rank_bound"] == 2
    np.testing.assert_allclose(np.array(v["W_OV_singular_values"])[:, :2], 1.0, atol=1e-14)
    assert v["row_major_difference"] > 0.1 and v["swapped_difference"] > 0.1
