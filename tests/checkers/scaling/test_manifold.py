"""manifold-dimension-exponent: verified, mutants refuted, every (d, D) confirmed, the example, the figure, bad input,
the anchors, an edited exponent fails."""

import dataclasses

import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from proofs.derivation import given as given_step
from proofs.scaling.manifold import d
from checkers.worked import theorem_figures, worked_example
from checkers.scaling.manifold import manifold_exponent_theorem


def test_it_verifies_with_every_step_proved():
    result = run_check(manifold_exponent_theorem, instances=150, seed=0)
    assert result.status == "verified", result.message
    counts = result.symbolic
    assert counts == {"steps": 11, "proved": 11, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    assert result.numeric.max_error < 1
    # The extrapolated slope is known to ~1e-8 (within the engine's cap of 1e-6), not to the raw slope's 1e-3.
    assert 0 < result.numeric.oracle_accuracy < 2e-7


@given(tp.strategies.parameters(manifold_exponent_theorem))
@settings(max_examples=12, deadline=None)
def test_property_every_dimension_and_embedding_is_confirmed(params):
    example = worked_example(manifold_exponent_theorem, **params)
    assert example.verified
    v = example.values
    assert v["slope"] == -4 / params["d"] and v["ambient_dimension"] == 2 * params["d"] + params["extra_dims"]
    assert abs(v["measured_slope"] + 4 / params["d"]) <= v["accuracy"]


def test_the_worked_example_at_d_2():
    example = worked_example(manifold_exponent_theorem)
    assert example.verified and example.params == {"d": 2, "extra_dims": 4}
    v = example.values
    # The grids the slope is measured on: 96 to 768 cells per axis.
    assert v["N"] == [96.0**2, 192.0**2, 384.0**2, 768.0**2]
    # Quartering the cell area (4x the parameters) cuts the error 16-fold when the exponent is -2.
    assert 15.9 < v["mse"][-2] / v["mse"][-1] < 16.1
    assert abs(v["measured_slope"] + 2) <= v["accuracy"] < 1e-7


def test_the_worked_example_renders_with_its_figure():
    latex = tp.example("manifold-dimension-exponent").to_latex()
    assert r"\num{589824}" in latex and "disagrees" not in latex and "Richardson" in latex
    (plot,) = theorem_figures(manifold_exponent_theorem)
    assert plot.name == "error-exponent" and len(plot.figure.axes[0].lines) == 6


def test_the_anchors_by_hand_and_from_the_paper_hold_for_claim_and_oracle():
    anchors = run_check(manifold_exponent_theorem, instances=3, seed=1).numeric.anchors
    assert len(anchors) == 2 and all(a.claim_agrees and a.oracle_agrees for a in anchors)


def test_the_root_mean_square_exponent_in_the_closed_form_fails_the_check():
    """The result -2/d (asserted as given) in place of -4/d: the measured slopes refute it."""
    derivation = manifold_exponent_theorem.built_derivation()
    asserting = lambda: derivation.then(given_step("the root-mean-square exponent", source="this test"), -2 / d)
    result = run_check(dataclasses.replace(manifold_exponent_theorem, derivation=asserting), instances=6, seed=0)
    assert result.status == "failed" and result.symbolic["given"] == 1
