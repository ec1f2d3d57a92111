"""multihead-circuits derivations: every step proved, the lemmas against numpy, wrong steps rejected."""

import numpy as np
import pytest
import sympy as sp
from sympy import KroneckerProduct

from proofs.attention.circuits import (
    FIRST_HEADS,
    FIRST_ROWS,
    A,
    A_small,
    W_O,
    W_V,
    W_small,
    X,
    X_small,
    d_head,
    d_model,
    multihead_as_sum_of_heads,
    qk_circuit,
    vec_kronecker,
    vec_X,
)
from proofs.derivation import DerivationError


def test_every_step_is_proved_lemmas_included():
    derivation = multihead_as_sum_of_heads()
    assert [s.evidence for s in derivation.check()] == ["proved"] * 5
    assert derivation.counts() == {"steps": 11, "proved": 11, "sampled": 0, "given": 0, "failed": 0, "custom": 3}


def test_the_closed_form_is_one_head_in_kronecker_form():
    assert multihead_as_sum_of_heads().result == KroneckerProduct((W_V * W_O).T, A) * vec_X
    assert multihead_as_sum_of_heads().expression("rank_W_OV") == sp.Min(d_model, d_head)


def test_the_vec_lemma_agrees_with_numpy_in_both_orders():
    rng = np.random.default_rng(0)
    a, x, w = rng.standard_normal((2, 2)), rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    lemma = vec_kronecker()
    point = {A_small: sp.Matrix(a), X_small: sp.Matrix(x), W_small: sp.Matrix(w)}
    column_major = np.array(lemma.expression("column_major").subs(point).as_explicit(), dtype=float)
    row_major = np.array(lemma.expression("row_major").subs(point).as_explicit(), dtype=float)
    np.testing.assert_allclose(column_major @ x.ravel(order="F"), (a @ x @ w).ravel(order="F"), atol=1e-13)
    np.testing.assert_allclose(row_major @ x.ravel(), (a @ x @ w).ravel(), atol=1e-13)
    np.testing.assert_allclose(column_major, np.kron(w.T, a), atol=0)


def test_the_qk_circuit_reads_x_w_q_w_k_transpose_x_transpose():
    logits = qk_circuit().expression("logits")
    assert str(logits) == "1/sqrt(d_head)*X*W_Q*W_K.T*X.T"
    assert qk_circuit().result == sp.Min(sp.Symbol("n", integer=True, positive=True), d_model, d_head)


def test_swapped_kronecker_factors_are_rejected():
    lemma = vec_kronecker()
    number = lemma.step_number("column_major")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        lemma.with_step(number, stated=KroneckerProduct(A_small, W_small.T)).check()


def test_a_missing_head_is_rejected():
    derivation = multihead_as_sum_of_heads()
    number = derivation.step_number("sum_of_heads")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=A * X * W_V * W_O).check()
    assert FIRST_HEADS.shape[1] == FIRST_ROWS.shape[0]


def test_w_instead_of_w_transpose_and_rank_d_model_are_rejected():
    derivation = multihead_as_sum_of_heads()
    number = derivation.step_number("vec_head")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=KroneckerProduct(W_V * W_O, A) * vec_X).check()
    number = derivation.step_number("rank_W_OV")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=d_model).check()
