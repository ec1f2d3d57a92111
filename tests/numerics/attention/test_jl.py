"""Union-bound dimension by root finding, the exact pair law, and the projection experiment."""

import math

import numpy as np
import pytest

from numerics.attention.jl import (
    binomial_p_value,
    exact_union_bound,
    pair_failure_probability,
    projection_trials,
    union_bound_dimension,
)


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


def test_exact_union_bound_by_hand_at_two_dimensions():
    # chi^2_2 / 2 is Exp(1): P(> 1 + eps) = e^-(1 + eps), P(< 1 - eps) = 1 - e^-(1 - eps); 10 points have 45 pairs.
    eps = 0.5
    one_pair = math.exp(-(1 + eps)) + 1 - math.exp(-(1 - eps))
    assert pair_failure_probability(np.array([2.0]), np.array([eps]))[0] == pytest.approx(one_pair, rel=1e-13)
    assert exact_union_bound(np.array([10.0]), np.array([2.0]), np.array([eps]))[0] == pytest.approx(45 * one_pair, rel=1e-13)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: union_bound_dimension(np.array([1.0]), np.array([0.1])), "m"),
        (lambda: union_bound_dimension(np.array([np.nan]), np.array([0.1])), "m"),
        (lambda: union_bound_dimension(np.array([10.0]), np.array([1.0])), "eps"),
        (lambda: pair_failure_probability(np.array([5.0]), np.array([0.0])), "eps"),
        (lambda: pair_failure_probability(np.array([0.0]), np.array([0.1])), "d"),
        (lambda: exact_union_bound(np.array([1.0]), np.array([5.0]), np.array([0.1])), "m"),
        (lambda: exact_union_bound(np.array([5.0]), np.array([-1.0]), np.array([0.1])), "d"),
        (lambda: exact_union_bound(np.array([5.0]), np.array([5.0]), np.array([np.nan])), "eps"),
        (lambda: projection_trials(1, 4, 4, 0.1, 3, np.random.default_rng(0)), "m"),
        (lambda: projection_trials(5, 4, 4, 1.5, 3, np.random.default_rng(0)), "eps"),
        (lambda: binomial_p_value(1, 3, 1.5), "rate"),
    ],
)
def test_bad_input_is_rejected_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=f": {name} must"):
        call()
