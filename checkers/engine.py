"""The numeric checker: claim against oracle on batches, counterexamples, anchors and mutants.

:func:`check` samples parameter points (edges first), evaluates claim and oracle on
whole batches of instances, compares them under the theorem's policy, shrinks the worst
disagreement to a readable counterexample, compares claim and oracle with every anchor,
and runs every mutant (a plausible wrong claim) through the same comparison: a mutant is
refuted only by a finite, significant disagreement. :func:`mutant_outcome` also runs the
*generated* mutants of a derived theorem (each constant of its closed form perturbed);
one that survives is a blind spot of the checker, reported, not failed.

>>> import numpy as np
>>> from checkers.domains import Integer
>>> triangular = Theorem(
...     "triangular-sum", "Sum of the first n integers", "user", r"\\sum k = n(n+1)/2",
...     parameters={"n": Integer(1, 10_000)},
...     claim=lambda n: n * (n + 1) / 2,
...     oracle=lambda n: np.cumsum(np.arange(1, 10_001))[n - 1],
...     mutants={"n^2/2": lambda n: n**2 / 2},
... )
>>> check(triangular, instances=200).status
'verified'
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

import numpy as np

from checkers.closed_form import compile_closed_form, constant_perturbations
from checkers.policies import Bound, Comparison, Statistical, Tally, Verdict
from checkers.registry import REGISTRY
from checkers.results import (
    AnchorResult,
    BlindSpot,
    CheckResult,
    Counterexample,
    MutantOutcome,
    MutantResult,
    NumericSummary,
    TheoremError,
    TheoremFailed,
)
from checkers.sampling import (
    Group,
    block_instances,
    block_shape_counts,
    block_sizes,
    draw_block,
    draw_instances,
    edge_coverage,
    shape_tuples,
    single_instance,
)
from checkers.theorem import Anchor, Theorem, call_with
from numerics.threads import one_blas_thread
from proofs.derivation import DerivationError

MUTANT_INSTANCES = 200
GENERATED_INSTANCES = 30
GENERATED_SECONDS = 1.0  # per generated mutant
GENERATED_BUDGET = 15.0  # seconds for all the generated mutants of one theorem
_SHRINK_BUDGET = 40


# --- evaluation -----------------------------------------------------------------------------


def _evaluate(theorem: Theorem, role: str, function: Callable | None, group: Group, device: str, extra=None):
    """Call claim, oracle or mutant on a group. NumPy's floating-point warnings are silenced: an
    overflow or invalid value shows as an infinite or NaN result, which the caller turns into
    the verdict (an error for claim and oracle, no evidence for a mutant)."""
    arguments = {**group.arguments(), "device": device, **(extra or {})}
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if function is None:
                return theorem.evaluate_claim(**arguments)
            return call_with(function, arguments)
    except (TheoremError, DerivationError):
        raise
    except Exception as error:
        raise TheoremError(f"{theorem.id}: the {role} raised {type(error).__name__}: {error}") from error


def _as_batch(theorem: Theorem, role: str, value, size: int, *, finite: bool = True) -> np.ndarray:
    array = _to_numpy(value)
    if array.ndim == 0 or array.shape[0] != size:
        raise TheoremError(
            f"{theorem.id}: the {role} returned shape {array.shape}, expected a first axis of {size} instances"
        )
    if finite and not np.all(np.isfinite(array)):
        raise TheoremError(f"{theorem.id}: the {role} returned NaN or infinite values")
    return array


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


@dataclass
class OracleValues:
    """The oracle's output for one group, computed once and shared by the claim and every mutant."""

    group: Group
    values: np.ndarray
    accuracy: np.ndarray | float = 0.0


def oracle_values(theorem: Theorem, group: Group, device: str) -> OracleValues:
    """The oracle on ``group``, with its stated accuracy checked against the policy's rules."""
    policy = theorem.policy
    # The oracle's own randomness (Monte Carlo) is seeded apart from the inputs, so the same seed replays it.
    extra = {"rng": group.rng(1), **policy.oracle_keywords()}
    raw = _evaluate(theorem, "oracle", theorem.oracle, group, device, extra)
    accuracy = np.zeros(())
    if isinstance(raw, tuple):
        raw, accuracy = raw
        accuracy = _to_numpy(accuracy)
    values = _as_batch(theorem, "oracle", raw, group.size)
    if isinstance(policy, Statistical):
        if values.ndim < 2:
            raise TheoremError(f"{theorem.id}: a statistical oracle must return (instances, draws, ...) samples")
        if np.any(accuracy != 0):
            raise TheoremError(f"{theorem.id}: a statistical oracle states no accuracy (its draws give the standard error)")
        # Every comparison reads the draws through their batch means: kept instead of the draws (a hundred
        # times smaller); the means of these means, one each, are the same numbers.
        return OracleValues(group, policy.batch_means(values))
    if accuracy.ndim and accuracy.shape[0] == group.size:
        # A per-instance accuracy (n,) applies to every entry of that instance's value.
        accuracy = accuracy.reshape(accuracy.shape + (1,) * (values.ndim - accuracy.ndim))
    problem = policy.accuracy_problem(values, accuracy)
    if problem:
        raise TheoremError(f"{theorem.id}: {problem}")
    return OracleValues(group, values, accuracy)


def evaluate_group(theorem: Theorem, group: Group, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """The claim and the oracle on one group of instances: what the checker compares."""
    oracle = oracle_values(theorem, group, device)
    return claim_values(theorem, group, device), oracle.values


def claim_values(theorem: Theorem, group: Group, device: str) -> np.ndarray:
    return _as_batch(theorem, "claim", _evaluate(theorem, "claim", None, group, device), group.size)


def compare(theorem: Theorem, claim: np.ndarray, oracle: OracleValues, tests: int) -> Comparison:
    expected = oracle.values.shape if not isinstance(theorem.policy, Statistical) else oracle.values.shape[:1] + oracle.values.shape[2:]
    if claim.shape != expected:
        raise TheoremError(f"{theorem.id}: claim has shape {claim.shape[1:]} per instance, oracle {expected[1:]}")
    return theorem.policy.compare(claim, oracle.values, oracle.accuracy, tests)


def _tests(oracles: list[OracleValues]) -> int:
    """The number of simultaneous tests (instances times components) a statistical threshold covers."""
    return sum(o.group.size * _components(o) for o in oracles)


def _components(oracle: OracleValues) -> int:
    return int(np.prod(oracle.values.shape[2:]))


# --- checking -------------------------------------------------------------------------------


def check(theorem: Theorem | str, *, instances: int = 1000, seed: int = 0, device: str = "cpu") -> CheckResult:
    """Check a theorem, its anchors and all its mutants; raise :class:`TheoremFailed` unless everything holds.

    Returns the :class:`CheckResult` (with ``.mutants``) when the claim is
    verified and every mutant is refuted.
    """
    __tracebackhide__ = True  # pytest shows the failure at the user's call, not inside the engine
    theorem = REGISTRY.get(theorem) if isinstance(theorem, str) else theorem
    result = run_check(theorem, instances=instances, seed=seed, device=device, mutants=True)
    if result.status == "error":
        raise TheoremError(result.message)
    survivors = [m for m in result.mutants if not m.refuted]
    if result.status != "verified" or survivors:
        lines = [result.message] if result.status != "verified" else []
        lines += [f"{theorem.id}: mutant {m.name!r} survived: {m.evidence}" for m in survivors]
        lines.append(replay_line(theorem, seed))
        raise TheoremFailed("\n".join(lines))
    return result


def replay_line(theorem: Theorem, seed: int) -> str:
    """The call that repeats this check: by id when the registry holds the theorem, else by its module's name for it."""
    return f"replay: tp.check({_reference(theorem)}, seed={seed})"


def _reference(theorem: Theorem) -> str:
    if REGISTRY.holds(theorem):
        return repr(theorem.id)
    module = sys.modules.get(theorem.defined_in)
    names = [name for name, value in vars(module).items() if value is theorem] if module else []
    return f"{theorem.defined_in}.{names[0]}" if names else repr(theorem.id)


def run_check(
    theorem: Theorem,
    *,
    instances: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    mutants: bool = False,
    timeout: float | None = None,
    on_block: Callable[[float], None] = lambda share: None,
) -> CheckResult:
    """Check the derivation, the claim and the anchors; never raises for the theorem's own failures (see ``status``).

    A check of more instances than a block (:func:`~checkers.sampling.block_sizes`) runs block by
    block, calls ``on_block`` with the share of its blocks done after each, and runs its mutants
    on block 0. ``timeout`` limits its start (the derivation, block 0, anchors and mutants) and
    then each later block: one that takes longer stops the check with status ``error``.
    """
    if instances < 1:
        raise ValueError("instances must be at least 1")
    start = time.perf_counter()
    with one_blas_thread():
        return _run_check(theorem, instances, seed, device, mutants, start, timeout, on_block)


def _overtime(theorem: Theorem, seconds: float, what: str = "") -> str:
    return f"{theorem.id}: {what}did not finish within {seconds:g} s (--timeout)"


def _run_check(theorem: Theorem, instances, seed, device, mutants, start, timeout, on_block) -> CheckResult:
    begun = begin_within(theorem, instances, seed, device, mutants, timeout)
    if isinstance(begun, CheckResult):
        return begun
    try:
        total = merge_blocks(theorem, begun, checked_blocks(theorem, begun.plan, range(1, begun.plan.blocks), timeout, on_block))
    except TheoremError as error:
        return CheckResult(theorem.id, "error", str(error), None, None, time.perf_counter() - start, seed, basis=theorem.basis)
    return finish_check(theorem, begun, total, time.perf_counter() - start)


def begin_within(
    theorem: Theorem, instances: int, seed: int, device: str, mutants: bool, timeout: float | None, block_size: int | None = None
) -> CheckStart | CheckResult:
    """:func:`begin_check` stopped after ``timeout`` seconds (a :class:`CheckResult` with status ``error``)."""
    start = time.perf_counter()
    with time_limit(timeout) as limit, one_blas_thread():
        begun = begin_check(theorem, instances, seed, device, mutants, block_size)
    if limit.exceeded:
        return CheckResult(theorem.id, "error", _overtime(theorem, timeout), None, None, time.perf_counter() - start, seed, basis=theorem.basis)
    return begun


def checked_blocks(
    theorem: Theorem, plan: "CheckPlan", blocks: range, timeout: float | None, on_block: Callable[[float], None] = lambda share: None
) -> Iterator["BlockTally"]:
    """The tally of each of ``blocks`` in order, each block within ``timeout`` seconds; ``on_block`` is told
    the share of the plan's blocks done before each. Raises :class:`TheoremError` when a block errs or
    runs out of time."""
    for block in blocks:
        on_block(block / plan.blocks)
        with time_limit(timeout) as limit:
            tally = check_block(theorem, plan, block)
        if limit.exceeded:
            raise TheoremError(_overtime(theorem, timeout, f"block {block} of {plan.blocks} "))
        yield tally


@dataclass(frozen=True)
class CheckPlan:
    """What every block of a check needs: block 0's shape tuples and the run's number of tests
    (a statistical threshold covers them all, so it is fixed before any block is compared)."""

    instances: int
    seed: int
    device: str
    block_size: int
    tuples: np.ndarray
    tests: int

    @property
    def blocks(self) -> int:
        return len(block_sizes(self.instances, self.block_size))


@dataclass(frozen=True)
class Worst:
    """The instance with the largest error so far: its parameters and what claim and oracle gave there."""

    error: float
    params: dict
    claim: np.ndarray
    reference: np.ndarray


@dataclass(frozen=True)
class BlockTally:
    """What a check keeps of a block: the policy's tally, the worst instance, the oracle's largest stated accuracy."""

    tally: Tally
    worst: Worst
    oracle_accuracy: float

    def merged(self, other: "BlockTally", policy) -> "BlockTally":
        worst = other.worst if other.worst.error > self.worst.error else self.worst
        return BlockTally(policy.merge(self.tally, other.tally), worst, max(self.oracle_accuracy, other.oracle_accuracy))


@dataclass(frozen=True)
class CheckStart:
    """A check up to its later blocks: the derivation's counts, block 0 with its anchors and mutants,
    and the plan the later blocks follow (:func:`check_block`, in any process); :func:`finish_check`
    merges them."""

    symbolic: dict[str, int] | None
    plan: CheckPlan
    first: BlockTally
    anchors: tuple[AnchorResult, ...]
    mutants: tuple[MutantResult, ...]
    timings: dict[str, float]


def begin_check(
    theorem: Theorem, instances: int, seed: int, device: str, mutants: bool, block_size: int | None = None
) -> CheckStart | CheckResult:
    """The derivation, block 0, the anchors and (with ``mutants``) the mutants on block 0's oracle
    values; a :class:`CheckResult` already when the derivation fails or the theorem errs. Blocks
    are of ``block_size`` instances (default :func:`~checkers.sampling.block_instances`)."""
    start = time.perf_counter()
    timings = {}
    try:
        symbolic = symbolic_counts(theorem)
        _check_relation(theorem)
        timings["symbolic"] = time.perf_counter() - start
        numeric_start = time.perf_counter()
        block_size = block_size or block_instances()
        groups = draw_block(theorem, instances, seed, 0, device=device, block_size=block_size)
        oracles = [oracle_values(theorem, g, device) for g in groups]
        plan = _plan(theorem, instances, seed, device, block_size, oracles)
        first = _block_tally(theorem, oracles, plan.tests, device)
        anchors = tuple(_check_anchor(theorem, anchor, seed, device) for anchor in theorem.anchors)
        timings["numeric"] = time.perf_counter() - numeric_start
        mutant_results = ()
        if mutants:
            mutants_start = time.perf_counter()
            mutant_results = _mutant_results(theorem, oracles, device)
            timings["mutants"] = time.perf_counter() - mutants_start
    except DerivationError as error:
        return CheckResult(theorem.id, "failed", str(error), error.counts, None, time.perf_counter() - start, seed, basis=theorem.basis)
    except TheoremError as error:
        return CheckResult(theorem.id, "error", str(error), None, None, time.perf_counter() - start, seed, basis=theorem.basis)
    return CheckStart(symbolic, plan, first, anchors, mutant_results, timings)


def _plan(theorem: Theorem, instances: int, seed: int, device: str, block_size: int, oracles: list[OracleValues]) -> CheckPlan:
    """Block 0's shape tuples, and the tests of the whole run: block 0's, plus each later block's count
    of every tuple (drawn apart from the block) times that tuple's components in block 0."""
    tuples = shape_tuples([o.group for o in oracles], theorem)
    components = np.array([_components(o) for o in oracles])
    tests = _tests(oracles)
    for block, size in enumerate(block_sizes(instances, block_size)[1:], start=1):
        tests += int(block_shape_counts(size, seed, block, tuples) @ components)
    return CheckPlan(instances, seed, device, block_size, tuples, tests)


def check_block(theorem: Theorem, plan: CheckPlan, block: int) -> BlockTally:
    """Block ``block`` (at least 1) of the check ``plan`` describes, compared and tallied; raises
    :class:`TheoremError` when the claim or the oracle errs."""
    with one_blas_thread():
        groups = draw_block(theorem, plan.instances, plan.seed, block, plan.tuples, plan.device, plan.block_size)
        oracles = [oracle_values(theorem, g, plan.device) for g in groups]
        return _block_tally(theorem, oracles, plan.tests, plan.device)


def _block_tally(theorem: Theorem, oracles: list[OracleValues], tests: int, device: str) -> BlockTally:
    comparisons, worst = [], None
    for oracle in oracles:
        claim = claim_values(theorem, oracle.group, device)
        comparison = compare(theorem, claim, oracle, tests)
        comparisons.append(comparison)
        i = int(np.argmax(comparison.errors))
        if worst is None or comparison.errors[i] > worst.error:
            # Copies: a view of one instance would keep its block's arrays alive as long as the tally.
            worst = Worst(float(comparison.errors[i]), oracle.group.instance(i), claim[i].copy(), comparison.reference[i].copy())
    return BlockTally(theorem.policy.pool(comparisons), worst, max(_relative_accuracy(o) for o in oracles))


def merge_blocks(theorem: Theorem, begun: CheckStart, later: Iterable[BlockTally]) -> BlockTally:
    """Block 0's tally and the later blocks', merged in block order (one at a time, as they come)."""
    total = begun.first
    for block in later:
        total = total.merged(block, theorem.policy)
    return total


def finish_check(theorem: Theorem, begun: CheckStart, total: BlockTally, seconds: float) -> CheckResult:
    """The check's result from its start and the tally of all its blocks (:func:`merge_blocks`)."""
    plan, policy = begun.plan, theorem.policy
    verdict = policy.verdict(total.tally)
    summary = NumericSummary(
        plan.instances,
        verdict.max_error,
        policy.describe(plan.tests),
        policy.name,
        draws=getattr(policy, "draws", None),
        oracle_accuracy=total.oracle_accuracy or None,
        coverage=edge_coverage(theorem.parameters, plan.instances),
        extras=verdict.extras,
    )
    message = f"verified on {plan.instances} instances; max error {verdict.max_error:.3g} of tolerance"
    if verdict.max_error > 1:
        counterexample = _counterexample(theorem, total.worst, plan.seed, plan.device)
        summary = summary.with_counterexample(counterexample)
        message = _failure_message(theorem, summary, counterexample, verdict)
    disagreeing = [a for a in begun.anchors if not a.agrees]
    if verdict.max_error <= 1 and disagreeing:
        message = "; ".join(f"{theorem.id}: {a.describe()}" for a in disagreeing)
    status = "verified" if verdict.max_error <= 1 and not disagreeing else "failed"
    # Block 0 timed its numeric part; the later blocks ran elsewhere or after it, so the numeric part is the rest.
    numeric = seconds - begun.timings.get("symbolic", 0.0) - begun.timings.get("mutants", 0.0)
    return CheckResult(
        theorem.id, status, message, begun.symbolic, summary.with_anchors(begun.anchors), seconds, plan.seed,
        begun.mutants, {**begun.timings, "numeric": numeric}, theorem.basis,
    )


def symbolic_counts(theorem: Theorem) -> dict[str, int] | None:
    """Steps by evidence of the derivation (lemmas included), or of a claim= theorem's lemmas; None if neither."""
    derivation = theorem.built_derivation()
    if derivation is not None:
        return derivation.counts()
    if not theorem.lemmas:
        return None
    total: dict[str, int] = {}
    for lemma in theorem.lemma_derivations():
        for kind, count in lemma.counts().items():
            total[kind] = total.get(kind, 0) + count
    return total


def _check_relation(theorem: Theorem) -> None:
    """A derivation that ends in a bound (``start <= result``) must be checked as one: ``Bound`` on the same side."""
    derivation = theorem.built_derivation()
    if derivation is None or derivation.relation == "=":
        return
    side = "upper" if derivation.relation in ("<=", "<") else "lower"
    policy = theorem.policy
    if not isinstance(policy, Bound) or policy.side != side:
        raise TheoremError(
            f"{theorem.id}: the derivation shows start {derivation.relation} result, a bound; "
            f"give tolerance=Bound({side!r}, ...) so that the oracle is compared on that side only"
        )


def _failure_message(theorem: Theorem, summary: NumericSummary, counterexample: Counterexample, verdict: Verdict) -> str:
    if verdict.pooled_failure:
        return (
            f"{theorem.id}: {verdict.pooled_failure}; the largest single disagreement is "
            f"{counterexample.describe()} ({counterexample.error:.3g} of its tolerance)"
        )
    bounds = ", ".join(f"{name} {value:g}" if not isinstance(value, str) else f"{name} {value}" for name, value in summary.tolerance.items())
    return (
        f"{theorem.id}: claim and oracle disagree {counterexample.describe()} "
        f"(error {counterexample.error:.3g} times the {summary.policy} tolerance ({bounds}) there; "
        f"{verdict.max_error:.3g} at the worst of the {summary.instances} sampled instances)"
    )


def _relative_accuracy(oracle: OracleValues) -> float:
    """The oracle's stated accuracy relative to its values, norm-wise per instance, largest instance."""
    if np.all(np.asarray(oracle.accuracy) == 0):
        return 0.0
    accuracy = np.broadcast_to(oracle.accuracy, oracle.values.shape).reshape(len(oracle.values), -1)
    values = oracle.values.reshape(len(oracle.values), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.linalg.norm(accuracy, axis=1) / np.linalg.norm(values, axis=1)
    return float(np.max(np.where(np.isfinite(ratio), ratio, 0.0)))


def _counterexample(theorem: Theorem, worst: Worst, seed: int, device: str) -> Counterexample:
    if not isinstance(theorem.policy, Statistical):
        shrunk = _shrink(theorem, worst.params, seed, device)
        if shrunk is not None:
            return shrunk
    return Counterexample(worst.params, worst.claim, worst.reference, error=worst.error)


def _shrink(theorem: Theorem, params: dict, seed: int, device: str) -> Counterexample | None:
    """Move parameters towards their simplest values while the instance still fails (bounded search)."""
    budget = _SHRINK_BUDGET
    current = _failing_instance(theorem, params, seed, device)
    improved = current is not None
    while improved and budget > 0:
        improved = False
        for name, domain in theorem.parameters.items():
            for candidate in domain.simpler(current.params[name])[:budget]:
                budget -= 1
                trial = _failing_instance(theorem, {**current.params, name: candidate}, seed, device)
                if trial is not None:
                    current, improved = trial, True
                    break
    return current


def _failing_instance(theorem, params, seed, device) -> Counterexample | None:
    try:
        group = single_instance(theorem, params, seed, device)
        oracle = oracle_values(theorem, group, device)
        claim = claim_values(theorem, group, device)
        comparison = compare(theorem, claim, oracle, 1)
    except (TheoremError, ValueError):
        return None
    if comparison.errors[0] <= 1:
        return None
    inputs = {k: v[0] for k, v in group.inputs.items()}
    return Counterexample(dict(params), claim[0], comparison.reference[0], inputs, float(comparison.errors[0]))


# --- anchors --------------------------------------------------------------------------------


def _check_anchor(theorem: Theorem, anchor: Anchor, seed: int, device: str) -> AnchorResult:
    """Claim and oracle at the anchor's point (and its inputs, where it gives them), each against the anchor's value."""
    group = single_instance(theorem, {**theorem.default_params(), **anchor.params}, seed, device)
    if anchor.inputs:
        unknown = set(anchor.inputs) - set(group.inputs)
        if unknown:
            raise TheoremError(f"{theorem.id}: anchor {anchor.describe()} gives inputs {sorted(unknown)} the theorem does not draw")
        given = {name: _one_instance_like(group.inputs[name], value, theorem, anchor) for name, value in anchor.inputs.items()}
        group = replace(group, inputs={**group.inputs, **given})
    claim = claim_values(theorem, group, device)[0]
    oracle = oracle_values(theorem, group, device)
    value = np.asarray(anchor.value, dtype=float)
    if value.shape != claim.shape:
        raise TheoremError(f"{theorem.id}: anchor {anchor.describe()} has shape {value.shape}, the claim {claim.shape}")
    allowed = anchor.atol + anchor.rtol * np.abs(value)
    claim_agrees = bool(np.all(np.abs(claim - value) <= allowed))
    if isinstance(theorem.policy, Statistical):
        comparison = theorem.policy.compare(value[None], oracle.values, 0.0, 1)
        oracle_value = comparison.reference[0]
        oracle_agrees = bool(comparison.errors[0] <= 1 or np.all(np.abs(oracle_value - value) <= allowed))
    else:
        oracle_value = oracle.values[0]
        accuracy = np.broadcast_to(oracle.accuracy, oracle.values.shape)[0]
        oracle_agrees = bool(np.all(np.abs(oracle_value - value) <= allowed + accuracy))
    return AnchorResult(
        anchor.describe(),
        anchor.to_json(),
        claim,
        oracle_value,
        claim_agrees or anchor.of == "oracle",
        oracle_agrees or anchor.of == "claim",
    )


def _one_instance_like(drawn, value, theorem: Theorem, anchor: Anchor):
    """An anchor's input as a batch of one, in the array type, dtype and device of the drawn input it replaces."""
    array = np.asarray(value, dtype=float)
    if array.shape != tuple(drawn.shape[1:]):
        raise TheoremError(f"{theorem.id}: anchor {anchor.describe()}: an input has shape {array.shape}, the drawn one {tuple(drawn.shape[1:])}")
    if hasattr(drawn, "detach"):  # a torch tensor
        import torch

        return torch.as_tensor(array, dtype=drawn.dtype, device=drawn.device)[None]
    return array.astype(drawn.dtype)[None]


# --- mutants --------------------------------------------------------------------------------


def _mutant_results(theorem: Theorem, oracles: list[OracleValues], device: str) -> tuple[MutantResult, ...]:
    """The written mutants' results. One that raises, returns the wrong shape or is NaN or infinite
    at every instance is a fault of the theorem's code, not a wrong claim refuted or surviving:
    a :class:`TheoremError` naming the mutant."""
    results = []
    for name, mutant in theorem.mutants.items():
        result = _run_mutant(theorem, name, mutant, oracles, device)
        if not result.defined:
            raise TheoremError(f"{theorem.id}: mutant {name!r} returned NaN or infinite values at every instance")
        results.append(result)
    return tuple(results)


def _run_mutant(theorem, name, mutant, oracles, device) -> MutantResult:
    policy = theorem.policy
    tests = _tests(oracles)
    best = (0.0, "")
    power = 0.0
    comparisons = []
    defined = False
    side = policy.side if isinstance(policy, Bound) else None
    for oracle in oracles:
        # A wrong constant may well overflow or leave the reals; only a finite disagreement refutes
        # (infinite and NaN comparisons are expected here, so NumPy is not asked to warn of them).
        raw = _evaluate(theorem, f"mutant {name!r}", mutant, oracle.group, device)
        values = _as_batch(theorem, f"mutant {name!r}", raw, oracle.group.size, finite=False)
        with np.errstate(all="ignore"):
            comparison = compare(theorem, values, oracle, tests)
        finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        defined = defined or bool(finite.any())
        errors = np.where(finite, comparison.errors, 0.0)
        comparisons.append(Comparison(errors, comparison.reference, comparison.scale, comparison.pooled))
        i = int(np.argmax(errors))
        if errors[i] > best[0]:
            params = ", ".join(f"{k}={_fmt(v)}" for k, v in oracle.group.instance(i).items())
            scale = comparison.scale[i] if comparison.scale is not None else 1.0
            best = (float(errors[i]), f"at {params}: {_worst_entry(values[i], comparison.reference[i], scale, side)}")
        if isinstance(policy, Statistical):
            claim = claim_values(theorem, oracle.group, device)
            with np.errstate(all="ignore"):
                separation = np.abs(values - claim) / comparison.scale
            separation = np.where(finite.reshape((-1,) + (1,) * (separation.ndim - 1)), separation, 0.0)
            power = max(power, policy.refutation_probability(float(np.max(separation)), tests))
    verdict = policy.conclude(comparisons)
    if verdict.pooled_failure and verdict.max_error > best[0]:
        best = (verdict.max_error, verdict.pooled_failure)
    refuted = best[0] > 1
    if not defined:
        evidence = "not refuted: NaN or infinite at every instance (undefined there, so no evidence either way)"
        return MutantResult(name, False, evidence, defined=False)
    verdict_word = "refuted" if refuted else "not refuted"
    evidence = f"{verdict_word}: {best[1] or 'no finite disagreement'} (error {best[0]:.3g} times the tolerance)"
    return MutantResult(name, refuted, evidence, power if isinstance(policy, Statistical) else None)


def _fmt(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _worst_entry(mutant: np.ndarray, oracle: np.ndarray, scale=1.0, side: str | None = None) -> str:
    """The mutant's and the oracle's values where they differ most in units of ``scale`` (a standard
    error); for a bound (``side``), where the oracle is furthest on the wrong side of it."""
    if np.size(oracle) == 1:
        return f"mutant {np.ravel(mutant)[0]:.6g}, oracle {np.ravel(oracle)[0]:.6g}"
    difference = np.asarray(mutant) - np.asarray(oracle)
    with np.errstate(all="ignore"):
        gap = {None: np.abs(difference), "upper": -difference, "lower": difference}[side] / scale
    index = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(gap), gap, -1.0))), np.shape(oracle))
    where = ", ".join(map(str, index))
    return f"entry [{where}]: mutant {mutant[index]:.6g}, oracle {oracle[index]:.6g}"


def generated_mutants(theorem: Theorem) -> dict[str, tuple[str, Callable]]:
    """For a derived theorem, each constant of its closed form perturbed: ``{name: (constant, claim)}``.

    The perturbed closed form is compiled and, where the theorem assembles its claim, assembled
    the same way, so a generated mutant differs from the claim in exactly one constant.
    """
    derivation = theorem.built_derivation()
    if derivation is None:
        return {}
    generated = {}
    for name, constant, expression in constant_perturbations(derivation.result):
        compiled = compile_closed_form(expression)
        claim = functools.partial(theorem.assemble, compiled) if theorem.assemble is not None else compiled
        generated[name] = (constant, claim)
    return generated


def blind_spots(theorem: Theorem, seed: int = 0, device: str = "cpu") -> tuple[tuple[BlindSpot, ...], dict[str, int]]:
    """Run the generated mutants on a few instances (edges first), each under a time limit.

    A wrong constant can make an oracle-like claim (an ODE, a fixed point) diverge and crawl; a
    generated mutant that takes longer than ``GENERATED_SECONDS``, or any left when the theorem's
    ``GENERATED_BUDGET`` is spent, is skipped and counted, not reported as a blind spot; so is
    one that is NaN or infinite at every instance (``undefined``: a sign flipped under a power
    of a positive quantity), which no finite comparison can refute.
    """
    generated = generated_mutants(theorem)
    tally = {"generated": len(generated), "refuted": 0, "blind_spots": 0, "skipped": 0, "undefined": 0}
    if not generated:
        return (), tally
    oracles = [oracle_values(theorem, g, device) for g in draw_instances(theorem, GENERATED_INSTANCES, seed, device)]
    spots = []
    deadline = time.perf_counter() + GENERATED_BUDGET
    for name, (constant, mutant) in generated.items():
        if time.perf_counter() > deadline:
            tally["skipped"] += 1
            continue
        try:
            with time_limit(GENERATED_SECONDS) as limit:
                result = _run_mutant(theorem, name, mutant, oracles, device)
        except TheoremError:  # a perturbed constant can break the assembly (a shape, a domain): no evidence
            tally["skipped"] += 1
            continue
        if limit.exceeded:
            tally["skipped"] += 1
            continue
        if result.refuted:
            tally["refuted"] += 1
        elif not result.defined:
            tally["undefined"] += 1
        else:
            spots.append(BlindSpot(name, constant, result.evidence, theorem.blind_spots.get(name, "")))
    tally["blind_spots"] = len(spots)
    return tuple(spots), tally


class TimeLimitExceeded(BaseException):
    """Raised inside a :func:`time_limit` block when it runs out of time; the block's own
    ``with`` absorbs it. A BaseException, so that a theorem's ``except Exception`` cannot swallow it."""


@dataclass
class TimeLimit:
    """A :func:`time_limit`: its length, and whether the block was stopped by it."""

    seconds: float | None
    exceeded: bool = False


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Stop the block after ``seconds`` of wall time (``None``: no limit); afterwards the yielded
    :class:`TimeLimit` says whether it was stopped.

    Works in the main thread only (elsewhere there is no limit). Limits nest: an outer limit
    that ends first stops the outer block (the inner one does not absorb it), and it keeps
    counting through the inner block.
    """
    limit = TimeLimit(seconds)
    outer_remaining = signal.getitimer(signal.ITIMER_REAL)[0]
    binding = seconds is not None and (not outer_remaining or seconds < outer_remaining)
    if not binding or threading.current_thread() is not threading.main_thread():
        yield limit
        return
    started = time.perf_counter()

    def expire(signum, frame):
        raise TimeLimitExceeded(limit)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield limit
    except TimeLimitExceeded as exceeded:
        if exceeded.args[0] is not limit:
            raise
        limit.exceeded = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining:
            signal.setitimer(signal.ITIMER_REAL, max(outer_remaining - (time.perf_counter() - started), 1e-3))


def mutant_outcome(
    theorem: Theorem,
    *,
    instances: int = MUTANT_INSTANCES,
    seed: int = 0,
    device: str = "cpu",
    generated: bool = True,
    timeout: float | None = None,
) -> MutantOutcome:
    """Run the mutants of ``theorem`` (the oracle is evaluated once for all of them) and, with
    ``generated``, its generated mutants, reporting the survivors as blind spots; stop with status
    ``error`` after ``timeout`` seconds."""
    with time_limit(timeout) as limit, one_blas_thread():
        outcome = _mutant_outcome(theorem, instances, seed, device, generated)
    return MutantOutcome(theorem.id, (), "error", _overtime(theorem, timeout)) if limit.exceeded else outcome


def _mutant_outcome(theorem: Theorem, instances: int, seed: int, device: str, generated: bool) -> MutantOutcome:
    try:
        groups = draw_instances(theorem, instances, seed, device)
        oracles = [oracle_values(theorem, g, device) for g in groups]
        written = _mutant_results(theorem, oracles, device)
        spots, tally = blind_spots(theorem, seed, device) if generated else ((), {})
        return MutantOutcome(theorem.id, written, blind_spots=spots, generated=tally)
    except TheoremError as error:
        return MutantOutcome(theorem.id, (), "error", str(error))
