"""moe-routing (seed 002; Shazeer et al. 2017, Fedus et al. 2022): top-k routing is a dense mixture under a sparse mask.

The claim is ``(Y, routed FLOPs, dense FLOPs, fraction)``: the output as the compiled closed form
``F^T G`` of :func:`proofs.circuits.moe.top_k_as_masked_mixture`, a dense mixture of *every*
expert's output ``F`` (:func:`numerics.circuits.moe.expert_outputs`) with the gates
``G = softmax(KeepTopK(h, k))`` (the project's masked softmax over numpy's top ``k``), and the FLOP
counts and fraction compiled from the lemma :func:`proofs.circuits.moe.expert_flops`. The oracle
runs the routed layer literally in torch (:func:`numerics.circuits.moe.routed_mixture`: ``torch.topk``,
``torch.softmax`` of the chosen logits, each token sent through its chosen experts' weights only) and counts the
experts' FLOPs with ``FlopCounterMode``, routed and dense; it reaches none of the claim's code.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from checkers.closed_form import compile_closed_form
from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.results import Erratum
from checkers.theorem import Anchor, Theorem
from numerics.attention.kernels import softmax
from numerics.circuits.moe import expert_outputs, mixture_rounding_bound, routed_mixture
from proofs.circuits.moe import FEDUS, FLOP_CONVENTION, ROUTING, SHAZEER, top_k_as_masked_mixture

_FLOPS_LEMMA = 1  # top_k_as_masked_mixture's lemmas: (the gates, the FLOPs)


def _draw(rng, n, n_tokens, d_model, d_ff, E):
    """Standard normal tokens and router; experts with weights of variance ``1 / fan-in``."""
    return {
        "X": rng.standard_normal((n, n_tokens, d_model)),
        "W_r": rng.standard_normal((n, d_model, E)),
        "W_1": rng.standard_normal((n, E, d_model, d_ff)) / math.sqrt(d_model),
        "W_2": rng.standard_normal((n, E, d_ff, d_model)) / math.sqrt(d_ff),
    }


# --- the claim ---------------------------------------------------------------------------------------


def _top_k_mask(logits, k, largest=True) -> np.ndarray:
    """``(..., E)`` booleans marking each token's ``k`` largest logits (smallest with ``largest=False``)."""
    order = np.argsort(-logits if largest else logits, axis=-1)[..., :k]
    mask = np.zeros(logits.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask


def keep_top_k_gates(X, W_r, k) -> np.ndarray:
    """``(m, n, E)``: ``softmax(KeepTopK(x W_r, k))``, the masked softmax over each token's ``k`` largest logits."""
    logits = X @ W_r
    return softmax(logits, mask=_top_k_mask(logits, k))


@functools.lru_cache(maxsize=1)
def _flop_forms():
    """The FLOPs lemma's compiled ``routed``, ``dense`` and ``fraction``."""
    flops = moe_routing.built_derivation().lemmas[_FLOPS_LEMMA]
    return tuple(compile_closed_form(flops.expression(label)) for label in ("routed", "dense", "fraction"))


def _claim(mixture, gates, n_tokens, d_model, d_ff, E, k, X, W_1, W_2):
    """The claim vector from a compiled mixture ``F^T G`` and gates ``(m, n, E)``: every expert runs on every token."""
    m = len(X)
    outputs = expert_outputs(X, W_1, W_2).reshape(m * n_tokens, E, d_model)
    Y = mixture(F=outputs, G=gates.reshape(m * n_tokens, E, 1)).reshape(m, n_tokens * d_model)
    sizes = {"n": n_tokens, "d_model": d_model, "d_ff": d_ff, "E": E, "k": k}
    counts = [np.broadcast_to(form(**sizes), m) for form in _flop_forms()]
    return np.column_stack([Y, *counts])


def _assemble(closed_form, n_tokens, d_model, d_ff, E, k, X, W_r, W_1, W_2):
    return _claim(closed_form, keep_top_k_gates(X, W_r, k), n_tokens, d_model, d_ff, E, k, X, W_1, W_2)


def _routed(n_tokens, d_model, k, X, W_r, W_1, W_2):
    """The oracle: the routed layer run literally, its FLOPs counted by torch, with a rounding bound on its output."""
    Y, gates, routed, dense = routed_mixture(X, W_r, W_1, W_2, k)
    values = np.column_stack([Y.reshape(len(X), -1), routed, dense, routed / dense])
    accuracy = np.zeros_like(values)
    accuracy[:, : n_tokens * d_model] = mixture_rounding_bound(X, W_r, W_1, W_2, gates).reshape(len(X), -1)
    return values, accuracy


# --- mutants ---------------------------------------------------------------------------------------


def _with_gates(gates):
    """The claim's mixture with the gates ``gates(logits, k)`` instead of the KeepTopK softmax."""

    def mutant(n_tokens, d_model, d_ff, E, k, X, W_r, W_1, W_2):
        return _claim(moe_routing.closed_form(), gates(X @ W_r, k), n_tokens, d_model, d_ff, E, k, X, W_1, W_2)

    return mutant


def _with_count(column: int, wrong):
    """The true claim with one of the last three entries (routed, dense, fraction) replaced by ``wrong(...)``."""

    def mutant(n_tokens, d_model, d_ff, E, k, X, W_r, W_1, W_2):
        sizes = {"n_tokens": n_tokens, "d_model": d_model, "d_ff": d_ff, "E": E, "k": k}
        claim = moe_routing.evaluate_claim(**sizes, X=X, W_r=W_r, W_1=W_1, W_2=W_2)
        claim[:, n_tokens * d_model + column] = wrong(n_tokens, d_model, d_ff, E, k)
        return claim

    return mutant


SWITCH_MUTANT = "softmax over all E logits, then masked (gates not renormalised over the top k)"
_MUTANTS = {
    SWITCH_MUTANT: _with_gates(lambda logits, k: softmax(logits) * _top_k_mask(logits, k)),
    "dense soft mixture (softmax over all E logits, no mask)": _with_gates(lambda logits, k: softmax(logits)),
    "uniform gates 1/k on the chosen experts": _with_gates(lambda logits, k: _top_k_mask(logits, k) / k),
    "the k smallest logits chosen": _with_gates(
        lambda logits, k: softmax(logits, mask=_top_k_mask(logits, k, largest=False))
    ),
    "routed FLOPs 2 n k d_model d_ff (one product per expert)": _with_count(0, lambda n, d, f, E, k: 2 * n * k * d * f),
    "fraction 1/E (every token to one expert)": _with_count(2, lambda n, d, f, E, k: 1 / E),
}


# --- anchors ---------------------------------------------------------------------------------------

MOE_ANCHORS = (
    Anchor(
        {"n_tokens": 1, "d_model": 1, "d_ff": 1, "E": 4, "k": 2},
        [18, 8, 16, 1 / 2],
        "by hand: x = 1, logits (ln 3, 0, ln 2, -1), top 2 experts 0 and 2 with gates 3/5 and 2/5, experts "
        "f_e(1) = (10, 20, 30, 40)_e: y = 3/5 * 10 + 2/5 * 30 = 18; FLOPs 4 n k d d_ff = 8 routed, 16 dense",
        rtol=1e-12,
        inputs={
            "X": np.ones((1, 1)),
            "W_r": np.array([[math.log(3), 0.0, math.log(2), -1.0]]),
            "W_1": np.ones((4, 1, 1)),
            "W_2": np.array([10.0, 20.0, 30.0, 40.0]).reshape(4, 1, 1),
        },
    ),
    Anchor(
        {"n_tokens": 2, "d_model": 1, "d_ff": 1, "E": 4, "k": 1},
        [20, 40, 8, 32, 1 / 4],
        "by hand: tokens 1 and -1, router (1, 2, 0, -1): token 1 to expert 1 (gate 1), relu(1) * 20; token -1 to "
        "expert 3 (logit 1), relu(-1 * -1) * 40; FLOPs 4 * 2 * 1 = 8 routed, 4 * 2 * 4 = 32 dense",
        rtol=1e-12,
        inputs={
            "X": np.array([[1.0], [-1.0]]),
            "W_r": np.array([[1.0, 2.0, 0.0, -1.0]]),
            "W_1": np.array([1.0, 1.0, 1.0, -1.0]).reshape(4, 1, 1),
            "W_2": np.array([10.0, 20.0, 30.0, 40.0]).reshape(4, 1, 1),
        },
    ),
)
"""Two anchors worked by hand at their own inputs, laid out as the claim ``(Y, routed FLOPs, dense FLOPs, fraction)``:
with ``d_model = d_ff = 1`` each expert is ``f_e(x) = relu(x w_1^e) w_2^e`` and each product costs 2 FLOPs."""


# --- worked example --------------------------------------------------------------------------------


def _moe_values(n_tokens, d_model, d_ff, E, k, X, W_r, W_1, W_2):
    arguments = {"n_tokens": n_tokens, "d_model": d_model, "d_ff": d_ff, "E": E, "k": k}
    inputs = {"X": X[None], "W_r": W_r[None], "W_1": W_1[None], "W_2": W_2[None]}
    claim = moe_routing.evaluate_claim(**arguments, **inputs)[0]
    size = n_tokens * d_model
    Y, _, routed, dense = routed_mixture(**inputs, k=k)
    gates = keep_top_k_gates(X, W_r, k)
    switch = _MUTANTS[SWITCH_MUTANT](**arguments, **inputs)[0, :size]
    chosen = [sorted(np.flatnonzero(row).tolist()) for row in gates]
    return {
        "logits": X @ W_r,
        "chosen": chosen,
        "gates": gates,
        "Y": claim[:size].reshape(n_tokens, d_model),
        "Y_routed": Y[0],
        "max_difference": float(np.abs(claim[:size] - Y[0].ravel()).max()),
        "flops_routed": int(claim[size]),
        "flops_dense": int(claim[size + 1]),
        "fraction": float(claim[size + 2]),
        "fraction_measured": float(routed[0] / dense[0]),
        "experts_used": len(set().union(*map(set, chosen))),
        "switch_difference": float(np.abs(switch - Y[0].ravel()).max()),
    }


moe_routing = Theorem(
    id="moe-routing",
    title="Top-k mixture-of-experts routing is a dense mixture under a sparse mask",
    topic="circuits",
    statement=(
        r"A mixture-of-experts layer with $E$ experts $f_e$ sends each token $x$ to the $k$ experts with the largest "
        r"router logits $h = x W_r$ and returns $y = \sum_{j=1}^{k} g_j f_{i_j}(x)$, the gates $g$ the softmax of the "
        r"chosen logits. This equals the dense mixture $y = \sum_{e=1}^{E} G_e f_e(x)$ under the sparse mask "
        r"$G = \mathrm{softmax}(\mathrm{KeepTopK}(h, k))$ (Shazeer et al.: the logits outside the top $k$ set to "
        r"$-\infty$), i.e. $G_e = e^{h_e} / \sum_{j \in \mathrm{top}\, k} e^{h_j}$ on the top $k$ and $G_e = 0$ elsewhere. "
        r"Routing computes only $k$ of the $E$ experts: with feed-forward experts of width $d_{\mathrm{ff}}$ the "
        r"experts cost $4 n k\, d_{\mathrm{model}} d_{\mathrm{ff}}$ FLOPs on $n$ tokens instead of the dense "
        r"mixture's $4 n E\, d_{\mathrm{model}} d_{\mathrm{ff}}$, the fraction $k / E$. (Switch Transformers' top-1 "
        r"gate is instead the full softmax's $p_{i}(x)$, not renormalised: a different mask-after-softmax rule.)"
    ),
    assumptions=(
        ROUTING,
        FLOP_CONVENTION,
        r"the regrouping, the gates (as limits) and the FLOP counts are proved for symbolic sizes",
    ),
    sources=(
        f"{SHAZEER}, eq. 1 and 3-5 (KeepTopK)",
        f"{FEDUS}, section 2.1",
        "seed 002, Mixture-of-Experts and Transformers (a dynamically computed sparse mask)",
    ),
    parameters={
        "n_tokens": Integer(1, 4, shape=True, default=4),
        "d_model": Integer(1, 3, shape=True, default=3),
        "d_ff": Integer(1, 3, shape=True, default=3),
        "E": Integer(4, 8, shape=True, default=8),
        "k": Integer(1, 4, shape=True, default=2),
    },
    inputs=_draw,
    derivation=top_k_as_masked_mixture,
    assemble=_assemble,
    oracle=_routed,
    mutants=_MUTANTS,
    tolerance=Deterministic(
        rtol=1e-12,
        atol=0.0,
        reason=(
            "the output's budget is the oracle's stated bound (numerics.circuits.moe.mixture_rounding_bound: "
            "2 gamma_(d_model + d_ff + E + 2) times the gated absolute products, plus the gates' softmax error from "
            "the logits' rounding, Higham section 3.5); FLOP counts are exact integers and their ratio is rounded "
            "once (rtol 1e-12)"
        ),
    ),
    example={"n_tokens": 4, "d_model": 3, "d_ff": 3, "E": 8, "k": 2},
    anchors=MOE_ANCHORS,
    variants={},
    values=_moe_values,
    questions={
        "gates": (
            r"Each token goes to the $k$ experts with the largest router logits, weighted by the softmax of those "
            r"logits. Write the layer as a sum over all $E$ experts: what are the gates $G_e$, and which are zero? "
            r"Compute them for the given tokens."
        ),
        "fraction": (
            r"With feed-forward experts $\mathrm{relu}(x W_1) W_2$, how many FLOPs do the experts cost on the $n$ "
            r"tokens, routed and dense, and what fraction is that?"
        ),
    },
    errata=(
        Erratum(
            source="seed 002",
            section="Mixture-of-Experts and Transformers",
            stated=(
                r"a part of the overall model is activated during each inference run, basically, a dynamically "
                r"computed sparse mask is applied on each run"
            ),
            corrected=(
                r"the mask is computed for each token at each MoE layer: a token activates $k$ of $E$ experts, so the "
                r"experts' compute per token is the fraction $k / E$ of a dense mixture; over a run of many tokens the "
                r"experts used are typically all of them, so a run touches (almost) every parameter"
            ),
            evidence=(
                "the gates are a function of the token (G = softmax(KeepTopK(x W_r, k))); uniformly routed, a given "
                "expert of E = 8 (k = 2) is missed by all of 100 tokens with probability (6/8)^100 = 3e-13"
            ),
            kind="context",
        ),
    ),
)
