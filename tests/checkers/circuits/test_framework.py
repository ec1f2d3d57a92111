"""circuits-framework: the claim by hand, a broken closed form caught, anchors at their own inputs, worked example."""

import dataclasses
import functools

import numpy as np
import sympy as sp
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.circuits.framework import ELHAGE_OV_MUTANT, circuits_framework
from checkers.closed_form import compile_closed_form
from checkers.engine import run_check
from checkers.sampling import single_instance
from checkers.theorem import call_with
from checkers.worked import worked_example


def test_the_claim_is_the_sum_of_paths_by_hand():
    """The claim's logits equal T W_E W_U + sum_h A^h T W_E W_V^h W_O^h W_U written with einsum here."""
    params = {"n_tokens": 4, "n_vocab": 5, "d_model": 3, "H": 2, "d_head": 2}
    inputs = {k: v[0] for k, v in single_instance(circuits_framework, params, seed=3).inputs.items()}
    claim = circuits_framework.evaluate_claim(**params, **{k: v[None] for k, v in inputs.items()})[0]
    T, W_E, W_Q, W_K, W_V, W_O, W_U = (inputs[k] for k in ("T", "W_E", "W_Q", "W_K", "W_V", "W_O", "W_U"))
    scores = np.einsum("iv,vd,hde,hfe,jw,wf->hij", T, W_E, W_Q, W_K, T, W_E) / np.sqrt(2)
    scores = np.where(np.tril(np.ones((4, 4), dtype=bool)), scores, -np.inf)
    patterns = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    logits = T @ W_E @ W_U + np.einsum("hij,jv,vd,hde,hef,fw->iw", patterns, T, W_E, W_V, W_O, W_U)
    np.testing.assert_allclose(claim[:20], logits.ravel(), atol=1e-13)
    np.testing.assert_allclose(claim[20:52], patterns.ravel(), atol=1e-14)
    assert claim[52:].tolist() == [2.0] * 4


def test_an_untransposed_ov_circuit_in_the_closed_form_fails_the_check():
    # Edit the derived closed form (A kron C_OV^T) vec_r(T) into (A kron C_OV) vec_r(T).
    result = circuits_framework.built_derivation().result
    (kronecker,) = result.atoms(sp.KroneckerProduct)
    pattern, transposed = kronecker.args
    edited_form = compile_closed_form(result.xreplace({kronecker: sp.KroneckerProduct(pattern, transposed.T.doit())}))
    edited = dataclasses.replace(
        circuits_framework,
        assemble=lambda _, **arguments: call_with(functools.partial(circuits_framework.assemble, edited_form), arguments),
    )
    failed = run_check(edited, instances=30, seed=0)
    assert failed.status == "failed" and failed.numeric.counterexample.params["n_vocab"] >= 2


def test_the_anchors_are_worked_by_hand_at_their_own_inputs():
    result = run_check(circuits_framework, instances=4, seed=0)
    assert len(result.numeric.anchors) == 2 and all(a.claim_agrees and a.oracle_agrees for a in result.numeric.anchors)
    two_heads = circuits_framework.anchors[0].inputs
    np.testing.assert_array_equal(two_heads["T"], [[1, 0], [0, 1], [1, 0]])
    wrong = dataclasses.replace(
        circuits_framework, anchors=(dataclasses.replace(circuits_framework.anchors[1], value=np.zeros(10)),)
    )
    failed = run_check(wrong, instances=4, seed=0)
    assert failed.status == "failed" and "T=[[0. 1.] [1. 0.]]" in failed.message


@given(tp.strategies.parameters(circuits_framework))
@settings(max_examples=6, deadline=None)
def test_property_the_paths_equal_the_literal_model_anywhere_in_the_domain(params):
    example = worked_example(circuits_framework, seed=2, **params)
    assert example.verified, (params, example.message)
    bound = min(params["n_vocab"], params["d_model"], params["d_head"])
    assert example.values["rank_qk"] == example.values["rank_ov"] == [bound] * params["H"]


def test_the_worked_example_splits_the_logits_into_paths():
    example = worked_example(circuits_framework)
    v = example.values
    assert example.verified and v["max_difference"] < 1e-12
    np.testing.assert_allclose(v["direct"] + sum(v["head_terms"]), v["logits"], atol=1e-13)
    np.testing.assert_allclose(v["logits"], v["logits_literal"], atol=1e-13)
    assert v["rank_bound"] == 2 and v["elhage_ov_difference"] > 0.1


def test_the_slide_reading_of_x_w_ov_is_an_ambiguous_erratum_refuted_by_its_mutant():
    (erratum,) = circuits_framework.errata
    assert erratum.kind == "ambiguous" and len(erratum.readings) == 2
    assert erratum.refuted_by == ELHAGE_OV_MUTANT in circuits_framework.mutants
