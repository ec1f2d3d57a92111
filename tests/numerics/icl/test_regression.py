"""Track A's models, baselines and probes on tiny inputs (numerics.icl.regression)."""

import math

import numpy as np
import pytest
import torch

from numerics.icl import regression as icl


def prompts(n=64, k=6, d=3, width=None, seed=0):
    return icl.sample_prompts(torch.Generator().manual_seed(seed), n, k, d, width)


def test_prompts_follow_seed_004_and_pad_with_zeros():
    batch = prompts(n=5, k=4, d=3, width=5)
    assert batch.X.shape == (5, 4, 5) and batch.y.shape == (5, 4) and batch.x_q.shape == (5, 5) and batch.k == 4
    assert not batch.X[..., 3:].any() and not batch.x_q[:, 3:].any()
    # y = w^T x for one w per prompt: least squares on the context recovers the query's target.
    assert np.allclose(icl.ols_prediction(batch), batch.y_q.double().numpy(), atol=1e-4)
    E = icl.tokens(batch.X, batch.y, batch.x_q)
    assert E.shape == (5, 5, 6) and torch.equal(E[:, -1, -1], torch.zeros(5)) and torch.equal(E[:, :4, -1], batch.y)


def test_least_squares_is_exact_from_k_equal_d_and_the_min_norm_interpolant_below():
    exact = prompts(k=3, d=3)
    assert np.abs(icl.ols_prediction(exact) - exact.y_q.double().numpy()).max() < 1e-3
    short = prompts(k=2, d=4)
    w = icl.ols_weights(short)
    X, y = short.X.double().numpy(), short.y.double().numpy()
    assert np.allclose(np.einsum("nkd,nd->nk", X, w), y, atol=1e-9)  # it interpolates the context
    # ... with the least norm: w lies in the row space of X (no component orthogonal to every x_j).
    residual = w - np.einsum("nkd,nk->nd", X, np.linalg.solve(X @ X.transpose(0, 2, 1), y[..., None])[..., 0])
    assert np.abs(residual).max() < 1e-9


def test_the_gd_step_is_one_autograd_step_from_zero():
    batch, eta = prompts(), 0.37
    w = torch.zeros(batch.X.shape[0], batch.X.shape[2], dtype=torch.float64, requires_grad=True)
    loss = ((torch.einsum("nkd,nd->nk", batch.X.double(), w) - batch.y.double()) ** 2).sum() / (2 * batch.k)
    (gradient,) = torch.autograd.grad(loss, w)
    expected = ((-eta * gradient) * batch.x_q.double()).sum(-1).numpy()
    assert np.allclose(icl.gd_step_prediction(batch, eta), expected, rtol=1e-12, atol=1e-12)
    # The step fitted to predictions made with a known step is that step.
    fake = icl.Prompts(batch.X, batch.y, batch.x_q, torch.from_numpy(icl.gd_step_prediction(batch, eta)).float(), batch.d)
    assert icl.fitted_step([fake]) == pytest.approx(eta, rel=1e-6)


def von_oswald(model, d, eta):
    """Set a LinearAttention to von Oswald et al.'s construction: W_K = W_Q = projection on x, v = (0, eta)."""
    with torch.no_grad():
        for W in (model.W_Q, model.W_K, model.W_V):
            W.zero_()
        model.W_Q[:d, :d] = torch.eye(d)
        model.W_K[:d, :d] = torch.eye(d)
        model.W_V[-1, -1] = eta
    return model


def test_the_linear_layer_with_von_oswalds_weights_is_one_gd_step():
    batch = prompts(width=4)
    model = von_oswald(icl.LinearAttention(4), 3, 0.6)
    assert np.allclose(icl.predict(model, batch), icl.gd_step_prediction(batch, 0.6), rtol=1e-5, atol=1e-5)
    assert np.allclose(model.preconditioner(3).detach().numpy(), 0.6 * np.eye(3))
    # Its effective weights are W_GD = (eta / k) X^T y exactly (the prediction is linear in x_test).
    assert np.allclose(icl.effective_weights(model, batch), 0.6 * icl.gd_weights(batch), rtol=1e-5, atol=1e-5)


def test_the_odd_part_of_any_linear_layer_is_one_preconditioned_step():
    torch.manual_seed(1)
    batch, model = prompts(), icl.LinearAttention(3)
    with torch.no_grad():
        for W in (model.W_Q, model.W_K, model.W_V):
            W.copy_(torch.randn_like(W))
    flipped = icl.Prompts(batch.X, -batch.y, batch.x_q, -batch.y_q, batch.d)
    odd = (icl.predict(model, batch) - icl.predict(model, flipped)) / 2
    gamma = model.preconditioner(3).detach().double().numpy()
    step = np.einsum("nd,de,ne->n", batch.x_q.double().numpy(), gamma, icl.gd_weights(batch))
    assert np.allclose(odd, step, rtol=1e-4, atol=1e-4)


def test_the_kernel_slope_ignores_each_querys_constant_and_the_even_share_is_zero_for_one_gd_step():
    features = np.random.default_rng(0).standard_normal((5, 7))
    assert icl.kernel_slope(0.7 * features + np.arange(5)[:, None], features) == pytest.approx(0.7)
    batch = prompts(width=4)
    model = von_oswald(icl.LinearAttention(4), 3, 0.6)
    assert icl.even_share(model, batch) < 1e-12
    with torch.no_grad():
        model.W_V[-1, 0] = 1.0  # the value reads x_j too: (1/k) sum_j x_j1 x_j^T x_q, even in w
    assert icl.even_share(model, batch) > 0.1


def test_attention_maps_have_one_row_per_token():
    batch = prompts(k=5, d=2)
    linear, softmax = icl.LinearAttention(2), icl.SoftmaxAttention(2)
    transformer = icl.Transformer(2, hidden=8, layers=2, heads=2)
    (scores,) = icl.attention_maps(linear, batch)
    assert scores.shape == (6, 5)
    (weights,) = icl.attention_maps(softmax, batch)
    assert weights.shape == (6, 5) and np.allclose(weights.sum(-1), 1, atol=1e-6)
    layers = icl.attention_maps(transformer, batch)
    assert len(layers) == 2 and all(m.shape == (6, 6) for m in layers)
    assert all(np.allclose(m.sum(-1), 1, atol=1e-6) and not m[:-1, -1].any() for m in layers)  # the context never reads the query
    assert icl.input_gram(batch).shape == (64, 6, 5)


def test_the_models_predict_one_number_per_prompt_and_train():
    batch = prompts(n=16, k=4, d=2, width=3)
    for model in (icl.LinearAttention(3), icl.SoftmaxAttention(3), icl.Transformer(3, hidden=8, layers=1, heads=2)):
        assert model(batch.X, batch.y, batch.x_q).shape == (16,)
        before = icl.reading_weights(model, slice(2, 3)).clone()
        curve = icl.train(model, lambda step: batch, 3, 1e-2, lambda steps, total, description: steps, "training")
        assert curve.shape == (3,) and np.isfinite(curve).all()
        # The padded coordinate is zero in every input: the weights reading it get zero gradient and never move.
        assert torch.equal(icl.reading_weights(model, slice(2, 3)), before)


def test_flops_of_the_linear_layer_are_its_matrix_products():
    k, D = 7, 4
    batch = prompts(k=k, d=3)
    # query projection (2 D^2), key projection of k tokens (2 k D^2), scores (2 k D), values (2 k D)
    assert icl.forward_flops(icl.LinearAttention(3), batch) == 2 * D * D + 2 * k * D * D + 4 * k * D
    assert icl.gd_step_flops(3, 7) == 2 * 7 * 3 + 2 * 3 + 1
    assert icl.ols_flops(3, 7) == 2 * 7 * 9 + 2 * 7 * 3 + 9 + 18 + 6
    assert icl.ols_flops(5, 2) < icl.ols_flops(5, 5)


def test_nadaraya_watson_with_a_small_bandwidth_is_the_nearest_neighbour():
    batch = prompts(n=8, k=5, d=2)
    distances = ((batch.X - batch.x_q[:, None]) ** 2).sum(-1)
    nearest = batch.y[torch.arange(8), distances.argmin(-1)].double().numpy()
    assert np.allclose(icl.nadaraya_watson_prediction(batch, 1e-3, "gaussian"), nearest)
    with pytest.raises(ValueError, match="kernel"):
        icl.nadaraya_watson_prediction(batch, 1.0, "box")
    fit = prompts(n=200, k=10, d=2, seed=3)
    h = icl.fit_bandwidth([fit], "exponential")
    error = lambda b: icl.nmse(icl.nadaraya_watson_prediction(fit, b, "exponential"), fit)[0]
    assert error(h) <= min(error(h / 3), error(3 * h))


def test_plateau_and_drop_tell_a_step_from_a_smooth_decay():
    step = np.where(np.arange(1000) < 600, 1.0, 0.1)
    plateau, drop = icl.plateau_and_drop(step)
    assert plateau == pytest.approx(0.6, abs=0.02) and drop <= 0.02
    plateau, drop = icl.plateau_and_drop(np.exp(-np.arange(1000) / 300))
    assert plateau < 0.05 and drop > 0.5


def test_the_figures_are_drawn():
    from matplotlib.figure import Figure

    curves = {"linear-attention": [0.5, 0.4], "ols": [0.0, 0.0]}
    assert isinstance(icl.nmse_figure([5, 10], curves, 3, [5, 10], ([3, 4], curves, 10)), Figure)
    assert isinstance(icl.training_figure({"transformer": ([1, 2], [1.0, 0.5])}, {"floor": 0.3}), Figure)
    assert isinstance(icl.attention_figure({"a": np.eye(3), "b": -np.eye(3)}), Figure)
    assert isinstance(icl.weights_figure(np.arange(6.0), {"transformer": np.arange(6.0)}, "W"), Figure)
    assert math.isclose(icl.correlation([1, 2, 3], [2, 4, 6]), 1.0)
