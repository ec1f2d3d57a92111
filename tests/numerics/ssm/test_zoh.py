"""The held-input step by integration: hand cases (scalar, nilpotent, rotation), batching, bad input, figure."""

import numpy as np
import pytest

from numerics.ssm.zoh import discretisation_error_figure, held_input_step


def test_scalar_step_by_hand():
    # x' = -2 x + 3 u over Delta = 0.5: A_bar = e^{-1}, B_bar = 3 (1 - e^{-1}) / 2.
    step = held_input_step(np.array([[[-2.0]]]), np.array([[3.0]]), np.array([0.5]))
    np.testing.assert_allclose(step[0], [[np.exp(-1), 1.5 * (1 - np.exp(-1))]], rtol=1e-12)


def test_nilpotent_step_by_hand():
    # A = [[0, 1], [0, 0]] is not diagonalisable: e^{Delta A} = I + Delta A, int_0^Delta e^{sA} ds B
    # = (Delta b_1 + Delta^2 b_2 / 2, Delta b_2).
    Delta, b = 0.7, np.array([2.0, -1.0])
    step = held_input_step(np.array([[[0.0, 1.0], [0.0, 0.0]]]), b[None], np.array([Delta]))[0]
    np.testing.assert_allclose(step[:, :2], [[1.0, Delta], [0.0, 1.0]], atol=1e-13)
    np.testing.assert_allclose(step[:, 2], [Delta * b[0] + Delta**2 * b[1] / 2, Delta * b[1]], rtol=1e-12)


def test_rotation_step_by_hand():
    # A = [[0, w], [-w, 0]]: e^{Delta A} is the rotation by Delta w; with B = e_1,
    # int_0^Delta (cos ws, -sin ws) ds = (sin(w Delta) / w, (cos(w Delta) - 1) / w).
    w, Delta = 3.0, 0.4
    step = held_input_step(np.array([[[0.0, w], [-w, 0.0]]]), np.array([[1.0, 0.0]]), np.array([Delta]))[0]
    angle = w * Delta
    rotation = [[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]
    np.testing.assert_allclose(step[:, :2], rotation, atol=1e-12)
    np.testing.assert_allclose(step[:, 2], [np.sin(angle) / w, (np.cos(angle) - 1) / w], atol=1e-12)


def test_batch_equals_each_instance():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 3, 3)) - 3 * np.eye(3)
    B = rng.standard_normal((5, 3))
    Delta = rng.uniform(0.01, 1.0, 5)
    batch = held_input_step(A, B, Delta)
    assert batch.shape == (5, 3, 4)
    for i in range(5):
        single = held_input_step(A[i : i + 1], B[i : i + 1], Delta[i : i + 1])
        np.testing.assert_allclose(batch[i], single[0], rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize(
    "A, B, Delta, name",
    [
        (np.zeros((1, 2, 3)), np.zeros((1, 2)), np.ones(1), "A"),
        (np.zeros((1, 2, 2)), np.zeros((1, 3)), np.ones(1), "B"),
        (np.zeros((1, 2, 2)), np.zeros((1, 2)), np.zeros(1), "Delta"),
        (np.full((1, 2, 2), np.nan), np.zeros((1, 2)), np.ones(1), "finite"),
    ],
)
def test_bad_input_names_the_argument(A, B, Delta, name):
    with pytest.raises(ValueError, match=name):
        held_input_step(A, B, Delta)


def test_error_figure_is_log_log_with_the_given_data():
    Delta = np.geomspace(1e-3, 1, 5)
    figure = discretisation_error_figure(Delta, Delta**2, Delta**2 / 2)
    axes = figure.axes[0]
    assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
    np.testing.assert_allclose(axes.lines[0].get_ydata(), Delta**2)
    with pytest.raises(ValueError, match="same length"):
        discretisation_error_figure(Delta, Delta[:3], Delta)
