"""torch's measured costs of the attention layers: hand-counted cases, meta = CPU, batching, stacking, bad input."""

import numpy as np
import pytest

from numerics.attention.complexity import (
    attention_layer_costs,
    flops_figure,
    linear_attention,
    measure_costs,
    softmax_attention,
)


def test_softmax_costs_at_T3_d2_by_hand():
    # Products: four (3x2)(2x2) projections, 2*3*2*2 = 24 FLOPs each; Q K^T (3x2)(2x3): 36; P V (3x3)(3x2): 36.
    # Tensors: Q, K, V, H, Y of 6 elements, S, S/sqrt(2), P of 9: 57 elements of 8 bytes.
    assert measure_costs("softmax", 3, 2, bytes_per_element=8) == (4 * 24 + 36 + 36, 57 * 8)


def test_linear_costs_at_T3_d2_by_hand():
    # Products: four projections of 24, K^T V (2x3)(3x2): 24, Q M (3x2)(2x2): 24.
    # Tensors: Q, K, V, H, Y of 6 elements and M of 4: 34 elements of 4 bytes.
    assert measure_costs("linear", 3, 2, bytes_per_element=4) == (6 * 24, 34 * 4)


@pytest.mark.parametrize("layer", ["softmax", "linear"])
@pytest.mark.parametrize("T, d", [(1, 1), (5, 3), (17, 8), (2, 30)])
def test_meta_counts_are_cpu_counts(layer, T, d):
    for size in (4, 8):
        cpu = measure_costs(layer, T, d, bytes_per_element=size, device="cpu")
        meta = measure_costs(layer, T, d, bytes_per_element=size, device="meta")
        assert cpu == meta


def test_counts_are_per_sequence_whatever_the_batch():
    single = attention_layer_costs(9, 4, 8, 1, device="cpu")
    batched = attention_layer_costs(9, 4, 8, 5, device="cpu")
    assert batched.shape == (5, 4)
    assert np.array_equal(batched, np.tile(single, (5, 1)))


def test_six_layers_cost_six_times_one():
    for layer in ("softmax", "linear"):
        one = measure_costs(layer, 7, 3, device="cpu")
        six = measure_costs(layer, 7, 3, layers=6, device="cpu")
        assert six == (6 * one[0], 6 * one[1])


def test_the_layers_compute_attention():
    import torch

    generator = torch.Generator().manual_seed(0)
    X = torch.randn(4, 3, dtype=torch.float64, generator=generator)
    I = torch.eye(3, dtype=torch.float64)
    weights = torch.softmax(X @ X.T / 3**0.5, dim=-1)
    torch.testing.assert_close(softmax_attention(X, I, I, I, I), weights @ X)
    torch.testing.assert_close(linear_attention(X, I, I, I, I), (X @ X.T) @ X)


@pytest.mark.parametrize(
    "bad", [{"layer": "sparse"}, {"T": 0}, {"d": 2.5}, {"bytes_per_element": 2}, {"layers": 0}, {"device": "tpu"}]
)
def test_bad_input_names_the_argument(bad):
    arguments = {"layer": "softmax", "T": 3, "d": 2, **bad}
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        measure_costs(arguments.pop("layer"), arguments.pop("T"), arguments.pop("d"), **arguments)


def test_the_flops_figure_draws_the_given_curves_and_torch_points():
    lengths = np.array([1, 2, 4, 8, 16, 32, 64])
    # Curves by hand (8 T d^2 + 4 T^2 d and 12 T d^2 at d = 3); the points are torch's counts at T = 1 and 64.
    curves = {"softmax": 72 * lengths + 12 * lengths**2, "linear": 108 * lengths}
    figure = flops_figure(lengths, curves, 3, 4)
    lines = figure.axes[0].lines
    assert len(lines) == 5  # two curves, two sets of points, the crossover
    np.testing.assert_array_equal(lines[0].get_ydata(), curves["softmax"])
    np.testing.assert_array_equal(lines[1].get_ydata(), [72 + 12, 72 * 64 + 12 * 64**2])
    with pytest.raises(ValueError, match="closed_forms"):
        flops_figure(lengths, {"cubic": lengths}, 3, 4)
