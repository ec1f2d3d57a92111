"""The ``transformer-proofs`` command line (Typer + Rich).

Exit status: 0 all good; 1 a theorem failed, a mutant survived or an example
is not verified; 2 bad usage, bad input, or an error while checking. Errors
are one line on stderr, ``transformer-proofs: error: ...``, never a traceback.
With ``--json -`` stdout holds exactly one JSON document and everything meant
for people goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from transformer_proofs import api

PROGRAM = "transformer-proofs"

app = typer.Typer(
    name=PROGRAM,
    help="Verify the theory of transformers and SSMs: checked derivations, numeric checkers, LaTeX handouts.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class BadInput(Exception):
    """Bad usage or input: reported as one line, exit status 2."""


class Format(str, Enum):
    text = "text"
    tex = "tex"
    json = "json"


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


IdsArgument = Annotated[Optional[list[str]], typer.Argument(help="Theorem ids (none or --all: every theorem).", show_default=False)]
AllOption = Annotated[bool, typer.Option("--all", help="Every theorem (the same as giving no id).")]
TopicOption = Annotated[Optional[str], typer.Option("--topic", help="Only theorems of this topic.")]
ModuleOption = Annotated[Optional[list[str]], typer.Option("--module", help="Also load user theorems from this Python module.")]
SeedOption = Annotated[int, typer.Option("--seed", min=0, help="Random seed (same seed, same output).")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"{PROGRAM} {api.package_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Verify the theory of transformers and SSMs: checked derivations, numeric checkers, LaTeX handouts."""


def _consoles(json_target: Optional[str]) -> Console:
    """Where human output goes: stderr when stdout carries the JSON document."""
    return Console(stderr=json_target == "-", highlight=False, soft_wrap=True)


def _load(modules: Optional[list[str]]) -> None:
    for module in modules or []:
        try:
            api.load_module(module)
        except ValueError as error:
            raise BadInput(str(error)) from None


def _select(ids, topic, modules):
    _load(modules)
    try:
        return api.select(ids, topic)
    except (KeyError, ValueError) as error:
        raise BadInput(str(error)) from None


def _check_json_target(target: Optional[str]) -> None:
    """Refuse an output path in a missing directory before any work is done."""
    if target in (None, "-"):
        return
    if Path(target).is_dir():
        raise BadInput(f"--json: {target} is a directory; give a file path")
    if not Path(target).parent.is_dir():
        raise BadInput(f"--json: directory {Path(target).parent} does not exist")


def _emit_json(document: dict, target: Optional[str]) -> None:
    text = json.dumps(document, indent=2, sort_keys=False)
    if target == "-":
        sys.stdout.write(text + "\n")
        return
    Path(target).write_text(text + "\n", encoding="utf-8")


def _check_device(device: Device) -> None:
    try:
        api.check_device(device.value)
    except ValueError as error:
        raise BadInput(f"--device: {error}") from None


@app.command("list")
def list_theorems(
    topic: TopicOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Write JSON to stdout.")] = False,
    module: ModuleOption = None,
) -> None:
    """List the theorems with their parameters."""
    chosen = _select(None, topic, module)
    if as_json:
        document = {
            "theorems": [
                {
                    "id": t.id,
                    "title": t.title,
                    "topic": t.topic,
                    "parameters": {name: d.describe() for name, d in t.parameters.items()},
                }
                for t in chosen
            ]
        }
        _emit_json(document, "-")
        return
    table = Table("id", "topic", "title", "parameters (default)", box=None, pad_edge=False)
    table.columns[0].no_wrap = True  # ids are copied into other commands: never cut them
    for t in chosen:
        params = ", ".join(f"{n}={d.default_value()}" for n, d in t.parameters.items())
        table.add_row(t.id, t.topic, t.title, params)
    Console(highlight=False).print(table)


@app.command()
def show(
    theorem_id: Annotated[str, typer.Argument(metavar="ID", help="The theorem id.")],
    format: Annotated[Format, typer.Option("--format", help="text, tex or json.")] = Format.text,
    module: ModuleOption = None,
) -> None:
    """Show a theorem: statement, assumptions, sources and every derivation step with its evidence."""
    from transformer_proofs import display

    (theorem,) = _select([theorem_id], None, module)
    if format is Format.json:
        _emit_json(display.theorem_json(theorem), "-")
    elif format is Format.tex:
        sys.stdout.write(display.theorem_tex(theorem))
    else:
        display.print_theorem(theorem, Console(highlight=False))


@app.command()
def verify(
    ids: IdsArgument = None,
    all_: AllOption = False,
    topic: TopicOption = None,
    instances: Annotated[int, typer.Option("--instances", min=1, help="Random parameter points per theorem.")] = 1000,
    seed: SeedOption = 0,
    device: Annotated[Device, typer.Option("--device", help="cpu or cuda.")] = Device.cpu,
    json_target: Annotated[Optional[str], typer.Option("--json", metavar="PATH|-", help="Write the JSON report.")] = None,
    module: ModuleOption = None,
) -> None:
    """Check derivations and claims against independent oracles on random instances."""
    from checkers.engine import run_check
    from checkers.results import Report
    from transformer_proofs import display

    chosen = _select(ids, topic, module)
    _check_device(device)
    _check_json_target(json_target)
    console = _consoles(json_target)
    check = lambda theorem: run_check(theorem, instances=instances, seed=seed, device=device.value)
    report = Report(api.package_version(), seed, instances, display.map_with_progress(check, chosen, "verifying"))
    display.print_report(report, console)
    if json_target:
        _emit_json(report.to_json(), json_target)
    raise typer.Exit(2 if report.has_errors else 0 if report.ok else 1)


@app.command()
def mutants(
    ids: IdsArgument = None,
    all_: AllOption = False,
    topic: TopicOption = None,
    seed: SeedOption = 0,
    json_target: Annotated[Optional[str], typer.Option("--json", metavar="PATH|-", help="Write the JSON report.")] = None,
    module: ModuleOption = None,
) -> None:
    """Run every mutant (plausible wrong claim) through the checker: each must be refuted."""
    from checkers.engine import mutant_outcome
    from checkers.results import MutantReport
    from transformer_proofs import display

    chosen = _select(ids, topic, module)
    _check_json_target(json_target)
    console = _consoles(json_target)
    refute = lambda theorem: mutant_outcome(theorem, seed=seed)
    report = MutantReport(display.map_with_progress(refute, chosen, "mutants"))
    display.print_mutants(report, console)
    if json_target:
        _emit_json(report.to_json(), json_target)
    raise typer.Exit(2 if report.has_errors else 0 if report.ok else 1)


@app.command()
def sweep(
    ids: IdsArgument = None,
    all_: AllOption = False,
    topic: TopicOption = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Check at seeds 0 .. SEEDS-1.")] = 100,
    instances: Annotated[int, typer.Option("--instances", min=1, help="Random parameter points per run.")] = 300,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (default: the CPU count).")] = os.cpu_count() or 1,
    json_target: Annotated[Optional[str], typer.Option("--json", metavar="PATH|-", help="Write the JSON report.")] = None,
    module: ModuleOption = None,
) -> None:
    """Check every theorem at many seeds and count false alarms (a true theorem never alarms)."""
    from transformer_proofs import display
    from transformer_proofs.sweep import false_alarm_sweep

    chosen = _select(ids, topic, module)
    _check_json_target(json_target)
    console = _consoles(json_target)
    with display.progress() as bar:
        task = bar.add_task("sweeping", total=len(chosen) * seeds)
        report = false_alarm_sweep(
            [t.id for t in chosen], seeds=seeds, instances=instances, workers=workers, modules=module or (),
            advance=lambda theorem_id: bar.update(task, advance=1, description=theorem_id),
        )
    display.print_sweep(report, console)
    if json_target:
        _emit_json(report.to_json(), json_target)
    raise typer.Exit(2 if report.has_errors else 0 if report.ok else 1)


@app.command()
def example(
    theorem_id: Annotated[str, typer.Argument(metavar="ID", help="The theorem id.")],
    param: Annotated[
        Optional[list[str]], typer.Option("--param", metavar="NAME=VALUE", help="Override a parameter (repeatable).")
    ] = None,
    seed: SeedOption = 0,
    format: Annotated[Format, typer.Option("--format", help="text, tex or json.")] = Format.text,
    data: DataOption = None,
    module: ModuleOption = None,
) -> None:
    """The worked example: named values from the closed form, confirmed by the oracle."""
    from checkers.results import TheoremError
    from transformer_proofs import display

    (theorem,) = _select([theorem_id], None, module)
    overrides = _parse_params(theorem, param or [])
    try:
        worked = api.example(theorem.id, seed=seed, data=_data_path(data), **overrides)
    except ValueError as error:
        raise BadInput(str(error)) from None
    except TheoremError as error:
        message = str(error)
        raise BadInput(message if message.startswith(theorem.id) else f"{theorem.id}: {message}") from None
    if format is Format.json:
        _emit_json(worked.to_json(), "-")
    elif format is Format.tex:
        sys.stdout.write(worked.to_latex())
    else:
        display.print_example(worked, Console(highlight=False))
    raise typer.Exit(0 if worked.verified else 1)


def _parse_params(theorem, assignments: list[str]) -> dict:
    values = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise BadInput(f"--param {assignment!r} is malformed; expected NAME=VALUE")
        if name not in theorem.parameters:
            known = ", ".join(theorem.parameters) or "none"
            raise BadInput(f"{theorem.id} has no parameter {name!r} (parameters: {known})")
        try:
            values[name] = theorem.parameters[name].parse(name, text.strip())
        except ValueError as error:
            raise BadInput(f"{theorem.id}: {error}") from None
    return values


class Sheet(str, Enum):
    exercises = "exercises"


DataOption = Annotated[
    Optional[Path],
    typer.Option("--data", metavar="CSV", help="Runs to fit (columns N, loss and D or C); else $TP_CHINCHILLA_DATA."),
]


def _data_path(data: Optional[Path]) -> Optional[str]:
    """The data file: --data, else $TP_CHINCHILLA_DATA, else none (theorems then use synthetic data)."""
    if data is None:
        return os.environ.get("TP_CHINCHILLA_DATA") or None
    if not data.is_file():
        raise BadInput(f"--data: {data} is not a file")
    return str(data)


@app.command()
def render(
    ids: IdsArgument = None,
    all_: AllOption = False,
    topic: TopicOption = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", metavar="OUT.tex|OUT.pdf", help="The handout to write.")] = None,
    seed: SeedOption = 0,
    solutions: Annotated[
        bool, typer.Option("--solutions/--no-solutions", help="Full version (derivations, answers, stamps) or student version.")
    ] = True,
    variant: Annotated[
        Optional[int], typer.Option("--variant", min=0, metavar="K", help="Redraw the worked examples' parameters (sheet K).")
    ] = None,
    sheet: Annotated[
        Optional[Sheet],
        typer.Option("--sheet", help="Build the course's exercise sheet and OUT-solutions beside it (ids are not taken)."),
    ] = None,
    data: DataOption = None,
    instances: Annotated[int, typer.Option("--instances", min=1, help="Random parameter points per theorem.")] = 1000,
    module: ModuleOption = None,
) -> None:
    """Build a LaTeX handout (.tex, or .pdf through latexmk) of verified theorems."""
    from checkers.results import TheoremError
    from transformer_proofs.render import LatexMissing, write_handout, write_sheet

    if output is None:
        raise BadInput("render needs an output file: -o OUT.tex or -o OUT.pdf")
    if sheet is not None and (ids or topic or all_):
        raise BadInput("--sheet builds the whole exercise sheet; give no ids, --all or --topic with it")
    chosen = _select(ids, topic, module)
    options = dict(seed=seed, variant=variant, data=_data_path(data), instances=instances)
    console = Console(stderr=True, highlight=False)
    try:
        with console.status(f"checking theorems and writing {output}"):
            if sheet is not None:
                handouts = write_sheet(output, **options)
            else:
                handouts = (write_handout(chosen, output, solutions=solutions, **options),)
    except (LatexMissing, ValueError, RuntimeError, TheoremError) as error:
        raise BadInput(str(error)) from None
    for handout in handouts:
        console.print(f"wrote {handout.path}")
        if handout.overfull:
            console.print(f"warning: {len(handout.overfull)} lines run into the margin (LaTeX log): {handout.overfull[0]}", markup=False)
    ok = all(h.ok for h in handouts)
    if not ok:
        console.print("not everything in it was verified (see the sections' stamps); run verify and mutants for details")
    raise typer.Exit(2 if any(h.has_errors for h in handouts) else 0 if ok else 1)


@app.command()
def errata(
    as_json: Annotated[bool, typer.Option("--json", help="Write JSON to stdout.")] = False,
    module: ModuleOption = None,
) -> None:
    """Claims of the course material found false, ambiguous, loose, imprecise or missing context: each with its kind, its correction and the theorem that shows it."""
    found = [(t, e) for t in _select(None, None, module) for e in t.errata]
    if as_json:
        _emit_json({"errata": [e.to_json(t.id) for t, e in found]}, "-")
        return
    console = Console(highlight=False, soft_wrap=True)
    for number, (theorem, erratum) in enumerate(found, 1):
        shown_by = f"refuted claim '{erratum.refuted_by}'" if erratum.refuted_by else erratum.evidence
        console.print(f"[bold]{number}. {erratum.source}, {erratum.section}[/bold] ({theorem.id}): {erratum.kind}", markup=True)
        console.print(f"   stated:    {erratum.stated}", markup=False)
        for reading in erratum.readings:
            console.print(f"   reading:   {reading}", markup=False)
        console.print(f"   corrected: {erratum.corrected}", markup=False)
        console.print(f"   shown by:  {shown_by}", markup=False)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point: run the app and turn every failure into one line and an exit status."""
    try:
        status = app(args=argv, prog_name=PROGRAM, standalone_mode=False)
    except BadInput as error:
        _fail(str(error))
    except typer.TyperException as error:
        _fail(error.format_message())
    except typer.Abort:
        _fail("aborted")
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as error:
        if os.environ.get("TP_DEBUG"):
            raise
        _fail(f"{type(error).__name__}: {error}")
    sys.exit(status if isinstance(status, int) else 0)


def _fail(message: str) -> None:
    first_line = " ".join(str(message).split())
    sys.stderr.write(f"{PROGRAM}: error: {first_line}\n")
    sys.exit(2)
