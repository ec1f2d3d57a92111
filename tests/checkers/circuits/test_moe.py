"""moe-routing: the claim as a masked dense mixture, a broken gate caught, the worked example, the erratum."""

import dataclasses
import functools

import numpy as np

from checkers.circuits.moe import keep_top_k_gates, moe_routing
from checkers.closed_form import compile_closed_form
from checkers.engine import run_check
from checkers.sampling import single_instance
from checkers.theorem import call_with
from checkers.worked import worked_example
from numerics.circuits.moe import expert_outputs


def test_the_claim_runs_every_expert_and_zeroes_all_but_k_gates():
    params = {"n_tokens": 3, "d_model": 2, "d_ff": 3, "E": 6, "k": 2}
    inputs = single_instance(moe_routing, params, seed=4).inputs
    gates = keep_top_k_gates(inputs["X"], inputs["W_r"], 2)
    assert np.all((gates > 0).sum(axis=-1) == 2) and np.allclose(gates.sum(axis=-1), 1)
    claim = moe_routing.evaluate_claim(**params, **inputs)[0]
    Y = np.einsum("mne,mned->mnd", gates, expert_outputs(inputs["X"], inputs["W_1"], inputs["W_2"]))[0]
    np.testing.assert_allclose(claim[:6], Y.ravel(), atol=1e-14)
    assert claim[6:].tolist() == [4 * 3 * 2 * 2 * 3, 4 * 3 * 6 * 2 * 3, 2 / 6]


def test_a_doubled_mixture_in_the_closed_form_fails_the_check():
    doubled = compile_closed_form(2 * moe_routing.built_derivation().result)
    edited = dataclasses.replace(
        moe_routing, assemble=lambda _, **arguments: call_with(functools.partial(moe_routing.assemble, doubled), arguments)
    )
    assert run_check(edited, instances=20, seed=0).status == "failed"


def test_the_worked_example_routes_four_tokens_to_two_of_eight_experts():
    example = worked_example(moe_routing)
    v = example.values
    assert example.verified and v["max_difference"] < 1e-12
    assert all(len(c) == 2 for c in v["chosen"]) and v["flops_routed"] == 288 and v["flops_dense"] == 1152
    assert v["fraction"] == v["fraction_measured"] == 0.25 and v["switch_difference"] > 0.1
    assert 2 <= v["experts_used"] <= 8


def test_the_per_run_mask_is_a_context_erratum():
    (erratum,) = moe_routing.errata
    assert erratum.kind == "context" and "per token" in erratum.corrected.replace("for each token", "per token")
    assert abs(0.75**100 - 3.2e-13) < 1e-14
