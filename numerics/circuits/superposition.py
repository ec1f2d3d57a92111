"""The toy model of superposition (Elhage et al. 2022), simulated and trained (numpy and torch; no closed forms).

* :func:`one_active_losses`: Monte Carlo of the toy model ``x' = ReLU(W^T W x + b)`` with the columns of
  ``W`` on a regular pentagon, when exactly one feature is active: each draw's squared error of the
  active feature's own output, of its two neighbours' and of its two other outputs;
* :func:`train_toy_model`: the toy model trained from a random start on sparse features (Adam on
  the expected squared error), seeded, about a second on one CPU core;
* :func:`column_geometry`: the trained columns' norms and the angles between consecutive ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from numerics.threads import one_torch_thread

FEATURES, HIDDEN = 5, 2


def pentagon(r) -> np.ndarray:
    """``(..., 2, 5)``: columns ``r (cos 2 pi j / 5, sin 2 pi j / 5)``, ``j = 0..4``, for each radius in ``r``."""
    angles = 2 * np.pi * np.arange(FEATURES) / FEATURES
    unit = np.stack([np.cos(angles), np.sin(angles)])
    return np.asarray(r, dtype=float)[..., None, None] * unit


def one_active_losses(
    r, b, draws: int, rng: np.random.Generator, batches: int | None = None, chunk: int = 50, block: int = 10
) -> np.ndarray:
    """``(n, draws, 3)``: per draw, the squared errors of the toy model with one active feature, by distance,
    weighted so that their mean is unbiased for a value ``x ~ U[0, 1]``; with ``batches`` (dividing
    ``draws``), ``(n, batches, 3)``: the means of that many runs of consecutive draws, all a statistical
    check reads, without holding every draw.

    Each draw picks the active feature ``i`` uniformly and its value ``x = 1 - u^2`` (``u ~ U[0, 1]``),
    weighted by ``2 u = 2 sqrt(1 - x)``, the ratio of the uniform density to the draw's. The draws crowd
    near ``x = 1``, where a ReLU opens when its bias nearly cancels the input: a sliver ``(x_0, 1]`` is
    hit with probability ``sqrt(1 - x_0)`` per draw instead of ``1 - x_0``. With uniform values a
    sliver of 1e-4 was missed by all 6000 draws at one instance of a check of 50000 (about 1 in 40000
    by its probability); its part of the loss
    (about 1e-12) then had draws of no spread, and the check failed a true claim. The model runs
    ``x' = ReLU(W^T W x e_i + b)`` with ``W`` the pentagon of radius ``r`` (one per instance), and the
    squared errors ``(x e_i - x')_j^2`` are summed over the outputs at circular distance 0 (``j = i``),
    1 and 2 from ``i``. The draws are made ``chunk`` instances at a time (the random stream's layout)
    and simulated ``block`` instances at a time, to bound memory: beside the result, a block's arrays
    are a few MB.
    """
    r, b = np.asarray(r, dtype=float), np.asarray(b, dtype=float)
    batches = batches or draws
    out = np.empty((len(r), batches, 3))
    for start in range(0, len(r), chunk):
        m = len(r[start : start + chunk])
        active = rng.integers(0, FEATURES, size=(m, draws))
        u = rng.random((m, draws))
        value, weight = 1 - u**2, 2 * u
        for first in range(0, m, block):
            rows = slice(start + first, start + min(first + block, m))
            events = slice(first, first + block)
            losses = _simulated(pentagon(r[rows]), b[rows], active[events], value[events]) * weight[events, :, None]
            out[rows] = losses.reshape(len(losses), batches, draws // batches, 3).mean(axis=2)
    return out


def _simulated(W: np.ndarray, b: np.ndarray, active: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``(m, draws, 3)``: the toy model run on each draw's one-hot input ``value e_active``, its squared errors
    summed over the outputs at circular distance 0, 1 and 2 from the active feature (output ``i + d (mod 5)``
    is at distance ``min(d, 5 - d)``). ``W`` is ``(m, 2, 5)``, ``b`` ``(m,)``, ``active`` and ``value`` ``(m, draws)``."""
    x = np.zeros(active.shape + (FEATURES,))
    np.put_along_axis(x, active[..., None], value[..., None], axis=-1)
    hidden = x @ np.swapaxes(W, 1, 2)  # (m, draws, 2): h = W x
    reconstruction = np.maximum(hidden @ W + b[:, None, None], 0.0)  # x' = ReLU(W^T h + b)
    squared = ((x - reconstruction) ** 2).reshape(-1)
    rows = np.arange(0, squared.size, FEATURES).reshape(active.shape)
    at = [squared[rows + (active + d) % FEATURES] for d in range(FEATURES)]
    return np.stack([at[0], at[1] + at[4], at[2] + at[3]], axis=-1)


def cosine_decay(step: int, steps: int) -> float:
    """The learning-rate factor at ``step`` of ``steps``: from 1 down to 0 along half a cosine."""
    return 0.5 * (1 + math.cos(math.pi * step / steps))


@dataclass(frozen=True)
class ToyModelConfig:
    """The training run of the toy model: sizes, data, optimiser. Elhage et al. train with Adam on batches
    of fresh sparse features; feature ``i`` is 0 with probability ``sparsity``, else uniform on ``[0, 1]``."""

    features: int = FEATURES
    hidden: int = HIDDEN
    sparsity: float = 0.99
    steps: int = 800
    batch: int = 512
    lr: float = 0.02
    seed: int = 0


@dataclass(frozen=True)
class TrainedToyModel:
    W: np.ndarray  # (hidden, features): column i is feature i's direction
    b: np.ndarray  # (features,)
    loss: float  # the last batch's mean squared error


def train_toy_model(config: ToyModelConfig) -> TrainedToyModel:
    """Train ``x' = ReLU(W^T W x + b)`` on ``||x - x'||^2`` from a random start (Xavier-normal ``W``, ``b = 0``).

    The learning rate decays on a cosine schedule to 0, so the last steps settle the columns.
    """
    import torch  # imported here: listing theorems must stay fast

    with one_torch_thread():
        generator = torch.Generator().manual_seed(config.seed)
        start = torch.nn.init.xavier_normal_(torch.empty(config.hidden, config.features), generator=generator)
        W = torch.nn.Parameter(start)
        b = torch.nn.Parameter(torch.zeros(config.features))
        optimiser = torch.optim.Adam([W, b], lr=config.lr, fused=True)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: cosine_decay(step, config.steps))
        for _ in range(config.steps):
            shape = (config.batch, config.features)
            x = torch.rand(shape, generator=generator) * (torch.rand(shape, generator=generator) >= config.sparsity)
            loss = ((x - torch.relu(x @ W.T @ W + b)) ** 2).sum(dim=-1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return TrainedToyModel(W.detach().numpy().astype(float), b.detach().numpy().astype(float), float(loss.detach()))


def column_geometry(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The columns' norms, and the angles (degrees) between consecutive columns in angular order (they sum to 360)."""
    angles = np.sort(np.degrees(np.arctan2(W[1], W[0])) % 360)
    return np.linalg.norm(W, axis=0), np.diff(np.append(angles, angles[0] + 360))


def pentagon_figure(W: np.ndarray, radius: float):
    """The trained columns (arrows) over the regular pentagon of the given radius (dashed), in the hidden plane.

    The pentagon is turned to the trained column ``W_0``: the loss does not depend on a rotation of the plane.
    """
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    figure = Figure(figsize=(3.6, 3.6))
    axes = figure.subplots()
    turn = np.arctan2(W[1, 0], W[0, 0])
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    ideal = rotation @ pentagon(radius)
    closed = np.append(ideal, ideal[:, :1], axis=1)
    axes.plot(closed[0], closed[1], "--", color="gray", linewidth=0.8, label=f"regular pentagon, radius {radius:.3f}")
    for i, (u, v) in enumerate(W.T):
        axes.annotate("", xy=(u, v), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "C0"})
        axes.annotate(f"$W_{i}$", xy=(1.08 * u, 1.08 * v), ha="center", va="center", fontsize=8)
    limit = 1.3 * max(radius, float(np.abs(W).max()))
    axes.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal")
    axes.set(xlabel="hidden dimension 1", ylabel="hidden dimension 2")
    axes.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure
