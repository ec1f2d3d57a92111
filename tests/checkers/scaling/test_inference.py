"""inference-optimal: verified, mutants refuted, property test, the over-training example, the figure, bad input,
the anchor, independence, generated mutants, an edited statement fails."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from checkers.independence import independence
from proofs.derivation import given as given_step
from proofs.scaling.inference import D_inf
from checkers.worked import theorem_figures, worked_example
from checkers.scaling.inference import inference_optimal


def test_the_claim_s_cost_is_the_lifetime_cost_of_its_model():
    rng = np.random.default_rng(5)
    n = 50
    params = {
        "A": rng.uniform(100, 1000, n), "B": rng.uniform(100, 1000, n), "alpha": rng.uniform(0.2, 0.5, n),
        "beta": rng.uniform(0.2, 0.5, n), "N_ref": 10 ** rng.uniform(9, 12, n), "D_ref": 10 ** rng.uniform(11, 14, n),
        "D_inf": 10 ** rng.uniform(10, 15, n),
    }
    N, D, cost = inference_optimal.evaluate_claim(**params).T
    # By hand: training 6 N D plus 2 N per inference token.
    np.testing.assert_allclose(cost, 6 * N * D + 2 * N * params["D_inf"], rtol=1e-14)


@given(tp.strategies.parameters(inference_optimal))
@settings(max_examples=25, deadline=None)
def test_property_smaller_and_longer_than_chinchilla_at_the_same_loss(params):
    example = worked_example(inference_optimal, **params)
    assert example.verified
    v = example.values
    assert v["N_opt"] <= v["N_same_loss_chinchilla"] * (1 + 1e-12)
    assert v["D_opt"] >= v["D_same_loss_chinchilla"] * (1 - 1e-12)
    assert v["cost_opt"] <= v["cost_same_loss_chinchilla"] * (1 + 1e-12)
    # More demand, smaller model trained longer.
    assert np.all(np.diff(v["sweep_N"]) < 0) and np.all(np.diff(v["sweep_D"]) > 0)


def test_the_over_training_example():
    example = worked_example(inference_optimal)
    assert example.verified
    v = example.values
    # Llama 3 8B on 15T tokens: 15e12/8e9 = 1875 tokens per parameter; C = 6 * 8e9 * 15e12 = 7.2e23.
    assert v["tokens_per_param_ref"] == 1875 and v["compute_ref"] == pytest.approx(7.2e23)
    # The 20-token rule at that compute: N = sqrt(7.2e23/120) = 7.746e10.
    assert v["N_chinchilla_20"] == pytest.approx(np.sqrt(7.2e23 / 120), rel=1e-14)
    # Loss of the reference under the fit, by hand: 1.69 + 406.4 * 8e9^-0.34 + 410.7 * 1.5e13^-0.28.
    loss = 1.69 + 406.4 * 8e9**-0.34 + 410.7 * 1.5e13**-0.28
    assert v["loss_ref"] == pytest.approx(loss, rel=1e-14)
    assert 0 < v["loss_gap"] < 0.05 and v["loss_gap"] == pytest.approx(loss - v["L_chinchilla_fit"], rel=1e-12)
    # At the demand that makes the reference optimal, the optimum is the reference itself.
    at_break_even = worked_example(inference_optimal, D_inf=v["D_inf_for_reference"]).values
    assert at_break_even["N_opt"] == pytest.approx(8e9, rel=1e-9)
    assert at_break_even["D_opt"] == pytest.approx(15e12, rel=1e-9)


def test_the_budget_table_from_10B_to_1T():
    v = worked_example(inference_optimal).values
    assert v["table_N_ref"] == [1e10, 1e11, 1e12]
    assert all(0 < s < 1 for s in v["table_saving"])
    assert all(n < ref for n, ref in zip(v["table_N_opt"], v["table_N_ref"]))


def test_the_worked_example_renders_with_its_figure():
    latex = tp.example("inference-optimal").to_latex()
    assert r"\num{1875}" in latex and "Not confirmed" not in latex
    (plot,) = theorem_figures(inference_optimal)
    assert plot.name == "optimum-against-demand"


def test_claim_and_oracle_reach_no_project_function_in_common():
    reached = independence(inference_optimal)
    assert reached.oracle and not reached.shared
    assert "numerics.scaling.inference:increasing_root" in reached.claim
    assert "numerics.scaling:minimise_smooth" in reached.oracle


def test_the_anchor_worked_by_hand_holds_for_claim_and_oracle():
    (anchor,) = run_check(inference_optimal, instances=5, seed=1).numeric.anchors
    assert anchor.claim_agrees and anchor.oracle_agrees


def test_inference_priced_at_6N_per_token_in_the_derivation_fails_the_check():
    """The closed form with D_inf tripled (inference at 6 N per token, asserted as given): the check fails."""
    derivation = inference_optimal.built_derivation()
    tripled = derivation.result.xreplace({D_inf: 3 * D_inf})
    asserting = lambda: derivation.then(given_step("inference priced at 6 N per token", source="this test"), tripled)
    result = run_check(dataclasses.replace(inference_optimal, derivation=asserting), instances=20, seed=0)
    assert result.status == "failed" and result.symbolic["given"] == 1
