"""Sparse autoencoders on planted features: MMCS on hand cases, the data, the hand-written gradients and Adam against
torch's, a small batch that recovers."""

import numpy as np
import pytest
import torch

from numerics.circuits.sae import (
    AutoencoderConfig,
    adam_step,
    autoencoder_gradients,
    best_cosines,
    mmcs,
    planted_features,
    sparse_codes,
    train_autoencoders,
)


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


def test_hand_written_gradients_equal_autograd():
    """The back-propagation written out against torch's autograd of the stated loss, float64, a small random case."""
    generator = torch.Generator().manual_seed(0)
    n, batch, d, m, l1 = 3, 7, 4, 6, 0.3
    x = torch.rand(n, batch, d, generator=generator, dtype=torch.float64)
    shapes = ((n, m, d), (n, 1, m), (n, d, m), (n, 1, d))
    weights = [torch.randn(shape, generator=generator, dtype=torch.float64) for shape in shapes]
    W_enc, b_enc, W_dec, b_dec = [w.requires_grad_() for w in weights]
    h = torch.relu((x - b_dec) @ W_enc.transpose(1, 2) + b_enc)
    assert 0 < (h > 0).double().mean() < 1  # some latents active, some not: both sides of the ReLU are tested
    x_hat = h @ W_dec.transpose(1, 2) + b_dec
    loss = (((x - x_hat) ** 2).sum(dim=-1) + l1 * h.sum(dim=-1)).mean(dim=-1).sum()
    expected = torch.autograd.grad(loss, [W_enc, b_enc, W_dec, b_dec])
    with torch.no_grad():
        for got, want in zip(autoencoder_gradients(x, W_enc, b_enc, W_dec, b_dec, l1), expected):
            torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-14)


def test_adam_step_equals_torch_adam():
    """Three steps of :func:`adam_step` against torch.optim.Adam's (default betas and eps), learning rate changing."""
    generator = torch.Generator().manual_seed(1)
    start = torch.randn(5, generator=generator, dtype=torch.float64)
    gradients = torch.randn(3, 5, generator=generator, dtype=torch.float64)
    parameter = start.clone().requires_grad_()
    optimiser = torch.optim.Adam([parameter], lr=0.03)
    mine, first, second = start.clone(), torch.zeros(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
    for step, (gradient, lr) in enumerate(zip(gradients, (0.03, 0.02, 0.01)), start=1):
        optimiser.param_groups[0]["lr"] = lr
        parameter.grad = gradient.clone()
        optimiser.step()
        adam_step(mine, gradient, first, second, step, lr)
    torch.testing.assert_close(mine, parameter.detach(), rtol=1e-15, atol=1e-16)
