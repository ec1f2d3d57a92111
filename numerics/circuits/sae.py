"""Sparse autoencoders on planted sparse features (torch and numpy; no closed forms).

* :func:`planted_features`: ``F`` random unit feature directions in ``R^d`` per seed;
* :func:`sparse_codes`: feature activations, each active with probability ``p`` at a value uniform on ``[0, 1]``;
* :func:`train_autoencoders`: many tiny autoencoders ``h = ReLU(W_enc (x - b_dec) + b_enc)``,
  ``x_hat = W_dec h + b_dec`` trained at once (one per planted dictionary), with unit-norm decoder
  columns and an L1 penalty ``l1 * sum(h)`` (zero for a plain autoencoder);
* :func:`best_cosines`, :func:`mmcs`: each planted feature's largest cosine similarity with a decoder
  column, and their mean (MMCS).
"""

from __future__ import annotations

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


def train_autoencoders(x: np.ndarray, config: AutoencoderConfig) -> np.ndarray:
    """Train one autoencoder per instance on its data ``x`` ``(n, samples, d)``; return the decoders ``(n, d, latents)``.

    The loss of instance ``i`` is the batch mean of ``||x - x_hat||^2 + l1 * sum_j h_j``; the instances'
    losses are summed, so each gradient is that instance's own. ``W_dec`` starts at random unit
    columns and ``W_enc`` at its transpose, the biases at 0; after every step the decoder columns are
    put back on the unit sphere (the L1 penalty could otherwise be dodged by growing them).
    """
    import torch  # imported here: listing theorems must stay fast

    with one_torch_thread():
        generator = torch.Generator().manual_seed(config.seed)
        data = torch.as_tensor(x, dtype=torch.float32)
        n, samples, d = data.shape
        start = torch.randn(n, d, config.latents, generator=generator)
        W_dec = torch.nn.Parameter(start / start.norm(dim=1, keepdim=True))
        W_enc = torch.nn.Parameter(W_dec.detach().transpose(1, 2).clone())
        b_enc = torch.nn.Parameter(torch.zeros(n, 1, config.latents))
        b_dec = torch.nn.Parameter(torch.zeros(n, 1, d))
        optimiser = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=config.lr, fused=True)
        decay = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: cosine_decay(step, config.steps))
        for _ in range(config.steps):
            batch = data.index_select(1, torch.randint(0, samples, (config.batch,), generator=generator))
            h = torch.relu((batch - b_dec) @ W_enc.transpose(1, 2) + b_enc)
            reconstruction = h @ W_dec.transpose(1, 2) + b_dec
            loss = ((batch - reconstruction) ** 2).sum(dim=-1).mean(dim=-1) + config.l1 * h.sum(dim=-1).mean(dim=-1)
            optimiser.zero_grad()
            loss.sum().backward()
            optimiser.step()
            decay.step()
            with torch.no_grad():
                # sqrt of the sum of squares: torch's norm over the middle axis is ~15x slower at these sizes
                W_dec /= W_dec.square().sum(dim=1, keepdim=True).sqrt()
    return W_dec.detach().numpy().astype(float)
