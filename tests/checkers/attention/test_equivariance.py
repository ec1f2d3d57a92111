"""permutation-equivariance: verified, every mutant refuted, property test, worked example, erratum, bad input."""

import dataclasses
import functools

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.attention.equivariance import SETTINGS, permutation_equivariance as theorem
from checkers.closed_form import compile_closed_form
from checkers.engine import mutant_outcome, run_check
from checkers.independence import independence
from checkers.sampling import single_instance
from checkers.theorem import call_with
from checkers.worked import worked_example
from proofs.attention.equivariance import WEIGHTS

MUTANTS = {
    "still equivariant with sinusoidal PE added",
    "still equivariant with a causal mask",
    "invariant: Attn(P X) = Attn(X)",
    "outputs permuted by the inverse, P^T Attn(X)",
}


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(theorem, instances=200, seed=0, generated=False)
    assert {m.name: m.refuted for m in outcome.mutants} == dict.fromkeys(MUTANTS, True)


def test_the_claim_comes_from_the_compiled_closed_form():
    # Break the compiled closed form: the claim must change with it.
    group = single_instance(theorem, theorem.default_params(), seed=0)
    arguments = group.arguments()
    claim = theorem.evaluate_claim(**arguments)
    assert claim.shape == (1, len(SETTINGS), 3, 2)
    doubled = call_with(functools.partial(theorem.assemble, lambda **kw: 2 * theorem.closed_form()(**kw)), arguments)
    np.testing.assert_array_equal(doubled, 2 * claim)


def test_the_oracle_reaches_none_of_the_claims_code():
    reached = independence(theorem)
    assert not reached.shared
    project_softmax = {"numerics.attention.kernels:softmax", "numerics.attention.kernels:attention_weights"}
    assert not project_softmax & (reached.claim | reached.oracle)


def test_transposed_weights_in_the_closed_form_fail_the_check():
    # Edit the derived closed form: A'_ij = A_s(i)s(j) becomes A_s(j)s(i) (every w_ij swapped with w_ji).
    swap = {WEIGHTS[i, j]: WEIGHTS[j, i] for i in range(3) for j in range(3)}
    edited_form = compile_closed_form(theorem.built_derivation().result.xreplace(swap))
    edited = dataclasses.replace(
        theorem, assemble=lambda _, **arguments: call_with(functools.partial(theorem.assemble, edited_form), arguments)
    )
    assert run_check(edited, instances=30, seed=0).status == "failed"


def test_the_anchors_are_worked_by_hand_at_their_own_inputs():
    result = run_check(theorem, instances=4, seed=0)
    assert len(result.numeric.anchors) == 2
    assert all(a.claim_agrees and a.oracle_agrees for a in result.numeric.anchors)
    assert "case" not in theorem.parameters
    for anchor in theorem.anchors:
        drawn = single_instance(theorem, anchor.params, seed=5).inputs
        assert set(anchor.inputs) == set(drawn)
        assert all(np.shape(anchor.inputs[k]) == drawn[k].shape[1:] for k in drawn)
    inputs = theorem.anchors[1].inputs
    np.testing.assert_array_equal(inputs["X"], [[0, 0], [1, 1], [2, 2]])
    assert not inputs["W_Q"].any() and not inputs["W_K"].any()
    np.testing.assert_array_equal(inputs["W_V"], np.eye(2))
    np.testing.assert_array_equal(theorem.anchors[0].inputs["X"], [[0], [1], [2]])
    wrong = dataclasses.replace(theorem, anchors=(dataclasses.replace(theorem.anchors[1], value=np.ones((3, 3, 2))),))
    failed = run_check(wrong, instances=4, seed=0)
    assert failed.status == "failed" and "X=[[0. 0.] [1. 1.] [2. 2.]]" in failed.message


def _torch_attention(X, W_Q, W_K, W_V):
    X, W_Q, W_K, W_V = (torch.from_numpy(np.array(a)) for a in (X, W_Q, W_K, W_V))
    return torch.nn.functional.scaled_dot_product_attention(X @ W_Q, X @ W_K, X @ W_V).numpy()


@given(tp.strategies.parameters(theorem))
@settings(max_examples=25, deadline=None)
def test_property_the_example_is_confirmed_anywhere_in_the_domain(params):
    example = worked_example(theorem, seed=1, **params)
    assert example.verified, (params, example.message)
    v = example.values
    s = [i - 1 for i in v["permutation"]]
    A, A_prime = np.array(v["weights"]), np.array(v["permuted_weights"])
    np.testing.assert_allclose(A_prime, A[np.ix_(s, s)], rtol=1e-13)  # A'_ij = A_s(i)s(j)
    np.testing.assert_allclose(v["permuted_output"], np.array(v["output"])[s], rtol=0, atol=1e-14)


def test_worked_example_against_torch():
    example = worked_example(theorem)
    assert example.verified and example.params == {"d": 4, "d_head": 2, "permutation": 3}
    v = example.values
    assert v["permutation"] == [2, 3, 1]
    inputs = {k: a[0] for k, a in single_instance(theorem, example.params, seed=0).inputs.items()}
    np.testing.assert_allclose(v["output"], _torch_attention(**inputs), rtol=1e-13, atol=1e-15)
    permuted = {**inputs, "X": inputs["X"][[1, 2, 0]]}
    np.testing.assert_allclose(v["permuted_output"], _torch_attention(**permuted), rtol=1e-13, atol=1e-15)
    assert v["max_error"] < 1e-15
    # Positions or a mask that stay in the slots make a visible difference.
    assert v["positions_gap"] > 1e-2 and v["causal_gap"] > 1e-2
    assert set(example.to_json()["values"]) == set(v)


def test_the_erratum_of_seed_001_is_refuted_by_a_mutant():
    (erratum,) = theorem.errata
    assert erratum.source == "seed 001" and "sequential structure" in erratum.stated
    assert erratum.refuted_by in MUTANTS and erratum.kind == "false" and "every reading" in erratum.evidence
