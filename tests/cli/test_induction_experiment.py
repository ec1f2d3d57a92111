"""``transformer-proofs experiment induction`` with a prompts file: trained on it, measured on it; a bad line is exit 2."""

import json
from pathlib import Path

import pytest

pytest.importorskip("transformer_lens")

CERTIFICATE = Path(__file__).resolve().parents[2] / "examples" / "induction_certificate.txt"
SMALL = ["--config", "d_model=8", "--config", "d_head=4", "--config", "steps=100", "--config", "lr=0.03", "--config", "evaluation=16"]


def test_one_layer_one_head_trained_on_the_certificate_gets_at_most_three_of_four(cli):
    one_head = ["--config", "layers=1", "--config", "heads=1", "--config", f"prompts={CERTIFICATE}"]
    run = cli("experiment", "induction", "--out", "run", *one_head, *SMALL, "--no-pdf", "--json", "-")
    assert run.returncode == 0, run.stderr
    metrics = json.loads(run.stdout)["metrics"]
    assert metrics["trained_on"] == f"prompts file {CERTIFICATE}" and len(metrics["predictions"]) == 4
    assert metrics["accuracy"] <= 0.75 and metrics["certificate"]["bound"] == 0.75
    checks = json.loads(run.stdout)["checks"]
    assert [check["passed"] for check in checks] == [True, True] and "induction-one-layer-limit" in checks[1]["claim"]


def test_a_bad_line_in_the_prompts_file_is_one_line_and_exit_status_2(cli, tmp_path):
    (tmp_path / "prompts.txt").write_text("0 1 2 1\t2\n0 1 2 1 2\n")
    run = cli("experiment", "induction", "--out", "run", "--config", "prompts=prompts.txt")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "prompts.txt, line 2: no tab" in run.stderr
    assert not (tmp_path / "run").exists()


def test_layers_heads_and_prompts_are_shortcuts_for_their_settings(cli):
    run = cli("experiment", "induction", "--out", "x", "--layers", "0")
    assert run.returncode == 2 and "layers" in run.stderr, run.stderr
    other = cli("experiment", "icl-regression", "--out", "x", "--prompts", "p.txt")
    assert other.returncode == 2 and "icl-regression has no setting 'prompts'" in other.stderr
