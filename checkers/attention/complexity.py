"""``attention-complexity``: exact FLOPs and memory of one softmax and one linear attention layer.

The claim is the derivation's column of counts (proofs.attention.complexity); the oracle runs
the layers in torch under torch's FLOP counter and an allocation counter
(numerics.attention.complexity). Seed 001 ("Computational Complexity"); seed 004, section 4.1.
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.results import Erratum, Plot
from checkers.theorem import Anchor, Theorem
from numerics.attention.complexity import attention_layer_costs, flops_figure
from proofs.attention.complexity import COUNTING_CONVENTION, attention_costs

VASWANI = "Vaswani et al. 2017, Attention Is All You Need"
KATHAROPOULOS = (
    "Katharopoulos, Vyas, Pappas, Fleuret 2020, "
    "Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention"
)

COST_VALUES = ("flops_softmax", "bytes_softmax", "flops_linear", "bytes_linear")
"""The claim's four components, in order."""

DEEP_LAYERS = 6
"""The comparison table's deep transformer (seed 004, section 4.1: L = 6)."""


def _measured(T, d, bytes_per_element):
    """The oracle: per group of equal sizes, a torch run of each layer for each element size (counts need no more)."""
    costs = np.empty((len(bytes_per_element), 4))
    for size in np.unique(bytes_per_element):
        chosen = bytes_per_element == size
        costs[chosen] = attention_layer_costs(T, d, int(size), int(chosen.sum()))
    return costs


def _counts(T, d, bytes_per_element):
    """The derivation's compiled column; ``T``, ``d`` may be one size or an array, ``b`` is ``bytes_per_element``."""
    b = np.asarray(bytes_per_element, dtype=float)
    return attention_complexity.closed_form()(T=np.broadcast_to(T, b.shape), d=np.broadcast_to(d, b.shape), b=b)


def _with(component: int, wrong):
    """The true counts with one component replaced by ``wrong(T, d, bytes_per_element, counts)``."""

    def mutant(T, d, bytes_per_element):
        counts = _counts(T, d, bytes_per_element)
        counts[:, component] = wrong(T, d, bytes_per_element, counts)
        return counts

    return mutant


def _halved_flops(T, d, bytes_per_element):
    counts = _counts(T, d, bytes_per_element)
    counts[:, [0, 2]] /= 2
    return counts


def _cost_values(T, d, bytes_per_element):
    counts = _counts(T, d, np.array([bytes_per_element]))[0]
    values = {name: int(value) for name, value in zip(COST_VALUES, counts)}
    values["flops_deep"] = DEEP_LAYERS * values["flops_softmax"]
    values["bytes_deep"] = DEEP_LAYERS * values["bytes_softmax"]
    crossover = attention_complexity.closed_form("crossover_T")(d=np.array([d]))[0]
    values["crossover_T"] = int(crossover)
    return values


def _cost_figure(d, bytes_per_element):
    """FLOPs against sequence length at the example's ``d``: the compiled closed forms against torch's counts."""
    lengths = np.unique(np.geomspace(1, 256, 40).astype(int))
    counts = _counts(lengths, d, np.full(len(lengths), bytes_per_element))
    figure = flops_figure(lengths, {"softmax": counts[:, 0], "linear": counts[:, 2]}, d, bytes_per_element)
    caption = (
        f"FLOPs of one attention layer at d = {d}: softmax attention grows like T squared once T exceeds d, "
        "linear attention like T; the points are torch's own counts."
    )
    return [Plot(name="flops-versus-length", caption=caption, figure=figure)]


attention_complexity = Theorem(
    id="attention-complexity",
    title="FLOPs and memory of softmax and linear attention (seed 001; project 4.1)",
    topic="attention",
    statement=(
        r"One single-head attention layer on $X \in \mathbb{R}^{T \times d}$ with weights "
        r"$W_Q, W_K, W_V, W_O \in \mathbb{R}^{d \times d}$. Softmax attention, computed as "
        r"$Q, K, V = X W_Q, X W_K, X W_V$; $S = Q K^\top$; $S/\sqrt{d}$; $P = \mathrm{softmax}(S/\sqrt{d})$; "
        r"$H = P V$; $Y = H W_O$, costs exactly $F_{\mathrm{softmax}} = 8 T d^2 + 4 T^2 d$ FLOPs and allocates "
        r"$M_{\mathrm{softmax}} = b\,(3 T^2 + 5 T d)$ bytes ($b$ bytes per element). Linear attention "
        r"$Y = Q (K^\top V) W_O$ costs $F_{\mathrm{linear}} = 12 T d^2$ FLOPs and allocates "
        r"$M_{\mathrm{linear}} = b\,(5 T d + d^2)$ bytes. So softmax attention takes time $\Theta(T^2 d + T d^2)$ "
        r"(that is $O(T^2 d)$ for $T \ge d$) and memory $\Theta(T^2 + T d)$, not $\Theta(T^2 d)$; linear "
        r"attention takes time $\Theta(T d^2)$ and memory $\Theta(T d + d^2)$, and it costs fewer FLOPs than "
        r"softmax attention exactly when $T > d$."
    ),
    assumptions=(
        COUNTING_CONVENTION,
        r"the operations are the ones listed, in that order; a fused kernel (e.g. FlashAttention) never "
        r"stores $S$ and $P$ and allocates $O(T d)$, with the same FLOPs",
        r"the oracle runs the layers in torch without autograd, in float32 ($b = 4$) or float64 ($b = 8$), "
        r"on the meta device (torch dispatches the same aten operations and computes only their shapes; the "
        r"tests show that a CPU run gives the same counts): FLOPs from torch's "
        r"\texttt{FlopCounterMode} (in torch.utils.flop\_counter), bytes as the sum of the sizes of the new storages "
        r"that the layer's aten operations return (views allocate nothing), for one sequence (a batch of $n$ "
        r"sequences costs $n$ times as much)",
    ),
    sources=(
        f"{VASWANI}, section 3.2.1 and table 1",
        f"{KATHAROPOULOS}, section 3.2",
        'seed 001, "Computational Complexity"',
        "seed 004, section 4.1 (comparison table)",
    ),
    parameters={
        "T": Integer(1, 256, shape=True, default=51),
        "d": Integer(1, 64, shape=True, default=11),
        "bytes_per_element": Integer(4, 8, step=4, default=4),
    },
    derivation=attention_costs,
    assemble=lambda closed_form, T, d, bytes_per_element: closed_form(
        T=np.full(len(bytes_per_element), T), d=np.full(len(bytes_per_element), d), b=bytes_per_element
    ),
    oracle=_measured,
    mutants={
        # Seed 001's "O(T^2 d) ... space" taken as an exact count: as if the T x T x d products q_i * k_j were stored.
        "memory b (3 T^2 d + 5 T d): the T^2 d products stored": _with(1, lambda T, d, b, c: b * (3 * T**2 * d + 5 * T * d)),
        "multiply-add = 1 FLOP (factor 2 missing)": _halved_flops,
        "linear attention costs T^2 d like softmax": _with(2, lambda T, d, b, c: c[:, 0]),
        "projections left out (4 T^2 d FLOPs)": _with(0, lambda T, d, b, c: 4 * T**2 * d),
        "one T x T tensor (b (T^2 + 5 T d) bytes)": _with(1, lambda T, d, b, c: b * (T**2 + 5 * T * d)),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.5,
        reason=(
            "both sides are integer counts below 2^53 (at most about 4e7 FLOPs and 2e6 bytes in the domain), "
            "exact in float64; any true disagreement is at least 1, so half a unit separates them"
        ),
    ),
    example={"T": 51, "d": 11, "bytes_per_element": 4},
    values=_cost_values,
    anchors=(
        Anchor(
            {"T": 51, "d": 11, "bytes_per_element": 4},
            (163812, 42432, 74052, 11704),
            "by hand from the listed operations: 6 products T x d x d (Q, K, V, W_O) plus Q K^T and P V, "
            "2 (4 * 51 * 11^2 + 2 * 51^2 * 11) = 163812 FLOPs; 4 (3 * 51^2 + 5 * 51 * 11) = 42432 bytes; "
            "linear: 2 (6 * 51 * 11^2) = 74052 FLOPs, 4 (5 * 51 * 11 + 11^2) = 11704 bytes",
            rtol=0.0,
        ),
        Anchor(
            {"T": 1, "d": 1, "bytes_per_element": 8},
            (12, 64, 12, 48),
            "by hand, one token of width one: the softmax layer's six matrix products (Q, K, V, Q K^T, P V, H W_O) "
            "cost 2 FLOPs each, 12, and its eight tensors are 1 x 1 of 8 bytes, 64; the linear layer's six products "
            "cost 12 FLOPs and its six tensors (Q, K, V, K^T V, H, Y) 48 bytes",
            rtol=0.0,
        ),
    ),
    figures=_cost_figure,
    errata=(
        Erratum(
            source="seed 001",
            section='"Computational Complexity" (explainer)',
            stated=r"Self-attention has $O(T^2 d)$ complexity in time and space.",
            corrected=(
                r"True but loose. Time is $\Theta(T^2 d + T d^2)$: $8 T d^2 + 4 T^2 d$ FLOPs for one layer, which is "
                r"$O(T^2 d)$ once $T \ge d$ (the attention itself, $Q K^\top$ and $P V$, is $4 T^2 d$; the projections add "
                r"$8 T d^2$). Memory is $\Theta(T^2 + T d)$: $b\,(3 T^2 + 5 T d)$ bytes, a factor of order $d$ below "
                r"$T^2 d$; the $T^2 d$ products $q_{i\ell} k_{j\ell}$ are summed as they are formed, never stored."
            ),
            refuted_by=None,
            evidence=(
                "the exact counts (checked against torch's FlopCounterMode and the bytes its operations allocate) satisfy "
                "b (3 T^2 + 5 T d) <= 8 b T^2 d for all T, d >= 1, so O(T^2 d) space holds, but M / (b T^2 d) <= 3/d + 5/T "
                "-> 0 (derivation steps), so it is not tight; time is O(T^2 d) for T >= d and Theta(T d^2) for d >> T"
            ),
            kind="loose",
        ),
    ),
)
