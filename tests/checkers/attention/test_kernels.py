"""attention-kernel-smoother: verified, mutants refuted, property test, worked example and limits, figure, bad input."""

import dataclasses
import functools
import io
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.attention.kernels import attention_kernel_smoother as theorem
from checkers.engine import mutant_outcome, run_check
from checkers.independence import independence
from checkers.sampling import single_instance
from checkers.theorem import call_with
from checkers.worked import theorem_figures, worked_example

MUTANTS = {
    "Gaussian bandwidth sqrt(d) (factor 2 dropped)",
    "Laplace kernel exp(-||q - k|| / (tau sqrt d))",
    "logits scaled by 1/d",
    "no normalisation: sum_j K(q, k_j) v_j",
    "the Gaussian kernel is K itself (c(q) forgotten)",
    "c(q) = exp(-||q||^2 / (2 tau sqrt d)) (key norm left out)",
}


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(theorem, instances=200, seed=0, generated=False)
    assert {m.name: m.refuted for m in outcome.mutants} == dict.fromkeys(MUTANTS, True)


def _with_kernel_times(extra):
    """The theorem with its compiled kernel multiplied by ``exp(argument)``, ``argument`` one of the closed form's inputs."""
    kernel = lambda **kw: theorem.closed_form()(**kw) * np.exp(kw[extra])
    return dataclasses.replace(
        theorem, assemble=lambda _, **arguments: call_with(functools.partial(theorem.assemble, kernel), arguments)
    )


def test_the_claim_is_the_derived_kernel_beside_its_estimator():
    arguments = single_instance(theorem, theorem.default_params(), seed=0).arguments()
    claim = theorem.evaluate_claim(**arguments)
    assert claim.shape == (1, 5, 5 + 3)
    kernel, outputs = claim[0, :, :5], claim[0, :, 5:]
    q, k, v = (arguments[name][0] for name in ("queries", "keys", "values"))
    # c(q) e^(q.k / (tau sqrt d)) with r = 1, tau = 1, sqrt d = 2, written out here.
    np.testing.assert_allclose(kernel, np.exp(-((q * q).sum(1)[:, None] + 1) / 4 + q @ k.T / 2), rtol=1e-14)
    np.testing.assert_allclose(outputs, kernel @ v / kernel.sum(1, keepdims=True), rtol=1e-14)


def test_a_kernel_off_by_a_factor_of_the_query_fails_although_the_outputs_agree():
    # The factor cancels in the estimator (the outputs agree), but the kernel is checked pair by pair: the check
    # fails. Compared on the normalised outputs alone, this edit would verify.
    arguments = single_instance(theorem, theorem.default_params(), seed=0).arguments()
    edited = _with_kernel_times("q_sq")
    claim, edited_claim = theorem.evaluate_claim(**arguments), edited.evaluate_claim(**arguments)
    np.testing.assert_allclose(edited_claim[..., 5:], claim[..., 5:], rtol=1e-13, atol=1e-14)
    assert run_check(edited, instances=20, seed=0).status == "failed"
    assert run_check(_with_kernel_times("qk"), instances=20, seed=0).status == "failed"


def test_the_oracle_reaches_none_of_the_claims_code():
    reached = independence(theorem)
    assert not reached.shared and "numerics.attention.kernels:gaussian_kernel_and_attention" in reached.oracle


def test_the_anchors_are_worked_by_hand_at_their_own_inputs():
    result = run_check(theorem, instances=4, seed=0)
    assert len(result.numeric.anchors) == 2
    assert all(a.claim_agrees and a.oracle_agrees for a in result.numeric.anchors)
    assert "case" not in theorem.parameters
    for anchor in theorem.anchors:
        drawn = single_instance(theorem, {**theorem.default_params(), **anchor.params}, seed=3).inputs
        assert set(anchor.inputs) == set(drawn)
        assert all(np.shape(anchor.inputs[k]) == drawn[k].shape[1:] for k in drawn)
        np.testing.assert_array_equal(anchor.inputs["queries"], np.eye(4)[:2])
        np.testing.assert_array_equal(anchor.inputs["keys"], anchor.params["key_norm"] * np.eye(4)[:2])
        np.testing.assert_array_equal(anchor.inputs["values"], np.eye(3)[:2])
    wrong = dataclasses.replace(theorem, anchors=(dataclasses.replace(theorem.anchors[0], value=np.eye(2, 5)),))
    failed = run_check(wrong, instances=4, seed=0)
    assert failed.status == "failed" and "queries=[[1. 0. 0. 0.] [0. 1. 0. 0.]]" in failed.message


@given(tp.strategies.parameters(theorem))
@settings(max_examples=25, deadline=None)
def test_property_the_example_is_confirmed_anywhere_in_the_domain(params):
    example = worked_example(theorem, seed=2, **params)
    assert example.verified, (params, example.message)
    v = example.values
    assert v["max_error"] < 1e-13
    assert math.isclose(sum(v["weights"]), 1.0, rel_tol=1e-14)
    assert v["identical_keys_gap"] < 1e-14  # identical keys: the mean of the values, whatever the query


def _inputs(params, seed=0):
    return {k: a[0] for k, a in single_instance(theorem, params, seed).inputs.items()}


def test_worked_example_against_independent_numbers():
    example = worked_example(theorem)
    assert example.verified
    assert example.params == {"tokens": 5, "d": 4, "temperature": 1.0, "key_norm": 1.0}
    v = example.values
    inputs = _inputs(example.params)
    q, K, V = inputs["queries"], inputs["keys"], inputs["values"]
    np.testing.assert_allclose(np.linalg.norm(K, axis=1), 1.0, rtol=1e-15)
    # Torch's attention (tau = 1, d = 4) is the "attention" value; the Gaussian estimator agrees with it.
    tensors = (torch.from_numpy(np.array(a)) for a in (q, K, V))
    expected = torch.nn.functional.scaled_dot_product_attention(*tensors).numpy()
    np.testing.assert_allclose(v["attention"], expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(v["nadaraya_watson"], expected, rtol=1e-13, atol=1e-15)
    # c(q) = exp(-(|q|^2 + r^2) / (2 tau sqrt d)) by hand, r = 1, tau = 1, sqrt d = 2.
    assert v["kernel_factor"] == pytest.approx(math.exp(-(q[0] @ q[0] + 1) / 4), rel=1e-14)
    # Cold: all weight on the arg-max key; hot: uniform 1/5 to within the O(1/tau) spread.
    hard = np.zeros(5)
    hard[np.argmax(K @ q[0])] = 1.0
    np.testing.assert_array_equal(v["hard_weights"], hard)
    np.testing.assert_allclose(v["cold_weights"], hard, rtol=0, atol=1e-20)
    np.testing.assert_allclose(v["hot_weights"], 0.2, rtol=1e-4)
    assert 0 < v["hot_gap"] < 1e-3
    # Identity limit: each token attends to itself; the output is V.
    np.testing.assert_allclose(v["self_weights"], 1.0, rtol=1e-12)
    assert v["self_gap"] < 1e-12


def test_ties_share_the_hard_attention_equally():
    v = worked_example(theorem).values
    # Query (1, 0) against keys (1, 0), (0, 1), (1, 0), (-1, 0): keys 1 and 3 tie (CATALOG: average over ties).
    assert v["tie_limit"].tolist() == [0.5, 0.0, 0.5, 0.0]
    # By hand at tau = 0.01, d = 2: exponents 1/(0.01 sqrt 2) = 70.7 for the tied keys, 0 and -70.7 for the others.
    e = 1 / (0.01 * math.sqrt(2))
    np.testing.assert_allclose(v["tie_weights"], [1 / (2 + math.exp(-e) + math.exp(-2 * e)), 0, 0.5, 0], atol=1e-30)


def _pdf(plot):
    buffer = io.BytesIO()
    plot.figure.savefig(buffer, format="pdf", metadata={"CreationDate": None})
    return buffer.getvalue()


def test_the_figure_is_deterministic_for_the_seed():
    (plot,) = theorem_figures(theorem, seed=0)
    assert plot.name == "temperatures" and "seed 0" in plot.caption
    assert _pdf(plot) == _pdf(theorem_figures(theorem, seed=0)[0])
    assert _pdf(plot) != _pdf(theorem_figures(theorem, seed=1)[0])
    # Its coldest line is the first query's weights at temperature 0.1, computed here with torch.
    inputs = _inputs(theorem.default_params())
    logits = torch.from_numpy(inputs["keys"] @ inputs["queries"][0] / (0.1 * 2))
    coldest = plot.figure.axes[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(coldest, torch.softmax(logits, 0).numpy(), rtol=1e-12)
