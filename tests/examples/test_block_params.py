"""The README's user story, run as a user runs it: examples/block-params, two theorems, one of them false."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "block-params"
COMMAND = Path(sys.executable).with_name("transformer-proofs")


def run(*command, cwd=EXAMPLE):
    (finished,) = run_together(command, cwd=cwd)
    return finished


def run_together(*commands, cwd=EXAMPLE):
    """Start every command at once (the machine's cores work in parallel); their CompletedProcesses, in order."""
    environment = {**os.environ, "PYTHONPATH": str(EXAMPLE)}
    started = [
        subprocess.Popen([str(c) for c in command], cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    finished = []
    for process, command in zip(started, commands):
        stdout, stderr = process.communicate(timeout=600)
        finished.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return finished


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


@pytest.mark.slow
def test_the_command_line_checks_user_theorems(tmp_path):
    module = ("--module", "blockparams.theorems")
    handout = tmp_path / "blocks.tex"
    listed, verified, refuted, rendered = run_together(
        (COMMAND, "list", "--topic", "user", "--json", *module),
        (COMMAND, "verify", "--topic", "user", "--instances", "200", *module),
        (COMMAND, "mutants", "block-parameters", *module),
        (COMMAND, "render", "block-parameters", "--instances", "100", "-o", handout, *module),
    )
    assert listed.returncode == 0 and "block-parameters-rule-of-thumb" in listed.stdout
    assert verified.returncode == 1, verified.stderr
    assert "failed" in verified.stdout and "verified" in verified.stdout
    assert refuted.returncode == 0
    assert rendered.returncode == 0, rendered.stderr
    assert "(no biases, no norms)" in handout.read_text()


def test_the_workflow_runs_the_tests_and_the_command_line():
    workflow = (EXAMPLE / ".github" / "workflows" / "theorems.yml").read_text()
    assert "pytest" in workflow and "transformer-proofs verify" in workflow and "torch==2.13.0" in workflow
