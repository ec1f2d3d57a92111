"""lora-rank: verified with its one cited step, a broken closed form caught, the optimiser's teeth, the erratum."""

import dataclasses
import functools

import numpy as np

from checkers.circuits.lora import lora_rank
from checkers.closed_form import compile_closed_form
from checkers.engine import run_check
from checkers.sampling import draw_instances
from checkers.theorem import call_with
from checkers.worked import worked_example
from numerics.circuits.lora import factorisation_error


def test_it_verifies_with_the_frobenius_step_cited():
    result = run_check(lora_rank, instances=40, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 5, "proved": 4, "sampled": 0, "given": 1, "failed": 0, "custom": 0}
    assert result.numeric.max_error < 0.5
    assert len(result.numeric.anchors) == 2 and all(a.agrees for a in result.numeric.anchors)


def test_a_doubled_error_in_the_closed_form_fails_the_check():
    doubled = compile_closed_form(2 * lora_rank.built_derivation().result)
    edited = dataclasses.replace(
        lora_rank, assemble=lambda _, **arguments: call_with(functools.partial(lora_rank.assemble, doubled), arguments)
    )
    assert run_check(edited, instances=20, seed=0).status == "failed"


def test_the_optimiser_alone_reaches_the_claimed_minimum():
    """Without the truncation among the candidates, alternating least squares over (B, A) still lands on the claim: the check bites."""
    rng = np.random.default_rng(3)
    reached = []
    for group in draw_instances(lora_rank, 40, seed=1):
        claim = lora_rank.evaluate_claim(**group.arguments())[:, 3]
        searched = factorisation_error(group.inputs["W"], group.params["r"], rng)
        scale = np.sum(group.inputs["W"] ** 2, axis=(1, 2))
        assert np.all(searched >= claim - 1e-12 * scale)
        reached.extend(searched - claim <= 1e-9 * scale)
    assert np.mean(reached) >= 0.9


def test_the_worked_example_three_ways():
    example = worked_example(lora_rank)
    v = example.values
    assert example.verified and v["parameters"] == v["parameters_torch"] == 24 and v["full_parameters"] == 36
    np.testing.assert_allclose([v["error_truncation"], v["error_searched"]], v["error"], rtol=1e-9)
    assert v["spectral_mutant"] < v["error"] and v["rank_BA"] == v["rank_bound"] == 2


def test_the_broken_arxiv_link_is_a_false_erratum_with_evidence():
    (erratum,) = lora_rank.errata
    assert erratum.kind == "false" and "2106.09685" in erratum.corrected and erratum.evidence
