"""Experiment induction end to end at a tiny size, its prompts files and its settings.

The command line (a prompts file, a bad line's exit status) is tested in tests/cli/test_induction_experiment.py;
the TransformerLens wiring in tests/numerics/circuits/test_hooked.py.
"""

import json

import pytest

from checkers.circuits.induction_training import EXPERIMENT, read_prompts
from checkers.experiment import parse_config

pytest.importorskip("transformer_lens")

TINY = {"layers": 2, "heads": 2, "d_vocab": 10, "period": 4, "d_model": 8, "d_head": 4, "steps": 20, "batch": 16, "evaluation": 32}
"""A run of a second or two: too short to grow an induction head, enough to exercise every measurement."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformer_proofs.experiments import run_experiment

    folder = tmp_path_factory.mktemp("induction")
    return run_experiment("induction", folder, config=TINY, pdf=False), folder


def test_a_tiny_two_layer_run_is_checked_through_transformer_lens(tiny):
    run, folder = tiny
    checks = {check.claim: check for check in run.result.checks}
    assert len(checks) == 3
    assert next(c for claim, c in checks.items() if "TransformerLens" in claim).passed
    assert any("90% of the repeated tokens" in claim for claim in checks) and any("induction head" in claim for claim in checks)
    assert not any("certificate" in claim for claim in checks)  # the theorem's bound is for one layer, one head


def test_metrics_hold_accuracy_scores_attention_maps_the_certificate_and_task_2_2(tiny):
    run, folder = tiny
    document = json.loads((folder / "metrics.json").read_text())
    metrics = document["metrics"]
    assert 0 <= metrics["accuracy"] <= 1 and metrics["accuracy"] == metrics["repeat_accuracy"]
    assert len(metrics["loss"]) == TINY["steps"]
    for name in ("previous_token", "duplicate_token", "prefix_matching"):
        assert len(metrics["scores"][name]) == 2 and len(metrics["scores"][name][0]) == 2
    layer, head = metrics["induction_head"]
    prefix = metrics["scores"]["prefix_matching"]
    assert metrics["induction_score"] == max(max(row) for row in prefix) == prefix[layer][head]
    assert [row["head"] for row in metrics["table"]] == ["L0H0", "L0H1", "L1H0", "L1H1"]
    maps = metrics["attention_maps"]
    n = 2 * TINY["period"] + 1
    assert len(maps["tokens"]) == n and len(maps["patterns"]) == 2 and len(maps["patterns"][1][0]) == n
    certificate = metrics["certificate"]
    assert certificate["targets"] == [2, 2, 3, 3] and certificate["bound"] is None and len(certificate["gaps"]) == 4
    task = metrics["task_2_2"]
    assert task["prompt"][0] == 0 and task["prompt"][-5:] == [1, 2, 3, 1, 2] and len(task["prompt"]) == 2 * TINY["period"]
    assert document["figures"] == [f"induction-{name}.pdf" for name in ("attention", "scores", "loss")]
    assert all((folder / name).is_file() for name in document["figures"])


def test_the_section_discusses_the_measurements_in_its_own_template(tiny):
    section = (tiny[1] / "section.tex").read_text()
    assert r"\section{Experiment: Induction heads in trained attention-only transformers}" in section
    assert r"\paragraph{Measured.}" in section and "task 2.2" in section and "induction-one-layer-limit" in section
    assert section.count(r"\includegraphics") == 3


def test_prompts_files_skip_blank_and_comment_lines(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("# a comment\n0 1 2 1\t2\n\n  3 4\t5\n")
    assert read_prompts(path, 6) == ([(0, 1, 2, 1), (3, 4)], [2, 5])


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("0 1 2\t1\n0 1 2 1\n", "line 2: no tab"),
        ("0 1 x\t1\n", "line 1: tokens and the target must be integers"),
        ("0 1\t1 2\n", "line 1: tokens and the target must be integers"),
        ("\t1\n", "line 1: the prompt has no tokens"),
        ("# only\n0 1 9\t1\n", "line 2: token 9 is outside the vocabulary 0..5"),
        ("0 1\t-1\n", "line 1: token -1 is outside"),
        ("# nothing\n\n", "no prompts"),
    ],
)
def test_a_bad_prompts_line_is_named(tmp_path, text, fragment):
    path = tmp_path / "prompts.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=fragment) as error:
        read_prompts(path, 6)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "assignments, fragment",
    [
        (["period=1"], "period"),
        (["d_vocab=6", "period=5"], "period"),
        (["layers=0"], "n_layers"),
        (["evaluation=0"], "evaluation"),
        (["prompts=/nonexistent/prompts.txt"], "cannot be read"),
    ],
)
def test_bad_settings_are_refused(assignments, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_config(EXPERIMENT, assignments)
