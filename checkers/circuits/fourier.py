"""``modular-addition-fourier`` (Nanda et al. 2023; seed 004, track B): the trigonometric algorithm adds mod p.

The claim, per instance (a prime ``p``, a non-empty set ``K`` of key frequencies, a token ``b``),
is one vector: the argmax over ``c`` of ``logit(a, b', c) = sum_{k in K} cos(2 pi k (a + b' - c) / p)`` for
every pair ``(a, b')`` (``p^2`` answers, exhaustively), then the logits at every ``(a, c)`` for the drawn
``b``. The logits are the derivation's compiled closed form (proofs.circuits.fourier), evaluated at every
``s = a + b`` and ``c`` and summed over ``K``. The oracle is ``(a + b) % p`` computed directly and the
logits computed the way the network computes them (numerics.circuits.fourier.trig_algorithm_logits:
products of the embeddings' cosines and sines from numpy's FFT, read against the unembedding), which
uses no trigonometric identity and none of the claim's code.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.results import Erratum, Plot
from checkers.theorem import Anchor, Theorem
from numerics.circuits.fourier import NANDA_KEY_FREQUENCIES, logit_profile_figure, maximizers, trig_algorithm_logits
from proofs.circuits.fourier import FREQUENCY, NANDA, trig_logits

COMPOSITE_P = 15
"""The composite modulus of the erratum: frequency 5 shares the factor 5 with 15."""


def _frequencies(mask) -> np.ndarray:
    """The key frequencies ``k`` (1-based) marked in a 0/1 row of length ``(p - 1) / 2``."""
    return np.flatnonzero(np.asarray(mask) > 0.5) + 1


def _draw(rng, n, p):
    """A random non-empty set of key frequencies per instance and a token ``b``.

    The set's size is log-uniform in ``1..(p-1)/2``: trained networks use a handful of frequencies
    (Nanda et al.'s uses 5 of 56), and every size down to a single frequency and up to all of them is drawn.
    """
    half = (p - 1) // 2
    sizes = np.clip(np.exp(rng.uniform(0, np.log(half + 1), size=n)).astype(int), 1, half)
    ranks = np.argsort(rng.random((n, half)), axis=1).argsort(axis=1)  # a random permutation per row
    return {"key_frequencies": (ranks < sizes[:, None]).astype(float), "b": rng.integers(0, p, size=n)}


ROWS = 16
"""Values of ``u`` per block of :func:`_logits`: the per-frequency table is built a block at a time (at ``p = 113`` a
block is 56 x 16 x 113 values, 0.8 MB; the whole table, 11 MB, took several times that in temporaries)."""


def _logits(logit, key_frequencies, p):
    """``(n, 2p - 1, p)``: ``sum_{k in K} logit(k, u, c)`` for every ``u = 0..2p-2`` and answer ``c``, per instance.

    ``logit(k, u, c)`` is evaluated on every frequency ``k = 1..(p-1)/2``, ``ROWS`` values of ``u`` at a time, and
    each block's table is summed over the instance's ``K`` (its 0/1 row of ``key_frequencies``) into its rows.
    """
    n, frequencies = len(key_frequencies), np.arange(1, (p - 1) // 2 + 1)
    logits = np.empty((n, 2 * p - 1, p))
    for start in range(0, 2 * p - 1, ROWS):
        rows = np.arange(start, min(start + ROWS, 2 * p - 1))
        k, u, c = np.meshgrid(frequencies, rows, np.arange(p), indexing="ij")
        table = logit(k.ravel(), u.ravel(), c.ravel()).reshape(len(frequencies), -1)
        logits[:, rows] = (key_frequencies @ table).reshape(n, len(rows), p)
    return logits


def _layout(logits, b, p, index):
    """The claim's layout from the summed logits over ``u = index(a, b)``: every pair's argmax, then the logits at ``b``.

    ``argmax`` takes the first of tied maxima; the logits of the right answer exceed every other by
    at least ``1 - cos(2 pi / p) >= 1.5e-3``, far above float64 rounding, so no tie is near.
    """
    n = len(logits)
    tokens = np.arange(p)
    answers = logits.argmax(axis=-1)[:, index(tokens[:, None], tokens[None, :], p)]  # (n, a, b')
    at_b = logits[np.arange(n)[:, None], index(tokens[None, :], np.asarray(b, dtype=int)[:, None], p)]  # (n, a, c)
    return np.concatenate([answers.reshape(n, -1), at_b.reshape(n, -1)], axis=1, dtype=float)


def _by_sum(a, b, p):
    """The derived logits depend on ``a`` and ``b`` through ``s = a + b`` (0..2p-2)."""
    return a + b


def _by_difference(a, b, p):
    """A mutant's logits that depend on ``a - b`` instead, shifted to 0..2p-2."""
    return a - b + p - 1


def _claim(closed_form, p, key_frequencies, b):
    """The compiled ``cos(2 pi k (s - c) / p)`` at every ``s = a + b`` and ``c``, summed over ``K`` and laid out."""
    logits = _logits(lambda k, s, c: closed_form(k=k, s=s, c=c, p=np.full(k.shape, p)), key_frequencies, p)
    return _layout(logits, b, p, _by_sum)


def _direct(p, key_frequencies, b):
    """The oracle: ``(a + b) % p`` for every pair, and the network's logits at ``b`` (one instance at a time)."""
    tokens = np.arange(p)
    values = np.empty((len(b), 2 * p * p))
    values[:, : p * p] = ((tokens[:, None] + tokens[None, :]) % p).ravel()
    for row, mask, b_i in zip(values[:, p * p :], key_frequencies, b):
        row[:] = trig_algorithm_logits(tokens, b_i, _frequencies(mask), p).ravel()
    return values


def _wrong(logit, index=_by_sum):
    """A mutant: a wrong per-frequency logit ``logit(k, u, c, p)`` over ``u = index(a, b)``, laid out as the claim."""

    def mutant(p, key_frequencies, b):
        return _layout(_logits(lambda k, u, c: logit(k, u, c, p), key_frequencies, p), b, p, index)

    return mutant


def _worked_anchor_values(p, frequencies, b):
    """Every pair's answer and the row at ``b``, from the hand result ``sum_k cos(w_k m) = |K|`` at ``m = 0`` and
    ``-1/2`` elsewhere (``K`` all of ``1..(p-1)/2``: the ``p``-th roots of unity other than 1 sum to ``-1``)."""
    top = len(frequencies)
    answers = [(x + y) % p for x in range(p) for y in range(p)]
    row = [top if c == (x + b) % p else -0.5 for x in range(p) for c in range(p)]
    return answers + row


def _mask(p, frequencies):
    return [1.0 if k in frequencies else 0.0 for k in range(1, (p - 1) // 2 + 1)]


FOURIER_ANCHORS = (
    Anchor(
        {"p": 3},
        [0, 1, 2, 1, 2, 0, 2, 0, 1, -0.5, 1, -0.5, -0.5, -0.5, 1, 1, -0.5, -0.5],
        "by hand: p = 3, K = {1}, b = 1: answers (a + b) mod 3 = [[0, 1, 2], [1, 2, 0], [2, 0, 1]]; "
        "logit(a, 1, c) = cos(2 pi (a + 1 - c)/3) is 1 at c = a + 1 (mod 3) and cos(2 pi/3) = -1/2 elsewhere",
        rtol=0.0,
        atol=1e-12,
        inputs={"key_frequencies": _mask(3, (1,)), "b": 1},
    ),
    Anchor(
        {"p": 5},
        _worked_anchor_values(5, (1, 2), 2),
        "by hand: p = 5, K = {1, 2}, b = 2: at m = a + b - c = 0 (mod 5) the logit is 2; elsewhere "
        "cos 72 deg + cos 144 deg = (sqrt 5 - 1)/4 - (sqrt 5 + 1)/4 = -1/2",
        rtol=0.0,
        atol=1e-12,
        inputs={"key_frequencies": _mask(5, (1, 2)), "b": 2},
    ),
    Anchor(
        {"p": 113},
        _worked_anchor_values(113, tuple(range(1, 57)), 0),
        "by hand: p = 113, all 56 frequencies, b = 0: sum_{k=1}^{56} cos(2 pi k m/113) = 56 at m = 0 (mod 113) and "
        "(sum of the 113th roots of unity other than 1)/2 = -1/2 elsewhere",
        rtol=0.0,
        atol=1e-9,
        inputs={"key_frequencies": _mask(113, tuple(range(1, 57))), "b": 0},
    ),
)
"""Three anchors worked by hand at their own inputs, laid out as the claim (the ``p^2`` answers ``(a + b) mod p``,
then the logits at ``b`` row by row, ``a`` then ``c``). The answers are the definition of addition mod ``p``; the
logits are ``|K|`` at the right answer and ``-1/2`` elsewhere in each case: ``cos(2 pi / 3) = -1/2``;
``cos 72 deg + cos 144 deg = -1/2`` (both at ``m = 1, 4`` and at ``m = 2, 3``); and with all ``(p - 1)/2`` frequencies
``sum_k cos(2 pi k m / p) = (sum_{k=1}^{p-1} e^{2 pi i k m / p}) / 2 = -1/2`` for ``m`` not a multiple of ``p``."""


def _profile(p, frequencies):
    """``sum_{k in K} cos(2 pi k m / p)`` for ``m = 0..p-1``, from the compiled closed form (``s = m``, ``c = 0``)."""
    frequencies = np.asarray(frequencies, dtype=float)
    m = np.arange(p, dtype=float)
    k, s = np.meshgrid(frequencies, m, indexing="ij")
    closed_form = modular_addition_fourier.closed_form()
    logits = closed_form(k=k.ravel(), s=s.ravel(), c=np.zeros(k.size), p=np.full(k.size, float(p)))
    return logits.reshape(k.shape).sum(axis=0)


def _fourier_values(p, key_frequencies, b):
    """The example's frequencies, one pair worked out, the exhaustive count, Nanda et al.'s set, the composite caveat."""
    frequencies = _frequencies(key_frequencies)
    claim = modular_addition_fourier.evaluate_claim(p=p, key_frequencies=key_frequencies[None], b=np.array([b]))[0]
    answers, at_b = claim[: p * p].reshape(p, p), claim[p * p :].reshape(p, p)
    a = p - 1  # so that a + b wraps around: the answer is b - 1 (mod p)
    row = at_b[a]
    answer = (a + int(b)) % p
    others = np.delete(np.arange(p), answer)
    runner_up = int(others[np.argmax(row[others])])
    tokens = np.arange(p)
    nanda = _profile(113, NANDA_KEY_FREQUENCIES)
    composite = trig_algorithm_logits(0, 0, (COMPOSITE_P // 3,), COMPOSITE_P)
    coprime = trig_algorithm_logits(0, 0, (3, COMPOSITE_P // 3), COMPOSITE_P)
    return {
        "key_frequencies": frequencies.tolist(),
        "a": a,
        "b": int(b),
        "answer": answer,
        "logit_answer": float(row[answer]),
        "runner_up": runner_up,
        "logit_runner_up": float(row[runner_up]),
        "margin": float(row[answer] - row[runner_up]),
        "pairs": p * p,
        "pairs_correct": int(np.count_nonzero(answers == (tokens[:, None] + tokens[None, :]) % p)),
        "nanda_frequencies": list(NANDA_KEY_FREQUENCIES),
        "nanda_margin": float(nanda[0] - nanda[1:].max()),
        "composite_p": COMPOSITE_P,
        "composite_frequency": COMPOSITE_P // 3,
        "composite_maximizers": int(maximizers(composite)),
        "composite_maximizers_with_3": int(maximizers(coprime)),
    }


def _fourier_figures(seed, p):
    rng = np.random.default_rng(seed)
    drawn = _frequencies(_draw(rng, 1, p)["key_frequencies"][0])
    profiles = {f"K = {{{', '.join(map(str, drawn))}}}": _profile(p, drawn)}
    if p == 113:
        profiles["K = {14, 35, 41, 42, 52} (Nanda et al.)"] = _profile(p, NANDA_KEY_FREQUENCIES)
    caption = (
        f"The logit $\\sum_{{k \\in K}} \\cos(2 \\pi k m / p)$ at $p = {p}$ against $m = a + b - c$ (mod $p$), from the "
        "derived closed form: a single peak of height $|K|$ at $m = 0$, the right answer, for a random set of key "
        f"frequencies (seed {seed})" + (" and for Nanda et al.'s five." if p == 113 else ".")
    )
    return [Plot(name="logit-profile", caption=caption, figure=logit_profile_figure(profiles, p))]


modular_addition_fourier = Theorem(
    id="modular-addition-fourier",
    title="The trigonometric algorithm for modular addition (Fourier circuit)",
    topic="circuits",
    statement=(
        r"Let $p$ be prime, $\omega_k = 2 \pi k / p$, and $K \subseteq \{1, \dots, (p - 1)/2\}$ a non-empty set of key "
        r"frequencies. From $\cos \omega_k a$, $\sin \omega_k a$, $\cos \omega_k b$, $\sin \omega_k b$ the products "
        r"$\cos \omega_k a \cos \omega_k b - \sin \omega_k a \sin \omega_k b = \cos \omega_k (a + b)$ and "
        r"$\sin \omega_k a \cos \omega_k b + \cos \omega_k a \sin \omega_k b = \sin \omega_k (a + b)$, read against "
        r"$\cos \omega_k c$ and $\sin \omega_k c$, give the logits "
        r"$\mathrm{logit}(c) = \sum_{k \in K} \cos \omega_k (a + b - c)$. Each term is at most 1, with equality exactly "
        r"when $p \mid k (a + b - c)$, i.e. (as $p$ is prime and $p \nmid k$) when $c \equiv a + b \pmod p$; so for every "
        r"$a, b \in \{0, \dots, p - 1\}$ the argmax over $c$ is $(a + b) \bmod p$, attained there only, with the value "
        r"$|K|$. "
        r"For composite $p$ this needs $\gcd(p, K) = 1$: frequencies that share a factor $g$ with $p$ tie $g$ answers."
    ),
    assumptions=(
        FREQUENCY,
        r"$p$ is prime; the strictness of the maximum ($\cos \omega_k m < 1$ for $m \not\equiv 0$) is Euclid's lemma "
        r"($p \mid k m$ and $p \nmid k$ imply $p \mid m$), not a derivation step: the checker confirms it exhaustively, "
        r"the argmax at every one of the $p^2$ pairs, for every prime $p \le 113$",
        r"the logits are those of the algorithm with unit weight per key frequency; a trained network weights them "
        r"unequally (Nanda et al.), which keeps the argmax (each weighted term is still largest at $c \equiv a + b$)",
    ),
    sources=(
        f"{NANDA}, section 4 (the Fourier multiplication algorithm) and section 4.1 (key frequencies)",
        "seed 004, project track B, 3.3",
    ),
    parameters={
        "p": Integer(3, 113, shape=True, default=113, where=sp.isprime, condition="p prime"),
    },
    inputs=_draw,
    derivation=trig_logits,
    assemble=_claim,
    oracle=_direct,
    mutants={
        "w_k = pi k / p (half the frequency)": _wrong(lambda k, u, c, p: np.cos(np.pi * k * (u - c) / p)),
        "sin instead of cos": _wrong(lambda k, u, c, p: np.sin(2 * np.pi * k * (u - c) / p)),
        "cos(w_k (a - b + c))": _wrong(lambda k, u, c, p: np.cos(2 * np.pi * k * (u - (p - 1) + c) / p), _by_difference),
        "cos(w_k (a + b + c)) (angle addition in the unembedding)": _wrong(
            lambda k, u, c, p: np.cos(2 * np.pi * k * (u + c) / p)
        ),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=1e-10,
        reason=(
            "the answers are integers and must agree exactly. A logit is a sum of |K| <= 56 cosines; the claim's "
            "argument 2 pi k (s - c) / p has |argument| <= 4 pi 56 < 704 and three roundings, so each cosine is off by at "
            "most 704 * 3u + u < 2.5e-13 (u = 2^-53), the sum by under 56 * 2.5e-13 + 56 u * 56 < 1.5e-11; the oracle's "
            "FFT cosines and sines are accurate to a few u log2 p, and its products and sums of 2|K| terms add under "
            "1e-13. atol 1e-10 leaves a factor of 6 over both; a wrong logit differs by O(0.1) at least somewhere"
        ),
    ),
    example={"p": 113},
    anchors=FOURIER_ANCHORS,
    values=_fourier_values,
    figures=_fourier_figures,
    variants={},
    questions={
        "answer": (
            r"A network embeds each token $x$ as $(\cos \omega_k x, \sin \omega_k x)$ for a few key frequencies "
            r"$\omega_k = 2 \pi k / p$. Using only products of these coordinates and the product-to-sum formulas, show "
            r"how it can compute $\cos \omega_k (a + b)$ and $\sin \omega_k (a + b)$, and how reading them against "
            r"$\cos \omega_k c$, $\sin \omega_k c$ gives the logit $\cos \omega_k (a + b - c)$. For the given key "
            r"frequencies, $p$, $a$ and $b$: which $c$ gets the largest logit?"
        ),
        "margin": r"By how much does the right answer's logit exceed the next best one here?",
        "composite_maximizers": (
            r"Why does the argument need $p$ prime? Take $p = 15$ and the single key frequency $k = 5$: how many answers "
            r"$c$ tie for the largest logit at $a = b = 0$?"
        ),
    },
    errata=(
        Erratum(
            source="seed 004",
            section="project track B, 3.3 step 5",
            stated=(
                r"The model should learn to map tokens to frequencies $\omega_k = 2 \pi k / p$ (for "
                r"$c = (a + b) \bmod p$, with $p = 113$)."
            ),
            corrected=(
                r"True for $p = 113$, which is prime: any non-empty set of key frequencies then makes the trigonometric "
                r"algorithm's argmax $(a + b) \bmod p$. If $p$ is changed to a composite number, the key frequencies "
                r"must satisfy $\gcd(p, k_1, \dots, k_r) = 1$: frequencies sharing a factor $g$ with $p$ give $g$ tied "
                r"answers ($p = 15$, $k = 5$: five)."
            ),
            evidence=(
                "trig_algorithm_logits(0, 0, [5], 15) is 1 at c = 0, 3, 6, 9, 12 (five maximizers); with k = 3 and 5 "
                "(gcd(15, 3, 5) = 1) the maximum is at c = 0 only; for prime p the check covers all p^2 pairs"
            ),
            kind="context",
        ),
    ),
)
