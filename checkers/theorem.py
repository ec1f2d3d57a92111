"""The theorem record: one constructor for built-in and user theorems alike, and its anchors."""

from __future__ import annotations

import functools
import inspect
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from checkers.closed_form import compile_closed_form
from checkers.derivation_cache import with_evidence
from checkers.domains import Choice, Domain, Integer, Real
from checkers.policies import POLICIES, Deterministic, Policy
from checkers.results import Erratum, Plot, TheoremDefinitionError
from proofs.derivation import Derivation

BASES = ("derived", "supported", "numerical")


@dataclass(frozen=True)
class Anchor:
    """A value at one parameter point that the oracle did not compute: printed in a paper or the
    course, or worked by hand.

    ``check``/``verify`` compares the claim and the oracle with every anchor (``of="claim"`` or
    ``"oracle"`` for one of them, as for a bound whose anchor is the bound itself) and fails,
    naming the anchor, when either disagrees beyond ``atol + rtol |value|``. An oracle that only
    repeats the claim passes every comparison with the claim; an anchor catches it.

    For a theorem with random ``inputs``, ``inputs`` gives the anchor's own (one instance, no
    batch axis: a hand-built matrix, the sequence a paper prints); the rest are drawn as usual.

    >>> Anchor({"n": 4}, 10, "by hand: 1 + 2 + 3 + 4").describe()
    'n=4: 10 (by hand: 1 + 2 + 3 + 4)'
    >>> Anchor({"n": 2}, 5, "by hand: 1 + 4", inputs={"x": [1.0, 2.0]}).describe()
    'n=2, x=[1. 2.]: 5 (by hand: 1 + 4)'
    """

    params: Mapping[str, Any]
    value: Any
    source: str
    rtol: float = 1e-9
    atol: float = 0.0
    of: str = "both"
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        shown_inputs = {k: " ".join(np.array2string(np.asarray(v, dtype=float), precision=6).split()) for k, v in self.inputs.items()}
        point = ", ".join(f"{k}={v}" for k, v in {**self.params, **shown_inputs}.items())
        value = np.asarray(self.value)
        shown = f"{value.item():g}" if value.ndim == 0 else " ".join(np.array2string(value, precision=6).split())
        return f"{point}: {shown} ({self.source})"

    def to_json(self) -> dict:
        value = np.asarray(self.value, dtype=float)
        return {
            "params": dict(self.params),
            "value": value.item() if value.ndim == 0 else value.tolist(),
            "source": self.source,
            "rtol": self.rtol,
            "atol": self.atol,
            "of": self.of,
            "inputs": {k: np.asarray(v, dtype=float).tolist() for k, v in self.inputs.items()},
        }


_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True, eq=False)
class Theorem:
    """A theorem: a claim (from a derivation, or a callable), an independent oracle, and wrong claims to refute.

    Claim, oracle and mutants are called as ``f(**params, **inputs)`` on batches
    (first axis: the instance) and return arrays of shape ``(n, ...)``; each
    receives only the keywords its signature names. ``derivation`` builds a
    :class:`~proofs.derivation.Derivation` whose result is compiled (never
    retyped) into the claim; ``assemble(closed_form, **kw)``, when given, turns
    that compiled function into the claim (assembling blocks, selecting a
    leading sub-matrix) without restating the formula. ``values(**params,
    **inputs)`` returns the worked example's named values. ``figures(seed, **params)``
    returns the handout's :class:`~checkers.results.Plot` list at the example's
    parameters. ``errata`` lists claims of the course material this theorem shows false or
    loose. ``lemmas`` (only with ``claim=``) are builders of checked derivations that
    support a claim with no closed form: shown and counted, never compiled. ``questions``
    maps worked-example value names to what the student version asks (prose with ``$...$``
    math; by default it lists every value by name). ``variants`` names the parameters a handout variant redraws (with the domain
    to draw them from); by default every parameter that does not fix a shape. ``values`` and ``figures`` also receive ``data`` (a path the user gave, or None)
    when their signature names it. ``anchors`` (:class:`Anchor`) are values the oracle did not
    compute, compared with both claim and oracle. ``blind_spots`` maps a generated mutant's name
    to the reason the checker cannot refute it (a loose bound, a term too small to see).
    """

    id: str
    title: str
    topic: str
    statement: str
    assumptions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    parameters: Mapping[str, Domain] = field(default_factory=dict)
    inputs: Callable[..., Mapping[str, np.ndarray]] | None = None
    derivation: Callable[[], Derivation] | None = None
    claim: Callable[..., np.ndarray] | None = None
    oracle: Callable[..., Any] | None = None
    mutants: Mapping[str, Callable[..., np.ndarray]] = field(default_factory=dict)
    tolerance: Policy | None = None
    example: Mapping[str, Any] | None = None
    assemble: Callable[..., np.ndarray] | None = None
    values: Callable[..., Mapping[str, Any]] | None = None
    figures: Callable[..., list[Plot]] | None = None
    errata: tuple[Erratum, ...] = ()
    variants: Mapping[str, Domain] | None = None
    lemmas: tuple[Callable[[], Derivation], ...] = ()
    questions: Mapping[str, str] | None = None
    anchors: tuple[Anchor, ...] = ()
    blind_spots: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        problem = self._definition_problem()
        if problem:
            raise TheoremDefinitionError(f"theorem {self.id!r}: {problem}")
        object.__setattr__(self, "assumptions", tuple(self.assumptions))
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "parameters", dict(self.parameters))
        object.__setattr__(self, "mutants", dict(self.mutants))
        object.__setattr__(self, "errata", tuple(self.errata))
        object.__setattr__(self, "lemmas", tuple(self.lemmas))
        object.__setattr__(self, "anchors", tuple(self.anchors))
        object.__setattr__(self, "blind_spots", dict(self.blind_spots))
        # The module whose code constructed this theorem (the pytest plugin collects a theorem only there).
        caller = sys._getframe(2).f_globals.get("__name__", "")
        object.__setattr__(self, "defined_in", caller)

    def _definition_problem(self) -> str:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            return "the id must be kebab-case (lower-case letters, digits and hyphens)"
        if (self.derivation is None) == (self.claim is None):
            return "give exactly one of derivation= or claim="
        if self.lemmas and self.derivation is not None:
            return "lemmas= supports a claim= theorem; a derivation takes its lemmas in Derivation(lemmas=...)"
        if not all(callable(lemma) for lemma in tuple(self.lemmas)):
            return "lemmas= must hold builders of Derivations (functions taking no arguments)"
        if self.assemble is not None and self.derivation is None:
            return "assemble= only applies to a derivation's closed form"
        if not callable(self.oracle):
            return "oracle= must be a callable computing the same quantity independently"
        for name, domain in dict(self.parameters).items():
            if not isinstance(domain, (Integer, Real, Choice)):
                return f"parameter {name!r} must be an Integer, Real or Choice domain"
            if not domain.contains(domain.default_value()):
                return f"parameter {name!r}: default {domain.default_value()!r} is outside {domain.text()}"
        for name, mutant in dict(self.mutants).items():
            if not callable(mutant):
                return f"mutant {name!r} is not callable"
        for erratum in tuple(self.errata):
            if not isinstance(erratum, Erratum):
                return "errata= must hold Erratum records"
            if erratum.refuted_by is None and not erratum.evidence:
                return f"erratum {erratum.section!r}: name the mutant that refutes it (refuted_by=) or give evidence="
            if erratum.refuted_by is not None and erratum.refuted_by not in dict(self.mutants):
                return f"erratum {erratum.section!r}: refuted_by={erratum.refuted_by!r} is not one of the mutants"
        if self.questions is not None and not all(isinstance(q, str) for q in dict(self.questions).values()):
            return "questions= must map value names to question text"
        for name, domain in dict(self.variants or {}).items():
            if name not in dict(self.parameters) or not isinstance(domain, (Integer, Real, Choice)):
                return f"variants= must map parameter names to domains ({name!r} does not)"
        if self.figures is not None and not callable(self.figures):
            return "figures= must be a callable returning Plot records"
        if self.tolerance is not None and not isinstance(self.tolerance, POLICIES):
            return "tolerance= must be Deterministic(...), Statistical(...) or Bound(...)"
        for anchor in tuple(self.anchors):
            problem = self._anchor_problem(anchor)
            if problem:
                return problem
        if not all(isinstance(r, str) and r.strip() for r in dict(self.blind_spots).values()):
            return "blind_spots= must map generated mutant names to a one-line reason"
        for name, value in dict(self.example or {}).items():
            if name not in self.parameters:
                return f"example names an unknown parameter {name!r}"
            if not self.parameters[name].contains(value):
                return f"example value {name}={value!r} is outside {self.parameters[name].text()}"
        return ""

    def _anchor_problem(self, anchor) -> str:
        if not isinstance(anchor, Anchor):
            return "anchors= must hold Anchor records"
        if not anchor.source.strip():
            return f"anchor at {dict(anchor.params)}: give its source= (the paper, the course, the hand computation)"
        if anchor.of not in ("claim", "oracle", "both") or not (anchor.rtol >= 0 and anchor.atol >= 0):
            return f"anchor at {dict(anchor.params)}: of= is 'claim', 'oracle' or 'both', and rtol, atol are >= 0"
        if not np.all(np.isfinite(np.asarray(anchor.value, dtype=float))):
            return f"anchor at {dict(anchor.params)}: its value must be finite"
        if anchor.inputs and self.inputs is None:
            return f"anchor at {dict(anchor.params)}: inputs= given, but the theorem draws no inputs"
        for name, value in anchor.inputs.items():
            if not np.all(np.isfinite(np.asarray(value, dtype=float))):
                return f"anchor at {dict(anchor.params)}: input {name!r} must be finite"
        for name, value in anchor.params.items():
            if name not in self.parameters:
                return f"anchor names an unknown parameter {name!r}"
            if not self.parameters[name].contains(value):
                return f"anchor value {name}={value!r} is outside {self.parameters[name].text()}"
        return ""

    @property
    def basis(self) -> str:
        """``derived`` (claim compiled from the derivation), ``supported`` (a claim= with checked
        lemmas) or ``numerical`` (a claim= alone)."""
        if self.derivation is not None:
            return "derived"
        return "supported" if self.lemmas else "numerical"

    @property
    def policy(self) -> Policy:
        return self.tolerance or Deterministic()

    @property
    def shape_parameters(self) -> tuple[str, ...]:
        return tuple(n for n, d in self.parameters.items() if isinstance(d, Integer) and d.shape)

    def built_derivation(self) -> Derivation | None:
        return _build(self.derivation) if self.derivation else None

    def lemma_derivations(self) -> tuple[Derivation, ...]:
        """The checked lemmas shown before the derivation (or, for a claim= theorem, instead of one)."""
        derivation = self.built_derivation()
        return tuple(derivation.lemmas) if derivation else tuple(_build(lemma) for lemma in self.lemmas)

    def closed_form(self, label: str | None = None) -> Callable[..., np.ndarray]:
        """The derivation's result (or the step labelled ``label``), compiled for batches."""
        if self.derivation is None:
            raise TheoremDefinitionError(f"theorem {self.id!r} has no derivation")
        return _compiled(self.derivation, label)

    def evaluate_claim(self, **arguments) -> np.ndarray:
        if self.claim is not None:
            return call_with(self.claim, arguments)
        closed_form = self.closed_form()
        if self.assemble is not None:
            return call_with(functools.partial(self.assemble, closed_form), arguments)
        return closed_form(**arguments)

    def default_params(self) -> dict[str, Any]:
        params = {name: domain.default_value() for name, domain in self.parameters.items()}
        params.update(self.example or {})
        return params

    def __repr__(self) -> str:
        return f"Theorem({self.id!r}, {self.title!r})"


@functools.lru_cache(maxsize=None)
def _build(builder: Callable[[], Derivation]) -> Derivation:
    return with_evidence(builder, builder())


@functools.lru_cache(maxsize=None)
def _compiled(builder: Callable[[], Derivation], label: str | None):
    derivation = _build(builder)
    return compile_closed_form(derivation.expression(label) if label else derivation.result)


def call_with(function: Callable, arguments: Mapping[str, Any]):
    """Call ``function`` with the keywords its signature accepts (all of them if it takes ``**kwargs``)."""
    return function(**_accepted(function, arguments))


def _accepted(function: Callable, arguments: Mapping[str, Any]) -> dict:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return dict(arguments)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(arguments)
    names = {p.name for p in parameters}
    return {k: v for k, v in arguments.items() if k in names}

