"""``--scheduler``: sweeps, verifications and experiment seeds on a Dask cluster (a LocalCluster of
two single-threaded worker processes) give what one process gives, also when a worker dies mid-run.

The test environment installs the extra (``make test``: ``.[...,distributed]``), so these run in CI."""

import json
import sys
import textwrap

import pytest

from transformer_proofs.experiment_seeds import seed_sweep
from transformer_proofs.sweep import false_alarm_sweep

QUICK = ("chinchilla-frontier", "kaplan-exponents")

CRASH_ONCE = textwrap.dedent(
    """
    import os, pathlib
    import transformer_proofs as tp

    MARKER = pathlib.Path(__file__).with_name("killed-a-worker")

    def once_fatal(x):
        if not MARKER.exists():  # the first run kills its worker; the scheduler runs it again elsewhere
            MARKER.write_text(str(os.getpid()))
            os._exit(1)
        return x * 1.0

    crash_once = tp.Theorem("crash-once", "kills its first worker", "user", "s", parameters={"x": tp.Real(0, 1)}, claim=lambda x: x, oracle=once_fatal)
    """
)

TOY = textwrap.dedent(
    """
    from dataclasses import dataclass
    import numpy as np
    from checkers.experiment import Check, Experiment, ExperimentResult

    @dataclass(frozen=True)
    class Config:
        points: int = 20
        seed: int = 0

    def fit(config, device="cpu", progress=lambda it, total, description: it):
        rng = np.random.default_rng(config.seed)
        x = rng.standard_normal(config.points)
        slope = float(np.polyfit(x, 2 * x + 0.01 * rng.standard_normal(config.points), 1)[0])
        return ExperimentResult(metrics={"slope": slope}, checks=(Check("slope near 2", abs(slope - 2) < 0.1, f"{slope:.17g}"),))

    EXPERIMENT = Experiment("toy-seeds", "A line at several seeds", "user", Config, fit)
    """
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """User modules the workers import: on sys.path before the cluster spawns them (and restarts one)."""
    path = tmp_path_factory.mktemp("cluster_modules")
    (path / "crash_once_theorem.py").write_text(CRASH_ONCE)
    (path / "toy_seeds_experiment.py").write_text(TOY)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(path))
        yield path


@pytest.fixture(scope="module")
def scheduler(folder):
    from transformer_proofs.distributed import local_cluster

    with local_cluster(2) as cluster:
        yield cluster.scheduler_address


def test_a_sweep_on_the_cluster_equals_the_local_one(scheduler):
    options = dict(seeds=4, instances=50)
    local = false_alarm_sweep(QUICK, workers=1, **options)
    remote = false_alarm_sweep(QUICK, scheduler=scheduler, **options)
    assert remote.to_json() == local.to_json() and local.ok


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(scheduler, folder, user_modules):
    ids, options = ("crash-once", "chinchilla-frontier"), dict(seeds=3, instances=50, modules=("crash_once_theorem",))
    remote = false_alarm_sweep(ids, scheduler=scheduler, **options)
    assert (folder / "killed-a-worker").exists(), "no worker was killed"
    local = false_alarm_sweep(ids, workers=1, **options)
    assert remote.to_json() == local.to_json()
    assert [r.runs for r in remote.results] == [3, 3] and remote.ok


@pytest.mark.parametrize("block", [None, "30"], ids=["theorems", "blocks"])
def test_verify_on_the_cluster_writes_the_local_json(cli, scheduler, block):
    """With blocks of 30 (set here only: the block size travels with the tasks), later blocks are tasks."""
    arguments = ("verify", *QUICK, "--instances", "100", "--json", "-")
    env = {"TRANSFORMER_PROOFS_BLOCK": block} if block else {}
    local, remote = cli(*arguments, env=env), cli(*arguments, "--scheduler", scheduler, env=env)
    assert local.returncode == remote.returncode == 0, remote.stderr
    strip = lambda text: [{k: v for k, v in r.items() if k != "seconds"} for r in json.loads(text)["results"]]
    assert strip(remote.stdout) == strip(local.stdout)


def test_experiment_seeds_on_the_cluster_write_the_local_folders(scheduler, tmp_path, monkeypatch):
    from checkers import experiment

    monkeypatch.setitem(experiment.EXPERIMENTS, "toy-seeds", "toy_seeds_experiment")
    options = dict(seeds=3, pdf=False)
    local = seed_sweep("toy-seeds", tmp_path / "local", workers=1, **options)
    remote = seed_sweep("toy-seeds", tmp_path / "remote", scheduler=scheduler, **options)
    assert [r.seed for r in remote] == [0, 1, 2] and all(r.ok for r in remote)
    for seed in range(3):
        documents = [json.loads((tmp_path / side / f"seed-{seed}" / "metrics.json").read_text()) for side in ("local", "remote")]
        for document in documents:
            document.pop("seconds")
        assert documents[0] == documents[1]
        assert documents[0]["config"]["seed"] == seed
    assert len({r.metrics["metrics"]["slope"] for r in remote}) == 3


def test_without_dask_scheduler_is_one_line_naming_the_extra(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    run = cli("sweep", "chinchilla-frontier", "--seeds", "2", "--scheduler", "local")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == ["transformer-proofs: error: --scheduler needs Dask distributed: pip install 'transformer-proofs[distributed]'"]
