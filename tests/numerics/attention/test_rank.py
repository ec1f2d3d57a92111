"""Numerical ranks of attention outputs: the rank decision, the input samplers, the literal outputs."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from numerics.attention.rank import (
    RANK_THRESHOLD,
    UNDECIDED,
    attention_output_ranks,
    numerical_rank,
    orthonormal_frames,
    separated_queries_keys,
    singular_value_figure,
)


def test_numerical_rank_counts_singular_values_above_the_threshold():
    matrices = np.stack([np.diag([1.0, 1e-3, 0.0]), np.diag([2.0, 0.0, 0.0]), np.eye(3)])
    assert numerical_rank(matrices).tolist() == [2, 1, 3]
    assert UNDECIDED[0] < RANK_THRESHOLD < UNDECIDED[1]


@pytest.mark.parametrize("small", [1e-9, 1e-10, 1e-11])
def test_a_singular_value_in_the_undecided_band_stops(small):
    with pytest.raises(ArithmeticError, match="undecided"):
        numerical_rank(np.diag([1.0, small]))


def test_with_an_error_bound_a_band_value_far_above_its_floor_is_counted():
    """1e-9 is undecided without a bound; with a floor of about 1e-14 it is nonzero in exact arithmetic
    (Weyl): counted. Below the threshold, or within 100 times the floor, it stays undecided."""
    assert numerical_rank(np.diag([1.0, 1e-9]), error=1e-14).tolist() == 2
    for small, error in ((1e-11, 1e-14), (1e-9, 2e-11)):
        with pytest.raises(ArithmeticError, match="undecided"):
            numerical_rank(np.diag([1.0, small]), error=error)


def test_a_rounding_floor_reaching_the_threshold_stops():
    # floor = error / sigma_1 + max(r, c)^2 u: an error bound of 1e-9 on a matrix with sigma_1 = 1 is too coarse.
    with pytest.raises(ArithmeticError, match="rounding floor"):
        numerical_rank(np.diag([1.0, 1e-3]), error=1e-9)
    assert numerical_rank(np.diag([1.0, 1e-3]), error=1e-14).tolist() == 2


def test_exact_zeros_are_computed_below_the_rounding_floor():
    # Linear attention with d_k = 1 has rank 1 exactly; its other singular values are pure rounding, and must lie
    # below error / sigma_1 with error = gamma_(d_k + n) || |Q| |K|^T |V| ||_2 (Higham 3.5, written out here).
    rng = np.random.default_rng(4)
    n, u = 8, np.finfo(float).eps / 2
    Q, K, V = (rng.standard_normal((2000, n, k)) * 10 ** rng.uniform(-3, 3, (2000, 1, 1)) for k in (1, 1, 6))
    Z = (Q @ np.swapaxes(K, 1, 2)) @ V
    magnitude = np.abs(Q) @ np.abs(np.swapaxes(K, 1, 2)) @ np.abs(V)
    error = (1 + n) * u / (1 - (1 + n) * u) * np.linalg.norm(magnitude, 2, axis=(1, 2))
    singular = np.linalg.svd(Z, compute_uv=False)
    assert np.all(singular[:, 1:] <= error[:, None] + 36 * u * singular[:, :1])
    assert numerical_rank(Z, error).tolist() == [1] * 2000


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="Z"):
        numerical_rank(np.ones(3))
    with pytest.raises(ValueError, match="d_k"):
        separated_queries_keys(np.random.default_rng(0), 2, 1, 3, 0)
    with pytest.raises(ValueError, match="rows"):
        orthonormal_frames(np.random.default_rng(0), 2, 0, 3)
    with pytest.raises(ValueError, match="W_O"):
        attention_output_ranks(np.ones((1, 1, 2, 1)), np.ones((1, 1, 2, 1)), np.ones((1, 1, 2, 2)), np.ones((1, 3, 2)))


def test_orthonormal_frames_have_unit_singular_values():
    rng = np.random.default_rng(1)
    for rows, cols in ((5, 3), (3, 5), (4, 4)):
        frames = orthonormal_frames(rng, 10, rows, cols)
        assert frames.shape == (10, rows, cols)
        np.testing.assert_allclose(np.linalg.svd(frames, compute_uv=False), 1.0, atol=1e-14)


def test_separated_queries_keys_give_well_conditioned_softmax_with_one_key_dimension():
    rng = np.random.default_rng(2)
    Q, K = separated_queries_keys(rng, 500, 1, 8, 1)
    logits = Q[:, 0] @ np.swapaxes(K[:, 0], 1, 2)
    weights = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    singular = np.linalg.svd(weights, compute_uv=False)
    # Observed minimum over 20000 draws is about 1e-5; far above the undecided band.
    assert (singular[:, -1] / singular[:, 0]).min() > 1e3 * UNDECIDED[1]


def test_the_counterexample_by_hand():
    """q = k = (1, -1), d_k = 1, V = I_2: the softmax output has rank 2, the linear output rank 1."""
    Q = np.array([1.0, -1.0]).reshape(1, 1, 2, 1)
    V = np.eye(2).reshape(1, 1, 2, 2)
    W_O = np.eye(2)[None]
    ranks = attention_output_ranks(Q, Q, V, W_O)
    assert ranks.tolist() == [[2.0, 1.0, 2.0]]
    e = math.e
    softmax = np.array([[e, 1 / e], [1 / e, e]]) / (e + 1 / e)
    assert np.linalg.det(softmax) == pytest.approx(math.tanh(1.0), rel=1e-14)


def test_a_projection_of_rank_one_caps_the_multihead_rank():
    rng = np.random.default_rng(3)
    Q, K = separated_queries_keys(rng, 4, 2, 5, 3)
    V = orthonormal_frames(rng, 8, 5, 4).reshape(4, 2, 5, 4)
    W_O = np.ones((4, 8, 6))  # rank one
    assert attention_output_ranks(Q, K, V, W_O)[:, 2].tolist() == [1.0] * 4


def test_the_figure_is_a_matplotlib_figure():
    figure = singular_value_figure(0, 6)
    assert isinstance(figure, Figure) and len(figure.axes) == 1
    assert len(figure.axes[0].lines) == 3
