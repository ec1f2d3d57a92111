import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

COMMAND = Path(sys.executable).with_name("transformer-proofs")
EARLY_LIMIT_S = 900


@pytest.fixture
def tp(tmp_path):
    """Run the installed command in a subprocess; returns the CompletedProcess.

    For what only a process of its own shows: the console script itself, exit on a signal, a
    broken pipe, what a fresh interpreter imports, warnings printed by Python. Anything else uses
    ``cli``: a subprocess costs 2-4 s (importing torch and SymPy, rebuilding the derivations).
    """

    def run(*args, env=None, cwd=None):
        environment = {**os.environ, **(env or {})}
        return subprocess.run(
            [str(COMMAND), *map(str, args)], capture_output=True, text=True, cwd=cwd or tmp_path, env=environment, timeout=600
        )

    return run


@pytest.fixture
def tp_together(tmp_path):
    """Run several commands as ``tp`` does, all at once (the machine's cores work in parallel);
    returns their CompletedProcesses in order. For tests that compare separate processes."""

    def run(*commands, env=None):
        environment = {**os.environ, **(env or {})}
        started = [
            subprocess.Popen(
                [str(COMMAND), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                cwd=tmp_path, env=environment,
            )
            for args in commands
        ]
        finished = []
        for process, args in zip(started, commands):
            stdout, stderr = process.communicate(timeout=600)
            finished.append(subprocess.CompletedProcess(args, process.returncode, stdout, stderr))
        return finished

    return run


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys, user_modules):
    """Run the command line in this process, ``transformer_proofs.cli.main(args)``, from ``tmp_path``
    as ``tp`` runs it; returns a CompletedProcess (exit status, stdout, stderr).

    ``env={"PYTHONPATH": ...}`` puts those folders on ``sys.path``; the modules a test loads
    are forgotten after it (``user_modules``).
    """
    from transformer_proofs.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args, env=None):
        for name, value in (env or {}).items():
            if name == "PYTHONPATH":
                for folder in reversed(value.split(os.pathsep)):
                    monkeypatch.syspath_prepend(folder)
            else:
                monkeypatch.setenv(name, value)
        capsys.readouterr()  # what the test printed before is not this command's output
        with pytest.raises(SystemExit) as exit_status:
            main([str(argument) for argument in args])
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, exit_status.value.code, captured.out, captured.err)

    return run


# --- commands started when the suite is collected ---------------------------------------------
#
# Some command-line tests spend their time in commands whose results they only inspect afterwards
# (a PDF handout of every theorem: about 40 s; two processes compared byte for byte). The suite
# runs on one core; these commands start, each in its own process, as soon as the suite is
# collected, and run one after another on another core while the other tests run; each test then
# reads its finished results.


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "started_early(*commands): each command (a tuple of the installed command's arguments) starts when the "
        "suite is collected, in a folder of its own; the test gets [(CompletedProcess, folder), ...] from early_run",
    )


_EARLY = pytest.StashKey()


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected what they deselect
def pytest_collection_finish(session):
    commands = {}
    for item in session.items:
        marker = item.get_closest_marker("started_early")
        skipped = any(m.args and m.args[0] is True for m in item.iter_markers("skipif"))
        if marker is not None and not skipped:
            commands[item.nodeid] = [tuple(map(str, command)) for command in marker.args]
    if commands:
        session.config.stash[_EARLY] = _EarlyCommands(commands)


def pytest_sessionfinish(session):
    early = session.config.stash.get(_EARLY, None)
    if early is not None:
        early.stop()


@pytest.fixture
def early_run(request):
    """This test's ``started_early`` commands once they have finished: ``[(CompletedProcess, folder), ...]``."""
    early = request.config.stash.get(_EARLY, None)
    if early is None or request.node.nodeid not in early.done:
        pytest.fail("early_run needs the test marked started_early(*commands)")
    return early.result(request.node.nodeid)


class _EarlyCommands:
    """Runs the commands one after another in a background thread (one extra core, not one per
    command), each in its own folder, its output in files (a pipe nobody reads could fill)."""

    def __init__(self, commands: dict):
        self.folder = Path(tempfile.mkdtemp(prefix="tp-started-early-"))
        self.done = {nodeid: threading.Event() for nodeid in commands}
        self.results = {}
        self.process = None
        self.stopped = False
        self.lock = threading.Lock()  # a command starts, or the session stops them: never both at once
        self.thread = threading.Thread(target=self._run_all, args=(commands,), daemon=True)
        self.thread.start()

    def _run_all(self, commands):
        for index, (nodeid, test_commands) in enumerate(commands.items()):
            try:
                self.results[nodeid] = [self._run(args, self.folder / f"{index}-{n}") for n, args in enumerate(test_commands)]
            except BaseException as error:  # the test reports it
                self.results[nodeid] = error
            finally:
                self.done[nodeid].set()

    def _run(self, args, folder):
        with self.lock:
            if self.stopped:
                raise RuntimeError("the session ended before the command started")
            folder.mkdir()
            out, err = open(folder / "stdout", "w"), open(folder / "stderr", "w")
            self.process = subprocess.Popen([str(COMMAND), *args], cwd=folder, stdout=out, stderr=err)
        with out, err:
            try:
                returncode = self.process.wait(timeout=EARLY_LIMIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        output = [(folder / name).read_text() for name in ("stdout", "stderr")]
        return subprocess.CompletedProcess(args, returncode, *output), folder

    def result(self, nodeid):
        if not self.done[nodeid].wait(timeout=EARLY_LIMIT_S):
            pytest.fail(f"the command started early did not finish within {EARLY_LIMIT_S} s")
        result = self.results[nodeid]
        if isinstance(result, BaseException):
            raise result
        return result

    def stop(self):
        """At the end of the session: interrupt a command still running (as Ctrl-C does, so that
        it stops its LaTeX too), then remove the folders."""
        with self.lock:
            self.stopped = True
            process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.thread.join(timeout=30)  # it starts nothing more, and writes nothing once its command has ended
        shutil.rmtree(self.folder, ignore_errors=True)
