"""Residuals by LP, self-attention and its cancellation-free stack, the bound's constants, the 50-layer
experiment with and without skip connections, and the exercise-1.7 network."""

import math

import mpmath
import numpy as np
import pytest
from matplotlib.figure import Figure

from numerics.attention.collapse import (
    StackConfig,
    attention_stack_singular_values,
    centred_attention_stack,
    collapse_constants,
    composite_norm,
    largest_rate_keeping,
    residual,
    residual_after_stack,
    self_attention,
    singular_value_figure,
    symmetric_residual_norm,
    weight_constant,
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


def test_pure_attention_collapses_and_skip_connections_only_slow_it_at_this_scale():
    """Task 2.3 at seed 0: without skip connections sigma_2/sigma_1 reaches the float64 floor within four
    layers; with them it decays exponentially (0.14, 1.9e-3, 9e-7 after 10, 25, 50 layers), and with the
    value weights scaled by 0.1 it stays near 1."""
    spectra = attention_stack_singular_values(StackConfig(seed=0))
    assert spectra["pure"].shape == spectra["skip"].shape == (50, 32)
    assert spectra["pure"][0, 1] > 0.1 and spectra["pure"][3, 1] < 1e-15
    skip = spectra["skip"][[9, 24, 49], 1]
    assert skip == pytest.approx([0.14, 1.9e-3, 9e-7], rel=0.05)
    assert np.all(np.diff(np.log(skip)) / np.array([15, 25]) < -0.2)  # at least e^-0.2 per layer: exponential decay
    small = attention_stack_singular_values(StackConfig(seed=0, value_scale=0.1))["skip"][:, 1]
    assert small.min() > 0.9


def test_the_experiment_is_seeded_and_draws_two_panels():
    config = StackConfig(n_tokens=6, d_model=4, d_qk=4, layers=5, depths=(1, 5), seed=2)
    first, second = attention_stack_singular_values(config), attention_stack_singular_values(config)
    assert np.array_equal(first["pure"], second["pure"]) and np.array_equal(first["skip"], second["skip"])
    figure = singular_value_figure(config)
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    assert len(figure.axes[1].lines) == 4  # pure and three value scales with skip connections


@pytest.mark.parametrize("bad", [{"layers": 0}, {"depths": (1, 60)}, {"n_tokens": 2.5}, {"value_scale": 0.0}])
def test_bad_configurations_are_rejected(bad):
    with pytest.raises(ValueError):
        StackConfig(**bad)


def test_bad_residual_input_is_rejected():
    with pytest.raises(ValueError, match="Y"):
        residual(np.zeros((3, 4)))


def test_largest_rate_by_hand():
    rng = np.random.default_rng(0)
    rate, accuracy = largest_rate_keeping(np.array([12.0, 5.0]), np.array([0.1, 0.5]), np.array([7.0, 0.2]), 1, rng)
    assert rate == pytest.approx([math.log(10) / 12, math.log(2) / 5], rel=1e-13)
    squared, _ = largest_rate_keeping(np.array([12.0]), np.array([0.1]), np.array([1.0]), 2, rng)
    assert squared == pytest.approx([math.log(10) / 24], rel=1e-13)
    assert np.all(accuracy < 1e-12)


def test_largest_rate_is_the_edge_of_keeping_the_fraction():
    # Just below the answer the simulated network keeps the fraction, just above it does not.
    rng = np.random.default_rng(1)
    rate, accuracy = largest_rate_keeping(np.array([12.0]), np.array([0.1]), np.array([3.0]), 1, rng)
    kept = lambda lam: math.exp(-lam * 12)  # noqa: E731  the norm's share by hand
    assert kept(rate[0] - 4 * accuracy[0]) >= 0.1 > kept(rate[0] + 4 * accuracy[0])


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
        largest_rate_keeping(*(np.array([v]) if i < 3 else v for i, v in enumerate(arguments)), np.random.default_rng(0))


def _stack_batch(rng, N=4, n=4, d=3, L=3):
    """Tokens symmetric about a Gaussian centre and weights of moderate size (contracting)."""
    pairs = rng.standard_normal((N, n // 2, d))
    X = rng.standard_normal((N, 1, d)) + np.concatenate([pairs, -pairs], axis=1)
    W_Q, W_K = (0.3 * rng.standard_normal((N, L, d, d)) for _ in range(2))
    return {"X": X, "W_Q": W_Q, "W_K": W_K, "W_V": 0.3 * rng.standard_normal((N, L, d, d))}


def _stack_in_300_digits(X, W_Q, W_K, W_V, d_qk, layers):
    """The plain layer X <- softmax(X W_Q (X W_K)^T / sqrt(d_qk)) X W_V in 300-digit arithmetic, less its column means."""
    with mpmath.workdps(300):
        X = mpmath.matrix(X.tolist())
        for layer in range(layers):
            Q, K, V = (mpmath.matrix(w[layer].tolist()) for w in (W_Q, W_K, W_V))
            S = X * Q * (X * K).T / mpmath.sqrt(d_qk)
            P = mpmath.matrix(S.rows, S.cols)
            for i in range(S.rows):
                weights = [mpmath.exp(S[i, j]) for j in range(S.cols)]
                for j in range(S.cols):
                    P[i, j] = weights[j] / sum(weights)
            X = P * X * V
        means = [sum(X[i, c] for i in range(X.rows)) / X.rows for c in range(X.cols)]
        return np.array([[float(X[i, c] - means[c]) for c in range(X.cols)] for i in range(X.rows)])


def test_the_centred_stack_keeps_its_accuracy_where_the_plain_one_hits_the_float_floor():
    rng = np.random.default_rng(7)
    batch = _stack_batch(rng, L=4)
    for layers in (1, 4):
        D = centred_attention_stack(d_qk=2, layers=layers, **batch)
        for i in range(len(D)):
            exact = _stack_in_300_digits(*(batch[k][i] for k in ("X", "W_Q", "W_K", "W_V")), 2, layers)
            centred = D[i] - D[i].mean(axis=0)
            assert np.linalg.norm(centred - exact) <= 1e-13 * np.linalg.norm(exact)
    assert np.all(np.abs(D) < 1e-16 * np.abs(batch["X"]).max())  # below what the plain stack can resolve


def test_the_centred_stack_agrees_with_the_plain_layer_after_one_layer():
    batch = _stack_batch(np.random.default_rng(8), L=1)
    plain = self_attention(batch["X"], batch["W_Q"][:, 0], batch["W_K"][:, 0], batch["W_V"][:, 0], 5)
    centred = centred_attention_stack(d_qk=5, layers=1, **batch)
    assert residual(centred)[0] == pytest.approx(residual(plain)[0], rel=1e-12)


def test_two_tokens_follow_the_recurrence_by_hand_to_six_layers():
    # Tokens +-h e_1, W_QK = w e_1 e_1^T, W_V = g e_1 e_1^T: each layer maps h to |g| tanh(h^2 w / sqrt(d_qk)) h
    # (rows of P are (sigma(2E), sigma(-2E)) with E = h^2 w / sqrt(d_qk)); the residual of +-h is sqrt(2) h.
    w, g, h = 0.3, -0.8, 1.5
    X = np.array([[[h], [-h]]])
    W = np.full((1, 6, 1, 1), math.sqrt(w))
    expected = h
    for layers in range(1, 7):
        expected = abs(g) * math.tanh(expected**2 * w) * expected
        measured = residual_after_stack(X, W, W, np.full((1, 6, 1, 1), g), 1, layers)
        assert measured == pytest.approx([math.sqrt(2) * expected], rel=1e-12)
    assert expected < 1e-100


def test_the_residual_of_symmetric_tokens_needs_no_optimisation():
    rng = np.random.default_rng(9)
    for n in (2, 3, 5, 6):
        pairs = rng.standard_normal((20, n // 2, 3))
        X = rng.standard_normal((20, 1, 3)) + np.concatenate([pairs, -pairs, np.zeros((20, n % 2, 3))], axis=1)
        assert symmetric_residual_norm(X) == pytest.approx(residual(X)[0], rel=1e-9)


def test_weight_constant_by_hand():
    # Layer 0: W_QK = [[2, 0], [0, 0]] (||.||_1 = 2), W_V = [[1, 2], [0, 1]] (||.||_1 = ||.||_inf = 3): 6.
    # Layer 1: W_QK = 3 I (3), W_V = I (1): 3. Only layer 0 counts for one layer, the larger for two.
    W_Q = np.array([[[[2.0, 0.0], [0.0, 0.0]], [[3.0, 0.0], [0.0, 3.0]]]] * 2)
    W_K = np.array([[np.eye(2), np.eye(2)]] * 2)
    W_V = np.array([[[[1.0, 2.0], [0.0, 1.0]], np.eye(2)]] * 2)
    assert weight_constant(W_Q, W_K, W_V, np.array([1, 2])) == pytest.approx([6.0, 6.0])
    assert weight_constant(W_Q[:, ::-1], W_K[:, ::-1], W_V[:, ::-1], np.array([1, 2])) == pytest.approx([3.0, 6.0])


def test_the_stack_rejects_a_depth_beyond_its_weights():
    batch = _stack_batch(np.random.default_rng(10), L=2)
    with pytest.raises(ValueError, match="layers must lie in 1..2"):
        centred_attention_stack(d_qk=2, layers=3, **batch)
