"""``permutation-equivariance`` (seed 003, exercise 1.1 and task 2.1): a checked derivation
(proofs.attention.equivariance) against self-attention run on permuted tokens (numerics.attention).

The checked quantity stacks three settings, each run directly on the permuted tokens ``P_s X``:
plain self-attention, with sinusoidal positions added to the slots, and with a causal mask on the
slots. The claim predicts all three from the unpermuted tokens through the derivation's closed form
(``P_s`` times attention of ``X``): plainly, with the encodings moved along with the tokens
(``X + P_s^T E``), and with the mask moved along (``P_s^T C P_s``). The mutants keep the
positions or the mask where they were, or permute the output the wrong way.
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.theorem import Theorem
from checkers.results import Erratum
from numerics.attention.equivariance import (
    causal_mask,
    inverse_permutation,
    permute_tokens,
    projections,
    self_attention_rounding_bound,
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


def _permutations(permutation) -> np.ndarray:
    return _PERMUTATION_TABLE[np.asarray(permutation, dtype=int)]


def _attention_of_permuted_tokens(X, W_Q, W_K, W_V, permutation, d):
    """Run directly on ``P_s X``: plain, with ``PE`` added to the slots, with the causal mask on the slots.

    Shape ``(m, 3, TOKENS, d_head)``; never uses the closed form. With it, each instance's bound on
    the rounding gap to the claim (:func:`numerics.attention.equivariance.self_attention_rounding_bound`,
    the larger of the unencoded and the encoded tokens; the mask only zeroes weights).
    """
    permuted = permute_tokens(X, _permutations(permutation))
    encoded = permuted + sinusoidal_positions(TOKENS, d)
    outputs = np.stack(
        [
            scaled_dot_product_attention(*projections(permuted, W_Q, W_K, W_V)),
            scaled_dot_product_attention(*projections(encoded, W_Q, W_K, W_V)),
            scaled_dot_product_attention(*projections(permuted, W_Q, W_K, W_V), causal_mask(TOKENS)),
        ],
        axis=1,
    )
    accuracy = np.maximum(*(self_attention_rounding_bound(t, W_Q, W_K, W_V) for t in (permuted, encoded)))
    return outputs, accuracy


def _outputs_for_every_permutation(closed_form, X, W_Q, W_K, W_V, mask=None) -> np.ndarray:
    """The closed form ``P_s (A v)`` at the weights and values of ``X``, by columns: ``(m, 6, TOKENS, d_head)``.

    The closed form takes unnormalised weights; the softmax weights serve (they are their own normalisation).
    """
    weights = attention_weights(X @ W_Q, X @ W_K, mask)
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


def _example_values(X, W_Q, W_K, W_V, permutation, d):
    """The seeded instance: weights and outputs before and after permuting; what fixed positions or a mask change."""
    batch = {"X": X[None], "W_Q": W_Q[None], "W_K": W_K[None], "W_V": W_V[None], "permutation": np.array([permutation])}
    direct = _attention_of_permuted_tokens(**batch, d=d)[0][0]
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
            "exp(S_ij - max_j S_ij) / sum, and the oracle states per instance a bound on the gap between two float64 "
            "evaluations (numerics.attention.equivariance.self_attention_rounding_bound): from the instance's "
            "T = max |X||W_Q|(|X||W_K|)^T / sqrt(d_k) and V = max |X||W_V| (encodings included), each exponent is "
            "off by at most (2 gamma_(d+d_k+2) + u) T, each weight relatively by twice that plus gamma_(n+1), and an "
            "output entry by that times V plus (gamma_n + gamma_d) V, and by gamma_(n+1) V more where the closed form "
            "normalises the weights again; two evaluations by twice the sum (u = 2^-53)"
        ),
    ),
    example={"d": 4, "d_head": 2, "permutation": PERMUTATIONS.index((1, 2, 0))},
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
            evidence=(
                "once positions are added (the model can see order) equivariance fails, the refuted mutant; "
                "without them the theorem shows outputs only move with their tokens"
            ),
        ),
    ),
)
