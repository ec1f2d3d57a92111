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
