"""Derivations for the circuits view of multi-head attention (SymPy only; seed 002; Elhage et al. 2021).

* :func:`vec_kronecker`: ``vec(A X W) = (W^T kron A) vec(X)`` with column-major ``vec`` (the
  columns stacked; numpy ``order="F"``), and the row-major counterpart
  ``vec((A X W)^T) = (A kron W^T) vec(X^T)``, proved entrywise (as Jacobians) at one size with
  all sides distinct (``A`` 2x2, ``X`` 2x3, ``W`` 3x4).
* :func:`qk_circuit`: a head's attention logits ``(X W_Q)(X W_K)^T / sqrt(d_head)`` are
  ``X W_Q W_K^T X^T / sqrt(d_head)``, a bilinear form in the residual stream through
  ``W_QK = W_Q W_K^T``, of rank at most ``d_head``; symbolic sizes.
* :func:`multihead_as_sum_of_heads`: concatenating the heads and projecting by ``W_O`` is the
  sum of independent heads ``A^h X W_V^h W_O^h`` (by induction on ``H``, symbolic sizes), each
  head's OV circuit ``W_OV = W_V W_O`` has rank at most ``d_head``, and a head acts on
  ``vec(X)`` as ``(W_OV^T kron A)``.
"""

from __future__ import annotations

import sympy as sp
from sympy import BlockMatrix, KroneckerProduct, MatMul, MatrixSymbol

from proofs.attention.rank import RANK_OF_A_PRODUCT
from proofs.derivation import Derivation, apply_map, custom, evaluate, jacobian, multiply_blocks, rank_bound

ELHAGE = "Elhage et al. 2021, A Mathematical Framework for Transformer Circuits"
ROTH = "Roth 1934, On direct product matrices; Magnus and Neudecker, Matrix Differential Calculus, ch. 2, thm. 2"
ROWS_ARE_TOKENS = (
    r"the residual stream $X \in \mathbb{R}^{n \times d_{\mathrm{model}}}$ holds one token per row; head $h$ has "
    r"$W_Q^h, W_K^h, W_V^h \in \mathbb{R}^{d_{\mathrm{model}} \times d_{\mathrm{head}}}$, attention pattern "
    r"$A^h = \mathrm{softmax}(X W_Q^h (X W_K^h)^\top / \sqrt{d_{\mathrm{head}}})$ (row-wise), and rows "
    r"$W_O^h \in \mathbb{R}^{d_{\mathrm{head}} \times d_{\mathrm{model}}}$ of the output projection "
    r"$W_O \in \mathbb{R}^{H d_{\mathrm{head}} \times d_{\mathrm{model}}}$; no biases"
)


def vec(matrix: sp.Basic) -> sp.ImmutableMatrix:
    """Column-major ``vec`` of an explicit matrix: its columns stacked into one column (numpy ``order="F"``)."""
    explicit = sp.ImmutableMatrix(matrix)
    return sp.ImmutableMatrix(explicit.T.reshape(explicit.rows * explicit.cols, 1))


def _commutation(rows: int, cols: int) -> sp.ImmutableMatrix:
    """The permutation ``K`` with ``K vec(M) = vec(M^T)`` for ``M`` of shape ``rows x cols``."""
    size = rows * cols
    # vec(M) holds M[i, j] at i + rows j; vec(M^T) holds it at j + cols i.
    return sp.ImmutableMatrix(size, size, lambda a, b: int(b == (a // cols) + rows * (a % cols)))


# --- vec(A X W) = (W^T kron A) vec(X) ---------------------------------------------------------

A_small = MatrixSymbol("A", 2, 2)
X_small = MatrixSymbol("X", 2, 3)
W_small = MatrixSymbol("W", 3, 4)


def vec_kronecker() -> Derivation:
    """``vec(A X W) = (W^T kron A) vec(X)`` (column-major) and ``vec((A X W)^T) = (A kron W^T) vec(X^T)`` (row-major).

    ``vec(A X W)`` is linear in ``vec(X)``, so it is its Jacobian times ``vec(X)``; the Jacobian
    is computed and found to be ``W^T kron A``, and multiplying back recovers ``vec(A X W)``.
    Entrywise, for ``A`` 2x2, ``X`` 2x3, ``W`` 3x4 (every side distinct, so a transposed or
    swapped factor would not even have the right shape); the identity holds for all sizes
    (Roth 1934), and the numeric checker uses it at every size of its domain.
    """
    a, x, w = (m.as_explicit() for m in (A_small, X_small, W_small))
    product = a * x * w
    return (
        Derivation(
            "Vectorisation of a product with Kronecker factors",
            vec(product),
            start_note=r"$\mathrm{vec}(A X W)$ for $A \in \mathbb{R}^{2 \times 2}$, $X \in \mathbb{R}^{2 \times 3}$, "
            r"$W \in \mathbb{R}^{3 \times 4}$: the columns of $A X W$ stacked (column-major)",
        )
        .then(
            jacobian(vec(x), why=r"it is linear in $\mathrm{vec}(X)$"),
            KroneckerProduct(W_small.T, A_small),
            note=r"block $(j, l)$ is $W_{lj} A$: column $j$ of $A X W$ is $\sum_l W_{lj} A x_l$",
            label="column_major",
        )
        .then(
            apply_map(
                lambda J: J * vec(x),
                placeholder=MatrixSymbol("J", product.rows * product.cols, x.rows * x.cols),
                why=r"multiply by $\mathrm{vec}(X)$",
            ),
            vec(product),
            note=r"Roth's column lemma $\mathrm{vec}(A X W) = (W^\top \otimes A)\, \mathrm{vec}(X)$",
        )
        .then(
            custom(
                r"reorder to row-major: multiply by the commutation matrix, "
                r"$K\, \mathrm{vec}(M) = \mathrm{vec}(M^\top)$",
                lambda v: _commutation(*product.shape) * v,
            ),
            vec(product.T),
            on="start",
            note=r"row-major flattening of $M$ (numpy's default) is $\mathrm{vec}(M^\top)$",
        )
        .then(
            jacobian(vec(x.T)),
            KroneckerProduct(A_small, W_small.T),
            note=r"with row-major flattening the Kronecker factors swap: $A \otimes W^\top$",
            label="row_major",
        )
    )


# --- the QK circuit --------------------------------------------------------------------------

n, d_model, d_head, H = sp.symbols("n d_model d_head H", integer=True, positive=True)
X = MatrixSymbol("X", n, d_model)
W_Q = MatrixSymbol("W_Q", d_model, d_head)
W_K = MatrixSymbol("W_K", d_model, d_head)
W_V = MatrixSymbol("W_V", d_model, d_head)
W_O = MatrixSymbol("W_O", d_head, d_model)
A = MatrixSymbol("A", n, n)
vec_X = MatrixSymbol("vec_X", n * d_model, 1)
"""``vec(X)``, column-major: the compiled closed form reads it as an input."""


def qk_circuit() -> Derivation:
    """``(X W_Q)(X W_K)^T / sqrt(d_head) = X W_Q W_K^T X^T / sqrt(d_head)``, of rank at most ``d_head``.

    The logits are a bilinear form of the residual stream with ``W_QK = W_Q W_K^T``
    (``d_model x d_model``, rank at most ``d_head``). Elhage et al. 2021, "Attention heads as
    information movement" (the QK circuit); symbolic sizes.
    """
    return (
        Derivation(
            "The QK circuit",
            MatMul(1 / sp.sqrt(d_head), X * W_Q, sp.Transpose(X * W_K), evaluate=False),
            start_note=(
                r"a head's attention logits: queries $X W_Q$ against keys $X W_K$, "
                r"scaled by $1/\sqrt{d_{\mathrm{head}}}$"
            ),
            assumptions=(ROWS_ARE_TOKENS,),
        )
        .then(
            evaluate(r"transpose the product, $(X W_K)^\top = W_K^\top X^\top$"),
            X * W_Q * W_K.T * X.T / sp.sqrt(d_head),
            note=(
                r"$X W_{QK} X^\top / \sqrt{d_{\mathrm{head}}}$ with $W_{QK} = W_Q W_K^\top$: tokens meet through "
                r"one $d_{\mathrm{model}} \times d_{\mathrm{model}}$ matrix"
            ),
            label="logits",
        )
        .then(
            rank_bound(RANK_OF_A_PRODUCT),
            sp.Min(n, d_model, d_head),
            note=r"the logits (before the softmax) have rank at most $d_{\mathrm{head}}$",
            label="logits_rank",
        )
    )


# --- multi-head attention as a sum of heads ---------------------------------------------------

FIRST_HEADS = MatrixSymbol("C", n, (H - 1) * d_head)
"""The first ``H - 1`` heads' outputs ``[A^1 X W_V^1, ..., A^(H-1) X W_V^(H-1)]``, concatenated."""
FIRST_ROWS = MatrixSymbol("R", (H - 1) * d_head, d_model)
"""The rows ``[W_O^1; ...; W_O^(H-1)]`` of ``W_O`` that multiply them."""


def _ov_circuit(head: sp.MatrixExpr) -> sp.MatrixExpr:
    """The factors after ``A X``: the weights acting on the residual stream's features."""
    weights = [f for f in head.args if f.is_Matrix][2:]
    return MatMul(*weights)


def _vectorise(head: sp.MatrixExpr) -> sp.MatrixExpr:
    """``A X M -> (M^T kron A) vec(X)``: the column lemma of :func:`vec_kronecker` applied to one head."""
    left, middle, *right = [f for f in head.args if f.is_Matrix]
    if middle != X:
        raise ValueError(f"expected a product A X M, got {head}")
    return KroneckerProduct(MatMul(*right).T, left) * vec_X


def multihead_as_sum_of_heads() -> Derivation:
    """``[C, A X W_V] [R; W_O] = C R + A X W_V W_O``: multi-head attention is a sum of independent heads.

    ``C`` holds the first ``H - 1`` heads' outputs and ``R`` their rows of ``W_O``; by induction
    on ``H`` (``C R`` is their sum), ``MultiHead(X) = sum_h A^h X W_V^h W_O^h`` for any ``H``,
    symbolic sizes. A head's OV circuit ``W_OV = W_V W_O`` (``d_model x d_model``) has rank at
    most ``min(d_model, d_head)``, and the head acts on the column-major ``vec(X)`` as
    ``(W_OV^T kron A)`` (lemma :func:`vec_kronecker`): ``A`` mixes tokens, ``W_OV`` mixes features,
    independently. The closed form is that Kronecker form of one head; the labelled
    ``rank_W_OV`` is the bound. Elhage et al. 2021, "Attention heads are independent and
    additive" and "Tensor products"; seed 002.
    """
    concatenated = BlockMatrix([[FIRST_HEADS, A * X * W_V]])
    projection = BlockMatrix([[FIRST_ROWS], [W_O]])
    return (
        Derivation(
            "Multi-head attention is a sum of independent heads",
            concatenated * projection,
            start_note=(
                r"concatenate-then-project: the last head's output $A X W_V$ after the first $H - 1$ heads' "
                r"outputs $C$, times $W_O = [R; W_O^H]$"
            ),
            assumptions=(ROWS_ARE_TOKENS, RANK_OF_A_PRODUCT),
            lemmas=(vec_kronecker(), qk_circuit()),
        )
        .then(
            multiply_blocks(),
            FIRST_HEADS * FIRST_ROWS + A * X * W_V * W_O,
            note=(
                r"by induction on $H$ ($C R$ is the sum over the first $H - 1$ heads): "
                r"$\mathrm{MultiHead}(X) = \sum_h A^h X W_V^h W_O^h$"
            ),
            label="sum_of_heads",
        )
        .then(
            apply_map(
                lambda total: total - FIRST_HEADS * FIRST_ROWS,
                placeholder=MatrixSymbol("M", n, d_model),
                why="take the last head's term",
            ),
            A * X * W_V * W_O,
            label="head",
        )
        .then(
            custom(r"its OV circuit: the factors acting on features, after $A X$", _ov_circuit),
            W_V * W_O,
            note=r"$W_{OV} = W_V W_O \in \mathbb{R}^{d_{\mathrm{model}} \times d_{\mathrm{model}}}$",
            label="W_OV",
        )
        .then(
            rank_bound(RANK_OF_A_PRODUCT),
            sp.Min(d_model, d_head),
            note=r"a low-rank bottleneck: $\mathrm{rank}\, W_{OV} \le d_{\mathrm{head}}$",
            label="rank_W_OV",
        )
        .then(
            custom(
                r"vectorise column-major with the lemma $\mathrm{vec}(A X M) = (M^\top \otimes A)\, \mathrm{vec}(X)$",
                _vectorise,
                source=ROTH,
            ),
            KroneckerProduct((W_V * W_O).T, A) * vec_X,
            on="head",
            note=r"$(W_{OV}^\top \otimes A)\, \mathrm{vec}(X)$: $A$ acts on tokens, $W_{OV}$ on features",
            label="vec_head",
        )
    )
