"""superposition: verified against the Monte Carlo oracle, a broken closed form fails, the example's training."""

import dataclasses

import numpy as np
import pytest

from checkers.circuits.superposition import superposition
from checkers.engine import run_check
from checkers.worked import worked_example


def test_it_verifies_with_two_sampled_steps_and_the_anchors():
    result = run_check(superposition, instances=60, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 14, "proved": 12, "sampled": 2, "given": 0, "failed": 0, "custom": 0}
    sampled = [
        (lemma.title, step.operation.rule)
        for lemma in superposition.built_derivation().lemmas
        for step in lemma.check()
        if step.evidence == "sampled"
    ]
    assert sampled == [("Interference through a ReLU", "rewrite"), ("The first moment of the feature's own output", "rewrite")]
    assert result.numeric.policy == "statistical" and result.numeric.max_error < 1
    assert len(result.numeric.anchors) == 3 and all(a.agrees for a in result.numeric.anchors)


@pytest.mark.parametrize(
    "broken",
    [
        lambda closed_form, r, b: closed_form(r=r, b=b) * [1.05, 1.0, 1.0],  # 5% more own error
        lambda closed_form, r, b: closed_form(r=r, b=b) + [0.0, 0.0, 0.01],  # some of the others' interference let through
    ],
    ids=["own-5-percent", "others-let-through"],
)
def test_a_broken_closed_form_fails_the_monte_carlo_check(broken):
    result = run_check(dataclasses.replace(superposition, assemble=broken, anchors=()), instances=40, seed=0)
    assert result.status == "failed" and "disagree" in result.message, result.message


def test_the_worked_example_and_the_trained_pentagon():
    example = worked_example(superposition)
    assert example.verified and example.params == {"r": 1.0, "b": -0.1}
    v = example.values
    assert v["own"] == pytest.approx(0.01 - 2 * 0.001 / 3, abs=1e-15) and v["others"] == 0.0
    assert v["without_relu"][2] > 0.5 > v["total"]  # the negative interference is the linear model's largest term
    assert v["r_star"] == pytest.approx(1.1705, abs=1e-3) and v["b_star"] == pytest.approx(-0.2823, abs=1e-3)
    assert v["loss_star"] < v["loss_star_unit"] < v["orthogonal_pair"] / 5
    assert v["trained_is_the_optimum"] == "yes", (v["trained_norms"], v["trained_gaps"], v["trained_biases"])
    assert np.allclose(v["trained_gaps"], 72, atol=2) and np.allclose(v["trained_norms"], v["r_star"], atol=0.03)
