"""Running an experiment and writing what it found: metrics.json, figures, a LaTeX section, a report PDF.

>>> from transformer_proofs.experiments import run_experiment   # doctest: +SKIP
>>> result = run_experiment("icl-regression", "runs/a", config={"steps": 200})   # doctest: +SKIP

The output directory holds

* ``metrics.json``: the experiment, its config, the metrics, each check and whether it passed,
  the errata, and the figure files (strict JSON; the same seed gives the same file but for
  ``seconds``);
* ``<name>-<figure>.pdf`` and ``.png`` for each figure (fixed metadata, so the PDFs are reproducible);
* ``section.tex``: the experiment as a handout section (``render --experiment DIR`` includes it);
* ``report.tex`` and, where LaTeX is installed, ``report.pdf``: the section as a short report.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from checkers.experiment import Experiment, ExperimentResult, Progress, config_json, get_experiment, no_progress, parse_config
from checkers.results import Plot, package_version, strict_json, to_jsonable
from transformer_proofs.render import compile_pdf, environment, own_template, write_whole


@dataclass(frozen=True)
class ExperimentRun:
    """A finished run: where it was written, its result, and whether the report PDF was built."""

    out: Path
    experiment: Experiment
    config: Any
    result: ExperimentResult
    seconds: float
    report_pdf: Path | None

    @property
    def ok(self) -> bool:
        return self.result.ok


def configure(name: str, config: Any = None, assignments: tuple[str, ...] = ()) -> tuple[Experiment, Any]:
    """The experiment and its config: ``config`` (a dataclass instance, a dict of overrides, or
    None for the defaults), then ``KEY=VALUE`` ``assignments`` on top. A bad name or value is a
    ``KeyError`` or ``ValueError`` that says what is wrong."""
    experiment = get_experiment(name)
    if config is None or isinstance(config, Mapping):
        items = [f"{key}={_text(value)}" for key, value in (config or {}).items()]
        return experiment, parse_config(experiment, [*items, *assignments])
    if not isinstance(config, experiment.config):
        raise ValueError(f"{name}: config must be a {experiment.config.__name__}, not {type(config).__name__}")
    items = [f"{key}={_text(value)}" for key, value in dataclasses.asdict(config).items()]
    return experiment, parse_config(experiment, [*items, *assignments])


def _text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def run_experiment(
    name: str,
    out: str | Path,
    *,
    config: Any = None,
    device: str = "cpu",
    progress: Progress = no_progress,
    pdf: bool = True,
) -> ExperimentRun:
    """Run experiment ``name`` and write its files into ``out`` (created if missing).

    ``config`` is the experiment's config dataclass, a dict of overrides, or None (the defaults,
    the full size). The report PDF is built when ``pdf`` is true and LaTeX is installed.
    """
    experiment, config = configure(name, config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = experiment.run(config, device=device, progress=progress)
    seconds = time.perf_counter() - started
    figures = {f"{experiment.name}-{plot.name}": plot for plot in result.figures}
    for stem, plot in figures.items():
        write_whole(out / f"{stem}.pdf", _figure_bytes(plot, "pdf"))
        write_whole(out / f"{stem}.png", _figure_bytes(plot, "png"))
    document = metrics_document(experiment, config, result, device, seconds, [f"{stem}.pdf" for stem in figures])
    write_whole(out / "metrics.json", (json.dumps(document, indent=2, allow_nan=False) + "\n").encode("utf-8"))
    section = experiment_section(experiment, config, result, figures)
    write_whole(out / "section.tex", section.encode("utf-8"))
    report = experiment_report(experiment, section)
    write_whole(out / "report.tex", report.encode("utf-8"))
    report_pdf = _report_pdf(report, out, figures) if pdf and shutil.which("latexmk") else None
    return ExperimentRun(out, experiment, config, result, seconds, report_pdf)


def metrics_document(experiment: Experiment, config: Any, result: ExperimentResult, device: str, seconds: float, figures: list[str]) -> dict:
    return strict_json(
        to_jsonable(
            {
                "experiment": experiment.name,
                "title": experiment.title,
                "version": package_version(),
                "config": config_json(config),
                "device": device,
                "theorems": list(experiment.theorems),
                "ok": result.ok,
                "checks": [check.to_json() for check in result.checks],
                "errata": [erratum.to_json(experiment.name) for erratum in result.errata],
                "metrics": result.metrics,
                "figures": figures,
                "seconds": round(seconds, 3),
            }
        )
    )


def experiment_section(experiment: Experiment, config: Any, result: ExperimentResult, figures: Mapping[str, Plot]) -> str:
    """The experiment as a handout section: its own template ``<topic>/<name>.tex.j2`` or the generic one."""
    template = own_template(f"{experiment.topic}/{experiment.name}.tex.j2", "experiment.tex.j2")
    return environment().get_template(template).render(
        experiment=experiment,
        config=config_json(config),
        result=result,
        metrics=result.metrics,
        figures=[(f"{stem}.pdf", plot) for stem, plot in figures.items()],
    )


def experiment_report(experiment: Experiment, section: str) -> str:
    """The section as a standalone report document."""
    return environment().get_template("experiment_report.tex.j2").render(experiment=experiment, section=section)


def _report_pdf(report: str, out: Path, figures: Mapping[str, Plot]) -> Path:
    files = {f"{stem}.pdf": (out / f"{stem}.pdf").read_bytes() for stem in figures}
    path = out / "report.pdf"
    write_whole(path, compile_pdf(report, files=files))
    return path


def _figure_bytes(plot: Plot, format: str) -> bytes:
    buffer = io.BytesIO()
    metadata = {"CreationDate": None} if format == "pdf" else {"Software": None}
    plot.figure.savefig(buffer, format=format, bbox_inches="tight", metadata=metadata, dpi=150)
    return buffer.getvalue()


def experiment_sections(folders: list[Path]) -> list[tuple[str, dict[str, bytes]]]:
    """The ``section.tex`` of each experiment folder and the figure files it includes, for a handout."""
    sections = []
    for folder in folders:
        folder = Path(folder)
        metrics, section = folder / "metrics.json", folder / "section.tex"
        if not metrics.is_file() or not section.is_file():
            raise ValueError(f"--experiment {folder}: not an experiment folder (no metrics.json and section.tex); run `transformer-proofs experiment NAME --out {folder}` first")
        try:
            names = json.loads(metrics.read_text(encoding="utf-8"))["figures"]
        except (ValueError, KeyError) as error:
            raise ValueError(f"--experiment {folder}: metrics.json is not an experiment's ({error})") from None
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"--experiment {folder}: figure {missing[0]} is missing")
        sections.append((section.read_text(encoding="utf-8"), {name: (folder / name).read_bytes() for name in names}))
    return sections
