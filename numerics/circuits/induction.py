"""Induction heads: the two-layer construction, its forward pass, the rule, detection scores and training (numpy / torch).

Weights use TransformerLens's names and shapes, so that a ``HookedTransformer`` with
``attn_only=True``, ``normalization_type=None``, ``positional_embedding_type="standard"``,
``use_attn_scale=False`` (scores are ``q . k``; :func:`attention_only_forward` takes ``attn_scale``
for models that divide by one) and zero biases computes the same logits and patterns:
``W_E (d_vocab, d_model)``, ``W_pos (n_ctx, d_model)``, ``W_Q, W_K, W_V (n_layers, n_heads, d_model,
d_head)``, ``W_O (n_layers, n_heads, d_head, d_model)``, ``W_U (d_model, d_vocab)``. A batch of models
(one per checked instance) carries one more leading axis on every array.

* :func:`induction_weights`: the two-layer attention-only construction (Elhage et al. 2021; Olsson et
  al. 2022). The residual stream has four blocks: the token (one-hot, ``d_vocab``), the position
  (one-hot, ``n_ctx``), a *previous-token* block and an *output* block (``d_vocab`` each). Layer 0,
  head 0 is a previous-token head: its query at position ``t`` is ``scale`` times the one-hot of
  ``t - 1`` and its key at ``s`` the one-hot of ``s`` (positional embeddings only), and it copies the
  token it attends to into the previous-token block. Layer 1, head 0 is the induction head: its query
  is ``scale`` times the current token, its key reads the previous-token block (K-composition), and it
  copies the attended token into the output block, which ``W_U`` reads. Two decoys that write nothing
  (``W_V = W_O = 0``) make detection non-trivial: layer 0, head 1 attends to position 0, layer 1,
  head 1 to earlier copies of the current token (a duplicate-token head).
* :func:`attention_only_forward`: logits and attention patterns of such a model, batched, with
  ``scipy.special.softmax`` (no path expansion, no circuit matrix).
* :func:`previous_occurrence_targets`: the rule an induction head implements, written out in plain
  Python: at position ``t``, the position ``j`` of the only earlier occurrence of ``x_t``.
* :func:`repeat_prompts`, :func:`repeated_sequences`: random prompts with repeats.
* :func:`head_scores`: previous-token, duplicate-token and prefix-matching (induction) scores of
  every head on repeated sequences (Olsson et al. 2022).
* :func:`last_position`: a one-layer model's logits, softmax normalisers and rounding magnitudes at
  the last position (the one-layer limit's literal run).
* :func:`one_layer_induction_weights`: one attention layer with ``n_ctx`` heads that solves the
  induction task on prompts of length ``n_ctx`` (the one-layer limit is about heads, not layers).
* :func:`training_sequences`, :class:`InductionTraining`, :func:`train_induction_model`: a small
  two-layer attention-only model trained (torch) on sequences with repeats of random length.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import softmax

from numerics.threads import one_torch_thread

PREVIOUS_TOKEN, FIRST_POSITION = (0, 0), (0, 1)
INDUCTION, DUPLICATE_TOKEN = (1, 0), (1, 1)
"""The construction's heads as ``(layer, head)``."""


# --- the construction ---------------------------------------------------------------------------


def residual_blocks(d_vocab: int, n_ctx: int) -> dict[str, slice]:
    """The construction's residual-stream blocks: ``token``, ``position``, ``previous``, ``output``."""
    starts = np.cumsum([0, d_vocab, n_ctx, d_vocab, d_vocab])
    return {name: slice(int(a), int(b)) for name, a, b in zip(("token", "position", "previous", "output"), starts, starts[1:])}


def induction_weights(d_vocab: int, n_ctx: int, scale: float) -> dict[str, np.ndarray]:
    """The two-layer attention-only induction construction with attention scale ``scale``, TransformerLens shapes.

    ``d_model = 3 d_vocab + n_ctx``, ``d_head = max(d_vocab, n_ctx)``, two layers of two heads (see
    the module docstring). Only ``W_Q`` depends on ``scale``: the scores are ``scale`` times 0/1
    indicator overlaps, so ``scale`` sets how hard the attention is.
    """
    if d_vocab < 1 or n_ctx < 1:
        raise ValueError(f"induction_weights: d_vocab and n_ctx must be positive, got {d_vocab}, {n_ctx}")
    blocks = residual_blocks(d_vocab, n_ctx)
    d_model, d_head = 3 * d_vocab + n_ctx, max(d_vocab, n_ctx)
    tokens, positions = np.arange(d_vocab), np.arange(n_ctx)
    W_E, W_pos = np.zeros((d_vocab, d_model)), np.zeros((n_ctx, d_model))
    W_E[tokens, blocks["token"].start + tokens] = 1.0
    W_pos[positions, blocks["position"].start + positions] = 1.0
    W_Q, W_K, W_V = (np.zeros((2, 2, d_model, d_head)) for _ in range(3))
    W_O = np.zeros((2, 2, d_head, d_model))
    position_rows, token_rows = blocks["position"].start + positions, blocks["token"].start + tokens
    # Previous-token head: query at t is scale e_(t-1) (none at t = 0), key at s is e_s.
    W_Q[PREVIOUS_TOKEN][position_rows[1:], positions[:-1]] = scale
    W_K[PREVIOUS_TOKEN][position_rows, positions] = 1.0
    W_V[PREVIOUS_TOKEN][token_rows, tokens] = 1.0
    W_O[PREVIOUS_TOKEN][tokens, blocks["previous"].start + tokens] = 1.0
    # First-position head (a decoy that writes nothing): every query is scale e_0, only position 0 has key e_0.
    W_Q[FIRST_POSITION][position_rows, 0] = scale
    W_K[FIRST_POSITION][position_rows[0], 0] = 1.0
    # Induction head: query scale e_(x_t), key the previous-token block (K-composition), copies into the output block.
    W_Q[INDUCTION][token_rows, tokens] = scale
    W_K[INDUCTION][blocks["previous"].start + tokens, tokens] = 1.0
    W_V[INDUCTION][token_rows, tokens] = 1.0
    W_O[INDUCTION][tokens, blocks["output"].start + tokens] = 1.0
    # Duplicate-token head (a decoy that writes nothing): query scale e_(x_t), key e_(x_s).
    W_Q[DUPLICATE_TOKEN][token_rows, tokens] = scale
    W_K[DUPLICATE_TOKEN][token_rows, tokens] = 1.0
    W_U = np.zeros((d_model, d_vocab))
    W_U[blocks["output"].start + tokens, tokens] = 1.0
    return {"W_E": W_E, "W_pos": W_pos, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O, "W_U": W_U}


def batched_induction_weights(d_vocab: int, n_ctx: int, scale) -> dict[str, np.ndarray]:
    """One construction per entry of ``scale`` (shape ``(m,)``): every array gains a leading axis ``m``."""
    scale = np.asarray(scale, dtype=float).reshape(-1)
    unit = induction_weights(d_vocab, n_ctx, 1.0)
    stacked = {name: np.broadcast_to(array, (len(scale),) + array.shape).copy() for name, array in unit.items()}
    stacked["W_Q"] *= scale[:, None, None, None, None]
    return stacked


# --- the forward pass ---------------------------------------------------------------------------


def attention_only_forward(tokens, W_E, W_pos, W_Q, W_K, W_V, W_O, W_U, attn_scale=1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(logits, patterns)`` of a batch of attention-only transformers, each on its own prompts.

    ``tokens`` is ``(m, k, n)`` (``k`` prompts of length ``n`` for each of ``m`` models), every weight
    carries the model axis ``m`` before its TransformerLens shape. Position ``i`` attends to
    ``j <= i``; scores are ``q . k / attn_scale`` (a scalar or ``(m,)``). Returns logits
    ``(m, k, n, d_vocab)`` and patterns ``(m, k, n_layers, n_heads, n, n)``. The residual stream is
    the embedding plus the positional embedding; each layer adds the sum of its heads' outputs.
    """
    tokens = np.asarray(tokens)
    W_E, W_pos, W_Q, W_K, W_V, W_O, W_U = (np.asarray(a, dtype=float) for a in (W_E, W_pos, W_Q, W_K, W_V, W_O, W_U))
    if tokens.ndim != 3 or W_E.ndim != 3 or W_Q.ndim != 5 or len({len(tokens), len(W_E), len(W_Q)}) != 1:
        raise ValueError(
            f"attention_only_forward: tokens (m, k, n) and weights with a leading model axis m, got {tokens.shape}, "
            f"W_E {W_E.shape}, W_Q {W_Q.shape}"
        )
    m, _, n = tokens.shape
    if n > W_pos.shape[1] or tokens.min() < 0 or tokens.max() >= W_E.shape[1]:
        raise ValueError(f"attention_only_forward: prompts of length {n} with tokens in [0, {W_E.shape[1]}) needed")
    scale = np.broadcast_to(np.asarray(attn_scale, dtype=float), (m,))[:, None, None, None, None]
    stream = W_E[np.arange(m)[:, None, None], tokens] + W_pos[:, None, :n]
    future = ~np.tril(np.ones((n, n), dtype=bool))
    patterns = []
    for layer in range(W_Q.shape[1]):
        # (m, k, 1, n, d) @ (m, 1, H, d, d_head): every head's queries, keys and values at once.
        queries, keys, values = (stream[:, :, None] @ W[:, None, layer] for W in (W_Q, W_K, W_V))
        scores = np.where(future, -np.inf, queries @ np.swapaxes(keys, -1, -2) / scale)
        pattern = softmax(scores, axis=-1)
        stream = stream + (pattern @ values @ W_O[:, None, layer]).sum(axis=2)
        patterns.append(pattern)
    return stream @ W_U[:, None], np.stack(patterns, axis=2)


# --- the rule an induction head implements ------------------------------------------------------


def previous_occurrence_targets(sequence) -> list[int]:
    """For each position ``t``: the position ``j`` of the only earlier occurrence of ``x_t``, or -1.

    -1 when ``x_t`` has not occurred before ``t`` or has occurred more than once (the rule "find
    the previous occurrence of the current token, predict the token after it" is then either empty
    or needs a tie-break). Plain Python, one position at a time.
    """
    found = []
    for t, token in enumerate(sequence):
        earlier = [j for j in range(t) if sequence[j] == token]
        found.append(earlier[0] if len(earlier) == 1 else -1)
    return found


# --- prompts -------------------------------------------------------------------------------------


def _with_unique_repeat(rng: np.random.Generator, d_vocab: int, n_ctx: int, j: int) -> np.ndarray:
    """A random prompt whose last token occurs exactly once before, at position ``j``."""
    prompt = rng.integers(0, d_vocab, size=n_ctx)
    repeated = prompt[j]
    clashes = (prompt == repeated) & (np.arange(n_ctx) != j)
    # Other tokens that equal the repeated one are redrawn from the rest of the vocabulary.
    prompt[clashes] = (repeated + rng.integers(1, d_vocab, size=int(clashes.sum()))) % d_vocab
    prompt[-1] = repeated
    return prompt


def repeat_prompts(rng: np.random.Generator, n: int, d_vocab: int, n_ctx: int) -> np.ndarray:
    """``(n, 2, n_ctx)`` prompt pairs over ``d_vocab >= 2`` tokens, ``n_ctx >= 3``: uniform random tokens, then the
    last token set to a copy of an earlier one, which occurs nowhere else: at a random ``j`` in
    ``1..n_ctx - 2`` in the first prompt, at ``j = 0`` in the second."""
    if d_vocab < 2 or n_ctx < 3:
        raise ValueError(f"repeat_prompts: needs d_vocab >= 2 and n_ctx >= 3, got {d_vocab}, {n_ctx}")
    later = rng.integers(1, n_ctx - 1, size=n)
    pairs = [[_with_unique_repeat(rng, d_vocab, n_ctx, int(j)), _with_unique_repeat(rng, d_vocab, n_ctx, 0)] for j in later]
    return np.array(pairs)


def repeated_sequences(rng: np.random.Generator, n: int, d_vocab: int, period: int, bos: int = 0) -> np.ndarray:
    """``(n, 2 period + 1)``: ``bos``, then ``period`` distinct random tokens other than ``bos``, then the same again."""
    if not 1 <= period < d_vocab:
        raise ValueError(f"repeated_sequences: needs 1 <= period < d_vocab, got period={period}, d_vocab={d_vocab}")
    others = np.array([t for t in range(d_vocab) if t != bos])
    halves = np.array([rng.choice(others, size=period, replace=False) for _ in range(n)]).reshape(n, period)
    return np.concatenate([np.full((n, 1), bos), halves, halves], axis=1)


# --- detection ----------------------------------------------------------------------------------


def head_scores(patterns, period: int) -> dict[str, np.ndarray]:
    """Each head's detection scores on sequences ``bos, a_1 .. a_p, a_1 .. a_p`` (``p = period``).

    ``patterns`` is ``(..., n_layers, n_heads, 2p + 1, 2p + 1)``; every score averages over the
    leading axes' sequences and has shape ``(n_layers, n_heads)``:

    * ``previous_token``: mean over ``t >= 1`` of the attention from ``t`` to ``t - 1``;
    * ``duplicate_token``: mean over the second copy of the attention to the earlier copy of the
      same token (offset ``-p``);
    * ``prefix_matching``: mean over the second copy of the attention to the token right after the
      earlier copy (offset ``-(p - 1)``): the induction score of Olsson et al. 2022.
    """
    patterns = np.asarray(patterns, dtype=float)
    n = patterns.shape[-1]
    if n != 2 * period + 1:
        raise ValueError(f"head_scores: patterns over {n} positions, expected 2 period + 1 = {2 * period + 1}")
    second = np.arange(period + 1, n)
    leading = tuple(range(patterns.ndim - 4))
    return {
        "previous_token": patterns[..., np.arange(1, n), np.arange(n - 1)].mean(axis=leading + (-1,)),
        "duplicate_token": patterns[..., second, second - period].mean(axis=leading + (-1,)),
        "prefix_matching": patterns[..., second, second - period + 1].mean(axis=leading + (-1,)),
    }


# --- one layer at its last position -------------------------------------------------------------


def last_position(tokens, W_E, W_pos, W_Q, W_K, W_V, W_O, W_U, attn_scale=1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(logits, normalisers, magnitude)`` of one attention layer at the last position of each prompt.

    Shapes as :func:`attention_only_forward` with ``n_layers = 1``: ``tokens (m, k, n)`` and one model per
    ``m``. ``logits (m, k, d_vocab)``; ``normalisers (m, k, n_heads)``: each head's softmax denominator
    ``sum_j exp(q . k_j / attn_scale)`` at the last position (overflows to ``inf`` only past ``e^709``);
    ``magnitude (m, k, d_vocab)``: ``|x_n| |W_U| + sum_h sum_j a_hj |x_j| |W_V| |W_O| |W_U|`` entrywise, the
    size against which the logits' rounding is measured: a chain of inner products is within ``gamma_K`` of
    the product of its factors' absolute values (Higham, section 3.5; ``K`` the chain's length), which
    the absolute value of the product itself does not bound when its sums cancel.
    """
    logits, patterns = attention_only_forward(tokens, W_E, W_pos, W_Q, W_K, W_V, W_O, W_U, attn_scale)
    W_E, W_pos, W_Q, W_K, W_V, W_O, W_U = (np.asarray(a, dtype=float) for a in (W_E, W_pos, W_Q, W_K, W_V, W_O, W_U))
    m, _, n = np.shape(tokens)
    stream = W_E[np.arange(m)[:, None, None], tokens] + W_pos[:, None, :n]  # (m, k, n, d)
    queries = stream[:, :, None, -1:] @ W_Q[:, None, 0]  # (m, k, H, 1, d_head)
    keys = stream[:, :, None] @ W_K[:, None, 0]  # (m, k, H, n, d_head)
    scale = np.broadcast_to(np.asarray(attn_scale, dtype=float), (m,))[:, None, None]
    scores = (queries @ np.swapaxes(keys, -1, -2))[..., 0, :] / scale[..., None]
    normalisers = np.exp(scores).sum(axis=-1)
    size = np.abs(stream)
    readouts = size[:, :, None] @ np.abs(W_V[:, None, 0]) @ np.abs(W_O[:, None, 0]) @ np.abs(W_U[:, None, None])  # (m, k, H, n, V)
    weights = patterns[:, :, 0, :, -1, :]  # (m, k, H, n): the last position's attention
    magnitude = np.einsum("mkd,mdv->mkv", size[:, :, -1], np.abs(W_U)) + np.einsum("mkhj,mkhjv->mkv", weights, readouts)
    return logits[:, :, -1], normalisers, magnitude


# --- one layer with many heads ------------------------------------------------------------------


def one_layer_induction_weights(d_vocab: int, n_ctx: int, scale: float) -> dict[str, np.ndarray]:
    """One attention layer with ``n_ctx`` heads that solves induction on prompts of length ``n_ctx`` (TransformerLens shapes).

    ``d_model = d_vocab + n_ctx`` (token and position one-hots), ``d_head = d_vocab + 1``. The query
    is always at the last position ``n = n_ctx - 1``, with token ``a``. Pair head ``h`` (``0 <= h < n``)
    scores position ``j`` by ``-2 scale [x_j = a] + beta_h(j)`` with ``beta_h(h) = 0``,
    ``beta_h(h + 1) = -scale`` and ``-3 scale`` elsewhere: it attends to ``h + 1`` when ``x_h = a``
    (the earlier occurrence) and to ``h`` otherwise, and copies that token into the token block. The
    last head attends uniformly to positions ``0..n - 1`` and subtracts ``n`` times their average:
    ``-sum_(j < n) e_(x_j)``. With the residual ``e_a``, the logits (the token block) are
    ``e_(x_(j+1))`` when ``a`` occurs once before, at ``j``, up to ``O(n^2 e^(-scale))``.
    """
    n = n_ctx - 1
    if d_vocab < 2 or n < 1:
        raise ValueError(f"one_layer_induction_weights: needs d_vocab >= 2 and n_ctx >= 2, got {d_vocab}, {n_ctx}")
    d_model, d_head = d_vocab + n_ctx, d_vocab + 1
    tokens, position_rows = np.arange(d_vocab), d_vocab + np.arange(n_ctx)
    W_E, W_pos = np.eye(d_vocab, d_model), np.eye(n_ctx, d_model, k=d_vocab)
    W_Q, W_K, W_V = (np.zeros((1, n_ctx, d_model, d_head)) for _ in range(3))
    W_O = np.zeros((1, n_ctx, d_head, d_model))
    for h in range(n_ctx):
        # The query reads the last position's one-hot (the constant 1) and the current token.
        W_Q[0, h, position_rows[n], d_vocab] = 1.0
        W_V[0, h, tokens, tokens] = 1.0
        if h < n:
            W_Q[0, h, tokens, tokens] = -2.0 * scale
            W_K[0, h, tokens, tokens] = 1.0
            beta = np.full(n_ctx, -3.0 * scale)
            beta[h], beta[h + 1] = 0.0, -scale
            W_O[0, h, tokens, tokens] = 1.0
        else:
            beta = np.where(np.arange(n_ctx) < n, 0.0, -3.0 * scale)
            W_O[0, h, tokens, tokens] = -float(n)
        W_K[0, h, position_rows, d_vocab] = beta
    return {"W_E": W_E, "W_pos": W_pos, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O, "W_U": np.eye(d_model, d_vocab)}


# --- a trained model ----------------------------------------------------------------------------


def training_sequences(
    rng: np.random.Generator, n: int, d_vocab: int, period: int, bos: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens, predictable)``: ``n`` sequences of length ``2 period + 1`` with a repeat of random length, and where it helps.

    Row ``i``: ``bos``, a filler of ``2 (period - p)`` tokens, ``a_1 .. a_p``, ``a_1 .. a_p``, with
    ``p`` uniform in ``2..period`` and the ``a`` distinct; filler tokens are drawn from the tokens
    that are neither ``bos`` nor an ``a``. ``predictable[i, t]`` marks the positions ``t`` of the
    second copy whose next token is a repeat. The period varies, so no fixed positional offset
    finds the earlier copy: a model must match the content (an induction head).
    """
    n_ctx = 2 * period + 1
    if not 2 <= period or 2 * period + 1 > d_vocab + period:
        raise ValueError(f"training_sequences: needs period >= 2 and d_vocab > period + 1, got {period}, {d_vocab}")
    tokens = np.empty((n, n_ctx), dtype=int)
    predictable = np.zeros((n, n_ctx - 1), dtype=bool)
    for i, p in enumerate(rng.integers(2, period + 1, size=n)):
        others = np.array([t for t in range(d_vocab) if t != bos])
        chosen = rng.permutation(others)
        repeat, rest = chosen[:p], chosen[p:]
        filler = rng.choice(rest, size=2 * (period - p))
        tokens[i] = np.concatenate([[bos], filler, repeat, repeat])
        predictable[i, n_ctx - p : n_ctx - 1] = True
    return tokens, predictable


@dataclass(frozen=True)
class InductionTraining:
    """A two-layer attention-only model trained on sequences with repeats (next-token prediction).

    Training batches come from :func:`training_sequences` (a repeat of random length ``2..period``
    after a random filler); the loss is the cross-entropy of the next tokens that are repeats.
    AdamW, a fresh batch every step, seeded. Scores are divided by ``sqrt(d_head)`` (TransformerLens's
    default ``attn_scale``).
    """

    d_vocab: int = 16
    period: int = 6
    d_model: int = 32
    d_head: int = 16
    n_heads: int = 2
    n_layers: int = 2
    steps: int = 600
    batch: int = 64
    lr: float = 1e-2
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self):
        for name in ("d_vocab", "period", "d_model", "d_head", "n_heads", "n_layers", "steps", "batch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"InductionTraining: {name} must be a positive integer, got {getattr(self, name)!r}")
        if not 2 <= self.period < self.d_vocab - 1:
            raise ValueError(f"InductionTraining: needs 2 <= period < d_vocab - 1, got {self.period}, {self.d_vocab}")
        if not (self.lr > 0 and self.weight_decay >= 0):
            raise ValueError("InductionTraining: lr must be positive and weight_decay non-negative")


def train_induction_model(config: InductionTraining, progress: bool = False) -> dict:
    """Train the model of ``config``; return ``{"weights", "loss", "accuracy", "config"}``.

    ``weights``: numpy arrays with TransformerLens names (no biases) and ``"attn_scale"`` (``sqrt(d_head)``),
    ready for :func:`attention_only_forward` once a model axis is added; ``loss``: the training loss per
    step; ``accuracy``: the fraction of predictable next tokens predicted right on a fresh seeded batch
    of :func:`training_sequences`. Deterministic for a given ``seed``. Torch runs on one thread
    (:func:`numerics.threads.one_torch_thread`: the model is tiny).
    """
    import torch  # imported here: listing theorems must stay fast

    with one_torch_thread():
        return _train(config, progress, torch)


def _train(c: InductionTraining, progress: bool, torch) -> dict:
    generator = torch.Generator().manual_seed(c.seed)
    rng = np.random.default_rng(c.seed)
    n_ctx = 2 * c.period + 1

    def parameter(*shape, std):
        return torch.nn.Parameter(torch.randn(*shape, generator=generator, dtype=torch.float64) * std)

    params = {
        "W_E": parameter(c.d_vocab, c.d_model, std=1.0),
        "W_pos": parameter(n_ctx, c.d_model, std=1.0),
        **{name: parameter(c.n_layers, c.n_heads, c.d_model, c.d_head, std=c.d_model**-0.5) for name in ("W_Q", "W_K", "W_V")},
        "W_O": parameter(c.n_layers, c.n_heads, c.d_head, c.d_model, std=c.d_head**-0.5),
        "W_U": parameter(c.d_model, c.d_vocab, std=c.d_model**-0.5),
    }
    future = torch.ones(n_ctx, n_ctx, dtype=torch.bool).triu(1)
    scale = float(np.sqrt(c.d_head))

    def logits_of(tokens):
        stream = params["W_E"][tokens] + params["W_pos"]
        for layer in range(c.n_layers):
            q, k, v = (torch.einsum("bid,hde->bhie", stream, params[w][layer]) for w in ("W_Q", "W_K", "W_V"))
            scores = (q @ k.transpose(-1, -2) / scale).masked_fill(future, -torch.inf)
            stream = stream + torch.einsum("bhie,hed->bid", torch.softmax(scores, dim=-1) @ v, params["W_O"][layer])
        return stream @ params["W_U"]

    def batch(source, size):
        tokens, predictable = training_sequences(source, size, c.d_vocab, c.period)
        tokens = torch.from_numpy(tokens)
        mask = torch.from_numpy(predictable)
        return tokens, mask, tokens[:, 1:][mask]

    optimiser = torch.optim.AdamW(params.values(), lr=c.lr, weight_decay=c.weight_decay)
    losses = []
    steps = range(c.steps)
    if progress:
        from rich.progress import track

        steps = track(steps, description="training", transient=True)
    for _ in steps:
        tokens, mask, targets = batch(rng, c.batch)
        loss = torch.nn.functional.cross_entropy(logits_of(tokens)[:, :-1][mask], targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    with torch.no_grad():
        tokens, mask, targets = batch(np.random.default_rng([c.seed, 1]), 256)
        accuracy = float((logits_of(tokens)[:, :-1][mask].argmax(dim=-1) == targets).double().mean())
    weights = {name: p.detach().numpy().copy() for name, p in params.items()}
    return {"weights": {**weights, "attn_scale": scale}, "loss": np.array(losses), "accuracy": accuracy, "config": asdict(c)}
