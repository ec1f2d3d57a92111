"""A disk cache of checked derivations: SymPy's verdict on every step, kept between runs.

Re-checking every derivation costs seconds of SymPy in each new process although the
derivations rarely change. A checked derivation's evidence (which steps were proved, sampled,
given) is written to a JSON file whose name is a digest of

* the derivation itself (:func:`proofs.derivation.fingerprint`: every statement, rule and text),
* the source of the module that built it and of the ``proofs`` modules that module uses,
* the source of the step checker (``proofs/derivation.py``), the package version and SymPy's version,

so an edit to a derivation, to the code that builds it or to the checker invalidates exactly the
entries it must. A derivation that does not check is never written, so a failure is always
re-done and reported. The cache lives in the user's cache folder (``$XDG_CACHE_HOME`` or
``~/.cache``, then ``transformer-proofs``); ``TRANSFORMER_PROOFS_CACHE`` names another folder,
or turns the cache off with ``off`` (the command line's ``--no-cache``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import types
from pathlib import Path
from typing import Callable

import sympy

from checkers.results import package_version
from proofs import derivation as derivation_module
from proofs.derivation import Derivation, DerivationError, evidence_record, fingerprint, restore_evidence

CACHE_VARIABLE = "TRANSFORMER_PROOFS_CACHE"
OFF = "off"


def cache_folder() -> Path | None:
    """Where checked derivations are kept, or None when the cache is off."""
    chosen = os.environ.get(CACHE_VARIABLE, "")
    if chosen.lower() == OFF:
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "transformer-proofs"


def with_evidence(builder: Callable[[], Derivation], derivation: Derivation) -> Derivation:
    """``derivation`` (just built by ``builder``) with its steps' evidence restored from the cache,
    or checked now and written to it. A derivation that does not check is left unchecked: its
    check raises when it is asked for, as without the cache."""
    folder = cache_folder()
    if folder is None:
        return derivation
    entry = folder / f"{_key(builder, derivation)}.json"
    try:
        record = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if record is not None and restore_evidence(derivation, record):
        return derivation
    try:
        record = evidence_record(derivation)
    except DerivationError:
        return derivation
    _write(entry, record)
    return derivation


def _key(builder: Callable[[], Derivation], derivation: Derivation) -> str:
    digest = hashlib.sha256()
    for part in (package_version(), sympy.__version__, fingerprint(derivation), _sources_digest(builder.__module__)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:32]


@functools.lru_cache(maxsize=None)
def _sources_digest(module_name: str) -> str:
    """A digest of the source of ``module_name``, of every ``proofs`` module it uses, and of the checker."""
    digest = hashlib.sha256()
    for name in sorted(_proof_modules(module_name) | {module_name, derivation_module.__name__}):
        path = getattr(sys.modules.get(name), "__file__", None)
        digest.update(name.encode() + b"\0" + (Path(path).read_bytes() if path else b"") + b"\0")
    return digest.hexdigest()


def _proof_modules(module_name: str) -> set[str]:
    """The ``proofs`` modules that ``module_name`` uses, directly or through one another."""
    found: set[str] = set()
    pending = [module_name]
    while pending:
        module = sys.modules.get(pending.pop())
        for value in vars(module).values() if module else ():
            name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(name, str) and name.split(".")[0] == "proofs" and name not in found and name in sys.modules:
                found.add(name)
                pending.append(name)
    return found


def _write(entry: Path, record: dict) -> None:
    """Write the entry whole or not at all; a cache that cannot be written is no cache, not an error."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_name(f"{entry.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, entry)
    except OSError:
        pass
