"""multihead-circuits (seed 002; Elhage et al. 2021): multi-head attention as a sum of independent heads.

The claim, per instance, is one vector: the output ``vec(Z)`` (column-major) computed head by
head in the circuits form ``sum_h (W_OV^h^T kron A^h) vec(X)`` (the derivation's compiled
closed form), each head's pattern ``A^h`` from the compiled QK circuit
``X W_Q^h W_K^h^T X^T / sqrt(d_head)``, and each head's OV rank bound ``min(d_model, d_head)``.
The oracle is multi-head attention computed literally in torch, concatenate-then-project
(:func:`numerics.attention.circuits.multi_head_attention`: ``torch.softmax`` patterns and
``scaled_dot_product_attention`` heads, checked against ``torch.nn.MultiheadAttention`` in the
tests), with the numerical rank of each ``W_V^h W_O^h``; it reaches none of the claim's code (no
project softmax, its own ``vec``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from checkers.closed_form import compile_closed_form
from numerics.attention.circuits import multi_head_attention, rounding_bound
from numerics.attention.kernels import softmax
from numerics.attention.rank import numerical_rank, orthonormal_frames
from proofs.attention.circuits import ELHAGE, ROTH, ROWS_ARE_TOKENS, multihead_as_sum_of_heads

VASWANI = "Vaswani et al. 2017, Attention Is All You Need"


def _draw(rng, n, n_tokens, d_model, H, d_head):
    """Standard normal residual stream and ``W_Q, W_K`` of variance 1/d_model; orthonormal ``W_V^h`` and ``W_O^h``.

    Orthonormal value and output blocks are as generic as Gaussian ones, but a product of two
    square Gaussian matrices has a heavy tail of tiny singular values (2.9e-8 relative among
    40000 3x3 draws), which would leave ranks undecided; with orthonormal blocks
    ``W_V^h W_O^h`` has ``d_head`` unit singular values when ``d_head <= d_model``, and
    otherwise cosines of principal angles whose small tail is linear.
    """
    return {
        "X": rng.standard_normal((n, n_tokens, d_model)),
        "W_Q": rng.standard_normal((n, H, d_model, d_head)) / np.sqrt(d_model),
        "W_K": rng.standard_normal((n, H, d_model, d_head)) / np.sqrt(d_model),
        "W_V": orthonormal_frames(rng, n * H, d_model, d_head).reshape(n, H, d_model, d_head),
        "W_O": orthonormal_frames(rng, n * H, d_head, d_model).reshape(n, H * d_head, d_model),
    }


def _worked_inputs(n_tokens: int, d_model: int, H: int, d_head: int) -> dict[str, np.ndarray]:
    """The anchors' hand-built inputs (one instance, shaped as :func:`_draw`'s): token ``i`` is ``(i, ..., i)``
    (``i = 0, 1, ...``), every head has ``W_Q^h = ln 2 I``, ``W_K^h = W_V^h = I`` (``d_model x d_head``) and
    ``W_O^h = I`` (``d_head x d_model``), ``I`` the rectangular matrix with ones on its diagonal."""
    identity = np.eye(d_model, d_head)
    return {
        "X": np.repeat(np.arange(n_tokens, dtype=float)[:, None], d_model, axis=1),
        "W_Q": np.stack([math.log(2) * identity] * H),
        "W_K": np.stack([identity] * H),
        "W_V": np.stack([identity] * H),
        "W_O": np.tile(np.eye(d_head, d_model), (H, 1)),
    }


@functools.lru_cache(maxsize=1)
def _logits():
    """The QK lemma's logits ``X W_Q W_K^T X^T / sqrt(d_head)``, compiled for batches."""
    qk = multihead_circuits.built_derivation().lemmas[1]
    return compile_closed_form(qk.expression("logits"))


def _patterns(X, W_Q, W_K, d_head) -> np.ndarray:
    """``(m, H, n, n)``: each head's softmax of the compiled QK-circuit logits."""
    heads = range(W_Q.shape[1])
    return np.stack([softmax(_logits()(X=X, W_Q=W_Q[:, h], W_K=W_K[:, h], d_head=d_head)) for h in heads], axis=1)


def _output_rows(W_O, H, d_head):
    """``W_O`` split into the heads' row blocks ``W_O^h``: ``(m, H, d_head, d_model)``."""
    return W_O.reshape(len(W_O), H, d_head, -1)


def _column_major(Z: np.ndarray) -> np.ndarray:
    """``vec`` of each matrix of a batch ``(m, r, c)``: columns stacked, ``(m, r c)``."""
    return np.swapaxes(Z, 1, 2).reshape(len(Z), -1)


def _sum_of_heads(head_form, patterns, X, W_V, W_O, H, d_head) -> np.ndarray:
    """``(m, n d_model)``: ``sum_h head_form(A^h, W_V^h, W_O^h, vec X)`` instance by instance.

    ``head_form`` is the compiled Kronecker closed form; ``numpy.kron`` does not batch, so this
    loops over instances and heads (at most 1000 x 3 small products).
    """
    rows = _output_rows(W_O, H, d_head)
    vec_X = _column_major(X)[..., None]
    outputs = [
        sum(head_form(A=patterns[i, h], W_V=W_V[i, h], W_O=rows[i, h], vec_X=vec_X[i])[:, 0] for h in range(H))
        for i in range(len(X))
    ]
    return np.array(outputs)


def _assemble(closed_form, n_tokens, d_model, H, d_head, X, W_Q, W_K, W_V, W_O):
    """The claim vector ``(vec Z, patterns, OV ranks)`` from the compiled closed forms."""
    patterns = _patterns(X, W_Q, W_K, d_head)
    output = _sum_of_heads(closed_form, patterns, X, W_V, W_O, H, d_head)
    ranks = multihead_circuits.closed_form("rank_W_OV")(d_model=d_model, d_head=d_head)
    return np.concatenate([output, patterns.reshape(len(X), -1), np.broadcast_to(ranks, (len(X), H))], axis=1)


def _literal(X, W_Q, W_K, W_V, W_O):
    """The oracle: torch's concatenate-then-project attention, its patterns and numerical OV ranks, with a rounding bound.

    Written apart from the claim's helpers: ``vec`` stacks the columns of ``Z`` (``Z^T`` flattened row by
    row), and head ``h`` meets rows ``h d_head .. (h + 1) d_head - 1`` of ``W_O``.
    """
    m, H, d_model, d_head = W_Q.shape
    Z, patterns = multi_head_attention(X, W_Q, W_K, W_V, W_O)
    ranks = numerical_rank(W_V @ W_O.reshape(m, H, d_head, d_model)).astype(float)
    values = np.concatenate([np.swapaxes(Z, 1, 2).reshape(m, -1), patterns.reshape(m, -1), ranks], axis=1)
    output_error, pattern_error = rounding_bound(X, W_Q, W_K, W_V, W_O)
    vec_error = np.swapaxes(output_error, 1, 2).reshape(m, -1)
    accuracy = np.concatenate([vec_error, pattern_error.reshape(m, -1), np.zeros((m, H))], axis=1)
    return values, accuracy


# --- mutants: the same vector with one part computed the wrong way ---------------------------


def _split(claim, n_tokens, d_model, H):
    """Views of the claim vector's parts: output ``(m, n d_model)``, patterns ``(m, H, n, n)``, ranks ``(m, H)``."""
    size = n_tokens * d_model
    patterns = claim[:, size : size + H * n_tokens**2].reshape(len(claim), H, n_tokens, n_tokens)
    return claim[:, :size], patterns, claim[:, size + H * n_tokens**2 :]


def _wrong_kronecker(factors, order: str):
    """Each head as ``factors(W_OV, A) @ x`` with ``x`` = ``X`` flattened in ``order``, read back in the same order."""

    def mutant(n_tokens, d_model, H, d_head, X, W_Q, W_K, W_V, W_O):
        claim = multihead_circuits.evaluate_claim(
            n_tokens=n_tokens, d_model=d_model, H=H, d_head=d_head, X=X, W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=W_O
        )
        output, patterns, _ = _split(claim, n_tokens, d_model, H)
        W_OV = W_V @ _output_rows(W_O, H, d_head)
        for i in range(len(X)):
            heads = [factors(W_OV[i, h], patterns[i, h]) @ X[i].ravel(order=order) for h in range(H)]
            output[i] = sum(heads).reshape(n_tokens, d_model, order=order).ravel(order="F")
        return claim

    return mutant


def _transposed_qk(n_tokens, d_model, H, d_head, X, W_Q, W_K, W_V, W_O):
    claim = multihead_circuits.evaluate_claim(
        n_tokens=n_tokens, d_model=d_model, H=H, d_head=d_head, X=X, W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=W_O
    )
    _, patterns, _ = _split(claim, n_tokens, d_model, H)
    patterns[...] = _patterns(X, W_K, W_Q, d_head)
    return claim


def _ov_rank_d_model(n_tokens, d_model, H, d_head, X, W_Q, W_K, W_V, W_O):
    claim = multihead_circuits.evaluate_claim(
        n_tokens=n_tokens, d_model=d_model, H=H, d_head=d_head, X=X, W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=W_O
    )
    _split(claim, n_tokens, d_model, H)[2][...] = d_model
    return claim


def _heads_averaged(n_tokens, d_model, H, d_head, X, W_Q, W_K, W_V, W_O):
    claim = multihead_circuits.evaluate_claim(
        n_tokens=n_tokens, d_model=d_model, H=H, d_head=d_head, X=X, W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=W_O
    )
    _split(claim, n_tokens, d_model, H)[0][...] /= H
    return claim


# --- worked example --------------------------------------------------------------------------


def _circuit_values(n_tokens, d_model, H, d_head, X, W_Q, W_K, W_V, W_O):
    arguments = {"n_tokens": n_tokens, "d_model": d_model, "H": H, "d_head": d_head}
    inputs = {"X": X[None], "W_Q": W_Q[None], "W_K": W_K[None], "W_V": W_V[None], "W_O": W_O[None]}
    claim = multihead_circuits.evaluate_claim(**arguments, **inputs)
    output, patterns, ranks = _split(claim, n_tokens, d_model, H)
    literal, literal_patterns = multi_head_attention(**inputs)
    W_OV = W_V @ _output_rows(W_O[None], H, d_head)[0]

    def largest_gap(mutant):
        wrong = _split(mutant(**arguments, **inputs), n_tokens, d_model, H)[0]
        return float(np.abs(wrong - _column_major(literal)).max())

    return {
        "Z": output[0].reshape(d_model, n_tokens).T,
        "Z_literal": literal[0],
        "max_difference": float(np.abs(output - _column_major(literal)).max()),
        "pattern_difference": float(np.abs(patterns - literal_patterns).max()),
        "W_OV_singular_values": np.linalg.svd(W_OV, compute_uv=False),
        "rank_W_OV": numerical_rank(W_OV).astype(int).tolist(),
        "rank_bound": int(ranks[0, 0]),
        "row_major_difference": largest_gap(_ROW_MAJOR),
        "swapped_difference": largest_gap(_SWAPPED),
    }


_WORKED_SMALL = {"n_tokens": 2, "d_model": 2, "H": 2, "d_head": 1}
_WORKED_ONE_HEAD = {"n_tokens": 3, "d_model": 1, "H": 1, "d_head": 1}

CIRCUIT_ANCHORS = (
    Anchor(
        _WORKED_SMALL,
        [1.0, 4 / 3, 0.0, 0.0, *[1 / 2, 1 / 2, 1 / 3, 2 / 3] * 2, 1.0, 1.0],
        "by hand: X = [[0, 0], [1, 1]], logits ln 2 x_i x_j, patterns [[1/2, 1/2], [1/3, 2/3]] "
        "in both heads, W_OV = diag(1, 0) of rank 1; Z = 2 A X W_OV = [[1, 0], [4/3, 0]], vec Z = (1, 4/3, 0, 0)",
        rtol=1e-12,
        atol=1e-15,
        inputs=_worked_inputs(**_WORKED_SMALL),
    ),
    Anchor(
        _WORKED_ONE_HEAD,
        [1.0, 10 / 7, 12 / 7, *[1 / 3] * 3, 1 / 7, 2 / 7, 4 / 7, 1 / 21, 4 / 21, 16 / 21, 1.0],
        "by hand: x = (0, 1, 2), weights 2^(x_i x_j) normalised by rows (3, 7, 21), "
        "Z = A x = (1, 10/7, 12/7), W_OV = 1 of rank 1",
        rtol=1e-12,
        inputs=_worked_inputs(**_WORKED_ONE_HEAD),
    ),
)
"""Two anchors worked by hand at their own inputs (:func:`_worked_inputs`), laid out as the claim: ``vec Z``
(columns stacked), then each head's pattern row by row, then each head's OV rank. With one head dimension the logits
are ``(X W_Q)(X W_K)^T = ln 2 x_i x_j`` (``x_i = i`` the token's first coordinate), so the softmax weights are
``2^(x_i x_j)`` over their row sum:

* 2 tokens, ``d_model = 2``, 2 heads: ``x = (0, 1)``; row 0 has weights ``(1, 1) / 2``, row 1 ``(1, 2) / 3``.
  ``X W_V = x``, so each head gives ``A x = (1/2, 2/3)`` in feature 0 (``W_O^h = (1, 0)``) and 0 in
  feature 1; two heads sum to ``Z = [[1, 0], [4/3, 0]]``. ``W_OV = W_V W_O = diag(1, 0)``: rank 1 each.
* 3 tokens, ``d_model = 1``, one head: ``x = (0, 1, 2)``; rows ``(1, 1, 1)/3``, ``(1, 2, 4)/7``,
  ``(1, 4, 16)/21``, so ``Z = A x = (3/3, 10/7, 36/21) = (1, 10/7, 12/7)``; ``W_OV = 1``: rank 1.
"""

_ROW_MAJOR = _wrong_kronecker(lambda W, A: np.kron(W.T, A), "C")
_SWAPPED = _wrong_kronecker(lambda W, A: np.kron(A, W.T), "F")

multihead_circuits = Theorem(
    id="multihead-circuits",
    title="Multi-head attention as a sum of independent heads (circuits framework)",
    topic="attention",
    statement=(
        r"Multi-head attention without biases, heads concatenated and projected by $W_O$, is a sum of independent "
        r"heads: $\mathrm{MultiHead}(X) = [A^1 X W_V^1, \dots, A^H X W_V^H]\, W_O = \sum_{h=1}^H A^h X W_V^h W_O^h$, "
        r"where $W_O^h$ are the rows of $W_O$ that multiply head $h$. With column-major vectorisation (columns "
        r'stacked; numpy \texttt{order="F"}) $\mathrm{vec}(A X W) = (W^\top \otimes A)\, \mathrm{vec}(X)$, so '
        r"$\mathrm{vec}\, \mathrm{MultiHead}(X) = \sum_h (W_{OV}^{h\top} \otimes A^h)\, \mathrm{vec}(X)$ with the OV "
        r"circuit $W_{OV}^h = W_V^h W_O^h \in \mathbb{R}^{d_{\mathrm{model}} \times d_{\mathrm{model}}}$ of rank "
        r"at most $d_{\mathrm{head}}$ (a low-rank bottleneck): $A^h$ mixes tokens, $W_{OV}^h$ mixes features. "
        r"The pattern comes "
        r"from the QK circuit: $A^h = \mathrm{softmax}(X W_{QK}^h X^\top / \sqrt{d_{\mathrm{head}}})$ with "
        r"$W_{QK}^h = W_Q^h W_K^{h\top}$, also of rank at most $d_{\mathrm{head}}$. With row-major flattening (numpy's "
        r"default) the Kronecker factors swap: "
        r"$\mathrm{vec}((A X W)^\top) = (A \otimes W^\top)\, \mathrm{vec}(X^\top)$."
    ),
    assumptions=(
        ROWS_ARE_TOKENS,
        r"the sum over heads is proved for symbolic sizes by induction on $H$; the vectorisation lemma entrywise at "
        r"one size ($A$ $2 \times 2$, $X$ $2 \times 3$, $W$ $3 \times 4$) and used at every size of the domain, where "
        r"the numeric check confirms it",
        r"rank attainment ($\mathrm{rank}\, W_{OV}^h = \min(d_{\mathrm{model}}, d_{\mathrm{head}})$ for generic "
        r"weights) is checked numerically: singular values above $10^{-10} \sigma_1$, with the band "
        r"$(10^{-12}, 10^{-8})\, \sigma_1$ refused as undecided",
    ),
    sources=(
        f"{ELHAGE}, sections on independent and additive heads, tensor products, and the QK and OV circuits",
        ROTH,
        f"{VASWANI}, section 3.2.2 (multi-head attention)",
        "seed 002, the circuits framework (Kronecker products, vectorisation)",
    ),
    parameters={
        "n_tokens": Integer(1, 6, shape=True, default=3),
        "d_model": Integer(1, 8, shape=True, default=4),
        "H": Integer(1, 3, shape=True, default=2),
        "d_head": Integer(1, 4, shape=True, default=2),
    },
    inputs=_draw,
    derivation=multihead_as_sum_of_heads,
    assemble=_assemble,
    oracle=_literal,
    mutants={
        "row-major vec (numpy's default reshape)": _ROW_MAJOR,
        "Kronecker factors swapped: A kron W_OV^T": _SWAPPED,
        "W_OV kron A (W not transposed)": _wrong_kronecker(lambda W, A: np.kron(W, A), "F"),
        "rank(W_OV) bounded by d_model": _ov_rank_d_model,
        "QK circuit transposed: X W_K W_Q^T X^T": _transposed_qk,
        "heads averaged, not summed": _heads_averaged,
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "no fixed tolerance: the oracle states, entry by entry, a bound on the difference between two float64 "
            "evaluations of the same sums (numerics.attention.circuits.rounding_bound: 2 gamma_k times the absolute "
            "products, k the longest chain of either form, the circuits form's n d_model-term matrix-vector product "
            "included, Higham section 3.5). Ranks are integers and must agree exactly"
        ),
    ),
    example={"n_tokens": 3, "d_model": 4, "H": 2, "d_head": 2},
    anchors=CIRCUIT_ANCHORS,
    variants={},
    values=_circuit_values,
)
