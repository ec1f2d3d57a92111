"""The README's user story, run as a user runs it: examples/block-params, two theorems, one of them false."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "block-params"


def run(*command, cwd=EXAMPLE):
    environment = {**os.environ, "PYTHONPATH": str(EXAMPLE)}
    return subprocess.run([str(c) for c in command], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


def test_pytest_passes_the_true_theorem_and_shows_why_the_false_one_fails():
    tests = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert tests.returncode == 1, tests.stdout + tests.stderr
    assert "1 failed, 2 passed" in tests.stdout
    # The plugin collected the imported theorems; the false one fails on the shrunk counterexample
    # (d = 1: 12 against 25 parameters), with the lines that replay it.
    assert "FAILED tests/test_theorems.py::rule_of_thumb" in tests.stdout
    assert "claim and oracle disagree at d=1: claim 12, oracle 25" in tests.stdout
    assert "replay: tp.check(blockparams.theorems.rule_of_thumb, seed=0)" in tests.stdout
    assert "replay: pytest tests/test_theorems.py::rule_of_thumb --tp-seed 0" in tests.stdout


MODULE = ("--module", "blockparams.theorems")


@pytest.mark.slow
@pytest.mark.started_early(
    ("list", "--topic", "user", "--json", *MODULE),
    ("verify", "--topic", "user", "--instances", "200", *MODULE),
    ("mutants", "block-parameters", *MODULE),
    ("render", "block-parameters", "--instances", "100", "-o", "blocks.tex", *MODULE),
    env={"PYTHONPATH": str(EXAMPLE)},
)
def test_the_command_line_checks_user_theorems(early_run):
    # Four processes, started when the suite is collected (tests/conftest.py).
    (listed, _), (verified, _), (refuted, _), (rendered, folder) = early_run
    assert listed.returncode == 0 and "block-parameters-rule-of-thumb" in listed.stdout
    assert verified.returncode == 1, verified.stderr
    assert "failed" in verified.stdout and "verified" in verified.stdout
    assert refuted.returncode == 0
    assert rendered.returncode == 0, rendered.stderr
    assert "(no biases, no norms)" in (folder / "blocks.tex").read_text()


def test_the_workflow_runs_the_tests_and_the_command_line():
    workflow = (EXAMPLE / ".github" / "workflows" / "theorems.yml").read_text()
    assert "pytest" in workflow and "transformer-proofs verify" in workflow and "torch==2.13.0" in workflow
