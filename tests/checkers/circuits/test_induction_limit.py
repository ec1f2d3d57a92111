"""induction-one-layer-limit: the hand anchor by the forward pass, the limit at every width, two and many heads."""

import numpy as np
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.circuits.induction_limit import (
    HAND_VALUES,
    PROMPTS,
    _hand_model,
    _many_heads_accuracy,
    induction_one_layer_limit,
)
from checkers.worked import worked_example
from numerics.circuits.induction import last_position


def test_the_anchor_model_by_the_forward_pass():
    model = {k: v[None] for k, v in _hand_model().items()}
    heads = {k: model[k][:, None, None] for k in ("W_Q", "W_K", "W_V", "W_O")}
    logits, normalisers, _ = last_position(PROMPTS[None], model["W_E"], model["W_pos"], **heads, W_U=model["W_U"])
    gaps = logits[0, :, 1] - logits[0, :, 2]
    np.testing.assert_allclose(gaps, HAND_VALUES[:4], rtol=1e-14)
    np.testing.assert_allclose(normalisers[0, :, 0], [11, 8, 10, 9], rtol=1e-14)


@given(tp.strategies.parameters(induction_one_layer_limit))
@settings(max_examples=6, deadline=None)
def test_property_at_most_three_of_four(params):
    example = worked_example(induction_one_layer_limit, seed=4, **params)
    assert example.verified, (params, example.message)
    v = example.values
    assert v["right"] <= 3 and abs(v["certificate"]) == 0
    assert v["two_head_right"] == 4


def test_many_heads_solve_every_prompt():
    accuracy, prompts = _many_heads_accuracy()
    assert accuracy == 1.0 and prompts == 96


def test_the_erratum_is_ambiguous_with_both_readings():
    (erratum,) = induction_one_layer_limit.errata
    assert erratum.kind == "ambiguous" and len(erratum.readings) == 2 and "L \\ge 2" in erratum.stated
