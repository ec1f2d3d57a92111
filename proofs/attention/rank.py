"""Derivations for the rank of attention outputs (SymPy only; seed 003, exercise 1.3).

* :func:`full_rank_with_one_key_dimension`: the refutation of the exercise's bound. For
  ``n = 2`` tokens and ``d_k = 1`` the softmax matrix has determinant
  ``(e^(q1 k1 + q2 k2) - e^(q1 k2 + q2 k1)) / (row sums)``, of the sign of
  ``(q1 - q2)(k1 - k2)``: nonzero for distinct queries and distinct keys, so rank 2 > d_k.
  At ``q = k = (1, -1)`` the determinant is ``tanh(1)``.
* :func:`attention_rank_bounds`: the bounds that do hold, each read off a factorisation of
  the output: softmax ``Z = A V`` gives ``min(n, d_v)``; linear attention ``Z = (Q K^T) V``
  gives ``min(n, d_k, d_v)``; ``H`` heads concatenated and projected by ``W_O`` give
  ``min(n, H d_v, d_model)``.
"""

from __future__ import annotations

import sympy as sp
from sympy import MatMul, MatrixSymbol

from proofs.derivation import (
    Derivation,
    apply_map,
    column,
    custom,
    determinant,
    rank_bound,
    rewrite,
    solve_for,
    substitute,
)

RANK_OF_A_PRODUCT = (
    r"$\mathrm{rank}(XY) \le \min(\mathrm{rank}\, X, \mathrm{rank}\, Y)$ and "
    r"$\mathrm{rank}\, X \le \min(\text{rows}, \text{columns})$ "
    r"(Horn and Johnson, Matrix Analysis, 2nd ed., section 0.4.5)"
)

# --- the counterexample: n = 2 tokens, d_k = 1 ------------------------------------------------

q_1, q_2, k_1, k_2 = sp.symbols("q_1 q_2 k_1 k_2", real=True)
COUNTEREXAMPLE = {q_1: 1, q_2: -1, k_1: 1, k_2: -1}
"""Queries ``q = (1, -1)`` and keys ``k = (1, -1)``: the softmax matrix there has determinant tanh(1)."""


def _row_sum(q: sp.Symbol) -> sp.Expr:
    return sp.exp(q * k_1) + sp.exp(q * k_2)


def softmax_matrix_one_key_dimension() -> sp.ImmutableMatrix:
    """``softmax(q k^T)`` for two tokens with scalar queries and keys (``d_k = 1``, so ``1/sqrt(d_k) = 1``)."""
    queries = (q_1, q_2)
    return sp.ImmutableMatrix(2, 2, lambda a, b: sp.exp(queries[a] * (k_1, k_2)[b]) / _row_sum(queries[a]))


def full_rank_with_one_key_dimension() -> Derivation:
    """``det softmax(q k^T) = e^(q2 k1 + q1 k2) (e^((q1 - q2)(k1 - k2)) - 1) / (r_1 r_2)`` for ``n = 2``, ``d_k = 1``.

    ``r_a = e^(q_a k1) + e^(q_a k2)`` are the (positive) row sums, so the determinant has the sign
    of ``(q1 - q2)(k1 - k2)``: the softmax matrix is invertible, of rank ``2 > d_k = 1``, whenever
    the two queries differ and the two keys differ. With ``V = I`` (``d_v = 2``) the output
    ``Z = A V`` has rank 2 while exercise 1.3 claims at most ``min(n, d_k, d_v) = 1``.
    At ``q = k = (1, -1)`` the determinant is ``tanh(1) > 0``.
    Seed 003, exercise 1.3.
    """
    numerator = sp.exp(q_1 * k_1 + q_2 * k_2) - sp.exp(q_1 * k_2 + q_2 * k_1)
    row_sums = _row_sum(q_1) * _row_sum(q_2)
    gap = (q_1 - q_2) * (k_1 - k_2)
    return (
        Derivation(
            "A softmax matrix with one key dimension can have full rank (n = 2, d_k = 1)",
            softmax_matrix_one_key_dimension(),
            start_note=(
                r"$A = \mathrm{softmax}(q k^\top)$ for $n = 2$ tokens with scalar queries $q = (q_1, q_2)$ "
                r"and keys $k = (k_1, k_2)$, i.e. $d_k = 1$ (so $1/\sqrt{d_k} = 1$): "
                r"$A_{ab} = e^{q_a k_b} / \sum_c e^{q_a k_c}$"
            ),
        )
        .then(
            determinant(),
            numerator / row_sums,
            note=r"$\det [e^{q_a k_b}]$ over the product of the row sums",
            label="det",
        )
        .then(
            rewrite(r"factor out $e^{q_1 k_2 + q_2 k_1}$"),
            sp.exp(q_1 * k_2 + q_2 * k_1) * (sp.exp(gap) - 1) / row_sums,
            note=r"$q_1 k_1 + q_2 k_2 - q_1 k_2 - q_2 k_1 = (q_1 - q_2)(k_1 - k_2)$",
            label="factored",
        )
        .then(
            apply_map(lambda z: sp.sign(z), why="take the sign (the exponential and the row sums are positive)"),
            sp.sign(sp.exp(gap) - 1),
            note=(
                r"$e^t - 1$ has the sign of $t$ ($e^t$ is increasing, $e^0 = 1$): the determinant has the sign "
                r"of $(q_1 - q_2)(k_1 - k_2)$"
            ),
            label="sign",
        )
        .then(
            solve_for(k_1, text=r"solve $\det A = 0$ for $k_1$ (with $q_1 \ne q_2$)"),
            k_2,
            on="factored",
            note=(
                r"the determinant vanishes only at $k_1 = k_2$ (and, by symmetry, at $q_1 = q_2$): $A$ has rank 2 "
                r"whenever $(q_1 - q_2)(k_1 - k_2) \ne 0$, while the exercise's $\min(n, d_k, d_v)$ allows "
                r"rank 1 at most"
            ),
            label="zero_set",
        )
        .then(
            substitute(COUNTEREXAMPLE, text=r"the counterexample: substitute $q = k = (1, -1)$"),
            (sp.E - sp.exp(-1)) / (sp.E + sp.exp(-1)),
            on="det",
            note=r"$= \tanh 1 \approx 0.7616$",
            label="counterexample",
        )
        .then(
            apply_map(lambda z: sp.sign(z), why="take the sign"),
            1,
            note=(
                r"positive: at $q = k = (1, -1)$, $d_k = 1$, and $V = I_2$ ($d_v = 2$), $Z = A V$ has rank "
                r"$2 > \min(n, d_k, d_v) = 1$, refuting exercise 1.3"
            ),
        )
    )


# --- the bounds that hold ---------------------------------------------------------------------

n, d_k, d_v, H, d_model = sp.symbols("n d_k d_v H d_model", integer=True, positive=True)
A = MatrixSymbol("A", n, n)
V = MatrixSymbol("V", n, d_v)
Q = MatrixSymbol("Q", n, d_k)
K = MatrixSymbol("K", n, d_k)
W_O = MatrixSymbol("W_O", H * d_v, d_model)


def _factors(product: sp.Basic) -> list[sp.Basic]:
    """The matrix factors of a (possibly nested) product, in order."""
    if isinstance(product, MatMul):
        return [f for arg in product.args if arg.is_Matrix for f in _factors(arg)]
    return [product]


def _heads_concatenated_and_projected(head: sp.Basic) -> sp.Basic:
    """``[A_1 ... A_H] diag(V_1, ..., V_H) W_O``: H outputs shaped like ``head = A V``, side by side, projected.

    The concatenation ``[A_1 V_1, ..., A_H V_H]`` is the product of the ``n x H n`` row of the
    heads' weight matrices with the block-diagonal ``H n x H d_v`` matrix of their values.
    """
    weights, values = _factors(head)
    heads = MatrixSymbol("A_cat", weights.rows, H * weights.cols)
    block_diagonal = MatrixSymbol("V_diag", H * values.rows, H * values.cols)
    return heads * block_diagonal * W_O


def attention_rank_bounds() -> Derivation:
    """``rank Z <= (min(n, d_v), min(n, d_k, d_v), min(n, H d_v, d_model))`` for softmax, linear and multi-head.

    Each bound is the rank-of-a-product lemma applied to a factorisation of the output.
    Softmax attention ``Z = A V`` with ``A = softmax(Q K^T / sqrt(d_k))`` in ``R^(n x n)``: ``d_k``
    is the size of no factor (the exponential is applied entrywise and destroys the rank-``d_k``
    structure of ``Q K^T``), so ``rank Z <= min(n, d_v)``. Linear attention ``Z = (Q K^T) V``
    keeps the factor ``K^T`` of ``d_k`` rows: ``min(n, d_k, d_v)``. ``H`` softmax heads
    concatenated and projected: ``[A_1 V_1, ..., A_H V_H] W_O = [A_1 ... A_H] diag(V_h) W_O``,
    of factors ``n x H n``, ``H n x H d_v``, ``H d_v x d_model``: ``min(n, H d_v, d_model)``.
    The closed form is the column of the three bounds. The refutation of the exercise's
    ``min(n, d_k, d_v)`` (:func:`full_rank_with_one_key_dimension`) is a lemma, shown first.
    Seed 003, exercise 1.3.
    """
    softmax_output = A * V
    derivation = (
        Derivation(
            "Rank bounds from factorisations of the attention output",
            softmax_output,
            start_note=(
                r"softmax attention $Z = A V$, "
                r"$A = \mathrm{softmax}(Q K^\top / \sqrt{d_k}) \in \mathbb{R}^{n \times n}$, "
                r"$V \in \mathbb{R}^{n \times d_v}$: no factor has a side of length $d_k$"
            ),
            assumptions=(RANK_OF_A_PRODUCT,),
            lemmas=(full_rank_with_one_key_dimension(),),
        )
        .then(
            rank_bound(RANK_OF_A_PRODUCT),
            sp.Min(n, d_v),
            note=r"softmax attention: $\mathrm{rank}\, Z \le \min(n, d_v)$, whatever $d_k$",
            label="softmax",
        )
        .then(
            substitute({A: Q * K.T}, text=r"linear attention: drop the softmax, $A = Q K^\top$"),
            Q * K.T * V,
            on="start",
            label="linear_output",
        )
        .then(
            rank_bound(RANK_OF_A_PRODUCT),
            sp.Min(n, d_k, d_v),
            note=r"linear attention: $K^\top$ has $d_k$ rows, so $\mathrm{rank}\, Z \le \min(n, d_k, d_v)$",
            label="linear",
        )
        .then(
            custom(
                r"$H$ heads: concatenate $A_h V_h$ side by side, $[A_1 \dots A_H]\, \mathrm{diag}(V_1, \dots, V_H)$, "
                r"and project by $W_O \in \mathbb{R}^{H d_v \times d_{\mathrm{model}}}$",
                _heads_concatenated_and_projected,
            ),
            MatrixSymbol("A_cat", n, H * n) * MatrixSymbol("V_diag", H * n, H * d_v) * W_O,
            on="start",
            label="multihead_output",
        )
        .then(
            rank_bound(RANK_OF_A_PRODUCT),
            sp.Min(n, H * d_v, d_model),
            note=r"$H n \ge n$ drops out: $\mathrm{rank}\, Z \le \min(n, H d_v, d_{\mathrm{model}})$",
            label="multihead",
        )
    )
    return derivation.then(
        column("softmax", "linear", "multihead", why="collect the three bounds"),
        sp.Matrix([sp.Min(n, d_v), sp.Min(n, d_k, d_v), sp.Min(n, H * d_v, d_model)]),
        on="softmax",
    )

