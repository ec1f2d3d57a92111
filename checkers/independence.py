"""Whether a theorem's oracle is independent of its claim: the project functions each one reaches.

Trust rule: the oracle reaches no project function that the claim reaches. A shared softmax, a
shared helper that builds a matrix, or an oracle that root-finds the derivation's own equation
through the same project code makes an error in that code invisible, because both sides repeat
it. This module runs claim and oracle once each on the theorem's default parameters under a
profiler and lists the functions of the project packages (``proofs``, ``numerics``,
``checkers`` and the package that defined the theorem) that each called.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from checkers.sampling import single_instance
from checkers.theorem import Theorem, call_with

_PROJECT_PACKAGES = ("proofs", "numerics", "checkers")
# The engine's glue that calls claim and oracle (keyword filtering, the claim's assembly) is on both paths by
# design; numerics.threads only sets how many threads torch and BLAS use, and computes nothing either side could share.
_GLUE_MODULES = frozenset({"checkers.theorem", "numerics.threads", __name__})


@dataclass(frozen=True)
class Independence:
    """The project functions (``module:qualname``) reached by the claim and by the oracle.

    ``shared`` is what both reach: empty for an independent oracle.
    """

    claim: frozenset[str]
    oracle: frozenset[str]

    @property
    def shared(self) -> frozenset[str]:
        return self.claim & self.oracle


def independence(theorem: Theorem, seed: int = 0) -> Independence:
    """Run claim and oracle once on one instance at the theorem's default parameters, and list
    the project functions each reached.

    >>> import transformer_proofs as tp
    >>> tp.independence(tp.get("softmax-variance")).shared
    frozenset()
    """
    group = single_instance(theorem, theorem.default_params(), seed)
    arguments = {**group.arguments(), "device": "cpu"}
    roots = _project_roots(theorem)
    claim = _reached(lambda: theorem.evaluate_claim(**arguments), roots)
    oracle_arguments = {**arguments, "rng": np.random.default_rng(seed), **theorem.policy.oracle_keywords()}
    oracle = _reached(lambda: call_with(theorem.oracle, oracle_arguments), roots)
    return Independence(claim, oracle)


def _project_roots(theorem: Theorem) -> tuple[str, ...]:
    packages = set(_PROJECT_PACKAGES)
    packages.add(theorem.defined_in.split(".")[0])
    roots = []
    for name in packages:
        module = sys.modules.get(name)
        for path in getattr(module, "__path__", None) or [getattr(module, "__file__", None) or ""]:
            if path:
                roots.append(str(Path(path).resolve().parent if path.endswith(".py") else Path(path).resolve()))
    return tuple(roots)


def _reached(run: Callable[[], object], roots: tuple[str, ...]) -> frozenset[str]:
    found: set[str] = set()

    def record(frame, event, _arg):
        if event != "call":
            return
        module = frame.f_globals.get("__name__", "")
        if module in _GLUE_MODULES:
            return
        if frame.f_code.co_filename.startswith(roots):
            found.add(f"{module}:{frame.f_code.co_qualname}")

    previous = sys.getprofile()
    sys.setprofile(record)
    try:
        run()
    finally:
        sys.setprofile(previous)
    return frozenset(found)
