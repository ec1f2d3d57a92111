"""The induction construction, its forward pass, the rule, the detectors, one layer with many heads, and training."""

import itertools

import numpy as np
import pytest

from numerics.circuits.induction import (
    INDUCTION,
    InductionTraining,
    attention_only_forward,
    batched_induction_weights,
    head_scores,
    induction_weights,
    one_layer_induction_weights,
    previous_occurrence_targets,
    repeat_prompts,
    repeated_sequences,
    residual_blocks,
    train_induction_model,
    training_sequences,
)


def _run(weights, tokens, attn_scale=1.0):
    """One model (TransformerLens shapes) on a batch of prompts ``(k, n)``."""
    batched = {name: np.asarray(weights[name])[None] for name in ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U")}
    logits, patterns = attention_only_forward(np.asarray(tokens)[None], **batched, attn_scale=attn_scale)
    return logits[0], patterns[0]


def _forward_by_hand(weights, tokens):
    """The same model, one position and one head at a time, with explicit softmax loops."""
    n = len(tokens)
    stream = np.array([weights["W_E"][x] + weights["W_pos"][i] for i, x in enumerate(tokens)])
    for layer in range(weights["W_Q"].shape[0]):
        update = np.zeros_like(stream)
        for head in range(weights["W_Q"].shape[1]):
            q, k, v = (stream @ weights[w][layer, head] for w in ("W_Q", "W_K", "W_V"))
            for i in range(n):
                scores = np.array([q[i] @ k[j] for j in range(i + 1)])
                weight = np.exp(scores - scores.max())
                weight /= weight.sum()
                update[i] += (weight @ v[: i + 1]) @ weights["W_O"][layer, head]
        stream = stream + update
    return stream @ weights["W_U"]


def test_the_rule():
    assert previous_occurrence_targets([1, 2, 3, 1, 2]) == [-1, -1, -1, 0, 1]
    assert previous_occurrence_targets([5, 5, 5]) == [-1, 0, -1]  # the third 5 has two earlier copies


def test_the_construction_has_transformer_lens_shapes():
    w = induction_weights(4, 6, 3.0)
    d_model, d_head = 3 * 4 + 6, 6
    assert w["W_E"].shape == (4, d_model) and w["W_pos"].shape == (6, d_model) and w["W_U"].shape == (d_model, 4)
    assert w["W_Q"].shape == w["W_K"].shape == w["W_V"].shape == (2, 2, d_model, d_head)
    assert w["W_O"].shape == (2, 2, d_head, d_model)
    assert residual_blocks(4, 6)["output"] == slice(14, 18)
    # Only the queries carry the scale.
    doubled = induction_weights(4, 6, 6.0)
    assert np.array_equal(doubled["W_Q"], 2 * w["W_Q"]) and np.array_equal(doubled["W_K"], w["W_K"])


def test_the_forward_pass_is_the_model_computed_position_by_position():
    rng = np.random.default_rng(0)
    weights = {
        "W_E": rng.standard_normal((5, 6)),
        "W_pos": rng.standard_normal((7, 6)),
        **{name: rng.standard_normal((2, 3, 6, 4)) / 3 for name in ("W_Q", "W_K", "W_V")},
        "W_O": rng.standard_normal((2, 3, 4, 6)) / 3,
        "W_U": rng.standard_normal((6, 5)),
    }
    tokens = rng.integers(0, 5, size=(2, 7))
    logits, patterns = _run(weights, tokens)
    for k in range(2):
        np.testing.assert_allclose(logits[k], _forward_by_hand(weights, tokens[k]), rtol=1e-12, atol=1e-12)
    assert np.allclose(patterns.sum(axis=-1), 1) and np.all(np.triu(patterns, 1) == 0)


def test_the_construction_predicts_by_induction():
    weights = induction_weights(5, 6, 12.0)
    logits, patterns = _run(weights, [[1, 2, 3, 1, 2, 4]])
    assert logits[0, 4].argmax() == 3  # after the second 2: the 3 that followed the first
    assert patterns[0, INDUCTION[0], INDUCTION[1], 4].argmax() == 2
    assert logits[0, 3].argmax() != 2  # the second 1 repeats position 0: at best a tie, here the current token


def test_the_prompts_repeat_once():
    prompts = repeat_prompts(np.random.default_rng(1), 50, 3, 7)
    for later, first in prompts.tolist():
        assert 1 <= previous_occurrence_targets(later)[-1] <= 5
        assert previous_occurrence_targets(first)[-1] == 0
    sequences = repeated_sequences(np.random.default_rng(2), 20, 10, 4)
    assert np.all(sequences[:, 0] == 0) and np.array_equal(sequences[:, 1:5], sequences[:, 5:])
    assert all(len(set(row[1:5])) == 4 for row in sequences.tolist())


def test_head_scores_read_the_offsets():
    period, n = 3, 7
    patterns = np.zeros((2, 1, 3, n, n))
    for t in range(n):
        patterns[:, 0, 0, t, max(t - 1, 0)] = 1.0  # previous token
    for t in range(n):
        patterns[:, 0, 1, t, t - period if t > period else t] = 1.0  # duplicate token
        patterns[:, 0, 2, t, t - period + 1 if t > period else t] = 1.0  # prefix matching
    scores = head_scores(patterns, period)
    assert np.allclose(scores["previous_token"][0], [1, 0, 0])
    assert np.allclose(scores["duplicate_token"][0], [0, 1, 0])
    assert np.allclose(scores["prefix_matching"][0], [0, 0, 1])


def test_one_layer_with_n_ctx_heads_solves_every_prompt_with_one_earlier_occurrence():
    d_vocab, n_ctx = 3, 5
    weights = one_layer_induction_weights(d_vocab, n_ctx, 20.0)
    prompts = [p for p in itertools.product(range(d_vocab), repeat=n_ctx) if previous_occurrence_targets(p)[-1] >= 0]
    logits, _ = _run(weights, prompts)
    targets = [p[previous_occurrence_targets(p)[-1] + 1] for p in prompts]
    assert len(prompts) == 3 * 4 * 2**3  # a, the earlier position, the other three positions
    assert np.array_equal(logits[:, -1].argmax(axis=-1), targets)
    assert np.min(logits[np.arange(len(prompts)), -1, targets]) > 0.99


def test_training_sequences_mark_the_repeats():
    tokens, predictable = training_sequences(np.random.default_rng(0), 30, 12, 5)
    for row, mask in zip(tokens.tolist(), predictable.tolist()):
        for position in np.flatnonzero(mask):
            j = previous_occurrence_targets(row)[position]
            assert j >= 0 and row[j + 1] == row[position + 1]


def test_training_is_seeded_and_learns():
    config = InductionTraining(d_vocab=8, period=3, d_model=8, d_head=4, steps=12, batch=16)
    first, second = train_induction_model(config), train_induction_model(config)
    assert np.array_equal(first["loss"], second["loss"])
    assert first["loss"][-3:].mean() < first["loss"][:3].mean()
    assert set(first["weights"]) == {"W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U", "attn_scale"}
    with pytest.raises(ValueError, match="period"):
        InductionTraining(d_vocab=4, period=3)


@pytest.mark.slow
def test_the_trained_model_grows_an_induction_head_in_layer_2():
    trained = train_induction_model(InductionTraining())
    assert trained["accuracy"] > 0.95
    weights = trained["weights"]
    sequences = repeated_sequences(np.random.default_rng(5), 64, 16, 6)
    _, patterns = _run(weights, sequences, attn_scale=weights["attn_scale"])
    prefix = head_scores(patterns, 6)["prefix_matching"]
    assert prefix[1].max() > 0.8 and prefix[1].max() > prefix[0].max() + 0.3


def test_batched_weights_stack_one_model_per_scale():
    stacked = batched_induction_weights(3, 4, [2.0, 5.0])
    assert stacked["W_Q"].shape[0] == 2
    assert np.array_equal(stacked["W_Q"][1], induction_weights(3, 4, 5.0)["W_Q"])
