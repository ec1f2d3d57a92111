"""Checks of many instances run block by block: bounded memory, the same verdict whatever the order
the blocks are checked in, exact statistical bookkeeping across blocks, and counterexamples found
in any block.

The block size is lowered (``TRANSFORMER_PROOFS_BLOCK``) so that a few hundred instances make
several blocks."""

import time

import numpy as np
import pytest

from checkers import sampling
from checkers.domains import Integer, Real
from checkers.engine import _tests, begin_check, check_block, finish_check, merge_blocks, oracle_values, run_check
from checkers.policies import Statistical
from checkers.registry import REGISTRY
from checkers.sampling import block_sizes, draw_block, draw_instances, shape_tuples
from checkers.theorem import Theorem

BLOCK = 64


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setenv(sampling.BLOCK_VARIABLE, str(BLOCK))


def shaped(**changes):
    """sum_k x_k over a vector of length d (a shape parameter): claim and oracle differ in how they add."""
    fields = dict(
        id="vector-sum", title="A sum", topic="user", statement="s",
        parameters={"d": Integer(1, 40, shape=True), "a": Real(-1, 1)},
        inputs=lambda rng, n, d: {"x": rng.standard_normal((n, d))},
        claim=lambda a, x: a * x.sum(axis=1),
        oracle=lambda a, x: np.array([a_i * sum(row) for a_i, row in zip(a, x)]),
    )
    fields.update(changes)
    return Theorem(**fields)


def test_blocks_cover_the_instances_and_block_zero_is_the_small_check():
    assert block_sizes(300) == [64, 64, 64, 64, 44] and block_sizes(64) == [64] and block_sizes(5) == [5]
    theorem = shaped()
    small = draw_instances(theorem, BLOCK, seed=4)
    first = draw_block(theorem, 300, 4, 0)
    assert [g.params["d"] for g in first] == [g.params["d"] for g in small]
    assert all(np.array_equal(a.inputs["x"], b.inputs["x"]) for a, b in zip(first, small))


def test_later_blocks_take_block_zeros_shapes_and_depend_on_nothing_else():
    theorem = shaped()
    first = draw_block(theorem, 300, 4, 0)
    tuples = shape_tuples(first, theorem)
    blocks = {k: draw_block(theorem, 300, 4, k, tuples) for k in (3, 1, 2)}  # any order
    again = draw_block(theorem, 300, 4, 2, tuples)
    assert all(np.array_equal(a.inputs["x"], b.inputs["x"]) for a, b in zip(blocks[2], again))
    for k, groups in blocks.items():
        assert sum(g.size for g in groups) == BLOCK
        assert {g.params["d"] for g in groups} <= set(tuples[:, 0])
    first_inputs = np.concatenate([g.inputs["x"].ravel() for g in first])
    later_inputs = np.concatenate([g.inputs["x"].ravel() for g in blocks[1]])
    assert not np.intersect1d(first_inputs, later_inputs).size  # fresh streams, not block 0's again


def test_a_statistical_threshold_counts_the_tests_of_every_block():
    theorem = REGISTRY.get("softmax-variance")
    instances = 200
    begun = begin_check(theorem, instances, 0, "cpu", mutants=False)
    every = [oracle_values(theorem, g, "cpu") for g in draw_instances(theorem, instances, 0)]
    assert begun.plan.blocks == 4 and begun.plan.tests == _tests(every)


def test_blocks_checked_in_any_order_merge_to_the_one_process_result():
    theorem = REGISTRY.get("softmax-variance")
    whole = run_check(theorem, instances=200, seed=5)
    begun = begin_check(theorem, 200, 5, "cpu", mutants=False)
    later = {k: check_block(theorem, begun.plan, k) for k in reversed(range(1, begun.plan.blocks))}
    merged = finish_check(theorem, begun, merge_blocks(theorem, begun, [later[k] for k in sorted(later)]), 0.0)
    strip = lambda result: {k: v for k, v in result.to_json().items() if k != "seconds"}
    assert strip(merged) == strip(whole) and whole.status == "verified"
    assert whole.numeric.instances == 200


def test_a_block_tally_keeps_nothing_of_its_blocks_arrays():
    """A view of the worst instance would keep its whole block alive: memory growing with the blocks."""
    theorem = REGISTRY.get("chinchilla-allocation")
    begun = begin_check(theorem, 3 * BLOCK, 0, "cpu", mutants=False)
    tally = check_block(theorem, begun.plan, 1)
    assert tally.worst.claim.base is None and tally.worst.reference.base is None


def test_pooled_statistics_merge_exactly_across_blocks():
    """The pooled tests of a run in blocks are those of all its instances at once (to rounding)."""
    policy = Statistical(draws=300, batches=30)
    rng = np.random.default_rng(0)
    draws = 1.0 + 0.1 * rng.standard_normal((120, 300))
    claim = np.full(120, 1.004)
    at_once = policy.conclude([policy.compare(claim, draws, 0.0, 120)])
    parts = [policy.compare(claim[i : i + 17], draws[i : i + 17], 0.0, 120) for i in range(0, 120, 17)]
    in_parts = policy.conclude(parts)
    assert in_parts.max_error == pytest.approx(at_once.max_error, rel=1e-12)
    assert in_parts.extras == pytest.approx(at_once.extras, rel=1e-9)


def test_a_wrong_claim_that_block_zero_misses_is_caught_in_a_later_block():
    """Wrong on a sliver of a (0.5% of the draws): block 0 (64 instances, at this seed) has none there."""
    sliver = lambda a: (a > 0.3) & (a < 0.31)
    wrong = shaped(claim=lambda a, x: np.where(sliver(a), 1.01, 1.0) * a * x.sum(axis=1))
    assert run_check(wrong, instances=BLOCK, seed=1).status == "verified"
    result = run_check(wrong, instances=40 * BLOCK, seed=1)
    assert result.status == "failed" and 0.3 < result.numeric.counterexample.params["a"] < 0.31


def test_the_timeout_limits_each_later_block():
    """Each block gets ``timeout`` seconds (a check of 10^8 instances is not a hang): here block 0 is
    quick and block 1 hangs."""
    calls = []

    def oracle(a):
        calls.append(len(a))
        if len(calls) > 1:
            time.sleep(30)
        return a

    theorem = Theorem("hangs-later", "x = x", "user", "s", parameters={"a": Real(0, 1)}, claim=lambda a: a, oracle=oracle)
    started = time.perf_counter()
    result = run_check(theorem, instances=3 * BLOCK, seed=0, timeout=0.5)
    assert result.status == "error" and "block 1 of 3 did not finish within 0.5 s" in result.message
    assert time.perf_counter() - started < 10


def test_progress_is_reported_block_by_block():
    shares = []
    run_check(shaped(), instances=300, seed=0, on_block=shares.append)
    assert shares == pytest.approx([1 / 5, 2 / 5, 3 / 5, 4 / 5])


def test_a_bad_block_size_is_one_clear_error(monkeypatch):
    monkeypatch.setenv(sampling.BLOCK_VARIABLE, "0")
    with pytest.raises(ValueError, match="TRANSFORMER_PROOFS_BLOCK must be a positive integer"):
        block_sizes(10)


def test_the_numeric_timing_covers_every_block():
    """Block 0 times its own numeric part; the result's covers the later blocks as well."""
    result = run_check(shaped(), instances=300, seed=0)
    assert set(result.timings) == {"symbolic", "numeric"}
    assert sum(result.timings.values()) == pytest.approx(result.seconds, rel=1e-12)
