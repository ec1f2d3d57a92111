"""The false-alarm sweep: every chosen theorem checked at many seeds, in worker processes or on a
Dask cluster.

A true theorem must verify at every seed: an alarm is either a false claim or a checker
whose tolerance does not hold what it promises. 100 seeds x 300 instances is the
documented default (README, "No false alarms"). Each (theorem, seed) run is one task
(:mod:`transformer_proofs.parallel`), so the report is the same however many workers ran it.
"""

from __future__ import annotations

from typing import Callable, Sequence

from checkers.results import SweepReport, SweepResult, package_version
from transformer_proofs.parallel import run_tasks, task_key

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
    scheduler: str | None = None,
    modules: Sequence[str] = (),
    advance: Callable[[str], None] = lambda theorem_id: None,
) -> SweepReport:
    """Check each theorem of ``ids`` at seeds ``0 .. seeds - 1`` in ``workers`` processes, or on the
    Dask cluster at ``scheduler``; ``advance(id)`` is called after each run.

    ``modules`` are user theorem modules each worker loads. The report lists, per theorem, the
    seeds at which the check failed (false alarms) or the theorem's code raised (or its worker died).
    """
    tasks = [(theorem_id, tuple(modules), seed, instances) for theorem_id in ids for seed in range(seeds)]
    keys = [task_key("sweep", theorem_id, seed, instances, modules) for theorem_id, modules, seed, instances in tasks]
    died = lambda index, message: (tasks[index][0], tasks[index][2], "error", f"{tasks[index][0]} at seed {tasks[index][2]}: {message}")
    runs = run_tasks(
        _check_at_seed, tasks, keys=keys, workers=workers, scheduler=scheduler,
        finished=lambda index: advance(tasks[index][0]), failed=died,
    )
    outcomes: dict[str, list[tuple[int, str, str]]] = {theorem_id: [] for theorem_id in ids}
    for theorem_id, seed, status, message in runs:
        outcomes[theorem_id].append((seed, status, message))
    results = []
    for theorem_id, runs in outcomes.items():
        alarms = tuple(seed for seed, status, _ in runs if status == "failed")
        errors = tuple(seed for seed, status, _ in runs if status == "error")
        first = next((message for _, status, message in runs if status != "verified"), "")
        results.append(SweepResult(theorem_id, len(runs), alarms, errors, first))
    return SweepReport(package_version(), seeds, instances, tuple(results))
