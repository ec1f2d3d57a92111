"""Theorems, their parameter domains, the registry, and the numeric checker.

A :class:`Theorem` pairs a claim (the compiled closed form of its derivation,
or a callable) with an independent oracle. :func:`check` samples parameter
points from the domains, evaluates claim and oracle on whole batches of
instances, compares them under the theorem's tolerance policy, shrinks the
worst disagreement to a readable counterexample, and runs every mutant (a
plausible wrong claim) through the same comparison: a mutant is refuted only
by a finite, significant disagreement.

>>> import numpy as np
>>> triangular = Theorem(
...     "triangular-sum", "Sum of the first n integers", "user", r"\\sum k = n(n+1)/2",
...     parameters={"n": Integer(1, 10_000)},
...     claim=lambda n: n * (n + 1) / 2,
...     oracle=lambda n: np.cumsum(np.arange(1, 10_001))[n - 1],
...     mutants={"n^2/2": lambda n: n**2 / 2},
... )
>>> check(triangular, instances=200).status
'verified'
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import math
import pkgutil
import re
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from checkers.closed_form import compile_closed_form
from checkers.results import (
    CheckResult,
    Counterexample,
    MutantOutcome,
    Erratum,
    MutantResult,
    NumericSummary,
    Plot,
    TheoremError,
    TheoremFailed,
    WorkedExample,
)
from proofs.derivation import Derivation, DerivationError

TOPICS = ("attention", "icl", "scaling", "circuits", "ssm")
MUTANT_INSTANCES = 200
_SHRINK_BUDGET = 40


class TheoremDefinitionError(ValueError):
    """A Theorem was constructed with inconsistent or missing pieces."""


class UnknownTheorem(KeyError):
    """No theorem has this id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown theorem"


# --- parameter domains ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Domain:
    where: Callable[[Any], bool] | None = field(default=None, kw_only=True)
    default: Any = field(default=None, kw_only=True)
    condition: str = field(default="", kw_only=True)  # the where= predicate in words, for error messages

    def contains(self, value) -> bool:
        return self._in_range(value) and (self.where is None or bool(self.where(value)))

    def default_value(self):
        return self.default if self.default is not None else self._first()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` values drawn from the domain; ``where`` by rejection (at most 100 rounds)."""
        values = self._draw(rng, n)
        if self.where is None:
            return values
        for _ in range(100):
            bad = ~np.array([bool(self.where(v)) for v in values], dtype=bool)
            if not bad.any():
                return values
            values[bad] = self._draw(rng, int(bad.sum()))
        raise TheoremDefinitionError(f"{self!r}: the where= predicate rejects almost every value")

    def check_value(self, name: str, value) -> None:
        if not self._in_range(value):
            raise ValueError(f"parameter {name}={value!r} is outside its domain {self.text()}")
        if not self.contains(value):
            rule = self.condition or "its where= condition"
            raise ValueError(f"parameter {name}={value!r} is in {self.text()} but fails {rule}")


@dataclass(frozen=True)
class Integer(_Domain):
    """Integers ``low, low + step, ..., <= high`` (bounds inclusive).

    ``shape=True`` marks a parameter that fixes array shapes (a dimension, a
    sequence length): instances are grouped by its value and the theorem's
    functions receive it as a Python ``int`` rather than an array.
    """

    low: int
    high: int
    step: int = 1
    shape: bool = field(default=False, kw_only=True)

    def __post_init__(self):
        if self.step < 1 or self.high < self.low:
            raise TheoremDefinitionError(f"Integer({self.low}, {self.high}, step={self.step}) is empty")

    def _in_range(self, value) -> bool:
        if not _is_number(value) or not float(value).is_integer():
            return False
        return self.low <= value <= self.high and (int(value) - self.low) % self.step == 0

    def _first(self) -> int:
        return self.low

    def _draw(self, rng, n):
        count = (self.high - self.low) // self.step + 1
        return self.low + self.step * rng.integers(0, count, size=n)

    def parse(self, name: str, text: str) -> int:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"parameter {name}={text!r} is not a number (expected an integer)") from None
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"parameter {name}={text!r} is not an integer")
        self.check_value(name, int(value))
        return int(value)

    def simpler(self, value) -> list[int]:
        """Values closer to ``low``, simplest first: low, the default, then points halving the distance."""
        candidates = [self.low, self.default_value()]
        distance = int(value) - self.low
        while distance > self.step:
            distance //= 2
            candidates.append(self.low + distance - distance % self.step)
        closer = (c for c in candidates if abs(c - self.low) < abs(value - self.low) and self.contains(c))
        return sorted(_distinct(closer), key=lambda c: abs(c - self.low))

    def text(self) -> str:
        step = f" in steps of {self.step}" if self.step > 1 else ""
        return f"integers {self.low}..{self.high}{step}"

    def describe(self) -> dict:
        return {"type": "integer", "low": self.low, "high": self.high, "default": self.default_value(), "step": self.step}


@dataclass(frozen=True)
class Real(_Domain):
    """Reals in ``[low, high]``; ``log=True`` samples log-uniformly (for scales spanning decades)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        if not (self.low <= self.high) or (self.log and self.low <= 0):
            raise TheoremDefinitionError(f"Real({self.low}, {self.high}, log={self.log}) is not a valid range")

    def _in_range(self, value) -> bool:
        return _is_number(value) and math.isfinite(value) and self.low <= value <= self.high

    def _first(self) -> float:
        return float(self.low)

    def _draw(self, rng, n):
        if self.log:
            return np.exp(rng.uniform(np.log(self.low), np.log(self.high), size=n))
        return rng.uniform(self.low, self.high, size=n)

    def parse(self, name: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"parameter {name}={text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"parameter {name}={text!r} must be finite")
        self.check_value(name, value)
        return value

    def simpler(self, value) -> list[float]:
        rounded = [float(f"{value:.{digits}g}") for digits in (1, 2)]
        candidates = [self.default_value(), *rounded]
        return _distinct(c for c in candidates if c != value and self.contains(c))

    def text(self) -> str:
        return f"reals in [{self.low:g}, {self.high:g}]"

    def describe(self) -> dict:
        return {"type": "real", "low": self.low, "high": self.high, "default": self.default_value(), "log": self.log}


@dataclass(frozen=True)
class Choice(_Domain):
    """One of a fixed tuple of values (numbers or strings)."""

    values: tuple

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise TheoremDefinitionError("Choice() needs at least one value")

    def _in_range(self, value) -> bool:
        return any(value == v for v in self.values)

    def _first(self):
        return self.values[0]

    def _draw(self, rng, n):
        return np.asarray(self.values)[rng.integers(0, len(self.values), size=n)]

    def parse(self, name: str, text: str):
        for v in self.values:
            if str(v) == text or (not isinstance(v, str) and _float_or_none(text) == v):
                return v
        raise ValueError(f"parameter {name}={text!r} is not one of {', '.join(map(str, self.values))}")

    def simpler(self, value) -> list:
        return [v for v in self.values[: self.values.index(value)] if self.contains(v)] if value in self.values else []

    def text(self) -> str:
        return "one of " + ", ".join(map(str, self.values))

    def describe(self) -> dict:
        numeric = all(isinstance(v, (int, float)) for v in self.values)
        return {
            "type": "choice",
            "low": min(self.values) if numeric else None,
            "high": max(self.values) if numeric else None,
            "default": self.default_value(),
            "values": list(self.values),
        }


def _is_number(value) -> bool:
    """A real number (not a bool, not a string)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _float_or_none(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def _distinct(values) -> list:
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


Domain = Integer | Real | Choice


# --- tolerance policies ---------------------------------------------------------------------


@dataclass(frozen=True)
class Deterministic:
    """Pass when ``|claim - oracle| <= atol + rtol |oracle| + oracle_accuracy``, elementwise.

    ``reason`` says where the numbers come from (float64 rounding times the
    conditioning of the claim, plus the oracle's own stated accuracy). An
    oracle that knows its accuracy per instance returns ``(values, accuracy)``.
    """

    rtol: float = 1e-9
    atol: float = 0.0
    reason: str = "user default: float64 arithmetic with a generous condition number"

    name = "deterministic"

    def describe(self) -> dict:
        return {"atol": self.atol, "rtol": self.rtol}


@dataclass(frozen=True)
class Statistical:
    """A Monte Carlo claim: the oracle returns ``draws`` samples per instance, whose mean estimates the claim.

    The oracle is called with ``draws``, ``batches`` and ``rng``. The draws are
    cut into ``batches`` consecutive batches of ``draws // batches``; batch
    means give the standard error (so heavy-tailed statistics such as fourth
    moments are covered by the central limit theorem on batch means). Each
    instance and component is a two-sided Student t test with ``batches - 1``
    degrees of freedom; the threshold is Bonferroni-corrected over all
    instances and components, so the whole run raises a false alarm with
    probability at most ``false_alarm`` *if the batch means are normal*.
    That is nominal in the far tail: for skewed statistics the t test is
    anti-conservative at small levels, so oracles should average enough within
    each batch to make batch means nearly symmetric, and the calibration test
    measures the rate where it can be measured (alpha = 1e-2).
    """

    false_alarm: float = 1e-9
    batches: int = 30
    draws: int = 3000

    name = "statistical"

    def __post_init__(self):
        if not 0 < self.false_alarm < 1 or self.batches < 2 or self.draws % self.batches:
            raise TheoremDefinitionError(
                "Statistical needs 0 < false_alarm < 1, at least 2 batches, and draws divisible by batches"
            )

    def threshold(self, tests: int) -> float:
        from scipy import stats

        return float(stats.t.isf(self.false_alarm / (2 * tests), self.batches - 1))

    def describe(self, tests: int = 1) -> dict:
        return {"false_alarm": self.false_alarm, "threshold": self.threshold(tests)}


Policy = Deterministic | Statistical


# --- the theorem record ---------------------------------------------------------------------

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
    when their signature names it.
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
        if self.tolerance is not None and not isinstance(self.tolerance, (Deterministic, Statistical)):
            return "tolerance= must be Deterministic(...) or Statistical(...)"
        for name, value in dict(self.example or {}).items():
            if name not in self.parameters:
                return f"example names an unknown parameter {name!r}"
            if not self.parameters[name].contains(value):
                return f"example value {name}={value!r} is outside {self.parameters[name].text()}"
        return ""

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
    return builder()


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


# --- the registry ---------------------------------------------------------------------------


class Registry:
    """Theorems by id: the built-in topics, entry-point modules and modules given by the user."""

    def __init__(self):
        self._theorems: dict[str, Theorem] = {}
        self._modules: dict[str, list[Theorem]] = {}
        self._builtins_loaded = False

    def load_module(self, module_name: str) -> list[Theorem]:
        """Import ``module_name`` and register its module-level Theorem objects."""
        if module_name in self._modules:
            return self._modules[module_name]
        self._ensure_builtins()  # so that a clash is reported against the user's module, not ours
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            raise ValueError(f"cannot import theorem module {module_name!r}: {type(error).__name__}: {error}") from None
        found = [v for v in vars(module).values() if isinstance(v, Theorem)]
        for theorem in found:
            existing = self._theorems.get(theorem.id)
            if existing is not None and existing is not theorem:
                raise ValueError(f"duplicate theorem id {theorem.id!r} in module {module_name!r}")
            self._theorems[theorem.id] = theorem
        self._modules[module_name] = found
        return found

    def _ensure_builtins(self) -> None:
        if self._builtins_loaded:
            return
        self._builtins_loaded = True
        for topic in TOPICS:
            if importlib.util.find_spec(f"checkers.{topic}") is not None:
                for module in _topic_modules(f"checkers.{topic}"):
                    self.load_module(module)
        for entry in importlib.metadata.entry_points(group="transformer_proofs.theorems"):
            self.load_module(entry.value)

    def theorems(self, topic: str | None = None) -> list[Theorem]:
        self._ensure_builtins()
        order = {t: i for i, t in enumerate(TOPICS)}
        chosen = [t for t in self._theorems.values() if topic is None or t.topic == topic]
        return sorted(chosen, key=lambda t: order.get(t.topic, len(order)))

    def holds(self, theorem: Theorem) -> bool:
        """Whether this very theorem is registered (so that ``tp.check(id)`` finds it)."""
        self._ensure_builtins()
        return self._theorems.get(theorem.id) is theorem

    def get(self, theorem_id: str) -> Theorem:
        self._ensure_builtins()
        if theorem_id not in self._theorems:
            known = ", ".join(sorted(self._theorems))
            raise UnknownTheorem(f"unknown theorem id {theorem_id!r} (known: {known})")
        return self._theorems[theorem_id]


def _topic_modules(name: str) -> list[str]:
    """A topic module, or a topic package followed by its submodules in ``ORDER`` (else alphabetical)."""
    package = importlib.import_module(name)
    if not hasattr(package, "__path__"):
        return [name]
    found = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    order = list(getattr(package, "ORDER", ()))
    found.sort(key=lambda m: order.index(m) if m in order else len(order))
    return [name] + [f"{name}.{m}" for m in found]


REGISTRY = Registry()


# --- sampling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Instances sharing the values of the shape parameters, evaluated in one batched call."""

    params: dict[str, Any]
    inputs: dict[str, np.ndarray]
    index: np.ndarray
    seed: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return len(self.index)

    def arguments(self) -> dict[str, Any]:
        return {**self.params, **self.inputs}

    def instance(self, i: int) -> dict[str, Any]:
        """The parameters of instance ``i`` of this group as plain Python values."""
        return {k: _plain(v if np.ndim(v) == 0 else v[i]) for k, v in self.params.items()}


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def draw_instances(theorem: Theorem, instances: int, seed: int, device: str = "cpu") -> list[Group]:
    """Sample ``instances`` parameter points (and their inputs), grouped by the shape parameters."""
    rng = np.random.default_rng(seed)
    params = {name: domain.sample(rng, instances) for name, domain in theorem.parameters.items()}
    shapes = theorem.shape_parameters
    keys = list(zip(*(params[s] for s in shapes))) if shapes else [()] * instances
    groups = []
    for number, key in enumerate(sorted(set(keys))):
        index = np.array([i for i, k in enumerate(keys) if k == key])
        group_params = {n: v[index] for n, v in params.items()}
        group_params.update({s: int(k) for s, k in zip(shapes, key)})
        groups.append(_with_inputs(theorem, group_params, index, (seed, number), device))
    return groups


def single_instance(theorem: Theorem, params: Mapping[str, Any], seed: int, device: str = "cpu") -> Group:
    """One instance at fixed parameter values, inputs drawn from ``seed``."""
    shapes = set(theorem.shape_parameters)
    group_params = {n: (int(v) if n in shapes else np.array([v])) for n, v in params.items()}
    return _with_inputs(theorem, group_params, np.array([0]), (seed,), device)


def split_instances(group: Group) -> list[Group]:
    """The same instances one at a time (for the per-instance baseline and for shrinking)."""
    singles = []
    for i in range(group.size):
        params = {k: (v if np.ndim(v) == 0 else v[i : i + 1]) for k, v in group.params.items()}
        inputs = {k: v[i : i + 1] for k, v in group.inputs.items()}
        singles.append(Group(params, inputs, group.index[i : i + 1], group.seed + (i,)))
    return singles


def _with_inputs(theorem, params, index, seed: tuple[int, ...], device) -> Group:
    inputs = {}
    if theorem.inputs is not None:
        rng = np.random.default_rng(seed)
        inputs = dict(call_with(theorem.inputs, {"rng": rng, "n": len(index), "device": device, **params}))
    return Group(params, inputs, index, seed)


# --- evaluation and comparison --------------------------------------------------------------


def _evaluate(theorem: Theorem, role: str, function: Callable, group: Group, device: str, extra=None):
    arguments = {**group.arguments(), "device": device, **(extra or {})}
    try:
        if role == "claim":
            value = theorem.evaluate_claim(**arguments)
        else:
            value = call_with(function, arguments)
    except (TheoremError, DerivationError):
        raise
    except Exception as error:
        raise TheoremError(f"{theorem.id}: the {role} raised {type(error).__name__}: {error}") from error
    return value


def _as_batch(theorem: Theorem, role: str, value, size: int, *, finite: bool = True) -> np.ndarray:
    array = _to_numpy(value)
    if array.ndim == 0 or array.shape[0] != size:
        raise TheoremError(
            f"{theorem.id}: the {role} returned shape {array.shape}, expected a first axis of {size} instances"
        )
    if finite and not np.all(np.isfinite(array)):
        raise TheoremError(f"{theorem.id}: the {role} returned NaN or infinite values")
    return array


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


@dataclass
class _OracleValues:
    """The oracle's output for one group, computed once and shared by the claim and every mutant."""

    group: Group
    values: np.ndarray
    accuracy: np.ndarray | float = 0.0


def _oracle_values(theorem: Theorem, group: Group, device: str) -> _OracleValues:
    policy = theorem.policy
    # The oracle's own randomness (Monte Carlo) is seeded apart from the inputs, so the same seed replays it.
    extra = {"rng": np.random.default_rng(group.seed + (1,))}
    if isinstance(policy, Statistical):
        extra.update(draws=policy.draws, batches=policy.batches)
    raw = _evaluate(theorem, "oracle", theorem.oracle, group, device, extra)
    accuracy = 0.0
    if isinstance(raw, tuple):
        raw, accuracy = raw
    values = _as_batch(theorem, "oracle", raw, group.size)
    if isinstance(accuracy, np.ndarray) or np.ndim(accuracy):
        # A per-instance accuracy (n,) applies to every entry of that instance's value.
        accuracy = _to_numpy(accuracy)
        accuracy = accuracy.reshape(accuracy.shape + (1,) * (values.ndim - accuracy.ndim))
    if isinstance(policy, Statistical) and values.ndim < 2:
        raise TheoremError(f"{theorem.id}: a statistical oracle must return (instances, draws, ...) samples")
    return _OracleValues(group, values, accuracy)


def evaluate_group(theorem: Theorem, group: Group, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """The claim and the oracle on one group of instances: what the checker compares."""
    oracle = _oracle_values(theorem, group, device)
    claim = _evaluate(theorem, "claim", None, group, device)
    return _as_batch(theorem, "claim", claim, group.size), oracle.values


@dataclass
class _Comparison:
    """Per-instance errors (in units of the tolerance) and what is needed to report them."""

    errors: np.ndarray
    reference: np.ndarray
    tests: int = 1
    standard_error: np.ndarray | None = None


def _compare(policy: Policy, claim: np.ndarray, oracle: _OracleValues, tests: int) -> _Comparison:
    if isinstance(policy, Statistical):
        return _compare_statistical(policy, claim, oracle.values, tests)
    if claim.shape != oracle.values.shape:
        raise TheoremError(f"claim has shape {claim.shape[1:]} per instance, oracle {oracle.values.shape[1:]}")
    budget = policy.atol + policy.rtol * np.abs(oracle.values) + oracle.accuracy
    gap = np.abs(claim - oracle.values)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(gap == 0, 0.0, gap / budget)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    return _Comparison(ratio.reshape(len(claim), -1).max(axis=1), oracle.values)


def _compare_statistical(policy: Statistical, claim, draws, tests) -> _Comparison:
    n, m = draws.shape[:2]
    if claim.shape != (n,) + draws.shape[2:]:
        raise TheoremError(f"claim has shape {claim.shape[1:]} per instance, oracle draws {draws.shape[2:]}")
    used = m - m % policy.batches
    batch_means = draws[:, :used].reshape(n, policy.batches, used // policy.batches, *draws.shape[2:]).mean(axis=2)
    mean = batch_means.mean(axis=1)
    standard_error = batch_means.std(axis=1, ddof=1) / math.sqrt(policy.batches)
    floor = 1e-13 * (np.abs(mean) + np.abs(claim)) + np.finfo(float).tiny
    t = np.abs(mean - claim) / np.maximum(standard_error, floor)
    errors = t.reshape(n, -1).max(axis=1) / policy.threshold(tests)
    return _Comparison(errors, mean, tests, np.maximum(standard_error, floor))


def _tests(oracles: list[_OracleValues]) -> int:
    """The number of simultaneous tests (instances times components) a statistical threshold covers."""
    return sum(int(np.prod(o.values.shape[:1] + o.values.shape[2:])) for o in oracles)


# --- checking -------------------------------------------------------------------------------


def check(theorem: Theorem | str, *, instances: int = 1000, seed: int = 0, device: str = "cpu") -> CheckResult:
    """Check a theorem and all its mutants; raise :class:`TheoremFailed` unless everything holds.

    Returns the :class:`CheckResult` (with ``.mutants``) when the claim is
    verified and every mutant is refuted.
    """
    __tracebackhide__ = True  # pytest shows the failure at the user's call, not inside the engine
    theorem = REGISTRY.get(theorem) if isinstance(theorem, str) else theorem
    result = run_check(theorem, instances=instances, seed=seed, device=device, mutants=True)
    if result.status == "error":
        raise TheoremError(result.message)
    survivors = [m for m in result.mutants if not m.refuted]
    if result.status != "verified" or survivors:
        lines = [result.message] if result.status != "verified" else []
        lines += [f"{theorem.id}: mutant {m.name!r} survived: {m.evidence}" for m in survivors]
        lines.append(replay_line(theorem, seed))
        raise TheoremFailed("\n".join(lines))
    return result


def replay_line(theorem: Theorem, seed: int) -> str:
    """The call that repeats this check: by id when the registry holds the theorem, else by its module's name for it."""
    return f"replay: tp.check({_reference(theorem)}, seed={seed})"


def _reference(theorem: Theorem) -> str:
    if REGISTRY.holds(theorem):
        return repr(theorem.id)
    module = sys.modules.get(theorem.defined_in)
    names = [name for name, value in vars(module).items() if value is theorem] if module else []
    return f"{theorem.defined_in}.{names[0]}" if names else repr(theorem.id)


def run_check(
    theorem: Theorem, *, instances: int = 1000, seed: int = 0, device: str = "cpu", mutants: bool = False
) -> CheckResult:
    """Check the derivation and the claim; never raises for the theorem's own failures (see ``status``)."""
    if instances < 1:
        raise ValueError("instances must be at least 1")
    start = time.perf_counter()
    timings = {}
    try:
        symbolic = symbolic_counts(theorem)
        timings["symbolic"] = time.perf_counter() - start
        numeric_start = time.perf_counter()
        groups = draw_instances(theorem, instances, seed, device)
        oracles = [_oracle_values(theorem, g, device) for g in groups]
        numeric, message = _numeric_summary(theorem, oracles, seed, device)
        timings["numeric"] = time.perf_counter() - numeric_start
        if mutants:
            mutants_start = time.perf_counter()
            mutant_results = _mutant_results(theorem, oracles, device)
            timings["mutants"] = time.perf_counter() - mutants_start
        else:
            mutant_results = ()
    except DerivationError as error:
        return CheckResult(theorem.id, "failed", str(error), error.counts, None, time.perf_counter() - start, seed)
    except TheoremError as error:
        return CheckResult(theorem.id, "error", str(error), None, None, time.perf_counter() - start, seed)
    status = "verified" if numeric.max_error <= 1 else "failed"
    return CheckResult(
        theorem.id, status, message, symbolic, numeric, time.perf_counter() - start, seed, mutant_results, timings
    )


def symbolic_counts(theorem: Theorem) -> dict[str, int] | None:
    """Steps by evidence of the derivation (lemmas included), or of a claim= theorem's lemmas; None if neither."""
    derivation = theorem.built_derivation()
    if derivation is not None:
        return derivation.counts()
    if not theorem.lemmas:
        return None
    total: dict[str, int] = {}
    for lemma in theorem.lemma_derivations():
        for kind, count in lemma.counts().items():
            total[kind] = total.get(kind, 0) + count
    return total


def _numeric_summary(theorem: Theorem, oracles: list[_OracleValues], seed: int, device: str):
    policy = theorem.policy
    tests = _tests(oracles)
    worst = (-1.0, None, 0)
    for oracle in oracles:
        claim = _as_batch(theorem, "claim", _evaluate(theorem, "claim", None, oracle.group, device), oracle.group.size)
        comparison = _compare(policy, claim, oracle, tests)
        i = int(np.argmax(comparison.errors))
        if comparison.errors[i] > worst[0]:
            worst = (float(comparison.errors[i]), (oracle.group, claim, comparison), i)
    max_error, (group, claim, comparison), i = worst
    instances = sum(o.group.size for o in oracles)
    tolerance = policy.describe(tests) if isinstance(policy, Statistical) else policy.describe()
    draws = policy.draws if isinstance(policy, Statistical) else None
    stated = max(_relative_accuracy(o) for o in oracles)
    oracle_accuracy = stated if stated > 0 else None
    if max_error <= 1:
        message = f"verified on {instances} instances; max error {max_error:.3g} of tolerance"
        return NumericSummary(instances, max_error, tolerance, policy.name, None, draws, oracle_accuracy), message
    counterexample = _counterexample(theorem, group, claim, comparison, i, seed, device)
    bounds = ", ".join(f"{name} {value:g}" for name, value in tolerance.items())
    message = (
        f"{theorem.id}: claim and oracle disagree {counterexample.describe()} "
        f"(error {counterexample.error:.3g} times the {policy.name} tolerance ({bounds}) there; "
        f"{max_error:.3g} at the worst of the {instances} sampled instances)"
    )
    return NumericSummary(instances, max_error, tolerance, policy.name, counterexample, draws, oracle_accuracy), message


def _relative_accuracy(oracle: _OracleValues) -> float:
    """The oracle's stated accuracy relative to its values, norm-wise per instance, largest instance."""
    if np.all(np.asarray(oracle.accuracy) == 0):
        return 0.0
    accuracy = np.broadcast_to(oracle.accuracy, oracle.values.shape).reshape(len(oracle.values), -1)
    values = oracle.values.reshape(len(oracle.values), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.linalg.norm(accuracy, axis=1) / np.linalg.norm(values, axis=1)
    return float(np.max(np.where(np.isfinite(ratio), ratio, 0.0)))


def _counterexample(theorem, group, claim, comparison, i, seed, device) -> Counterexample:
    params = group.instance(i)
    if isinstance(theorem.policy, Deterministic):
        shrunk = _shrink(theorem, params, seed, device)
        if shrunk is not None:
            return shrunk
    return Counterexample(params, claim[i], comparison.reference[i], error=float(comparison.errors[i]))


def _shrink(theorem: Theorem, params: dict, seed: int, device: str) -> Counterexample | None:
    """Move parameters towards their simplest values while the instance still fails (bounded search)."""
    budget = _SHRINK_BUDGET
    current = _failing_instance(theorem, params, seed, device)
    improved = current is not None
    while improved and budget > 0:
        improved = False
        for name, domain in theorem.parameters.items():
            for candidate in domain.simpler(current.params[name])[:budget]:
                budget -= 1
                trial = _failing_instance(theorem, {**current.params, name: candidate}, seed, device)
                if trial is not None:
                    current, improved = trial, True
                    break
    return current


def _failing_instance(theorem, params, seed, device) -> Counterexample | None:
    try:
        group = single_instance(theorem, params, seed, device)
        oracle = _oracle_values(theorem, group, device)
        claim = _as_batch(theorem, "claim", _evaluate(theorem, "claim", None, group, device), 1)
        comparison = _compare(theorem.policy, claim, oracle, 1)
    except (TheoremError, ValueError):
        return None
    if comparison.errors[0] <= 1:
        return None
    inputs = {k: v[0] for k, v in group.inputs.items()}
    return Counterexample(dict(params), claim[0], comparison.reference[0], inputs, float(comparison.errors[0]))


def _mutant_results(theorem: Theorem, oracles: list[_OracleValues], device: str) -> tuple[MutantResult, ...]:
    return tuple(_run_mutant(theorem, name, mutant, oracles, device) for name, mutant in theorem.mutants.items())


def _run_mutant(theorem, name, mutant, oracles, device) -> MutantResult:
    policy = theorem.policy
    tests = _tests(oracles)
    best = (0.0, "")
    power = 0.0
    for oracle in oracles:
        try:
            raw = _evaluate(theorem, "mutant", mutant, oracle.group, device)
            values = _as_batch(theorem, f"mutant {name!r}", raw, oracle.group.size, finite=False)
            comparison = _compare(policy, values, oracle, tests)
        except TheoremError as error:
            return MutantResult(name, False, f"not refuted: {error}")
        finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        errors = np.where(finite, comparison.errors, 0.0)
        i = int(np.argmax(errors))
        if errors[i] > best[0]:
            params = ", ".join(f"{k}={_fmt(v)}" for k, v in oracle.group.instance(i).items())
            scale = comparison.standard_error[i] if comparison.standard_error is not None else 1.0
            best = (float(errors[i]), f"at {params}: {_worst_entry(values[i], comparison.reference[i], scale)}")
        if isinstance(policy, Statistical):
            claim = _as_batch(theorem, "claim", _evaluate(theorem, "claim", None, oracle.group, device), len(values))
            power = max(power, _refutation_probability(policy, values, claim, comparison, tests, finite))
    refuted = best[0] > 1
    verdict = "refuted" if refuted else "not refuted"
    evidence = f"{verdict}: {best[1] or 'no finite disagreement'} (error {best[0]:.3g} times the tolerance)"
    return MutantResult(name, refuted, evidence, power if isinstance(policy, Statistical) else None)


def _refutation_probability(policy: Statistical, values, claim, comparison: _Comparison, tests: int, finite) -> float:
    """P(the test rejects the mutant) if the claim is true, at the most separated instance.

    Under the claim the batch-mean statistic for the mutant is a noncentral t whose noncentrality is
    the separation ``|mutant - claim|`` in standard errors (estimated from the sample).
    """
    from scipy import stats

    separation = np.abs(values - claim) / comparison.standard_error
    separation = np.where(finite.reshape((-1,) + (1,) * (separation.ndim - 1)), separation, 0.0)
    threshold = policy.threshold(tests)
    noncentrality = float(np.max(separation))
    return float(stats.nct.sf(threshold, policy.batches - 1, noncentrality))


def _fmt(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _worst_entry(mutant: np.ndarray, oracle: np.ndarray, scale=1.0) -> str:
    """The mutant's and the oracle's values where they differ most in units of ``scale`` (a standard error)."""
    if np.size(oracle) == 1:
        return f"mutant {np.ravel(mutant)[0]:.6g}, oracle {np.ravel(oracle)[0]:.6g}"
    gap = np.abs(np.asarray(mutant) - np.asarray(oracle)) / scale
    index = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(gap), gap, -1.0))), np.shape(oracle))
    where = ", ".join(map(str, index))
    return f"entry [{where}]: mutant {mutant[index]:.6g}, oracle {oracle[index]:.6g}"


def mutant_outcome(theorem: Theorem, *, instances: int = MUTANT_INSTANCES, seed: int = 0, device: str = "cpu") -> MutantOutcome:
    """Run only the mutants of ``theorem`` (the oracle is evaluated once for all of them)."""
    try:
        groups = draw_instances(theorem, instances, seed, device)
        oracles = [_oracle_values(theorem, g, device) for g in groups]
        return MutantOutcome(theorem.id, _mutant_results(theorem, oracles, device))
    except TheoremError as error:
        return MutantOutcome(theorem.id, (), "error", str(error))


# --- worked examples ------------------------------------------------------------------------


def example_params(theorem: Theorem, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The example's parameters: domain defaults, the theorem's example, then ``overrides`` (validated)."""
    params = theorem.default_params()
    for name, value in overrides.items():
        if name not in theorem.parameters:
            known = ", ".join(theorem.parameters) or "none"
            raise ValueError(f"{theorem.id} has no parameter {name!r} (parameters: {known})")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"parameter {name}={value!r} must be finite")
        theorem.parameters[name].check_value(name, value)
        params[name] = value
    return params


def variant_params(theorem: Theorem, variant: int) -> dict[str, Any]:
    """Worked-example parameters for handout variant ``variant``: the same variant, the same values.

    Each redrawn parameter (``theorem.variants``, by default every parameter that does not
    fix a shape) is drawn from its domain and rounded to two significant digits when the
    rounded value stays in the parameter's domain, so that a sheet has values a student
    can work with.
    """
    rng = np.random.default_rng([variant, zlib.crc32(theorem.id.encode())])
    drawn = theorem.variants if theorem.variants is not None else {
        n: d for n, d in theorem.parameters.items() if n not in theorem.shape_parameters
    }
    params = theorem.default_params()
    for name, domain in drawn.items():
        value = _plain(domain.sample(rng, 1)[0])
        nice = _two_digits(value)
        params[name] = nice if theorem.parameters[name].contains(nice) and domain.contains(nice) else value
    return params


def _two_digits(value):
    if isinstance(value, str) or value == 0:
        return value
    rounded = float(f"{float(value):.2g}")
    return int(rounded) if isinstance(value, (int, np.integer)) else rounded


def worked_example(
    theorem: Theorem, *, seed: int = 0, device: str = "cpu", data: str | None = None, **overrides
) -> WorkedExample:
    """Named values at the example's parameters, from the closed form, confirmed by the oracle at the same instance.

    ``data`` (a path the user gave, or None) reaches ``values`` when its signature names it.
    """
    params = example_params(theorem, overrides)
    group = single_instance(theorem, params, seed, device)
    oracle = _oracle_values(theorem, group, device)
    claim = _as_batch(theorem, "claim", _evaluate(theorem, "claim", None, group, device), 1)
    comparison = _compare(theorem.policy, claim, oracle, 1)
    if theorem.values is not None:
        arguments = {**params, **{k: v[0] for k, v in group.inputs.items()}, "device": device, "seed": seed, "data": data}
        values = dict(_guarded(theorem, "values", theorem.values, arguments))
    else:
        values = {"claim": claim[0], "oracle": comparison.reference[0]}
    verified = bool(comparison.errors[0] <= 1 and all(_finite(v) for v in values.values()))
    message = f"claim and oracle agree within {comparison.errors[0]:.3g} of the tolerance"
    return WorkedExample(theorem.id, seed, params, values, verified, message)


def _guarded(theorem: Theorem, role: str, function: Callable, arguments: Mapping[str, Any]):
    """``function(**arguments)``, naming the theorem in what it raises.

    A ValueError stays one (bad input, such as a data file that is not there); any other
    exception is the theorem's code failing, a TheoremError.
    """
    try:
        return call_with(function, arguments)
    except ValueError as error:
        raise ValueError(f"{theorem.id}: {error}") from error
    except Exception as error:
        raise TheoremError(f"{theorem.id}: {role}= raised {type(error).__name__}: {error}") from error


def _finite(value) -> bool:
    """Numbers and arrays of numbers must be finite; text and other records pass."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return True
    return bool(np.all(np.isfinite(array)))


def theorem_figures(theorem: Theorem, *, seed: int = 0, data: str | None = None, **overrides) -> list[Plot]:
    """The theorem's handout figures at the example's parameters (none if it draws none)."""
    if theorem.figures is None:
        return []
    arguments = {**example_params(theorem, overrides), "seed": seed, "data": data}
    plots = list(_guarded(theorem, "figures", theorem.figures, arguments))
    for plot in plots:
        if not isinstance(plot, Plot) or not re.fullmatch(r"[a-z0-9-]+", plot.name):
            raise TheoremError(f"theorem {theorem.id!r}: figures= must return Plot records with kebab-case names")
    return plots
