"""transformer-proofs: machine-checked derivations and numerical checkers for transformer theory.

>>> import transformer_proofs as tp
>>> theorem = tp.get("chinchilla-allocation")
>>> tp.check(theorem, instances=100).status
'verified'
"""

from checkers.checking import (
    Choice,
    Deterministic,
    Integer,
    Real,
    Statistical,
    Theorem,
    TheoremDefinitionError,
    UnknownTheorem,
    check,
)
from checkers.results import (
    CheckResult,
    MutantReport,
    Report,
    TheoremError,
    TheoremFailed,
    WorkedExample,
    package_version,
)
from transformer_proofs.api import example, get, load_module, mutants, render, theorems, verify

__version__ = package_version()

__all__ = [
    "CheckResult",
    "Choice",
    "Deterministic",
    "Integer",
    "MutantReport",
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
    "example",
    "get",
    "load_module",
    "mutants",
    "render",
    "theorems",
    "verify",
]
