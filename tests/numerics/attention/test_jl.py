"""The exact pair law, the smallest sufficient dimension by a search over the integers, and the projection experiment."""

import math

import mpmath
import numpy as np
import pytest

from numerics.attention.jl import (
    binomial_p_value,
    distance_window,
    pair_failure_probability,
    projection_trials,
    smallest_sufficient_dimension,
    union_bound,
)


def test_the_windows_by_hand():
    assert distance_window(0.1, squared=True) == pytest.approx((0.9, 1.1))
    assert distance_window(0.1, squared=False) == pytest.approx((0.81, 1.21))


def test_pair_failure_matches_a_simulated_projection():
    rng = np.random.default_rng(0)
    d, eps, draws = 20, 0.3, 200_000
    ratios = (rng.standard_normal((draws, d)) ** 2).mean(axis=1)
    observed = np.mean(np.abs(ratios - 1) > eps)
    exact = pair_failure_probability(d, *distance_window(eps, squared=True))
    assert abs(observed - exact) < 6 * math.sqrt(exact * (1 - exact) / draws)


def _tail_in_50_digits(d, lower, upper):
    """P(chi^2_d / d outside [lower, upper]) by 50-digit quadrature of the chi^2_d density, around its peak."""
    with mpmath.workdps(50):
        a = mpmath.mpf(d) / 2
        spread = mpmath.sqrt(a)
        density = lambda t: mpmath.exp((a - 1) * mpmath.log(t) - t - mpmath.loggamma(a))  # noqa: E731  chi^2_d at 2t
        hi, lo = a * mpmath.mpf(upper), a * mpmath.mpf(lower)
        above = mpmath.quad(density, [hi] + [hi + k * spread / 4 for k in range(1, 40)] + [hi + 20 * spread, mpmath.inf])
        start = max(mpmath.mpf(0), lo - 60 * spread)
        below = mpmath.quad(density, [start] + [lo - k * spread / 4 for k in range(40, 0, -1) if lo - k * spread / 4 > start] + [lo])
        return float(mpmath.log(above + below))


@pytest.mark.parametrize("d, eps", [(40, 0.9), (22105, 0.1), (2_760_000, 0.01)])
def test_scipys_tails_agree_with_50_digit_quadrature_on_the_range(d, eps):
    # The oracle's margin LOG_TARGET_MARGIN (1e-9 of |ln P|) must exceed scipy's error in ln P.
    lower, upper = distance_window(eps, squared=True)
    assert math.log(pair_failure_probability(d, lower, upper)) == pytest.approx(_tail_in_50_digits(d, lower, upper), rel=1e-11)


@pytest.mark.parametrize("eps", [0.01, 0.1, 0.5, 0.99])
def test_the_failure_probability_falls_on_every_integer_dimension(eps):
    # The search over the integers relies on it.
    d = np.arange(1, 4097)
    for squared in (True, False):
        assert np.all(np.diff(pair_failure_probability(d, *distance_window(eps, squared))) <= 0)


def test_the_smallest_sufficient_dimension_is_the_first_integer_that_suffices():
    m = np.array([2.0, 10.0, 1e6, 1e12])
    lower, upper = distance_window(np.array([0.7, 0.5, 0.2, 0.1]), squared=True)
    d = smallest_sufficient_dimension(m, lower, upper, 1 - 1 / m)
    assert np.all(union_bound(m, d, lower, upper) <= 1 - 1 / m)
    assert np.all((d == 1) | (union_bound(m, np.maximum(d - 1, 1), lower, upper) > 1 - 1 / m))
    assert d[0] == 2 and d[3] == 21875


def test_the_exercise_dimension_keeps_distances_but_not_squared_distances_with_high_probability():
    # m = 1e12, eps = 0.1, d = 22105: every distance with probability 1 - 1e-71, every squared distance with 0.42.
    distances = union_bound(1e12, 22105, *distance_window(0.1, squared=False))
    squared = union_bound(1e12, 22105, *distance_window(0.1, squared=True))
    assert distances < 1e-70 and 1 - squared == pytest.approx(0.42, abs=0.01)


def test_projection_at_the_lemma_dimension_passes_and_far_below_it_fails():
    rng = np.random.default_rng(1)
    m, eps, trials = 30, 0.25, 20
    d = math.ceil(4 * math.log(m) / (eps**2 / 2 - eps**3 / 3))  # Dasgupta and Gupta, by hand
    rate = min(1.0, union_bound(m, d, *distance_window(eps, squared=True)))
    failed = int(np.count_nonzero(projection_trials(m, 16, d, eps, trials, rng)))
    assert binomial_p_value(failed, trials, rate) > 1e-9
    far_below = projection_trials(m, 16, 4, eps, trials, rng)
    assert np.all(far_below > 0)


def test_binomial_p_value():
    assert binomial_p_value(0, 10, 0.3) == 1.0
    assert binomial_p_value(10, 10, 0.5) == pytest.approx(0.5**10)


def test_union_bound_by_hand_at_two_dimensions():
    # chi^2_2 / 2 is Exp(1): P(> 1 + eps) = e^-(1 + eps), P(< 1 - eps) = 1 - e^-(1 - eps); 10 points have 45 pairs.
    eps = 0.5
    one_pair = math.exp(-(1 + eps)) + 1 - math.exp(-(1 - eps))
    window = distance_window(eps, squared=True)
    assert pair_failure_probability(2.0, *window) == pytest.approx(one_pair, rel=1e-13)
    assert union_bound(10.0, 2.0, *window) == pytest.approx(45 * one_pair, rel=1e-13)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: distance_window(1.0, squared=True), "eps"),
        (lambda: pair_failure_probability(5.0, 0.5, 0.4), "the window"),
        (lambda: pair_failure_probability(0.0, 0.9, 1.1), "d"),
        (lambda: union_bound(1.0, 5.0, 0.9, 1.1), "m"),
        (lambda: union_bound(np.nan, 5.0, 0.9, 1.1), "m"),
        (lambda: union_bound(5.0, -1.0, 0.9, 1.1), "d"),
        (lambda: smallest_sufficient_dimension(5.0, 0.9, 1.1, 1.5), "failure"),
        (lambda: projection_trials(1, 4, 4, 0.1, 3, np.random.default_rng(0)), "m"),
        (lambda: projection_trials(5, 4, 4, 1.5, 3, np.random.default_rng(0)), "eps"),
        (lambda: binomial_p_value(1, 3, 1.5), "rate"),
    ],
)
def test_bad_input_is_rejected_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=f": {name} must"):
        call()
