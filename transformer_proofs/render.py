"""LaTeX handouts: one Jinja2 environment, the report templates, and the PDF build.

Templates hold layout only. Formulas come from the checked derivations
(through ``sympy.latex``), numbers from verified computations (through the
``num``, ``matrix`` and ``vector`` filters, which typeset with siunitx).
The same seed gives a byte-identical ``.tex``: nothing in it depends on the
clock or on timings.
"""

from __future__ import annotations

import functools
import importlib.metadata
import io
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import jinja2
import numpy as np

from checkers.engine import mutant_outcome, run_check, time_limit
from checkers.registry import REGISTRY, UnknownTheorem
from checkers.theorem import Theorem
from checkers.worked import theorem_figures, variant_params, worked_example
from checkers.exercises import EXERCISES, SHEET_SOURCE, Exercise
from transformer_proofs.latex_text import escape_tex, safe_prose
from checkers.results import BASIS_WORDS, ERRATUM_KINDS, CheckResult, TheoremError, MutantOutcome, Plot, WorkedExample, package_version

LATEX_PACKAGES = "latexmk texlive-latex-recommended texlive-latex-extra texlive-science lmodern"
LATEX_TIME_LIMIT = 600
OVERFULL_LIMIT_PT = 5.0
"""An overfull line wider than this (points) runs visibly into the margin: render reports it."""
_OVERFULL = re.compile(r"Overfull \\hbox \(([0-9.]+)pt too wide\)")
HANDOUT_INSTANCES = 1000
_VERSIONED = ("transformer-proofs", "sympy", "numpy", "scipy", "torch", "jinja2", "matplotlib")


class LatexMissing(RuntimeError):
    """latexmk is not installed: the .tex can be written, the PDF cannot."""


def latex_expression(expr: Any) -> str:
    import sympy

    return sympy.latex(expr)


def number(value: Any, digits: int = 6) -> str:
    """A number typeset with siunitx (6 significant digits); text (a Choice value) as text."""
    if isinstance(value, str):
        return rf"\text{{{escape_tex(value)}}}"
    if isinstance(value, (bool, np.bool_)):
        return r"\text{true}" if value else r"\text{false}"
    value = np.asarray(value).item() if np.ndim(value) == 0 else value
    if isinstance(value, (int, np.integer)):
        return rf"\num{{{int(value)}}}"
    value = float(value)
    if not np.isfinite(value):
        return rf"\text{{{value}}}"
    if value.is_integer() and abs(value) < 1e9:  # counts in full; larger values in scientific notation
        return rf"\num{{{int(value)}}}"
    return rf"\num{{{value:.{digits}g}}}"


def matrix(values: Any, digits: int = 4) -> str:
    array = np.atleast_2d(np.asarray(values, dtype=float))
    rows = r" \\ ".join(" & ".join(number(x, digits) for x in row) for row in array)
    return rf"\begin{{pmatrix}} {rows} \end{{pmatrix}}"


def vector(values: Any, digits: int = 4) -> str:
    return matrix(np.asarray(values, dtype=float).reshape(-1, 1), digits)


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one Jinja2 environment: LaTeX-safe delimiters, StrictUndefined, the filters above."""
    import report_templates

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(report_templates.__file__).parent)),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix="%%",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(tex=escape_tex, prose=safe_prose, latex=latex_expression, num=number, matrix=matrix, vector=vector)
    env.globals.update(basis_words=BASIS_WORDS)
    return env


def example_template(theorem: Theorem) -> str:
    """The theorem's own worked-example template if it has one, else the generic one."""
    return own_template(f"{theorem.topic}/{theorem.id}.tex.j2", "example.tex.j2")


def own_template(own: str, generic: str) -> str:
    """``own`` if that template exists, else ``generic``."""
    try:
        environment().get_template(own)
        return own
    except jinja2.TemplateNotFound:
        return generic


def example_latex(example: WorkedExample) -> str:
    """The worked example's LaTeX block (what ``WorkedExample.to_latex()`` returns)."""
    from checkers.registry import REGISTRY

    theorem = REGISTRY.get(example.id)
    template = environment().get_template(example_template(theorem))
    return template.render(example=example, theorem=theorem, derivation=theorem.built_derivation())


@dataclass(frozen=True)
class Section:
    """Everything one theorem's section of the handout shows."""

    theorem: Theorem
    result: CheckResult
    example: WorkedExample
    refutations: MutantOutcome
    citations: tuple[int, ...]
    figures: tuple[tuple[str, Plot], ...] = ()  # (file name, plot)

    @property
    def derivation(self):
        return self.theorem.built_derivation()

    @property
    def ok(self) -> bool:
        """Verified, every mutant refuted, and the worked example confirmed."""
        return self.result.ok and self.refutations.ok and self.example.verified


@dataclass(frozen=True)
class Handout:
    """A written handout, whether everything in it was verified, whether a theorem's code raised,
    and (for a PDF) LaTeX's overfull lines wider than :data:`OVERFULL_LIMIT_PT`."""

    path: Path
    ok: bool
    has_errors: bool = False
    overfull: tuple[str, ...] = ()


@dataclass(frozen=True)
class HandoutSource:
    """The LaTeX of a handout and the figure files it includes (name -> PDF bytes)."""

    tex: str
    figures: dict[str, bytes]
    ok: bool
    has_errors: bool = False


def handout_latex(theorems: Sequence[Theorem], **options) -> str:
    """The whole handout as LaTeX: title page, a verified section per theorem, errata, provenance, bibliography."""
    return handout_source(theorems, **options).tex


def handout_source(
    theorems: Sequence[Theorem],
    *,
    seed: int = 0,
    solutions: bool = True,
    variant: int | None = None,
    data: str | None = None,
    instances: int = HANDOUT_INSTANCES,
    timeout: float | None = None,
    experiments: Sequence[tuple[str, dict[str, bytes]]] = (),
) -> HandoutSource:
    """Check every theorem at ``instances`` points, draw its figures and render the handout (see :func:`write_handout`).

    A theorem whose section takes longer than ``timeout`` seconds raises :class:`TheoremError` naming it.
    ``experiments`` are experiment sections (LaTeX, and the figure files it includes), placed after the theorems.
    """
    sources = _bibliography(theorems)
    options = dict(seed=seed, variant=variant, data=data, instances=instances, timeout=timeout)
    sections = [_section(t, sources, **options) for t in theorems]
    source = _source(
        "handout.tex.j2", sections, sources, seed=seed, solutions=solutions, variant=variant, instances=instances,
        experiments=[tex for tex, _ in experiments],
    )
    for _, figures in experiments:
        source.figures.update(figures)
    return source


def sheet_sources(
    exercises: Sequence[Exercise] = EXERCISES,
    *,
    seed: int = 0,
    variant: int | None = None,
    data: str | None = None,
    instances: int = HANDOUT_INSTANCES,
    timeout: float | None = None,
) -> tuple[HandoutSource, HandoutSource]:
    """The exercise sheet, student version and solutions, from one set of checks.

    Every exercise appears in order; one answered by a registered theorem gets that
    theorem's questions (student) or its verified section (solutions).
    """
    covered = [t for t in dict.fromkeys(_registered(e.theorem_id) for e in exercises) if t is not None]
    sources = _bibliography(covered)
    options = dict(seed=seed, variant=variant, data=data, instances=instances, timeout=timeout)
    sections = {t.id: _section(t, sources, **options) for t in covered}
    context = dict(
        seed=seed,
        instances=instances,
        variant=variant,
        exercises=_with_earlier_answers(exercises, sections),
        sheet_source=SHEET_SOURCE,
    )
    return tuple(
        _source("sheet.tex.j2", list(sections.values()), sources, solutions=solutions, **context)
        for solutions in (False, True)
    )


def _with_earlier_answers(exercises: Sequence[Exercise], sections: dict) -> list[tuple]:
    """``(exercise, section or None, the earlier exercise answered by the same theorem or None)``, in order."""
    first: dict[str, Exercise] = {}
    rows = []
    for exercise in exercises:
        section = sections.get(exercise.theorem_id)
        rows.append((exercise, section, first.get(exercise.theorem_id)))
        if section is not None:
            first.setdefault(exercise.theorem_id, exercise)
    return rows


def _registered(theorem_id: str | None) -> Theorem | None:
    if theorem_id is None:
        return None
    try:
        return REGISTRY.get(theorem_id)
    except UnknownTheorem:
        return None


def _source(template: str, sections: list, sources: list[str], **context) -> HandoutSource:
    tex = environment().get_template(template).render(
        sections=sections,
        sources=sources,
        versions=_versions(),
        example_template=example_template,
        errata=_errata_by_kind(sections),
        **context,
    )
    figures = {name: figure_pdf(plot) for section in sections for name, plot in section.figures}
    has_errors = any("error" in (s.result.status, s.refutations.status) for s in sections)
    return HandoutSource(tex, figures, all(section.ok for section in sections), has_errors)


def _errata_by_kind(sections: list) -> list[tuple[str, str, list]]:
    """The handout's errata grouped by kind, in :data:`ERRATUM_KINDS` order: (kind, meaning, [(theorem, erratum)])."""
    found = [(s.theorem, erratum) for s in sections for erratum in s.theorem.errata]
    return [
        (kind, meaning, [(t, e) for t, e in found if e.kind == kind])
        for kind, meaning in ERRATUM_KINDS.items()
        if any(e.kind == kind for _, e in found)
    ]


def _section(theorem: Theorem, sources: list[str], *, timeout: float | None, **options) -> Section:
    with time_limit(timeout) as limit:
        section = _checked_section(theorem, sources, **options)
    if limit.exceeded:
        raise TheoremError(f"{theorem.id}: did not finish within {timeout:g} s (--timeout)")
    return section


def _checked_section(
    theorem: Theorem, sources: list[str], *, seed: int, variant: int | None, data: str | None, instances: int
) -> Section:
    params = variant_params(theorem, variant) if variant is not None else {}
    plots = theorem_figures(theorem, seed=seed, data=data, **params)
    return Section(
        theorem=theorem,
        result=run_check(theorem, instances=instances, seed=seed),
        example=worked_example(theorem, seed=seed, data=data, **params),
        refutations=mutant_outcome(theorem, seed=seed, generated=False),
        citations=tuple(sources.index(s) + 1 for s in theorem.sources),
        figures=tuple((f"{theorem.id}-{plot.name}.pdf", plot) for plot in plots),
    )


def figure_pdf(plot: Plot) -> bytes:
    """The figure as PDF bytes with no creation date, so the same seed gives the same file."""
    buffer = io.BytesIO()
    plot.figure.savefig(buffer, format="pdf", bbox_inches="tight", metadata={"CreationDate": None})
    return buffer.getvalue()


def _bibliography(theorems: Sequence[Theorem]) -> list[str]:
    sources: list[str] = []
    for theorem in theorems:
        sources.extend(s for s in theorem.sources if s not in sources)
    return sources


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["transformer-proofs"] = package_version()
    return versions


def write_handout(theorems: Sequence[Theorem], path: Path, **options) -> Handout:
    """Write ``path`` (``.tex`` with its figure PDFs beside it, or ``.pdf`` built by latexmk).

    The directory must exist. A section whose theorem failed is still written (with its
    failure shown); ``Handout.ok`` says so. ``options`` are :func:`handout_source`'s: ``seed``,
    ``solutions``, ``variant`` (redraws the worked examples' parameters) and ``data`` (a
    path handed to the theorems that use data, e.g. scaling-law-fit's published runs).
    """
    path = _output_path(path)
    return _write(handout_source(theorems, **options), path)


def write_sheet(path: Path, **options) -> tuple[Handout, Handout]:
    """Write the exercise sheet at ``path`` and its solutions beside it (``<stem>-solutions<suffix>``).

    ``options`` are :func:`sheet_sources`'s: ``seed``, ``variant``, ``data``.
    """
    path = _output_path(path)
    student, solutions = sheet_sources(**options)
    return _write(student, path), _write(solutions, path.with_name(f"{path.stem}-solutions{path.suffix}"))


def _output_path(path) -> Path:
    path = Path(path)
    if path.suffix not in (".tex", ".pdf"):
        raise ValueError(f"output {path} must end in .tex or .pdf")
    if not path.parent.is_dir():
        raise ValueError(f"output directory {path.parent} does not exist")
    if path.suffix == ".pdf" and shutil.which("latexmk") is None:
        raise LatexMissing(f"latexmk is not installed; for the PDF: apt-get install {LATEX_PACKAGES}")
    return path


def _write(source: HandoutSource, path: Path) -> Handout:
    if path.suffix == ".tex":
        for name, content in source.figures.items():
            write_whole(path.parent / name, content)
        write_whole(path, source.tex.encode("utf-8"))
        return Handout(path, source.ok, source.has_errors)
    pdf, log = _latexmk(source.tex, source.figures, LATEX_TIME_LIMIT)
    write_whole(path, pdf)
    return Handout(path, source.ok, source.has_errors, overfull_lines(log))


def write_whole(path: Path, content: bytes) -> None:
    """Write a file whole or not at all (an interrupted run leaves no half-written handout)."""
    partial = path.with_name(f"{path.name}.partial")
    partial.write_bytes(content)
    os.replace(partial, path)


def overfull_lines(log: str, limit_pt: float = OVERFULL_LIMIT_PT) -> tuple[str, ...]:
    r"""LaTeX's "Overfull \hbox (X pt too wide)" messages with X above ``limit_pt``: text that runs into the margin.

    >>> log = "Overfull \\hbox (12.5pt too wide) in paragraph\nOverfull \\hbox (1.0pt too wide) in paragraph"
    >>> overfull_lines(log)
    ('Overfull \\hbox (12.5pt too wide) in paragraph',)
    """
    found = []
    for line in log.splitlines():
        match = _OVERFULL.match(line)
        if match and float(match.group(1)) > limit_pt:
            found.append(line.strip())
    return tuple(found)


def compile_pdf(tex: str, *, files: dict[str, bytes] | None = None, time_limit: int = LATEX_TIME_LIMIT) -> bytes:
    """Compile LaTeX with latexmk in a temporary directory (shell escape off); return the PDF bytes.

    ``files`` (name -> bytes) are written beside the source first: the figures it includes.
    """
    return _latexmk(tex, files or {}, time_limit)[0]


def _latexmk(tex: str, files: dict[str, bytes], time_limit: int) -> tuple[bytes, str]:
    if shutil.which("latexmk") is None:
        raise LatexMissing(f"latexmk is not installed; for the PDF: apt-get install {LATEX_PACKAGES}")
    with tempfile.TemporaryDirectory(prefix="transformer-proofs-") as folder:
        source = Path(folder) / "handout.tex"
        source.write_text(tex, encoding="utf-8")
        for name, content in files.items():
            (Path(folder) / name).write_bytes(content)
        command = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", source.name]
        # Its own process group, so that on a timeout (or Ctrl-C) pdflatex dies with latexmk.
        run = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            run.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            raise RuntimeError(f"LaTeX did not finish within {time_limit} s") from None
        except BaseException:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            raise
        pdf = source.with_suffix(".pdf")
        if run.returncode != 0 or not pdf.exists():
            raise RuntimeError(f"LaTeX failed: {_first_error(source.with_suffix('.log'))}")
        return pdf.read_bytes(), source.with_suffix(".log").read_text(errors="replace")


def _first_error(log: Path) -> str:
    if not log.exists():
        return "no log was written"
    lines = log.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!"):
            return " ".join(l.strip() for l in lines[i : i + 3])
    return lines[-1] if lines else "empty log"
