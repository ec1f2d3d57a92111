"""induction-two-layers and induction-head-detection: the construction is the proofs', the bounds and the failure at
position 1, a broken bound caught, detection on the worked example, and properties over the parameters."""

import dataclasses
import math

import numpy as np
import sympy as sp
from hypothesis import given, settings
from sympy.matrices.expressions.blockmatrix import block_collapse

import transformer_proofs as tp
from checkers.circuits.induction import DETECTION_VOCAB, induction_head_detection, induction_two_layers
from checkers.engine import run_check
from checkers.worked import worked_example
from numerics.circuits.induction import induction_weights, residual_blocks
from proofs.circuits import induction as proof


def _numeric_block(weights_matrix, rows, cols):
    return weights_matrix[rows][:, cols]


def test_the_numeric_construction_is_the_one_the_proofs_are_about():
    V, T, scale = 3, 4, 2.5
    w = induction_weights(V, T, scale)
    blocks = residual_blocks(V, T)
    shift, first = np.eye(T, k=-1), np.zeros((T, T))
    first[:, 0] = 1
    symbolic = proof.construction()
    values = {proof.V: V, proof.T: T, proof.lam: scale}

    def explicit(name):
        positional = {proof.S.subs(values): sp.ImmutableMatrix(shift), proof.J.subs(values): sp.ImmutableMatrix(first)}
        matrix = block_collapse(symbolic[name]).subs(values).xreplace(positional)
        return np.array(sp.Matrix(matrix.as_explicit()).tolist(), dtype=float)

    d_model = 3 * V + T
    for name, (layer, head), kind, width in (
        ("previous", (0, 0), "Q", T),
        ("previous", (0, 0), "K", T),
        ("first", (0, 1), "Q", T),
        ("induction", (1, 0), "Q", V),
        ("induction", (1, 0), "K", V),
        ("duplicate", (1, 1), "K", V),
    ):
        numeric = w[f"W_{kind}"][layer, head][:, :width]
        np.testing.assert_array_equal(numeric, explicit(f"W_{kind}_{name}"), err_msg=f"W_{kind} {name}")
        assert not w[f"W_{kind}"][layer, head][:, width:].any()  # zero padding to d_head
    np.testing.assert_array_equal(w["W_U"], explicit("W_U"))
    ov = w["W_V"][0, 0] @ w["W_O"][0, 0]
    np.testing.assert_array_equal(ov, explicit("W_V_previous") @ explicit("W_O_previous"))
    assert ov.shape == (d_model, d_model) and not w["W_O"][0, 1].any() and not w["W_O"][1, 1].any()
    assert blocks["previous"] == slice(V + T, 2 * V + T)


def test_the_right_token_wins_and_position_one_fails():
    result = run_check(induction_two_layers, instances=100, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 28, "proved": 23, "sampled": 0, "given": 5, "failed": 0, "custom": 6}
    assert len(result.numeric.anchors) == 2 and all(a.agrees for a in result.numeric.anchors)
    example = worked_example(induction_two_layers)
    v = example.values
    assert example.verified and v["prediction"][0] == v["target"][0]
    # At position 1 the current token takes about half: the right one is not predicted with any margin.
    assert v["earlier"][1] == 0 and v["current_logit"] >= v["current_bound"] > 0.49
    assert max(v["last_logits"][1]) < 0.51


def test_a_bound_without_the_layer_one_leak_is_caught():
    # The exact previous-token head's bound 1 - (T - 1) e^(-lambda) is too tight where lambda is small.
    tight = dataclasses.replace(
        induction_two_layers,
        derivation=None,
        assemble=None,
        claim=lambda n_ctx, scale: np.stack([1 - (n_ctx - 1) * np.exp(-scale), np.zeros_like(scale)], axis=1),
    )
    failed = run_check(tight, instances=60, seed=0)
    assert failed.status == "failed" and failed.numeric.counterexample.params["scale"] < 6


@given(tp.strategies.parameters(induction_two_layers))
@settings(max_examples=8, deadline=None)
def test_property_every_parameter_point_verifies(params):
    example = worked_example(induction_two_layers, seed=2, **params)
    assert example.verified, (params, example.message)


def test_detection_finds_the_planted_heads():
    v = worked_example(induction_head_detection).values
    assert v["induction_head"] == v["task_head"] == "induction (1.0)"
    assert np.argmax(v["previous_token"]) == 0 and np.argmax(v["duplicate_token"]) == 3
    assert v["detection_margin"] > 0.99


@given(tp.strategies.parameters(induction_head_detection))
@settings(max_examples=8, deadline=None)
def test_property_detection_picks_the_induction_head_everywhere(params):
    example = worked_example(induction_head_detection, seed=1, **params)
    assert example.verified, (params, example.message)
    assert example.values["induction_head"] == example.values["task_head"] == "induction (1.0)"


def test_the_hand_anchor_is_the_task_row_at_e_lambda_9():
    (anchor,) = induction_head_detection.anchors
    assert anchor.params == {"period": 3, "scale": math.log(9)}
    # Task 2.2's row: previous-token and first-position heads 1/13, duplicate-token 1/21.
    np.testing.assert_allclose(anchor.value[12:], [1 / 13, 1 / 13, anchor.value[14], 1 / 21], rtol=1e-15)
    assert max(anchor.inputs["sequence"]) < DETECTION_VOCAB
