"""circuits-framework (seed 002; Elhage et al. 2021): a one-layer attention-only transformer as a sum of paths.

The claim is assembled from the closed forms of :func:`proofs.circuits.framework.one_layer_paths`:
each head's causally masked pattern from the compiled QK logits ``T C_QK T^T / sqrt(d_head)``
(softmax), the logits in row-major ``vec_r`` as the compiled direct path
``(I kron (W_E W_U)^T) vec_r(T)`` plus one compiled Kronecker term ``(A^h kron C_OV^{hT}) vec_r(T)`` per
head, and the rank bounds ``min(n_vocab, d_model, d_head)`` of each head's QK and OV circuits.
The oracle runs the model literally in torch (:func:`numerics.circuits.framework.one_layer_attention_only`:
embedding lookup, a loop over heads, ``torch.softmax`` with a causal mask, residual stream,
unembedding) and multiplies the circuits out to take their numerical ranks; it reaches none of the
claim's code (no project softmax, no compiled closed form).
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
from numerics.attention.rank import orthonormal_frames
from numerics.circuits.framework import circuit_ranks, one_layer_attention_only, rounding_bound
from proofs.attention.circuits import ELHAGE, ROTH, ROWS_ARE_TOKENS, n
from proofs.circuits.framework import MIXED_PRODUCT, TOKENS_AND_EMBEDDINGS, one_layer_paths

_QK_LEMMA = 1  # one_layer_paths' lemmas: (multihead-circuits, the QK circuit on tokens, the row-major lemma)
QUERY_SCALE = 3.0
"""``W_Q`` is three times an orthonormal frame, so that logits reach about 3 and patterns are far from uniform."""


def _draw(rng, n, n_tokens, n_vocab, d_model, H, d_head):
    """Uniform random tokens (one-hot ``T``); every weight an orthonormal frame (``W_Q`` scaled by 3).

    Orthonormal frames are as generic as Gaussian matrices but keep the circuits' nonzero singular
    values away from the rank threshold (a product of Gaussian matrices has a heavy tail of tiny
    ones; see multihead-circuits), so the ranks are decided.
    """

    def heads(rows, cols):
        return orthonormal_frames(rng, n * H, rows, cols).reshape(n, H, rows, cols)

    return {
        "T": np.eye(n_vocab)[rng.integers(0, n_vocab, size=(n, n_tokens))],
        "W_E": orthonormal_frames(rng, n, n_vocab, d_model),
        "W_Q": QUERY_SCALE * heads(d_model, d_head),
        "W_K": heads(d_model, d_head),
        "W_V": heads(d_model, d_head),
        "W_O": heads(d_head, d_model),
        "W_U": orthonormal_frames(rng, n, d_model, n_vocab),
    }


# --- the claim: compiled closed forms, assembled -----------------------------------------------


@functools.lru_cache(maxsize=1)
def _qk_logits():
    """The lemma's logits ``T W_E W_Q W_K^T W_E^T T^T / sqrt(d_head)``, compiled for batches."""
    return compile_closed_form(circuits_framework.built_derivation().lemmas[_QK_LEMMA].expression("logits"))


@functools.lru_cache(maxsize=None)
def _direct_path(n_tokens: int):
    """The direct path ``(I kron (W_E W_U)^T) vec_r(T)`` at ``n = n_tokens`` (numpy needs the identity's size)."""
    return compile_closed_form(circuits_framework.built_derivation().expression("vec_direct").subs(n, n_tokens))


@functools.lru_cache(maxsize=1)
def _rank_bounds():
    """The compiled rank bounds of the QK circuit (lemma, ``rank_qk``) and of the OV circuit (``rank_ov``)."""
    derivation = circuits_framework.built_derivation()
    return (
        compile_closed_form(derivation.lemmas[_QK_LEMMA].expression("rank_qk")),
        compile_closed_form(derivation.expression("rank_ov")),
    )


def _causal(n_tokens: int) -> np.ndarray:
    return np.tril(np.ones((n_tokens, n_tokens), dtype=bool))


def _patterns(T, W_E, W_Q, W_K, d_head, mask=True) -> np.ndarray:
    """``(m, H, n, n)``: each head's softmax of the compiled QK logits, causally masked unless ``mask`` is False."""
    causal = _causal(T.shape[1]) if mask else None
    logits = (_qk_logits()(T=T, W_E=W_E, W_Q=W_Q[:, h], W_K=W_K[:, h], d_head=d_head) for h in range(W_Q.shape[1]))
    return np.stack([softmax(s, mask=causal) for s in logits], axis=1)


def _heads(head_form, patterns, T, W_E, W_V, W_O, W_U) -> np.ndarray:
    """``(m, n n_vocab)``: ``sum_h head_form(A^h, ...)``; ``numpy.kron`` does not batch: a loop over instances, heads."""
    vec_T = T.reshape(len(T), -1, 1)
    return np.array(
        [
            sum(
                head_form(A=patterns[i, h], W_E=W_E[i], W_V=W_V[i, h], W_O=W_O[i, h], W_U=W_U[i], vec_T=vec_T[i])[:, 0]
                for h in range(W_V.shape[1])
            )
            for i in range(len(T))
        ]
    ).reshape(len(T), -1)


def _assemble(closed_form, n_tokens, n_vocab, d_model, H, d_head, T, W_E, W_Q, W_K, W_V, W_O, W_U):
    """The claim vector ``(vec_r logits, patterns, QK ranks, OV ranks)`` from the compiled closed forms."""
    patterns = _patterns(T, W_E, W_Q, W_K, d_head)
    direct = _direct_path(n_tokens)(W_E=W_E, W_U=W_U, vec_T=T.reshape(len(T), -1, 1))[..., 0]
    logits = direct + _heads(closed_form, patterns, T, W_E, W_V, W_O, W_U)
    sizes = {"n_vocab": n_vocab, "d_model": d_model, "d_head": d_head}
    ranks = [np.broadcast_to(bound(**sizes), (len(T), H)) for bound in _rank_bounds()]
    return np.concatenate([logits, patterns.reshape(len(T), -1), *ranks], axis=1)


def _literal(T, W_E, W_Q, W_K, W_V, W_O, W_U):
    """The oracle: the model run literally in torch, its patterns, the circuits' numerical ranks, and a rounding bound.

    The logits are flattened row by row here (numpy's default ``reshape``), apart from the claim's
    helpers.
    """
    m = len(T)
    logits, patterns = one_layer_attention_only(T, W_E, W_Q, W_K, W_V, W_O, W_U)
    rank_qk, rank_ov = circuit_ranks(W_E, W_Q, W_K, W_V, W_O, W_U)
    values = np.concatenate([logits.reshape(m, -1), patterns.reshape(m, -1), rank_qk, rank_ov], axis=1)
    logit_error, pattern_error = rounding_bound(T, W_E, W_Q, W_K, W_V, W_O, W_U)
    exact_ranks = np.zeros((m, 2 * W_Q.shape[1]))
    accuracy = np.concatenate([logit_error.reshape(m, -1), pattern_error.reshape(m, -1), exact_ranks], axis=1)
    return values.astype(float), accuracy


# --- mutants: the same vector with one part computed the wrong way -----------------------------


def _parts(claim, n_tokens, n_vocab, H):
    """Views of the claim: logits ``(m, n n_vocab)``, patterns ``(m, H, n, n)``, QK and OV ranks ``(m, H)`` each."""
    size, square = n_tokens * n_vocab, H * n_tokens**2
    patterns = claim[:, size : size + square].reshape(len(claim), H, n_tokens, n_tokens)
    return claim[:, :size], patterns, claim[:, size + square : size + square + H], claim[:, size + square + H :]


def _with_heads(per_head):
    """The claim with the heads' terms replaced by ``per_head(A, C_OV, T)`` (``n x n_vocab``), summed over heads."""

    def mutant(n_tokens, n_vocab, d_model, H, d_head, T, W_E, W_Q, W_K, W_V, W_O, W_U):
        claim = circuits_framework.evaluate_claim(
            n_tokens=n_tokens, n_vocab=n_vocab, d_model=d_model, H=H, d_head=d_head,
            T=T, W_E=W_E, W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=W_O, W_U=W_U,
        )
        logits, patterns, _, _ = _parts(claim, n_tokens, n_vocab, H)
        circuits = W_E[:, None] @ W_V @ W_O @ W_U[:, None]
        direct = T @ W_E @ W_U
        for i in range(len(T)):
            terms = sum(per_head(patterns[i, h], circuits[i, h], T[i]) for h in range(H))
            logits[i] = (direct[i] + terms).ravel()
        return claim

    return mutant


def _kronecker(factors, order):
    """A head as ``factors(A, C_OV) @ vec(T)``, ``vec`` in ``order`` (``"C"`` rows, ``"F"`` columns), read back alike."""
    return lambda A, C, T: (factors(A, C) @ T.ravel(order=order)).reshape(T.shape, order=order)


def _no_direct_path(n_tokens, n_vocab, d_model, H, d_head, T, W_E, W_Q, W_K, W_V, W_O, W_U):
    claim = circuits_framework.evaluate_claim(
        n_tokens=n_tokens, n_vocab=n_vocab, d_model=d_model, H=H, d_head=d_head,
        T=T, W_E=W_E, W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=W_O, W_U=W_U,
    )
    _parts(claim, n_tokens, n_vocab, H)[0][...] -= (T @ W_E @ W_U).reshape(len(T), -1)
    return claim


def _with_patterns(change):
    """The claim with every head's pattern recomputed by ``change(T, W_E, W_Q, W_K, d_head)`` (the logits kept)."""

    def mutant(n_tokens, n_vocab, d_model, H, d_head, T, W_E, W_Q, W_K, W_V, W_O, W_U):
        claim = circuits_framework.evaluate_claim(
            n_tokens=n_tokens, n_vocab=n_vocab, d_model=d_model, H=H, d_head=d_head,
            T=T, W_E=W_E, W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=W_O, W_U=W_U,
        )
        _parts(claim, n_tokens, n_vocab, H)[1][...] = change(T, W_E, W_Q, W_K, d_head)
        return claim

    return mutant


def _ranks_without_heads(n_tokens, n_vocab, d_model, H, d_head, T, W_E, W_Q, W_K, W_V, W_O, W_U):
    claim = circuits_framework.evaluate_claim(
        n_tokens=n_tokens, n_vocab=n_vocab, d_model=d_model, H=H, d_head=d_head,
        T=T, W_E=W_E, W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=W_O, W_U=W_U,
    )
    _, _, rank_qk, rank_ov = _parts(claim, n_tokens, n_vocab, H)
    rank_qk[...] = rank_ov[...] = min(n_vocab, d_model)
    return claim


ELHAGE_OV_MUTANT = "X W_OV with Elhage's W_OV = W_O W_V (untransposed in the row convention)"
_MUTANTS = {
    "Kronecker factors swapped: C_OV^T kron A": _with_heads(_kronecker(lambda A, C: np.kron(C.T, A), "C")),
    "column-major vec with A kron C_OV^T": _with_heads(_kronecker(lambda A, C: np.kron(A, C.T), "F")),
    # In the row convention W_OV = W_V W_O; Elhage's W_O W_V is its transpose, so X W_OV^Elhage = X (W_V W_O)^T.
    ELHAGE_OV_MUTANT: _with_heads(lambda A, C, T: A @ T @ C.T),
    "no direct path (the residual stream dropped)": _no_direct_path,
    "QK circuit transposed: W_E W_K W_Q^T W_E^T": _with_patterns(
        lambda T, W_E, W_Q, W_K, d_head: _patterns(T, W_E, W_K, W_Q, d_head)
    ),
    "no causal mask": _with_patterns(lambda T, W_E, W_Q, W_K, d_head: _patterns(T, W_E, W_Q, W_K, d_head, mask=False)),
    "circuit ranks bounded by min(n_vocab, d_model) (the head bottleneck ignored)": _ranks_without_heads,
}


# --- anchors, worked by hand ----------------------------------------------------------------------


def _worked_inputs(case: str) -> dict[str, np.ndarray]:
    """The anchors' hand-built inputs (one instance, shaped as :func:`_draw`'s); ``W_E = W_U = I_2``.

    * ``"two heads"``: tokens ``(0, 1, 0)``; head 1 ``W_Q = ln 2 e_1``, ``W_K = e_1``, ``W_V = e_2``,
      ``W_O = e_1^T``; head 2 the same with ``e_1, e_2`` exchanged (``d_head = 1``).
    * ``"swap"``: tokens ``(1, 0)``; one head with ``d_head = 2``: ``W_Q = sqrt(2) ln 2 I``,
      ``W_K = W_V = I``, ``W_O`` the swap ``[[0, 1], [1, 0]]``.
    """
    e_1, e_2 = np.array([[1.0], [0.0]]), np.array([[0.0], [1.0]])
    if case == "two heads":
        return {
            "T": np.eye(2)[[0, 1, 0]],
            "W_E": np.eye(2),
            "W_Q": np.stack([math.log(2) * e_1, math.log(2) * e_2]),
            "W_K": np.stack([e_1, e_2]),
            "W_V": np.stack([e_2, e_1]),
            "W_O": np.stack([e_1.T, e_2.T]),
            "W_U": np.eye(2),
        }
    return {
        "T": np.eye(2)[[1, 0]],
        "W_E": np.eye(2),
        "W_Q": (math.sqrt(2) * math.log(2) * np.eye(2))[None],
        "W_K": np.eye(2)[None],
        "W_V": np.eye(2)[None],
        "W_O": np.array([[[0.0, 1.0], [1.0, 0.0]]]),
        "W_U": np.eye(2),
    }


FRAMEWORK_ANCHORS = (
    Anchor(
        {"n_tokens": 3, "n_vocab": 2, "d_model": 2, "H": 2, "d_head": 1},
        [1, 1, 1 / 2, 4 / 3, 6 / 5, 2 / 3]
        + [1, 0, 0, 1 / 2, 1 / 2, 0, 2 / 5, 1 / 5, 2 / 5]
        + [1, 0, 0, 1 / 3, 2 / 3, 0, 1 / 3, 1 / 3, 1 / 3]
        + [1, 1, 1, 1],
        "by hand (module checkers.circuits.framework): tokens (0, 1, 0), W_E = W_U = I; head 1 logits ln 2 x_i1 x_j1, "
        "causal rows (1), (1/2, 1/2), (2, 1, 2)/5, values (0, 1, 0), C_OV = e_2 e_1^T: adds (0, 1/2, 1/5) to token 0's logit; "
        "head 2 rows (1), (1, 2)/3, (1, 1, 1)/3, values (1, 0, 1), C_OV = e_1 e_2^T: adds (1, 1/3, 2/3) to token 1's; "
        "logits = T + both = [[1, 1], [1/2, 4/3], [6/5, 2/3]]; all circuits rank 1",
        rtol=1e-12,
        atol=1e-15,
        inputs=_worked_inputs("two heads"),
    ),
    Anchor(
        {"n_tokens": 2, "n_vocab": 2, "d_model": 2, "H": 1, "d_head": 2},
        [1, 1, 4 / 3, 2 / 3, 1, 0, 1 / 3, 2 / 3, 2, 2],
        "by hand: tokens (1, 0), logits ln 2 [x_i = x_j], causal rows (1), (1, 2)/3; A X = [[0, 1], [2/3, 1/3]], "
        "the swap W_O gives [[1, 0], [1/3, 2/3]], plus T: [[1, 1], [4/3, 2/3]]; C_QK = sqrt(2) ln 2 I and C_OV = swap, rank 2",
        rtol=1e-12,
        atol=1e-15,
        inputs=_worked_inputs("swap"),
    ),
)
"""Two anchors worked by hand at their own inputs, laid out as the claim: ``vec_r`` of the logits (rows stacked),
each head's pattern row by row, the QK ranks, the OV ranks. With ``W_E = W_U = I`` the logits are
``T + sum_h A^h T C_OV^h`` and every circuit is read off the weights:

* two heads, tokens ``(0, 1, 0)`` (``x = e_1, e_2, e_1``). Head 1: logits ``ln 2 x_i1 x_j1`` =
  ``ln 2 [[1, 0, 1], [0, 0, 0], [1, 0, 1]]``; causal softmax rows ``(1)``, ``(1/2, 1/2)``, ``(2, 1, 2)/5``; values
  ``x W_V = (0, 1, 0)``, so ``A v = (0, 1/2, 1/5)``, written to feature 1 (``W_O = e_1^T``). Head 2: logits
  ``ln 2 x_i2 x_j2``, rows ``(1)``, ``(1, 2)/3``, ``(1, 1, 1)/3``; values ``(1, 0, 1)``, ``A v = (1, 1/3, 2/3)`` to
  feature 2. Logits ``[[1, 0], [0, 1], [1, 0]] + [[0, 1], [1/2, 1/3], [1/5, 2/3]]``. Circuits ``ln 2 e_h e_h^T`` and
  ``e_2 e_1^T``, ``e_1 e_2^T``: rank 1 = ``min(2, 2, 1)``.
* one head, tokens ``(1, 0)``: logits ``sqrt(2) ln 2 x_i . x_j / sqrt(2) = ln 2 [i = j]``; rows ``(1)``, ``(1, 2)/3``;
  ``A X = [[0, 1], [2/3, 1/3]]``, swapped by ``W_O``: ``[[1, 0], [1/3, 2/3]]``; plus ``T = [[0, 1], [1, 0]]``. Both
  circuits rank 2 = ``min(2, 2, 2)``.
"""


# --- worked example ----------------------------------------------------------------------------


def _framework_values(n_tokens, n_vocab, d_model, H, d_head, T, W_E, W_Q, W_K, W_V, W_O, W_U):
    arguments = {"n_tokens": n_tokens, "n_vocab": n_vocab, "d_model": d_model, "H": H, "d_head": d_head}
    one = {"T": T, "W_E": W_E, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O, "W_U": W_U}
    inputs = {k: v[None] for k, v in one.items()}
    claim = circuits_framework.evaluate_claim(**arguments, **inputs)
    logits, patterns, rank_qk, rank_ov = _parts(claim, n_tokens, n_vocab, H)
    literal, _ = one_layer_attention_only(**inputs)
    qk = W_E @ W_Q @ np.swapaxes(W_K, -1, -2) @ W_E.T
    ov = W_E @ W_V @ W_O @ W_U
    direct = T @ W_E @ W_U
    literal_ranks = circuit_ranks(**{k: inputs[k] for k in ("W_E", "W_Q", "W_K", "W_V", "W_O", "W_U")})
    elhage = _MUTANTS[ELHAGE_OV_MUTANT](**arguments, **inputs)[0, : n_tokens * n_vocab]
    return {
        "tokens": T.argmax(axis=1).tolist(),
        "direct": direct,
        "head_terms": [patterns[0, h] @ T @ ov[h] for h in range(H)],
        "logits": logits[0].reshape(n_tokens, n_vocab),
        "logits_literal": literal[0],
        "max_difference": float(np.abs(logits[0] - literal[0].ravel()).max()),
        "patterns": patterns[0],
        "qk_circuit": qk[0],
        "ov_circuit": ov[0],
        "qk_singular_values": np.linalg.svd(qk, compute_uv=False),
        "ov_singular_values": np.linalg.svd(ov, compute_uv=False),
        "rank_bound": int(rank_qk[0, 0]),
        "rank_qk": literal_ranks[0][0].astype(int).tolist(),
        "rank_ov": literal_ranks[1][0].astype(int).tolist(),
        "elhage_ov_difference": float(np.abs(elhage - literal[0].ravel()).max()),
    }


circuits_framework = Theorem(
    id="circuits-framework",
    title="A one-layer attention-only transformer as a sum of paths (circuits framework)",
    topic="circuits",
    statement=(
        r"Let a one-layer attention-only transformer read one-hot tokens $T \in \{0, 1\}^{n \times n_{\mathrm{vocab}}}$ "
        r"(one row per position), embed them as $X = T W_E$, add $H$ attention heads to the residual stream "
        r"and read it out by $W_U$: $\mathrm{logits} = (X + \sum_h A^h X W_V^h W_O^h)\, W_U$ with causal patterns "
        r"$A^h = \mathrm{softmax}(X W_Q^h W_K^{h\top} X^\top / \sqrt{d_{\mathrm{head}}})$. Then the logits are the direct "
        r"path plus one term per head, $\mathrm{logits} = T\, W_E W_U + \sum_h A^h\, T\, C_{OV}^h$, with the OV circuit "
        r"$C_{OV}^h = W_E W_V^h W_O^h W_U$ and the patterns computed from the QK circuit "
        r"$C_{QK}^h = W_E W_Q^h W_K^{h\top} W_E^\top$ as $A^h = \mathrm{softmax}(T C_{QK}^h T^\top / \sqrt{d_{\mathrm{head}}})$. "
        r"Both circuits are $n_{\mathrm{vocab}} \times n_{\mathrm{vocab}}$ maps of rank at most "
        r"$\min(n_{\mathrm{vocab}}, d_{\mathrm{model}}, d_{\mathrm{head}})$, a bound attained for generic weights. With "
        r"row-major vectorisation ($\mathrm{vec}_r$ stacks the rows; $\mathrm{vec}_r(P Y Q) = (P \otimes Q^\top)\, "
        r"\mathrm{vec}_r(Y)$ for all sizes) the model is one sum of tensor products acting on the tokens, "
        r"$\mathrm{vec}_r(\mathrm{logits}) = \big(I_n \otimes (W_E W_U)^\top + \sum_h A^h \otimes C_{OV}^{h\top}\big)\, "
        r"\mathrm{vec}_r(T)$: Elhage et al.'s $\mathrm{Id} \otimes W_U W_E + \sum_h A^h \otimes W_U W_{OV}^h W_E$, whose "
        r"weights act on columns and are the transposes of these ($W_{OV}^h = W_O^h W_V^h$ there is "
        r"$(W_V^h W_O^h)^\top$ here). $A^h$ moves information between positions; $C_{OV}^h$ maps the attended token to "
        r"the logits it raises."
    ),
    assumptions=(
        ROWS_ARE_TOKENS,
        TOKENS_AND_EMBEDDINGS,
        r"the sum of paths, the circuits, their rank bounds and the row-major vectorisation lemma are proved for "
        r"symbolic sizes (the lemma on rank-one matrices, which span, by the mixed-product property); "
        r"rank attainment is checked numerically (singular values above $10^{-10} \sigma_1$, the band "
        r"$(10^{-12}, 10^{-8})\, \sigma_1$ refused as undecided)",
    ),
    sources=(
        f"{ELHAGE}, sections on one-layer attention-only transformers, the QK and OV circuits, and tensor products",
        ROTH,
        MIXED_PRODUCT,
        "seed 002, the circuits framework (Kronecker products, vectorisation, low-rank bottlenecks)",
        "multihead-circuits (this project): the sum over heads and the QK lemma",
    ),
    parameters={
        "n_tokens": Integer(1, 5, shape=True, default=4),
        "n_vocab": Integer(1, 6, shape=True, default=5),
        "d_model": Integer(1, 4, shape=True, default=4),
        "H": Integer(1, 3, shape=True, default=2),
        "d_head": Integer(1, 3, shape=True, default=2),
    },
    inputs=_draw,
    derivation=one_layer_paths,
    assemble=_assemble,
    oracle=_literal,
    mutants=_MUTANTS,
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "no fixed tolerance: the oracle states, entry by entry, a bound on the difference between two float64 "
            "evaluations of the same logits and patterns (numerics.circuits.framework.rounding_bound: 2 gamma_k times "
            "the absolute products along every path, k the longest chain of either form, the Kronecker form's "
            "n n_vocab-term product included, plus the patterns' softmax error carried through the OV circuits; "
            "Higham section 3.5). Ranks are integers and must agree exactly"
        ),
    ),
    example={"n_tokens": 4, "n_vocab": 5, "d_model": 4, "H": 2, "d_head": 2},
    anchors=FRAMEWORK_ANCHORS,
    variants={},
    values=_framework_values,
    questions={
        "logits": (
            r"A one-layer attention-only transformer reads the given one-hot tokens $T$ with embedding $W_E$, heads "
            r"$(W_Q^h, W_K^h, W_V^h, W_O^h)$ (causal attention) and unembedding $W_U$. Show that its logits are "
            r"$T W_E W_U + \sum_h A^h T W_E W_V^h W_O^h W_U$ and compute them for the given weights."
        ),
        "ov_circuit": (
            r"Write each head as a tensor product acting on $\mathrm{vec}_r(T)$ (rows stacked): which matrix acts on "
            r"positions and which on tokens? Compute the OV circuit $W_E W_V^h W_O^h W_U$ and say which token's logit "
            r"attending to token $a$ raises most."
        ),
        "rank_bound": (
            r"Bound the rank of the QK circuit $W_E W_Q^h W_K^{h\top} W_E^\top$ and of the OV circuit, and check the "
            r"bound against their singular values."
        ),
    },
    errata=(
        Erratum(
            source="seed 002",
            section="Main ideas (the circuits framework)",
            stated=(
                r"$X$ is $M \times N$ (rows are tokens): $A X$ is well-formed with $A$ square $M \times M$, ``but the "
                r"$X W_{OV}$ for the output-value circuit''"
            ),
            corrected=(
                r"with rows as tokens a head is $A X W_V W_O$: $X W_{OV}$ holds for $W_{OV} = W_V W_O$ (weights acting on "
                r"rows, as in nanoGPT's $x W$). With Elhage et al.'s $W_{OV} = W_O W_V$, whose weights act on columns, it "
                r"is $X W_{OV}^\top$, and their $A \otimes W_{OV}$ acts on the row-major $\mathrm{vec}_r(X)$"
            ),
            refuted_by=ELHAGE_OV_MUTANT,
            kind="ambiguous",
            readings=(
                r"$W_{OV} = W_V W_O$, the product of the row-convention weights: true",
                r"$W_{OV} = W_O W_V$ as in the paper the slide cites: false unless $W_{OV}$ is symmetric; the head's "
                r"output is $A X W_{OV}^\top$ (the mutant `X W_OV with Elhage's W_OV' is refuted)",
            ),
        ),
    ),
)
