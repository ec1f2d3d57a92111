"""The inference-optimal derivation: every step proved, Chinchilla recovered, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.scaling import A, B, D, N, alpha, beta
from proofs.scaling.inference import D_inf, R, inference_optimal_allocation


def test_every_step_is_proved():
    assert inference_optimal_allocation().counts() == {"steps": 17, "proved": 17, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_the_tangency_condition():
    tangency = inference_optimal_allocation().expression("tangency")
    expected = alpha * A * N**-alpha - beta * B * D**-beta * (1 + D_inf / (3 * D))
    assert sp.simplify(tangency - expected) == 0
    # No inference: Chinchilla's alpha A N^-alpha = beta B D^-beta.
    assert sp.simplify(tangency.subs(D_inf, 0) - (alpha * A * N**-alpha - beta * B * D**-beta)) == 0


def test_the_cost_column_is_the_lifetime_cost_at_N_of_D():
    derivation = inference_optimal_allocation()
    assert derivation.expression("lifetime_cost") == 6 * N * D + 2 * N * D_inf
    N_of_D = (A / (R - B * D**-beta)) ** (1 / alpha)
    assert sp.simplify(derivation.expression("cost_of_D") - (6 * N_of_D * D + 2 * N_of_D * D_inf)) == 0
    assert list(derivation.result) == [derivation.expression(k) for k in ("h", "N_of_D", "cost_of_D")]


def test_a_retyped_cost_with_the_wrong_inference_price_is_rejected():
    derivation = inference_optimal_allocation()
    number = derivation.step_number("lifetime_cost")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=6 * N * D + 6 * N * D_inf).check()


def test_the_demand_formula_inverts_h():
    derivation = inference_optimal_allocation()
    h, demand = derivation.expression("h"), derivation.expression("D_inf_for_D")
    assert sp.simplify(h.subs(D_inf, demand)) == 0


def test_at_zero_demand_the_root_is_chinchillas_data_size():
    # With D_inf = 0, h = 0 gives B D^-beta = alpha R/(alpha + beta), Chinchilla's split of the reducible loss.
    h = inference_optimal_allocation().expression("h").subs(D_inf, 0)
    root = (B * (alpha + beta) / (alpha * R)) ** (1 / beta)
    assert sp.simplify(h.subs(D, root)) == 0


def test_a_wrong_inference_price_is_rejected():
    derivation = inference_optimal_allocation()
    number = derivation.step_number("tangency")
    wrong = alpha * A * N**-alpha - beta * B * D**-beta - beta * B * D_inf * D ** (-beta - 1)
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=wrong).check()
