"""Terminal and JSON views of theorems, reports and worked examples (Rich)."""

from __future__ import annotations

import contextlib

import numpy as np
import sympy
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from checkers.engine import symbolic_counts
from checkers.theorem import Theorem
from checkers.results import BASIS_WORDS, MutantReport, Report, SweepReport, WorkedExample, to_jsonable
from proofs.derivation import RELATION_TEXT

_EVIDENCE_STYLE = {"proved": "green", "sampled": "yellow", "given": "blue"}
_STATUS_STYLE = {"verified": "green", "failed": "red", "error": "magenta"}


def progress() -> Progress:
    """A progress bar on stderr (it disappears when the work is done); none when stderr is not a
    terminal, where it would only leave a blank line in the log."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def tracker(bars: Progress):
    """The experiments' progress callback (:class:`checkers.experiment.Progress`), drawn as one bar per loop."""

    def track(iterable, total: int, description: str):
        return bars.track(iterable, total=total, description=description)

    return track


@contextlib.contextmanager
def theorem_progress(label: str, total: int):
    """A progress bar over theorems; the callback it yields, ``(id, done)``, names the theorem
    started and counts the theorems finished (in whatever order worker processes finish them):
    ``done`` is False when it starts, True when it ends, or the share of its blocks done so far."""
    shares: dict[str, float] = {}
    with progress() as bar:
        task = bar.add_task(label, total=total)

        def report(theorem_id: str, done: bool | float) -> None:
            share = max(float(done), shares.get(theorem_id, 0.0))
            bar.update(task, description=theorem_id, advance=share - shares.get(theorem_id, 0.0))
            shares[theorem_id] = share

        yield report


def theorem_json(theorem: Theorem) -> dict:
    derivation = theorem.built_derivation()
    return to_jsonable(
        {
            "id": theorem.id,
            "title": theorem.title,
            "topic": theorem.topic,
            "statement": theorem.statement,
            "assumptions": list(theorem.assumptions),
            "sources": list(theorem.sources),
            "parameters": {name: d.describe() for name, d in theorem.parameters.items()},
            "derivation": None if derivation is None else _derivation_json(derivation),
            "lemmas": [] if derivation else [_derivation_json(lemma) for lemma in theorem.lemma_derivations()],
            "mutants": list(theorem.mutants),
            "basis": theorem.basis,
            "tolerance": tolerance_json(theorem),
            "anchors": [a.to_json() for a in theorem.anchors],
        }
    )


def tolerance_json(theorem: Theorem) -> dict:
    """The theorem's policy, its numbers, why, and (where it takes one) the cap on the oracle's stated accuracy."""
    policy = theorem.policy
    data = {"policy": policy.name, **policy.describe(), "reason": getattr(policy, "reason", "")}
    if hasattr(policy, "accuracy_cap"):
        data["accuracy_cap"] = policy.accuracy_cap
    return data


def _derivation_json(derivation) -> dict:
    return {
        "title": derivation.title,
        "start": sympy.latex(derivation.start),
        "relation": derivation.relation,
        "symbols": derivation.symbol_assumptions(),
        "lemmas": [_derivation_json(lemma) for lemma in derivation.lemmas],
        "steps": [_step_json(s) for s in derivation.check()],
        "counts": derivation.counts(),
    }


def _step_json(step) -> dict:
    """A checked step: its rule and text, its relation to the stated result, evidence, and a custom step's code."""
    data = {
        "rule": step.operation.rule,
        "operation": step.operation.text,
        "relation": step.relation,
        "stated": sympy.latex(step.stated),
        "evidence": step.evidence,
        "source": step.operation.source,
        "note": step.note,
    }
    if step.operation.is_custom:
        data["code"] = step.operation.code
    return data


def theorem_tex(theorem: Theorem) -> str:
    """Statement, assumptions, sources and every checked step as a LaTeX fragment (the handout's layout)."""
    from transformer_proofs.render import environment

    template = environment().get_template("show.tex.j2")
    return template.render(theorem=theorem, derivation=theorem.built_derivation())


def _pretty(expr, width: int) -> str:
    try:
        text = sympy.pretty(expr, use_unicode=True, num_columns=width)
    except Exception:
        text = str(expr)
    return text


def print_theorem(theorem: Theorem, console: Console) -> None:
    console.print(f"[bold]{theorem.id}[/bold]: {theorem.title}")
    console.print(f"topic: {theorem.topic}")
    console.print("\n[bold]Statement[/bold]")
    console.print(theorem.statement, markup=False)
    if theorem.assumptions:
        console.print("\n[bold]Assumptions[/bold]")
        for a in theorem.assumptions:
            console.print(f"  - {a}", markup=False)
    if theorem.sources:
        console.print("\n[bold]Sources[/bold]")
        for s in theorem.sources:
            console.print(f"  - {s}", markup=False)
    if theorem.parameters:
        console.print("\n[bold]Parameters[/bold]")
        for name, domain in theorem.parameters.items():
            console.print(f"  {name}: {domain.text()} (default {domain.default_value()})", markup=False)
    console.print("\n[bold]Check[/bold]")
    console.print(f"  basis: {BASIS_WORDS[theorem.basis]}", markup=False)
    tolerance = tolerance_json(theorem)
    numbers = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in tolerance.items() if k not in ("policy", "reason"))
    console.print(f"  policy: {tolerance['policy']} ({numbers})", markup=False)
    if tolerance["reason"]:
        console.print(f"  why: {tolerance['reason']}", markup=False)
    for anchor in theorem.anchors:
        console.print(f"  anchor: {anchor.describe()}", markup=False)
    if not theorem.anchors:
        console.print("  anchors: none (no value the oracle did not compute)")
    derivation = theorem.built_derivation()
    for lemma in theorem.lemma_derivations():
        _print_derivation(lemma, console, "Lemma")
    if derivation is None:
        console.print("\nNo derivation: the claim is a callable, checked numerically against the oracle.")
        if not theorem.lemmas:
            return
    else:
        _print_derivation(derivation, console, "Derivation")
    counts = derivation.counts() if derivation else symbolic_counts(theorem)
    steps = "lemma steps (they support the claim; the claim is not compiled from them)" if theorem.basis == "supported" else "steps"
    console.print(
        f"\n{counts['steps']} {steps}: {counts['proved']} proved, {counts['sampled']} sampled, {counts['given']} given"
        f" ({counts['custom']} of them by custom code)"
    )


def _print_derivation(derivation, console: Console, heading: str) -> None:
    width = max(40, console.width - 6)
    console.print(f"\n[bold]{heading}[/bold]: ", end="")
    console.print(derivation.title, markup=False)
    _print_symbols(derivation, console)
    console.print(f"start: {_plain(derivation.start_note)}" if derivation.start_note else "start:", markup=False)
    console.print(_indent(_pretty(derivation.start, width)), markup=False)
    for number, step in enumerate(derivation.check(), start=1):
        style = _EVIDENCE_STYLE[step.evidence]
        operation = step.operation
        mark = f"{step.evidence}, custom" if operation.is_custom else step.evidence
        named = not (operation.is_custom or operation.is_given or operation.text == operation.rule)
        rule = f"{operation.rule}: " if named else ""
        source = f" ({operation.source})" if operation.source else ""
        origin = f" [from {step.on}]" if step.on else ""
        console.print(f"\nStep {number} [{style}]\\[{mark}][/{style}] ", end="")
        console.print(f"{rule}{_plain(operation.text)}{origin}{source}", markup=False)
        if operation.is_custom:
            console.print(_indent(operation.code), markup=False, highlight=False, soft_wrap=True)
        if step.note:
            console.print(f"  {_plain(step.note)}", markup=False)
        console.print(_indent(f"{step.relation_text} " + _pretty(step.stated, width)), markup=False)
    if derivation.relation != "=":
        console.print(f"\nThe result is a bound: start {RELATION_TEXT[derivation.relation]} result.", markup=False)


def _print_symbols(derivation, console: Console) -> None:
    """One line per symbol with the assumptions it was declared with (none: a complex number)."""
    console.print("symbols:", markup=False)
    for name, words in derivation.symbol_assumptions().items():
        console.print(f"    {name}: {', '.join(words) or 'no assumptions (complex)'}", markup=False, highlight=False)


def _plain(text: str) -> str:
    return text.replace("$", "")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def print_report(report: Report, console: Console) -> None:
    columns = ("theorem", "status", "basis", "steps p/s/g", "n", "max err", "policy", "oracle acc", "s")
    table = Table(*columns, box=None, pad_edge=False)
    for column in (0, 1, 2, 6):  # id, status, basis and policy are read whole; the numbers can wrap
        table.columns[column].no_wrap = True
    for r in report.results:
        s = r.symbolic
        steps = f"{s['steps']}: {s['proved']}/{s['sampled']}/{s['given']}" if s else "-"
        n = r.numeric
        style = _STATUS_STYLE[r.status]
        table.add_row(
            r.id,
            f"[{style}]{r.status}[/{style}]",
            r.basis,
            steps,
            str(n.instances) if n else "-",
            f"{n.max_error:.3g}" if n else "-",
            _policy_cell(n) if n else "-",
            (f"{n.oracle_accuracy:.1g}" if n.oracle_accuracy else "exact") if n else "-",
            f"{r.seconds:.1f}",
        )
    console.print(table)
    console.print(
        "basis: derived (claim compiled from the derivation), supported (claim= built from checked lemmas: their steps),"
        " numerical; steps p/s/g: proved/sampled/given; max err: largest error in units of the tolerance (<= 1 passes);"
        " res: smallest relative bias detected with probability 1/2; tight: largest oracle/bound ratio (1 = attained);"
        " oracle acc: the oracle's stated accuracy, relative"
    )
    for r in report.results:
        if r.status != "verified":
            console.print(r.message if r.message.startswith(r.id) else f"{r.id}: {r.message}", markup=False)


def _policy_cell(numeric) -> str:
    extras = numeric.extras
    if extras.get("resolution") is not None:
        return f"{numeric.policy} (res {extras['resolution']:.2g})"
    if "tightness" in extras:
        tightness = extras["tightness"]
        return f"{numeric.policy} (tight {tightness:.3g})" if tightness is not None else f"{numeric.policy} (tight -)"
    return numeric.policy


def print_mutants(report: MutantReport, console: Console) -> None:
    for outcome in report.results:
        if outcome.status != "checked":
            console.print(f"[magenta]{outcome.id}: error[/magenta] ", end="")
            console.print(outcome.message, markup=False)
            continue
        console.print(f"[bold]{outcome.id}[/bold]")
        for m in outcome.mutants:
            mark = "[green]refuted[/green]" if m.refuted else "[red]SURVIVED[/red]"
            console.print(f"  {mark} {m.name}: ", end="")
            console.print(m.evidence.split(": ", 1)[-1], markup=False)
        for spot in outcome.blind_spots:
            reason = f" ({spot.reason})" if spot.reason else ""
            console.print(f"  [yellow]blind spot[/yellow] generated mutant {spot.name}{reason}: ", end="")
            console.print(spot.evidence.split(": ", 1)[-1], markup=False)


def print_sweep(report: SweepReport, console: Console) -> None:
    table = Table("theorem", "runs", "false alarms", "errors", "alarm seeds", box=None, pad_edge=False)
    table.columns[0].no_wrap = True
    for r in report.results:
        style = "red" if r.alarms or r.errors else "green"
        seeds = ", ".join(map(str, (r.alarms + r.errors)[:10])) or "-"
        table.add_row(r.id, str(r.runs), f"[{style}]{len(r.alarms)}[/{style}]", str(len(r.errors)), seeds)
    console.print(table)
    total = sum(len(r.alarms) for r in report.results)
    console.print(f"{total} false alarms in {sum(r.runs for r in report.results)} runs ({report.seeds} seeds x {report.instances} instances each)")
    for r in report.results:
        if r.first_message:
            console.print(r.first_message, markup=False)


def print_example(example: WorkedExample, console: Console) -> None:
    console.print(f"[bold]{example.id}[/bold] worked example (seed {example.seed})")
    for name, value in example.params.items():
        console.print(f"  {name} = {value}", markup=False)
    for name, value in example.values.items():
        console.print(f"  {name} = {_format(value)}", markup=False)
    verdict = "[green]verified[/green]" if example.verified else "[red]NOT verified[/red]"
    console.print(f"{verdict}: {example.message}")


def _format(value) -> str:
    array = np.asarray(value)
    if array.ndim == 0:
        return f"{array.item():.10g}" if np.issubdtype(array.dtype, np.floating) else str(array.item())
    return "\n" + _indent(np.array2string(array, precision=6, suppress_small=True, max_line_width=120))


def print_experiment(run, console: Console) -> None:
    """The checks of an experiment run, its table, and where its files are."""
    result = run.result
    console.print(f"[bold]{run.experiment.name}[/bold]: {run.experiment.title} ({run.seconds:.1f} s)")
    table_rows = result.metrics.get("table") or []
    if table_rows:
        table = Table(*table_rows[0].keys(), box=None, pad_edge=False)
        for row in table_rows:
            table.add_row(*(_cell(value) for value in row.values()))
        console.print(table)
    for check in result.checks:
        verdict = "[green]passed[/green]" if check.passed else "[red]FAILED[/red]"
        console.print(f"{verdict} {check.claim}: {check.evidence}", highlight=False)
    for erratum in result.errata:
        console.print(f"erratum ({erratum.kind}): {erratum.source}, {erratum.section}: {erratum.corrected}", markup=False)
    pdf = f", {run.report_pdf.name}" if run.report_pdf else ""
    console.print(f"wrote {run.out}/ (metrics.json, {len(result.figures)} figures, section.tex, report.tex{pdf})", markup=False)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
