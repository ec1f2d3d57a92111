"""Grokking modular addition, and what the grokked network computes (numpy / torch; project track B).

Power et al. 2022 saw a small transformer trained on ``(a + b) mod p`` reach 100% training
accuracy early and 100% validation accuracy only much later; Nanda et al. 2023 ("Progress
measures for grokking via mechanistic interpretability") reverse-engineered the network: the
embedding keeps a few *key frequencies* ``w_k = 2 pi k / p``, the MLP forms
``cos(w_k (a + b))`` and ``sin(w_k (a + b))`` from products, and the unembedding reads
``cos(w_k (a + b - c))`` (theorem ``modular-addition-fourier``). This module

* builds the data (every ``"a b ="`` with its answer, a seeded training split) and the model,
  a one-layer TransformerLens transformer without layer norm (:func:`one_layer_transformer`);
* trains it full-batch with AdamW and records accuracy, loss and the weight norm on a
  logarithmic grid of epochs (:func:`train`);
* reads the key frequencies off the embedding's Fourier spectrum (:func:`frequency_norms`,
  :func:`key_frequencies`), keeps or ablates them in the embedding through a hook
  (:func:`accuracy_with_frequencies`), projects the embedding on its top two principal axes
  (:func:`embedding_pca`), patches MLP neurons from a clean run into a corrupted one
  (:func:`patch_neurons`) and compares the logits with the trigonometric algorithm
  (:func:`algorithm_fit`);
* draws the figures (the ``*_figure`` functions; matplotlib imported inside them).

TransformerLens is imported inside the functions that build or run a model: the ``interp`` extra
(``pip install transformer-proofs[interp]``) is needed only here. In TransformerLens 4 the model
is a ``TransformerBridge`` around the library's own native transformer
(``TransformerBridge.boot_native``; ``HookedTransformer`` was removed in 4.0); its hook names
(``hook_embed``, ``blocks.0.mlp.hook_post``, ...) and weight names (``W_E``, ``W_U``) are
HookedTransformer's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from numerics.circuits.fourier import fourier_basis, trig_algorithm_logits
from numerics.threads import one_torch_thread

Progress = Callable[[Iterable, int, str], Iterable]

EMBEDDING = "hook_embed"
"""The hook on the token embeddings ``W_E[tokens]`` (before the positional embedding is added)."""

NEURONS = "blocks.0.mlp.hook_post"
"""The hook on the MLP neurons' activations, after the ReLU."""


# --- data and model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModularAddition:
    """Every equation ``"a b ="`` of ``Z_p`` with its answer ``(a + b) mod p``, and a training split.

    ``tokens`` is ``(p^2, 3)``: ``a``, ``b`` and the token ``p`` that stands for ``=``; row
    ``a p + b`` is the pair ``(a, b)``. ``train`` and ``val`` are disjoint row indices covering
    every row.
    """

    p: int
    tokens: torch.Tensor
    labels: torch.Tensor
    train: torch.Tensor
    val: torch.Tensor

    def to(self, device: str) -> "ModularAddition":
        return ModularAddition(self.p, *(t.to(device) for t in (self.tokens, self.labels, self.train, self.val)))


def modular_addition(p: int, train_fraction: float, seed: int) -> ModularAddition:
    """The ``p^2`` equations, ``floor(train_fraction p^2)`` of them (a seeded random choice) for training."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(seed))
    n_train = int(train_fraction * p * p)
    return ModularAddition(p, tokens, (a + b) % p, order[:n_train].sort().values, order[n_train:].sort().values)


def one_layer_transformer(p: int, d_model: int, n_heads: int, d_mlp: int, seed: int, device: str = "cpu"):
    """A one-layer TransformerLens transformer for ``"a b ="``: ``p + 1`` input tokens, ``p`` answers,
    three positions, ReLU MLP, no layer norm (Nanda et al. 2023, section 3: ``d_model = 128``, four
    heads of 32, ``d_mlp = 512``). Weights drawn from ``seed`` (TransformerLens's GPT-2 init)."""
    try:
        from transformer_lens import TransformerBridge
        from transformer_lens.config import TransformerBridgeConfig
    except ImportError as error:
        raise ModuleNotFoundError(
            f"the grokking model is a TransformerLens model: pip install 'transformer-proofs[interp]' ({error})"
        ) from None

    config = TransformerBridgeConfig(
        n_layers=1,
        d_model=d_model,
        n_heads=n_heads,
        d_head=d_model // n_heads,
        d_mlp=d_mlp,
        d_vocab=p + 1,
        d_vocab_out=p,
        n_ctx=3,
        act_fn="relu",
        normalization_type=None,
        seed=seed,
        device=device,
    )
    return TransformerBridge.boot_native(config, device=device)


def weight_norm(model) -> float:
    """``||theta||_2``: the Euclidean norm of all the model's parameters together."""
    with torch.no_grad():
        return float(torch.sqrt(sum((w.double() ** 2).sum() for w in model.parameters())))


def answer_logits(model, tokens: torch.Tensor) -> torch.Tensor:
    """The logits over the ``p`` answers at the last position (the ``=``), ``(n, p)``."""
    return model(tokens)[:, -1]


# --- training ----------------------------------------------------------------------------------


def log_grid(epochs: int, points: int) -> np.ndarray:
    """Epoch 0 (the initialisation) and up to ``points`` epochs spaced evenly in ``log(epoch)`` up to ``epochs``."""
    return np.unique(np.concatenate([[0], np.rint(np.geomspace(1, epochs, points)).astype(int)]))


@dataclass
class TrainingLog:
    """Accuracy, cross-entropy and ``||theta||_2`` after each logged epoch (a list per quantity)."""

    epochs: list[int] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    weight_norm: list[float] = field(default_factory=list)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy computed in float64: once the training set is memorised the float32 loss
    rounds to zero and its gradient vanishes (Nanda et al. compute it in float64 for this reason)."""
    return F.cross_entropy(logits.double(), labels)


def train(
    model,
    data: ModularAddition,
    epochs: int,
    lr: float,
    weight_decay: float,
    log_epochs: Sequence[int],
    progress: Progress,
    betas: tuple[float, float] = (0.9, 0.98),
) -> TrainingLog:
    """Full-batch AdamW on the training equations for ``epochs`` steps (one step per epoch), logging
    training and validation accuracy, loss and the weight norm after each epoch in ``log_epochs``
    (0 is the initialisation). The betas are Nanda et al.'s. Torch runs on one intra-op thread
    (:func:`numerics.threads.one_torch_thread`): two threads on these matrices cost 0.42 s of CPU an
    epoch at p = 23 on this machine under load, one thread 0.009 s."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=betas)
    log, logged = TrainingLog(), set(int(e) for e in log_epochs)
    x, y = data.tokens[data.train], data.labels[data.train]
    with one_torch_thread():
        if 0 in logged:
            _record(log, 0, model, data)
        for epoch in progress(range(1, epochs + 1), epochs, "training"):
            loss = cross_entropy(answer_logits(model, x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if epoch in logged:
                _record(log, epoch, model, data)
    return log


def _record(log: TrainingLog, epoch: int, model, data: ModularAddition) -> None:
    with torch.no_grad():
        logits = answer_logits(model, data.tokens)
        for split, rows in (("train", data.train), ("val", data.val)):
            getattr(log, f"{split}_accuracy").append(float((logits[rows].argmax(-1) == data.labels[rows]).double().mean()))
            getattr(log, f"{split}_loss").append(float(cross_entropy(logits[rows], data.labels[rows])))
    log.epochs.append(epoch)
    log.weight_norm.append(weight_norm(model))


def first_epoch_reaching(epochs: Sequence[int], values: Sequence[float], level: float) -> int | None:
    """The first logged epoch whose value is at least ``level`` (None if none is)."""
    return next((int(epoch) for epoch, value in zip(epochs, values) if value >= level), None)


# --- the Fourier spectrum of the embedding -----------------------------------------------------


def orthonormal_fourier_basis(p: int) -> np.ndarray:
    """``(p, p)``, orthonormal rows: the constant, then ``cos(w_k x)`` and ``sin(w_k x)`` for
    ``k = 1 .. (p - 1)/2`` (odd ``p``), each scaled to unit norm over ``x = 0 .. p - 1``."""
    cos, sin = fourier_basis(p)
    rows = [np.full(p, 1 / np.sqrt(p))]
    for k in range(1, (p - 1) // 2 + 1):
        rows += [cos[:, k] * np.sqrt(2 / p), sin[:, k] * np.sqrt(2 / p)]
    return np.array(rows)


def basis_frequencies(p: int) -> np.ndarray:
    """The frequency ``k`` of each row of :func:`orthonormal_fourier_basis`: 0, 1, 1, 2, 2, ..."""
    return (np.arange(p) + 1) // 2


def frequency_norms(W_E: np.ndarray) -> np.ndarray:
    """``((p - 1)/2 + 1,)``: the norm of the embedding's component at each frequency ``k`` (``k = 0``
    the constant), ``sqrt(||c_k^cos||^2 + ||c_k^sin||^2)`` with ``c = B W_E`` the embedding
    ``(p, d_model)`` of the numbers ``0 .. p - 1`` in the Fourier basis ``B``."""
    p = W_E.shape[0]
    energy = ((orthonormal_fourier_basis(p) @ W_E) ** 2).sum(axis=1)
    return np.sqrt(np.bincount(basis_frequencies(p), weights=energy))


def key_frequencies(norms: np.ndarray, energy_fraction: float) -> tuple[int, ...]:
    """The fewest frequencies ``k >= 1`` that hold ``energy_fraction`` of the embedding's energy
    outside the constant, strongest first (sorted by ``k`` in the result)."""
    energy = norms[1:] ** 2
    order = np.argsort(energy)[::-1]
    held = np.cumsum(energy[order]) / energy.sum()
    count = int(np.searchsorted(held, energy_fraction - 1e-12) + 1)
    return tuple(sorted(int(k) + 1 for k in order[:count]))


def frequency_projector(p: int, frequencies: Iterable[int]) -> np.ndarray:
    """``(p, p)``: the orthogonal projector onto ``cos(w_k x)`` and ``sin(w_k x)`` for ``k`` in
    ``frequencies`` (``k = 0``: the constant)."""
    basis = orthonormal_fourier_basis(p)
    chosen = basis[np.isin(basis_frequencies(p), list(frequencies))]
    return chosen.T @ chosen


def accuracy(model, tokens: torch.Tensor, labels: torch.Tensor, fwd_hooks=()) -> float:
    """The fraction of ``tokens`` whose largest answer logit is ``labels``, with ``fwd_hooks`` on."""
    with torch.no_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=list(fwd_hooks))[:, -1]
    return float((logits.argmax(-1) == labels).double().mean())


def accuracy_with_frequencies(model, data: ModularAddition, frequencies: Sequence[int], keep: bool) -> float:
    """Accuracy on every equation with the embedding of the numbers ``0 .. p - 1`` restricted to the
    constant and ``frequencies`` (``keep``), or with ``frequencies`` removed and everything else,
    the constant included, left (``not keep``).

    The intervention is a hook on ``hook_embed`` that replaces each number's row of ``W_E`` by its
    projection; the ``=`` token, the positional embedding and every weight are left alone.
    """
    p = data.p
    W_E = model.W_E.detach()
    if keep:
        projector = frequency_projector(p, [0, *frequencies])
    else:
        projector = np.eye(p) - frequency_projector(p, frequencies)
    edited = W_E.clone()
    edited[:p] = torch.as_tensor(projector, dtype=W_E.dtype, device=W_E.device) @ W_E[:p]

    def replace_embedding(embedding, hook):
        return edited[data.tokens]

    return accuracy(model, data.tokens, data.labels, fwd_hooks=[(EMBEDDING, replace_embedding)])


# --- the embedding's principal plane -----------------------------------------------------------


def embedding_pca(W_E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(coordinates (p, 2), explained (2,))``: the centred embedding of the numbers on its top two
    principal axes, and the fraction of the embedding's variance along each."""
    centred = W_E - W_E.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :2] * s[:2], s[:2] ** 2 / (s**2).sum()


def radius_spread(coordinates: np.ndarray) -> float:
    """``std(r) / mean(r)`` of the points' distances ``r`` from their centroid: 0 on a circle."""
    radii = np.linalg.norm(coordinates - coordinates.mean(axis=0), axis=1)
    return float(radii.std() / radii.mean())


def circle_frequency(coordinates: np.ndarray) -> tuple[int, float]:
    """``(k, residual)``: the frequency whose angles ``w_k x`` (up to a rotation and a reflection) best
    match the angles of the points around their centroid, and the root-mean-square angle error
    (radians) of that match. On the circle of frequency ``k`` the numbers ``0 .. p - 1`` go round
    in the order ``0, k, 2k, ... mod p``, not ``0, 1, 2, ...``."""
    p = len(coordinates)
    centred = coordinates - coordinates.mean(axis=0)
    angle = np.exp(1j * np.arctan2(centred[:, 1], centred[:, 0]))
    best = (0, np.inf)
    for k in range(1, (p - 1) // 2 + 1):
        for sign in (1, -1):
            turned = angle * np.exp(-1j * sign * 2 * np.pi * k * np.arange(p) / p)
            residual = np.angle(turned * np.exp(-1j * np.angle(turned.mean())))  # after the best rotation
            rms = float(np.sqrt((residual**2).mean()))
            if rms < best[1]:
                best = (k, rms)
    return best


# --- activation patching of the MLP neurons ----------------------------------------------------


@dataclass(frozen=True)
class Patching:
    """Activation patching of MLP neurons at the ``=`` position, from clean runs on ``(a, b)`` into
    corrupted runs on ``(a', b)``. ``restored[j]`` is the share of the clean logit difference
    ``logit(c) - logit(c')`` that patching neuron ``j`` alone restores (ratio of means over the
    pairs); ``all_neurons`` the share restored by patching every neuron; ``top`` the neurons by
    restored share, largest first, and ``top_restored`` the share restored by patching the first
    ``carriers`` of them together, the fewest whose individual shares sum to 90% of ``all_neurons``."""

    restored: np.ndarray
    all_neurons: float
    top: np.ndarray
    carriers: int
    top_restored: float


def patch_neurons(model, data: ModularAddition, pairs: int, seed: int, chunk: int = 64) -> Patching:
    """Patch each MLP neuron (``blocks.0.mlp.hook_post``, last position) from a clean run into a
    corrupted one, for ``pairs`` random equations ``(a, b)`` corrupted to ``(a', b)`` with ``a' != a``.

    ``chunk`` neurons at a time: the corrupted batch is repeated once per neuron and the hook
    writes neuron ``j``'s clean activation into the ``j``-th copy only.
    """
    p, device = data.p, data.tokens.device
    rng = np.random.default_rng(seed)
    rows = rng.choice(p * p, size=pairs, replace=False)
    clean = data.tokens[torch.as_tensor(rows, device=device)]
    corrupt = clean.clone()
    corrupt[:, 0] = (clean[:, 0] + torch.as_tensor(rng.integers(1, p, size=pairs), device=device)) % p
    answer, wrong = (clean[:, 0] + clean[:, 1]) % p, (corrupt[:, 0] + corrupt[:, 1]) % p

    def difference(logits):
        return (logits.gather(-1, answer[:, None]) - logits.gather(-1, wrong[:, None]))[:, 0].double().mean()

    with torch.no_grad():
        clean_logits, cache = model.run_with_cache(clean, names_filter=NEURONS)
        neurons = cache[NEURONS][:, -1]
        low, high = difference(answer_logits(model, corrupt)), difference(clean_logits[:, -1])

        def restored_by(groups: list[torch.Tensor]) -> torch.Tensor:
            """The restored share for each group of neurons (each patched together)."""
            batch = corrupt.repeat(len(groups), 1)

            def patch(activation, hook):
                for i, group in enumerate(groups):
                    activation[i * pairs : (i + 1) * pairs, -1, group] = neurons[:, group]
                return activation

            logits = model.run_with_hooks(batch, fwd_hooks=[(NEURONS, patch)])[:, -1].reshape(len(groups), pairs, -1)
            return torch.stack([(difference(group_logits) - low) / (high - low) for group_logits in logits])

        d_mlp = neurons.shape[1]
        single = [torch.tensor([j], device=device) for j in range(d_mlp)]
        restored = torch.cat([restored_by(single[i : i + chunk]) for i in range(0, d_mlp, chunk)]).cpu().numpy()
        everything = float(restored_by([torch.arange(d_mlp, device=device)])[0])
        top = np.argsort(restored)[::-1]
        carriers = int(np.searchsorted(np.cumsum(restored[top]), 0.9 * everything) + 1)
        together = float(restored_by([torch.as_tensor(top[:carriers].copy(), device=device)])[0])
    return Patching(restored, everything, top, min(carriers, d_mlp), together)


def neuron_frequencies(model, data: ModularAddition) -> tuple[np.ndarray, np.ndarray]:
    """``(frequency, share)`` per MLP neuron: the frequency ``k`` whose terms explain most of the
    neuron's activation at ``=`` as a function of ``(a, b)``, and the share of its variance they
    explain. The terms of ``k`` are the products of the constant, ``cos(w_k a)``, ``sin(w_k a)``
    and the same of ``b`` (Nanda et al. 2023, section 5.2: each neuron reads one frequency). A neuron
    whose activation does not vary (a dead ReLU) gets frequency 0 and share 0."""
    p = data.p
    with torch.no_grad():
        _, cache = model.run_with_cache(data.tokens, names_filter=NEURONS)
    activations = cache[NEURONS][:, -1].double().cpu().numpy().T.reshape(-1, p, p)  # (neuron, a, b)
    basis = orthonormal_fourier_basis(p)
    energy = (basis @ activations @ basis.T) ** 2  # the 2-D Fourier coefficients' energy, (neuron, a-term, b-term)
    energy[:, 0, 0] = 0.0  # the mean activation is no frequency's
    k = basis_frequencies(p)
    per_frequency = np.zeros((k.max() + 1, len(energy)))
    for frequency in range(1, k.max() + 1):
        terms = np.isin(k, [0, frequency])
        per_frequency[frequency] = energy[:, terms][:, :, terms].sum(axis=(1, 2))
    total = energy.sum(axis=(1, 2))
    dominant = per_frequency.argmax(axis=0)
    share = per_frequency[dominant, np.arange(len(dominant))] / np.where(total > 0, total, 1.0)
    return dominant, share


# --- the logits against the trigonometric algorithm ---------------------------------------------


def all_logits(model, data: ModularAddition) -> np.ndarray:
    """``(p, p, p)``: the answer logits of every equation, indexed ``[a, b, c]`` (float64)."""
    with torch.no_grad():
        logits = answer_logits(model, data.tokens).double().cpu().numpy()
    return logits.reshape(data.p, data.p, data.p)


@dataclass(frozen=True)
class AlgorithmFit:
    """The trained logits against the trigonometric algorithm at the key frequencies, each centred
    over ``c`` (a constant added to every logit of an equation changes nothing).

    ``correlation``: the Pearson correlation with ``sum_k cos(w_k (a + b - c))`` (equal weights, the
    algorithm as the theorem states it); ``weights``: the least-squares weight ``alpha_k`` of each
    key frequency's term; ``weighted_correlation``: the correlation with ``sum_k alpha_k cos(w_k (a + b - c))``;
    ``explained``: the share of the logits' variance that weighted sum explains; ``residual_accuracy``:
    the share of equations the logits *minus* that sum still answer."""

    correlation: float
    weights: np.ndarray
    weighted_correlation: float
    explained: float
    residual_accuracy: float


def algorithm_fit(logits: np.ndarray, frequencies: Sequence[int]) -> AlgorithmFit:
    """Compare ``logits`` ``(p, p, p)`` with the algorithm's logits
    (:func:`numerics.circuits.fourier.trig_algorithm_logits`) at ``frequencies``."""
    p = logits.shape[0]
    a, b = np.arange(p)[:, None], np.arange(p)[None, :]

    def centred(x):
        return x - x.mean(axis=-1, keepdims=True)

    trained = centred(logits).reshape(-1)
    algorithm = centred(trig_algorithm_logits(a, b, frequencies, p)).reshape(-1)
    correlation = float(np.corrcoef(trained, algorithm)[0, 1])
    terms = np.stack([centred(trig_algorithm_logits(a, b, [k], p)).reshape(-1) for k in frequencies], axis=1)
    weights, *_ = np.linalg.lstsq(terms, trained, rcond=None)
    weighted = terms @ weights
    explained = 1.0 - float(((trained - weighted) ** 2).sum() / (trained**2).sum())
    residual = (trained - weighted).reshape(p, p, p)
    residual_accuracy = float((residual.argmax(axis=-1) == (a + b) % p).mean())
    return AlgorithmFit(correlation, weights, float(np.corrcoef(trained, weighted)[0, 1]), explained, residual_accuracy)


def logit_terms(logits: np.ndarray, frequencies: Sequence[int]) -> dict[str, float]:
    """How the variance of ``logits`` ``(p, p, p)`` (each equation's centred over ``c``) splits over the
    three-dimensional Fourier terms ``exp(i (k_a a + k_b b + k_c c) 2 pi / p)``, read off ``np.fft.fftn``:
    functions of ``a + b - c`` (``k_a = k_b = -k_c``) at ``frequencies`` (the algorithm's terms) and at
    the others, functions of ``a + b + c`` at ``frequencies``, functions of ``c`` alone (a bias per
    answer), and the rest. ``a + b + c`` terms appear when the network weights
    ``cos w(a + b) cos wc`` and ``sin w(a + b) sin wc`` unequally: their sum is then
    ``cos w(a + b - c)`` plus a multiple of ``cos w(a + b + c)``."""
    p = logits.shape[0]
    energy = np.abs(np.fft.fftn(logits - logits.mean(axis=-1, keepdims=True))) ** 2
    k_a, k_b, k_c = np.meshgrid(*(np.arange(p),) * 3, indexing="ij")
    key = np.isin(k_a, [*frequencies, *(p - k for k in frequencies)])
    difference = (k_a == k_b) & ((k_a + k_c) % p == 0) & (k_a != 0)
    total = (k_a == k_b) & (k_a == k_c) & (k_a != 0)
    answer = (k_a == 0) & (k_b == 0)
    parts = {
        "a + b - c, key frequencies": difference & key,
        "a + b - c, other frequencies": difference & ~key,
        "a + b + c, key frequencies": total & key,
        "c alone": answer,
    }
    shares = {name: float(energy[mask].sum() / energy.sum()) for name, mask in parts.items()}
    shares["the rest"] = 1.0 - sum(shares.values())
    return shares


# --- figures -----------------------------------------------------------------------------------


def _figure(width: float, height: float, panels: int = 1):
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    figure = Figure(figsize=(width, height))
    return figure, figure.subplots(1, panels)


def _mark_epochs(axes, memorised: int | None, grokked: int | None) -> None:
    for epoch, label, style in ((memorised, "train acc. 99%", ":"), (grokked, "val. acc. 99%", "--")):
        if epoch is not None:
            axes.axvline(epoch, color="gray", linestyle=style, linewidth=0.8, label=f"{label} (epoch {epoch})")


def accuracy_figure(log: TrainingLog, memorised: int | None, grokked: int | None):
    """Training and validation accuracy against the epoch, on a log axis (the losses are in ``log``)."""
    figure, axes = _figure(3.6, 2.2)
    axes.plot(log.epochs, log.train_accuracy, label="training")
    axes.plot(log.epochs, log.val_accuracy, label="validation")
    axes.set_xscale("symlog", linthresh=1)
    _mark_epochs(axes, memorised, grokked)
    axes.set(xlabel="epoch (full-batch steps)", ylabel="accuracy", ylim=(-0.02, 1.02))
    axes.grid(True, linewidth=0.3)
    axes.legend(fontsize=6)
    figure.tight_layout()
    return figure


def weight_norm_figure(log: TrainingLog, memorised: int | None, grokked: int | None):
    """``||theta||_2`` against the epoch (log axis), with the memorisation and grokking epochs marked."""
    figure, axes = _figure(3.6, 2.2)
    axes.plot(log.epochs, log.weight_norm, color="k")
    axes.set_xscale("symlog", linthresh=1)
    _mark_epochs(axes, memorised, grokked)
    axes.set(xlabel="epoch (full-batch steps)", ylabel=r"$\|\theta\|_2$")
    axes.grid(True, linewidth=0.3)
    axes.legend(fontsize=6)
    figure.tight_layout()
    return figure


def spectrum_figure(norms: np.ndarray, key: Sequence[int]):
    """The norm of the embedding's component at each frequency ``k >= 1``, the key frequencies in colour."""
    figure, axes = _figure(3.6, 2.2)
    k = np.arange(1, len(norms))
    colours = ["C3" if f in key else "0.6" for f in k]
    axes.bar(k, norms[1:], color=colours, width=0.8)
    for f in key:
        axes.annotate(str(f), (f, norms[f]), ha="center", va="bottom", fontsize=7)
    axes.set(xlabel=r"frequency $k$ ($w_k = 2\pi k / p$)", ylabel=r"$\|(B W_E)_k\|$", xlim=(0, len(norms)))
    figure.tight_layout()
    return figure


def pca_figure(W_E: np.ndarray, frequency: int):
    """Left: the numbers' embeddings on the top two principal axes of ``W_E``. Right: on the top two axes
    of its projection on ``frequency``'s cosine and sine. Points coloured and labelled by the number."""
    figure, panels = _figure(6.4, 2.9, 2)
    p = len(W_E)
    views = (
        (embedding_pca(W_E), "top two principal axes"),
        (embedding_pca(frequency_projector(p, [frequency]) @ W_E), f"the plane of frequency $k = {frequency}$"),
    )
    for axes, ((coordinates, explained), title) in zip(panels, views):
        axes.scatter(coordinates[:, 0], coordinates[:, 1], c=np.arange(p), cmap="twilight", s=12)
        for x in range(p):
            axes.annotate(str(x), coordinates[x], fontsize=5, ha="center", va="bottom")
        k, _ = circle_frequency(coordinates)
        axes.set_title(f"{title}: radius spread {100 * radius_spread(coordinates):.0f}%\nclosest order $x \\mapsto {k} x$ mod {p}", fontsize=8)
        axes.set(xlabel=f"PC 1 ({100 * explained[0]:.0f}% of the variance)", ylabel=f"PC 2 ({100 * explained[1]:.0f}%)")
        axes.set_aspect("equal", adjustable="datalim")
    figure.tight_layout()
    return figure


def patching_figure(patching: Patching, frequency: np.ndarray, key: Sequence[int], shown: int = 40):
    """Left: the share of the logit difference restored by patching each of the top ``shown`` neurons
    alone, coloured by the frequency the neuron reads. Right: the cumulative share over neurons by rank."""
    from matplotlib.patches import Patch

    figure, (left, right) = _figure(6.4, 2.6, 2)
    top = patching.top[:shown]
    palette = {k: f"C{i}" for i, k in enumerate(key)}
    left.bar(np.arange(len(top)), patching.restored[top], color=[palette.get(int(frequency[j]), "0.6") for j in top])
    left.set(xlabel=f"neuron, by rank (top {len(top)})", ylabel="share of logit difference restored")
    handles = [Patch(color=colour, label=f"$k = {k}$") for k, colour in palette.items()]
    left.legend(handles=[*handles, Patch(color="0.6", label="other")], fontsize=7, ncols=2)
    cumulative = np.cumsum(patching.restored[patching.top])
    right.plot(np.arange(1, len(cumulative) + 1), cumulative, color="k")
    right.axhline(patching.all_neurons, color="gray", linestyle="--", linewidth=0.8, label="every neuron patched")
    right.axvline(patching.carriers, color="C3", linestyle=":", linewidth=0.8, label=f"{patching.carriers} neurons: 90%")
    right.set(xscale="log", xlabel="neurons patched (by rank)", ylabel="cumulative share")
    right.legend(fontsize=7)
    for axes in (left, right):
        axes.grid(True, linewidth=0.3)
    figure.tight_layout()
    return figure
