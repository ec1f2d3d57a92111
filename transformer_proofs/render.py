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
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import jinja2
import numpy as np

from checkers.checking import Theorem, mutant_outcome, run_check, worked_example
from checkers.results import CheckResult, MutantOutcome, WorkedExample, package_version

LATEX_PACKAGES = "latexmk texlive-latex-recommended texlive-latex-extra texlive-science lmodern"
LATEX_TIME_LIMIT = 600
HANDOUT_INSTANCES = 1000
_VERSIONED = ("transformer-proofs", "sympy", "numpy", "scipy", "torch", "jinja2", "matplotlib")


class LatexMissing(RuntimeError):
    """latexmk is not installed: the .tex can be written, the PDF cannot."""


_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_PATTERN = re.compile("|".join(re.escape(c) for c in _SPECIAL))


def escape_tex(text: Any) -> str:
    """Plain text made safe for LaTeX."""
    return _SPECIAL_PATTERN.sub(lambda m: _SPECIAL[m.group()], str(text))


def operation_text(text: str) -> str:
    """A step's description: plain text, with ``$...$`` math passed through."""
    parts = str(text).split("$")
    return "".join(escape_tex(p) if i % 2 == 0 else f"${p}$" for i, p in enumerate(parts))


def latex_prose(text: str) -> str:
    """A statement or assumption: text with ``$...$`` math is used as is; a bare formula is displayed."""
    return text if "$" in text or "\\(" in text else rf"\[ {text} \]"


def latex_expression(expr: Any) -> str:
    import sympy

    return sympy.latex(expr)


def number(value: Any, digits: int = 6) -> str:
    """A number typeset with siunitx (6 significant digits)."""
    if isinstance(value, (bool, np.bool_)):
        return r"\text{true}" if value else r"\text{false}"
    value = np.asarray(value).item() if np.ndim(value) == 0 else value
    if isinstance(value, (int, np.integer)):
        return rf"\num{{{int(value)}}}"
    value = float(value)
    if not np.isfinite(value):
        return rf"\text{{{value}}}"
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
    env.filters.update(tex=escape_tex, optext=operation_text, prose=latex_prose, latex=latex_expression, num=number, matrix=matrix, vector=vector)
    return env


def example_template(theorem: Theorem) -> str:
    """The theorem's own worked-example template if it has one, else the generic one."""
    own = f"{theorem.topic}/{theorem.id}.tex.j2"
    try:
        environment().get_template(own)
        return own
    except jinja2.TemplateNotFound:
        return "example.tex.j2"


def example_latex(example: WorkedExample) -> str:
    """The worked example's LaTeX block (what ``WorkedExample.to_latex()`` returns)."""
    from checkers.checking import REGISTRY

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

    @property
    def derivation(self):
        return self.theorem.built_derivation()

    @property
    def ok(self) -> bool:
        """Verified, every mutant refuted, and the worked example confirmed."""
        return self.result.ok and self.refutations.ok and self.example.verified


@dataclass(frozen=True)
class Handout:
    """A written handout and whether everything in it was verified."""

    path: Path
    ok: bool


def handout_latex(theorems: Sequence[Theorem], *, seed: int = 0, solutions: bool = True) -> str:
    """The whole handout as LaTeX: title page, a verified section per theorem, provenance, bibliography."""
    return _handout(theorems, seed=seed, solutions=solutions)[0]


def _handout(theorems: Sequence[Theorem], *, seed: int, solutions: bool) -> tuple[str, bool]:
    sources = _bibliography(theorems)
    sections = [
        Section(
            theorem=t,
            result=run_check(t, instances=HANDOUT_INSTANCES, seed=seed),
            example=worked_example(t, seed=seed),
            refutations=mutant_outcome(t, seed=seed),
            citations=tuple(sources.index(s) + 1 for s in t.sources),
        )
        for t in theorems
    ]
    tex = environment().get_template("handout.tex.j2").render(
        sections=sections,
        sources=sources,
        seed=seed,
        solutions=solutions,
        instances=HANDOUT_INSTANCES,
        versions=_versions(),
        example_template=example_template,
    )
    return tex, all(section.ok for section in sections)


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


def write_handout(theorems: Sequence[Theorem], path: Path, *, seed: int = 0, solutions: bool = True) -> Handout:
    """Write ``path`` (``.tex``, or ``.pdf`` built by latexmk); the directory must exist.

    A section whose theorem failed is still written (with its failure shown); ``Handout.ok`` says so.
    """
    path = Path(path)
    if path.suffix not in (".tex", ".pdf"):
        raise ValueError(f"output {path} must end in .tex or .pdf")
    if not path.parent.is_dir():
        raise ValueError(f"output directory {path.parent} does not exist")
    if path.suffix == ".pdf" and shutil.which("latexmk") is None:
        raise LatexMissing(f"latexmk is not installed; for the PDF: apt-get install {LATEX_PACKAGES}")
    tex, ok = _handout(theorems, seed=seed, solutions=solutions)
    if path.suffix == ".tex":
        path.write_text(tex, encoding="utf-8")
    else:
        path.write_bytes(compile_pdf(tex))
    return Handout(path, ok)


def compile_pdf(tex: str, *, time_limit: int = LATEX_TIME_LIMIT) -> bytes:
    """Compile LaTeX with latexmk in a temporary directory (shell escape off); return the PDF bytes."""
    if shutil.which("latexmk") is None:
        raise LatexMissing(f"latexmk is not installed; for the PDF: apt-get install {LATEX_PACKAGES}")
    with tempfile.TemporaryDirectory(prefix="transformer-proofs-") as folder:
        source = Path(folder) / "handout.tex"
        source.write_text(tex, encoding="utf-8")
        command = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", source.name]
        try:
            run = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=time_limit)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"LaTeX did not finish within {time_limit} s") from None
        pdf = source.with_suffix(".pdf")
        if run.returncode != 0 or not pdf.exists():
            raise RuntimeError(f"LaTeX failed: {_first_error(source.with_suffix('.log'))}")
        return pdf.read_bytes()


def _first_error(log: Path) -> str:
    if not log.exists():
        return "no log was written"
    lines = log.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!"):
            return " ".join(l.strip() for l in lines[i : i + 3])
    return lines[-1] if lines else "empty log"
