"""The trigonometric algorithm for modular addition (Nanda et al. 2023), derived (SymPy only).

* :func:`cos_of_sum`, :func:`sin_of_sum`: the products the network forms from ``cos(w_k a)``,
  ``sin(w_k a)``, ``cos(w_k b)``, ``sin(w_k b)`` are ``cos(w_k (a + b))`` and ``sin(w_k (a + b))``,
  by the product-to-sum formulas;
* :func:`trig_logits`: reading them against ``cos(w_k c)`` and ``sin(w_k c)`` gives the logit
  ``cos(w_k (a + b - c))`` of frequency ``k``, a function of ``s = a + b`` and ``c`` only; with
  ``w_k = 2 pi k / p`` it is ``cos(2 pi k (s - c) / p)``, the closed form the checker sums over the
  key frequencies;
* :func:`logit_gap`, :func:`maximum_attained`: each frequency's logit is at most 1, with equality
  at ``c = a + b`` (mod ``p``): the sum over any set ``K`` of key frequencies is at most ``|K|``,
  attained at the right answer.

That only the right answer attains it (for prime ``p``) is Euclid's lemma, stated as an assumption
of the theorem and checked exhaustively by the numeric checker.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, expand, identity, lemma, rewrite, substitute

NANDA = "Nanda, Chan, Lieberum, Smith and Steinhardt 2023, Progress measures for grokking via mechanistic interpretability"

a, b, c, s = sp.symbols("a b c s", integer=True)
k, p = sp.symbols("k p", integer=True, positive=True)
m, j = sp.symbols("m j", integer=True)
omega = sp.Symbol("omega_k", positive=True)
"""``w_k``, the angular frequency of key frequency ``k`` (``2 pi k / p`` once substituted)."""

FREQUENCY = r"$\omega_k = 2 \pi k / p$ for an integer frequency $k$, $1 \le k \le (p - 1)/2$"
PRODUCT_TO_SUM = (
    r"product-to-sum formulas $\cos x \cos y = \tfrac12[\cos(x - y) + \cos(x + y)]$, "
    r"$\sin x \sin y = \tfrac12[\cos(x - y) - \cos(x + y)]$, $\sin x \cos y = \tfrac12[\sin(x + y) + \sin(x - y)]$"
)

_HALF = sp.Rational(1, 2)


def _half(*terms: sp.Expr) -> sp.Expr:
    """``(t_1 + t_2 + ...) / 2`` kept as written (SymPy would distribute the 1/2 and cancel the terms)."""
    return sp.Mul(_HALF, sp.Add(*terms, evaluate=False), evaluate=False)


def _cos_product() -> sp.Expr:
    """What the network forms for the cosine: ``cos(w a) cos(w b) - sin(w a) sin(w b)``."""
    return sp.cos(omega * a) * sp.cos(omega * b) - sp.sin(omega * a) * sp.sin(omega * b)


def _sin_product() -> sp.Expr:
    """What the network forms for the sine: ``sin(w a) cos(w b) + cos(w a) sin(w b)``."""
    return sp.sin(omega * a) * sp.cos(omega * b) + sp.cos(omega * a) * sp.sin(omega * b)


def cos_of_sum() -> Derivation:
    """``cos(w a) cos(w b) - sin(w a) sin(w b) = cos(w (a + b))``, by the product-to-sum formulas.

    Nanda et al. 2023, section 4 (the MLP computes ``cos(w_k (a + b))`` from the embeddings'
    ``cos(w_k a)``, ``sin(w_k a)``, ``cos(w_k b)``, ``sin(w_k b)``).
    """
    difference, total = sp.cos(omega * (a - b)), sp.cos(omega * (a + b))
    return (
        Derivation(
            "The cosine of the sum from the products",
            _cos_product(),
            start_note=(
                r"the products of the embeddings' $\cos \omega_k a$, $\sin \omega_k a$, $\cos \omega_k b$, "
                r"$\sin \omega_k b$"
            ),
            assumptions=(FREQUENCY,),
        )
        .then(
            identity("the product-to-sum formulas"),
            sp.Add(_half(difference, total), -_half(difference, -total), evaluate=False),
        )
        .then(expand(r"the $\cos \omega_k (a - b)$ terms cancel"), total, note=r"$\cos \omega_k (a + b)$")
    )


def sin_of_sum() -> Derivation:
    """``sin(w a) cos(w b) + cos(w a) sin(w b) = sin(w (a + b))``, by the product-to-sum formulas."""
    difference, total = sp.sin(omega * (a - b)), sp.sin(omega * (a + b))
    return (
        Derivation(
            "The sine of the sum from the products",
            _sin_product(),
            start_note=r"the other pair of products the network forms",
            assumptions=(FREQUENCY,),
        )
        .then(
            identity("the product-to-sum formulas"),
            sp.Add(_half(total, difference), _half(total, -difference), evaluate=False),
        )
        .then(expand(r"the $\sin \omega_k (a - b)$ terms cancel"), total, note=r"$\sin \omega_k (a + b)$")
    )


def logit_gap() -> Derivation:
    """``1 - cos(w m) = 2 sin^2(w m / 2) >= 0``: each frequency's logit is at most 1.

    Summed over a set ``K`` of key frequencies, with ``m = a + b - c``: the logit is at most
    ``|K|``, and it equals ``|K|`` exactly when every ``sin(w_k m / 2) = sin(pi k m / p)`` is 0.
    """
    return (
        Derivation(
            "Each frequency's logit is at most 1",
            1 - sp.cos(omega * m),
            start_note=r"the gap $1 - \cos \omega_k m$ below the largest value of one term, $m = a + b - c$",
        )
        .then(identity(r"the half-angle formula $1 - \cos 2x = 2 \sin^2 x$"), 2 * sp.sin(omega * m / 2) ** 2)
        .then(rewrite("a square is non-negative"), 0, relation=">=")
    )


def maximum_attained() -> Derivation:
    """``cos(w_k m) = 1`` when ``m = j p`` is a multiple of ``p``: the right answer attains the maximum."""
    return Derivation(
        "The right answer attains the maximum",
        sp.cos(omega * m),
        start_note=r"one term at $m = a + b - c$",
    ).then(
        substitute({omega: 2 * sp.pi * k / p, m: j * p}, why=r"$c \equiv a + b \pmod p$, i.e. $m = j p$"),
        1,
    )


def trig_logits() -> Derivation:
    """Frequency ``k``'s logit for the answer ``c`` is ``cos(2 pi k (a + b - c) / p)``, a function of ``s = a + b``.

    The network reads the two products (:func:`cos_of_sum`, :func:`sin_of_sum`) against the
    unembedding's ``cos(w_k c)`` and ``sin(w_k c)``; the angle-subtraction formula gives
    ``cos(w_k (a + b - c))``. Summed over the key frequencies ``K`` it is
    ``logit(c) = sum_{k in K} cos(w_k (a + b - c))``, at most ``|K|`` (:func:`logit_gap`), with
    equality at ``c = (a + b) mod p`` (:func:`maximum_attained`).
    Nanda et al. 2023, section 4 (the Fourier multiplication algorithm); seed 004, track B.
    """
    cosine, sine = cos_of_sum(), sin_of_sum()
    total_cos, total_sin = cosine.result, sine.result
    return (
        Derivation(
            "The logit of frequency k from the network's products",
            _cos_product() * sp.cos(omega * c) + _sin_product() * sp.sin(omega * c),
            start_note=r"the unembedding reads the products against $\cos \omega_k c$ and $\sin \omega_k c$",
            assumptions=(FREQUENCY,),
            lemmas=(cosine, sine, logit_gap(), maximum_attained()),
        )
        .then(lemma(cosine), total_cos * sp.cos(omega * c) + _sin_product() * sp.sin(omega * c))
        .then(lemma(sine), total_cos * sp.cos(omega * c) + total_sin * sp.sin(omega * c))
        .then(
            identity(r"the angle-subtraction formula $\cos x \cos y + \sin x \sin y = \cos(x - y)$"),
            sp.cos(omega * (a + b - c)),
            label="logit_k",
            note=r"$\cos \omega_k (a + b - c)$: largest where $c \equiv a + b$",
        )
        .then(
            substitute({a: s - b}, why=r"write $s = a + b$: the logit depends on $a$ and $b$ only through their sum"),
            sp.cos(omega * (s - c)),
        )
        .then(substitute({omega: 2 * sp.pi * k / p}), sp.cos(2 * sp.pi * k * (s - c) / p))
    )
