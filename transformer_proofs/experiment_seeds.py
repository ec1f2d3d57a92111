"""An experiment at several seeds (``experiment NAME --out DIR --seeds S``): seed ``K``'s run in
``DIR/seed-K``, the runs in worker processes or on a Dask cluster.

Each seed's run is one pure task (:mod:`transformer_proofs.parallel`): it trains in a temporary
folder of its worker and returns the files it wrote, which this process writes into
``DIR/seed-K``. So the folders are the same whether the runs were local or on a cluster whose
workers share no disk with this machine (``metrics.json``'s ``seconds`` aside), and a run a lost
worker had started is simply run again.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from checkers.experiment import EXPERIMENTS


@dataclass(frozen=True)
class SeedRun:
    """One seed's run: whether its checks passed, its metrics document and the files it wrote (or
    why it could not run)."""

    seed: int
    ok: bool
    metrics: dict = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    error: str = ""


def run_seed(task: tuple[str, str, tuple[str, ...], int, str, bool]) -> SeedRun:
    """Experiment ``name`` (defined in ``module``) with ``--config`` ``assignments`` at ``seed``, in a worker."""
    import json

    from transformer_proofs.experiments import configure, run_experiment

    name, module, assignments, seed, device, pdf = task
    EXPERIMENTS.setdefault(name, module)  # the name this process knows it by (a user's experiment)
    _, settings = configure(name, None, (*assignments, f"seed={seed}"))
    with tempfile.TemporaryDirectory(prefix="transformer-proofs-seed-") as folder:
        run = run_experiment(name, folder, config=settings, device=device, pdf=pdf)
        files = {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir()) if path.is_file()}
    return SeedRun(seed, run.ok, json.loads(files["metrics.json"]), files)


def seed_sweep(
    name: str,
    out: str | Path,
    *,
    seeds: int,
    assignments: tuple[str, ...] = (),
    device: str = "cpu",
    pdf: bool = True,
    workers: int = 1,
    scheduler: str | None = None,
    advance: Callable[[int], None] = lambda seed: None,
) -> list[SeedRun]:
    """Run experiment ``name`` at seeds ``0 .. seeds - 1`` and write seed ``K``'s files into
    ``out/seed-K``; ``advance(K)`` is called as each run ends. Returns the runs in seed order."""
    from transformer_proofs.parallel import run_tasks, task_key
    from transformer_proofs.render import write_whole

    module = EXPERIMENTS[name]
    tasks = [(name, module, tuple(assignments), seed, device, pdf) for seed in range(seeds)]
    keys = [task_key("experiment", name, seed, assignments, device, pdf) for seed in range(seeds)]
    died = lambda index, message: SeedRun(index, False, error=f"{name} at seed {index}: {message}")
    runs = run_tasks(run_seed, tasks, keys=keys, workers=workers, scheduler=scheduler, finished=advance, failed=died)
    for run in runs:
        folder = Path(out) / f"seed-{run.seed}"
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, content in run.files.items():
            write_whole(folder / file_name, content)
    return runs
