"""The pieces of the grokking experiment on small, planted cases: the data, the model, the Fourier
analysis, the interventions and the comparison with the algorithm."""

import numpy as np
import pytest
import torch

from numerics.circuits import grokking as g
from numerics.circuits.fourier import trig_algorithm_logits

pytest.importorskip("transformer_lens")


@pytest.fixture(scope="module")
def small():
    """p = 11, an untrained model of width 16 (the mechanics do not need a trained one)."""
    data = g.modular_addition(11, 0.3, seed=0)
    return data, g.one_layer_transformer(11, d_model=16, n_heads=4, d_mlp=32, seed=0)


def test_the_data_is_every_equation_split_once():
    data = g.modular_addition(7, 0.3, seed=1)
    assert data.tokens.shape == (49, 3) and bool((data.tokens[:, 2] == 7).all())
    assert torch.equal(data.labels, (data.tokens[:, 0] + data.tokens[:, 1]) % 7)
    assert len(data.train) == int(0.3 * 49) == 14
    assert sorted(torch.cat([data.train, data.val]).tolist()) == list(range(49))
    assert torch.equal(data.train, g.modular_addition(7, 0.3, seed=1).train)
    assert not torch.equal(data.train, g.modular_addition(7, 0.3, seed=2).train)


def test_the_model_is_one_layer_without_layer_norm(small):
    data, model = small
    assert model.W_E.shape == (12, 16) and model.W_U.shape == (16, 11)
    assert model.W_in.shape == (1, 16, 32) and model.W_Q.shape == (1, 4, 16, 4)
    assert model(data.tokens[:5]).shape == (5, 3, 11)
    assert not any("ln" in name or "norm" in name for name, _ in model.named_parameters())
    expected = np.sqrt(sum(float((w.detach().double() ** 2).sum()) for w in model.parameters()))
    assert g.weight_norm(model) == pytest.approx(expected)


def test_the_log_grid_starts_at_initialisation_and_ends_at_the_last_epoch():
    grid = g.log_grid(1000, 10)
    assert grid[0] == 0 and grid[-1] == 1000 and np.all(np.diff(grid) > 0)
    assert g.first_epoch_reaching([0, 5, 9], [0.1, 0.995, 0.5], 0.99) == 5
    assert g.first_epoch_reaching([0, 5], [0.1, 0.2], 0.99) is None


def test_the_fourier_basis_is_orthonormal_and_its_projectors_are_projectors():
    B = g.orthonormal_fourier_basis(13)
    assert np.allclose(B @ B.T, np.eye(13), atol=1e-12)
    assert g.basis_frequencies(13).tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    P = g.frequency_projector(13, [2, 5])
    assert np.allclose(P @ P, P, atol=1e-12) and np.allclose(P, P.T) and round(np.trace(P)) == 4


def planted_embedding(p, frequencies, d=12, noise=0.01, seed=0):
    """``W_E[x] = sum_k u_k cos(w_k x) + v_k sin(w_k x) + c`` with random directions, plus a little noise."""
    rng = np.random.default_rng(seed)
    x = np.arange(p)[:, None]
    W = rng.normal(size=(1, d)) + noise * rng.normal(size=(p, d))
    for k in frequencies:
        W = W + np.cos(2 * np.pi * k * x / p) * rng.normal(size=d) + np.sin(2 * np.pi * k * x / p) * rng.normal(size=d)
    return W


def test_the_spectrum_of_a_planted_embedding_finds_its_frequencies():
    W = planted_embedding(31, [4, 11])
    norms = g.frequency_norms(W)
    assert norms.shape == (16,) and set(np.argsort(norms[1:])[-2:] + 1) == {4, 11}
    assert g.key_frequencies(norms, 0.9) == (4, 11)
    # The norms are Parseval's split of the embedding's energy.
    assert (norms**2).sum() == pytest.approx((W**2).sum())


def test_a_single_planted_frequency_lies_on_a_circle_in_its_order():
    p, k = 17, 5
    angles = 2 * np.pi * k * np.arange(p) / p
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    coordinates, explained = g.embedding_pca(circle @ np.random.default_rng(0).normal(size=(2, 8)))
    assert explained.sum() == pytest.approx(1.0)
    assert g.circle_frequency(circle) == (k, pytest.approx(0.0, abs=1e-9))
    assert g.radius_spread(circle) == pytest.approx(0.0, abs=1e-12)
    assert g.radius_spread(circle * [1.0, 0.5]) > 0.1  # an ellipse is not a circle


def test_keeping_every_frequency_changes_nothing_and_removing_them_all_leaves_chance(small):
    data, model = small
    unchanged = g.accuracy(model, data.tokens, data.labels)
    everything = range(1, 6)
    assert g.accuracy_with_frequencies(model, data, everything, keep=True) == unchanged
    assert g.accuracy_with_frequencies(model, data, (), keep=False) == unchanged
    # Without its frequencies every number has the same embedding: one answer for every equation, right for p of p^2.
    assert g.accuracy_with_frequencies(model, data, everything, keep=False) == pytest.approx(1 / 11)
    assert g.accuracy_with_frequencies(model, data, (), keep=True) == pytest.approx(1 / 11)


def test_patching_neurons_one_at_a_time_adds_up_to_patching_them_all(small):
    # One layer, no layer norm: the logits are linear in the neurons' activations at '=', so each
    # neuron's restored share adds up to the share restored by patching them all together.
    data, model = small
    patching = g.patch_neurons(model, data, pairs=20, seed=0, chunk=7)
    assert patching.restored.shape == (32,)
    assert patching.restored.sum() == pytest.approx(patching.all_neurons, abs=1e-4)
    assert patching.restored[patching.top[0]] == patching.restored.max()
    carried = patching.restored[patching.top[: patching.carriers]].sum()
    assert carried >= 0.9 * patching.all_neurons and patching.top_restored == pytest.approx(carried, abs=1e-4)


def test_neuron_frequencies_are_frequencies_with_shares(small):
    data, model = small
    frequency, share = g.neuron_frequencies(model, data)
    assert frequency.shape == share.shape == (32,)
    assert set(frequency.tolist()) <= set(range(6))  # 0: a neuron whose activation does not vary and np.all((share >= 0) & (share <= 1 + 1e-12))


def test_the_algorithm_matches_itself_up_to_a_shift_and_a_scale():
    p, key = 13, (2, 5)
    a, b = np.arange(p)[:, None], np.arange(p)[None, :]
    logits = 3.0 * trig_algorithm_logits(a, b, key, p) + np.arange(p * p).reshape(p, p, 1)
    fit = g.algorithm_fit(logits, key)
    assert fit.correlation == pytest.approx(1.0) and fit.weighted_correlation == pytest.approx(1.0)
    assert fit.explained == pytest.approx(1.0) and np.allclose(fit.weights, 3.0)
    unequal = trig_algorithm_logits(a, b, [2], p) + 0.2 * trig_algorithm_logits(a, b, [5], p)
    fit = g.algorithm_fit(unequal, key)
    assert fit.correlation == pytest.approx(1.2 / np.sqrt(2 * 1.04))  # equal weights miss the unequal ones
    assert fit.weighted_correlation == pytest.approx(1.0) and np.allclose(fit.weights, [1.0, 0.2])


def test_the_logits_split_into_the_algorithm_its_mirror_and_a_bias_per_answer():
    p, k = 13, 2
    a, b, c = np.meshgrid(*(np.arange(p),) * 3, indexing="ij")
    w = 2 * np.pi * k / p
    # cos w(a + b) cos wc and sin w(a + b) sin wc weighted 0.75 and 0.25: cos w(a + b - c) / 2 + cos w(a + b + c) / 4.
    logits = 0.75 * np.cos(w * (a + b)) * np.cos(w * c) + 0.25 * np.sin(w * (a + b)) * np.sin(w * c) + 0.15 * np.cos(6 * np.pi * c / p) + 7.0
    terms = g.logit_terms(logits, [k])
    assert terms["a + b - c, key frequencies"] == pytest.approx(0.25 / 0.335)
    assert terms["a + b + c, key frequencies"] == pytest.approx(0.0625 / 0.335)
    assert terms["c alone"] == pytest.approx(0.0225 / 0.335)
    assert terms["a + b - c, other frequencies"] == pytest.approx(0.0, abs=1e-12) and terms["the rest"] == pytest.approx(0.0, abs=1e-12)
    fit = g.algorithm_fit(logits, [k])
    assert fit.explained == pytest.approx(terms["a + b - c, key frequencies"]) and fit.weights[0] > 0
    assert fit.residual_accuracy < 2 / p  # without the algorithm's term the argmax is -(a + b) or the bias's peak
