"""transformer-proofs: machine-checked derivations and numerical checkers for transformer theory.

>>> import transformer_proofs as tp
>>> theorem = tp.get("chinchilla-allocation")
>>> tp.check(theorem, instances=100).status
'verified'
"""

from checkers.domains import Choice, Integer, Real
from checkers.engine import check
from checkers.independence import Independence, independence
from checkers.policies import Bound, Deterministic, Statistical
from checkers.registry import UnknownTheorem
from checkers.results import (
    CheckResult,
    Erratum,
    MutantReport,
    Plot,
    Report,
    TheoremDefinitionError,
    TheoremError,
    TheoremFailed,
    WorkedExample,
    package_version,
)
from checkers.theorem import Anchor, Theorem
# Load the submodule before binding the function of the same name: importing
# transformer_proofs.render later must not replace tp.render with the module.
import transformer_proofs.render  # noqa: E402,F401  (isort: skip)
from transformer_proofs.api import errata, example, get, load_module, mutants, render, theorems, verify

__version__ = package_version()


def __getattr__(name):
    # Hypothesis is imported only by those who ask for the strategies.
    if name == "strategies":
        import importlib

        return importlib.import_module("transformer_proofs.strategies")
    raise AttributeError(f"module 'transformer_proofs' has no attribute {name!r}")


__all__ = [
    "Anchor",
    "Bound",
    "CheckResult",
    "Choice",
    "Erratum",
    "Independence",
    "Deterministic",
    "Integer",
    "MutantReport",
    "Plot",
    "Real",
    "Report",
    "Statistical",
    "Theorem",
    "TheoremDefinitionError",
    "TheoremError",
    "TheoremFailed",
    "UnknownTheorem",
    "WorkedExample",
    "check",
    "errata",
    "example",
    "get",
    "independence",
    "load_module",
    "mutants",
    "render",
    "theorems",
    "strategies",
    "verify",
]
