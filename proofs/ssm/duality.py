"""Derivation for the state-space-duality theorem (SymPy only).

* :func:`ssd_mask`: the scalar-times-identity SSM ``h_t = a_t h_(t-1) + B_t x_t``,
  ``y_t = C_t^T h_t``, unrolled for ``L = SSD_L_MAX`` steps, is masked linear attention
  ``y = (L o C B^T) x`` with the 1-semiseparable mask ``L_ij = a_(j+1) ... a_i`` (``i >= j``),
  0 above the diagonal. Its lemmas: its off-diagonal blocks have rank one (what the chunked
  algorithm uses, :func:`off_diagonal_rank_one`), and with ``a_t = 1`` it is the causal mask of
  linear attention (:func:`causal_linear_attention_mask`). Dao and Gu 2024,
  "Transformers are SSMs", sections 3.2-3.3 and 6; seed 000, hours 9-10 ("State Space
  Duality").
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, block, expand, jacobian, rewrite, substitute

MAMBA2 = (
    "Dao and Gu 2024, Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured State "
    "Space Duality"
)
LINEAR_ATTENTION = "Katharopoulos, Vyas, Pappas, Fleuret 2020, Transformers are RNNs, section 3.4"

SSD_L_MAX = 6
"""The derivation unrolls this many steps; the mask of a shorter sequence is its leading block (causality)."""

a = sp.symbols(f"a_1:{SSD_L_MAX + 1}", positive=True)
b = sp.symbols(f"b_1:{SSD_L_MAX + 1}", real=True)
c = sp.symbols(f"c_1:{SSD_L_MAX + 1}", real=True)
x = sp.symbols(f"x_1:{SSD_L_MAX + 1}", real=True)
SPLIT = SSD_L_MAX // 2


def _outputs() -> sp.Matrix:
    """``(y_1, ..., y_L)`` of the recurrence, nested as the recurrence computes it (``h_0 = 0``)."""
    h, ys = sp.Integer(0), []
    for i in range(SSD_L_MAX):
        h = a[i] * h + b[i] * x[i]
        ys.append(c[i] * h)
    return sp.Matrix(ys)


def _decay(i: int, j: int) -> sp.Expr:
    """``a_(j+1) ... a_i`` (1-based ``i >= j``; the empty product on the diagonal is 1)."""
    return sp.Mul(*a[j:i])


def mask_matrix() -> sp.Matrix:
    return sp.Matrix(SSD_L_MAX, SSD_L_MAX, lambda i, j: _decay(i + 1, j + 1) if i >= j else 0)


def _blocks_at_the_split(M: sp.Matrix) -> sp.BlockMatrix:
    """``M`` as a 2 x 2 block matrix, split after step ``SPLIT``."""
    return sp.BlockMatrix([[M[:SPLIT, :SPLIT], M[:SPLIT, SPLIT:]], [M[SPLIT:, :SPLIT], M[SPLIT:, SPLIT:]]])


def off_diagonal_rank_one() -> Derivation:
    """The block of the mask below the diagonal at the split after step 3 is an outer product: rank one.

    ``L_ij = (a_(SPLIT+1) ... a_i)(a_(j+1) ... a_SPLIT)`` for ``i > SPLIT >= j``: the decay from ``j``
    to the split times the decay from the split to ``i``. Only the state at the split carries the
    past across it, which the chunked algorithm uses. Dao and Gu 2024, section 3.3 and 6.
    """
    mask = mask_matrix()
    below = sp.Matrix(SSD_L_MAX - SPLIT, 1, lambda i, _: _decay(SPLIT + i + 1, SPLIT))
    across = sp.Matrix(1, SPLIT, lambda _, j: _decay(SPLIT, j + 1))
    return (
        Derivation("The mask's off-diagonal blocks have rank one", mask, start_note="the mask $L$ for six steps")
        .then(rewrite(f"split after step {SPLIT} into blocks"), _blocks_at_the_split(mask))
        .then(block(1, 0), mask[SPLIT:, :SPLIT], label="off_diagonal_block")
        .then(
            rewrite("factor each entry into the decay after the split and the decay before it"),
            sp.MatMul(below, across, evaluate=False),
            note=r"rank one: $(a_4, a_4 a_5, a_4 a_5 a_6)^{\top} (a_2 a_3, a_3, 1)$; the state crosses the split",
        )
    )


def causal_linear_attention_mask() -> Derivation:
    """With no decay, ``a_t = 1``, the mask is the causal mask of linear attention (Katharopoulos et al. 2020)."""
    return Derivation("Linear attention is the SSM without decay", mask_matrix(), start_note="the mask $L$").then(
        substitute({ai: 1 for ai in a}, text=r"no decay: $a_t = 1$"),
        sp.Matrix(SSD_L_MAX, SSD_L_MAX, lambda i, j: 1 if i >= j else 0),
        note=r"the causal mask: causal linear attention $y = (\mathrm{tril} \circ c\, b^{\top})\, x$",
    )


def ssd_mask() -> Derivation:
    """``L_ij = a_(j+1) ... a_i``: the SSM's outputs are ``(L o C B^T) x`` (one state and one channel, ``L = 6``).

    The Jacobian ``dy/dx`` of the unrolled recurrence is ``L o c b^T``, whose entry ``(i, j)`` is
    ``L_ij c_i b_j``; at ``c = b = 1`` it is the mask itself, the closed form (labelled ``mask``, in
    ``a_1 .. a_6``). With a state of size ``N`` and ``p`` channels the same recurrence runs per
    state and channel and ``c_i b_j`` becomes ``C_i . B_j``. Its lemmas: the block below the
    diagonal at the split after step 3 is the outer product of ``(a_4, a_4 a_5, a_4 a_5 a_6)`` and
    ``(a_2 a_3, a_3, 1)``, rank one (:func:`off_diagonal_rank_one`: it passes a state across the
    split, the chunked algorithm); and with every ``a_t = 1`` the mask is the causal mask of linear
    attention (:func:`causal_linear_attention_mask`). Dao and Gu 2024, sections 3.2-3.3
    (Theorem 3.5) and 6.
    """
    mask = mask_matrix()
    scaled = sp.Matrix(SSD_L_MAX, SSD_L_MAX, lambda i, j: mask[i, j] * c[i] * b[j])
    return (
        Derivation(
            "State space duality: the SSM's mask",
            _outputs(),
            start_note=r"$y_t = c_t h_t$, $h_t = a_t h_{t-1} + b_t x_t$, $h_0 = 0$, unrolled for six steps",
            lemmas=(off_diagonal_rank_one(), causal_linear_attention_mask()),
        )
        .then(expand(), sp.expand(_outputs()))
        .then(
            jacobian(x),
            scaled,
            note=r"$y = (L \circ c\, b^{\top})\, x$: a linear map of $x$, lower triangular (causal)",
        )
        .then(
            substitute({**{ci: 1 for ci in c}, **{bi: 1 for bi in b}}, text=r"read off the mask: put $c_t = b_t = 1$"),
            mask,
            note=r"$L_{ij} = a_{j+1} \cdots a_i$ for $i \ge j$, $0$ above the diagonal",
            label="mask",
        )
    )
