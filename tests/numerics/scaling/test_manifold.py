"""The measured interpolation exponent: a hand-computed limit, ambient independence, accuracy, bad input."""

import numpy as np
import pytest

from numerics.scaling.manifold import (
    FINE_GRIDS,
    GRIDS,
    error_exponent,
    exponent_figure,
    factorised_mse,
    interpolation_mse,
    random_targets,
)


def _one_ridge(ambient: int, rho=0.7, phi=0.3, b=0.4):
    """A target cos(rho cos(2 pi theta - phi) + b) on the circle embedded in R^ambient."""
    Q = np.zeros((1, ambient, 2))
    Q[0, 0, 0] = Q[0, 1, 1] = 1.0
    w = np.zeros((1, 3, ambient))
    w[0, 0, :2] = 2 * np.pi * rho * np.array([np.cos(phi), np.sin(phi)])
    return {"Q": Q, "w": w, "b": np.array([[b, 0.0, 0.0]]), "a": np.array([[1.0, 0.0, 0.0]])}


def test_the_one_dimensional_limit_by_hand():
    # Linear interpolation leaves (f''/2) x (x - h) in a cell; at the two Gauss points x(x - h) = -h^2/6, so the
    # average squared error tends to h^4 mean(f''^2) / 144 (5/6 of the true mean square h^4 mean(f''^2)/120).
    rho, phi, b, m = 0.7, 0.3, 0.4, 512
    theta = (np.arange(20000) + 0.5) / 20000
    g = rho * np.cos(2 * np.pi * theta - phi) + b
    g1 = -2 * np.pi * rho * np.sin(2 * np.pi * theta - phi)
    g2 = -((2 * np.pi) ** 2) * rho * np.cos(2 * np.pi * theta - phi)
    second = -np.cos(g) * g1**2 - np.sin(g) * g2
    expected = np.mean(second**2) / 144 / m**4
    measured = interpolation_mse(1, [m], **_one_ridge(3))[0, 0]
    assert measured == pytest.approx(expected, rel=1e-3)


def test_the_ambient_dimension_does_not_enter():
    # The same target along the circle, embedded in R^2 and in R^9: the same errors to rounding.
    low, high = interpolation_mse(1, [16, 32], **_one_ridge(2)), interpolation_mse(1, [16, 32], **_one_ridge(9))
    np.testing.assert_allclose(low, high, rtol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_the_factorised_error_is_the_brute_force_one(d):
    # Axis by axis (exact algebra) against cell by cell, on the grids small enough for both.
    targets = random_targets(np.random.default_rng(10 + d), 12, d, 3)
    np.testing.assert_allclose(factorised_mse(d, GRIDS[d], **targets), interpolation_mse(d, GRIDS[d], **targets), rtol=1e-11)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_the_stated_accuracy_covers_the_error(d):
    targets = random_targets(np.random.default_rng(d), 40, d, 2)
    slope, accuracy = error_exponent(d, **targets)
    assert slope.shape == accuracy.shape == (40,)
    assert np.all(np.abs(slope + 4 / d) <= accuracy)
    # Within the engine's cap on a stated accuracy (1e-6 of the value) with room to spare: about 1e-8.
    assert np.all(accuracy < 2e-7 * 4 / d)


def test_the_raw_slope_alone_would_be_too_loose():
    # Without Richardson's rule the slope between the two finest grids is still off by ~1e-5 (the h^2 term), an
    # order above the cap: the extrapolation is what makes the check tight.
    d = 2
    targets = random_targets(np.random.default_rng(5), 20, d, 0)
    mse = factorised_mse(d, FINE_GRIDS, **targets)
    raw = np.log(mse[:, -1] / mse[:, -2]) / (d * np.log(2))
    assert np.min(np.abs(raw + 4 / d)) > 1e-6 * 4 / d
    slope, _ = error_exponent(d, **targets)
    assert np.max(np.abs(slope + 4 / d)) < 1e-7


def test_random_targets_have_orthonormal_frames():
    targets = random_targets(np.random.default_rng(0), 5, 2, 3)
    assert targets["Q"].shape == (5, 7, 4) and targets["w"].shape == (5, 3, 7)
    np.testing.assert_allclose(np.einsum("nDi,nDj->nij", targets["Q"], targets["Q"]), np.broadcast_to(np.eye(4), (5, 4, 4)), atol=1e-14)


@pytest.mark.parametrize("d", [0, 4])
def test_an_unsupported_dimension_is_bad_input(d):
    with pytest.raises(ValueError, match="d must"):
        random_targets(np.random.default_rng(0), 1, d, 0)


def test_negative_extra_dimensions_are_bad_input():
    with pytest.raises(ValueError, match="extra_dims"):
        random_targets(np.random.default_rng(0), 1, 1, -1)


def test_the_figure_draws_a_fitted_line_per_dimension():
    curves = {d: (np.array(GRIDS[d], dtype=float) ** d, 10.0 ** -np.arange(1, 5)) for d in GRIDS}
    figure = exponent_figure(curves)
    assert len(figure.axes[0].lines) == 6
