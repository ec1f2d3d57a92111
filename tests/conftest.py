"""Test-suite settings: in CI (CI=true) Hypothesis draws a fixed sequence, so a run is reproducible."""

import os
import sys

import pytest
from hypothesis import settings

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
