import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = Path(sys.executable).with_name("transformer-proofs")


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
