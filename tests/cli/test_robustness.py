"""Bad input, hanging code and interruptions: one line on stderr, nothing lost, JSON that parses everywhere."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

COMMAND = Path(sys.executable).with_name("transformer-proofs")

USER_MODULE = textwrap.dedent(
    r"""
    import pathlib, time
    import numpy as np
    import transformer_proofs as tp

    print("a line printed on import")

    def hanging(x):
        pathlib.Path("started").write_text("")
        time.sleep(60)
        return x

    slow = tp.Theorem("slow-one", "hangs", "user", "s", parameters={"x": tp.Real(0, 1)}, claim=lambda x: x, oracle=hanging)
    fast = tp.Theorem("fast-one", "quick", "user", "s", parameters={"x": tp.Real(0, 1)}, claim=lambda x: x, oracle=lambda x: x * 1.0)
    boom = tp.Theorem("boom-one", "raises", "user", "s", parameters={"x": tp.Real(0, 1)}, claim=lambda x: x, oracle=lambda x: 1 / 0)
    open_ended = tp.Theorem(
        "open-ended", "unbounded", "user", "s", parameters={"x": tp.Real(1, float("inf"), default=2.0)},
        claim=lambda x: x, oracle=lambda x: x * 1.0,
    )
    """
)

HOSTILE_SOURCES = (
    r"Knuth 1984, \input{/etc/hostname} chapter 8",
    r"\immediate\write18{touch pwned} and $x \write18{touch pwned2}$",
    r"a plain source: file_name.csv, 5% of runs & items #3",
    r"math with TeX's character codes: $^^5cinput{/etc/hostname}$",
)


HOSTILE_MODULE = textwrap.dedent(
    r"""
    from matplotlib.figure import Figure
    import transformer_proofs as tp

    HOSTILE = {hostile!r}

    def figure(seed, x):
        return [tp.Plot("plot", HOSTILE[0] + " " + HOSTILE[3], Figure(figsize=(2, 2)))]

    texts = tp.Theorem(
        "texts", "Hostile text: " + HOSTILE[2], "user", r"$x = x$ " + HOSTILE[1],
        assumptions=HOSTILE, sources=HOSTILE, parameters={{"x": tp.Real(0, 1)}},
        claim=lambda x: x, oracle=lambda x: x * 1.0, mutants={{"2x": lambda x: 2 * x}},
        errata=(tp.Erratum(HOSTILE[0], HOSTILE[2], HOSTILE[1], HOSTILE[3], kind="ambiguous", readings=HOSTILE[:2], evidence=HOSTILE[2]),),
        questions={{"claim": HOSTILE[0]}}, figures=figure,
    )
    """
).format(hostile=HOSTILE_SOURCES)


@pytest.fixture
def user_env(tmp_path):
    (tmp_path / "mine.py").write_text(USER_MODULE)
    (tmp_path / "hostile.py").write_text(HOSTILE_MODULE)
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "interrupts.py").write_text("raise KeyboardInterrupt\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}


def one_error_line(process, *fragments, status=2):
    assert process.returncode == status, process.stderr
    errors = [line for line in process.stderr.splitlines() if line.startswith("transformer-proofs: error: ")]
    assert len(errors) >= 1 and "Traceback" not in process.stderr
    for fragment in fragments:
        assert any(fragment in line for line in errors), process.stderr
    return errors


@pytest.mark.parametrize("command", [["list"], ["errata"], ["show", "lsa-gd"], ["example", "chinchilla-allocation"]])
def test_json_without_a_path_goes_to_stdout_and_with_one_to_the_file(command, tmp_path, capsys):
    from transformer_proofs.cli import main

    target = tmp_path / "out.json"
    for json_option in (["--json"], ["--json", str(target)]):
        with pytest.raises(SystemExit) as status:
            main([*command, *json_option])
        assert status.value.code == 0
    assert json.loads(capsys.readouterr().out) == json.loads(target.read_text())
    assert not list(tmp_path.glob("*.partial"))


def test_strict_json_nulls_every_non_finite_number_and_its_text():
    from checkers.results import strict_json, to_jsonable

    document = to_jsonable({"error": float("inf"), "values": [1.0, float("nan")], "name": "inf-norm"})
    assert strict_json(document) == {"error": None, "values": [1.0, None], "name": "inf-norm"}


def test_json_never_holds_a_bare_infinity_and_an_open_end_is_flagged(cli, user_env):
    listing = cli("list", "--module", "mine", "--json", env=user_env)
    assert "Infinity" not in listing.stdout and "NaN" not in listing.stdout
    (mine,) = [t for t in json.loads(listing.stdout)["theorems"] if t["id"] == "open-ended"]
    assert mine["parameters"]["x"]["high"] is None and mine["parameters"]["x"]["unbounded"] is True


def test_a_hanging_oracle_is_stopped_at_the_timeout_and_the_others_are_reported(cli, user_env):
    run = cli("verify", "slow-one", "fast-one", "--module", "mine", "--timeout", "2", "--instances", "5", "--json", env=user_env)
    one_error_line(run, "slow-one: did not finish within 2 s")
    statuses = {r["id"]: r["status"] for r in json.loads(run.stdout)["results"]}
    assert statuses == {"slow-one": "error", "fast-one": "verified"}


def test_code_that_raises_is_named_on_stderr_and_stdout_keeps_one_json_document(cli, user_env):
    run = cli("verify", "boom-one", "--module", "mine", "--instances", "5", "--json", "-", env=user_env)
    one_error_line(run, "boom-one: the oracle raised ZeroDivisionError")
    assert "" not in run.stderr.splitlines(), "no blank line left behind by a progress bar"
    assert json.loads(run.stdout)["results"][0]["status"] == "error"
    assert "a line printed on import" in run.stderr


@pytest.mark.parametrize("module, reason", [("exits", "SystemExit"), ("interrupts", "KeyboardInterrupt")])
def test_a_module_that_exits_or_interrupts_on_import_is_one_line_and_exit_2(tp, user_env, module, reason):
    run = tp("list", "--module", module, env=user_env)
    assert one_error_line(run, module, reason) == run.stderr.strip().splitlines()


def test_too_many_instances_is_refused_before_any_work(cli):
    started = time.perf_counter()
    one_error_line(cli("verify", "lsa-gd", "--instances", str(10**11)), "--instances")
    assert time.perf_counter() - started < 30


def test_a_closed_pipe_ends_the_listing_quietly(tmp_path):
    process = subprocess.Popen([str(COMMAND), "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=120) == 0
    assert process.stderr.read() == b""


def test_ctrl_c_is_one_line_exit_130_and_leaves_no_report(tmp_path, user_env):
    environment = {**os.environ, **user_env}
    report = tmp_path / "report.json"
    process = subprocess.Popen(
        [str(COMMAND), "verify", "slow-one", "--module", "mine", "--json", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=environment,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == "transformer-proofs: error: interrupted" and "Traceback" not in stderr
    assert not report.exists() and not list(tmp_path.glob("*.partial"))


def test_tables_written_to_a_pipe_keep_every_number_in_full(cli):
    run = cli("verify", "chinchilla-allocation", "lsa-gd", "--instances", "20")
    assert run.returncode == 0
    assert "…" not in run.stdout and "..." not in run.stdout
    lines = run.stdout.splitlines()
    # One line per theorem, no wrapped rows: the legend follows at once.
    assert [line.split()[0] for line in lines[1:3]] == ["chinchilla-allocation", "lsa-gd"] and lines[3].startswith("basis:")


def test_hostile_text_prints_as_text_and_a_plain_source_builds(cli, user_env, tmp_path):
    """Title, statement, assumptions, sources, errata (with readings), questions and captions all carry it."""
    tex, student = tmp_path / "texts.tex", tmp_path / "student.tex"
    assert cli("render", "texts", "--module", "hostile", "--instances", "5", "-o", tex, env=user_env).returncode == 0
    assert cli("render", "texts", "--module", "hostile", "--no-solutions", "-o", student, env=user_env).returncode == 0
    written = tex.read_text() + student.read_text()
    for unsafe in (r"\input{/etc", r"\write18", r"\immediate", "^^5c"):
        assert unsafe not in written
    assert r"file\_name.csv, 5\% of runs \& items \#3" in written


@pytest.mark.slow
@pytest.mark.skipif(not __import__("shutil").which("latexmk"), reason="LaTeX (latexmk) is not installed")
def test_hostile_text_builds_a_pdf_that_runs_nothing(cli, user_env, tmp_path):
    pdf = tmp_path / "texts.pdf"
    run = cli("render", "texts", "--module", "hostile", "--instances", "5", "-o", pdf, env=user_env)
    assert run.returncode == 0, run.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and not list(tmp_path.glob("pwned*"))


def test_importing_the_pytest_plugin_loads_no_heavy_library():
    probe = "import sys, transformer_proofs.pytest_plugin; print(sorted({'sympy', 'numpy', 'torch', 'jinja2'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"


def test_render_stays_the_function_after_its_module_is_imported():
    probe = "import transformer_proofs.render, transformer_proofs as tp; print(callable(tp.render), type(tp.render).__name__)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "True function"


def test_verify_and_mutants_take_theorem_objects_as_check_does():
    import transformer_proofs as tp

    theorem = tp.get("chinchilla-allocation")
    assert tp.verify([theorem], instances=10).results[0].status == "verified"
    assert tp.verify(theorem, instances=10).ok and tp.mutants(theorem).ok


@pytest.mark.parametrize(
    "rows, fragment",
    [
        ("N,D,loss\n1e8,2e9,3\n1e8,x,3\n", "bad.csv, row 3, column 'D': 'x' is not a number"),
        ("\ufeffN,D,loss\n1e8,2e9,3\n", "1 runs: the fit needs at least 10"),
    ],
)
def test_a_bad_data_file_is_one_line_naming_the_cell(cli, tmp_path, rows, fragment):
    (tmp_path / "bad.csv").write_text(rows, encoding="utf-8")
    (line,) = one_error_line(cli("example", "scaling-law-fit", "--data", tmp_path / "bad.csv"), fragment)
    assert line.count("scaling-law-fit:") == 1


def test_an_overflow_is_the_verdict_not_a_numpy_warning(tp, tmp_path):
    (tmp_path / "overflowing.py").write_text(
        "import numpy as np, transformer_proofs as tp\n"
        "big = tp.Theorem('big-exp', 'overflows', 'user', 's', parameters={'x': tp.Real(700, 800)},\n"
        "    claim=lambda x: np.exp(x), oracle=lambda x: np.exp(x))\n"
    )
    run = tp("verify", "big-exp", "--module", "overflowing", "--instances", "10", env={"PYTHONPATH": str(tmp_path)})
    one_error_line(run, "big-exp: the oracle returned NaN or infinite values")
    assert "RuntimeWarning" not in run.stderr


@pytest.mark.skipif(not __import__("shutil").which("latexmk"), reason="LaTeX (latexmk) is not installed")
def test_latex_that_never_ends_is_killed_with_its_whole_process_group(monkeypatch):
    from transformer_proofs.render import compile_pdf

    # The group latexmk leads (it starts a session of its own), not every pdflatex on the machine:
    # another handout may be building at the same time (conftest.py starts some early).
    started, groups = [], []
    popen = subprocess.Popen

    def recording(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        groups.append(os.getpgid(started[-1].pid))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", recording)
    endless = "\\documentclass{article}\\begin{document}\\loop\\iftrue\\repeat\\end{document}\n"
    with pytest.raises(RuntimeError, match="did not finish within 3 s"):
        compile_pdf(endless, time_limit=3)
    time.sleep(0.5)
    (latexmk,) = started
    assert groups == [latexmk.pid], "LaTeX must run in a process group of its own"
    listed = popen(["ps", "-o", "stat=,args=", "-g", str(latexmk.pid)], stdout=subprocess.PIPE, text=True).communicate()[0]
    left = [line for line in listed.splitlines() if not line.lstrip().startswith("Z")]  # a killed one may wait to be reaped
    assert not left, f"pdflatex was left running: {left}"


@pytest.mark.parametrize(
    "mutant, reason",
    [("lambda x: 1 / 0", "mutant 'broken' raised ZeroDivisionError"), ("lambda x: x * np.nan", "mutant 'broken' returned NaN")],
)
def test_a_mutant_that_raises_or_is_nan_is_an_error_not_a_survivor(cli, tmp_path, mutant, reason):
    (tmp_path / "mutantfault.py").write_text(
        "import numpy as np, transformer_proofs as tp\n"
        "square = tp.Theorem('square-fault', 'x^2', 'user', 's', parameters={'x': tp.Real(0, 1)},\n"
        f"    claim=lambda x: x**2, oracle=lambda x: x * x, mutants={{'broken': {mutant}, 'x^3': lambda x: x**3}})\n"
    )
    run = cli("mutants", "square-fault", "--module", "mutantfault", env={"PYTHONPATH": str(tmp_path)})
    one_error_line(run, reason)
