"""Sparse autoencoders on planted sparse features (torch and numpy; no closed forms).

* :func:`planted_features`: ``F`` random unit feature directions in ``R^d`` per seed;
* :func:`sparse_codes`: feature activations, each active with probability ``p`` at a value uniform on ``[0, 1]``;
* :func:`train_autoencoders`: many tiny autoencoders ``h = ReLU(W_enc (x - b_dec) + b_enc)``,
  ``x_hat = W_dec h + b_dec`` trained at once (one per planted dictionary), with unit-norm decoder
  columns and an L1 penalty ``l1 * sum(h)`` (zero for a plain autoencoder), by Adam on the gradients of
  :func:`autoencoder_gradients` (back-propagation written out) with :func:`adam_step`;
* :func:`best_cosines`, :func:`mmcs`: each planted feature's largest cosine similarity with a decoder
  column, and their mean (MMCS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from numerics.circuits.superposition import cosine_decay
from numerics.threads import one_torch_thread


def planted_features(seeds, d: int, n_features: int) -> np.ndarray:
    """``(len(seeds), d, n_features)``: unit columns, Gaussian directions drawn from each seed."""
    directions = np.stack([np.random.default_rng([seed, d, n_features]).standard_normal((d, n_features)) for seed in seeds])
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def sparse_codes(rng: np.random.Generator, shape, p: float) -> np.ndarray:
    """Activations of the given shape: 0 with probability ``1 - p``, else uniform on ``[0, 1]``."""
    return rng.random(shape) * (rng.random(shape) < p)


def best_cosines(features: np.ndarray, decoder: np.ndarray) -> np.ndarray:
    """``(n, F)``: each feature's largest cosine similarity with a decoder column, ``max_j cos(f_i, w_j)``.

    ``features`` is ``(n, d, F)`` and ``decoder`` ``(n, d, m)``; columns need not be normalised.
    """
    f = features / np.linalg.norm(features, axis=1, keepdims=True)
    w = decoder / np.linalg.norm(decoder, axis=1, keepdims=True)
    return (np.swapaxes(f, 1, 2) @ w).max(axis=2)


def mmcs(features: np.ndarray, decoder: np.ndarray) -> np.ndarray:
    """Mean max cosine similarity per instance (Sharkey et al. 2022): the mean over features of :func:`best_cosines`."""
    return best_cosines(features, decoder).mean(axis=1)


def best_cosines_figure(curves: dict[str, np.ndarray], threshold: float):
    """Each feature's best cosine, sorted, one line per dictionary, with the recovery threshold dashed."""
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    figure = Figure(figsize=(5.2, 3.2))
    axes = figure.subplots()
    for (label, values), marker in zip(curves.items(), ("o", "s", "^")):
        ranks = np.arange(1, len(values) + 1)
        axes.plot(ranks, np.sort(values)[::-1], marker, markersize=3, linestyle="-", linewidth=0.8, label=label)
    axes.axhline(threshold, color="gray", linestyle="--", linewidth=0.8)
    axes.set(xlabel="planted feature (sorted)", ylabel="best cosine with a decoder column", ylim=(0, 1.02))
    axes.grid(True, linewidth=0.3)
    axes.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure


@dataclass(frozen=True)
class AutoencoderConfig:
    """One training run of a batch of autoencoders: dictionary size ``latents``, penalty ``l1``, Adam with a
    cosine-decaying learning rate on minibatches of a fixed data set of ``samples`` points per instance."""

    latents: int
    l1: float
    steps: int = 600
    batch: int = 128
    lr: float = 0.03
    samples: int = 4096
    seed: int = 0


def autoencoder_gradients(x, W_enc, b_enc, W_dec, b_dec, l1: float, out=None):
    """The gradients of the training loss with respect to ``(W_enc, b_enc, W_dec, b_dec)``, back-propagated by hand.

    The loss is the sum over instances of the batch mean of ``||x - x_hat||^2 + l1 * sum_j h_j``, with
    ``h = ReLU(W_enc (x - b_dec) + b_enc)`` and ``x_hat = W_dec h + b_dec``; ``x`` is ``(n, batch, d)``, the
    weights ``(n, m, d)`` and ``(n, d, m)``, the biases ``(n, 1, m)`` and ``(n, 1, d)``, torch tensors. The chain
    rule, per instance: ``dL/dx_hat = 2 (x_hat - x) / batch``;
    ``dL/dpre = (dL/dx_hat W_dec + l1 / batch) * 1[h > 0]``; then ``dW_dec = dL/dx_hat^T h``,
    ``dW_enc = dL/dpre^T (x - b_dec)``, ``db_enc = sum dL/dpre`` and ``b_dec``, in both places,
    ``sum dL/dx_hat - sum dL/dpre W_enc``. ``out`` (four tensors of the weights' shapes) receives them.
    tests/numerics/circuits/test_sae.py checks them against torch's autograd.
    """
    import torch  # imported here: listing theorems must stay fast

    batch = x.shape[1]
    centred = x - b_dec
    h = torch.baddbmm(b_enc, centred, W_enc.transpose(1, 2)).clamp_min_(0)
    d_x_hat = torch.baddbmm(b_dec, h, W_dec.transpose(1, 2)).sub_(x).mul_(2 / batch)
    # sign(h) is the ReLU's derivative: 1 where h > 0, 0 where h = 0 (as torch's), and 2x cheaper here than h > 0
    d_pre = torch.bmm(d_x_hat, W_dec).add_(l1 / batch).mul_(h.sign())
    if out is None:
        out = [torch.empty_like(w) for w in (W_enc, b_enc, W_dec, b_dec)]
    d_W_enc, d_b_enc, d_W_dec, d_b_dec = out
    torch.bmm(d_pre.transpose(1, 2), centred, out=d_W_enc)
    torch.sum(d_pre, dim=1, keepdim=True, out=d_b_enc)
    torch.bmm(d_x_hat.transpose(1, 2), h, out=d_W_dec)
    torch.baddbmm(d_x_hat.sum(dim=1, keepdim=True), d_b_enc, W_enc, alpha=-1, out=d_b_dec)
    return d_W_enc, d_b_enc, d_W_dec, d_b_dec


def adam_step(parameters, gradient, first, second, step: int, lr: float, betas=(0.9, 0.999), eps=1e-8):
    """One Adam update of ``parameters`` in place (Kingma & Ba 2015, with bias correction), as torch.optim.Adam's.

    ``first`` and ``second`` are the running moments of ``gradient``; ``step`` counts from 1; the betas and eps are
    torch's defaults.
    """
    beta1, beta2 = betas
    first.lerp_(gradient, 1 - beta1)
    second.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
    denominator = second.sqrt().div_((1 - beta2**step) ** 0.5).add_(eps)
    parameters.addcdiv_(first, denominator, value=-lr / (1 - beta1**step))


def train_autoencoders(x: np.ndarray, config: AutoencoderConfig) -> np.ndarray:
    """Train one autoencoder per instance on its data ``x`` ``(n, samples, d)``; return the decoders ``(n, d, latents)``.

    The loss of instance ``i`` is the batch mean of ``||x - x_hat||^2 + l1 * sum_j h_j``; the instances'
    losses are summed, so each gradient is that instance's own. ``W_dec`` starts at random unit
    columns and ``W_enc`` at its transpose, the biases at 0; after every step the decoder columns are
    put back on the unit sphere (the L1 penalty could otherwise be dodged by growing them). The gradients
    (:func:`autoencoder_gradients`) and Adam (:func:`adam_step`) are written out: at these sizes autograd and
    torch.optim cost more than the arithmetic (sae-recovery's four runs, one thread: 0.9 against 0.4 ms a step on
    average), and torch.optim imports torch._dynamo (about 1 s).
    """
    import torch  # imported here: listing theorems must stay fast

    with one_torch_thread():
        generator = torch.Generator().manual_seed(config.seed)
        data = torch.as_tensor(x, dtype=torch.float32)
        n, samples, d = data.shape
        shapes = [(n, config.latents, d), (n, 1, config.latents), (n, d, config.latents), (n, 1, d)]
        # one flat vector holds all four parameters (and one their gradients), so Adam is a few operations on it
        parameters, gradient, first, second = torch.zeros(4, sum(math.prod(shape) for shape in shapes)).unbind()
        W_enc, b_enc, W_dec, b_dec = _views(parameters, shapes)
        gradients = _views(gradient, shapes)
        start = torch.randn(n, d, config.latents, generator=generator)
        W_dec.copy_(start / start.norm(dim=1, keepdim=True))
        W_enc.copy_(W_dec.transpose(1, 2))
        for step in range(1, config.steps + 1):
            batch = data.index_select(1, torch.randint(0, samples, (config.batch,), generator=generator))
            autoencoder_gradients(batch, W_enc, b_enc, W_dec, b_dec, config.l1, out=gradients)
            # step t's rate is lr * cosine_decay(t - 1), as torch's LambdaLR gives it: the first step at the full rate
            adam_step(parameters, gradient, first, second, step, config.lr * cosine_decay(step - 1, config.steps))
            # sqrt of the sum of squares: torch's norm over the middle axis is ~15x slower at these sizes
            W_dec /= W_dec.square().sum(dim=1, keepdim=True).sqrt()
        return W_dec.numpy().astype(float)


def _views(flat, shapes):
    """Consecutive pieces of the vector ``flat``, viewed with the given shapes."""
    pieces = flat.split([math.prod(shape) for shape in shapes])
    return [piece.view(shape) for piece, shape in zip(pieces, shapes)]
