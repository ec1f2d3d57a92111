"""The budget split behind chinchilla-frontier: hand cases, accuracy, batching, bad input, the figure."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from numerics.scaling.frontier import budget_split, frontier_figure


def test_exercise_1_5_by_hand():
    # 6 N (20 N) = 1.2e24: N = 1e11, D = 2e12.
    values, accuracy = budget_split(np.array([1.2e24]), np.array([20.0]))
    assert np.all(np.abs(values - [[1e11, 2e12]]) <= accuracy)


def test_one_token_per_parameter_splits_evenly():
    # r = 1: N = D = sqrt(C/6); C = 6e20 gives 1e10.
    values, accuracy = budget_split(np.array([6e20, 6e4]), np.array([1.0, 1.0]))
    assert np.all(np.abs(values - [[1e10, 1e10], [100.0, 100.0]]) <= accuracy)


def test_the_split_spends_the_budget_across_the_domain():
    rng = np.random.default_rng(0)
    C = np.exp(rng.uniform(np.log(1e15), np.log(1e28), 200))
    r = np.exp(rng.uniform(0, np.log(1e4), 200))
    values, accuracy = budget_split(C, r)
    N, D = values.T
    assert values.shape == accuracy.shape == (200, 2)
    np.testing.assert_allclose(6 * N * D, C, rtol=1e-13)
    np.testing.assert_allclose(D / N, r, rtol=1e-13)
    assert np.all(accuracy < 1e-13 * values)


def test_batching_equals_one_at_a_time():
    C, r = np.array([1e20, 3e24, 7e17]), np.array([20.0, 1875.0, 2.0])
    batched, _ = budget_split(C, r)
    for i in range(3):
        single, _ = budget_split(C[i : i + 1], r[i : i + 1])
        np.testing.assert_array_equal(single[0], batched[i])


@pytest.mark.parametrize("name, args", [("C", (0.0, 20.0)), ("C", (-1e24, 20.0)), ("tokens_per_param", (1e24, 0.0)), ("C", (np.nan, 20.0))])
def test_bad_input_names_the_argument(name, args):
    with pytest.raises(ValueError, match=name):
        budget_split(np.array([args[0]]), np.array([args[1]]))


def test_the_figure_has_both_panels_and_every_model():
    C = np.logspace(21, 25, 5)
    figure = frontier_figure(C, {"rule": (np.sqrt(C / 120), np.sqrt(20 * C / 6))}, {"Chinchilla": (70e9, 1.4e12)})
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    assert all(len(axes.lines) == 2 for axes in figure.axes)


def test_the_stated_accuracy_covers_the_exact_split():
    import mpmath

    rng = np.random.default_rng(3)
    C = np.exp(rng.uniform(np.log(1e15), np.log(1e28), 20))
    r = np.exp(rng.uniform(0, np.log(1e4), 20))
    values, accuracy = budget_split(C, r)
    with mpmath.workdps(40):
        for i in range(20):
            exact_N = mpmath.sqrt(mpmath.mpf(float(C[i])) / (6 * mpmath.mpf(float(r[i]))))
            exact = (exact_N, mpmath.mpf(float(r[i])) * exact_N)
            errors = [float(abs(mpmath.mpf(float(v)) - e)) for v, e in zip(values[i], exact)]
            assert np.all(np.array(errors) <= accuracy[i])
