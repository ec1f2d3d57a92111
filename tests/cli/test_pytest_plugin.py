"""The pytest plugin: module-level theorems in test files become test items with a replay line."""

import subprocess
import sys

THEOREMS = """
import numpy as np
import transformer_proofs as tp
from checkers.scaling import chinchilla_allocation  # imported, so not collected here

triangular = tp.Theorem(
    id="triangular-sum", title="Sum of the first n integers", topic="user",
    statement=r"\\sum_{k=1}^{n} k = n(n+1)/2",
    parameters={"n": tp.Integer(1, 10_000)},
    claim=lambda n: n * (n + 1) / 2,
    oracle=lambda n: np.cumsum(np.arange(1, 10_001))[n - 1],
    mutants={"n^2/2": lambda n: n ** 2 / 2},
)

off_by_one = tp.Theorem(
    id="off-by-one", title="A false sum", topic="user", statement="n(n-1)/2",
    parameters={"n": tp.Integer(1, 10_000)},
    claim=lambda n: n * (n - 1) / 2,
    oracle=lambda n: np.cumsum(np.arange(1, 10_001))[n - 1],
)
"""


def run_pytest(tmp_path, *args):
    (tmp_path / "test_mine.py").write_text(THEOREMS)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_mine.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)


def test_theorems_are_collected_and_a_false_one_fails_with_its_replay_line(tmp_path):
    run = run_pytest(tmp_path, "--tp-seed", "5", "--tp-instances", "50")
    assert run.returncode == 1
    assert "1 failed, 1 passed" in run.stdout
    assert "off-by-one" in run.stdout and "replay: tp.check(test_mine.off_by_one, seed=5)" in run.stdout
    assert "replay: pytest test_mine.py::off_by_one --tp-seed 5" in run.stdout


def test_bad_plugin_options_stop_pytest_once(tmp_path):
    run = run_pytest(tmp_path, "--tp-instances", "0")
    assert run.returncode == 4 and "--tp-instances must be at least 1" in run.stderr


def test_the_plugin_can_be_turned_off(tmp_path):
    run = run_pytest(tmp_path, "-p", "no:transformer_proofs")
    assert run.returncode == 5  # nothing collected: the theorems are not tests without the plugin
