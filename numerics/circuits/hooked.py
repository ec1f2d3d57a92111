"""Attention-only transformers as TransformerLens models: the induction weights loaded, run with hooks, trained on prompts (numpy / torch).

The induction construction and the trained small model of :mod:`numerics.circuits.induction`
are arrays with TransformerLens's names and shapes. This module puts them into the library's own
model, so that its hooks (``run_with_cache``, ``blocks.{l}.attn.hook_pattern``) read what the
theorems and the experiment measure:

* :func:`hooked_state_dict`: the weights as a HookedTransformer state dict (``embed.W_E``,
  ``blocks.{l}.attn.W_Q``, ..., every bias zero), with the attention scale folded into ``W_Q``.
* :func:`attention_only_transformer`, :func:`hooked_transformer`: a TransformerLens model of the
  class (``attn_only``, no normalisation, standard positional embeddings, float64), drawn at random
  or with given weights; :func:`hooked_weights` reads its weights back.
* :func:`run_hooked`: logits and every layer's attention pattern from the model's hook cache;
  :func:`last_position_logits` for prompts of several lengths; :func:`head_ablated_logits` with one
  head silenced through its pattern hook.
* :func:`train_on_prompts`: the model trained to predict each prompt's target at its last position.
* :func:`attention_maps_figure`, :func:`head_scores_figure`, :func:`loss_figure`: the experiment's
  figures (matplotlib imported inside them).

In TransformerLens 4 the model is a ``TransformerBridge`` around the library's native transformer
(``TransformerBridge.boot_native``; ``HookedTransformer`` was removed in 4.0). Its hook and weight
names are HookedTransformer's, and HookedTransformer checkpoints load through the library's
``convert_tl_checkpoint``. TransformerLens and torch are imported inside the functions: the
``interp`` extra (``pip install 'transformer-proofs[interp]'``) is needed only here.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import numpy as np

from numerics.threads import one_torch_thread

Progress = Callable[[Iterable, int, str], Iterable]

WEIGHTS = ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U")
"""The weights of an attention-only transformer without biases, by their TransformerLens names."""

PATTERN = "blocks.{layer}.attn.hook_pattern"
"""The hook on a layer's attention patterns, ``(batch, n_heads, query, key)``."""


def _transformer_lens():
    """TransformerLens's bridge, its config and checkpoint converter, or a one-line hint how to install them."""
    try:
        from transformer_lens import TransformerBridge
        from transformer_lens.config import TransformerBridgeConfig
        from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint
    except ImportError as error:
        raise ModuleNotFoundError(f"this is a TransformerLens model: pip install 'transformer-proofs[interp]' ({error})") from None
    return TransformerBridge, TransformerBridgeConfig, convert_tl_checkpoint


def hooked_state_dict(weights: dict, attn_scale: float = 1.0) -> dict[str, np.ndarray]:
    """The weights ``W_E, W_pos, W_Q, W_K, W_V, W_O, W_U`` (TransformerLens shapes, no model axis) as a
    HookedTransformer state dict, biases zero.

    The weights' scores are ``q . k / attn_scale``; TransformerLens divides by ``sqrt(d_head)``
    (its native model does so even with ``use_attn_scale=False``, and refuses ``attn_scale=1`` for
    ``d_head > 1``). So ``W_Q`` is loaded times ``sqrt(d_head) / attn_scale``: the same scores, up to
    the rounding of one product and one quotient.
    """
    n_layers, n_heads, d_model, d_head = np.shape(weights["W_Q"])
    query_factor = math.sqrt(d_head) / attn_scale
    state = {
        "embed.W_E": weights["W_E"],
        "pos_embed.W_pos": weights["W_pos"],
        "unembed.W_U": weights["W_U"],
        "unembed.b_U": np.zeros(np.shape(weights["W_U"])[1]),
    }
    for layer in range(n_layers):
        block = f"blocks.{layer}.attn"
        state[f"{block}.W_Q"] = np.asarray(weights["W_Q"][layer]) * query_factor
        state.update({f"{block}.W_{name}": weights[f"W_{name}"][layer] for name in ("K", "V", "O")})
        state.update({f"{block}.b_{name}": np.zeros((n_heads, d_head)) for name in ("Q", "K", "V")})
        state[f"{block}.b_O"] = np.zeros(d_model)
    return {name: np.asarray(array, dtype=float) for name, array in state.items()}


def attention_only_transformer(
    d_vocab: int, n_ctx: int, n_layers: int, n_heads: int, d_model: int, d_head: int, seed: int = 0, device: str = "cpu"
):
    """A TransformerLens attention-only transformer (no layer norm, standard positional embeddings,
    float64), its weights drawn from ``seed`` (TransformerLens's GPT-2 init, biases zero)."""
    import torch

    TransformerBridge, TransformerBridgeConfig, _ = _transformer_lens()
    config = TransformerBridgeConfig(
        n_layers=n_layers,
        d_model=d_model,
        n_heads=n_heads,
        d_head=d_head,
        d_vocab=d_vocab,
        n_ctx=n_ctx,
        attn_only=True,
        normalization_type=None,
        positional_embedding_type="standard",
        act_fn="relu",  # no MLP: never applied
        seed=seed,
        device=device,
    )
    return TransformerBridge.boot_native(config, device=device, dtype=torch.float64)


def hooked_transformer(weights: dict, attn_scale: float = 1.0, device: str = "cpu"):
    """The TransformerLens model that computes the attention-only transformer of ``weights`` (see
    :func:`hooked_state_dict`); sizes are read off the weights' shapes."""
    import torch

    *_, convert_tl_checkpoint = _transformer_lens()
    n_layers, n_heads, d_model, d_head = np.shape(weights["W_Q"])
    d_vocab, n_ctx = len(weights["W_E"]), len(weights["W_pos"])
    model = attention_only_transformer(d_vocab, n_ctx, n_layers, n_heads, d_model, d_head, device=device)
    state = {name: torch.tensor(array, dtype=torch.float64) for name, array in hooked_state_dict(weights, attn_scale).items()}
    model.load_state_dict(convert_tl_checkpoint(state, model.cfg), strict=True)
    return model


def hooked_weights(model) -> dict:
    """The model's ``W_E, W_pos, W_Q, W_K, W_V, W_O, W_U`` as numpy arrays, and ``attn_scale``: the
    ``sqrt(d_head)`` its scores are divided by (TransformerLens's default, which
    :func:`attention_only_transformer` keeps). Every bias must be zero (else a ``ValueError``)."""
    import torch

    with torch.no_grad():
        nonzero = [name for name, p in model.named_parameters() if name.endswith("bias") and bool(p.any())]
        if nonzero:
            raise ValueError(f"hooked_weights: the model has non-zero biases ({nonzero[0]}); the weights alone do not describe it")
        weights = {name: getattr(model, name).double().cpu().numpy().copy() for name in WEIGHTS}
    return {**weights, "attn_scale": math.sqrt(model.cfg.d_head)}


def run_hooked(model, tokens) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, patterns)`` of ``tokens`` (``(k, n)``), read from the model's output and its hook cache.

    ``logits`` is ``(k, n, d_vocab)``; ``patterns`` is ``(k, n_layers, n_heads, n, n)``, layer ``l``
    from ``blocks.{l}.attn.hook_pattern``: the shapes :func:`~numerics.circuits.induction.attention_only_forward`
    returns for one model.
    """
    import torch

    hooks = [PATTERN.format(layer=layer) for layer in range(model.cfg.n_layers)]
    device = next(model.parameters()).device
    with torch.no_grad():
        logits, cache = model.run_with_cache(torch.as_tensor(np.asarray(tokens), device=device), names_filter=hooks)
        patterns = torch.stack([cache[name] for name in hooks], dim=1)
    return logits.double().cpu().numpy(), patterns.double().cpu().numpy()


def head_ablated_logits(model, tokens, layer: int, head: int) -> np.ndarray:
    """``(k, n, d_vocab)``: the logits with head ``head`` of layer ``layer`` zero-ablated.

    A hook on ``blocks.{layer}.attn.hook_pattern`` sets the head's attention pattern to 0, and
    TransformerLens applies the hooked pattern to the values: the head writes nothing (its biases are
    zero), every other head and layer runs as before.
    """
    import torch

    def silence(pattern, hook):
        pattern = pattern.clone()
        pattern[:, head] = 0.0
        return pattern

    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model.run_with_hooks(torch.as_tensor(np.asarray(tokens), device=device), fwd_hooks=[(PATTERN.format(layer=layer), silence)])
    return logits.double().cpu().numpy()


def _by_length(prompts: Sequence[Sequence[int]]) -> dict[int, np.ndarray]:
    """The indices of the prompts of each length (prompts of one length run as one batch)."""
    lengths = np.array([len(p) for p in prompts])
    return {int(n): np.flatnonzero(lengths == n) for n in np.unique(lengths)}


def last_position_logits(model, prompts: Sequence[Sequence[int]]) -> np.ndarray:
    """``(k, d_vocab)``: the logits at each prompt's last position; prompts may differ in length."""
    logits = np.empty((len(prompts), model.cfg.d_vocab))
    for rows in _by_length(prompts).values():
        logits[rows] = run_hooked(model, [prompts[i] for i in rows])[0][:, -1]
    return logits


def train_on_prompts(
    model,
    prompts: Sequence[Sequence[int]],
    targets: Sequence[int],
    steps: int,
    lr: float,
    weight_decay: float = 0.0,
    progress: Progress | None = None,
) -> np.ndarray:
    """Train ``model`` (full batch, AdamW) to predict ``targets[i]`` after ``prompts[i]``; return the loss per step.

    The loss is the mean cross-entropy at the prompts' last positions. Biases stay zero (they are not
    trained), so the model stays in the bias-free class of the construction and of
    :func:`~numerics.circuits.induction.train_induction_model`, and :func:`hooked_weights` describes it.
    """
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    batches = [
        (torch.as_tensor(np.array([prompts[i] for i in rows]), device=device), torch.as_tensor(np.asarray(targets)[rows], device=device))
        for rows in _by_length(prompts).values()
    ]
    weights = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(not name.endswith("bias"))
        if not name.endswith("bias"):
            weights.append(parameter)
    optimiser = torch.optim.AdamW(weights, lr=lr, weight_decay=weight_decay)
    losses = []
    with one_torch_thread():
        for _ in (progress or (lambda it, total, description: it))(range(steps), steps, "training"):
            loss = sum(F.cross_entropy(model(tokens)[:, -1], answers, reduction="sum") for tokens, answers in batches) / len(prompts)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
    return np.array(losses)


# --- figures ------------------------------------------------------------------------------------


def _figure(width: float, height: float, rows: int = 1, columns: int = 1, **options):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, columns, figsize=(width, height), squeeze=False, **options)


def attention_maps_figure(patterns: np.ndarray, tokens: Sequence[int], prefix_matching: np.ndarray):
    """Every head's attention pattern (``(n_layers, n_heads, n, n)``) on one sequence, rows = layers,
    titled with the head's prefix-matching score; tokens label the outer axes only."""
    n_layers, n_heads, n, _ = patterns.shape
    figure, axes = _figure(2.0 * n_heads + 0.8, 2.1 * n_layers, n_layers, n_heads, sharex=True, sharey=True)
    labels = [str(t) for t in tokens]
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer, head]
            image = ax.imshow(patterns[layer, head], cmap="Blues", vmin=0, vmax=1)
            ax.set_title(f"L{layer}H{head}: prefix {prefix_matching[layer, head]:.2f}", fontsize=8)
            ax.tick_params(labelsize=5)
    axes[0, 0].set_xticks(range(n), labels)
    axes[0, 0].set_yticks(range(n), labels)
    axes[-1, 0].set_xlabel("key (token)", fontsize=7)
    axes[-1, 0].set_ylabel("query (token)", fontsize=7)
    figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
    return figure


def head_scores_figure(scores: dict[str, np.ndarray]):
    """Each head's detection scores side by side (``scores``: name -> ``(n_layers, n_heads)``)."""
    figure, axes = _figure(max(5.0, 1.0 + 0.9 * next(iter(scores.values())).size), 2.2)
    ax = axes[0, 0]
    names = list(scores)
    n_layers, n_heads = scores[names[0]].shape
    heads = np.arange(n_layers * n_heads)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        ax.bar(heads + (i - (len(names) - 1) / 2) * width, scores[name].reshape(-1), width, label=name.replace("_", " "))
    ax.set_xticks(heads, [f"L{l}H{h}" for l in range(n_layers) for h in range(n_heads)], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean attention")
    ax.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    return figure


def loss_figure(loss: np.ndarray):
    """The training loss per step (log scale)."""
    figure, axes = _figure(5.0, 1.8)
    ax = axes[0, 0]
    ax.plot(np.arange(1, len(loss) + 1), loss)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    figure.tight_layout()
    return figure
