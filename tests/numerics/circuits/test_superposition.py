"""The toy model simulated and trained: the pentagon, the Monte Carlo losses' exact cases, a pentagon from training."""

import numpy as np

from numerics.circuits.superposition import (
    ToyModelConfig,
    column_geometry,
    one_active_losses,
    pentagon,
    train_toy_model,
)


def test_the_pentagon_has_unit_columns_72_degrees_apart():
    W = pentagon(1.0)
    norms, gaps = column_geometry(W)
    np.testing.assert_allclose(norms, 1.0, atol=1e-15)
    np.testing.assert_allclose(gaps, 72.0, atol=1e-12)
    np.testing.assert_allclose((W.T @ W)[0], np.cos(np.radians([0, 72, 144, 144, 72])), atol=1e-15)


def test_the_monte_carlo_losses_in_the_exact_cases():
    rng = np.random.default_rng(0)
    draws = one_active_losses(np.array([0.5, 1.0]), np.array([-1.0, -0.5]), 2000, rng)
    assert draws.shape == (2, 2000, 3)
    assert np.all(draws[:, :, 2] == 0.0)  # the negative overlap never gets through the ReLU
    assert np.all(draws[:, :, 1] == 0.0)  # neither does cos 72 deg x <= 0.31 against a bias of -1/2 or below
    assert np.all(draws[0, :, 0] <= 1.0) and np.all(draws[1, :, 0] <= 0.25 + 1e-15)  # errors x and min(x, 1/2)


def test_training_at_sparsity_point_nine_gives_a_pentagon():
    model = train_toy_model(ToyModelConfig(sparsity=0.9, seed=0))
    norms, gaps = column_geometry(model.W)
    assert np.all(np.abs(gaps - 72) < 2), gaps
    assert np.ptp(norms) < 0.03 and 1.0 < norms.mean() < 1.2, norms  # near 1: about 1.10 at this sparsity
    assert np.all(model.b < 0), model.b  # a negative bias: the ReLU's threshold against interference
