"""The ``transformer-proofs`` command line (Typer + Rich).

Exit status: 0 all good; 1 a theorem failed, a mutant survived or an example
is not verified; 2 bad usage, bad input, or an error while checking. Errors
are one line on stderr, ``transformer-proofs: error: ...``, never a traceback.
With ``--json -`` stdout holds exactly one JSON document and everything meant
for people goes to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from checkers.results import strict_json
from checkers.sampling import BLOCK_INSTANCES
from transformer_proofs import api
from transformer_proofs.parallel import WORKERS_VARIABLE, cpu_count, start_worker_server

PROGRAM = "transformer-proofs"
INTERRUPTED = 130
_JSON_STDOUT = sys.stdout
"""Where a JSON document for stdout goes: the real stdout, while everything else printed
during a run (a user's theorem module that prints) is sent to stderr."""

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
JsonOption = Annotated[
    Optional[str],
    typer.Option("--json", metavar="[PATH|-]", help="Write the JSON document to PATH, or to stdout with - or no value."),
]
MAX_INSTANCES = 10**10
"""The most instances one check takes (a check runs in blocks of bounded memory: the cap catches a typo
that would run for years)."""
InstancesOption = Annotated[
    int, typer.Option("--instances", min=1, max=MAX_INSTANCES, help=f"Random parameter points per theorem (at most {MAX_INSTANCES:,}).")
]
DEFAULT_TIMEOUT = 900
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout", min=0.001, metavar="SECONDS",
        help=f"Give up on a theorem after this long (default {DEFAULT_TIMEOUT} s; with more than {BLOCK_INSTANCES} instances, on "
        f"each block of {BLOCK_INSTANCES} after the first); the others are still reported.",
    ),
]


WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers", min=1, envvar=WORKERS_VARIABLE, show_envvar=False,
        help=f"Worker processes (default: the CPU count, or ${WORKERS_VARIABLE}); with --scheduler local, the cluster's workers.",
    ),
]
SchedulerOption = Annotated[
    Optional[str],
    typer.Option(
        "--scheduler", metavar="ADDRESS|local",
        help="Run on a Dask cluster: a running scheduler (tcp://host:8786), or local for a LocalCluster of --workers "
        "processes. Needs pip install 'transformer-proofs[distributed]'.",
    ),
]


def _check_scheduler(scheduler: Optional[str]) -> None:
    """Refuse --scheduler before any work when Dask is missing."""
    if scheduler is not None:
        from transformer_proofs.distributed import ClusterUnavailable, require

        try:
            require()
        except ClusterUnavailable as error:
            raise BadInput(str(error)) from None


@contextlib.contextmanager
def _on_cluster():
    """A scheduler that cannot be reached is bad input: one line, exit status 2."""
    from transformer_proofs.distributed import ClusterUnavailable

    try:
        yield
    except ClusterUnavailable as error:
        raise BadInput(str(error)) from None


def _check_theorems(kind: str, chosen, options: dict, workers: int, scheduler: Optional[str], modules, label: str) -> tuple:
    """``verify``'s or ``mutants``' work on each chosen theorem, in order, with a progress bar."""
    from transformer_proofs import display
    from transformer_proofs.parallel import check_theorems

    with _on_cluster(), display.theorem_progress(label, len(chosen)) as progress:
        return check_theorems(kind, chosen, options, workers=workers, scheduler=scheduler, modules=modules or (), progress=progress)


def _start_workers(ids, workers: int, scheduler: Optional[str]) -> None:
    """Start the workers' server while the theorems load, unless one theorem is asked for: it is checked here."""
    if len(ids or ()) != 1:
        start_worker_server(workers, scheduler)


def _no_cache(value: bool) -> None:
    if value:
        from checkers.derivation_cache import CACHE_VARIABLE, OFF

        os.environ[CACHE_VARIABLE] = OFF  # worker processes inherit it


NoCacheOption = Annotated[
    bool,
    typer.Option(
        "--no-cache", callback=_no_cache, expose_value=False,
        help="Re-check every derivation step in SymPy instead of reading the verdicts kept from earlier runs.",
    ),
]


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
    return _console(stderr=json_target == "-")


_UNLIMITED_WIDTH = 1_000_000


def _console(stderr: bool = False) -> Console:
    """A console for people. When the stream is not a terminal (a file, a pipe, a CI log) it is
    as wide as the longest line, so a table keeps every number in full and never wraps a row."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=_UNLIMITED_WIDTH)


def _report_errors(messages) -> None:
    """Each theorem whose code could not be checked, as one error line on stderr (the table said it too)."""
    for message in messages:
        sys.stderr.write(f"{PROGRAM}: error: {' '.join(str(message).split())}\n")


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
    if not os.access(Path(target).parent, os.W_OK) or (Path(target).exists() and not os.access(target, os.W_OK)):
        raise BadInput(f"--json: {target} cannot be written")


def _emit_json(document: dict, target: Optional[str]) -> None:
    """Write one JSON document (strict JSON: a non-finite number becomes null) to stdout or,
    atomically, to a file, so an interrupted run leaves no half-written report."""
    text = json.dumps(strict_json(document), indent=2, sort_keys=False, allow_nan=False)
    if target == "-":
        _JSON_STDOUT.write(text + "\n")
        _JSON_STDOUT.flush()
        return
    partial = Path(f"{target}.partial")
    partial.write_text(text + "\n", encoding="utf-8")
    os.replace(partial, target)


def _check_device(device: Device) -> None:
    try:
        api.check_device(device.value)
    except ValueError as error:
        raise BadInput(f"--device: {error}") from None


@app.command("list")
def list_theorems(
    topic: TopicOption = None,
    json_target: JsonOption = None,
    module: ModuleOption = None,
) -> None:
    """List the theorems with their parameters."""
    _check_json_target(json_target)
    chosen = _select(None, topic, module)
    if json_target:
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
        _emit_json(document, json_target)
        return
    table = Table("id", "topic", "title", "parameters (default)", box=None, pad_edge=False)
    table.columns[0].no_wrap = True  # ids are copied into other commands: never cut them
    for t in chosen:
        params = ", ".join(f"{n}={d.default_value()}" for n, d in t.parameters.items())
        table.add_row(t.id, t.topic, t.title, params)
    _console().print(table)


@app.command()
def show(
    theorem_id: Annotated[str, typer.Argument(metavar="ID", help="The theorem id.")],
    format: Annotated[Format, typer.Option("--format", help="text, tex or json.")] = Format.text,
    json_target: JsonOption = None,
    module: ModuleOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Show a theorem: statement, assumptions, sources and every derivation step with its evidence."""
    from transformer_proofs import display

    _check_json_target(json_target)
    (theorem,) = _select([theorem_id], None, module)
    if format is Format.json or json_target:
        _emit_json(display.theorem_json(theorem), json_target or "-")
    elif format is Format.tex:
        sys.stdout.write(display.theorem_tex(theorem))
    else:
        display.print_theorem(theorem, _console())


@app.command()
def verify(
    ids: IdsArgument = None,
    all_: AllOption = False,
    topic: TopicOption = None,
    instances: InstancesOption = 1000,
    seed: SeedOption = 0,
    device: Annotated[Device, typer.Option("--device", help="cpu or cuda.")] = Device.cpu,
    json_target: JsonOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    workers: WorkersOption = cpu_count(),
    scheduler: SchedulerOption = None,
    module: ModuleOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Check derivations and claims against independent oracles on random instances."""
    from checkers.results import Report
    from transformer_proofs import display

    _start_workers(ids, workers, scheduler)
    chosen = _select(ids, topic, module)
    _check_device(device)
    _check_json_target(json_target)
    _check_scheduler(scheduler)
    console = _consoles(json_target)
    options = dict(instances=instances, seed=seed, device=device.value, timeout=timeout)
    results = _check_theorems("verify", chosen, options, workers, scheduler, module, "verifying")
    report = Report(api.package_version(), seed, instances, results)
    display.print_report(report, console)
    if json_target:
        _emit_json(report.to_json(), json_target)
    _report_errors(r.message for r in report.results if r.status == "error")
    raise typer.Exit(2 if report.has_errors else 0 if report.ok else 1)


@app.command()
def mutants(
    ids: IdsArgument = None,
    all_: AllOption = False,
    topic: TopicOption = None,
    seed: SeedOption = 0,
    json_target: JsonOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    workers: WorkersOption = cpu_count(),
    scheduler: SchedulerOption = None,
    module: ModuleOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Run every mutant (plausible wrong claim) through the checker: each must be refuted."""
    from checkers.results import MutantReport
    from transformer_proofs import display

    _start_workers(ids, workers, scheduler)
    chosen = _select(ids, topic, module)
    _check_json_target(json_target)
    _check_scheduler(scheduler)
    console = _consoles(json_target)
    report = MutantReport(_check_theorems("mutants", chosen, dict(seed=seed, timeout=timeout), workers, scheduler, module, "mutants"))
    display.print_mutants(report, console)
    if json_target:
        _emit_json(report.to_json(), json_target)
    _report_errors(o.message for o in report.results if o.status == "error")
    raise typer.Exit(2 if report.has_errors else 0 if report.ok else 1)


@app.command()
def sweep(
    ids: IdsArgument = None,
    all_: AllOption = False,
    topic: TopicOption = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Check at seeds 0 .. SEEDS-1.")] = 100,
    instances: Annotated[int, typer.Option("--instances", min=1, max=MAX_INSTANCES, help="Random parameter points per run.")] = 300,
    workers: WorkersOption = cpu_count(),
    scheduler: SchedulerOption = None,
    json_target: JsonOption = None,
    module: ModuleOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Check every theorem at many seeds and count false alarms (a true theorem never alarms)."""
    from transformer_proofs import display
    from transformer_proofs.sweep import false_alarm_sweep

    start_worker_server(workers, scheduler)  # a sweep of one theorem is many tasks
    chosen = _select(ids, topic, module)
    _check_json_target(json_target)
    _check_scheduler(scheduler)
    console = _consoles(json_target)
    with _on_cluster(), display.progress() as bar:
        task = bar.add_task("sweeping", total=len(chosen) * seeds)
        report = false_alarm_sweep(
            [t.id for t in chosen], seeds=seeds, instances=instances, workers=workers, scheduler=scheduler, modules=module or (),
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
    json_target: JsonOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    module: ModuleOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """The worked example: named values from the closed form, confirmed by the oracle."""
    from checkers.engine import time_limit
    from checkers.results import TheoremError
    from transformer_proofs import display

    _check_json_target(json_target)
    (theorem,) = _select([theorem_id], None, module)
    overrides = _parse_params(theorem, param or [])
    try:
        with time_limit(timeout) as limit:
            worked = api.example(theorem.id, seed=seed, data=_data_path(data), **overrides)
    except ValueError as error:
        raise BadInput(str(error)) from None
    except TheoremError as error:
        message = str(error)
        raise BadInput(message if message.startswith(theorem.id) else f"{theorem.id}: {message}") from None
    if limit.exceeded:
        raise BadInput(f"{theorem.id}: the worked example did not finish within {timeout:g} s (--timeout)")
    if format is Format.json or json_target:
        _emit_json(worked.to_json(), json_target or "-")
    elif format is Format.tex:
        sys.stdout.write(worked.to_latex())
    else:
        display.print_example(worked, _console())
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
    instances: InstancesOption = 1000,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    experiment: Annotated[
        Optional[list[Path]], typer.Option("--experiment", metavar="DIR", help="Include an experiment's section (a folder written by `experiment --out DIR`; repeatable).")
    ] = None,
    module: ModuleOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Build a LaTeX handout (.tex, or .pdf through latexmk) of verified theorems."""
    from checkers.results import TheoremError
    from transformer_proofs.render import LatexMissing, write_handout, write_sheet

    if output is None:
        raise BadInput("render needs an output file: -o OUT.tex or -o OUT.pdf")
    if sheet is not None and (ids or topic or all_):
        raise BadInput("--sheet builds the whole exercise sheet; give no ids, --all or --topic with it")
    if sheet is not None and experiment:
        raise BadInput("--sheet builds the exercise sheet; --experiment goes with a handout")
    chosen = _select(ids, topic, module)
    options = dict(seed=seed, variant=variant, data=_data_path(data), instances=instances, timeout=timeout)
    if experiment:
        from transformer_proofs.experiments import experiment_sections

        try:
            options["experiments"] = experiment_sections(experiment)
        except ValueError as error:
            raise BadInput(str(error)) from None
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


ExperimentNameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The experiment: icl-regression, grokking or induction.")]


@app.command()
def experiment(
    name: ExperimentNameArgument,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for metrics.json, figures, section.tex and report.pdf (created if missing).")],
    config: Annotated[
        Optional[list[str]], typer.Option("--config", metavar="KEY=VALUE", help="Override a setting of the experiment's config (repeatable).")
    ] = None,
    device: Annotated[Device, typer.Option("--device", help="Train on cpu or cuda.")] = Device.cpu,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Build report.pdf with LaTeX (when it is installed).")] = True,
    seeds: Annotated[
        Optional[int], typer.Option("--seeds", min=1, metavar="S", help="Run at seeds 0 .. S-1, seed K into DIR/seed-K, in --workers processes or on --scheduler.")
    ] = None,
    workers: WorkersOption = cpu_count(),
    scheduler: SchedulerOption = None,
    layers: Annotated[Optional[int], typer.Option("--layers", metavar="L", help="The same as --config layers=L (induction).")] = None,
    heads: Annotated[Optional[int], typer.Option("--heads", metavar="H", help="The same as --config heads=H (induction).")] = None,
    prompts: Annotated[Optional[str], typer.Option("--prompts", metavar="FILE", help="The same as --config prompts=FILE (induction).")] = None,
    json_target: JsonOption = None,
) -> None:
    """Train and measure: project track A (icl-regression), track B (grokking), or induction heads."""
    from transformer_proofs import display
    from transformer_proofs.experiments import configure, metrics_document, run_experiment

    _check_json_target(json_target)
    _check_device(device)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out: {out} is a file; give a folder")
    if seeds is None and scheduler is not None:
        raise BadInput("--scheduler runs an experiment's seeds: give --seeds S")
    if seeds is not None and any(c.partition("=")[0].strip() == "seed" for c in config or ()):
        raise BadInput("--seeds sets each run's seed; leave seed out of --config")
    _check_scheduler(scheduler)
    shortcuts = {"layers": layers, "heads": heads, "prompts": prompts}
    config = [*(config or ()), *(f"{key}={value}" for key, value in shortcuts.items() if value is not None)]
    try:
        chosen, settings = configure(name, None, tuple(config or ()))
    except (KeyError, ValueError) as error:
        raise BadInput(str(error.args[0] if isinstance(error, KeyError) else error)) from None
    console = _consoles(json_target)
    if seeds is not None:
        if not hasattr(settings, "seed"):
            raise BadInput(f"{chosen.name} has no seed setting for --seeds to vary")
        _experiment_seeds(chosen.name, out, seeds, tuple(config or ()), device.value, pdf, workers, scheduler, json_target, console)
    with display.progress() as bars:
        run = run_experiment(chosen.name, out, config=settings, device=device.value, progress=display.tracker(bars), pdf=pdf)
    display.print_experiment(run, console)
    if json_target:
        figures = [f"{chosen.name}-{plot.name}.pdf" for plot in run.result.figures]
        _emit_json(metrics_document(chosen, settings, run.result, device.value, run.seconds, figures), json_target)
    raise typer.Exit(0 if run.ok else 1)


def _experiment_seeds(name, out, seeds, config, device, pdf, workers, scheduler, json_target, console) -> None:
    """``experiment NAME --seeds S``: each seed's run into ``out/seed-K``, a line per seed, and the exit status."""
    from transformer_proofs import display
    from transformer_proofs.experiment_seeds import seed_sweep

    with _on_cluster(), display.progress() as bar:
        task = bar.add_task(f"{name} seeds", total=seeds)
        runs = seed_sweep(
            name, out, seeds=seeds, assignments=config, device=device, pdf=pdf, workers=workers, scheduler=scheduler,
            advance=lambda index: bar.update(task, advance=1),
        )
    for run in runs:
        verdict = "error" if run.error else "passed" if run.ok else "FAILED"
        checks = run.metrics.get("checks", [])
        passed = sum(check["passed"] for check in checks)
        detail = run.error or f"{passed}/{len(checks)} checks passed, wrote {out / f'seed-{run.seed}'}/"
        console.print(f"seed {run.seed}: {verdict}: {detail}", markup=False)
    if json_target:
        _emit_json({"experiment": name, "seeds": [run.metrics for run in runs if not run.error]}, json_target)
    _report_errors(run.error for run in runs if run.error)
    raise typer.Exit(2 if any(run.error for run in runs) else 0 if all(run.ok for run in runs) else 1)


@app.command()
def errata(
    json_target: JsonOption = None,
    module: ModuleOption = None,
) -> None:
    """Claims of the course material found false, ambiguous, loose, imprecise or missing context: each with its kind, its correction and the theorem that shows it."""
    _check_json_target(json_target)
    found = [(t, e) for t in _select(None, None, module) for e in t.errata]
    if json_target:
        _emit_json({"errata": [e.to_json(t.id) for t, e in found]}, json_target)
        return
    console = _console()
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
    global _JSON_STDOUT
    argv = _json_without_path(list(sys.argv[1:] if argv is None else argv))
    _JSON_STDOUT = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr if _json_to_stdout(argv) else sys.stdout):
            status = app(args=argv, prog_name=PROGRAM, standalone_mode=False)
    except BadInput as error:
        _fail(str(error))
    except typer.TyperException as error:
        _fail(error.format_message())
    except typer.Abort:
        _fail("aborted")
    except KeyboardInterrupt:
        status = INTERRUPTED
    except BrokenPipeError:
        _quiet_broken_pipe()
    except Exception as error:
        if os.environ.get("TP_DEBUG"):
            raise
        _fail(f"{type(error).__name__}: {error}")
    if status == INTERRUPTED:  # Ctrl-C (Typer turns it into this exit status)
        _fail("interrupted", status=INTERRUPTED)
    sys.exit(status if isinstance(status, int) else 0)


def _json_without_path(argv: list[str]) -> list[str]:
    """``--json`` with no value (last, or before another option) means ``--json -``: stdout."""
    completed = []
    for i, argument in enumerate(argv):
        completed.append(argument)
        following = argv[i + 1] if i + 1 < len(argv) else None
        if argument == "--json" and (following is None or (following.startswith("-") and following != "-")):
            completed.append("-")
    return completed


def _json_to_stdout(argv: list[str]) -> bool:
    pairs = set(zip(argv, argv[1:]))
    return ("--json", "-") in pairs or ("--format", "json") in pairs or "--format=json" in argv


def _quiet_broken_pipe() -> None:
    """The reader went away (``transformer-proofs list | head -1``): stop quietly, as Unix tools do."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def _fail(message: str, status: int = 2) -> None:
    first_line = " ".join(str(message).split())
    sys.stderr.write(f"{PROGRAM}: error: {first_line}\n")
    sys.exit(status)
