"""``--workers N``: theorems checked in worker processes give the same report as one process,
user theorem modules load in the workers, and a worker that dies is that task's error.

Workers are forked from a server that imports the theorems, SciPy and torch once (seconds), so
these tests start few."""

import json
import os
import re
import textwrap

import pytest

QUICK = ("chinchilla-frontier", "jl-dimension", "rank-collapse")

USER_MODULE = textwrap.dedent(
    """
    import transformer_proofs as tp

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


@pytest.mark.parametrize("block", [None, "30"], ids=["theorems", "blocks"])
def test_two_workers_write_the_same_json_as_one(cli, user_env, block):
    """Three built-in theorems and one from a user's module (which the workers import by name); with
    blocks of 30 instances, each theorem's later blocks are tasks of their own, merged here."""
    arguments = ("verify", *QUICK, "square-user", "--module", "parallel_user", "--instances", "100", "--seed", "7", "--json", "-")
    env = {**user_env, **({"TRANSFORMER_PROOFS_BLOCK": block} if block else {})}
    one, two = (cli(*arguments, "--workers", w, env=env) for w in ("1", "2"))
    assert one.returncode == two.returncode == 0, two.stderr
    assert without_timings(two.stdout) == without_timings(one.stdout)
    assert [r["id"] for r in json.loads(two.stdout)["results"]] == [*QUICK, "square-user"]


def test_a_dead_worker_is_its_tasks_error_and_is_replaced_for_the_rest():
    """Tasks of builtins only, so that the workers start in a fraction of a second (no theorems to import)."""
    from transformer_proofs.parallel import run_in_processes

    tasks = ["6 * 7", "__import__('os')._exit(3)", "2 + 2", "__import__('os').kill(__import__('os').getpid(), 9)", "1"]
    done = []
    results = run_in_processes(eval, tasks, workers=2, finished=done.append, failed=lambda index, message: f"task {index}: {message}")
    assert results[0::2] == [42, 4, 1] and sorted(done) == list(range(5))
    assert results[1] == "task 1: the worker process running it exited with status 3; run it alone with --workers 1 to see more"
    assert results[3].startswith("task 3: the worker process running it was killed by SIGKILL")


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


def test_a_worker_runs_in_this_process_environment_of_now_not_that_of_the_fork_servers_start(monkeypatch):
    """The fork server keeps the environment of its start; ``--no-cache`` and test fixtures set
    variables later, and a worker must see them."""
    from transformer_proofs.parallel import run_in_processes, start_worker_server

    monkeypatch.setenv("TRANSFORMER_PROOFS_TEST_SETTING", "at the server's start")
    start_worker_server(2, None)
    monkeypatch.setenv("TRANSFORMER_PROOFS_TEST_SETTING", "later")
    tasks = ["TRANSFORMER_PROOFS_TEST_SETTING"] * 2
    assert run_in_processes(os.getenv, tasks, workers=2, finished=lambda index: None, failed=lambda index, message: message) == ["later"] * 2


def test_without_a_fork_server_the_workers_are_spawned(monkeypatch):
    """Windows has no fork server: the workers are spawned processes there, and start_worker_server does nothing."""
    import multiprocessing

    from transformer_proofs.parallel import run_in_processes, start_worker_server

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    start_worker_server(2, None)
    results = run_in_processes(eval, ["6 * 7", "2 + 2"], workers=2, finished=lambda index: None, failed=lambda index, message: message)
    assert results == [42, 4]
