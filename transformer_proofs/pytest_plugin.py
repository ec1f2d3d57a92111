"""pytest plugin: module-level ``Theorem`` objects in test files become test items.

A test file's theorems, whether it defines them or imports them from the user's own
package, are collected; the toolkit's built-in theorems (imported from ``checkers``)
are not, since the toolkit's own suite checks them. Each item runs ``tp.check``
(claim against oracle, every mutant refuted) with ``--tp-seed`` and
``--tp-instances``; a failure shows the shrunk counterexample and the lines that
replay it. Explicit ``tp.check(...)`` calls inside test functions take their own
``seed=``. Turn the plugin off with ``-p no:transformer_proofs``.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("transformer-proofs")
    group.addoption("--tp-seed", type=int, default=0, help="seed for checking Theorem items (default 0)")
    group.addoption("--tp-instances", type=int, default=1000, help="instances per Theorem item (default 1000)")


def pytest_configure(config):
    if config.getoption("tp_instances") < 1:
        raise pytest.UsageError("--tp-instances must be at least 1")
    if config.getoption("tp_seed") < 0:
        raise pytest.UsageError("--tp-seed must be a non-negative integer")


def pytest_pycollect_makeitem(collector, name, obj):
    from checkers.theorem import Theorem

    if isinstance(obj, Theorem) and obj.defined_in.split(".")[0] != "checkers":
        return TheoremItem.from_parent(collector, name=name, theorem=obj)
    return None


class TheoremItem(pytest.Item):
    """Checks one theorem: its claim is verified and every mutant is refuted."""

    def __init__(self, *, theorem, **kwargs):
        super().__init__(**kwargs)
        self.theorem = theorem

    def runtest(self):
        from checkers.engine import check

        check(self.theorem, instances=self.config.getoption("tp_instances"), seed=self.config.getoption("tp_seed"))

    def repr_failure(self, excinfo):
        from checkers.results import TheoremError, TheoremFailed

        if isinstance(excinfo.value, (TheoremFailed, TheoremError)):
            seed = self.config.getoption("tp_seed")
            return f"{excinfo.value}\nreplay: pytest {self.nodeid} --tp-seed {seed}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"theorem {self.theorem.id}"
