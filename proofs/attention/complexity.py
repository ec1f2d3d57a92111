"""Exact FLOP and memory counts of one attention layer (SymPy only).

The layer is written as a program of tensor operations (:data:`SOFTMAX_PROGRAM`,
:data:`LINEAR_PROGRAM`); each count is the sum, over the program's operations, of that
operation's cost, and :func:`attention_costs` collects, factors and compares the sums
(seed 001, "Computational Complexity"; seed 004, section 4.1, the comparison table).

Counting conventions, the same as ``torch.utils.flop_counter.FlopCounterMode``:

* a product of an ``m x k`` and a ``k x n`` matrix costs ``2 m k n`` FLOPs (one multiply
  and one add per term: a multiply-add is 2 FLOPs);
* pointwise operations (the ``1/sqrt(d)`` scaling, the softmax) cost no FLOPs in this
  count (torch counts only matrix products); they are ``O(T^2)``, below the ``O(T^2 d)`` of
  the products, and they do allocate memory;
* memory is the number of bytes of the tensors the layer allocates (its intermediates and
  its output, ``b`` bytes per element), the input and the weights excluded: the total a forward
  pass writes. Its peak is lower when intermediates are freed early (``S`` once scaled), and a
  fused kernel never forms ``S`` and ``P``; the count is for the operations as listed.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, expand, limit, rewrite, solve_for

T, d, b = sp.symbols("T d b", integer=True, positive=True)
COUNTS = sp.MatrixSymbol("M", 4, 1)
"""Stands for the column of counts ``(F_softmax, M_softmax, F_linear, M_linear)`` in the steps that read one off."""

COUNTING_CONVENTION = (
    r"a product of an $m \times k$ by a $k \times n$ matrix costs $2 m k n$ FLOPs (a multiply-add is "
    r"2 FLOPs, as torch's \texttt{FlopCounterMode} counts it); pointwise operations (scaling, softmax) are "
    r"not counted as FLOPs; memory is the bytes of the tensors the layer allocates, $b$ per element, "
    r"input and weights excluded"
)

# Each operation: (what it computes, its matrix product (m, k, n) or None, the shape of what it allocates).
SOFTMAX_PROGRAM = (
    ("Q = X W_Q", (T, d, d), (T, d)),
    ("K = X W_K", (T, d, d), (T, d)),
    ("V = X W_V", (T, d, d), (T, d)),
    ("S = Q K^T", (T, d, T), (T, T)),
    ("S / sqrt(d)", None, (T, T)),
    ("P = softmax(S / sqrt(d))", None, (T, T)),
    ("H = P V", (T, T, d), (T, d)),
    ("Y = H W_O", (T, d, d), (T, d)),
)
"""Single-head softmax attention with ``d x d`` projections ``W_Q, W_K, W_V, W_O`` (Vaswani et al. 2017, eq. 1)."""

LINEAR_PROGRAM = (
    ("Q = X W_Q", (T, d, d), (T, d)),
    ("K = X W_K", (T, d, d), (T, d)),
    ("V = X W_V", (T, d, d), (T, d)),
    ("M = K^T V", (d, T, d), (d, d)),
    ("H = Q M", (T, d, d), (T, d)),
    ("Y = H W_O", (T, d, d), (T, d)),
)
"""Linear attention without softmax, ``Y = Q (K^T V) W_O`` (Katharopoulos et al. 2020; seed 004, track A)."""


def matmul_flops(m, k, n) -> sp.Expr:
    """FLOPs of an ``m x k`` by ``k x n`` product: ``m n`` outputs, each ``k`` multiply-adds of 2 FLOPs."""
    return 2 * m * k * n


def program_flops(program) -> sp.Expr:
    """The unevaluated sum of the program's matrix-product costs, one term per product."""
    return sp.Add(*(matmul_flops(*product) for _, product, _ in program if product), evaluate=False)


def program_bytes(program) -> sp.Expr:
    """The unevaluated sum of the bytes the program allocates, one term per tensor."""
    return sp.Add(*(b * rows * cols for _, _, (rows, cols) in program), evaluate=False)


def attention_costs() -> Derivation:
    """Exact costs of one softmax and one linear attention layer, and their orders.

    Starts from the column of per-operation sums ``(F_softmax, M_softmax, F_linear, M_linear)``
    and shows ``F_softmax = 8 T d^2 + 4 T^2 d = 4 T d (T + 2 d)``, ``M_softmax = b (3 T^2 + 5 T d)``,
    ``F_linear = 12 T d^2``, ``M_linear = b (5 T d + d^2)``; the leading orders
    (``F_softmax / (T^2 d) -> 4`` as ``T -> oo``; ``M_softmax / (b T^2) -> 3``,
    ``M_softmax / (b T d) -> 5``, so memory is ``Theta(T^2 + T d)``, and
    ``M_softmax / (T^2 d) -> 0`` as ``d -> oo``: not ``Theta(T^2 d)``); and the crossover:
    linear attention costs fewer FLOPs exactly when ``T > d``. Labelled results: ``counts``,
    ``F_softmax``, ``F_linear``, ``M_softmax``, ``M_linear``, ``crossover_T``; the closed form
    is the column ``counts``. Seed 001 ("Computational Complexity"), seed 004 (section 4.1).
    """
    derivation = (
        Derivation(
            "FLOPs and memory of one attention layer",
            sp.ImmutableMatrix(
                [
                    program_flops(SOFTMAX_PROGRAM),
                    program_bytes(SOFTMAX_PROGRAM),
                    program_flops(LINEAR_PROGRAM),
                    program_bytes(LINEAR_PROGRAM),
                ]
            ),
            start_note=(
                r"the costs of each operation, summed: $(F_{\mathrm{softmax}}, M_{\mathrm{softmax}}, "
                r"F_{\mathrm{linear}}, M_{\mathrm{linear}})$"
            ),
            assumptions=(COUNTING_CONVENTION,),
        )
        .then(
            expand(),
            sp.ImmutableMatrix([8 * T * d**2 + 4 * T**2 * d, 3 * b * T**2 + 5 * b * T * d, 12 * T * d**2,
                                5 * b * T * d + b * d**2]),
            note="collect the terms",
            label="counts",
        )
        .then(
            apply_map(lambda M: M[0], placeholder=COUNTS, why=r"read off $F_{\mathrm{softmax}}$, factored"),
            4 * T * d * (T + 2 * d),
            label="F_softmax",
        )
        .then(
            limit(T, sp.oo, scale=1 / (T**2 * d)),
            4,
            note=r"time $\Theta(T^2 d)$ for $T \gg d$ (the scores and $P V$)",
        )
        .then(
            limit(d, sp.oo, scale=1 / (T * d**2)),
            8,
            on="F_softmax",
            note=r"and $\Theta(T d^2)$ for $d \gg T$ (the four projections): time is $\Theta(T^2 d + T d^2)$",
        )
        .then(
            apply_map(lambda M: M[1], placeholder=COUNTS, why=r"read off $M_{\mathrm{softmax}}$, factored"),
            b * T * (3 * T + 5 * d),
            on="counts",
            label="M_softmax",
        )
        .then(
            limit(T, sp.oo, scale=1 / (b * T**2)),
            3,
            note=r"three $T \times T$ tensors: $S$, $S/\sqrt{d}$ and $P$",
        )
        .then(
            limit(d, sp.oo, scale=1 / (b * T * d)),
            5,
            on="M_softmax",
            note=r"five $T \times d$ tensors: memory is $\Theta(T^2 + T d)$",
        )
        .then(
            limit(d, sp.oo, scale=1 / (b * T**2 * d)),
            sp.Rational(5, 1) / T,
            on="M_softmax",
            note=r"$5/T$, which vanishes as $T$ grows",
        )
        .then(
            limit(T, sp.oo, scale=1 / (b * T**2 * d)),
            3 / d,
            on="M_softmax",
            note=(
                r"$3/d$, which vanishes as $d$ grows: $M_{\mathrm{softmax}} / (b T^2 d) \le 3/d + 5/T \to 0$, so "
                r"memory is not $\Theta(T^2 d)$ (seed 001's ``time and space'')"
            ),
        )
        .then(
            apply_map(lambda M: M[2], placeholder=COUNTS, why=r"read off $F_{\mathrm{linear}}$, factored"),
            12 * T * d**2,
            on="counts",
            label="F_linear",
            note=r"linear in $T$: $K^\top V$ is $d \times d$, no $T \times T$ matrix is formed",
        )
        .then(
            apply_map(lambda M: M[3], placeholder=COUNTS, why=r"read off $M_{\mathrm{linear}}$, factored"),
            b * d * (5 * T + d),
            on="counts",
            label="M_linear",
        )
        .then(
            apply_map(
                lambda M: M[0] - M[2],
                placeholder=COUNTS,
                why=r"the FLOP difference $F_{\mathrm{softmax}} - F_{\mathrm{linear}}$, factored",
            ),
            4 * T * d * (T - d),
            on="counts",
            label="difference",
        )
        .then(
            solve_for(T, text=r"solve $F_{\mathrm{softmax}} = F_{\mathrm{linear}}$ for $T > 0$"),
            d,
            note=r"softmax attention costs more FLOPs exactly when $T > d$",
            label="crossover_T",
        )
    )
    return derivation.then(rewrite(r"the four exact counts"), derivation.expression("counts"), on="counts")
