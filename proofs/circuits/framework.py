"""Derivations for the circuits framework of a one-layer attention-only transformer (SymPy only; seed 002).

Elhage et al. 2021, "A Mathematical Framework for Transformer Circuits", write a one-layer
attention-only transformer as one linear map on the tokens per attention pattern,
``T = Id (x) W_U W_E + sum_h A^h (x) W_U W_OV^h W_E``, in the convention where weights act on
column vectors. Here the residual stream holds one token per row (the course's "text as a
matrix", and multihead-circuits), so every weight is the transpose of theirs and the
same map reads ``vec_r(logits) = (I (x) (W_E W_U)^T + sum_h A^h (x) (W_E W_V^h W_O^h W_U)^T) vec_r(T)``
with row-major ``vec_r`` (the rows stacked, numpy's default reshape). Built on
:mod:`proofs.attention.circuits` (the sum over heads, the QK lemma, Roth's column lemma):

* :func:`row_major_vec_kronecker`: ``vec_r(P Y Q) = (P kron Q^T) vec_r(Y)`` for symbolic sizes:
  on a rank-one ``Y = y z^T`` it is the mixed-product property of the Kronecker product, and
  both sides are linear in ``Y``;
* :func:`qk_circuit_on_tokens`: a head's logits are ``T C_QK T^T / sqrt(d_head)`` with the QK circuit
  ``C_QK = W_E W_Q W_K^T W_E^T`` (``n_vocab x n_vocab``, rank at most ``d_head``);
* :func:`one_layer_paths`: the logits are the direct path ``T W_E W_U`` plus one term
  ``A^h T (W_E W_V^h W_O^h W_U)`` per head, the OV circuit ``C_OV = W_E W_V W_O W_U`` has rank at most
  ``d_head``, and each term acts on ``vec_r(T)`` as a Kronecker product.
"""

from __future__ import annotations

import sympy as sp
from sympy import BlockMatrix, Identity, KroneckerProduct, MatMul, MatrixSymbol, ZeroMatrix
from sympy.matrices.expressions.kronecker import combine_kronecker

from proofs.attention.circuits import (
    FIRST_HEADS,
    FIRST_ROWS,
    ROWS_ARE_TOKENS,
    A,
    W_K,
    W_O,
    W_Q,
    W_V,
    X,
    d_head,
    d_model,
    multihead_as_sum_of_heads,
    n,
    qk_circuit,
)
from proofs.attention.rank import RANK_OF_A_PRODUCT
from proofs.derivation import Derivation, apply_map, custom, expand, multiply_blocks, rank_bound, substitute

MIXED_PRODUCT = "Magnus and Neudecker, Matrix Differential Calculus, ch. 2, sec. 2 (the mixed-product property)"
TOKENS_AND_EMBEDDINGS = (
    r"tokens $T \in \{0, 1\}^{n \times n_{\mathrm{vocab}}}$, one one-hot row per position; embedding "
    r"$W_E \in \mathbb{R}^{n_{\mathrm{vocab}} \times d_{\mathrm{model}}}$ ($X = T W_E$), unembedding "
    r"$W_U \in \mathbb{R}^{d_{\mathrm{model}} \times n_{\mathrm{vocab}}}$; no positional embedding, layer norm or "
    r"bias (Elhage et al.'s simplified model); the patterns $A^h$ may be causally masked"
)

n_vocab = sp.Symbol("n_vocab", integer=True, positive=True)
T = MatrixSymbol("T", n, n_vocab)
W_E = MatrixSymbol("W_E", n_vocab, d_model)
W_U = MatrixSymbol("W_U", d_model, n_vocab)
vec_T = MatrixSymbol("vec_T", n * n_vocab, 1)
"""``vec_r(T)``, the rows of ``T`` stacked: the compiled closed forms read it as an input."""


# --- vec_r(P Y Q) = (P kron Q^T) vec_r(Y), symbolic sizes -------------------------------------

m_1, m_2, m_3, m_4 = sp.symbols("m_1 m_2 m_3 m_4", integer=True, positive=True)
P = MatrixSymbol("P", m_1, m_2)
Q = MatrixSymbol("Q", m_3, m_4)
y = MatrixSymbol("y", m_2, 1)
z = MatrixSymbol("z", m_3, 1)


def row_major_vec_kronecker() -> Derivation:
    """``vec_r(P Y Q) = (P kron Q^T) vec_r(Y)`` for ``P (m_1 x m_2)``, ``Y (m_2 x m_3)``, ``Q (m_3 x m_4)``, any sizes.

    Row-major ``vec_r`` stacks the rows, so ``vec_r(y z^T) = y kron z`` (row ``i`` of ``y z^T`` is
    ``y_i z^T``). For a rank-one ``Y = y z^T`` the mixed-product property gives
    ``(P kron Q^T)(y kron z) = (P y) kron (Q^T z) = vec_r((P y)(Q^T z)^T) = vec_r(P Y Q)``; both sides
    are linear in ``Y`` and the rank-one matrices span every ``Y``. Symbolic sizes; Roth's
    column-major lemma (:func:`proofs.attention.circuits.vec_kronecker`) checks the same identity
    entrywise at one size. Elhage et al. 2021, "Tensor products".
    """
    return Derivation(
        "Row-major vectorisation of a product (symbolic sizes)",
        KroneckerProduct(P, Q.T) * KroneckerProduct(y, z),
        start_note=(
            r"$(P \otimes Q^\top)\, \mathrm{vec}_r(Y)$ for a rank-one $Y = y z^\top$: row-major "
            r"$\mathrm{vec}_r(y z^\top) = y \otimes z$"
        ),
    ).then(
        custom(
            r"the mixed-product property $(P \otimes Q^\top)(y \otimes z) = (P y) \otimes (Q^\top z)$",
            combine_kronecker,
            MIXED_PRODUCT,
        ),
        KroneckerProduct(P * y, Q.T * z),
        note=(
            r"$= \mathrm{vec}_r((P y)(Q^\top z)^\top) = \mathrm{vec}_r(P\, y z^\top Q)$; linear in $Y$, so "
            r"$\mathrm{vec}_r(P Y Q) = (P \otimes Q^\top)\, \mathrm{vec}_r(Y)$ for every $Y$"
        ),
        label="rank_one",
    )


# --- the circuits: the factors between the tokens ---------------------------------------------


def _circuit(term: sp.MatrixExpr) -> sp.MatrixExpr:
    """The matrix factors after ``T`` (up to ``T^T`` where it closes the product): the map between tokens."""
    factors = [f for f in term.args if f.is_Matrix]
    after = factors[factors.index(T) + 1 :]
    if after and after[-1] == T.T:
        after = after[:-1]
    return MatMul(*after)


VECTORISE = r"vectorise row-major with the lemma $\mathrm{vec}_r(L T M) = (L \otimes M^\top)\, \mathrm{vec}_r(T)$"


def _vectorise_rows(term: sp.MatrixExpr) -> sp.MatrixExpr:
    """``L T M -> (L kron M^T) vec_r(T)`` (``L = I`` when nothing precedes ``T``): the row-major lemma on one path."""
    factors = [f for f in term.args if f.is_Matrix] if isinstance(term, MatMul) else [term]
    at = factors.index(T)
    left = MatMul(*factors[:at]) if at else Identity(n)
    return KroneckerProduct(left, MatMul(*factors[at + 1 :]).T) * vec_T


def qk_circuit_on_tokens() -> Derivation:
    """A head's logits on tokens: ``T W_E W_Q W_K^T W_E^T T^T / sqrt(d_head)``, through a QK circuit of rank <= d_head.

    The QK lemma (multihead-circuits) gives the logits ``X W_Q W_K^T X^T / sqrt(d_head)`` of the residual
    stream; with ``X = T W_E`` the logit of query position ``i`` for key position ``j`` is
    ``C_QK[t_i, t_j] / sqrt(d_head)``, the entry of the ``n_vocab x n_vocab`` QK circuit
    ``C_QK = W_E W_Q W_K^T W_E^T`` for the two tokens. Elhage et al. 2021, "The QK circuit"; symbolic sizes.
    """
    logits = qk_circuit().expression("logits")
    return (
        Derivation(
            "The QK circuit on tokens",
            logits,
            start_note=r"a head's logits on the residual stream $X$ (the QK lemma of multihead-circuits)",
            assumptions=(ROWS_ARE_TOKENS, TOKENS_AND_EMBEDDINGS),
        )
        .then(
            substitute({X: T * W_E}, why="embed the tokens"),
            T * W_E * W_Q * W_K.T * W_E.T * T.T / sp.sqrt(d_head),
            label="logits",
        )
        .then(
            custom(r"the QK circuit: the factors between $T$ and $T^\top$", _circuit),
            W_E * W_Q * W_K.T * W_E.T,
            note=(
                r"$C_{QK} = W_E W_Q W_K^\top W_E^\top \in \mathbb{R}^{n_{\mathrm{vocab}} \times n_{\mathrm{vocab}}}$: "
                r"entry $(a, b)$ is how much a query token $a$ attends to a key token $b$, before the softmax"
            ),
            label="qk_circuit",
        )
        .then(
            rank_bound(RANK_OF_A_PRODUCT),
            sp.Min(n_vocab, d_model, d_head),
            note=r"a bilinear form on tokens of rank at most $d_{\mathrm{head}}$",
            label="rank_qk",
        )
    )


# --- the logits as a sum of paths ---------------------------------------------------------------


def one_layer_paths() -> Derivation:
    """The logits of a one-layer attention-only transformer: the direct path plus one term per head.

    ``(X + [C, A X W_V][R; W_O]) W_U`` with ``X = T W_E`` (``C R`` the first ``H - 1`` heads, the
    multi-head lemma) expands to ``T W_E W_U + C R W_U + A T W_E W_V W_O W_U``: by induction on
    ``H``, ``logits = T W_E W_U + sum_h A^h T C_OV^h`` with the OV circuit
    ``C_OV^h = W_E W_V^h W_O^h W_U`` (``n_vocab x n_vocab``, rank at most ``d_head``). Row-major, the
    direct path is ``(I kron (W_E W_U)^T) vec_r(T)`` and head ``h`` is ``(A^h kron C_OV^{hT}) vec_r(T)``
    (lemma :func:`row_major_vec_kronecker`): Elhage et al.'s
    ``Id (x) W_U W_E + sum_h A^h (x) W_U W_OV^h W_E`` with their weights, the transposes of these.
    The closed form is the vectorised head; the labels ``vec_direct``, ``rank_ov`` and the lemma
    :func:`qk_circuit_on_tokens` give the rest. Symbolic sizes.
    """
    heads = BlockMatrix([[FIRST_HEADS, A * X * W_V]]) * BlockMatrix([[FIRST_ROWS], [W_O]])
    return (
        Derivation(
            "A one-layer attention-only transformer as a sum of paths",
            (X + heads) * W_U,
            start_note=(
                r"the logits: the residual stream $X$ plus multi-head attention (the first $H - 1$ heads' outputs "
                r"$C$ times their rows $R$ of $W_O$, then the last head), read out by $W_U$"
            ),
            assumptions=(ROWS_ARE_TOKENS, TOKENS_AND_EMBEDDINGS, RANK_OF_A_PRODUCT),
            lemmas=(multihead_as_sum_of_heads(), qk_circuit_on_tokens(), row_major_vec_kronecker()),
        )
        .then(multiply_blocks(), (X + FIRST_HEADS * FIRST_ROWS + A * X * W_V * W_O) * W_U)
        .then(
            substitute({X: T * W_E}, why="embed the tokens"),
            (T * W_E + FIRST_HEADS * FIRST_ROWS + A * T * W_E * W_V * W_O) * W_U,
        )
        .then(
            expand(),
            T * W_E * W_U + FIRST_HEADS * FIRST_ROWS * W_U + A * T * W_E * W_V * W_O * W_U,
            note=(
                r"by induction on $H$ ($C R W_U$ is the first $H - 1$ heads' terms): "
                r"$\mathrm{logits} = T W_E W_U + \sum_h A^h T\, W_E W_V^h W_O^h W_U$"
            ),
            label="paths",
        )
        .then(
            substitute({FIRST_HEADS: ZeroMatrix(*FIRST_HEADS.shape), A: ZeroMatrix(n, n)}, why="switch the heads off"),
            T * W_E * W_U,
            note=r"the direct path: what a zero-layer transformer computes (bigram statistics)",
            label="direct",
        )
        .then(
            custom(VECTORISE, _vectorise_rows),
            KroneckerProduct(Identity(n), (W_E * W_U).T) * vec_T,
            note=r"Elhage et al.'s $\mathrm{Id} \otimes W_U W_E$",
            label="vec_direct",
        )
        .then(
            apply_map(
                lambda total: total - T * W_E * W_U - FIRST_HEADS * FIRST_ROWS * W_U,
                placeholder=MatrixSymbol("L", n, n_vocab),
                why="take the last head's term",
            ),
            A * T * W_E * W_V * W_O * W_U,
            on="paths",
            label="head",
        )
        .then(
            custom(r"its OV circuit: the factors after $T$", _circuit),
            W_E * W_V * W_O * W_U,
            note=(
                r"$C_{OV} = W_E W_V W_O W_U \in \mathbb{R}^{n_{\mathrm{vocab}} \times n_{\mathrm{vocab}}}$: row $a$ is "
                r"what attending to a token $a$ adds to the logits of every next token"
            ),
            label="ov_circuit",
        )
        .then(
            rank_bound(RANK_OF_A_PRODUCT),
            sp.Min(n_vocab, d_model, d_head),
            note=r"a low-rank bottleneck: $\mathrm{rank}\, C_{OV} \le d_{\mathrm{head}}$",
            label="rank_ov",
        )
        .then(
            custom(VECTORISE, _vectorise_rows),
            KroneckerProduct(A, (W_E * W_V * W_O * W_U).T) * vec_T,
            on="head",
            note=(
                r"Elhage et al.'s $A^h \otimes W_U W_{OV}^h W_E$: $A^h$ moves information between positions, "
                r"$C_{OV}$ between tokens"
            ),
            label="vec_head",
        )
    )
