"""lora-rank derivations: the steps and their evidence, the closed forms against numpy, wrong steps rejected."""

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix

from proofs.circuits.lora import U_1, U_2, V_1, V_2, d, k, lora_parameters, r, s_1, s_2, truncated_svd_error
from proofs.derivation import DerivationError


def test_every_step_is_proved_but_the_cited_frobenius_norm():
    derivation = truncated_svd_error()
    assert [s.evidence for s in derivation.check()] == ["proved", "given"]
    assert derivation.counts() == {"steps": 5, "proved": 4, "sampled": 0, "given": 1, "failed": 0, "custom": 0}


def test_the_closed_forms():
    derivation = truncated_svd_error()
    assert derivation.result == s_2.T * s_2
    assert derivation.expression("residual") == U_2 * DiagMatrix(s_2) * V_2.T
    rank, parameters = derivation.lemmas
    assert rank.result == sp.Min(d, r, k)
    assert parameters.start == d * r + r * k and parameters.result == 2 * r / d
    assert sp.simplify(parameters.expression("fraction") - (d + k) * r / (d * k)) == 0


def test_the_residual_and_its_norm_agree_with_numpy():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((6, 4))
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    residual = W - (U[:, :2] * s[:2]) @ Vt[:2]
    np.testing.assert_allclose(residual, (U[:, 2:] * s[2:]) @ Vt[2:], atol=1e-13)
    np.testing.assert_allclose(np.sum(residual**2), s[2:] @ s[2:], rtol=1e-13)


def test_keeping_the_wrong_block_and_counting_one_factor_are_rejected():
    derivation = truncated_svd_error()
    number = derivation.step_number("residual")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=U_1 * DiagMatrix(s_1) * V_1.T).check()
    parameters = lora_parameters()
    number = parameters.step_number("square")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        parameters.with_step(number, stated=r / d).check()
