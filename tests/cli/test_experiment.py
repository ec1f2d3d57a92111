"""The experiment command and its files, on a toy experiment that fits a line in milliseconds.

The real experiments (icl-regression, grokking, induction) have tests of their own at small sizes;
these pin what every experiment's folder holds and how bad settings are refused.
"""

import json
import shutil
import textwrap

import pytest

TOY = textwrap.dedent(
    '''
    from dataclasses import dataclass

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from checkers.experiment import Check, Experiment, ExperimentResult
    from checkers.results import Erratum, Plot


    @dataclass(frozen=True)
    class LineConfig:
        points: int = 50
        slope: float = 2.0
        seed: int = 0
        noisy: bool = False
        sizes: tuple[int, ...] = (1, 2)

        def validate(self):
            if self.points < 2:
                raise ValueError("points must be at least 2")


    def fit_line(config, device="cpu", progress=lambda it, total, description: it):
        rng = np.random.default_rng(config.seed)
        x = rng.standard_normal(config.points)
        y = config.slope * x + (0.1 * rng.standard_normal(config.points) if config.noisy else 0.0)
        for _ in progress(range(3), 3, "fitting"):
            slope = float(np.polyfit(x, y, 1)[0])
        figure, axes = plt.subplots()
        axes.plot(x, y, ".")
        return ExperimentResult(
            metrics={"slope": slope, "table": [{"model": "least squares", "slope": slope}], "nan": float("nan")},
            figures=(Plot("scatter", "The points & the line.", figure),),
            checks=(Check("the slope is recovered", abs(slope - config.slope) < 1e-9, f"{slope:.12g} against {config.slope}"),),
            errata=(Erratum("notes", "1", "slopes are 3", "slopes are 2", kind="false", evidence="fitted"),),
        )


    EXPERIMENT = Experiment("toy", "A line fitted by least squares", "user", LineConfig, fit_line, description="Fits $y = a x$.")
    '''
)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy experiment registered under the name ``toy`` (its module in a folder on sys.path)."""
    from checkers import experiment

    folder = tmp_path / "toy_module"
    folder.mkdir()
    (folder / "toy_line_experiment.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setitem(experiment.EXPERIMENTS, "toy", "toy_line_experiment")
    return folder


def test_an_experiment_writes_metrics_figures_a_section_and_a_report(cli, toy, tmp_path):
    run = cli("experiment", "toy", "--out", "run", "--config", "points=20", "--json", "-")
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "run"
    document = json.loads((folder / "metrics.json").read_text())
    assert json.loads(run.stdout)["metrics"] == document["metrics"]
    assert document["experiment"] == "toy" and document["config"]["points"] == 20 and document["config"]["sizes"] == [1, 2]
    assert document["metrics"]["slope"] == pytest.approx(2.0, abs=1e-9) and document["metrics"]["nan"] is None
    assert document["checks"] == [{"claim": "the slope is recovered", "passed": True, "evidence": document["checks"][0]["evidence"]}]
    assert document["errata"][0]["kind"] == "false" and document["ok"] is True
    assert document["figures"] == ["toy-scatter.pdf"]
    assert (folder / "toy-scatter.pdf").is_file() and (folder / "toy-scatter.png").is_file()
    section = (folder / "section.tex").read_text()
    assert r"\section{Experiment: A line fitted by least squares}" in section and r"The points \& the line." in section
    assert "least squares" in section and "the slope is recovered" in section
    if shutil.which("latexmk"):
        assert (folder / "report.pdf").read_bytes().startswith(b"%PDF")


def test_the_same_seed_writes_the_same_files(cli, toy, tmp_path):
    for folder in ("a", "b"):
        assert cli("experiment", "toy", "--out", folder, "--no-pdf").returncode == 0
    for name in ("section.tex", "report.tex", "toy-scatter.pdf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    first, second = (json.loads((tmp_path / f / "metrics.json").read_text()) for f in ("a", "b"))
    first.pop("seconds"), second.pop("seconds")
    assert first == second


def test_a_failed_check_is_exit_status_1(cli, toy):
    run = cli("experiment", "toy", "--out", "run", "--config", "noisy=true", "--no-pdf")
    assert run.returncode == 1 and "FAILED" in run.stdout


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["nonesuch", "--out", "x"], "unknown experiment 'nonesuch'"),
        (["toy", "--out", "x", "--config", "width=3"], "toy has no setting 'width'"),
        (["toy", "--out", "x", "--config", "points"], "malformed"),
        (["toy", "--out", "x", "--config", "points=many"], "expected int"),
        (["toy", "--out", "x", "--config", "slope=nan"], "not NaN"),
        (["toy", "--out", "x", "--config", "noisy=maybe"], "expected true or false"),
        (["toy", "--out", "x", "--config", "points=1"], "points must be at least 2"),
        (["toy", "--out", "file.txt"], "is a file"),
        (["toy", "--out", "x", "--device", "cuda"], "--device"),
    ],
)
def test_bad_settings_are_one_line_and_exit_status_2(cli, toy, tmp_path, arguments, message):
    (tmp_path / "file.txt").write_text("")
    import torch

    if "cuda" in arguments and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run = cli("experiment", *arguments)
    assert run.returncode == 2 and message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_the_handout_includes_an_experiment_section(cli, toy, tmp_path):
    assert cli("experiment", "toy", "--out", "run", "--no-pdf").returncode == 0
    run = cli("render", "chinchilla-frontier", "-o", "handout.tex", "--instances", "50", "--experiment", "run")
    assert run.returncode == 0, run.stderr
    assert r"\section{Experiment: A line fitted by least squares}" in (tmp_path / "handout.tex").read_text()
    assert (tmp_path / "toy-scatter.pdf").is_file()
    missing = cli("render", "chinchilla-frontier", "-o", "handout.tex", "--experiment", "nowhere")
    assert missing.returncode == 2 and "not an experiment folder" in missing.stderr


def test_the_python_function_takes_the_config_dataclass(toy, tmp_path):
    from checkers.experiment import get_experiment
    from transformer_proofs.experiments import run_experiment

    config = get_experiment("toy").config(points=10)
    run = run_experiment("toy", tmp_path / "py", config=config, pdf=False)
    assert run.ok and run.config.points == 10 and (tmp_path / "py" / "metrics.json").is_file()
    with pytest.raises(ValueError, match="points must be at least 2"):
        run_experiment("toy", tmp_path / "py", config={"points": 1})
