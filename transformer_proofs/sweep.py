"""The false-alarm sweep: every chosen theorem checked at many seeds, in worker processes.

A true theorem must verify at every seed: an alarm is either a false claim or a checker
whose tolerance does not hold what it promises. 100 seeds x 300 instances is the
documented default (README, "No false alarms").
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

from checkers.results import SweepReport, SweepResult, package_version

SEEDS = 100
INSTANCES = 300


def _check_at_seed(task: tuple[str, tuple[str, ...], int, int]) -> tuple[str, int, str, str]:
    """One (theorem, seed) run in a worker: ``(id, seed, status, message)``."""
    from checkers.engine import run_check
    from transformer_proofs import api

    theorem_id, modules, seed, instances = task
    for module in modules:
        api.load_module(module)
    result = run_check(api.get(theorem_id), instances=instances, seed=seed)
    return theorem_id, seed, result.status, result.message


def false_alarm_sweep(
    ids: Sequence[str],
    *,
    seeds: int = SEEDS,
    instances: int = INSTANCES,
    workers: int = 1,
    modules: Sequence[str] = (),
    advance: Callable[[str], None] = lambda theorem_id: None,
) -> SweepReport:
    """Check each theorem of ``ids`` at seeds ``0 .. seeds - 1``; ``advance(id)`` is called after each run.

    ``modules`` are user theorem modules each worker loads. The report lists, per theorem, the
    seeds at which the check failed (false alarms) or the theorem's code raised.
    """
    tasks = [(theorem_id, tuple(modules), seed, instances) for theorem_id in ids for seed in range(seeds)]
    outcomes: dict[str, list[tuple[int, str, str]]] = {theorem_id: [] for theorem_id in ids}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for theorem_id, seed, status, message in pool.map(_check_at_seed, tasks, chunksize=max(1, seeds // 4)):
            outcomes[theorem_id].append((seed, status, message))
            advance(theorem_id)
    results = []
    for theorem_id, runs in outcomes.items():
        alarms = tuple(seed for seed, status, _ in runs if status == "failed")
        errors = tuple(seed for seed, status, _ in runs if status == "error")
        first = next((message for _, status, message in runs if status != "verified"), "")
        results.append(SweepResult(theorem_id, len(runs), alarms, errors, first))
    return SweepReport(package_version(), seeds, instances, tuple(results))
