"""Derivations for LoRA's low-rank update (SymPy only; seed 002, "more on low-rank motifs"; Hu et al. 2021).

LoRA freezes a pretrained weight ``W_0`` (``d x k``) and trains an update ``Delta W = B A`` with
``B`` ``d x r`` and ``A`` ``r x k``:

* :func:`lora_update_rank`: ``rank(B A) <= min(d, r, k)``, symbolic sizes;
* :func:`lora_parameters`: ``B`` and ``A`` hold ``(d + k) r`` parameters, the fraction
  ``r (d + k) / (d k)`` of the ``d k`` a full update trains; ``2 d r`` against ``d^2`` (``2 r / d``) for a
  square weight;
* :func:`truncated_svd_error`: the best update of rank at most ``r`` in Frobenius norm is the truncated
  SVD ``B = U_1 diag(s_1)``, ``A = V_1^T`` (Eckart and Young 1936, Mirsky 1960), with error
  ``||Delta W - B A||_F^2 = s_2^T s_2``, the sum of the squared discarded singular values. The residual
  is derived for symbolic sizes; that no other rank-``r`` matrix does better is the cited theorem.
"""

from __future__ import annotations

import sympy as sp
from sympy import BlockMatrix, MatrixSymbol, ZeroMatrix
from sympy.matrices.expressions.diagonal import DiagMatrix

from proofs.attention.rank import RANK_OF_A_PRODUCT
from proofs.derivation import Derivation, apply_map, given, multiply_blocks, rank_bound, substitute

HU = "Hu et al. 2021, LoRA: Low-Rank Adaptation of Large Language Models (arXiv:2106.09685)"
ECKART_YOUNG = (
    "Eckart and Young 1936, The approximation of one matrix by another of lower rank; Mirsky 1960, "
    "Symmetric gauge functions and unitarily invariant norms (every unitarily invariant norm)"
)
FROBENIUS_SVD = (
    "Golub and Van Loan, Matrix Computations, 4th ed., sec. 2.4: the squared Frobenius norm of a matrix "
    "is the sum of its squared singular values"
)
LORA_SHAPES = (
    r"a frozen weight $W_0 \in \mathbb{R}^{d \times k}$ and a trained update $\Delta W = B A$ with "
    r"$B \in \mathbb{R}^{d \times r}$, $A \in \mathbb{R}^{r \times k}$ (Hu et al.'s notation)"
)
THIN_SVD = (
    r"$\Delta W = U\, \mathrm{diag}(s)\, V^\top$ is a thin SVD, $p = \min(d, k)$, $U \in \mathbb{R}^{d \times p}$ and "
    r"$V \in \mathbb{R}^{k \times p}$ with orthonormal columns, $s_1 \ge s_2 \ge \dots \ge s_p \ge 0$; split after the "
    r"first $r$: $U = [U_1, U_2]$, $V = [V_1, V_2]$, $s = (s_1; s_2)$ with $s_1$ the $r$ largest and $s_2$ the "
    r"$q = p - r$ discarded (for $r \ge p$ nothing is discarded: $s_2$ is empty and the error 0)"
)

d, k, r, q = sp.symbols("d k r q", integer=True, positive=True)
B = MatrixSymbol("B", d, r)
A = MatrixSymbol("A", r, k)
U_1, U_2 = MatrixSymbol("U_1", d, r), MatrixSymbol("U_2", d, q)
V_1, V_2 = MatrixSymbol("V_1", k, r), MatrixSymbol("V_2", k, q)
s_1, s_2 = MatrixSymbol("s_1", r, 1), MatrixSymbol("s_2", q, 1)
"""The kept and the discarded singular values; the compiled closed form reads ``s_2`` as an input."""


def lora_update_rank() -> Derivation:
    """``rank(B A) <= min(d, r, k)``: a LoRA update has rank at most ``r`` whatever it learns (symbolic sizes)."""
    return Derivation(
        "The rank of a LoRA update",
        B * A,
        start_note=r"the update $\Delta W = B A$, $B \in \mathbb{R}^{d \times r}$, $A \in \mathbb{R}^{r \times k}$",
        assumptions=(LORA_SHAPES, RANK_OF_A_PRODUCT),
    ).then(
        rank_bound(RANK_OF_A_PRODUCT),
        sp.Min(d, r, k),
        note=r"rank at most $r$: the update passes through an $r$-dimensional bottleneck",
        label="rank",
    )


def lora_parameters() -> Derivation:
    """``B`` and ``A`` hold ``d r + r k`` numbers: ``r (d + k) / (d k)`` of a full update, ``2 r / d`` if ``d = k``."""
    return (
        Derivation(
            "The parameters of a LoRA update",
            d * r + r * k,
            start_note=r"the entries of $B$ ($d r$) and of $A$ ($r k$): LoRA's trainable parameters",
            assumptions=(LORA_SHAPES,),
        )
        .then(
            apply_map(lambda count: count / (d * k), why=r"divide by the $d k$ entries a full update trains"),
            r * (d + k) / (d * k),
            label="fraction",
        )
        .then(
            substitute({k: d}, why="a square weight"),
            2 * r / d,
            note=r"$2 d r$ parameters instead of $d^2$",
            label="square",
        )
    )


def truncated_svd_error() -> Derivation:
    """``||Delta W - U_1 diag(s_1) V_1^T||_F^2 = s_2^T s_2``: the truncated SVD's error is the discarded spectrum.

    In blocks, ``Delta W = [U_1, U_2] diag(s_1, s_2) [V_1, V_2]^T``, so subtracting the rank-``r`` part
    ``B A = U_1 diag(s_1) V_1^T`` leaves ``U_2 diag(s_2) V_2^T`` (symbolic sizes), an SVD whose
    squared Frobenius norm is ``s_2^T s_2``. Eckart-Young-Mirsky: no matrix of rank at most ``r`` is
    closer, so this is the best LoRA update of rank ``r`` for a target full update ``Delta W``.
    """
    blocks = BlockMatrix([[DiagMatrix(s_1), ZeroMatrix(r, q)], [ZeroMatrix(q, r), DiagMatrix(s_2)]])
    full = BlockMatrix([[U_1, U_2]]) * blocks * BlockMatrix([[V_1, V_2]]).T
    return (
        Derivation(
            "The error of the truncated SVD (Eckart-Young-Mirsky)",
            full - U_1 * DiagMatrix(s_1) * V_1.T,
            start_note=(
                r"a full update $\Delta W$ in its SVD blocks, minus the rank-$r$ LoRA update "
                r"$B A$ with $B = U_1 \mathrm{diag}(s_1)$, $A = V_1^\top$"
            ),
            assumptions=(LORA_SHAPES, THIN_SVD),
            lemmas=(lora_update_rank(), lora_parameters()),
        )
        .then(
            multiply_blocks(),
            U_2 * DiagMatrix(s_2) * V_2.T,
            note=r"what the truncation leaves: the discarded singular directions",
            label="residual",
        )
        .then(
            given(r"take the squared Frobenius norm of this SVD (orthonormal $U_2$, $V_2$)", FROBENIUS_SVD),
            s_2.T * s_2,
            note=(
                r"$\lVert \Delta W - B A \rVert_F^2 = \sum_{i > r} s_i^2$; by Eckart-Young-Mirsky no matrix of rank "
                r"at most $r$ does better"
            ),
            label="error",
        )
    )
