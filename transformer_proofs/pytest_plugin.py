"""pytest plugin: module-level ``Theorem`` objects in test files become test items.

Only theorems the test file itself defines are collected (not imported ones).
Each item runs ``tp.check`` (claim against oracle, every mutant refuted) with
``--tp-seed`` and ``--tp-instances``; a failure shows the shrunk
counterexample and the line that replays it. Turn the plugin off with
``-p no:transformer_proofs``.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("transformer-proofs")
    group.addoption("--tp-seed", type=int, default=0, help="seed for checking Theorem items (default 0)")
    group.addoption("--tp-instances", type=int, default=1000, help="instances per Theorem item (default 1000)")


def pytest_pycollect_makeitem(collector, name, obj):
    from checkers.checking import Theorem

    # Only theorems the test file defines: an imported one belongs to (and is checked in) its own module.
    if isinstance(obj, Theorem) and obj.defined_in == collector.obj.__name__:
        return TheoremItem.from_parent(collector, name=name, theorem=obj)
    return None


class TheoremItem(pytest.Item):
    """Checks one theorem: its claim is verified and every mutant is refuted."""

    def __init__(self, *, theorem, **kwargs):
        super().__init__(**kwargs)
        self.theorem = theorem

    def runtest(self):
        from checkers.checking import check

        config = self.config
        if config.getoption("tp_instances") < 1:
            raise pytest.UsageError("--tp-instances must be at least 1")
        check(self.theorem, instances=config.getoption("tp_instances"), seed=config.getoption("tp_seed"))

    def repr_failure(self, excinfo):
        from checkers.results import TheoremError, TheoremFailed

        if isinstance(excinfo.value, (TheoremFailed, TheoremError)):
            seed = self.config.getoption("tp_seed")
            return f"{excinfo.value}\nreplay with: pytest {self.nodeid} --tp-seed {seed}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"theorem {self.theorem.id}"
