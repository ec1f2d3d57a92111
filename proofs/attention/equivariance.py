"""Permutation equivariance of self-attention (seed 003, exercise 1.1 and task 2.1; SymPy only).

* :func:`permuted_scores`: the scores of permuted tokens, ``(P X W_Q)(P X W_K)^T / sqrt(d_k) =
  P S P^T``, for symbolic sizes (``MatrixSymbol``).
* :func:`attention_commutes_with_permutations`: with generic unnormalised weights ``w_ij`` (``exp`` of the
  scores, or 0 where a mask removes a key) and generic values, the normalised weights of the
  permuted tokens are ``A'_ij = A_{s(i) s(j)}`` and the output is ``P_s (A v)``, for every
  permutation ``s`` of ``n = 3`` tokens at once (all ``3! = 6``, stacked).
"""

from __future__ import annotations

import itertools

import sympy as sp
from sympy import MatrixSymbol

from proofs.derivation import Derivation, custom, evaluate

TOKENS = 3
"""The derivation covers every permutation of this many tokens (the checker samples only this size)."""

NO_POSITIONS = (
    r"self-attention $\mathrm{Attn}(X) = \mathrm{softmax}(X W_Q (X W_K)^\top / \sqrt{d_k})\, X W_V$ on the rows "
    r"(tokens) of $X$, with no positional encoding and no mask; $P_s$ is the permutation matrix with "
    r"$(P_s X)_i = X_{s(i)}$, i.e. $(P_s)_{ij} = [j = s(i)]$"
)

# --- the scores of permuted tokens (symbolic sizes) ---------------------------------------------

n, d, d_k = sp.symbols("n d d_k", integer=True, positive=True)
X = MatrixSymbol("X", n, d)
P = MatrixSymbol("P", n, n)
W_Q = MatrixSymbol("W_Q", d, d_k)
W_K = MatrixSymbol("W_K", d, d_k)


def permuted_scores() -> Derivation:
    """``(P X W_Q)(P X W_K)^T / sqrt(d_k) = P (X W_Q W_K^T X^T / sqrt(d_k)) P^T`` for symbolic sizes.

    The transpose of a product reverses it, and matrix products associate: the queries and
    keys of the permuted tokens are the permuted queries and keys, so the score matrix is
    permuted on both sides. The same associativity gives the values ``(P X) W_V = P (X W_V)``.
    Seed 003, exercise 1.1.
    """
    # Kept unevaluated so that the start shows the queries and keys of P X; SymPy would transpose at once.
    queries = sp.MatMul(P, X, W_Q, evaluate=False)
    keys = sp.MatMul(P, X, W_K, evaluate=False)
    return Derivation(
        "Scores of permuted tokens",
        sp.MatMul(queries, sp.Transpose(keys), 1 / sp.sqrt(d_k), evaluate=False),
        start_note=r"the scores of the permuted tokens $P X$, for symbolic sizes $n, d, d_k$",
        assumptions=(NO_POSITIONS,),
    ).then(
        evaluate(r"transpose the product ($(ABC)^\top = C^\top B^\top A^\top$) and regroup"),
        sp.MatMul(P, X * W_Q * W_K.T * X.T / sp.sqrt(d_k), P.T),
        note=r"$P S P^\top$: entry $(i, j)$ is $S_{s(i) s(j)}$",
    )


# --- every permutation of three tokens, generic weights ------------------------------------------

WEIGHTS = sp.Matrix(TOKENS, TOKENS, lambda i, j: sp.Symbol(f"w_{i + 1}{j + 1}", nonnegative=True))
"""Generic unnormalised weights ``w_ij >= 0`` of the unpermuted tokens, each row with a positive sum.

``w_ij = exp(S_ij)`` for softmax attention; a mask sets some to 0. The steps are identities of
rational functions, valid wherever the row sums do not vanish.
"""

VALUES = sp.Matrix(TOKENS, 1, lambda i, _: sp.Symbol(f"v_{i + 1}", real=True))
"""One generic column of values ``v_j``; the columns of ``X W_V`` are treated alike, one at a time."""

PERMUTATIONS = tuple(itertools.permutations(range(TOKENS)))
"""All permutations ``s`` of the tokens, lexicographic; block ``b`` of the closed form is ``PERMUTATIONS[b]``."""


def permutation_matrix(permutation: tuple[int, ...]) -> sp.ImmutableMatrix:
    """``P_s`` with ``(P_s)_ij = 1`` exactly when ``j = s(i)``: row ``i`` of ``P_s X`` is row ``s(i)`` of ``X``."""
    size = len(permutation)
    return sp.ImmutableMatrix(size, size, lambda i, j: int(j == permutation[i]))


def _normalise_rows(weights: sp.Matrix) -> sp.Matrix:
    """Each row divided by its sum: the softmax's denominator (``w_ij = exp(S_ij)``)."""
    return sp.Matrix(weights.rows, weights.cols, lambda i, j: weights[i, j] / sum(weights.row(i)))


def _blocks(matrix: sp.Matrix, height: int) -> list[sp.Matrix]:
    return [matrix[b * height : (b + 1) * height, :] for b in range(matrix.rows // height)]


def _per_permutation(function):
    """Apply ``function(block, P_s)`` to each stacked block, block ``b`` belonging to ``PERMUTATIONS[b]``."""

    def apply_all(stacked: sp.Matrix) -> sp.Matrix:
        blocks = _blocks(sp.Matrix(stacked), TOKENS)
        return sp.Matrix.vstack(*(function(b, permutation_matrix(s)) for b, s in zip(blocks, PERMUTATIONS)))

    return apply_all


def attention_commutes_with_permutations() -> Derivation:
    """``Attn(P_s X) = P_s Attn(X)`` with ``A'_ij = A_{s(i) s(j)}``, every permutation ``s`` of 3 tokens.

    By :func:`permuted_scores` the scores of ``P_s X`` are ``P_s S P_s^T``, so (``exp`` acting
    entry by entry) their unnormalised weights are ``P_s W P_s^T`` with ``W = [w_ij]``, and
    their values are ``P_s v``. The derivation starts there, for generic ``w_ij >= 0`` and
    generic ``v_j``, with all six permutations stacked into one matrix (block ``b`` for
    ``PERMUTATIONS[b]``): normalising the rows gives ``P_s A P_s^T`` (the hint of the exercise,
    ``A'_ij = A_{s(i) s(j)}``), and multiplying by the permuted values gives ``P_s (A v)``
    because ``P_s^T P_s = I``. The closed form is that stacked column. Generic weights cover
    any kernel and any mask: a mask is a weight set to 0 (it must then move with the tokens).
    Seed 003, exercise 1.1 (and task 2.1's validation).
    """
    attention = _normalise_rows(WEIGHTS)
    return (
        Derivation(
            "Self-attention commutes with every permutation of three tokens",
            sp.Matrix.vstack(*(permutation_matrix(s) * WEIGHTS * permutation_matrix(s).T for s in PERMUTATIONS)),
            start_note=(
                r"the unnormalised weights $P_s W P_s^\top$ of the permuted tokens, for each of the "
                r"$3! = 6$ permutations $s$ (stacked; by the lemma the scores are $P_s S P_s^\top$ and "
                r"$\exp$ acts entry by entry)"
            ),
            assumptions=(NO_POSITIONS,),
            lemmas=(permuted_scores(),),
        )
        .then(
            custom(
                r"normalise each row (the softmax denominator $\sum_k w'_{ik}$)",
                _per_permutation(lambda b, _: _normalise_rows(b)),
            ),
            sp.Matrix.vstack(*(permutation_matrix(s) * attention * permutation_matrix(s).T for s in PERMUTATIONS)),
            note=(
                r"$P_s A P_s^\top$: the weights of the permuted tokens are $A'_{ij} = A_{s(i) s(j)}$, "
                r"the row sum being the same sum in another order"
            ),
            label="weights",
        )
        .then(
            custom(
                r"multiply each block by the values of the permuted tokens, $P_s v$",
                _per_permutation(lambda b, p: b * p * VALUES),
            ),
            sp.Matrix.vstack(*(permutation_matrix(s) * (attention * VALUES) for s in PERMUTATIONS)),
            note=r"$P_s A P_s^\top P_s v = P_s (A v)$ since $P_s^\top P_s = I$: the output is $P_s\, \mathrm{Attn}(X)$",
            label="outputs",
        )
    )
