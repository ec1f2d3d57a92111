"""Experiment ``induction``: attention-only transformers of ``layers`` layers and ``heads`` heads trained on
sequences with repeats, their induction heads found, and the one-layer certificate measured.

    transformer-proofs experiment induction --out DIR --config layers=L --config heads=H [--config prompts=FILE]

The model class is that of theorem ``induction-one-layer-limit``: token and positional embeddings,
``layers`` attention-only layers of ``heads`` heads (width ``d_model``, head size ``d_head``), a linear
readout; no MLP, no layer norm, no biases. Without ``prompts`` the model is trained by
:func:`numerics.circuits.induction.train_induction_model` on random sequences with a repeat of random
length (a fresh batch each step) and its ``accuracy`` is measured on fresh such sequences, at every
position whose next token is a repeat. With ``prompts=FILE`` (one prompt a line: integer tokens
separated by spaces, a tab, the target token) it is trained on FILE's prompts to predict each target
at the last position, and ``accuracy`` is measured on them.

Either way the trained network is loaded into a TransformerLens model (:mod:`numerics.circuits.hooked`),
and everything after training reads that model: the attention patterns come from its hook cache. It
then measures each head's previous-token, duplicate-token and prefix-matching scores on repeated
random sequences (Olsson et al. 2022's detectors; the prefix-matching score is the induction score),
the accuracy on repeated tokens with each head zero-ablated (its pattern set to 0 through its hook),
the attention maps, the answer and attention on task 2.2's ``[1, 2, 3, 1, 2, ?]`` and the accuracy on
the certificate prompts of ``induction-one-layer-limit``. What it *checks* (exit status 1 when one
fails): the TransformerLens model computes the trained network; with ``layers >= 2``, trained on
random sequences, the accuracy and the induction score are high; with one layer and one head, at most
3 of the 4 certificate prompts are right (the theorem). Everything else is measured and reported.

torch, TransformerLens and matplotlib are imported inside :func:`run_induction`: ``transformer-proofs
list`` imports this module and must not pay for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from checkers.experiment import Check, Experiment, ExperimentResult, Progress, no_progress
from checkers.results import Erratum, Plot
from numerics.circuits.induction import (
    InductionTraining,
    attention_only_forward,
    head_scores,
    previous_occurrence_targets,
    repeated_sequences,
    train_induction_model,
    training_sequences,
)
from numerics.threads import one_torch_thread

BOS = 0
"""The start token every training sequence begins with (:func:`~numerics.circuits.induction.training_sequences`)."""

ACCURACY = 0.9
"""With two layers or more the trained model predicts at least 90% of the repeated tokens right (chance:
``1/(d_vocab - 1)``; the default run measures 100%, a one-layer model 40% with one head and 62% with two)."""

INDUCTION_SCORE = 0.8
"""...and one of its heads puts at least 80% of its attention, on average over the second copy of a
repeated sequence, on the token after the earlier copy. Not half: on these sequences (every repeat
ends the sequence) position alone goes a long way, and the default one-layer model with two heads,
which has no induction head, scores 0.59 (a head attending uniformly to the ``t + 1`` positions it
sees scores ``1/(t + 1) <= 1/8``)."""

CERTIFICATE_BOUND = 0.75
"""Theorem ``induction-one-layer-limit``: a one-layer model with one head gets at most 3 of the 4
certificate prompts right, whatever its width."""

AGREEMENT = 1e-9
"""The TransformerLens model and the trained network (numpy, :func:`~numerics.circuits.induction.attention_only_forward`)
agree when their logits differ by at most ``1e-9 max(1, max |logit|)`` and their patterns by at most
``1e-9``: both compute in float64 (rounding ``2.2e-16`` per operation, a few sums of at most
``d_model`` terms), so a right wiring differs by about ``1e-14``; a wrong one (a missing attention
scale, a transposed ``W_O``) by order one."""


@dataclass(frozen=True)
class InductionConfig:
    """Settings of the induction run; the defaults are the full run (two layers of two heads: 600 steps,
    about 20 s of one CPU core, and the figures and the report).

    ``prompts``: a file of prompts to train on and measure (see the module docstring); empty: random
    sequences with repeats. ``period``: the longest repeat; sequences are ``2 period + 1`` tokens long.
    ``evaluation``: sequences for the accuracy and the head scores. The rest are
    :class:`~numerics.circuits.induction.InductionTraining`'s.
    """

    layers: int = InductionTraining.n_layers
    heads: int = InductionTraining.n_heads
    prompts: str = ""
    d_vocab: int = InductionTraining.d_vocab
    period: int = InductionTraining.period
    d_model: int = InductionTraining.d_model
    d_head: int = InductionTraining.d_head
    steps: int = InductionTraining.steps
    batch: int = InductionTraining.batch
    lr: float = InductionTraining.lr
    seed: int = InductionTraining.seed
    evaluation: int = 256

    def training(self) -> InductionTraining:
        """The :class:`~numerics.circuits.induction.InductionTraining` of these settings (validates them)."""
        return InductionTraining(
            d_vocab=self.d_vocab, period=self.period, d_model=self.d_model, d_head=self.d_head, n_heads=self.heads,
            n_layers=self.layers, steps=self.steps, batch=self.batch, lr=self.lr, seed=self.seed,
        )

    def validate(self) -> None:
        self.training()
        if self.evaluation < 1:
            raise ValueError(f"evaluation must be at least 1, got {self.evaluation}")
        if self.prompts:
            read_prompts(self.prompts, self.d_vocab)


def read_prompts(path: str | Path, d_vocab: int) -> tuple[list[tuple[int, ...]], list[int]]:
    """``(prompts, targets)`` from a file of lines ``TOKENS<TAB>TARGET`` (tokens: integers in
    ``0 .. d_vocab - 1`` separated by spaces). Blank lines and lines starting with ``#`` are skipped. A
    bad line is a ``ValueError`` of one line that names the file and the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"prompts file {path}: cannot be read ({error})") from None
    prompts, targets = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"prompts file {path}, line {number}"
        prompt, tab, target = line.partition("\t")
        if not tab:
            raise ValueError(f"{where}: no tab; expected the prompt's tokens separated by spaces, a tab, then the target token")
        try:
            tokens, answer = [int(t) for t in prompt.split()], int(target)
        except ValueError:
            raise ValueError(f"{where}: tokens and the target must be integers, got {line.strip()!r}") from None
        if not tokens:
            raise ValueError(f"{where}: the prompt has no tokens")
        outside = [t for t in (*tokens, answer) if not 0 <= t < d_vocab]
        if outside:
            raise ValueError(f"{where}: token {outside[0]} is outside the vocabulary 0..{d_vocab - 1} (set --config d_vocab=N)")
        prompts.append(tuple(tokens))
        targets.append(answer)
    if not prompts:
        raise ValueError(f"prompts file {path}: no prompts")
    return prompts, targets


def run_induction(config: InductionConfig, device: str = "cpu", progress: Progress = no_progress) -> ExperimentResult:
    """Train, load into TransformerLens, measure, check; see the module docstring."""
    with one_torch_thread():
        return _run(config, device, progress)


def _run(config: InductionConfig, device: str, progress: Progress) -> ExperimentResult:
    from numerics.circuits import hooked as hk  # TransformerLens: only when a run needs it

    rng = np.random.default_rng([config.seed, 2])
    if config.prompts:
        prompts, targets = read_prompts(config.prompts, config.d_vocab)
        n_ctx = max(2 * config.period + 1, max(map(len, prompts)))
        model = hk.attention_only_transformer(config.d_vocab, n_ctx, config.layers, config.heads, config.d_model, config.d_head, config.seed, device)
        loss = hk.train_on_prompts(model, prompts, targets, config.steps, config.lr, progress=progress)
        weights = hk.hooked_weights(model)
    else:
        trained = train_induction_model(config.training())
        weights, loss = trained["weights"], trained["loss"]
        model = hk.hooked_transformer(weights, weights["attn_scale"], device)

    # Accuracy on fresh sequences with repeats, at each position whose next token is a repeat.
    tokens, predictable = training_sequences(rng, config.evaluation, config.d_vocab, config.period)
    logits, patterns = hk.run_hooked(model, tokens)

    def repeat_accuracy_of(logits):
        return float((logits[:, :-1][predictable].argmax(axis=-1) == tokens[:, 1:][predictable]).mean())

    repeat_accuracy = repeat_accuracy_of(logits)
    ablated = np.array(
        [[repeat_accuracy_of(hk.head_ablated_logits(model, tokens, layer, head)) for head in range(config.heads)] for layer in range(config.layers)]
    )
    agreement = _agreement(logits, patterns, attention_only_forward(tokens[None], **_model_axis(weights), attn_scale=weights["attn_scale"]))

    sequences = repeated_sequences(rng, config.evaluation, config.d_vocab, config.period, bos=BOS)
    sequence_patterns = hk.run_hooked(model, sequences)[1]
    scores = head_scores(sequence_patterns, config.period)
    best = np.unravel_index(np.argmax(scores["prefix_matching"]), scores["prefix_matching"].shape)

    if config.prompts:
        predictions = hk.last_position_logits(model, prompts).argmax(axis=-1)
        accuracy = float((predictions == np.array(targets)).mean())
        on = f"the {len(prompts)} prompts of {config.prompts} (trained on them)"
    else:
        accuracy, on = repeat_accuracy, f"{int(predictable.sum())} repeated tokens in {config.evaluation} fresh sequences"
    certificate = _certificate(model, config)
    metrics = {
        "trained_on": f"prompts file {config.prompts}" if config.prompts else "random sequences with repeats",
        "accuracy": accuracy,
        "accuracy_on": on,
        "repeat_accuracy": repeat_accuracy,
        "chance": 1 / (config.d_vocab - 1),
        "loss": loss.tolist(),
        "final_loss": float(np.mean(loss[-10:])),
        "scores": {name: values.tolist() for name, values in scores.items()},
        "induction_head": [int(best[0]), int(best[1])],
        "induction_score": float(scores["prefix_matching"][best]),
        "ablated_accuracy": ablated.tolist(),
        "most_needed_head": [int(i) for i in np.unravel_index(np.argmin(ablated), ablated.shape)],
        "table": [
            {
                "head": f"L{layer}H{head}",
                **{name.replace("_", " "): float(values[layer, head]) for name, values in scores.items()},
                "accuracy without it": float(ablated[layer, head]),
            }
            for layer in range(config.layers)
            for head in range(config.heads)
        ],
        "attention_maps": {"tokens": sequences[0].tolist(), "patterns": sequence_patterns[0].tolist()},
        "certificate": certificate,
        "task_2_2": _task(model, config, rng),
        "transformer_lens": agreement,
    }
    if config.prompts:
        metrics["predictions"] = predictions.tolist()
    checks = [
        Check(
            "the TransformerLens model (its logits, and its patterns read from the hook cache) computes the trained network",
            agreement["passed"],
            f"largest difference {agreement['logits']:.1e} in the logits (largest logit {agreement['largest_logit']:.3g}), "
            f"{agreement['patterns']:.1e} in the patterns, on {config.evaluation} sequences; tolerance {AGREEMENT:g}",
        )
    ]
    if config.layers >= 2 and not config.prompts:
        checks += [
            Check(
                f"with {config.layers} layers the trained model predicts at least {ACCURACY:.0%} of the repeated tokens",
                accuracy >= ACCURACY,
                f"accuracy {accuracy:.4f} on {on} (chance {metrics['chance']:.3f})",
            ),
            Check(
                f"one of its heads is an induction head: prefix-matching score at least {INDUCTION_SCORE}",
                metrics["induction_score"] >= INDUCTION_SCORE,
                f"head L{best[0]}H{best[1]}: {metrics['induction_score']:.3f} on {config.evaluation} repeated sequences of period {config.period}",
            ),
        ]
    if certificate["bound"] is not None:
        checks.append(
            Check(
                "induction-one-layer-limit: one layer with one head gets at most 3 of the 4 certificate prompts right",
                certificate["accuracy"] <= CERTIFICATE_BOUND,
                f"{certificate['right']} of 4 right (predictions {certificate['predictions']}, targets {certificate['targets']})",
            )
        )
    figures = (
        Plot(
            "attention",
            _attention_caption(metrics, config),
            hk.attention_maps_figure(sequence_patterns[0], sequences[0], scores["prefix_matching"]),
        ),
        Plot("scores", _scores_caption(metrics, config), hk.head_scores_figure(scores)),
        Plot("loss", f"Training loss ({metrics['trained_on']}), {config.steps} steps of AdamW at lr {config.lr:g}.", hk.loss_figure(loss)),
    )
    return ExperimentResult(metrics, figures, tuple(checks), _errata(metrics, config))


EXERCISE_1_8 = (
    'An induction head is formed by the composition of two heads. Head 1 (Layer 1) is a "Previous Token Head". '
    'Head 2 (Layer 2) is the "Induction Head".'
)


def _errata(m: dict, config: InductionConfig) -> tuple[Erratum, ...]:
    """Where the trained two-layer model grew induction heads without a previous-token head to compose with:
    the layer-0 head most like one can be silenced without losing accuracy (seed 003, exercise 1.8)."""
    if config.layers < 2 or config.prompts or m["accuracy"] < ACCURACY or m["induction_score"] < INDUCTION_SCORE:
        return ()
    previous, ablated = m["scores"]["previous_token"][0], m["ablated_accuracy"]
    likeliest = max(range(config.heads), key=lambda head: previous[head])
    if ablated[0][likeliest] < ACCURACY:
        return ()
    layer, head = m["most_needed_head"]
    needed = f"L{layer}H{head} (previous-token score {m['scores']['previous_token'][layer][head]:.2f}, duplicate-token score "
    needed += f"{m['scores']['duplicate_token'][layer][head]:.2f})"
    return (
        Erratum(
            source="seed 003",
            section="exercise 1.8",
            stated=EXERCISE_1_8,
            corrected=(
                f"One circuit, not the only one. The trained {config.layers}-layer model has induction heads (prefix-matching score "
                f"{m['induction_score']:.2f}, accuracy {100 * m['accuracy']:.0f}% on repeated tokens), but layer 0's best previous-token "
                f"head, L0H{likeliest} (score {previous[likeliest]:.2f}), can be silenced at no cost (accuracy "
                f"{100 * ablated[0][likeliest]:.0f}%); the head it needs most is {needed}, without which the accuracy falls to "
                f"{100 * ablated[layer][head]:.0f}%."
            ),
            evidence="measured on the trained model (metrics.json: scores, ablated_accuracy)",
            kind="context",
        ),
    )


def _model_axis(weights: dict) -> dict:
    """The weights with the model axis :func:`~numerics.circuits.induction.attention_only_forward` expects."""
    return {name: array[None] for name, array in weights.items() if name != "attn_scale"}


def _agreement(logits, patterns, reference) -> dict:
    """How far the TransformerLens model's logits and patterns are from the numpy forward pass's."""
    reference_logits, reference_patterns = reference
    largest = float(np.abs(reference_logits).max())
    logit_gap = float(np.abs(logits - reference_logits[0]).max())
    pattern_gap = float(np.abs(patterns - reference_patterns[0]).max())
    passed = logit_gap <= AGREEMENT * max(1.0, largest) and pattern_gap <= AGREEMENT
    return {"logits": logit_gap, "patterns": pattern_gap, "largest_logit": largest, "passed": bool(passed)}


def _certificate(model, config: InductionConfig) -> dict:
    """The four certificate prompts of ``induction-one-layer-limit`` (tokens A, B, C as 1, 2, 3, after the
    start token: a prefix common to all four keeps the certificate), their targets by the
    previous-occurrence rule and the model's answers. ``bound`` is 3/4 where the theorem applies
    (one layer, one head), else None."""
    from numerics.circuits import hooked as hk
    from proofs.circuits.induction_limit import CERTIFICATE, TOKENS

    token = {letter: index + 1 for index, letter in enumerate(TOKENS)}
    prompts = [(BOS, *(token[letter] for letter in word)) for word in CERTIFICATE]
    targets = [prompt[previous_occurrence_targets(prompt)[-1] + 1] for prompt in prompts]
    logits = hk.last_position_logits(model, prompts)
    predictions = logits.argmax(axis=-1)
    right = int((predictions == np.array(targets)).sum())
    return {
        "words": list(CERTIFICATE),
        "prompts": [list(p) for p in prompts],
        "targets": targets,
        "predictions": predictions.tolist(),
        "right": right,
        "accuracy": right / len(prompts),
        "gaps": (logits[:, token["B"]] - logits[:, token["C"]]).tolist(),
        "bound": CERTIFICATE_BOUND if config.layers == 1 and config.heads == 1 else None,
    }


def _task(model, config: InductionConfig, rng) -> dict | None:
    """Task 2.2's ``[1, 2, 3, 1, 2, ?]`` where a training sequence's repeat of length 3 sits: after the start token
    and ``2 period - 6`` filler tokens (drawn from ``rng``, none of 0, 1, 2, 3), so that ``?`` is the sequence's
    last position. The model's answer, and each head's attention from the second 2 to the 3 (the head that puts
    the most there is the one the task asks for). None where sequences are too short (``period < 3``)."""
    from checkers.circuits.induction import TASK_PROMPT
    from numerics.circuits import hooked as hk

    fill = 2 * config.period - len(TASK_PROMPT) - 1
    if fill < 0:
        return None
    prompt = (BOS, *rng.choice(np.arange(max(TASK_PROMPT) + 1, config.d_vocab), size=fill).tolist(), *TASK_PROMPT)
    logits, patterns = hk.run_hooked(model, [prompt])
    three = len(prompt) - len(TASK_PROMPT) + TASK_PROMPT.index(3)
    attention = patterns[0, :, :, -1, three]
    head = np.unravel_index(np.argmax(attention), attention.shape)
    return {
        "prompt": list(prompt),
        "prediction": int(logits[0, -1].argmax()),
        "attention_to_3": attention.tolist(),
        "head": [int(head[0]), int(head[1])],
    }


def _attention_caption(m: dict, config: InductionConfig) -> str:
    layer, head = m["induction_head"]
    return (
        f"Attention patterns of every head (rows: layers) on one repeated sequence (start token, {config.period} random "
        f"tokens, the same again), read from TransformerLens's hook\\_pattern. Head L{layer}H{head} has the highest "
        f"prefix-matching score, {m['induction_score']:.2f}: on the second copy it attends to the token after the earlier copy."
    )


def _scores_caption(m: dict, config: InductionConfig) -> str:
    return (
        f"Each head's mean attention to the previous token, to the earlier copy of the current token (duplicate token) and to the "
        f"token after it (prefix matching, the induction score), over {config.evaluation} repeated sequences of period {config.period}."
    )


EXPERIMENT = Experiment(
    name="induction",
    title="Induction heads in trained attention-only transformers",
    topic="circuits",
    config=InductionConfig,
    run=run_induction,
    theorems=("induction-two-layers", "induction-head-detection", "induction-one-layer-limit"),
    sources=(
        "C. Olsson et al., In-context learning and induction heads, Transformer Circuits Thread, 2022.",
        "N. Elhage et al., A mathematical framework for transformer circuits, Transformer Circuits Thread, 2021.",
        "C. Sanford, D. Hsu, M. Telgarsky, One-layer transformers fail to solve the induction heads task, arXiv:2408.14332, 2024.",
        "Course seed 000 (hours 7-8), seed 003 (exercise 1.8, task 2.2).",
    ),
    description=(
        "An attention-only transformer (token and positional embeddings, no MLP, no layer norm, a linear readout) is trained "
        "to predict the next token of sequences with a repeat, or the targets of given prompts, then loaded into "
        "TransformerLens: its heads' prefix-matching (induction) scores, attention maps, task 2.2's $[1, 2, 3, 1, 2, ?]$ "
        "and the certificate prompts of induction-one-layer-limit are read from the library's hooks."
    ),
)
