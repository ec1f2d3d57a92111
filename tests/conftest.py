"""Test-suite settings: in CI (CI=true) Hypothesis draws a fixed sequence, so a run is reproducible."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import settings

# The suite keeps its checked derivations in a folder of its own (its subprocesses inherit it): a
# warm run reuses them, and the user's cache is neither read nor written.
os.environ.setdefault("TRANSFORMER_PROOFS_CACHE", tempfile.mkdtemp(prefix="transformer-proofs-test-cache-"))
# Commands run in this process unless a test asks for --workers: a test's monkeypatches reach no
# worker process, and starting workers for every two-theorem command would cost seconds each.
os.environ.setdefault("TRANSFORMER_PROOFS_WORKERS", "1")

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    """For a test that loads user theorem modules in this process (the command line's ``--module``).

    The registry keeps every module it loaded, by name, for the life of the process: the test
    gets a copy of the registry, and its own modules (those imported from ``tmp_path``) are
    forgotten afterwards, so that no later test sees its theorems (a later ``--all`` would check
    them) and two tests can use the same module name or theorem id.
    """
    from checkers.registry import REGISTRY

    REGISTRY.theorems()  # the built-ins are loaded before the copy, so the copy holds them
    monkeypatch.setattr(REGISTRY, "_theorems", dict(REGISTRY._theorems))
    monkeypatch.setattr(REGISTRY, "_modules", dict(REGISTRY._modules))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


# --- commands started when the suite is collected ---------------------------------------------
#
# Some command-line tests spend their time in commands whose results they only inspect afterwards
# (a PDF handout of every theorem: about 40 s; two processes compared byte for byte). The suite
# runs on one core; these commands start, each in its own process, as soon as the suite is
# collected, and run one after another on another core while the other tests run; each test then
# reads its finished results.

EARLY_COMMAND = Path(sys.executable).with_name("transformer-proofs")
EARLY_LIMIT_S = 900


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "started_early(*commands, env={}, files={}): each command (a tuple of the installed command's arguments) "
        "starts when the suite is collected, in a folder of its own holding files (name: text) and put first on "
        "PYTHONPATH, with env added to the environment; the test gets [(CompletedProcess, folder), ...] from early_run",
    )


_EARLY = pytest.StashKey()


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected what they deselect
def pytest_collection_finish(session):
    commands = {}
    for item in session.items:
        marker = item.get_closest_marker("started_early")
        skipped = any(m.args and m.args[0] is True for m in item.iter_markers("skipif"))
        if marker is not None and not skipped:
            commands[item.nodeid] = ([tuple(map(str, c)) for c in marker.args], marker.kwargs.get("env", {}), marker.kwargs.get("files", {}))
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
        # The environment of collection time: tests running meanwhile monkeypatch os.environ (a block size, say).
        self.environment = dict(os.environ)
        self.thread = threading.Thread(target=self._run_all, args=(commands,), daemon=True)
        self.thread.start()

    def _run_all(self, commands):
        for index, (nodeid, (test_commands, env, files)) in enumerate(commands.items()):
            try:
                folders = [self.folder / f"{index}-{n}" for n in range(len(test_commands))]
                self.results[nodeid] = [self._run(args, folder, env, files) for args, folder in zip(test_commands, folders)]
            except BaseException as error:  # the test reports it
                self.results[nodeid] = error
            finally:
                self.done[nodeid].set()

    def _run(self, args, folder, env, files):
        with self.lock:
            if self.stopped:
                raise RuntimeError("the session ended before the command started")
            folder.mkdir()
            for name, text in files.items():
                (folder / name).write_text(text)
            environment = {**self.environment, **env}
            environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), environment.get("PYTHONPATH")]))
            out, err = open(folder / "stdout", "w"), open(folder / "stderr", "w")
            self.process = subprocess.Popen([str(EARLY_COMMAND), *args], cwd=folder, env=environment, stdout=out, stderr=err)
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
