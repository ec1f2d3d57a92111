"""``--workers N``: theorems checked in worker processes give the same report as one process,
user theorem modules load in the workers, and a worker that dies is that theorem's error.

A worker process costs seconds to start (it imports the theorems), so these tests start few."""

import json
import os
import re
import textwrap

import pytest

QUICK = ("chinchilla-frontier", "jl-dimension", "rank-collapse")

USER_MODULE = textwrap.dedent(
    """
    import os
    import numpy as np
    import transformer_proofs as tp

    def dying(x):
        os._exit(3)  # as a segfault or the out-of-memory killer would end the process

    dies = tp.Theorem("dies", "its worker dies", "user", "s", parameters={"x": tp.Real(0, 1)}, claim=lambda x: x, oracle=dying)
    square = tp.Theorem(
        "square-user", "x^2 = x x", "user", "s", parameters={"x": tp.Real(-2, 2)},
        claim=lambda x: x**2, oracle=lambda x: x * x, mutants={"2x": lambda x: 2 * x, "x^3": lambda x: x**3},
    )
    cube = tp.Theorem(
        "cube-user", "x^3 = x x x", "user", "s", parameters={"x": tp.Real(-2, 2)},
        claim=lambda x: x**3, oracle=lambda x: x * x * x, mutants={"3x": lambda x: 3 * x},
    )
    """
)


def without_timings(text: str) -> str:
    return re.sub(r'"seconds": [-+0-9.eE]+', '"seconds": 0', text)


@pytest.fixture
def user_env(tmp_path):
    (tmp_path / "parallel_user.py").write_text(USER_MODULE)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}


def test_two_workers_write_the_same_json_as_one(cli):
    one, two = (cli("verify", *QUICK, "--instances", "200", "--seed", "7", "--workers", w, "--json", "-") for w in ("1", "2"))
    assert one.returncode == two.returncode == 0, two.stderr
    assert without_timings(two.stdout) == without_timings(one.stdout)
    assert [r["id"] for r in json.loads(two.stdout)["results"]] == list(QUICK)


def test_a_dead_worker_is_its_theorems_error_and_the_others_are_checked(cli, user_env):
    run = cli("verify", "dies", "square-user", "--module", "parallel_user", "--workers", "2", "--instances", "20", "--json", "-", env=user_env)
    assert run.returncode == 2
    results = {r["id"]: r for r in json.loads(run.stdout)["results"]}
    assert results["square-user"]["status"] == "verified"
    assert results["dies"]["status"] == "error" and "exited with status 3" in results["dies"]["message"]
    assert "transformer-proofs: error: dies: the worker process running it exited with status 3" in run.stderr


def test_a_mutants_task_is_what_one_process_computes(user_modules, user_env, tmp_path, monkeypatch):
    """What a worker runs for ``mutants``: the theorem found again from its id and module (the
    process machinery is the one ``verify`` uses above)."""
    import transformer_proofs as tp
    from transformer_proofs.parallel import mutants_task, reference

    monkeypatch.syspath_prepend(str(tmp_path))
    (theorem,) = [t for t in tp.load_module("parallel_user") if t.id == "cube-user"]
    ref = reference(theorem)
    assert ref.modules == ("parallel_user",)
    assert mutants_task((ref, {"seed": 3})).to_json() == tp.mutants(theorem, seed=3).results[0].to_json()
