"""Training experiments: a config dataclass, a seeded run, and what the run establishes.

An experiment (project track A's in-context regression, track B's grokking, ...) trains models,
measures them, and compares the measurements with the theorems they illustrate. It is an
ordinary function of a config dataclass; this module holds the record that names it, the
result it returns and the registry the command line reads::

    transformer-proofs experiment NAME --out DIR [--config KEY=VALUE ...] [--device cpu|cuda]

A result separates what the experiment *checks* (a claim of ours with a stated tolerance: a
failed check is exit status 1) from what it *measures* (answers to the course's questions,
reported as they come out, with errata where the course's expectation fails).
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, TypeVar

from checkers.results import Erratum, Plot

T = TypeVar("T")


class Progress(Protocol):
    """Reports progress through a loop: ``for step in progress(range(n), n, "training"): ...``."""

    def __call__(self, iterable: Iterable[T], total: int, description: str) -> Iterable[T]: ...


def no_progress(iterable: Iterable[T], total: int, description: str) -> Iterable[T]:
    """The :class:`Progress` that shows nothing (tests, notebooks that want quiet output)."""
    return iterable


@dataclass(frozen=True)
class Check:
    """A claim the experiment tests with a stated tolerance, and whether the measurement passed it.

    >>> Check("nmse matches the closed form", passed=True, evidence="0.412 against 0.409 (0.7% < 5%)").passed
    True
    """

    claim: str
    passed: bool
    evidence: str

    def to_json(self) -> dict:
        return {"claim": self.claim, "passed": bool(self.passed), "evidence": self.evidence}


@dataclass(frozen=True)
class ExperimentResult:
    """What a run returns: JSON-ready metrics, figures, checks and errata.

    ``metrics`` holds numbers, strings, lists and dicts only (arrays as lists); ``figures`` are
    drawn by the numerics and written by the command as PDF and PNG files named after each
    :class:`~checkers.results.Plot`'s ``name``.
    """

    metrics: dict[str, Any]
    figures: tuple[Plot, ...] = ()
    checks: tuple[Check, ...] = ()
    errata: tuple[Erratum, ...] = ()

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)


@dataclass(frozen=True)
class Experiment:
    """A named experiment: its config dataclass and the function that runs it.

    ``run(config, device=..., progress=...)`` returns an :class:`ExperimentResult`. Every field of
    ``config`` has a default (the full size, minutes on a CPU); ``--config KEY=VALUE`` overrides them.
    ``theorems`` are the ids the experiment's measurements are compared with.
    """

    name: str
    title: str
    topic: str
    config: type
    run: Callable[..., ExperimentResult] = field(repr=False)
    theorems: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self):
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"experiment {self.name!r}: config must be a dataclass")


EXPERIMENTS = {
    "icl-regression": "checkers.icl.regression",
    "grokking": "checkers.circuits.grokking",
    "induction": "checkers.circuits.induction_training",
}
"""Experiment name -> the module whose ``EXPERIMENT`` it is, imported only when asked for
(training code imports torch, which ``--help`` and ``list`` must not pay for)."""


def experiment_names() -> tuple[str, ...]:
    return tuple(sorted(EXPERIMENTS))


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name is a ``KeyError`` that lists the known ones."""
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r} (known: {', '.join(experiment_names())})")
    return importlib.import_module(EXPERIMENTS[name]).EXPERIMENT


def parse_config(experiment: Experiment, assignments: Iterable[str]) -> Any:
    """The experiment's config with ``KEY=VALUE`` overrides applied; a ``ValueError`` names a bad one.

    Values are read as the field's type: ``int``, ``float``, ``bool`` (true/false/1/0/yes/no),
    ``str``, or a tuple of ints or floats written with commas (``k_range=5,50``).
    """
    hints = typing.get_type_hints(experiment.config)
    fields = {f.name for f in dataclasses.fields(experiment.config)}
    overrides = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key:
            raise ValueError(f"--config {assignment!r} is malformed; expected KEY=VALUE")
        if key not in fields:
            raise ValueError(f"{experiment.name} has no setting {key!r} (settings: {', '.join(sorted(fields))})")
        if not text and hints[key] is not str:  # a text setting may be empty (an experiment's "none")
            raise ValueError(f"--config {assignment!r} is malformed; expected KEY=VALUE")
        overrides[key] = _parse_value(key, text, hints[key])
    config = experiment.config(**overrides)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _parse_value(key: str, text: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin is tuple:
        (item, *rest) = typing.get_args(kind)
        return tuple(_parse_value(key, part.strip(), item) for part in text.split(","))
    if kind is bool:
        if text.lower() not in _TRUE | _FALSE:
            raise ValueError(f"--config {key}={text}: expected true or false")
        return text.lower() in _TRUE
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"--config {key}={text}: expected {kind.__name__}") from None
    if isinstance(value, float) and value != value:
        raise ValueError(f"--config {key}={text}: expected a number, not NaN")
    return value


def config_json(config: Any) -> dict:
    """The config as a JSON object (tuples as lists)."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(config).items()}
