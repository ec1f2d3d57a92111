"""circuits-framework derivations: the closed forms, the lemma against numpy, wrong steps rejected.

Every step proved, lemmas included: tests/checkers/test_every_theorem.py.
"""

import numpy as np
import pytest
import sympy as sp
from sympy import KroneckerProduct

from proofs.attention.circuits import A, W_K, W_O, W_Q, W_V, d_head, d_model
from proofs.circuits.framework import (
    P,
    Q,
    T,
    W_E,
    W_U,
    n_vocab,
    one_layer_paths,
    qk_circuit_on_tokens,
    row_major_vec_kronecker,
    vec_T,
    y,
    z,
)
from proofs.derivation import DerivationError


def test_the_closed_forms_are_elhages_tensor_products():
    derivation = one_layer_paths()
    assert derivation.result == KroneckerProduct(A, (W_E * W_V * W_O * W_U).T) * vec_T
    assert derivation.expression("vec_direct") == KroneckerProduct(sp.Identity(T.shape[0]), (W_E * W_U).T) * vec_T
    assert derivation.expression("rank_ov") == sp.Min(n_vocab, d_model, d_head)
    qk = qk_circuit_on_tokens()
    assert qk.expression("qk_circuit") == W_E * W_Q * W_K.T * W_E.T
    assert qk.expression("logits") == T * W_E * W_Q * W_K.T * W_E.T * T.T / sp.sqrt(d_head)
    assert qk.result == sp.Min(n_vocab, d_model, d_head)


@pytest.mark.parametrize("sizes", [(1, 1, 1, 1), (2, 3, 4, 5), (4, 1, 3, 2)])
def test_the_row_major_lemma_agrees_with_numpy(sizes):
    rng = np.random.default_rng(sum(sizes))
    m_1, m_2, m_3, m_4 = sizes
    p, q, Y = rng.standard_normal((m_1, m_2)), rng.standard_normal((m_3, m_4)), rng.standard_normal((m_2, m_3))
    # The statement for a general Y, which the lemma proves on rank-one Y = y z^T:
    np.testing.assert_allclose(np.kron(p, q.T) @ Y.ravel(), (p @ Y @ q).ravel(), atol=1e-12)
    y_, z_ = rng.standard_normal((m_2, 1)), rng.standard_normal((m_3, 1))
    point = {P: sp.Matrix(p), Q: sp.Matrix(q), y: sp.Matrix(y_), z: sp.Matrix(z_)}
    rank_one = np.array(row_major_vec_kronecker().result.subs(point).doit().as_explicit(), dtype=float)
    np.testing.assert_allclose(rank_one[:, 0], (p @ y_ @ z_.T @ q).ravel(), atol=1e-12)


def test_swapped_kronecker_factors_and_a_missing_direct_path_are_rejected():
    derivation = one_layer_paths()
    for label, wrong in (
        ("direct", sp.ZeroMatrix(*T.shape)),
        ("vec_head", KroneckerProduct((W_E * W_V * W_O * W_U).T, A) * vec_T),
    ):
        number = derivation.step_number(label)
        with pytest.raises(DerivationError, match=rf"step {number} "):
            derivation.with_step(number, stated=wrong).check()


def test_a_transposed_qk_circuit_is_rejected():
    derivation = qk_circuit_on_tokens()
    number = derivation.step_number("qk_circuit")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=W_E * W_K * W_Q.T * W_E.T).check()
