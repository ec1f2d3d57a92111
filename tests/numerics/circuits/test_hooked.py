"""The induction models as TransformerLens models: the same logits and patterns as the numpy forward pass.

Both sides compute in float64 (TransformerLens builds the model with ``dtype=torch.float64``); the
only operations that differ are the order of sums over at most ``d_model`` terms and the attention
scale, folded into ``W_Q`` as ``sqrt(d_head)`` and divided out again. With logits of order one to
twenty that is a difference of order ``1e-14``; the tolerance ``1e-12`` keeps a margin of a
hundred, while a wrong wiring (the scale forgotten, ``W_O`` transposed) differs by order one.
"""

import numpy as np
import pytest

from numerics.circuits.induction import (
    INDUCTION,
    InductionTraining,
    attention_only_forward,
    head_scores,
    induction_weights,
    one_layer_induction_weights,
    repeat_prompts,
    repeated_sequences,
    train_induction_model,
)

pytest.importorskip("transformer_lens")

from numerics.circuits.hooked import (  # noqa: E402  (after the skip: these build TransformerLens models)
    attention_only_transformer,
    head_ablated_logits,
    hooked_state_dict,
    hooked_transformer,
    hooked_weights,
    last_position_logits,
    run_hooked,
    train_on_prompts,
)

TOLERANCE = 1e-12


def _numpy(weights, tokens, attn_scale=1.0):
    batched = {name: array[None] for name, array in weights.items() if name != "attn_scale"}
    logits, patterns = attention_only_forward(np.asarray(tokens)[None], **batched, attn_scale=attn_scale)
    return logits[0], patterns[0]


def test_the_state_dict_has_hooked_transformer_names_and_folds_the_scale_into_w_q():
    weights = induction_weights(3, 4, 5.0)
    state = hooked_state_dict(weights, attn_scale=2.0)
    d_head = weights["W_Q"].shape[-1]
    assert {"embed.W_E", "pos_embed.W_pos", "unembed.W_U", "unembed.b_U", "blocks.1.attn.W_Q", "blocks.1.attn.b_O"} <= set(state)
    assert np.array_equal(state["blocks.1.attn.W_Q"], weights["W_Q"][1] * np.sqrt(d_head) / 2.0)
    assert np.array_equal(state["blocks.0.attn.W_O"], weights["W_O"][0])
    assert not any(state[name].any() for name in state if ".b_" in name)


@pytest.mark.parametrize("scale", [2.0, 8.0])
def test_the_construction_in_transformer_lens_computes_the_same_logits_and_patterns(scale):
    d_vocab, n_ctx = 5, 7
    weights = induction_weights(d_vocab, n_ctx, scale)
    model = hooked_transformer(weights)
    tokens = repeat_prompts(np.random.default_rng(0), 20, d_vocab, n_ctx).reshape(-1, n_ctx)
    logits, patterns = run_hooked(model, tokens)
    expected_logits, expected_patterns = _numpy(weights, tokens)
    assert logits.shape == expected_logits.shape and patterns.shape == expected_patterns.shape
    assert np.abs(logits - expected_logits).max() <= TOLERANCE
    assert np.abs(patterns - expected_patterns).max() <= TOLERANCE


def test_detection_scores_from_the_hook_cache_are_the_construction_s():
    """induction-head-detection's scores are computed from these patterns: the cache gives the same ones."""
    period = 4
    weights = induction_weights(6, 2 * period + 1, 8.0)
    sequences = repeated_sequences(np.random.default_rng(1), 16, 6, period)
    from_cache = head_scores(run_hooked(hooked_transformer(weights), sequences)[1], period)
    direct = head_scores(_numpy(weights, sequences)[1], period)
    for name in direct:
        assert np.abs(from_cache[name] - direct[name]).max() <= TOLERANCE, name
    assert np.unravel_index(np.argmax(from_cache["prefix_matching"]), (2, 2)) == INDUCTION


def test_the_one_layer_many_head_construction_loads_too():
    d_vocab, n_ctx = 3, 4
    weights = one_layer_induction_weights(d_vocab, n_ctx, 12.0)
    prompts = repeat_prompts(np.random.default_rng(2), 10, d_vocab, n_ctx).reshape(-1, n_ctx)
    logits, _ = run_hooked(hooked_transformer(weights), prompts)
    assert np.abs(logits - _numpy(weights, prompts)[0]).max() <= TOLERANCE


def test_a_trained_model_loads_with_its_attention_scale_and_reads_back():
    trained = train_induction_model(InductionTraining(d_vocab=8, period=3, d_model=8, d_head=4, steps=5, batch=8))
    weights = trained["weights"]
    model = hooked_transformer(weights, weights["attn_scale"])
    tokens = repeated_sequences(np.random.default_rng(3), 8, 8, 3)
    logits, patterns = run_hooked(model, tokens)
    expected_logits, expected_patterns = _numpy(weights, tokens, weights["attn_scale"])
    assert np.abs(logits - expected_logits).max() <= TOLERANCE * max(1.0, np.abs(expected_logits).max())
    assert np.abs(patterns - expected_patterns).max() <= TOLERANCE
    back = hooked_weights(model)
    assert back["attn_scale"] == weights["attn_scale"] and all(np.array_equal(back[k], weights[k]) for k in ("W_E", "W_K", "W_O", "W_U"))


CERTIFICATE_PROMPTS = [(0, 1, 2, 2, 3, 1), (0, 3, 3, 1, 2, 1), (0, 3, 2, 1, 3, 1), (0, 1, 3, 2, 2, 1)]
"""induction-one-layer-limit's certificate ABBCA, CCABA, CBACA, ACBBA (A, B, C as 1, 2, 3) after a start token 0."""
CERTIFICATE_TARGETS = [2, 2, 3, 3]


@pytest.mark.parametrize("heads, most", [(1, 3), (2, 4)])
def test_trained_on_the_certificate_one_head_fits_at_most_three_prompts_and_two_heads_fit_all(heads, most):
    """One layer with one head predicts at most 3 of the 4 targets however it is trained (the theorem);
    with two heads training finds all four. Biases stay zero, so the weights alone describe the model."""
    model = attention_only_transformer(4, 6, n_layers=1, n_heads=heads, d_model=8, d_head=4, seed=0)
    loss = train_on_prompts(model, CERTIFICATE_PROMPTS, CERTIFICATE_TARGETS, steps=100, lr=0.03)
    assert loss[-1] < loss[0]
    logits = last_position_logits(model, CERTIFICATE_PROMPTS)
    assert int((logits.argmax(axis=-1) == CERTIFICATE_TARGETS).sum()) == most
    weights = hooked_weights(model)  # raises if a bias moved
    expected = _numpy(weights, CERTIFICATE_PROMPTS, weights["attn_scale"])[0][:, -1]
    assert np.abs(logits - expected).max() <= TOLERANCE * max(1.0, np.abs(expected).max())


def test_ablating_a_head_through_its_pattern_hook_is_zeroing_its_output_weights():
    weights = induction_weights(5, 7, 8.0)
    tokens = repeat_prompts(np.random.default_rng(4), 10, 5, 7).reshape(-1, 7)
    silenced = {**weights, "W_O": weights["W_O"].copy()}
    silenced["W_O"][INDUCTION] = 0.0
    ablated = head_ablated_logits(hooked_transformer(weights), tokens, *INDUCTION)
    assert np.abs(ablated - _numpy(silenced, tokens)[0]).max() <= TOLERANCE
