"""Induction heads: ``induction-two-layers`` and ``induction-head-detection`` (seed 003 exercise 1.8, task 2.2).

* ``induction-two-layers``: the two-layer attention-only construction of
  :func:`numerics.circuits.induction.induction_weights` (a previous-token head, then an induction
  head by K-composition) puts at least ``1 - (T - 1) e^(-lambda g)`` of its output on the token after
  the previous occurrence of the current token, and fails where that occurrence is at position 1.
  The claim is the pair of lower bounds derived in :mod:`proofs.circuits.induction`
  (:func:`~proofs.circuits.induction.right_token_bound` and its lemma
  :func:`~proofs.circuits.induction.current_token_bound`); the oracle runs the construction on random
  prompts with repeats (numpy, ``scipy.special.softmax``) and reads the logits at every position
  that the plain-Python rule "find the previous occurrence of the current token, output the next
  token" (:func:`~numerics.circuits.induction.previous_occurrence_targets`) applies to.
* ``induction-head-detection`` (task 2.2): every head's previous-token, duplicate-token and
  prefix-matching scores on a repeated sequence, and its attention from the second 2 to the 3 in
  ``[1, 2, 3, 1, 2]``, computed from the circuits (layer 1's positional QK circuits and the
  K-composition term :func:`~proofs.circuits.induction.k_composition`, compiled, then softmax and
  :func:`~numerics.circuits.induction.head_scores`) against the same read off the model's own patterns
  (the residual stream run, averaged position by position).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from checkers.closed_form import compile_closed_form
from checkers.domains import Integer, Real
from checkers.policies import Bound, Deterministic
from checkers.results import Erratum
from checkers.theorem import Anchor, Theorem
from numerics.attention.kernels import softmax
from numerics.circuits.induction import (
    DUPLICATE_TOKEN,
    FIRST_POSITION,
    INDUCTION,
    PREVIOUS_TOKEN,
    attention_only_forward,
    batched_induction_weights,
    head_scores,
    previous_occurrence_targets,
    repeat_prompts,
    repeated_sequences,
)
from proofs.circuits.induction import (
    ELHAGE,
    EXERCISE,
    OLSSON,
    current_token_bound,
    k_composition,
    right_token_bound,
)

SYLLABUS = "seed 000 (syllabus), hours 7-8: mechanistic interpretability and circuits"

# --- induction-two-layers -----------------------------------------------------------------------


def _prompt_pairs(rng, n, d_vocab, n_ctx):
    """Per instance two prompts: the last token repeats one at a random ``j >= 1``, and one at ``j = 0``."""
    return {"prompts": repeat_prompts(rng, n, d_vocab, n_ctx)}


@functools.lru_cache(maxsize=1)
def _current_token_bound():
    """The lemma's lower bound on the current token's logit at position-1 repeats, compiled for batches."""
    (lemma,) = (d for d in induction_two_layers.built_derivation().lemmas if d.title == current_token_bound().title)
    return compile_closed_form(lemma.result)


def _bounds(closed_form, n_ctx, scale):
    """The claim ``(n, 2)``: the right token's bound (the derivation's result) and the current token's (its lemma's)."""
    arguments = {"lambda": scale, "T": np.full(np.shape(scale), float(n_ctx))}
    return np.stack([closed_form(**arguments), _current_token_bound()(**arguments)], axis=1)


def _logits_where_the_rule_applies(d_vocab, n_ctx, scale, prompts):
    """The oracle: the construction run on each prompt pair; the least logit of the rule's token and of the current token.

    Entry 0: the smallest logit of ``x_(j+1)`` over the positions whose token occurred exactly once
    before, at ``j >= 1`` (the first prompt's last position is one); entry 1: the smallest logit of the
    current token over the positions whose token occurred only at position 0, with ``x_1 != x_0``
    (the second prompt's last position is one). The positions come from the plain-Python rule; the
    logits from a literal forward pass. Loops over instances and positions (the rule is Python).
    """
    logits, _ = attention_only_forward(prompts, **batched_induction_weights(d_vocab, n_ctx, scale))
    values = np.empty((len(prompts), 2))
    for i, pair in enumerate(np.asarray(prompts).tolist()):
        right, current = [], []
        for k, prompt in enumerate(pair):
            for position, j in enumerate(previous_occurrence_targets(prompt)):
                if j >= 1:
                    right.append(logits[i, k, position, prompt[j + 1]])
                elif j == 0 and prompt[1] != prompt[0]:
                    current.append(logits[i, k, position, prompt[position]])
        values[i] = min(right), min(current)
    return values


def _with(right=None, current=None):
    """A mutant: the true pair of bounds with one entry replaced by ``f(scale, n_ctx)``."""

    def mutant(n_ctx, scale):
        claim = induction_two_layers.evaluate_claim(n_ctx=n_ctx, scale=scale)
        for column, wrong in enumerate((right, current)):
            if wrong is not None:
                claim[:, column] = wrong(scale, n_ctx)
        return claim

    return mutant


def _margin(scale, n_ctx):
    return np.exp(scale) / (np.exp(scale) + n_ctx - 1) - 2 / (np.exp(scale) + 1)


def _two_layer_values(d_vocab, n_ctx, scale, prompts):
    """The example: one prompt pair, the rule's targets, the construction's predictions and logits, and the bounds."""
    logits, patterns = attention_only_forward(prompts[None], **batched_induction_weights(d_vocab, n_ctx, np.array([scale])))
    pair = prompts.tolist()
    observed = _logits_where_the_rule_applies(d_vocab, n_ctx, np.array([scale]), prompts[None])[0]
    bounds = induction_two_layers.evaluate_claim(n_ctx=n_ctx, scale=np.array([scale]))[0]
    last = n_ctx - 1
    return {
        "prompt": pair[0],
        "prompt_position_one": pair[1],
        "earlier": [previous_occurrence_targets(p)[last] for p in pair],
        "target": [p[previous_occurrence_targets(p)[last] + 1] for p in pair],
        "prediction": [int(np.argmax(logits[0, k, last])) for k in range(2)],
        "last_logits": logits[0, :, last].tolist(),
        "induction_attention": patterns[0, :, 1, 0, last].tolist(),
        "right_logit": float(observed[0]),
        "right_bound": float(bounds[0]),
        "current_logit": float(observed[1]),
        "current_bound": float(bounds[1]),
        "margin": float(_margin(scale, n_ctx)),
    }


TWO_LAYER_ANCHORS = (
    Anchor(
        {"d_vocab": 2, "n_ctx": 3, "scale": math.log(9)},
        [0.896008462945790769, 0.592189118051653936],
        "worked by hand (module checkers.circuits.induction): e^lambda = 9, prompts A B B and A B A; see "
        "TWO_LAYER_ANCHORS",
        rtol=1e-12,
        of="oracle",
        inputs={"prompts": [[0, 1, 1], [0, 1, 0]]},
    ),
    Anchor(
        {"d_vocab": 2, "n_ctx": 3, "scale": math.log(9)},
        [0.485796976218052051, 0.371449244054513013],
        "worked by hand: g = 9/11 - 2/10 = 34/55, so the bounds are 1 - 2 * 9^(-34/55) and (1 - 9^(-34/55))/2",
        rtol=1e-12,
        of="claim",
    ),
)
"""Two anchors worked by hand at ``e^lambda = 9``, ``T = 3``.

* The oracle on the prompts ``A B B`` (``j = 1``) and ``A B A`` (``j = 0``), ``A = 0``, ``B = 1``. The previous-token
  head's rows: position 0 attends to itself; position 1 puts ``9/10`` on 0 and ``1/10`` on 1; position 2 puts
  ``9/11`` on 1 and ``1/11`` on 0 and 2. The induction head at ``t = 2`` scores key ``s`` by ``lambda pi_s``, ``pi_s``
  the weight the previous-token head at ``s`` put on copies of ``x_2``, so its weights are ``9^(pi_s)`` normalised.
  ``A B B``, ``x_2 = B``: ``pi = (0, 1/10, 9/11 + 1/11 = 10/11)``; keys 1 and 2 hold ``B``, the right token
  ``x_(j+1) = x_2``: ``(9^(1/10) + 9^(10/11)) / (1 + 9^(1/10) + 9^(10/11)) = 0.8960085``.
  ``A B A``, ``x_2 = A``: ``pi = (1, 9/10, 2/11)``; keys 0 and 2 hold ``A``, the current token:
  ``(9 + 9^(2/11)) / (9 + 9^(9/10) + 9^(2/11)) = 0.5921891``: more than half goes to ``A``, not to the right ``B``.
* The claim: ``g = e^lambda/(e^lambda + 2) - 2/(e^lambda + 1) = 9/11 - 1/5 = 34/55``; the bounds
  ``1 - 2 * 9^(-34/55) = 0.4857970`` and ``(1 - 9^(-34/55))/2 = 0.3714492``.
"""

induction_two_layers = Theorem(
    id="induction-two-layers",
    title="A two-layer attention-only induction head (previous-token head + K-composition; Ex. 1.8)",
    topic="circuits",
    statement=(
        r"Let tokens $x_0, \dots, x_{T-1} \in \{0, \dots, V-1\}$ and the attention-only transformer with residual stream "
        r"$[\text{token} \mid \text{position} \mid \text{previous} \mid \text{output}]$ (one-hot embeddings, "
        r"$d_{\mathrm{model}} = 3V + T$, scores $q \cdot k$, causal softmax): in layer 1 a previous-token head with "
        r"$q_t = \lambda e_{t-1}$, $k_s = e_s$ (positions) copies $x_s$ into the previous block; in layer 2 the induction "
        r"head with $q_t = \lambda e_{x_t}$ and keys read from the previous block copies the token it attends to into "
        r"the output block, which $W_U$ reads (two decoy heads write nothing). Head 2's scores are "
        r"$\lambda E E^\top A_1^\top$ (K-composition: the key side reads head 1), so it attends to the position "
        r"right after an earlier copy of $x_t$. If $x_t$ occurred exactly once before, at $j \ge 1$, the logit of "
        r"$x_{j+1}$ is at least $1 - (T - 1) e^{-\lambda g}$, "
        r"$g = \frac{e^\lambda}{e^\lambda + T - 1} - \frac{2}{e^\lambda + 1}$, the rest sum to at most "
        r"$(T-1) e^{-\lambda g}$, so for large $\lambda$ the prediction is the rule's. If its only earlier occurrence "
        r"is at position 1 ($j = 0$, $x_1 \ne x_0$) the circuit fails: position 1 has no previous token, its "
        r"previous-token head attends to itself, and head 2 puts at least as much weight on position 1 (the current "
        r"token) as on position 2; the current token gets at least $(1 - (T - 2) e^{-\lambda g})/2$."
    ),
    assumptions=(
        r"positions are $0, \dots, T-1$ here (the course's positions $1, \dots, T$): ``position 1'' is index 0",
        r"the rule: at $t$, if $x_t$ occurs exactly once among $x_0, \dots, x_{t-1}$, at $j$, predict $x_{j+1}$; "
        r"with several earlier occurrences the construction averages their successors (no claim is made there)",
        r"the check: per instance two prompts of length $T$ over $V$ tokens, uniform random tokens with the last one "
        r"set to a copy of an earlier one that occurs nowhere else, at a random $j \in [1, T-2]$ and at $j = 0$; every "
        r"position of both prompts where the rule applies with $j \ge 1$ (resp. $j = 0$, $x_1 \ne x_0$) is compared",
        r"the bound chain's structural steps (softmax weights of the right key, the count of competing keys, the "
        r"support of the previous-token head's rows) are given with their argument; the block-matrix lemmas "
        r"(scores, K-composition, OV copy) and the inequalities are proved",
    ),
    sources=(
        f"{ELHAGE}",
        f"{OLSSON}",
        EXERCISE,
        SYLLABUS,
    ),
    parameters={
        "d_vocab": Integer(2, 10, shape=True, default=4),
        "n_ctx": Integer(3, 16, shape=True, default=8),
        "scale": Real(2.0, 20.0, log=True, default=10.0),
    },
    inputs=_prompt_pairs,
    derivation=right_token_bound,
    assemble=_bounds,
    oracle=_logits_where_the_rule_applies,
    mutants={
        "previous-token head taken as exact: 1 - (T - 1) e^(-lambda)": _with(
            right=lambda scale, n_ctx: 1 - (n_ctx - 1) * np.exp(-scale)
        ),
        "one competing key: 1 - e^(-lambda g)": _with(right=lambda scale, n_ctx: 1 - np.exp(-scale * _margin(scale, n_ctx))),
        "position 1 copies the current token outright: 1 - (T - 1) e^(-lambda g)": _with(
            current=lambda scale, n_ctx: 1 - (n_ctx - 1) * np.exp(-scale * _margin(scale, n_ctx))
        ),
    },
    tolerance=Bound(
        side="lower",
        rtol=0.0,
        atol=1e-13,
        reason=(
            "the oracle's logits are sums of at most T = 16 softmax weights (scipy.special.softmax, each within a few "
            "u = 1.1e-16 relative of the exact weight, the scores being exact multiples of lambda times sums of at "
            "most 16 weights), so each is within 1e-14 of its exact value; the claim is a closed form in float64 "
            "(relative error a few u). atol 1e-13 covers both; where lambda is large the bound and the logit both "
            "round to 1"
        ),
    ),
    blind_spots={
        "-1 -> -1(1 + 1e-3)": (
            "changes every -1 at once (the powers of the denominators too) and lowers the bound (by 1.4e-8 at lambda "
            "= 20, 0.022 at lambda = 2, T = 16): a lowered lower bound still holds"
        ),
        "1 -> -1": "turns 1 - ... into -1 - ... (and e^lambda + 1 into e^lambda - 1): the bound drops by about 2 and still holds",
        "-2 -> -2(1 + 1e-3)": "a smaller margin g: the bound drops and still holds",
        "-2 -> -2 + 1": (
            "a larger margin g raises the bound by at most lambda/(e^lambda + 1) of its deficit (3e-7 absolute at "
            "lambda = 10, T = 16), within the bound's slack (the right key's weight e^lambda/(e^lambda + m) exceeds the "
            "bound's e^lambda/(e^lambda + T - 1), and most keys hold one copy of x_t, not two); not refuted at 1000 "
            "instances either"
        ),
    },
    example={"d_vocab": 4, "n_ctx": 8, "scale": 10.0},
    anchors=TWO_LAYER_ANCHORS,
    values=_two_layer_values,
    variants={"scale": Real(4.0, 20.0)},
    questions={
        "prompt": (
            r"Build a two-layer attention-only transformer that predicts, at every position $t$, the token that "
            r"followed the previous occurrence of $x_t$. Write its weights: a previous-token head in layer 1 (from "
            r"positional embeddings) and an induction head in layer 2 whose key reads what the first head wrote. "
            r"What does it predict at the end of the given prompt?"
        ),
        "right_bound": (
            r"Show that the logit of the right token is at least $1 - (T-1) e^{-\lambda g}$ with "
            r"$g = e^\lambda/(e^\lambda + T - 1) - 2/(e^\lambda + 1)$, and evaluate it for the given $\lambda$ and $T$."
        ),
        "current_logit": (
            r"Exercise 1.8: explain why the circuit fails when the repeated token's earlier occurrence is at position "
            r"1, and how much of the output then goes to the current token in the given second prompt."
        ),
    },
    errata=(
        Erratum(
            source="seed 003",
            section="exercise 1.8, part 1",
            stated="Write the mathematical expression for the Query of Head 2 if it attends to the output of Head 1.",
            corrected=(
                r"in an induction head the previous-token head's output enters on the key side (K-composition): "
                r"$q_t = x_t W_Q^2$ reads only the current token, $k_s = (X + A_1 X W_{OV}^1)_s W_K^2$ reads what head 1 "
                r"wrote at $s$, and the scores are $X_1 W_{QK}^2 X_1^\top$ whose surviving term is "
                r"$X W_{QK}^2 W_{OV}^{1\top} X^\top A_1^\top = \lambda E E^\top A_1^\top$"
            ),
            evidence=(
                r"the K-composition lemma (proved): of the four terms of $X_1 W_{QK}^2 X_1^\top$ the construction keeps "
                r"$\lambda E E^\top A_1^\top$; wiring the query to head 1's output instead (Q-composition) keeps "
                r"$\lambda A_1 E E^\top$, which attends to earlier copies of the previous token; induction-head-detection "
                r"refutes that wiring as a mutant"
            ),
            kind="ambiguous",
            readings=(
                r"the query vector of head 2 reads head 1's output (Q-composition, $q_t = (A_1 X W_{OV}^1)_t W_Q^2$): "
                r"false for an induction head built on a previous-token head: the scores become $\lambda A_1 E E^\top$, "
                r"attention to earlier copies of the previous token",
                r"``the query'' loosely for head 2's query-key score, which reads head 1's output through the keys: "
                r"true, $\lambda E E^\top A_1^\top$ (this theorem)",
            ),
        ),
        Erratum(
            source="seed 003",
            section="exercise 1.8, part 2",
            stated="Explain why this circuit fails if the sequence length is 1.",
            corrected=(
                r"with one token there is no earlier occurrence to match, so nothing is predicted by any rule; the "
                r"circuit's own failure is in sequences of every length, when the current token's only earlier "
                r"occurrence is at position 1: the previous-token head there has no previous token and attends to "
                r"itself, so key 1 scores $\lambda$ against $\lambda e^\lambda/(e^\lambda + 1)$ for the right key 2, and "
                r"at least $(1 - (T - 2) e^{-\lambda g})/2$ of the output goes to the current token"
            ),
            evidence=(
                r"the position-one lemma (the score gap $\lambda/(e^\lambda + 1) > 0$, proved) and the claim's second "
                r"entry, checked on random prompts; the mutant in which position 1 copies the current token outright "
                r"is refuted (about half goes each way)"
            ),
            kind="context",
        ),
    ),
)

# --- induction-head-detection -------------------------------------------------------------------

DETECTION_VOCAB = 10
"""Vocabulary of the detection theorem: token 0 is the start token, ``1..9`` the repeated ones (periods up to 8)."""
TASK_PROMPT = (1, 2, 3, 1, 2)
"""Task 2.2's toy sequence ``[1, 2, 3, 1, 2, ?]``: from the second 2 (position 4), which head attends most to the 3 (position 2)?"""
HEADS = (PREVIOUS_TOKEN, FIRST_POSITION, INDUCTION, DUPLICATE_TOKEN)
HEAD_NAMES = ("previous-token (0.0)", "first-position (0.1)", "induction (1.0)", "duplicate-token (1.1)")
SCORES = ("previous_token", "duplicate_token", "prefix_matching")


def _repeated(rng, n, period):
    """A start token, ``period`` distinct random tokens, the same again."""
    return {"sequence": repeated_sequences(rng, n, DETECTION_VOCAB, period)}


@functools.lru_cache(maxsize=1)
def _layer_one_circuits():
    """The layer-1 lemma's scores ``lambda P S P^T`` and ``lambda P J P^T``, compiled for batches."""
    (lemma,) = induction_head_detection.built_derivation().lemmas
    return tuple(compile_closed_form(lemma.expression(label)) for label in ("previous", "first"))


def _one_hot(tokens, size):
    return (np.asarray(tokens)[..., None] == np.arange(size)).astype(float)


def _circuit_patterns(sequences, scale, induction_scores, hard_previous=False, divide=1.0):
    """``(m, 4, n, n)``: the four heads' patterns from their circuits, no residual stream run.

    Layer 1: the softmax of ``lambda P S P^T`` and ``lambda P J P^T`` with ``P = I``, ``S`` the shift,
    ``J`` the first column; layer 2: of ``induction_scores(lambda, E, A_1)`` (the K-composition term) and
    of ``lambda E E^T``, ``E`` the one-hot tokens; every row causally masked. ``hard_previous`` (the
    previous-token pattern taken as exact: weight 1 on ``t - 1``, on itself at ``t = 0``) and ``divide``
    (every score divided by it) are for mutants.
    """
    m, n = sequences.shape
    scale = np.asarray(scale, dtype=float)
    causal = np.tril(np.ones((n, n), dtype=bool))
    first_column = np.zeros((n, n))
    first_column[:, 0] = 1.0
    eye, shift, first_column = (np.broadcast_to(M, (m, n, n)) for M in (np.eye(n), np.eye(n, k=-1), first_column))
    previous, first = _layer_one_circuits()
    A_prev = softmax(previous(**{"lambda": scale, "P": eye, "S": shift}) / divide, causal)
    A_first = softmax(first(**{"lambda": scale, "P": eye, "J": first_column}) / divide, causal)
    A_1 = A_prev
    if hard_previous:
        A_1 = np.broadcast_to(np.eye(n, k=-1) + np.eye(n) * (np.arange(n) == 0), (m, n, n))
    E = _one_hot(sequences, DETECTION_VOCAB)
    duplicate = induction_head_detection.closed_form("duplicate_scores")
    A_induction = softmax(induction_scores(**{"lambda": scale, "E": E, "A_1": A_1}) / divide, causal)
    A_duplicate = softmax(duplicate(**{"lambda": scale, "E": E}) / divide, causal)
    return np.stack([A_prev, A_first, A_induction, A_duplicate], axis=1)


def _detection_claim(induction_scores, period, scale, sequence, **changes):
    """The claim ``(m, 16)``: each head's previous-token, duplicate-token and prefix-matching scores on the
    repeated sequence, then each head's attention from the second 2 to the 3 in ``[1, 2, 3, 1, 2]``, all
    from the circuits' patterns (scores by :func:`numerics.circuits.induction.head_scores`)."""
    patterns = _circuit_patterns(sequence, scale, induction_scores, **changes)
    task = _circuit_patterns(np.tile(TASK_PROMPT, (len(sequence), 1)), scale, induction_scores, **changes)
    rows = []
    for i in range(len(sequence)):
        scores = head_scores(patterns[i, None, :, None], period)  # heads as (layer, head) = (i, 0)
        rows.append(np.concatenate([scores[name][:, 0] for name in SCORES] + [task[i, :, 4, 2]]))
    return np.array(rows)


def _attention_by_definition(period, scale, sequence):
    """The oracle: the construction run on the repeated sequence and on ``[1, 2, 3, 1, 2]``, its patterns read
    position by position: mean attention at offsets ``-1`` (t >= 1), ``-p`` and ``-(p - 1)`` (second copy),
    and the attention from position 4 to position 2 of the task prompt. Loops over heads and positions."""
    weights = batched_induction_weights(DETECTION_VOCAB, 2 * period + 1, scale)
    _, patterns = attention_only_forward(sequence[:, None], **weights)
    _, task = attention_only_forward(np.tile(TASK_PROMPT, (len(sequence), 1, 1)), **weights)
    n = 2 * period + 1
    second = range(period + 1, n)
    offsets = {"previous_token": (range(1, n), 1), "duplicate_token": (second, period), "prefix_matching": (second, period - 1)}
    values = np.empty((len(sequence), 4 * len(HEADS)))
    for i in range(len(sequence)):
        column = 0
        for positions, back in offsets.values():
            for layer, head in HEADS:
                values[i, column] = sum(patterns[i, 0, layer, head, t, t - back] for t in positions) / len(positions)
                column += 1
        values[i, column:] = [task[i, 0, layer, head, 4, 2] for layer, head in HEADS]
    return values


def _detection_assembled(closed_form, period, scale, sequence):
    return _detection_claim(closed_form, period, scale, sequence)


def _detection_with(changes=None, induction_scores=None):
    """A mutant: the circuits' claim with the induction head's scores, or another part, computed the wrong way.

    ``induction_scores()`` gives the wrong scores function; ``changes(period, scale, sequence)`` the keywords
    of :func:`_circuit_patterns` to change.
    """

    def mutant(period, scale, sequence):
        scores = induction_scores() if induction_scores else induction_head_detection.closed_form()
        extra = changes(period, scale, sequence) if changes else {}
        return _detection_claim(scores, period, scale, sequence, **extra)

    return mutant


def _q_composition():
    """The exercise read literally: the query reads head 1's output, ``lambda A_1 E E^T`` (the lemma's Q-composition result)."""
    return induction_head_detection.closed_form("q_composition_scores")


def _untransposed():
    """``lambda E E^T A_1``: the K-composition term with ``A_1`` where ``A_1^T`` belongs."""

    def scores(**arguments):
        return arguments["lambda"].reshape(-1, 1, 1) * (arguments["E"] @ np.swapaxes(arguments["E"], 1, 2) @ arguments["A_1"])

    return scores


def _offset_minus_period(period, scale, sequence):
    """Prefix matching read at offset ``-p``: the duplicate-token score in its place."""
    claim = induction_head_detection.evaluate_claim(period=period, scale=scale, sequence=sequence)
    claim[:, 8:12] = claim[:, 4:8]
    return claim


def _detection_values(period, scale, sequence):
    """The example: the score table of the four heads, the detected heads, and the task 2.2 row."""
    claim = induction_head_detection.evaluate_claim(period=period, scale=np.array([scale]), sequence=sequence[None])[0]
    table = claim[:12].reshape(3, 4)
    task = claim[12:]
    return {
        "sequence": sequence.tolist(),
        "heads": list(HEAD_NAMES),
        "previous_token": table[0].tolist(),
        "duplicate_token": table[1].tolist(),
        "prefix_matching": table[2].tolist(),
        "task_attention": task.tolist(),
        "induction_head": HEAD_NAMES[int(np.argmax(table[2]))],
        "task_head": HEAD_NAMES[int(np.argmax(task))],
        "detection_margin": float(np.sort(table[2])[-1] - np.sort(table[2])[-2]),
    }


DETECTION_ANCHOR_VALUES = (
    [0.733891108891108891, 0.214876789876789877, 0.219282604963245817, 0.0684657130309304222]
    + [0.0716727716727716728, 0.0716727716727716728, 0.110713744626086935, 0.409655561829474873]
    + [0.0716727716727716728, 0.0716727716727716728, 0.47789503080660273, 0.0455172846477194303]
    + [0.0769230769230769231, 0.0769230769230769231, 0.554528819533792185, 0.047619047619047619]
)
"""Worked by hand at ``p = 3``, ``e^lambda = 9``, on ``0 a b c a b c`` (positions 0..6; any distinct ``a, b, c``):
every head's row ``t`` puts weight ``9^(score / lambda)`` on each key ``s <= t``, normalised.

* previous-token head: ``9/(9 + t)`` on ``t - 1``, ``1/(9 + t)`` elsewhere; its previous-token score
  ``(9/10 + 9/11 + ... + 9/15)/6 = 0.7338911``; the duplicate-token and prefix-matching offsets get
  ``(1/13 + 1/14 + 1/15)/3 = 0.0716728``. First-position head: ``9/(9 + t)`` on 0, so its previous-token
  score is ``(9/10 + 1/11 + ... + 1/15)/6 = 0.2148768`` and the same ``0.0716728`` at the other offsets.
* duplicate-token head: rows 4..6 have two copies of ``x_t``: ``9/(17 + t)`` each, ``1/(17 + t)`` elsewhere;
  rows 1..3 one: ``1/(9 + t)`` off ``t``. Duplicate-token score ``(9/21 + 9/22 + 9/23)/3 = 0.4096556``,
  prefix matching ``(1/21 + 1/22 + 1/23)/3 = 0.0455173``, previous token
  ``(1/10 + 1/11 + 1/12 + 1/21 + 1/22 + 1/23)/6 = 0.0684657``.
* induction head: key ``s`` scores ``lambda pi_s``, ``pi_s`` the previous-token head's weight at ``s`` on copies of
  ``x_t``. Row 4 (``x_4 = a``, copies at 1 and 4): ``pi = (0, 1/10, 9/11, 1/12, 2/13)``; row 5: ``(0, 0, 1/11,
  9/12, 1/13, 2/14)``; row 6: ``(0, 0, 0, 1/12, 1/13, 9/14, 2/15)``; rows 1..3 see one copy (themselves,
  ``pi_t = 1/(9 + t)``) and the previous-token head's ``pi``. The prefix-matching score averages
  ``9^(9/11), 9^(9/12), 9^(9/14)`` over their rows' sums: ``0.4778950``; the rest likewise.
* task prompt ``1 2 3 1 2``, row 4, key 2 (the 3): previous-token and first-position heads ``1/13``, duplicate-token
  ``1/(2 * 9 + 3) = 1/21``, induction ``9^(9/11) / (1 + 9^(1/10) + 9^(9/11) + 9^(1/12) + 9^(2/13)) = 0.5545288``.
"""

induction_head_detection = Theorem(
    id="induction-head-detection",
    title="Detecting the induction head: prefix-matching scores and task 2.2's [1, 2, 3, 1, 2, ?]",
    topic="circuits",
    statement=(
        r"In the construction of induction-two-layers (heads 0.0 previous-token, 0.1 first-position, 1.0 induction, "
        r"1.1 duplicate-token) every attention pattern is given by the circuits: layer 1 by the softmax of "
        r"$\lambda S$ and $\lambda J$ ($S$ the shift, $J$ the first column), layer 2 by the softmax of the "
        r"K-composition term $\lambda E E^\top A_1^\top$ and of $\lambda E E^\top$. On any sequence "
        r"$\langle s \rangle\, a_1 \dots a_p\, a_1 \dots a_p$ of distinct tokens they give each head's previous-token "
        r"score (mean attention from $t$ to $t - 1$), duplicate-token score (from the second copy to the earlier copy "
        r"of the same token, offset $-p$) and prefix-matching score (to the token after the earlier copy, offset "
        r"$-(p - 1)$, the induction score), and on $[1, 2, 3, 1, 2]$ each head's attention from the second 2 to the 3; "
        r"these equal the scores read off the model's own attention patterns. So the prefix-matching detector and "
        r"task 2.2's rule both single out head 1.0, the previous-token detector head 0.0 and the duplicate-token "
        r"detector head 1.1, for every $\lambda$ and $p$ checked."
    ),
    assumptions=(
        rf"vocabulary of {DETECTION_VOCAB} tokens, token 0 the start token $\langle s \rangle$; $p \ge 3$ (at $p = 2$ the "
        r"token after the earlier copy is the previous token, and the previous-token head matches prefixes too)",
        r"the start token keeps the first copy's first token off position 0, where the previous-token head has no "
        r"previous token (see induction-two-layers); $[1, 2, 3, 1, 2]$ has no start token, and the second 1 is exactly "
        r"that case, but the second 2 (the one asked about) is not",
        r"scores are $q \cdot k$ with no $1/\sqrt{d_{\mathrm{head}}}$ (TransformerLens: use\_attn\_scale=False); the claim "
        r"computes the patterns from the compiled circuits and applies the detector (numerics.circuits.induction."
        r"head\_scores); the oracle runs the model's residual stream (scipy softmax) and averages the patterns' entries "
        r"position by position",
    ),
    sources=(
        f"{OLSSON}",
        f"{ELHAGE}",
        "seed 003, task 2.2 (visualizing induction)",
        EXERCISE,
        SYLLABUS,
    ),
    parameters={
        "period": Integer(3, 8, shape=True, default=3),
        "scale": Real(2.0, 20.0, log=True, default=10.0),
    },
    inputs=_repeated,
    derivation=k_composition,
    assemble=_detection_assembled,
    oracle=_attention_by_definition,
    mutants={
        "Q-composition (the query reads head 1): lambda A_1 E E^T": _detection_with(induction_scores=_q_composition),
        "K-composition without the transpose: lambda E E^T A_1": _detection_with(induction_scores=_untransposed),
        "previous-token head taken as exact": _detection_with(lambda period, scale, sequence: {"hard_previous": True}),
        "scores divided by sqrt(d_head) (TransformerLens's default)": _detection_with(
            lambda period, scale, sequence: {"divide": math.sqrt(max(DETECTION_VOCAB, 2 * period + 1))}
        ),
        "prefix matching read at offset -p (the duplicate-token offset)": _offset_minus_period,
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=1e-12,
        reason=(
            "both sides compute the same patterns in float64, associating the sums differently: the scores are at "
            "most lambda = 20 times sums of at most 17 softmax weights, so they differ by a few 1e-15; a softmax "
            "of n <= 17 entries turns that into differences of the same order in weights of at most 1, and the "
            "scores average at most 16 of them: atol 1e-12 leaves a factor 100. Each written mutant misses by 0.19 or "
            "more (the previous-token head taken as exact) at the instance that refutes it"
        ),
    ),
    example={"period": 4, "scale": 10.0},
    anchors=(
        Anchor(
            {"period": 3, "scale": math.log(9)},
            DETECTION_ANCHOR_VALUES,
            "worked by hand at e^lambda = 9, p = 3 (module checkers.circuits.induction, DETECTION_ANCHOR_VALUES): "
            "previous-token, duplicate-token, prefix-matching scores of heads 0.0, 0.1, 1.0, 1.1, then task 2.2's row",
            rtol=1e-12,
            inputs={"sequence": [0, 4, 7, 2, 4, 7, 2]},
        ),
    ),
    values=_detection_values,
    variants={"scale": Real(4.0, 20.0)},
    questions={
        "prefix_matching": (
            r"For a two-layer attention-only model with heads 0.0, 0.1, 1.0, 1.1, write a detector for induction heads: "
            r"feed a start token followed by $p$ random tokens repeated twice and average, over the second copy, "
            r"the attention each head puts on the token right after the earlier copy. Compute it for the given model."
        ),
        "task_attention": (
            r"Task 2.2: on $[1, 2, 3, 1, 2, ?]$, which head puts the most attention on the 3 when the current token is "
            r"the second 2? How much?"
        ),
        "previous_token": r"Which head is the previous-token head, and why does the induction head need it?",
    },
)
