"""The icl derivations: every step proved for symbolic sizes; wrong signs and factors are rejected by step number."""


import pytest
import sympy as sp

from proofs.derivation import Derivation, DerivationError
from proofs.icl import (
    N,
    W_0,
    X,
    Y,
    construction,
    d_x,
    d_y,
    eta,
    lsa_token_update,
    mean_squared_loss_gradient,
    x_q,
    y_q,
)



def test_the_gradient_derivation_is_proved_by_matrix_calculus():
    gradient = mean_squared_loss_gradient()
    assert [s.evidence for s in gradient.check()] == ["proved"] * 3
    assert gradient.expression("gradient at W_0") == (W_0 * X - Y) * X.T / N


def test_every_step_of_the_layer_derivation_is_proved_for_symbolic_sizes():
    derivation = lsa_token_update()
    assert [s.evidence for s in derivation.check()] == ["proved"] * 4
    assert len(derivation.check()) == 4
    assert [lemma.title for lemma in derivation.lemmas] == [mean_squared_loss_gradient().title]
    assert derivation.counts() == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    assert derivation.result.shape == (d_x + d_y, N + 1)
    assert {str(s) for s in derivation.result.free_symbols} >= {"X", "Y", "x_q", "y_q", "W_0", "eta", "N"}


def test_the_result_keeps_x_and_moves_y_by_plus_eta_gradient_x():
    result = sp.block_collapse(lsa_token_update().result)
    gradient = (W_0 * X - Y) * X.T / N
    assert result.blocks[0, 0] == X and result.blocks[0, 1] == x_q
    expected = (Y + eta * gradient * X, y_q + eta * gradient * x_q)
    for block, want in zip((result.blocks[1, 0], result.blocks[1, 1]), expected):
        assert sp.expand(block - want).is_ZeroMatrix or sp.expand(block - want) == 0


def test_the_construction_is_the_papers():
    weights = {str(k): v for k, v in construction().items()}
    assert weights["W_K"] == weights["W_Q"]
    assert sp.block_collapse(weights["W_V"].blocks[1, 0]) == W_0
    assert sp.block_collapse(weights["W_V"].blocks[1, 1]) == -sp.Identity(d_y)


def _moved_the_friendly_way(target, W_1, inputs):
    return target + (W_1 - W_0) * inputs


def test_the_friendlier_sign_is_rejected_at_the_last_step():
    # Targets moved by +(W_1 - W_0) x, as the flipped value matrix does.
    derivation = lsa_token_update()
    W_1 = mean_squared_loss_gradient().result
    wrong = sp.BlockMatrix(
        [[X, x_q], [_moved_the_friendly_way(Y, W_1, X), _moved_the_friendly_way(y_q, W_1, x_q)]]
    )
    with pytest.raises(DerivationError, match="step 4"):
        derivation.with_step(4, stated=wrong).check()


def test_a_missing_one_over_n_is_rejected_at_the_block_product():
    update = eta * (W_0 * X * X.T - Y * X.T)
    wrong = sp.BlockMatrix([[X, x_q], [Y + update * X, y_q + update * x_q]])
    with pytest.raises(DerivationError, match="step 2"):
        lsa_token_update().with_step(2, stated=wrong).check()


def test_a_wrong_gradient_is_rejected():
    W = sp.MatrixSymbol("W", d_y, d_x)
    with pytest.raises(DerivationError, match="step 1"):
        mean_squared_loss_gradient().with_step(1, stated=(W * X - Y) * X.T).check()


def test_a_wrong_gradient_derivation_stops_the_layer_derivation(monkeypatch):
    import proofs.icl

    W = sp.MatrixSymbol("W", d_y, d_x)
    wrong = mean_squared_loss_gradient().with_step(1, stated=(W * X - Y) * X.T)
    monkeypatch.setattr(proofs.icl, "mean_squared_loss_gradient", lambda: wrong)
    with pytest.raises(DerivationError, match="step 1"):
        proofs.icl.lsa_token_update().check()
