"""Sparse autoencoders on planted features: MMCS on hand cases, the data, a small batch that recovers."""

import numpy as np
import pytest

from numerics.circuits.sae import AutoencoderConfig, best_cosines, mmcs, planted_features, sparse_codes, train_autoencoders


def test_mmcs_on_hand_cases():
    features = np.eye(2)[None]
    assert mmcs(features, features)[0] == 1.0
    assert mmcs(features, 3 * np.eye(2)[None, :, ::-1])[0] == 1.0  # the order and the scale of the columns do not matter
    diagonal = np.array([[[1.0, 1.0], [1.0, -1.0]]])  # columns at 45 degrees to both features
    assert mmcs(features, diagonal)[0] == pytest.approx(2**-0.5, abs=1e-15)
    np.testing.assert_allclose(best_cosines(features, np.array([[[1.0], [1.0]]])), [[2**-0.5, 2**-0.5]], atol=1e-15)
    assert mmcs(features, -np.eye(2)[None])[0] == 0.0  # a decoder column pointing away does not count (no absolute value)


def test_planted_features_and_codes():
    features = planted_features([0, 1], 8, 16)
    assert features.shape == (2, 8, 16)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-15)
    np.testing.assert_array_equal(features[0], planted_features([0], 8, 16)[0])  # a dictionary depends on its seed only
    codes = sparse_codes(np.random.default_rng(0), (20000, 16), 0.05)
    assert codes.min() >= 0 and codes.max() <= 1 and np.mean(codes > 0) == pytest.approx(0.05, abs=0.005)


def test_a_small_batch_of_sparse_autoencoders_recovers_orthogonal_features():
    features = np.linalg.qr(np.random.default_rng(1).standard_normal((3, 4, 4)))[0]  # orthonormal: the lemma's case
    x = sparse_codes(np.random.default_rng(2), (3, 1024, 4), 0.2) @ np.swapaxes(features, 1, 2)
    decoders = train_autoencoders(x, AutoencoderConfig(latents=8, l1=0.3, steps=200))
    assert decoders.shape == (3, 4, 8)
    np.testing.assert_allclose(np.linalg.norm(decoders, axis=1), 1.0, atol=1e-6)
    assert np.all(mmcs(features, decoders) > 0.95)
