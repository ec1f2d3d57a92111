"""The stacked-layers derivation: every step proved for symbolic sizes; a flipped sign, a missing factor of the
preconditioner or a step too few are rejected."""

import pytest
import sympy as sp
from sympy import BlockMatrix, Identity, ZeroMatrix

from proofs.derivation import Derivation, DerivationError
from proofs.icl import N, X, Y, d_x, d_y, eta, x_q
from proofs.icl.multistep import (
    K,
    M,
    V,
    eigen_factor,
    error_contraction,
    initial_state,
    input_correction,
    lam,
    preconditioned_step,
    stacked_layers,
    state,
)

LEMMAS = [
    "Gradient of the mean squared loss and one gradient-descent step",
    "One preconditioned gradient step",
    "The inputs after one more curvature correction",
    "The prompt is the state of the zeroth iterate",
    "One gradient step contracts the error against least squares",
    "The error per eigendirection after K steps",
]


def test_every_step_is_proved_for_symbolic_sizes():
    derivation = stacked_layers()
    assert [lemma.title for lemma in derivation.lemmas] == LEMMAS
    assert derivation.counts() == {"steps": 14, "proved": 14, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    assert derivation.result.shape == (d_x + d_y, N + 1)


def test_the_result_is_the_state_of_the_next_gd_iterate():
    result = sp.block_collapse(stacked_layers().result)
    following = V - eta * (V * X - Y) * X.T / N
    assert result.blocks[0, 0] == X and result.blocks[0, 1] == x_q
    for block, want in zip((result.blocks[1, 0], result.blocks[1, 1]), (Y - following * X, -following * x_q)):
        assert sp.expand(block - want) == ZeroMatrix(*want.shape) or sp.expand(block - want) == 0


def test_the_prompt_is_the_zeroth_state():
    assert initial_state().result == BlockMatrix([[X, x_q], [Y, ZeroMatrix(d_y, 1)]])


def test_the_friendlier_sign_is_rejected_at_the_gd_step():
    derivation = stacked_layers()
    number = derivation.step_number("gd")
    following = V - eta * (V * X - Y) * X.T / N
    flipped = BlockMatrix([[X, x_q], [Y + following * X, following * x_q]])
    # The gd step alone, from the layer's result (re-checking the block product takes seconds).
    gd_step = derivation.steps[number - 1].operation
    with pytest.raises(DerivationError, match="step 1"):
        Derivation("the gd step", derivation.expression("layer")).then(gd_step, flipped).check()


def test_a_preconditioner_missing_m_transpose_is_rejected():
    wrong = V - eta * (V * X - Y) * X.T * M / N
    with pytest.raises(DerivationError, match="step 1"):
        preconditioned_step().with_step(1, stated=wrong).check()


def test_the_correction_uses_the_current_inputs_covariance():
    with pytest.raises(DerivationError, match="step 1"):
        input_correction().with_step(1, stated=M - sp.Symbol("gamma", nonnegative=True) / N * X * X.T * M).check()


def test_the_error_contracts_by_one_minus_eta_sigma():
    contraction = error_contraction()
    assert [s.evidence for s in contraction.check()] == ["proved", "proved"]
    assert sp.expand(contraction.result.args[-1] - (Identity(d_x) - eta / N * X * X.T)) in (0, ZeroMatrix(d_x, d_x))


def test_the_eigen_factor_is_one_minus_eta_lambda_to_the_k():
    factor = eigen_factor()
    assert factor.result == (1 - eta * lam) ** K
    with pytest.raises(DerivationError, match="step 2"):
        factor.with_step(2, stated=(1 - eta * lam) ** (K - 1)).check()


def test_the_state_at_identity_inputs_is_the_lsa_gd_form():
    assert state(V, Identity(d_x)).blocks[0, 0] == X
