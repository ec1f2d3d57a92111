"""Derivations whose every step is re-done and compared in SymPy.

A :class:`Derivation` is a chain. It starts from an expression and each
:class:`Step` applies a stated :class:`Operation` (expand, differentiate,
substitute, a named identity, ...) to the previous step's result and states
what that gives. :meth:`Derivation.check` re-does every operation and compares
the outcome with the stated result:

* ``proved``: SymPy reduced the difference to zero (or, for matrix
  expressions, to the zero matrix);
* ``sampled``: SymPy could not decide, but the difference vanished exactly at
  random rational points (and random small shapes for symbolic matrix sizes);
  the step is reported as sampled, never as proved;
* ``given``: the step cites an assumption or a published lemma (its source is
  mandatory) and is accepted without a check.

A step that is false, or that does not follow from the step before it, raises
:class:`DerivationError` naming the step and both sides.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> d = Derivation("square", (x + 1) ** 2)
>>> d = d.then(expand(), x**2 + 2 * x + 1).then(differentiate(x), 2 * x + 2)
>>> [s.evidence for s in d.check()]
['proved', 'proved']
>>> d.result
2*x + 2
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Callable, Mapping, Sequence

import sympy as sp
from sympy.matrices.expressions import MatrixExpr
from sympy.matrices.expressions.blockmatrix import block_collapse

EVIDENCE = ("proved", "sampled", "given")
_SAMPLE_POINTS = 6
_SAMPLE_SEED = 20231


class DerivationError(AssertionError):
    """A step of a derivation does not hold; the message names the step and both sides.

    ``counts`` tallies the evidence of the steps checked before the failure
    (the failing step counted under ``failed``).
    """

    def __init__(self, message: str, counts: dict[str, int] | None = None):
        super().__init__(message)
        self.counts = counts


@dataclass(frozen=True)
class Operation:
    """An operation a step applies to the previous result.

    ``text`` is what a reader sees ("differentiate with respect to t");
    ``apply`` re-does it in SymPy. ``source`` is set for cited identities and
    for given steps (a paper, a textbook, an assumption of the theorem).
    """

    text: str
    apply: Callable[[sp.Basic], sp.Basic] | None
    source: str = ""

    @property
    def is_given(self) -> bool:
        return self.apply is None


def rewrite(text: str = "rewrite") -> Operation:
    """An algebraic rewrite: the stated result must equal the previous one."""
    return Operation(text, lambda e: e)


def identity(name: str, source: str = "") -> Operation:
    """Apply a named identity (angle addition, Rodrigues' formula, ...).

    The identity is not taken on trust: the stated result must still equal
    the previous result, which SymPy checks.
    """
    return Operation(f"apply {name}", lambda e: e, source)


def expand() -> Operation:
    return Operation("expand", sp.expand)


def simplify() -> Operation:
    return Operation("simplify", sp.simplify)


def differentiate(variable: sp.Symbol, order: int = 1) -> Operation:
    text = f"differentiate with respect to ${sp.latex(variable)}$"
    if order > 1:
        text = f"differentiate {order} times with respect to ${sp.latex(variable)}$"
    return Operation(text, lambda e: sp.diff(e, variable, order))


def substitute(mapping: Mapping[sp.Basic, sp.Basic], text: str = "") -> Operation:
    pairs = ", ".join(f"{sp.latex(k)} = {sp.latex(v)}" for k, v in mapping.items())
    if any(isinstance(k, MatrixExpr) for k in mapping):
        # subs(simultaneous=True) is not implemented for matrix symbols; xreplace is exact structural replacement.
        return Operation(text or f"substitute ${pairs}$", lambda e: e.xreplace(dict(mapping)))
    return Operation(text or f"substitute ${pairs}$", lambda e: e.subs(mapping, simultaneous=True))


def integrate(variable: sp.Symbol, lower: sp.Basic, upper: sp.Basic) -> Operation:
    text = f"integrate over ${sp.latex(variable)}$ from ${sp.latex(lower)}$ to ${sp.latex(upper)}$"
    return Operation(text, lambda e: sp.integrate(e, (variable, lower, upper), conds="none"))


def solve_for(variable: sp.Symbol, text: str = "") -> Operation:
    """Solve ``previous = 0`` (or an ``Eq``) for ``variable``; the step states the unique solution."""

    def unique_solution(e: sp.Basic) -> sp.Basic:
        solutions = sp.solve(e, variable, dict=False)
        if len(solutions) != 1:
            raise DerivationError(f"solving for {variable} gave {len(solutions)} solutions: {solutions}")
        return solutions[0]

    return Operation(text or f"solve for ${sp.latex(variable)}$", unique_solution)


def apply(text: str, function: Callable[[sp.Basic], sp.Basic], source: str = "") -> Operation:
    """Any other operation, given as the SymPy function that performs it."""
    return Operation(text, function, source)


def given(text: str, source: str) -> Operation:
    """Accept a step without checking it: only for an assumption or a cited lemma."""
    if not source.strip():
        raise ValueError("a given step needs a source: the assumption or the lemma it cites")
    return Operation(text, None, source)


@dataclass(frozen=True)
class Step:
    """One step: ``operation`` applied to the previous result gives ``stated``."""

    operation: Operation
    stated: sp.Basic
    note: str = ""
    label: str = ""
    on: str = ""
    evidence: str = ""

    @property
    def checked(self) -> bool:
        return self.evidence in EVIDENCE


@dataclass(frozen=True)
class Derivation:
    """A chain of steps from ``start``; build it with :meth:`then`, verify it with :meth:`check`.

    ``labels`` name intermediate results (``then(..., label="a")``) so that a
    later step can start from them (``on="a"``) and a checker can compile them.
    The derivation's result (its closed form) is the last step's statement.
    ``lemmas`` are other derivations this one relies on (a gradient, an
    identity): they are checked first, and their steps count in the evidence.
    """

    title: str
    start: sp.Basic
    start_note: str = ""
    steps: tuple[Step, ...] = ()
    assumptions: tuple[str, ...] = ()
    lemmas: tuple["Derivation", ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "start", _sympify(self.start))
        object.__setattr__(self, "assumptions", tuple(self.assumptions))
        object.__setattr__(self, "lemmas", tuple(self.lemmas))

    def then(self, operation: Operation, stated, *, note: str = "", label: str = "", on: str = "") -> "Derivation":
        if on and on not in self._labels():
            raise ValueError(f"step {len(self.steps) + 1}: no earlier result is labelled {on!r}")
        step = Step(operation, _sympify(stated), note, label, on)
        return replace(self, steps=self.steps + (step,))

    def _labels(self) -> dict[str, sp.Basic]:
        labels = {"start": self.start}
        for step in self.steps:
            if step.label:
                labels[step.label] = step.stated
        return labels

    def with_step(self, number: int, **changes) -> "Derivation":
        """The same derivation with step ``number`` (1-based) changed (``stated=``, ``operation=``, ``on=``).

        For testing that the checker rejects a wrong step.
        """
        if "stated" in changes:
            changes["stated"] = _sympify(changes["stated"])
        steps = list(self.steps)
        steps[number - 1] = replace(steps[number - 1], **changes)
        return replace(self, steps=tuple(steps))

    def step_number(self, label: str) -> int:
        """The 1-based number of the step labelled ``label``."""
        return next(i for i, s in enumerate(self.steps, start=1) if s.label == label)

    @property
    def result(self) -> sp.Basic:
        return self.steps[-1].stated if self.steps else self.start

    def expression(self, label: str) -> sp.Basic:
        """The statement of the step labelled ``label`` (``"start"`` for the start)."""
        labels = self._labels()
        if label not in labels:
            raise KeyError(f"{self.title}: no step is labelled {label!r}; labels: {sorted(labels)}")
        return labels[label]

    def check(self) -> tuple[Step, ...]:
        """Re-do every step (the lemmas' first); return this chain's steps with their evidence.

        Raises DerivationError at the first step that does not hold.
        """
        for lemma in self.lemmas:
            lemma.check()
        return _check_cached(self)

    def counts(self) -> dict[str, int]:
        """Steps by evidence, lemmas included: ``{"steps", "proved", "sampled", "given", "failed"}``."""
        total = _counts(self.check(), len(self.steps))
        for lemma in self.lemmas:
            for kind, count in lemma.counts().items():
                total[kind] += count
        return total

    def _repr_latex_(self) -> str:
        lemmas = "".join(lemma._repr_latex_() + r"\quad " for lemma in self.lemmas)
        lines = [rf"&{sp.latex(self.start)} && \text{{{_tex_text(self.start_note or 'start')}}}"]
        for step in self.check():
            lines.append(
                rf"&= {sp.latex(step.stated)} && \text{{[{step.evidence}] {_tex_text(step.operation.text)}}}"
            )
        return lemmas + r"$\begin{aligned}" + r"\\ ".join(lines) + r"\end{aligned}$"


def _counts(checked: Sequence[Step], total: int, failed: int = 0) -> dict[str, int]:
    tally = {kind: sum(s.evidence == kind for s in checked) for kind in EVIDENCE}
    return {"steps": total, **tally, "failed": failed}


def _tex_text(text: str) -> str:
    return text.replace("$", "")


def _sympify(value) -> sp.Basic:
    if isinstance(value, (list, tuple)):
        return sp.ImmutableMatrix(value)
    if isinstance(value, sp.MatrixBase):
        return sp.ImmutableMatrix(value)
    return sp.sympify(value)


@functools.lru_cache(maxsize=None)
def _check_cached(derivation: Derivation) -> tuple[Step, ...]:
    checked = []
    previous = derivation.start
    labels = {"start": derivation.start}
    for number, step in enumerate(derivation.steps, start=1):
        source = labels[step.on] if step.on else previous
        if step.operation.is_given:
            evidence = "given"
        else:
            try:
                computed = _sympify(step.operation.apply(source))
            except Exception as error:
                raise DerivationError(
                    f"{derivation.title}, step {number} ({step.operation.text}): the operation failed: "
                    f"{type(error).__name__}: {error}",
                    _counts(checked, len(derivation.steps), failed=1),
                ) from None
            evidence = compare(computed, step.stated)
            if evidence is None:
                raise DerivationError(
                    f"{derivation.title}, step {number} ({step.operation.text}) does not hold:\n"
                    f"  the operation gives: {computed}\n"
                    f"  the step states:     {step.stated}",
                    _counts(checked, len(derivation.steps), failed=1),
                )
        checked.append(replace(step, evidence=evidence))
        previous = step.stated
        if step.label:
            labels[step.label] = step.stated
    return tuple(checked)


def compare(computed: sp.Basic, stated: sp.Basic) -> str | None:
    """``"proved"``, ``"sampled"`` or ``None`` (they differ) for two SymPy objects."""
    explicit = _explicit(computed), _explicit(stated)
    if None not in explicit:
        a, b = explicit
        if a.shape != b.shape:
            return None
        verdicts = [_compare_scalars(x, y) for x, y in zip(a, b)]
        if None in verdicts:
            return None
        return "sampled" if "sampled" in verdicts else "proved"
    if isinstance(computed, (MatrixExpr, sp.MatrixBase)) or isinstance(stated, (MatrixExpr, sp.MatrixBase)):
        return _compare_matrix_expressions(computed, stated)
    if isinstance(computed, sp.Equality) or isinstance(stated, sp.Equality):
        if not (isinstance(computed, sp.Equality) and isinstance(stated, sp.Equality)):
            return None
        return compare(computed.lhs - computed.rhs, stated.lhs - stated.rhs)
    return _compare_scalars(computed, stated)


def _explicit(matrix: sp.Basic) -> sp.ImmutableMatrix | None:
    """An explicit matrix of entries, if ``matrix`` is one or has concrete dimensions."""
    if isinstance(matrix, sp.MatrixBase):
        return sp.ImmutableMatrix(matrix)
    if isinstance(matrix, MatrixExpr) and all(getattr(d, "is_Integer", False) for d in matrix.shape):
        return sp.ImmutableMatrix(matrix.as_explicit())
    return None


def _compare_scalars(a: sp.Basic, b: sp.Basic) -> str | None:
    difference = a - b
    simplifiers = (lambda e: e, sp.expand, sp.cancel, lambda e: sp.expand(sp.expand_trig(e)), sp.powsimp, sp.simplify)
    for simplifier in simplifiers:
        try:
            if simplifier(difference) == 0:
                return "proved"
        except (TypeError, NotImplementedError, ValueError, RecursionError):
            continue
    return "sampled" if _vanishes_at_samples(difference) else None


def _vanishes_at_samples(difference: sp.Basic) -> bool:
    symbols = sorted(difference.free_symbols, key=str)
    rng = random.Random(_SAMPLE_SEED)
    for _ in range(_SAMPLE_POINTS):
        point = {s: _random_value(s, rng) for s in symbols}
        try:
            if not _is_zero_number(difference.subs(point)):
                return False
        except (TypeError, ValueError, ArithmeticError):
            return False
    return True


def _is_zero_number(value: sp.Basic) -> bool:
    """Zero exactly, or (for a closed-form number SymPy cannot simplify) below 1e-40 at 50 digits."""
    if value.free_symbols:
        return False
    value = sp.simplify(value)
    if value == 0:
        return True
    return bool(value.is_number and abs(sp.N(value, 50)) < sp.Float("1e-40"))


def _random_value(symbol: sp.Symbol, rng: random.Random) -> sp.Rational:
    """A random rational respecting the symbol's assumptions (integer, positive, ...)."""
    if symbol.is_integer:
        low = 1 if symbol.is_positive else (0 if symbol.is_nonnegative else -5)
        return sp.Integer(rng.randint(low, low + 7))
    value = Fraction(rng.randint(1, 97), rng.randint(2, 31))
    if not (symbol.is_positive or symbol.is_nonnegative) and rng.random() < 0.5:
        value = -value
    return sp.Rational(value.numerator, value.denominator)


def _compare_matrix_expressions(a: sp.Basic, b: sp.Basic) -> str | None:
    if getattr(a, "shape", None) != getattr(b, "shape", None):
        return None
    difference = block_collapse(a - b)
    if _is_zero_matrix(difference):
        return "proved"
    if isinstance(difference, sp.MatrixBase) or hasattr(difference, "blocks"):
        entries = difference.blocks if hasattr(difference, "blocks") else difference
        if all(_is_zero_matrix(block_collapse(e)) for e in entries):
            return "proved"
    return "sampled" if _matrix_vanishes_at_samples(a, b) else None


def _is_zero_matrix(expr: sp.Basic) -> bool:
    if getattr(expr, "is_ZeroMatrix", False) or expr == 0:
        return True
    if isinstance(expr, sp.MatrixBase):
        return all(sp.expand(e) == 0 for e in expr)
    expanded = sp.expand(expr)
    if getattr(expanded, "is_ZeroMatrix", False):
        return True
    try:
        return sp.simplify(expanded.doit()).is_ZeroMatrix is True
    except (TypeError, NotImplementedError, ValueError, AttributeError):
        return False


def _matrix_vanishes_at_samples(a: sp.Basic, b: sp.Basic) -> bool:
    """Substitute small concrete sizes and random rational matrices; compare exactly."""
    rng = random.Random(_SAMPLE_SEED)
    matrices = sorted((s for s in (a - b).atoms(sp.MatrixSymbol)), key=str)
    for _ in range(3):
        sizes = {}
        for m in matrices:
            for dim in m.shape:
                for s in getattr(dim, "free_symbols", ()):
                    sizes.setdefault(s, sp.Integer(rng.randint(1, 4)))
        point = dict(sizes)
        for m in matrices:
            rows, cols = (sp.sympify(x).subs(sizes) for x in m.shape)
            point[m] = sp.ImmutableMatrix(int(rows), int(cols), lambda i, j: _random_value(sp.Symbol("x"), rng))
        scalars = (a - b).free_symbols - set(matrices) - set(sizes)
        for s in scalars:
            point[s] = _random_value(s, rng)
        try:
            concrete = [sp.ImmutableMatrix(x.subs(point).doit().as_explicit()) for x in (a, b)]
        except (TypeError, ValueError, AttributeError, sp.ShapeError):
            return False
        if any(sp.simplify(e) != 0 for e in concrete[0] - concrete[1]):
            return False
    return True

