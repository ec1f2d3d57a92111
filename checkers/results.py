"""Result records of a check; each mirrors the JSON the command line writes."""

from __future__ import annotations

import importlib.metadata
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np


def package_version() -> str:
    try:
        return importlib.metadata.version("transformer-proofs")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def to_jsonable(value: Any) -> Any:
    """Arrays to (nested) lists, numpy scalars to Python numbers; non-finite floats to strings."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


NON_FINITE_TEXTS = ("nan", "inf", "-inf")


def strict_json(value: Any) -> Any:
    """For strict JSON: every non-finite number, or the text :func:`to_jsonable` made of one, becomes null."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if (isinstance(value, str) and value in NON_FINITE_TEXTS) or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


@dataclass(frozen=True)
class Counterexample:
    """The worst instance of a failed check (shrunk where possible)."""

    params: dict[str, Any]
    claim: Any
    oracle: Any
    inputs: dict[str, Any] = field(default_factory=dict)
    error: float | None = None  # in units of the tolerance, at this instance

    def to_json(self) -> dict:
        return to_jsonable({"params": self.params, "claim": self.claim, "oracle": self.oracle})

    def describe(self) -> str:
        params = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        return f"at {params}: claim {_short(self.claim)}, oracle {_short(self.oracle)}"


def _short(value: Any) -> str:
    array = np.asarray(value)
    if array.ndim == 0:
        return f"{array.item():.6g}" if np.issubdtype(array.dtype, np.floating) else str(array.item())
    text = np.array2string(array, precision=6, threshold=12, max_line_width=10_000)
    return " ".join(text.split())


@dataclass(frozen=True)
class AnchorResult:
    """Claim and oracle at an anchor's point, each against the anchor's value."""

    text: str
    anchor: dict[str, Any]
    claim: Any
    oracle: Any
    claim_agrees: bool
    oracle_agrees: bool

    @property
    def agrees(self) -> bool:
        return self.claim_agrees and self.oracle_agrees

    def describe(self) -> str:
        wrong = [f"the {who} gives {_short(value)}" for who, value, ok in
                 (("claim", self.claim, self.claim_agrees), ("oracle", self.oracle, self.oracle_agrees)) if not ok]
        return f"anchor {self.text}: " + (" and ".join(wrong) if wrong else "claim and oracle agree")

    def to_json(self) -> dict:
        return to_jsonable({**self.anchor, "claim": self.claim, "oracle": self.oracle, "agrees": self.agrees})


@dataclass(frozen=True)
class NumericSummary:
    """What the numeric checker compared, under which policy, and the worst disagreement.

    ``coverage`` says which special values of each parameter were among the instances;
    ``extras`` holds what the policy reports of itself (``resolution`` for a statistical
    claim, ``tightness`` for a bound).
    """

    instances: int
    max_error: float
    tolerance: dict[str, Any]
    policy: str
    counterexample: Counterexample | None = None
    draws: int | None = None
    oracle_accuracy: float | None = None  # norm-wise relative, largest over instances
    coverage: dict[str, dict] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    anchors: tuple[AnchorResult, ...] = ()

    def with_counterexample(self, counterexample: Counterexample) -> "NumericSummary":
        return replace(self, counterexample=counterexample)

    def with_anchors(self, anchors: tuple[AnchorResult, ...]) -> "NumericSummary":
        return replace(self, anchors=anchors)

    def to_json(self) -> dict:
        data = {
            "instances": self.instances,
            "max_error": self.max_error,
            "tolerance": self.tolerance,
            "policy": self.policy,
            "counterexample": self.counterexample.to_json() if self.counterexample else None,
            "oracle_accuracy": self.oracle_accuracy or 0.0,
            "coverage": self.coverage,
            "anchors": [a.to_json() for a in self.anchors],
            **self.extras,
        }
        if self.draws is not None:
            data["draws"] = self.draws
        return to_jsonable(data)

    def evidence(self) -> str:
        """What the policy says of itself, in words: the oracle's accuracy, resolution, tightness."""
        parts = [f"oracle accuracy {self.oracle_accuracy:.3g} relative" if self.oracle_accuracy else "oracle accuracy exact"]
        if self.extras.get("resolution") is not None:
            parts.append(f"resolution {self.extras['resolution']:.3g} relative bias")
        if "tightness" in self.extras:
            tightness = self.extras["tightness"]
            parts.append(f"tightness {tightness:.3g}" if tightness is not None else "tightness undefined")
        if self.anchors:
            parts.append(f"{sum(a.agrees for a in self.anchors)}/{len(self.anchors)} anchors agree")
        return ", ".join(parts)


@dataclass(frozen=True)
class MutantResult:
    """A plausible wrong claim and whether the checker refuted it (with a one-line reason)."""

    name: str
    refuted: bool
    evidence: str
    power: float | None = None
    defined: bool = True
    """False when the mutant gave NaN or infinity at every instance: no evidence either way."""

    def to_json(self) -> dict:
        data = {"name": self.name, "refuted": self.refuted, "evidence": self.evidence}
        if self.power is not None:
            data["refutation_probability"] = self.power
        return to_jsonable(data)


BASIS_WORDS = {
    "derived": "claim compiled from its derivation",
    # Not "compiled from its lemmas": some supported claims are (turing-completeness), others a measured threshold (sae-recovery).
    "supported": "claim given as code (claim=), not compiled from a derivation; checked lemmas support it, and the statement says how",
    "numerical": "claim checked numerically only (no derivation)",
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one theorem (symbolic steps and numeric instances)."""

    id: str
    status: str
    message: str
    symbolic: dict[str, int] | None
    numeric: NumericSummary | None
    seconds: float
    seed: int = 0
    mutants: tuple[MutantResult, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    basis: str = "numerical"

    @property
    def ok(self) -> bool:
        return self.status == "verified"

    def to_json(self) -> dict:
        return to_jsonable(
            {
                "id": self.id,
                "status": self.status,
                "message": self.message,
                "basis": self.basis,
                "symbolic": self.symbolic,
                "numeric": self.numeric.to_json() if self.numeric else None,
                "seconds": round(self.seconds, 3),
            }
        )

    def stamp(self) -> str:
        """One line of evidence: steps proved/sampled, instances, seed, max error, policy."""
        parts = [BASIS_WORDS[self.basis]]
        if self.symbolic:
            s = self.symbolic
            steps = "lemma steps" if self.basis == "supported" else "steps"
            parts.append(f"{s['steps']} {steps} ({s['proved']} proved, {s['sampled']} sampled, {s['given']} given)")
        if self.numeric:
            n = self.numeric
            parts.append(
                f"{n.instances} instances, seed {self.seed}, max error {n.max_error:.3g} of tolerance ({n.policy}; {n.evidence()})"
            )
        return "; ".join(parts)

    def _repr_latex_(self) -> str:
        return rf"\text{{{self.id}: {self.status}. {self.stamp()}}}"


@dataclass(frozen=True)
class Report:
    """The result of ``verify``: one CheckResult per theorem."""

    version: str
    seed: int
    instances: int
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def has_errors(self) -> bool:
        return any(r.status == "error" for r in self.results)

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "seed": self.seed,
            "instances": self.instances,
            "results": [r.to_json() for r in self.results],
        }

    def _repr_latex_(self) -> str:
        rows = r"\\ ".join(rf"\text{{{r.id}}} & \text{{{r.status}}} & \text{{{r.stamp()}}}" for r in self.results)
        return rf"$\begin{{array}}{{lll}}{rows}\end{{array}}$"


@dataclass(frozen=True)
class BlindSpot:
    """A generated mutant (one constant of the closed form perturbed) that the checker did not refute."""

    name: str
    constant: str
    evidence: str
    reason: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "constant": self.constant, "evidence": self.evidence, "reason": self.reason}


@dataclass(frozen=True)
class MutantOutcome:
    id: str
    mutants: tuple[MutantResult, ...]
    status: str = "checked"
    message: str = ""
    blind_spots: tuple[BlindSpot, ...] = ()
    generated: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "checked" and all(m.refuted for m in self.mutants)

    def to_json(self) -> dict:
        data = {"id": self.id, "mutants": [m.to_json() for m in self.mutants], "blind_spots": [b.to_json() for b in self.blind_spots]}
        if self.generated:
            data["generated"] = self.generated
        if self.status != "checked":
            data.update(status=self.status, message=self.message)
        return data


@dataclass(frozen=True)
class MutantReport:
    """The result of ``mutants``: for each theorem, each wrong claim and whether it was refuted."""

    results: tuple[MutantOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def has_errors(self) -> bool:
        return any(r.status == "error" for r in self.results)

    def to_json(self) -> dict:
        return {"results": [r.to_json() for r in self.results]}


@dataclass(frozen=True)
class WorkedExample:
    """Named values of a theorem at given parameters, computed from the closed form and confirmed by the oracle."""

    id: str
    seed: int
    params: dict[str, Any]
    values: dict[str, Any]
    verified: bool
    message: str = ""
    renderer: Callable[["WorkedExample"], str] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        return to_jsonable(
            {"id": self.id, "seed": self.seed, "params": self.params, "values": self.values, "verified": self.verified}
        )

    def to_latex(self) -> str:
        if self.renderer is None:
            raise RuntimeError("this example has no renderer; create it with transformer_proofs.example()")
        return self.renderer(self)

    def _repr_latex_(self) -> str:
        rows = r"\\ ".join(rf"\text{{{_text(k)}}} &= {_latex_value(v)}" for k, v in {**self.params, **self.values}.items())
        return rf"$\begin{{aligned}}{rows}\end{{aligned}}$"


def _text(name: str) -> str:
    return str(name).replace("_", r"\_")


def _latex_value(value: Any) -> str:
    array = np.asarray(value)
    if array.ndim == 0:
        return f"{array.item():.6g}" if np.issubdtype(array.dtype, np.number) else str(array.item())
    if array.ndim == 1:
        array = array[None, :]
    rows = r"\\ ".join(" & ".join(f"{x:.4g}" for x in row) for row in array)
    return rf"\begin{{pmatrix}}{rows}\end{{pmatrix}}"


@dataclass(frozen=True)
class Plot:
    """A figure for the handout: a matplotlib ``Figure`` drawn by the numerics, with its caption.

    ``name`` is a short file-name stem (letters, digits, hyphens); the handout writes
    ``<theorem id>-<name>.pdf`` beside the ``.tex`` with fixed metadata, so the same seed
    gives the same bytes.
    """

    name: str
    caption: str
    figure: Any = field(repr=False, compare=False)


ERRATUM_KINDS = {
    "false": "wrong under every reasonable reading",
    "ambiguous": "true under one reading, false under another (both shown)",
    "loose": "true but not tight (the tight form shown)",
    "imprecise": "a number off by rounding",
    "context": "true as stated, but needs a caveat",
}


@dataclass(frozen=True)
class Erratum:
    """A claim of the course material that is false, ambiguous, loose, imprecise or needs context,
    and the corrected claim.

    ``stated`` and ``corrected`` are prose with ``$...$`` math. ``kind`` is one of
    :data:`ERRATUM_KINDS`: call a claim ``"false"`` only when it is wrong under every reasonable
    reading; an ``"ambiguous"`` one gives each reading and its verdict in ``readings``; for a
    ``"loose"`` one ``corrected`` is the tight form. ``refuted_by`` names the theorem's mutant
    that encodes the claim as stated (the checker refutes it); where no mutant can (a claim
    about wording, not a formula), ``evidence`` says what shows it.

    >>> Erratum("notes", "1.1", "$e = 2.7$", "$e = 2.718$", kind="imprecise").kind
    'imprecise'
    """

    source: str
    section: str
    stated: str
    corrected: str
    refuted_by: str | None = None
    evidence: str = ""
    kind: str = "false"
    readings: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in ERRATUM_KINDS:
            raise TheoremDefinitionError(f"erratum kind {self.kind!r} is not one of {', '.join(ERRATUM_KINDS)}")
        object.__setattr__(self, "readings", tuple(self.readings))
        if self.kind == "ambiguous" and len(self.readings) < 2:
            raise TheoremDefinitionError("an ambiguous erratum gives at least two readings, each with its verdict")

    def to_json(self, theorem_id: str) -> dict:
        return {
            "id": theorem_id,
            "kind": self.kind,
            "source": self.source,
            "section": self.section,
            "stated": self.stated,
            "corrected": self.corrected,
            "readings": list(self.readings),
            "refuted_by": self.refuted_by,
            "evidence": self.evidence,
        }


class TheoremFailed(AssertionError):
    """A theorem's claim disagreed with its oracle, or one of its mutants survived."""


class TheoremError(TheoremFailed):
    """A theorem's own code raised, returned NaN or the wrong shape: the check could not be done.

    A kind of TheoremFailed, so that ``tp.check`` in a user's CI fails either way.
    """


class TheoremDefinitionError(ValueError):
    """A Theorem was constructed with inconsistent or missing pieces."""


@dataclass(frozen=True)
class SweepResult:
    """One theorem's runs over many seeds: how often the true claim raised an alarm."""

    id: str
    runs: int
    alarms: tuple[int, ...]  # seeds at which the check failed
    errors: tuple[int, ...]  # seeds at which the theorem's code raised
    first_message: str = ""

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "runs": self.runs,
            "false_alarms": len(self.alarms),
            "alarm_seeds": list(self.alarms),
            "errors": len(self.errors),
            "error_seeds": list(self.errors),
            "first_message": self.first_message,
        }


@dataclass(frozen=True)
class SweepReport:
    """The result of ``sweep``: every theorem checked at seeds ``0 .. seeds - 1``; a true theorem never alarms."""

    version: str
    seeds: int
    instances: int
    results: tuple[SweepResult, ...]

    @property
    def ok(self) -> bool:
        return all(not r.alarms and not r.errors for r in self.results)

    @property
    def has_errors(self) -> bool:
        return any(r.errors for r in self.results)

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "seeds": self.seeds,
            "instances": self.instances,
            "false_alarms": sum(len(r.alarms) for r in self.results),
            "results": [r.to_json() for r in self.results],
        }
