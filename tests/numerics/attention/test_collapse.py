"""Residuals by LP, self-attention, the bound's constants, the 50-layer experiment and the exercise-1.7 root."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from numerics.attention.collapse import (
    StackConfig,
    attention_stack_singular_values,
    collapse_constants,
    composite_norm,
    largest_rate_keeping,
    residual,
    self_attention,
    singular_value_figure,
)


def test_residual_of_two_tokens_by_hand():
    # Y = [[a], [b]]: x is the midpoint, R = [[h], [-h]] with h = |a - b| / 2,
    # ||R||_1 = 2h (one column), ||R||_inf = h (each row), so ||res|| = sqrt(2) h.
    Y = np.array([[[3.0], [-1.0]], [[0.5], [0.25]]])
    norms, x = residual(Y)
    assert norms == pytest.approx([math.sqrt(2) * 2.0, math.sqrt(2) * 0.125], rel=1e-7)
    assert x[:, 0] == pytest.approx([1.0, 0.375], rel=1e-6)


def test_no_random_shift_beats_the_lp_minimiser():
    rng = np.random.default_rng(3)
    Y = rng.standard_normal((20, 5, 3))
    norms, x = residual(Y)
    assert np.allclose(composite_norm(Y - x[:, None, :]), norms, rtol=1e-12)
    for scale in (1.0, 0.1, 0.01):
        shifted = x[:, None, :] + scale * rng.standard_normal((20, 500, 3))
        tried = composite_norm(Y[:, None] - shifted[:, :, None, :])
        assert np.all(tried.min(axis=1) >= norms * (1 - 1e-7))


def test_residual_ignores_a_common_row_and_scales():
    rng = np.random.default_rng(4)
    Y = rng.standard_normal((6, 4, 2))
    norms, _ = residual(Y)
    moved, _ = residual(3.0 * Y + rng.standard_normal((6, 1, 2)))
    assert moved == pytest.approx(3.0 * norms, rel=1e-7)


def test_zero_query_key_weights_give_rank_one_uniform_attention():
    rng = np.random.default_rng(5)
    X, W_V = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 3, 3))
    zero = np.zeros((2, 3, 2))
    out = self_attention(X, zero, zero, W_V, 2)
    expected = np.broadcast_to(X.mean(axis=1, keepdims=True) @ W_V, out.shape)
    assert np.allclose(out, expected, atol=1e-14)
    assert residual(out)[0] == pytest.approx([0.0, 0.0], abs=1e-12)


def test_constants_for_a_centred_input():
    # x = 0 makes r = 0: attention without E is uniform, gamma = 1.
    X = np.array([[[1.0, 0.0], [-1.0, 0.0]]])
    W = np.array([[[2.0, 0.0], [0.0, 0.0]]])
    W_V = np.array([[[1.0, 2.0], [0.0, 1.0]]])
    c = collapse_constants(X, np.zeros((1, 2)), W, np.eye(2)[None], W_V, 4)
    assert c["gamma"] == pytest.approx([1.0])
    # ||W_QK||_1 = 2; ||W_V||_1 = 3 (second column), ||W_V||_inf = 3 (first row).
    assert c["beta"] == pytest.approx([2.0 * 3.0])
    # ||R||_1 = 2, ||R||_inf = 1, so eps = 2 * 2 / sqrt(4) = 2.
    assert c["eps"] == pytest.approx([2.0])


def test_pure_attention_collapses_and_skip_connections_do_not():
    config = StackConfig(n_tokens=8, d_model=8, d_qk=8, layers=10, depths=(1, 5, 10), seed=1)
    spectra = attention_stack_singular_values(config)
    assert spectra["pure"].shape == spectra["skip"].shape == (3, 8)
    assert spectra["pure"][-1, 1] < 1e-12
    assert spectra["skip"][-1, -1] > 1e-6
    assert spectra["pure"][0, 1] > 1e-3  # not collapsed after one layer: the collapse comes with depth


def test_the_experiment_is_seeded_and_draws_two_panels():
    config = StackConfig(n_tokens=6, d_model=4, d_qk=4, layers=5, depths=(1, 5), seed=2)
    first, second = attention_stack_singular_values(config), attention_stack_singular_values(config)
    assert np.array_equal(first["pure"], second["pure"]) and np.array_equal(first["skip"], second["skip"])
    figure = singular_value_figure(config)
    assert isinstance(figure, Figure) and len(figure.axes) == 2


@pytest.mark.parametrize("bad", [{"layers": 0}, {"depths": (1, 60)}, {"n_tokens": 2.5}])
def test_bad_configurations_are_rejected(bad):
    with pytest.raises(ValueError):
        StackConfig(**bad)


def test_bad_residual_input_is_rejected():
    with pytest.raises(ValueError, match="Y"):
        residual(np.zeros((3, 4)))


def test_largest_rate_by_hand():
    rate, accuracy = largest_rate_keeping(np.array([12.0, 5.0]), np.array([0.1, 0.5]), np.array([7.0, 0.2]), 1)
    assert rate == pytest.approx([math.log(10) / 12, math.log(2) / 5], rel=1e-13)
    squared, _ = largest_rate_keeping(np.array([12.0]), np.array([0.1]), np.array([1.0]), 2)
    assert squared == pytest.approx([math.log(10) / 24], rel=1e-13)
    assert np.all(accuracy < 1e-12)


def test_self_attention_by_hand_with_a_scale_other_than_the_width():
    # One instance, W_Q, W_K 2 x 3 (k = 3) but d_qk = 4: logits X W_Q W_K^T X^T / 2, softmax by hand.
    X = np.array([[[1.0, 0.0], [0.0, 2.0]]])
    W_Q = np.array([[[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
    W_K = np.array([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    W_V = np.array([[[1.0, 1.0], [0.0, 3.0]]])
    logits = np.array([[2.0, 0.0], [0.0, 4.0]]) / 2  # X W_Q W_K^T X^T = [[2, 0], [0, 4]]
    weights = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = weights @ np.array([[1.0, 1.0], [0.0, 6.0]])  # X W_V
    assert self_attention(X, W_Q, W_K, W_V, 4)[0] == pytest.approx(expected, rel=1e-14)


def _attention_batch():
    rng = np.random.default_rng(6)
    return {"X": rng.standard_normal((2, 3, 2)), "W_Q": rng.standard_normal((2, 2, 2)),
            "W_K": rng.standard_normal((2, 2, 2)), "W_V": rng.standard_normal((2, 2, 2))}


@pytest.mark.parametrize("name", ["X", "W_Q", "W_K", "W_V"])
def test_attention_rejects_nan_naming_the_argument(name):
    batch = _attention_batch()
    batch[name] = batch[name].copy()
    batch[name][0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=f"self_attention: {name} must be finite"):
        self_attention(d_qk=2, **batch)
    with pytest.raises(ValueError, match=f"collapse_constants: {name} must be finite"):
        collapse_constants(x=np.zeros((2, 2)), d_qk=2, **batch)


@pytest.mark.parametrize(
    "change, name",
    [({"d_qk": 0}, "d_qk"), ({"d_qk": np.array([1.0, 2.0, 3.0])}, "d_qk"), ({"W_V": np.zeros((2, 2, 3))}, "W_V"),
     ({"W_K": np.zeros((2, 2, 3))}, "W_K"), ({"X": np.zeros((3, 2))}, "X")],
)
def test_attention_rejects_bad_shapes_and_scales_naming_the_argument(change, name):
    arguments = {**_attention_batch(), "d_qk": 2, **change}
    with pytest.raises(ValueError, match=name):
        self_attention(**arguments)


@pytest.mark.parametrize("x", [np.zeros((2, 3)), np.full((2, 2), np.inf)])
def test_constants_reject_a_bad_centre(x):
    with pytest.raises(ValueError, match="collapse_constants: x must"):
        collapse_constants(x=x, d_qk=2, **_attention_batch())


def test_residual_rejects_nan_naming_y():
    with pytest.raises(ValueError, match="residual: Y must be finite"):
        residual(np.array([[[1.0], [np.nan]]]))


@pytest.mark.parametrize(
    "arguments, name",
    [((0, 0.1, 1.0, 1), "layers"), ((12, 1.5, 1.0, 1), "fraction"), ((12, 0.0, 1.0, 1), "fraction"),
     ((12, 0.1, -1.0, 1), "C"), ((12, 0.1, np.nan, 1), "C"), ((12, 0.1, 1.0, 0), "power")],
)
def test_largest_rate_rejects_bad_input_naming_the_argument(arguments, name):
    with pytest.raises(ValueError, match=f"largest_rate_keeping: {name} must"):
        largest_rate_keeping(*(np.array([v]) if i < 3 else v for i, v in enumerate(arguments)))
