"""Union-bound dimension by root finding, the exact pair law, and the projection experiment."""

import math

import numpy as np
import pytest

from numerics.attention.jl import binomial_p_value, pair_failure_probability, projection_trials, union_bound_dimension


def test_union_bound_dimension_for_one_pair_by_hand():
    # m = 2: one pair, 2 exp(-d kappa / 2) = 1/2, so d = 2 ln 4 / kappa.
    d, accuracy = union_bound_dimension(np.array([2.0]), np.array([0.5]))
    kappa = 0.5**2 / 2 - 0.5**3 / 3
    assert d == pytest.approx([2 * math.log(4) / kappa], rel=1e-13)
    assert accuracy[0] < 1e-10


def test_exercise_values():
    d_min, _ = union_bound_dimension(np.array([1e12]), np.array([0.1]), cubic=False)
    assert d_min[0] == pytest.approx(22104.817, abs=1e-3)


def test_pair_failure_matches_a_simulated_projection():
    rng = np.random.default_rng(0)
    d, eps, draws = 20, 0.3, 200_000
    ratios = (rng.standard_normal((draws, d)) ** 2).mean(axis=1)
    observed = np.mean(np.abs(ratios - 1) > eps)
    exact = pair_failure_probability(np.array([d]), np.array([eps]))[0]
    assert abs(observed - exact) < 6 * math.sqrt(exact * (1 - exact) / draws)


def test_projection_at_the_lemma_dimension_passes_and_far_below_it_fails():
    rng = np.random.default_rng(1)
    m, eps, trials = 30, 0.25, 20
    d = math.ceil(4 * math.log(m) / (eps**2 / 2 - eps**3 / 3))  # Dasgupta and Gupta, by hand
    rate = min(1.0, m * (m - 1) / 2 * pair_failure_probability(np.array([d]), np.array([eps]))[0])
    failed = int(np.count_nonzero(projection_trials(m, 16, d, eps, trials, rng)))
    assert binomial_p_value(failed, trials, rate) > 1e-9
    far_below = projection_trials(m, 16, 4, eps, trials, rng)
    assert np.all(far_below > 0)


def test_binomial_p_value():
    assert binomial_p_value(0, 10, 0.3) == 1.0
    assert binomial_p_value(10, 10, 0.5) == pytest.approx(0.5**10)


@pytest.mark.parametrize(
    "call",
    [
        lambda: union_bound_dimension(np.array([1.0]), np.array([0.1])),
        lambda: union_bound_dimension(np.array([10.0]), np.array([1.0])),
        lambda: pair_failure_probability(np.array([5.0]), np.array([0.0])),
        lambda: projection_trials(1, 4, 4, 0.1, 3, np.random.default_rng(0)),
        lambda: projection_trials(5, 4, 4, 1.5, 3, np.random.default_rng(0)),
        lambda: binomial_p_value(1, 3, 1.5),
    ],
)
def test_bad_input_is_rejected(call):
    with pytest.raises(ValueError):
        call()
