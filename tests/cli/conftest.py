import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = Path(sys.executable).with_name("transformer-proofs")


@pytest.fixture
def tp(tmp_path):
    """Run the installed command in a subprocess; returns the CompletedProcess."""

    def run(*args, env=None, cwd=None):
        environment = {**os.environ, **(env or {})}
        return subprocess.run(
            [str(COMMAND), *map(str, args)], capture_output=True, text=True, cwd=cwd or tmp_path, env=environment, timeout=600
        )

    return run
