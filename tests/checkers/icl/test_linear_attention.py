"""linear-attention-gd: the registry entry, the worked example (both parts, the counterexample), the energy
inequality checked as a bound, anchors, and a broken closed form failing the check."""

import numpy as np
import pytest
from hypothesis import given, settings

import checkers.icl.linear_attention as module
import transformer_proofs as tp
from checkers.engine import run_check
from checkers.exercises import EXERCISES
from checkers.icl.linear_attention import MUTANTS, linear_attention_gd
from checkers.worked import worked_example
from numerics.icl.linear_attention import hopfield_energy, log_sum_exp_gradient, minimise_surrogate
from transformer_proofs.strategies import parameters


def test_the_registry_and_the_exercise_sheet_know_it():
    assert tp.get("linear-attention-gd") is linear_attention_gd and linear_attention_gd.topic == "icl"
    assert list(linear_attention_gd.parameters) == ["N", "d", "d_y", "beta"]
    assert linear_attention_gd.default_params() == {"N": 8, "d": 3, "d_y": 1, "beta": 1.0}
    assert next(e for e in EXERCISES if e.number == "1.4").theorem_id == "linear-attention-gd"
    assert len(MUTANTS) == 8 and linear_attention_gd.errata[0].kind == "context"


def test_the_worked_example_answers_both_parts():
    example = worked_example(linear_attention_gd, seed=0)
    values = example.values
    assert example.verified and (values["eta_sum"], values["eta_mean"]) == (1.0, 8.0)
    np.testing.assert_allclose(values["y_gd"], values["O"], rtol=1e-13)
    np.testing.assert_allclose(values["y_gd_mean"], values["O"], rtol=1e-13)
    # The counterexample: softmax attention returns the common target 1, linear attention (every GD step) 0.
    assert values["softmax_counterexample"] == pytest.approx(1.0, abs=1e-15) and values["gd_counterexample"] == 0.0
    assert values["decrease"] == pytest.approx(values["energy"] - values["energy_new"], rel=1e-12)
    assert values["decrease"] == pytest.approx(values["half_square"] + values["kl_term"], rel=1e-12)
    assert values["half_square"] > 0 and values["kl_term"] > 0


def test_the_anchors_hold_for_claim_and_oracle():
    result = run_check(linear_attention_gd, instances=5, seed=3)
    assert result.status == "verified", result.message
    assert len(result.numeric.anchors) == 2 and all(a.claim_agrees and a.oracle_agrees for a in result.numeric.anchors)


def _energy_bound_theorem(slack: float = 0.0) -> tp.Theorem:
    """``E(xi_new) <= E(xi) - ||xi_new - xi||^2 / 2`` as a user theorem with the engine's Bound policy."""

    def bound(X, x_test, beta, N):
        claim = linear_attention_gd.evaluate_claim(X=X, x_test=x_test, beta=beta, N=N)
        xi_new = claim[:, 2:-1, None]
        half_square = ((xi_new - x_test) ** 2).sum(axis=(1, 2)) / 2
        return hopfield_energy(X, x_test, beta) - (1 + slack) * half_square

    def energy_after_the_step(X, x_test, beta):
        xi_new, _ = minimise_surrogate(log_sum_exp_gradient(X, x_test, beta))
        return hopfield_energy(X, xi_new, beta)

    return tp.Theorem(
        id="hopfield-energy-bound",
        title="The CCCP bound",
        topic="user",
        statement=r"$E(\xi_{\mathrm{new}}) \le E(\xi) - \frac12 \lVert \xi_{\mathrm{new}} - \xi \rVert^2$",
        parameters=dict(linear_attention_gd.parameters),
        inputs=linear_attention_gd.inputs,
        claim=bound,
        oracle=energy_after_the_step,
        tolerance=tp.Bound("upper", rtol=1e-12, atol=1e-12),
    )


def test_the_energy_never_increases_checked_as_a_bound():
    result = tp.check(_energy_bound_theorem(), instances=150, seed=1)
    assert result.status == "verified" and result.numeric.policy == "bound"


def test_a_bound_that_claims_a_larger_drop_is_refuted():
    result = run_check(_energy_bound_theorem(slack=1.0), instances=150, seed=1)
    assert result.status == "failed"


def test_a_changed_constant_in_the_derived_decrease_fails_the_check(monkeypatch):
    original = module._lemma_closed_form

    def perturbed(title, label=None):
        compiled = original(title, label)
        if label != "decrease":
            return compiled
        return lambda **kw: compiled(**kw) * 1.001

    monkeypatch.setattr(module, "_lemma_closed_form", perturbed)
    result = run_check(linear_attention_gd, instances=20, seed=0)
    assert result.status == "failed" and "linear-attention-gd" in result.message


@settings(max_examples=6, deadline=None)
@given(params=parameters(linear_attention_gd))
def test_property_every_parameter_point_verifies(params):
    example = worked_example(linear_attention_gd, seed=params["N"], **params)
    assert example.verified, (params, example.message)
