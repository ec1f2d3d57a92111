"""induction-one-layer-limit: the hand anchor by the forward pass, the limit at every width, two and many heads."""

import numpy as np
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.circuits.induction_limit import (
    HAND_VALUES,
    PROMPTS,
    _hand_model,
    _many_heads_accuracy,
    _run_literally,
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


def test_the_rounding_bound_covers_a_readout_whose_sum_cancels():
    """Found by verify --all --instances 50000 --seed 4: W_V W_O = 1.098 (-0.676) + (-0.949)(-0.750) cancels to
    -0.032, and the gaps' rounding (measured against |x W_V W_O W_U|, the product's own absolute value) was 1.02 of
    its bound. A chain of inner products rounds in proportion to its factors' absolute values."""
    model = {
        "W_E": [[-0.489376987459976], [0.9563238131858586], [0.12939152295994527]],
        "W_pos": [[-0.14200450616614024], [1.0498058697253936], [1.3521418671201992], [0.9192662323121898], [0.46328858559842084]],
        "W_Q": [[-0.29116108220025755, -0.14010556575184505]],
        "W_K": [[1.922312800425919, 1.1514253750045476]],
        "W_V": [[1.0982237324472262, -0.9485656387448435]],
        "W_O": [[-0.6762762771436573], [-0.7495197778092538]],
        "W_U": [[-0.6363901639141417, -0.45829218105292935, 1.2830441730223785]],
    }
    model = {name: np.array([value]) for name, value in model.items()}
    claim = induction_one_layer_limit.evaluate_claim(d_head=2, **model)
    values, accuracy = _run_literally(1, 2, **model)
    assert np.all(np.abs(claim - values) <= accuracy)
