"""``permutation-equivariance`` (seed 003, exercise 1.1 and task 2.1): a checked derivation
(proofs.attention.equivariance) against self-attention run on permuted tokens (numerics.attention).

The checked quantity stacks three settings, each run directly on the permuted tokens ``P_s X``:
plain self-attention, with sinusoidal positions added to the slots, and with a causal mask on the
slots. The claim predicts all three from the unpermuted tokens through the derivation's closed form
(``P_s`` times attention of ``X``): plainly, with the encodings moved along with the tokens
(``X + P_s^T E``), and with the mask moved along (``P_s^T C P_s``). The mutants keep the
positions or the mask where they were, or permute the output the wrong way.

The claim feeds the closed form the unnormalised weights ``exp(S_ij)`` (0 where masked), so the
normalisation it derives is exercised, and it reaches no softmax. The oracle runs torch's
``scaled_dot_product_attention`` on the permuted tokens
(:func:`numerics.attention.equivariance.attention_of_permuted_tokens`), with its own numbering of the
permutations, encodings and causal mask: it reaches none of the claim's code.
"""

from __future__ import annotations

import math

import numpy as np

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from checkers.results import Erratum
from numerics.attention.equivariance import (
    attention_of_permuted_tokens,
    causal_mask,
    inverse_permutation,
    lexicographic_permutation,
    permute_tokens,
    projections,
    sinusoidal_positions,
)
from numerics.attention.kernels import attention_weights, scaled_dot_product_attention
from proofs.attention.equivariance import (
    NO_POSITIONS,
    PERMUTATIONS,
    TOKENS,
    VALUES,
    WEIGHTS,
    attention_commutes_with_permutations,
)

VASWANI = "Vaswani et al. 2017, Attention Is All You Need"
SETTINGS = ("plain", "sinusoidal positions", "causal mask")
"""The three stacked components of the checked quantity, in order."""

_PERMUTATION_TABLE = np.array(PERMUTATIONS)
_IDENTITY = PERMUTATIONS.index(tuple(range(TOKENS)))


def _draw(rng: np.random.Generator, n: int, d: int, d_head: int) -> dict[str, np.ndarray]:
    """Tokens ``X ~ N(0, 1)`` and weights with entries ``N(0, 1/d)`` (scores of order 1)."""
    scale = 1 / np.sqrt(d)
    return {
        "X": rng.standard_normal((n, TOKENS, d)),
        "W_Q": scale * rng.standard_normal((n, d, d_head)),
        "W_K": scale * rng.standard_normal((n, d, d_head)),
        "W_V": scale * rng.standard_normal((n, d, d_head)),
    }


def _worked_inputs(d: int, d_head: int) -> dict[str, np.ndarray]:
    """The anchors' hand-built inputs (one instance, shaped as :func:`_draw`'s): token ``i`` has every coordinate
    equal to ``i`` (``i = 0, 1, 2``), ``W_Q = W_K = 0`` (uniform weights), and ``W_V`` the ``d x d_head`` matrix with
    ones on its diagonal."""
    return {
        "X": np.repeat(np.arange(TOKENS, dtype=float)[:, None], d, axis=1),
        "W_Q": np.zeros((d, d_head)),
        "W_K": np.zeros((d, d_head)),
        "W_V": np.eye(d, d_head),
    }


def _permutations(permutation) -> np.ndarray:
    return _PERMUTATION_TABLE[np.asarray(permutation, dtype=int)]


def _attention_of_permuted_tokens(X, W_Q, W_K, W_V, permutation):
    """The oracle: plain, positions in the slots, causal mask on the slots, each run in torch on ``P_s X``.

    Shape ``(m, 3, TOKENS, d_head)``, with each instance's bound on the rounding gap to the claim
    (:func:`numerics.attention.equivariance.attention_of_permuted_tokens`). The permutation's number is
    read by the factorial number system, apart from the derivation's table.
    """
    return attention_of_permuted_tokens(X, W_Q, W_K, W_V, lexicographic_permutation(permutation, TOKENS))


def _unnormalised_weights(X, W_Q, W_K, mask=None) -> np.ndarray:
    """``exp(S_ij)``, ``S = X W_Q (X W_K)^T / sqrt(d_k)``, set to 0 where ``mask`` is False: ``(m, TOKENS, TOKENS)``.

    Not normalised: the normalisation is the closed form's. Scores here are of order one (at most 30 in
    magnitude over the domain), far from overflow.
    """
    queries, keys = X @ W_Q, X @ W_K
    weights = np.exp(queries @ np.swapaxes(keys, 1, 2) / math.sqrt(W_Q.shape[-1]))
    return weights if mask is None else np.where(mask, weights, 0.0)


def _outputs_for_every_permutation(closed_form, X, W_Q, W_K, W_V, mask=None) -> np.ndarray:
    """The closed form ``P_s (A v)`` at the weights and values of ``X``, by columns: ``(m, 6, TOKENS, d_head)``.

    The closed form takes the unnormalised weights ``exp(S_ij)`` and normalises them itself.
    """
    weights = _unnormalised_weights(X, W_Q, W_K, mask)
    values = X @ W_V
    m, columns = values.shape[0], values.shape[-1]
    arguments = {
        str(WEIGHTS[i, j]): np.repeat(weights[:, i, j], columns) for i in range(TOKENS) for j in range(TOKENS)
    }
    arguments.update({str(VALUES[j]): values[:, j, :].ravel() for j in range(TOKENS)})
    stacked = closed_form(**arguments).reshape(m, columns, len(PERMUTATIONS), TOKENS)
    return np.moveaxis(stacked, 1, -1)


def _block(outputs: np.ndarray, index) -> np.ndarray:
    """Block ``index[k]`` (one permutation per instance) of ``(m, 6, TOKENS, d_head)``."""
    return outputs[np.arange(len(outputs)), np.asarray(index, dtype=int)]


def _equivariant_prediction(
    closed_form, X, W_Q, W_K, W_V, permutation, d, *, positions_move=True, mask_moves=True, output_block=None
):
    """``P_s Attn(X)`` for the three settings, from the closed form.

    ``positions_move``: the encodings travel with the tokens (``X + P_s^T E``, the truth) or stay
    (``X + E``); ``mask_moves``: the mask is ``P_s^T C P_s`` (the truth) or ``C``; ``output_block``
    picks which permutation's block gives the plain output (default: ``s`` itself).
    """
    inverse = inverse_permutation(_permutations(permutation))
    positions = np.broadcast_to(sinusoidal_positions(TOKENS, d), X.shape)
    moved_positions = permute_tokens(positions, inverse) if positions_move else positions
    mask = causal_mask(TOKENS)
    # (P_s^T C P_s)_ab = C_{s^-1(a) s^-1(b)}: the mask's rows and columns follow the tokens.
    moved_mask = mask[inverse[:, :, None], inverse[:, None, :]]
    plain = _outputs_for_every_permutation(closed_form, X, W_Q, W_K, W_V)
    encoded = _outputs_for_every_permutation(closed_form, X + moved_positions, W_Q, W_K, W_V)
    masked = _outputs_for_every_permutation(closed_form, X, W_Q, W_K, W_V, moved_mask if mask_moves else mask)
    return np.stack(
        [
            _block(plain, permutation if output_block is None else output_block(permutation)),
            _block(encoded, permutation),
            _block(masked, permutation),
        ],
        axis=1,
    )


def _mutant(**wrong):
    def claim(X, W_Q, W_K, W_V, permutation, d):
        closed_form = permutation_equivariance.closed_form()
        return _equivariant_prediction(closed_form, X, W_Q, W_K, W_V, permutation, d, **wrong)

    return claim


def _inverse_block(permutation) -> np.ndarray:
    inverse = inverse_permutation(_permutations(permutation))
    return np.array([PERMUTATIONS.index(tuple(s)) for s in inverse])


_SIN, _COS = (math.sin(1) + math.sin(2)) / 3, (1 + math.cos(1) + math.cos(2)) / 3

EQUIVARIANCE_ANCHORS = (
    Anchor(
        {"d": 1, "d_head": 1, "permutation": 3},
        [[[1.0]] * 3, [[1 + _SIN]] * 3, [[1.0], [1.5], [1.0]]],
        "by hand (s = (2, 3, 1)): uniform weights; P_s X = (1, 2, 0); plain: the mean 1; "
        "positions: 1 + (sin 1 + sin 2)/3; causal: the running means 1, 3/2, 1",
        rtol=1e-12,
        inputs=_worked_inputs(d=1, d_head=1),
    ),
    Anchor(
        {"d": 2, "d_head": 2, "permutation": 1},
        [[[1.0, 1.0]] * 3, [[1 + _SIN, 1 + _COS]] * 3, [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]],
        "by hand (s = (1, 3, 2)): uniform weights; P_s X has rows 0, 2, 1; plain: the mean 1; "
        "positions: 1 + (sin 1 + sin 2)/3 and 1 + (1 + cos 1 + cos 2)/3; causal: the running means 0, 1, 1",
        rtol=1e-12,
        atol=1e-15,
        inputs=_worked_inputs(d=2, d_head=2),
    ),
)
"""Anchors worked by hand at their own inputs (:func:`_worked_inputs`): token ``i`` is ``(i, ..., i)``,
``W_Q = W_K = 0`` so every weight is ``1/3`` (or ``1/(i+1)`` on the first ``i + 1`` keys under the causal mask), and
``W_V`` keeps the first ``min(d, d_head)`` coordinates.

* ``d = d_head = 1``, ``permutation = 3``, ``s = (2, 3, 1)`` (0-based ``(1, 2, 0)``): ``P_s X = (1, 2, 0)``.
  Plain: every output is the mean ``(1 + 2 + 0)/3 = 1``. Positions: the encodings' first column is
  ``sin(p)``, ``p = 0, 1, 2``, so every output is ``(1 + 2 + 0 + sin 0 + sin 1 + sin 2)/3 = 1 + (sin 1 + sin 2)/3
  = 1.5835895``. Causal: the running means ``1``, ``(1 + 2)/2 = 3/2``, ``(1 + 2 + 0)/3 = 1``.
* ``d = d_head = 2``, ``permutation = 1``, ``s = (1, 3, 2)``: ``P_s X`` has rows ``(0, 0), (2, 2), (1, 1)``.
  Plain: ``(1, 1)`` everywhere. Positions: the encodings are ``(sin p, cos p)``, so ``1 + (sin 1 + sin 2)/3`` and
  ``1 + (cos 0 + cos 1 + cos 2)/3 = 1.3747185``. Causal: ``(0, 0)``, ``(1, 1)``, ``(1, 1)``.
"""


def _example_values(X, W_Q, W_K, W_V, permutation, d):
    """The seeded instance: weights and outputs before and after permuting; what fixed positions or a mask change."""
    batch = {"X": X[None], "W_Q": W_Q[None], "W_K": W_K[None], "W_V": W_V[None], "permutation": np.array([permutation])}
    direct = _attention_of_permuted_tokens(**batch)[0][0]
    claimed = permutation_equivariance.evaluate_claim(**batch, d=d)[0]
    stays = _mutant(positions_move=False, mask_moves=False)(**batch, d=d)[0]
    s = _permutations(batch["permutation"])
    permuted = permute_tokens(X[None], s)[0]
    return {
        "permutation": [int(i) + 1 for i in s[0]],
        "weights": attention_weights(X @ W_Q, X @ W_K),
        "permuted_weights": attention_weights(permuted @ W_Q, permuted @ W_K),
        "output": scaled_dot_product_attention(*projections(X, W_Q, W_K, W_V)),
        "permuted_output": direct[0],
        "max_error": float(np.abs(direct - claimed).max()),
        "positions_gap": float(np.abs(direct[1] - stays[1]).max()),
        "causal_gap": float(np.abs(direct[2] - stays[2]).max()),
    }


permutation_equivariance = Theorem(
    id="permutation-equivariance",
    title="Permutation equivariance of self-attention (Ex. 1.1, task 2.1)",
    topic="attention",
    statement=(
        r"Let $\mathrm{Attn}(X) = A\, X W_V$ with $A = \mathrm{softmax}(X W_Q (X W_K)^\top / \sqrt{d_k})$ "
        r"row by row, no positional encoding and no mask. For every permutation $s$ of the $n$ tokens, "
        r"with $(P_s X)_i = X_{s(i)}$: $\mathrm{Attn}(P_s X) = P_s\, \mathrm{Attn}(X)$, the weights of the "
        r"permuted tokens being $A'_{ij} = A_{s(i) s(j)}$. Order therefore plays no part: the output at a "
        r"token depends on the token and on the set of the others. Positions or a mask fixed to the slots "
        r"break this: with encodings $E$ added, $\mathrm{Attn}(P_s X + E) = P_s\, \mathrm{Attn}(X + P_s^\top E)$, "
        r"which is not $P_s\, \mathrm{Attn}(X + E)$ in general; with a causal mask $C$, "
        r"$\mathrm{Attn}_C(P_s X) = P_s\, \mathrm{Attn}_{P_s^\top C P_s}(X)$, not $P_s\, \mathrm{Attn}_C(X)$."
    ),
    assumptions=(
        NO_POSITIONS,
        r"the derivation covers every permutation of $n = 3$ tokens with generic weights and values and "
        r"symbolic sizes $d, d_k$ (the scores lemma); the checker samples $n = 3$ only. For other $n$ the "
        r"test suite checks the numpy attention of task 2.1 on random permutations (sampling, not proof)",
        r"the parameter \texttt{permutation} numbers the $3! = 6$ permutations in lexicographic order of "
        r"$(s(1), s(2), s(3))$: 0 is the identity, 3 is $s = (2, 3, 1)$ (a 3-cycle, the default)",
        r"a mask enters as weights set to 0 and an additive encoding as a change of $X$: "
        r"$P_s X + E = P_s (X + P_s^\top E)$, so both are covered by the generic weights once they move "
        r"with the tokens",
    ),
    sources=(f"{VASWANI}, section 3.2.1", "seed 003, exercise 1.1 and task 2.1", "seed 001, Theoretical Properties 1"),
    parameters={
        "d": Integer(1, 8, shape=True, default=4),
        "d_head": Integer(1, 8, shape=True, default=2),
        "permutation": Integer(0, len(PERMUTATIONS) - 1, default=PERMUTATIONS.index((1, 2, 0))),
    },
    inputs=_draw,
    derivation=attention_commutes_with_permutations,
    assemble=_equivariant_prediction,
    oracle=_attention_of_permuted_tokens,
    mutants={
        "still equivariant with sinusoidal PE added": _mutant(positions_move=False),
        "still equivariant with a causal mask": _mutant(mask_moves=False),
        "invariant: Attn(P X) = Attn(X)": _mutant(output_block=lambda p: np.full(len(p), _IDENTITY)),
        "outputs permuted by the inverse, P^T Attn(X)": _mutant(output_block=_inverse_block),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "no fixed tolerance: both sides form a convex combination of the values with weights "
            "exp(S_ij - c_i) / sum (torch's attention shifts by the row maximum, the claim's closed form takes "
            "c_i = 0), and the oracle states per instance a bound on the gap between two float64 evaluations "
            "(numerics.attention.equivariance.self_attention_rounding_bound): from the instance's "
            "T = max |X||W_Q|(|X||W_K|)^T / sqrt(d_k) and V = max |X||W_V| (encodings included), each exponent is "
            "off by at most (2 gamma_(d+d_k+2) + u) T, each weight relatively by twice that plus gamma_(n+1), and an "
            "output entry by that times V plus (gamma_n + gamma_d) V, with gamma_(n+1) V more as slack for the closed "
            "form's term-by-term division; two evaluations by twice the sum (u = 2^-53)"
        ),
    ),
    example={"d": 4, "d_head": 2, "permutation": PERMUTATIONS.index((1, 2, 0))},
    anchors=EQUIVARIANCE_ANCHORS,
    variants={"permutation": Integer(0, len(PERMUTATIONS) - 1)},
    values=_example_values,
    questions={
        "permutation": (
            r"The parameter \texttt{permutation} numbers the $3! = 6$ permutations $s$ of three tokens in "
            r"lexicographic order of $(s(1), s(2), s(3))$, 0 being the identity. Which permutation is the given one, "
            r"and what is its matrix $P_s$, with $(P_s X)_i = X_{s(i)}$?"
        ),
        "permuted_weights": (
            r"For single-head attention $\mathrm{Attn}(X) = \mathrm{softmax}(X W_Q (X W_K)^\top / \sqrt{d_k})\, X W_V$ "
            r"on $n$ tokens of width $d$ (head width $d_k = d_{\mathrm{head}}$), without positional encoding or mask, "
            r"express the attention weights $A'$ of the permuted tokens $P_s X$ through the weights $A$ of $X$, and "
            r"prove it."
        ),
        "permuted_output": (
            r"Deduce that $\mathrm{Attn}(P_s X) = P_s\, \mathrm{Attn}(X)$. Implement the attention with numpy alone "
            r"and confirm the identity on random tokens with the given $d$, $d_{\mathrm{head}}$ and permutation."
        ),
        "positions_gap": (
            r"Does the identity still hold when sinusoidal positional encodings are added to the tokens, or when a "
            r"causal mask is applied? Prove it or give a counterexample in each case."
        ),
    },
    errata=(
        Erratum(
            source="seed 001",
            section="Theoretical Properties, 1. Permutation Equivariance",
            stated=(
                r"``Self-attention respects the ordering of inputs; rearranging inputs rearranges outputs "
                r"similarly. This ensures the model leverages sequential structure.''"
            ),
            corrected=(
                r"Equivariance, $\mathrm{Attn}(P_s X) = P_s\, \mathrm{Attn}(X)$, means that self-attention "
                r"without positions ignores order: each output depends on its token and the set of the others, "
                r"so it cannot use sequential structure. Order enters only through positional encodings or a "
                r"causal mask, and exactly these break the equivariance."
            ),
            refuted_by="still equivariant with sinusoidal PE added",
            kind="false",
            evidence=(
                "false under every reading: its first sentence is the equivariance (true), but equivariance means "
                "order plays no part, so it cannot ensure that sequential structure is used (the same seed says "
                "so under Positional Encoding); once positions are added (the model can see order) equivariance "
                "fails, the refuted mutant"
            ),
        ),
    ),
)
