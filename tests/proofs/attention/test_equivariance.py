"""The permutation-equivariance derivation: every step proved, its blocks are P_s A v, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.attention.equivariance import (
    PERMUTATIONS,
    VALUES,
    WEIGHTS,
    P,
    W_K,
    W_Q,
    X,
    d_k,
    attention_commutes_with_permutations,
    permutation_matrix,
    permuted_scores,
)
from proofs.derivation import DerivationError, custom


def test_every_step_is_proved_lemma_included():
    derivation = attention_commutes_with_permutations()
    assert [s.evidence for s in derivation.check()] == ["proved", "proved"]
    assert [s.evidence for s in permuted_scores().check()] == ["proved"]
    assert derivation.counts() == {"steps": 3, "proved": 3, "sampled": 0, "given": 0, "failed": 0, "custom": 2}


def test_all_six_permutations_of_three_tokens_are_covered():
    assert sorted(PERMUTATIONS) == sorted(__import__("itertools").permutations(range(3))) and len(PERMUTATIONS) == 6
    assert attention_commutes_with_permutations().result.shape == (18, 1)


def test_each_block_of_the_result_is_the_permuted_output():
    # Computed here entry by entry: row i of block s is z_{s(i)} with z_a = sum_b w_ab v_b / sum_b w_ab.
    result = attention_commutes_with_permutations().result
    z = [sum(WEIGHTS[a, b] * VALUES[b] for b in range(3)) / sum(WEIGHTS[a, b] for b in range(3)) for a in range(3)]
    for block, s in enumerate(PERMUTATIONS):
        for i in range(3):
            assert sp.simplify(result[3 * block + i] - z[s[i]]) == 0, (s, i)


def test_the_weights_step_is_the_hint_A_prime_ij_equals_A_s_i_s_j():
    weights = attention_commutes_with_permutations().expression("weights")
    A = lambda a, b: WEIGHTS[a, b] / sum(WEIGHTS[a, k] for k in range(3))
    for block, s in enumerate(PERMUTATIONS):
        for i in range(3):
            for j in range(3):
                assert sp.simplify(weights[3 * block + i, j] - A(s[i], s[j])) == 0


def test_permutation_matrix_moves_rows():
    x = sp.Matrix([sp.Symbol("a"), sp.Symbol("b"), sp.Symbol("c")])
    assert permutation_matrix((1, 2, 0)) * x == sp.Matrix([x[1], x[2], x[0]])


def test_the_lemma_rejects_the_wrong_side_for_the_transpose():
    wrong = permuted_scores().with_step(1, stated=sp.MatMul(P.T, X * W_Q * W_K.T * X.T / sp.sqrt(d_k), P))
    with pytest.raises(DerivationError, match="step 1 "):
        wrong.check()


def test_outputs_permuted_the_wrong_way_are_rejected():
    derivation = attention_commutes_with_permutations()
    number = derivation.step_number("outputs")
    inverse = lambda s: tuple(sorted(range(3), key=lambda i: s[i]))
    A = derivation.expression("weights")[:3, :]  # the identity block is A itself
    wrong = sp.Matrix.vstack(*(permutation_matrix(inverse(s)) * (A * VALUES) for s in PERMUTATIONS))
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=wrong).check()


def test_a_step_that_does_not_follow_is_rejected():
    # Multiplying by the unpermuted values v (positions stay) does not give P_s A v.
    derivation = attention_commutes_with_permutations()
    number = derivation.step_number("outputs")
    stays = custom(
        "multiply each block by v",
        lambda stacked: sp.Matrix.vstack(*(stacked[3 * b : 3 * b + 3, :] * VALUES for b in range(6))),
    )
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, operation=stays).check()
