"""Gaussian monomial means, the exact one-step risk moments, and the simulation of tasks and contexts."""

import numpy as np
import pytest

from numerics.icl.risk import (
    exact_one_step_risk,
    exact_trace_moments,
    gaussian_monomial_means,
    one_step_error_moments,
    simulated_risks,
)


def test_gaussian_monomial_means():
    # E[z^4] = 3, E[z_0^2 z_1^2] = 1, E[z_0^3 z_1] = 0, E[z^8] = 105, E[z_0 z_1] = 0.
    labels = np.array([[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 1], [5, 5, 5, 5]])
    assert gaussian_monomial_means(labels).tolist() == [3, 1, 0, 3]
    assert gaussian_monomial_means(np.zeros((1, 8), dtype=int)).tolist() == [105]
    assert gaussian_monomial_means(np.array([[0, 1]])).tolist() == [0]


def test_one_step_moments_by_hand():
    # d = k = 1: y_q = x w, y_hat / eta = x X^2 w: E[x^2 w^2] = 1, E[x^2 X^2 w^2] = 1, E[x^2 X^4 w^2] = 3.
    assert one_step_error_moments(1, 1) == (1, 1, 3)
    assert exact_one_step_risk(1, 1, np.array([0.0, 1 / 3, 1.0])).tolist() == pytest.approx([1, 2 / 3, 2])


@pytest.mark.parametrize("d, k", [(1, 3), (2, 2), (3, 1), (2, 4)])
def test_trace_moments_by_enumeration(d, k):
    # E tr(X^T X) = k d; E tr((X^T X)^2) counted by hand for small sizes: d = 1 is E[chi^2_k squared] = k^2 + 2k.
    first, second = exact_trace_moments(d, k)
    assert first == k * d
    if d == 1:
        assert second == k**2 + 2 * k
    assert one_step_error_moments(d, k)[2] == second  # E[(x^T X^T X w)^2] = E tr((X^T X)^2)


def test_the_simulation_is_seeded_per_instance_and_has_the_right_mean_at_eta_0():
    samples = simulated_risks(3, 5, np.array([0.0, 0.5]), [7, 8], draws=300)
    again = simulated_risks(3, 5, np.array([0.5]), [8], draws=300)
    assert samples.shape == (2, 300) and np.array_equal(samples[1], again[0])
    # eta = 0 predicts 0: the risk is E||w||^2 = d; 300 draws of a mean of 4 chi-square(3): standard error 0.07.
    assert abs(samples[0].mean() - 3) < 0.5
