"""Derivations for top-k mixture-of-experts routing (SymPy only; seed 002; Shazeer et al. 2017, Fedus et al. 2022).

A token ``x`` meets ``E`` experts ``f_e`` (feed-forward blocks) and a router with logits ``h = x W_r``; it is
sent to the ``k`` experts with the largest logits only, whose outputs are averaged with gates ``g``,
the softmax of the chosen logits. In Shazeer et al.'s form ``G(x) = Softmax(KeepTopK(h, k))``, where
``KeepTopK`` sets every other logit to ``-inf``:

* :func:`keep_top_k_gates`: a kept expert's gate is ``e^{h_e} / S`` (``S`` the kept logits' exponentials
  summed), the softmax over the top ``k`` alone, and a dropped expert's gate is 0;
* :func:`top_k_as_masked_mixture`: the routed output ``(P F)^T g`` (``P`` selects the chosen rows of the
  experts' outputs ``F``) equals ``F^T G`` with ``G = P^T g``: a dense mixture over all ``E`` experts under
  the sparse mask;
* :func:`expert_flops`: the experts cost ``4 n k d_model d_ff`` FLOPs routed and ``4 n E d_model d_ff`` dense,
  the fraction ``k / E``.
"""

from __future__ import annotations

import sympy as sp
from sympy import MatMul, MatrixSymbol

from proofs.derivation import Derivation, apply_map, limit, ratio, rewrite, substitute

SHAZEER = "Shazeer et al. 2017, Outrageously Large Neural Networks: The Sparsely-Gated Mixture-of-Experts Layer"
FEDUS = "Fedus, Zoph and Shazeer 2022, Switch Transformers (JMLR 23)"
ROUTING = (
    r"one token $x \in \mathbb{R}^{d_{\mathrm{model}}}$, router logits $h = x W_r \in \mathbb{R}^E$ with no ties among "
    r"the top $k \le E$, experts $f_e(x) = \mathrm{relu}(x W_1^e) W_2^e$ with $W_1^e \in \mathbb{R}^{d_{\mathrm{model}} "
    r"\times d_{\mathrm{ff}}}$, $W_2^e \in \mathbb{R}^{d_{\mathrm{ff}} \times d_{\mathrm{model}}}$; no gating noise and no "
    r"expert capacity limit (no token is dropped)"
)
FLOP_CONVENTION = (
    r"a product of an $a \times b$ and a $b \times c$ matrix costs $2 a b c$ FLOPs (a multiply and an add per "
    r"term, torch's FlopCounterMode); the activation, the gates and the sum are not counted"
)

# --- the gates ------------------------------------------------------------------------------------

h, t = sp.symbols("h t", real=True)
S = sp.Symbol("S", positive=True)
E, k = sp.symbols("E k", integer=True, positive=True)


def keep_top_k_gates() -> Derivation:
    """``softmax(KeepTopK(h))_e`` is ``e^{h_e} / S`` for a kept expert and 0 for a dropped one.

    ``KeepTopK`` keeps the ``k`` largest logits (their exponentials sum to ``S``) and sets the other
    ``E - k`` to ``t -> -inf`` (Shazeer et al. 2017, eq. 3-5). The limit is taken with all of them at
    the same ``t``; each dropped term vanishes on its own, so the order of the limits does not matter.
    """
    start = sp.exp(h) / (S + (E - k) * sp.exp(t))
    return (
        Derivation(
            "Gates of KeepTopK then softmax",
            start,
            start_note=(
                r"the softmax of the kept logits, the expert's $h$ among them ($S$ sums their exponentials), "
                r"and $E - k$ dropped logits set to $t$"
            ),
            assumptions=(ROUTING,),
        )
        .then(
            limit(t, -sp.oo, why="KeepTopK sets the dropped logits to $-\\infty$"),
            sp.exp(h) / S,
            note=r"a kept expert's gate: the softmax over the top $k$ logits alone",
            label="kept",
        )
        .then(
            substitute({h: t}, why="a dropped expert: its own logit is dropped too"),
            sp.exp(t) / (S + (E - k) * sp.exp(t)),
            on="start",
        )
        .then(limit(t, -sp.oo), sp.Integer(0), note="a dropped expert's gate is 0: the mask", label="dropped")
    )


# --- the routed output ----------------------------------------------------------------------------

d_model = sp.Symbol("d_model", integer=True, positive=True)
P = MatrixSymbol("P", k, E)
"""Selects the chosen experts: row ``j`` of ``P`` is the ``i_j``-th standard basis row."""
F = MatrixSymbol("F", E, d_model)
"""Every expert's output on the token, one per row: ``F_e = f_e(x)``."""
g = MatrixSymbol("g", k, 1)
G = MatrixSymbol("G", E, 1)
"""The dense gates ``G = P^T g``: the compiled closed form reads them as an input."""


def top_k_as_masked_mixture() -> Derivation:
    """``(P F)^T g = F^T G`` with ``G = P^T g``: top-k routing is a dense mixture of all experts under a sparse mask.

    ``P F`` holds the ``k`` chosen experts' outputs, the only ones the routed layer computes; ``G``
    puts each chosen gate at its expert and 0 elsewhere, which is ``softmax(KeepTopK(h))`` (lemma
    :func:`keep_top_k_gates`). Symbolic sizes. Shazeer et al. 2017, eq. 1 and 3-5; Fedus et al.
    2022, eq. 2.
    """
    return (
        Derivation(
            "Top-k routing as a masked dense mixture",
            (P * F).T * g,
            start_note=(
                r"the routed output: the $k$ chosen experts' outputs $P F$ (rows $i_1, \dots, i_k$ of $F$), weighted "
                r"by their gates $g = \mathrm{softmax}(P h)$"
            ),
            assumptions=(ROUTING,),
            lemmas=(keep_top_k_gates(), expert_flops()),
        )
        .then(rewrite(r"regroup: $(P F)^\top g = F^\top (P^\top g)$"), MatMul(F.T, MatMul(P.T, g), evaluate=False))
        .then(
            substitute({P.T * g: G}, why="the dense gates"),
            F.T * G,
            note=(
                r"$y = \sum_{e=1}^{E} G_e f_e(x)$ with $G = P^\top g = \mathrm{softmax}(\mathrm{KeepTopK}(h, k))$, zero "
                r"outside the top $k$: a dense mixture under a sparse mask"
            ),
            label="mixture",
        )
    )


# --- the FLOPs -----------------------------------------------------------------------------------

n, d_ff = sp.symbols("n d_ff", integer=True, positive=True)


def expert_flops() -> Derivation:
    """The experts' FLOPs on ``n`` tokens: ``4 n k d_model d_ff`` routed, ``4 n E d_model d_ff`` dense, ratio ``k / E``."""
    per_call = 2 * d_model * d_ff + 2 * d_ff * d_model
    return (
        Derivation(
            "The experts' FLOPs, routed and dense",
            per_call,
            start_note=(
                r"one expert on one token: $x W_1$ ($1 \times d_{\mathrm{model}}$ by "
                r"$d_{\mathrm{model}} \times d_{\mathrm{ff}}$), then $W_2$"
            ),
            assumptions=(FLOP_CONVENTION,),
        )
        .then(
            apply_map(lambda c: n * k * c, why="each of the $n$ tokens calls its $k$ experts"),
            4 * n * k * d_model * d_ff,
            label="routed",
        )
        .then(
            apply_map(lambda c: n * E * c, why="the dense mixture calls all $E$ on every token"),
            4 * n * E * d_model * d_ff,
            on="start",
            label="dense",
        )
        .then(
            ratio({E: k}, why="routed over dense"),
            k / E,
            note=r"the fraction $k / E$ of the dense mixture's expert FLOPs",
            label="fraction",
        )
    )
