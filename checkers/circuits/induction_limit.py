"""``induction-one-layer-limit``: a finite certificate that one attention head cannot do induction, and what changes it.

The model class: one attention layer, one head, any width ``d_model`` and head size ``d_head``, token
and positional embeddings added, causal softmax attention with scores ``q . k / sqrt(d_head)``, a
residual connection and a linear readout at the last position (no MLP, no layer norm). On the four
prompts of :data:`proofs.circuits.induction_limit.CERTIFICATE` the claim is their logit gaps
``G_i = logit_B - logit_C`` in the circuits form ``c + sum_j e^(s_j) w_j / sum_j e^(s_j)`` (the
derivation's start, compiled, with the QK and OV circuits ``s``, ``w`` and the direct path ``c``
multiplied out of the weights), the derived certificate ``sum_i eps_i D_i G_i / sum_i D_i = 0``, and the
plain signed sum of the gaps. The oracle is the model run literally (numerics.circuits.induction.
last_position: residual stream, ``scipy.special.softmax``, unembedding), its normalisers ``D_i`` from
the same run, with a rounding bound.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from checkers.domains import Integer, Real
from checkers.policies import Deterministic
from checkers.results import Erratum
from checkers.theorem import Anchor, Theorem
from numerics.attention.kernels import UNIT_ROUNDOFF, gamma
from numerics.circuits.induction import (
    attention_only_forward,
    last_position,
    one_layer_induction_weights,
    previous_occurrence_targets,
)
from proofs.circuits.induction_limit import (
    CERTIFICATE,
    ELHAGE,
    SANFORD_2023,
    SANFORD_2024,
    SIGNS,
    TOKENS,
    certificate,
    readout,
    score,
)

A, B, C = (TOKENS.index(t) for t in TOKENS)
PROMPTS = np.array([[TOKENS.index(x) for x in prompt] for prompt in CERTIFICATE])
N_CTX = PROMPTS.shape[1]
EPSILON = np.array(SIGNS, dtype=float)
SYLLABUS = "seed 000 (syllabus), hours 7-8: circuit complexity (induction heads require L >= 2 layers)"


def _models(rng, n, d_model, d_head, sigma):
    """Random single-head one-layer models: Gaussian embeddings, ``W_Q`` scaled by ``sigma`` (the attention's sharpness)."""
    return {
        "W_E": rng.standard_normal((n, len(TOKENS), d_model)),
        "W_pos": rng.standard_normal((n, N_CTX, d_model)),
        "W_Q": rng.standard_normal((n, d_model, d_head)) * (np.asarray(sigma)[:, None, None] / np.sqrt(d_model)),
        "W_K": rng.standard_normal((n, d_model, d_head)) / np.sqrt(d_model),
        "W_V": rng.standard_normal((n, d_model, d_head)) / np.sqrt(d_model),
        "W_O": rng.standard_normal((n, d_head, d_model)) / np.sqrt(d_head),
        "W_U": rng.standard_normal((n, d_model, len(TOKENS))) / np.sqrt(d_model),
    }


@functools.lru_cache(maxsize=1)
def _gaps():
    """The derivation's start, the four gaps ``c + N_i/D_i`` in the table symbols, compiled for batches."""
    return induction_one_layer_limit.closed_form("start")


def _circuit_tables(W_E, W_pos, W_Q, W_K, W_V, W_O, W_U, d_head, positions=True, transposed=False):
    """The tables ``s_(j, x)``, ``w_(j, x)`` and ``c`` of each model, by symbol name: the QK and OV circuits.

    The last position's query is ``x_n = W_E[A] + W_pos[n]``; key ``(j, x)`` is ``W_E[x] + W_pos[j]``;
    ``s = x_n W_Q W_K^T key^T / sqrt(d_head)``, ``w = key W_V W_O u``, ``c = x_n u`` with
    ``u = W_U[:, B] - W_U[:, C]``. ``positions=False`` and ``transposed=True`` are for mutants.
    """
    W_pos = W_pos if positions else np.zeros_like(W_pos)
    keys = W_E[:, None, :, :] + W_pos[:, :, None, :]  # (m, position, token, d_model)
    query = W_E[:, A] + W_pos[:, -1]
    u = W_U[:, :, B] - W_U[:, :, C]
    W_QK = W_Q @ np.swapaxes(W_K, 1, 2)
    if transposed:
        scores = np.einsum("mjxd,mde,me->mjx", keys, W_QK, query)
    else:
        scores = np.einsum("md,mde,mjxe->mjx", query, W_QK, keys)
    values = np.einsum("mjxd,mde,mef,mf->mjx", keys, W_V, W_O, u)
    tables = {"c": np.einsum("md,md->m", query, u)}
    for j, x in itertools.product(range(N_CTX), range(len(TOKENS))):
        tables[str(score(j, TOKENS[x]))] = scores[:, j, x] / np.sqrt(d_head)
        tables[str(readout(j, TOKENS[x]))] = values[:, j, x]
    return tables


def _claim_from(tables, certificate_form):
    gaps = _gaps()(**tables)
    return np.concatenate([gaps, certificate_form(**tables)[:, None], (gaps @ EPSILON)[:, None]], axis=1)


def _assemble(closed_form, d_head, W_E, W_pos, W_Q, W_K, W_V, W_O, W_U):
    """The claim ``(m, 6)``: the four gaps (the derivation's start), the certificate (its result, 0), the gaps' signed sum."""
    return _claim_from(_circuit_tables(W_E, W_pos, W_Q, W_K, W_V, W_O, W_U, d_head), closed_form)


def _run_literally(d_model, d_head, W_E, W_pos, W_Q, W_K, W_V, W_O, W_U):
    """The oracle: each model run on the four prompts; its gaps, the normalised signed sum ``sum eps D G / sum D`` and
    ``sum eps G``, with a rounding bound.

    Bound (first order, both evaluations): each logit lies within ``gamma_K`` of its magnitude, the products of
    its factors' absolute values (last_position), with ``K`` the longest chain of roundings (:func:`_chain`); the
    scores within ``gamma_K |x_n| |W_Q| |W_K|^T |x_j|^T`` each, which moves a gap by ``a_j (w_j - G)``
    per unit, at most twice the gap's magnitude; the weights ``D_i / sum D`` carry the scores' error, relative,
    twice.
    """
    m = len(W_E)
    heads = {"W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O}
    layered = {name: w[:, None, None] for name, w in heads.items()}
    prompts = np.broadcast_to(PROMPTS, (m,) + PROMPTS.shape)
    logits, normalisers, magnitude = last_position(prompts, W_E, W_pos, **layered, W_U=W_U, attn_scale=np.sqrt(d_head))
    gaps = logits[..., B] - logits[..., C]
    D = normalisers[..., 0]
    weights = D / D.sum(axis=1, keepdims=True)
    K = _chain(d_model, d_head)
    stream = np.abs(W_E[:, PROMPTS] + W_pos[:, None])  # (m, 4, n, d)
    query_size, key_size = stream[:, :, -1:] @ np.abs(W_Q)[:, None], stream @ np.abs(W_K)[:, None]
    score_size = np.max(query_size @ np.swapaxes(key_size, 2, 3), axis=(2, 3))
    score_error = 2 * gamma(K) * score_size / np.sqrt(d_head)
    # dG/ds_j = a_j (w_j - G): a score error moves the gap by at most 2 (|c| + sum_j a_j |w_j|) times it.
    gap_error = (2 * gamma(K) + 2 * score_error) * (magnitude[..., B] + magnitude[..., C])
    weight_error = 2 * (score_error + N_CTX * UNIT_ROUNDOFF)
    values = np.concatenate([gaps, (weights * gaps) @ EPSILON[:, None], (gaps @ EPSILON)[:, None]], axis=1)
    accuracy = np.concatenate(
        [
            gap_error,
            ((weights * gap_error).sum(axis=1) + 2 * weight_error.max(axis=1) * (weights * np.abs(gaps)).sum(axis=1))[:, None],
            gap_error.sum(axis=1)[:, None],
        ],
        axis=1,
    )
    return values, accuracy


def _chain(d_model: int, d_head: int) -> int:
    """The longest chain of roundings in either evaluation of a gap.

    The claim's readout table is one einsum, which sums ``d_model^2 d_head`` products of four factors in a
    single loop; the oracle's chain of products is ``2 d_model + d_head`` long; the sums over the ``n`` keys
    (the readout's and the softmax's) add ``2 n``; the embeddings' sums, the exponential, the division, the
    residual and the gap's subtraction fewer than 10.
    """
    return d_model**2 * d_head + 2 * d_model + d_head + 2 * N_CTX + 10


def _mutant(**changes):
    """A wrong claim: the tables computed with ``changes`` (no positions, a transposed QK circuit)."""

    def mutant(d_head, W_E, W_pos, W_Q, W_K, W_V, W_O, W_U):
        tables = _circuit_tables(W_E, W_pos, W_Q, W_K, W_V, W_O, W_U, d_head, **changes)
        return _claim_from(tables, induction_one_layer_limit.closed_form())

    return mutant


def _changed(change):
    """A wrong claim: the true one with ``change(claim, arguments)`` applied."""

    def mutant(d_head, W_E, W_pos, W_Q, W_K, W_V, W_O, W_U):
        arguments = {"d_head": d_head, "W_E": W_E, "W_pos": W_pos, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O, "W_U": W_U}
        claim = induction_one_layer_limit.evaluate_claim(**arguments)
        return change(claim, _circuit_tables(W_E, W_pos, W_Q, W_K, W_V, W_O, W_U, d_head))

    return mutant


def _gaps_add_up(claim, tables):
    claim[:, 5] = 0.0
    return claim


def _no_direct_path(claim, tables):
    claim[:, :4] -= tables["c"][:, None]
    claim[:, 5] = claim[:, :4] @ EPSILON
    return claim


def _no_normaliser(claim, tables):
    """Linear attention's gap ``c + sum_j e^(s_j) w_j``: the softmax's denominator left out."""
    for i, prompt in enumerate(CERTIFICATE):
        terms = (np.exp(tables[str(score(j, x))]) * tables[str(readout(j, x))] for j, x in enumerate(prompt))
        claim[:, i] = tables["c"] + sum(terms)
    claim[:, 5] = claim[:, :4] @ EPSILON
    return claim


def _without_scale(d_head, W_E, W_pos, W_Q, W_K, W_V, W_O, W_U):
    """Scores ``q . k`` without the ``1/sqrt(d_head)`` of the model class."""
    tables = _circuit_tables(W_E, W_pos, W_Q, W_K, W_V, W_O, W_U, 1)
    return _claim_from(tables, induction_one_layer_limit.closed_form())


def _hand_model() -> dict[str, np.ndarray]:
    """The anchor's model (``d_model = 8``: token dims 0..2, position dims 3..7; ``d_head = 1``).

    The query is 1 (from position 4's one-hot); keys score ``ln 2`` for a ``B`` and ``ln 3`` at position 1;
    values ``+1`` for ``B``, ``-1`` for ``C`` and ``+1`` at position 0, written into ``B``'s logit; the
    unembedding reads the token dims, so the direct path adds nothing to ``logit_B - logit_C``.
    """
    W_E, W_pos = np.eye(3, 8), np.eye(5, 8, k=3)
    W_Q, W_K, W_V = np.zeros((8, 1)), np.zeros((8, 1)), np.zeros((8, 1))
    W_Q[7, 0] = 1.0
    W_K[1, 0], W_K[4, 0] = np.log(2.0), np.log(3.0)
    W_V[1, 0], W_V[2, 0], W_V[3, 0] = 1.0, -1.0, 1.0
    W_O = np.eye(1, 8, k=1)
    return {"W_E": W_E, "W_pos": W_pos, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O, "W_U": np.eye(8, 3)}


HAND_VALUES = [8 / 11, -1 / 8, 1 / 2, 2 / 9, 0.0, 8 / 11 - 1 / 8 - 1 / 2 - 2 / 9]
"""The anchor worked by hand (:func:`_hand_model`): ``e^s`` is 2 for a ``B``, times 3 at position 1, 1 otherwise;
``w = gamma(x) + delta(j)`` with ``gamma = (0, 1, -1)`` for ``(A, B, C)`` and ``delta(0) = 1``.

* ABBCA: ``e^s = (1, 6, 2, 1, 1)``, ``D = 11``, ``w = (1, 1, 1, -1, 0)``: ``N = 1 + 6 + 2 - 1 = 8``, ``G = 8/11``;
* CCABA: ``e^s = (1, 3, 1, 2, 1)``, ``D = 8``, ``w = (0, -1, 0, 1, 0)``: ``N = -3 + 2 = -1``, ``G = -1/8``;
* CBACA: ``e^s = (1, 6, 1, 1, 1)``, ``D = 10``, ``w = (0, 1, 0, -1, 0)``: ``N = 6 - 1 = 5``, ``G = 1/2``;
* ACBBA: ``e^s = (1, 3, 2, 2, 1)``, ``D = 9``, ``w = (1, -1, 1, 1, 0)``: ``N = 1 - 3 + 2 + 2 = 2``, ``G = 2/9``.

Certificate: ``8 - 1 - 5 - 2 = 0``; the gaps' signed sum ``8/11 - 1/8 - 1/2 - 2/9 = -95/792``. One prompt of four is
right (ABBCA); the gaps do not add up, their normalised, weighted sum does.
"""


def _all_prompts(d_vocab: int, n_ctx: int) -> list[tuple[int, ...]]:
    """Every prompt of length ``n_ctx`` whose last token occurred exactly once before."""
    return [p for p in itertools.product(range(d_vocab), repeat=n_ctx) if previous_occurrence_targets(p)[-1] >= 0]


@functools.lru_cache(maxsize=None)
def _many_heads_accuracy(scale: float = 20.0) -> tuple[float, int]:
    """The one-layer, ``n_ctx``-head construction on every such prompt over the certificate's tokens: (accuracy, prompts)."""
    prompts = np.array(_all_prompts(len(TOKENS), N_CTX))
    weights = {k: v[None] for k, v in one_layer_induction_weights(len(TOKENS), N_CTX, scale).items()}
    logits, _ = attention_only_forward(prompts[None], **weights)
    targets = [p[previous_occurrence_targets(p)[-1] + 1] for p in prompts.tolist()]
    return float(np.mean(logits[0, :, -1].argmax(axis=-1) == targets)), len(prompts)


def _limit_values(d_model, d_head, sigma, W_E, W_pos, W_Q, W_K, W_V, W_O, W_U):
    """The example: one random single-head model's gaps and certificate, the two-head model's exact gaps, many heads."""
    arguments = {"W_E": W_E, "W_pos": W_pos, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O, "W_U": W_U}
    claim = induction_one_layer_limit.evaluate_claim(d_head=d_head, **{k: v[None] for k, v in arguments.items()})[0]
    _, normalisers, _ = last_position(
        np.broadcast_to(PROMPTS, (1,) + PROMPTS.shape),
        W_E[None], W_pos[None], W_Q[None, None, None], W_K[None, None, None], W_V[None, None, None], W_O[None, None, None],
        W_U[None], attn_scale=np.sqrt(d_head),
    )
    D = normalisers[0, :, 0]
    lemmas = induction_one_layer_limit.built_derivation().lemmas
    two_heads = next(d for d in lemmas if d.title == "Two heads get the certificate right")
    exact = [float(g) for g in two_heads.result]
    accuracy, count = _many_heads_accuracy()
    gaps = claim[:4]
    return {
        "prompts": list(CERTIFICATE),
        "targets": ["B" if s > 0 else "C" for s in SIGNS],
        "gaps": gaps.tolist(),
        "weights": (D / D.sum()).tolist(),
        "certificate": float(claim[4]),
        "gap_sum": float(claim[5]),
        "right": int(np.sum(np.sign(gaps) == EPSILON)),
        "two_head_gaps": exact,
        "two_head_right": int(np.sum(np.sign(exact) == EPSILON)),
        "many_heads_accuracy": accuracy,
        "many_heads_prompts": count,
    }


induction_one_layer_limit = Theorem(
    id="induction-one-layer-limit",
    title="One attention layer with one head cannot do induction: a four-prompt certificate",
    topic="circuits",
    statement=(
        r"Let the model class be one attention layer with one head, any width $d_{\mathrm{model}}$ and head size "
        r"$d_{\mathrm{head}}$, token and positional embeddings added, causal softmax attention "
        r"($q \cdot k / \sqrt{d_{\mathrm{head}}}$), a residual connection and a linear readout at the last position "
        r"(no MLP, no layer norm). At the last position key $j$'s score $s_{j, x_j}$ and value readout $w_{j, x_j}$ "
        r"depend only on the pair $(j, x_j)$, so the logit gap $G = \mathrm{logit}_B - \mathrm{logit}_C = c + N/D$ "
        r"has $D G = \sum_j e^{s_{j, x_j}} (c + w_{j, x_j})$, additive over (position, token) pairs. The prompts "
        r"ABBCA, CCABA (targets B by the previous-occurrence rule) and CBACA, ACBBA (targets C) have the same pairs "
        r"in both halves, so $\sum_i \epsilon_i D_i G_i / \sum_i D_i = 0$ with $\epsilon = (+1, +1, -1, -1)$ for "
        r"every model of the class: as $D_i > 0$, the gaps cannot all have the right sign, and at most 3 of the 4 "
        r"prompts are predicted right, at any width. The gaps themselves need not sum to zero. With two heads "
        r"$D_1 D_2 G$ has cross terms over pairs of positions, and a two-head model (exact rationals) gets all four "
        r"right; with $n$ heads one layer predicts every prompt of length $n$ whose last token occurred once."
    ),
    assumptions=(
        r"the class's prediction is the argmax of the logits; a right prediction of B needs $G > 0$, of C $G < 0$",
        r"the check draws random models of the class (Gaussian weights, $W_Q$ scaled by $\sigma$) and compares the "
        r"gaps in the circuits form with the model run literally; the certificate itself is proved symbolically "
        r"for every model (the scores and readouts are free symbols)",
        r"with an MLP after the attention (Sanford et al.'s class) the prediction is no longer the sign of an "
        r"additive sum and this certificate does not apply",
    ),
    sources=(ELHAGE, SANFORD_2023, SANFORD_2024, SYLLABUS),
    parameters={
        "d_model": Integer(1, 8, shape=True, default=4),
        "d_head": Integer(1, 4, shape=True, default=2),
        "sigma": Real(0.1, 3.0, log=True, default=1.0),
    },
    inputs=_models,
    derivation=certificate,
    assemble=_assemble,
    oracle=_run_literally,
    mutants={
        "the logit gaps themselves add up: G_1 + G_2 = G_3 + G_4": _changed(_gaps_add_up),
        "positions play no part (a bag of tokens)": _mutant(positions=False),
        "QK circuit transposed: the key position queries the last one": _mutant(transposed=True),
        "no direct path (c = 0)": _changed(_no_direct_path),
        "no softmax normaliser (linear attention)": _changed(_no_normaliser),
        "scores without 1/sqrt(d_head)": _without_scale,
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "no fixed tolerance: the oracle states, per instance and entry, a first-order rounding bound (Higham, "
            "section 3.5) for two evaluations that associate differently: each gap within 2 gamma_K of its "
            "magnitude |x_n||u| + sum_j a_j |x_j||W_V||W_O||u|, |u| = |W_U^B| + |W_U^C|: the products of the factors' "
            "absolute values "
            "(K = d_model^2 d_head + 2 d_model + d_head + 20: the claim's readout einsum is one sum of d_model^2 "
            "d_head products), plus the "
            "scores' error (2 gamma_K |x_n||W_Q||W_K|^T|x_j|^T / sqrt(d_head)) times twice that magnitude (dG/ds_j = "
            "a_j (w_j - G)); the normalised certificate within the weighted gap errors plus the weights' relative "
            "error; the signed sum within the sum of the gap errors. The certificate's claim is an exact 0. Over 40 "
            "seeds of 1000 instances the largest error is 0.081 of this budget, and 0.099 at 50000 instances (seed "
            "4), where a bound on the absolute values of the products themselves, whose sums can cancel, was "
            "exceeded (1.02 of it)"
        ),
    ),
    example={"d_model": 4, "d_head": 2, "sigma": 1.0},
    anchors=(
        Anchor(
            {"d_model": 8, "d_head": 1},
            HAND_VALUES,
            "worked by hand (module checkers.circuits.induction_limit, HAND_VALUES): gaps 8/11, -1/8, 1/2, 2/9, "
            "certificate 0, signed sum -95/792",
            rtol=1e-14,
            atol=1e-15,
            inputs=_hand_model(),
        ),
    ),
    values=_limit_values,
    variants={"sigma": Real(0.3, 3.0)},
    questions={
        "gaps": (
            r"A one-layer transformer has one attention head, any width, token and positional embeddings and a linear "
            r"readout at the last position. Show that its logit gap $\mathrm{logit}_B - \mathrm{logit}_C$ at the last "
            r"position, times the softmax denominator, is a sum over positions of terms that depend only on the position "
            r"and its token. Compute the gaps for the given model on ABBCA, CCABA, CBACA, ACBBA."
        ),
        "certificate": (
            r"Use these four prompts to prove that no such model predicts the token after the previous occurrence of "
            r"the last token on all of them. How many can it get right?"
        ),
        "two_head_gaps": (
            r"Find a one-layer model with two heads that gets all four right. Does this contradict the claim that "
            r"induction heads require two layers? Where does that claim hold?"
        ),
    },
    errata=(
        Erratum(
            source="seed 000",
            section="hours 7-8, circuit complexity",
            stated=r"Rigorous proof that induction heads require $L \ge 2$ layers due to the necessity of K-composition.",
            corrected=(
                r"an induction \emph{head} (a head whose keys read a previous-token head's output) needs two layers by "
                r"definition; the induction \emph{task} needs two layers only in bounded classes: one attention head with "
                r"a linear readout fails at any width (at most 3 of this theorem's 4 prompts), but one layer with two "
                r"heads gets the 4 prompts right and one layer with $n$ heads solves every prompt of length $n$; with "
                r"an MLP, one layer needs size (heads $\times$ width $\times$ precision) linear in $n$ (Sanford, Hsu, "
                r"Telgarsky 2024), against logarithmic size for two layers"
            ),
            evidence=(
                r"the certificate (proved for every single-head model, checked on random models), the two-head model's "
                r"exact gaps (proved), and the $n$-head one-layer construction, right on all 96 prompts of length 5 over "
                r"3 tokens whose last token occurred once (worked example)"
            ),
            kind="ambiguous",
            readings=(
                r"an induction head, the K-composition mechanism, needs a head in an earlier layer: true by definition",
                r"no one-layer transformer performs the induction task: true for one head with a linear readout (any "
                r"width); false with two heads on the certificate, and with $n$ heads on all prompts of length $n$; "
                r"with an MLP, one layer must grow with $n$ (Sanford et al. 2024): a statement about size, not possibility",
            ),
        ),
    ),
)
