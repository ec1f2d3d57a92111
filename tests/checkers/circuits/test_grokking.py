"""Experiment grokking end to end at a tiny size, and its settings; the numerics have their own tests."""

import json

import pytest

from checkers.circuits.grokking import EXPERIMENT, GrokkingConfig
from checkers.experiment import parse_config

pytest.importorskip("transformer_lens")

TINY = {"p": 23, "train_fraction": 0.7, "epochs": 300, "lr": 0.02, "d_model": 32, "d_mlp": 128, "log_points": 12, "patch_pairs": 32}
"""A run of a few seconds on one core that groks (validation accuracy 99% by epoch 200)."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformer_proofs.experiments import run_experiment

    folder = tmp_path_factory.mktemp("grokking")
    return run_experiment("grokking", folder, config=TINY, pdf=False), folder


def test_a_tiny_run_groks_and_passes_its_checks(tiny):
    run, folder = tiny
    assert run.ok, [check for check in run.result.checks if not check.passed]
    claims = [check.claim for check in run.result.checks]
    assert len(claims) == 5 and any("groks" in c for c in claims) and any("modular-addition-fourier" in c for c in claims)


def test_metrics_hold_the_curves_the_circuit_and_the_answers(tiny):
    run, folder = tiny
    document = json.loads((folder / "metrics.json").read_text())
    metrics = document["metrics"]
    epochs = metrics["epochs"]
    assert epochs[0] == 0 and epochs[-1] == TINY["epochs"] and epochs == sorted(set(epochs))
    for curve in ("train_accuracy", "val_accuracy", "train_loss", "val_loss", "weight_norm"):
        assert len(metrics[curve]) == len(epochs), curve
    assert metrics["memorisation_epoch"] <= metrics["grok_epoch"] <= TINY["epochs"]
    key = metrics["key_frequencies"]
    assert key and all(1 <= k <= 11 for k in key) and len(metrics["frequency_norms"]) == 12
    assert metrics["key_frequencies_kept_accuracy"] >= metrics["accuracy"] - 0.01
    assert metrics["key_frequencies_ablated_accuracy"] <= 5 / 23
    algorithm = metrics["fourier_algorithm"]
    assert algorithm["explained_variance"] > 0.5 and algorithm["residual_accuracy"] <= 5 / 23
    assert algorithm["terms"]["a + b - c, key frequencies"] == pytest.approx(algorithm["explained_variance"], abs=1e-3)
    questions = " ".join(answer["question"] for answer in metrics["answers"])
    assert "Exercise 1.10" in questions and "perfect circle" in questions and "weight norm decrease" in questions
    assert document["figures"] == [f"grokking-{name}.pdf" for name in ("accuracy", "weight-norm", "spectrum", "pca", "patching")]
    assert all((folder / name).is_file() and (folder / name.replace(".pdf", ".png")).is_file() for name in document["figures"])
    assert {erratum["source"] for erratum in document["errata"]} <= {"seed 003", "seed 004"}


def test_the_section_lays_out_the_five_figures_in_its_own_template(tiny):
    run, folder = tiny
    section = (folder / "section.tex").read_text()
    assert r"\section{Experiment: Grokking modular addition and its Fourier circuit}" in section
    assert section.count(r"\includegraphics") == 5 and r"\paragraph{Answers.}" in section
    assert "them removed from $W_E$" in section and "Exercise 1.10" in section


@pytest.mark.parametrize(
    "setting, message",
    [
        ("p=91", "p must be a prime"),
        ("p=3", "p must be a prime"),
        ("train_fraction=1", "train_fraction"),
        ("train_fraction=0.00001", "train_fraction"),
        ("d_model=30", "multiple of n_heads"),
        ("epochs=0", "epochs"),
        ("lr=0", "lr"),
        ("weight_decay=-1", "weight_decay"),
        ("energy_fraction=1", "energy_fraction"),
        ("patch_pairs=0", "patch_pairs"),
        ("log_points=1", "log_points"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(setting, message):
    with pytest.raises(ValueError, match=message):
        parse_config(EXPERIMENT, [setting])


def test_the_defaults_are_valid_and_the_full_run():
    GrokkingConfig().validate()
    assert GrokkingConfig().p == 113 and GrokkingConfig().train_fraction == 0.3 and GrokkingConfig().weight_decay == 1.0
