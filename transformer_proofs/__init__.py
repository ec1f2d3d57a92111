"""transformer-proofs: machine-checked derivations and numerical checkers for transformer theory.

>>> import transformer_proofs as tp
>>> theorem = tp.get("chinchilla-allocation")
>>> tp.check(theorem, instances=100).status
'verified'

The names below are loaded on first use, so that importing the package (as the pytest plugin
does in every test run of a machine where it is installed) costs nothing until a theorem is
needed: no SymPy, NumPy, torch or Jinja2 at import.
"""

import importlib
import importlib.metadata
import sys
import types

_EXPORTS = {
    "checkers.domains": ("Choice", "Integer", "Real"),
    "checkers.engine": ("check",),
    "checkers.independence": ("Independence", "independence"),
    "checkers.policies": ("Bound", "Deterministic", "Statistical"),
    "checkers.registry": ("UnknownTheorem",),
    "checkers.results": (
        "CheckResult",
        "Erratum",
        "MutantReport",
        "Plot",
        "Report",
        "TheoremDefinitionError",
        "TheoremError",
        "TheoremFailed",
        "WorkedExample",
        "package_version",
    ),
    "checkers.theorem": ("Anchor", "Theorem"),
    "transformer_proofs.api": ("errata", "example", "get", "load_module", "mutants", "render", "theorems", "verify"),
    "transformer_proofs.experiments": ("run_experiment",),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

try:
    __version__ = importlib.metadata.version("transformer-proofs")
except importlib.metadata.PackageNotFoundError:
    __version__ = "0+unknown"


def __getattr__(name):
    if name == "strategies":
        # Hypothesis is imported only by those who ask for the strategies.
        return importlib.import_module("transformer_proofs.strategies")
    if name not in _HOME:
        raise AttributeError(f"module 'transformer_proofs' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    if name != "render":
        globals()[name] = value
    return value


class _Package(types.ModuleType):
    """This package's module type: ``tp.render`` is the function ``api.render`` even after the
    submodule ``transformer_proofs.render`` is imported (the import system would bind the module
    to the same name; that binding is declined)."""

    @property
    def render(self):
        return __getattr__("render")

    @render.setter
    def render(self, value):
        if not isinstance(value, types.ModuleType):
            raise AttributeError("tp.render is the handout function; it cannot be replaced")


sys.modules[__name__].__class__ = _Package


def __dir__():
    return sorted(set(globals()) | set(_HOME) | {"strategies"})


__all__ = sorted(_HOME) + ["strategies"]
