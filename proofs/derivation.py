"""Derivations whose every step is re-done and compared in SymPy.

A :class:`Derivation` is a chain. It starts from an expression and each
:class:`Step` applies a stated :class:`Operation` to the previous step's result
and states what that gives. Operations are named rules whose text is generated
from their arguments (:func:`expand`, :func:`substitute`, :func:`differentiate`,
:func:`integrate`, :func:`limit`, :func:`series`, :func:`solve_for`, :func:`lemma`,
...), so a reader can redo them by hand; an operation no rule covers is a
:func:`custom` step, whose SymPy code is kept and shown with it.
:meth:`Derivation.check` re-does every operation and compares the outcome with
the stated result:

* ``proved``: SymPy reduced the difference to zero (or, for matrix
  expressions, to the zero matrix), or, for an inequality step, showed the
  difference has the right sign from the symbols' assumptions;
* ``sampled``: SymPy could not decide, but the claim held exactly, in
  rational arithmetic, at fresh random rational points drawn for this step
  (seeded by its content; random small shapes for symbolic matrix sizes); the
  step is reported as sampled, never as proved;
* ``given``: the step cites an assumption or a published lemma (its source is
  mandatory) and is accepted without a check.

A step is an equation by default; ``then(..., relation="<=")`` makes it the
claim ``operation(previous) <= stated`` (likewise ``<``, ``>=``, ``>``), and a
derivation with such a step has a result that is a bound (:attr:`Derivation.relation`).

A step that is false, or that does not follow from the step before it, raises
:class:`DerivationError` naming the step and both sides.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> d = Derivation("square", (x + 1) ** 2)
>>> d = d.then(expand(), x**2 + 2 * x + 1).then(differentiate(x), 2 * x + 2)
>>> [(s.operation.rule, s.evidence) for s in d.check()]
[('expand', 'proved'), ('differentiate', 'proved')]
>>> d.result
2*x + 2
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import linecache
import random
import textwrap
import zlib
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Callable, Iterator, Mapping, Sequence

import sympy as sp
from sympy.matrices.expressions import MatrixExpr
from sympy.matrices.expressions.blockmatrix import block_collapse

EVIDENCE = ("proved", "sampled", "given")
RELATIONS = ("=", "<=", "<", ">=", ">")
RELATION_TEXT = {"=": "=", "<=": "≤", "<": "<", ">=": "≥", ">": ">"}
RELATION_LATEX = {"=": "=", "<=": r"\le", "<": "<", ">=": r"\ge", ">": ">"}
SAMPLE_POINTS = 30
"""Random rational points a ``sampled`` step must pass; each step draws its own."""
_MAX_DRAWS = 4 * SAMPLE_POINTS
"""Draws allowed to find that many points at which both sides are defined (no division by zero)."""


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

    ``rule`` names it (``"expand"``, ``"substitute"``, ..., ``"custom"``,
    ``"given"``); ``text`` is what a reader sees, generated from the
    operation's arguments; ``apply`` re-does it in SymPy, called with the
    previous result followed by the results labelled in ``reads``. ``source``
    is set for cited identities and lemmas and for given steps; ``code`` is
    the SymPy code of a custom step.
    """

    rule: str
    text: str
    apply: Callable[..., sp.Basic] | None
    source: str = ""
    code: str = ""
    reads: tuple[str, ...] = ()

    @property
    def is_given(self) -> bool:
        return self.apply is None

    @property
    def is_custom(self) -> bool:
        return self.rule == "custom"


def _explained(generated: str, why: str) -> str:
    """The generated text, after the reason for the step when one is given."""
    return f"{why}: {generated}" if why else generated


def _unchanged(expression: sp.Basic) -> sp.Basic:
    return expression


_MAPSTO = r"\mapsto"


def _pairs(mapping: Mapping[sp.Basic, sp.Basic], sign: str = "=") -> str:
    return ", ".join(f"{sp.latex(k)} {sign} {sp.latex(v)}" for k, v in mapping.items())


# --- rewriting the previous result ------------------------------------------------------------


def rewrite(text: str = "rewrite") -> Operation:
    """An algebraic rewrite: the stated result must equal (or, with a relation, bound) the previous one."""
    return Operation("rewrite", text, _unchanged)


def identity(name: str, source: str = "") -> Operation:
    """Apply a named identity (angle addition, Rodrigues' formula, ...).

    The identity is not taken on trust: the stated result must still equal
    the previous result, which SymPy checks.
    """
    return Operation("identity", f"apply {name}", _unchanged, source)


def expand(why: str = "") -> Operation:
    """Multiply out products and powers of sums (``sympy.expand``)."""
    return Operation("expand", _explained("expand", why), sp.expand)


def simplify(why: str = "") -> Operation:
    """``sympy.simplify``."""
    return Operation("simplify", _explained("simplify", why), sp.simplify)


def factor(why: str = "") -> Operation:
    """Factor a polynomial or rational function over the rationals (``sympy.factor``)."""
    return Operation("factor", _explained("factor", why), sp.factor)


def cancel(why: str = "") -> Operation:
    """Bring a rational function over one denominator with no common factor (``sympy.cancel``)."""
    return Operation("cancel", _explained("cancel common factors", why), sp.cancel)


def collect(*symbols: sp.Basic, why: str = "") -> Operation:
    """Gather the terms by powers of ``symbols`` (``sympy.collect``)."""
    text = f"collect the terms in ${', '.join(sp.latex(s) for s in symbols)}$"
    return Operation("collect", _explained(text, why), lambda e: sp.collect(e, symbols))


def substitute(mapping: Mapping[sp.Basic, sp.Basic], text: str = "", *, why: str = "", source: str = "") -> Operation:
    """Replace each key of ``mapping`` by its value, all at once.

    ``text`` replaces the generated "substitute ..." (kept for existing
    derivations); ``why`` is put before it instead, which keeps the
    substitution itself in view.
    """
    shown = text or _explained(f"substitute ${_pairs(mapping)}$", why)
    if any(isinstance(k, MatrixExpr) for k in mapping):
        # subs(simultaneous=True) is not implemented for matrix symbols; xreplace is exact structural replacement.
        return Operation("substitute", shown, lambda e: e.xreplace(dict(mapping)), source)
    return Operation("substitute", shown, lambda e: e.subs(mapping, simultaneous=True), source)


def instantiate(variable: sp.Symbol, values: Sequence, *, why: str = "") -> Operation:
    """The column of the previous result at ``variable = v`` for each ``v`` of ``values``."""
    values = [sp.sympify(v) for v in values]
    if len(values) > 4 and all(b - a == 1 for a, b in zip(values, values[1:])):
        listed = rf"{sp.latex(values[0])}, {sp.latex(values[1])}, \dots, {sp.latex(values[-1])}"
    else:
        listed = ", ".join(sp.latex(v) for v in values)
    text = f"take ${sp.latex(variable)} = {listed}$"
    return Operation(
        "instantiate", _explained(text, why), lambda e: sp.ImmutableMatrix([e.subs(variable, v) for v in values])
    )


def apply_map(
    function: Callable[[sp.Basic], sp.Basic], *, placeholder: sp.Basic | None = None, why: str = ""
) -> Operation:
    """Put the previous result into a formula: ``x -> function(x)``, shown as that formula.

    ``function`` is called once, on ``placeholder`` (by default a dummy named
    after its parameter; a ``MatrixSymbol`` for matrix results), and the step
    substitutes the previous result into the formula it returns; so the
    formula shown is exactly what is checked.
    """
    if placeholder is None:
        placeholder = sp.Dummy(next(iter(inspect.signature(function).parameters)))
    formula = _sympify(function(placeholder))
    text = f"apply ${sp.latex(placeholder)} {_MAPSTO} {sp.latex(formula)}$"
    return Operation("map", _explained(text, why), lambda e: formula.xreplace({placeholder: e}))


def ratio(
    numerator: Mapping[sp.Basic, sp.Basic], denominator: Mapping[sp.Basic, sp.Basic] | None = None, *, why: str = ""
) -> Operation:
    """The previous result with the substitution ``numerator`` over itself with ``denominator`` (or unchanged)."""
    below = f"with ${_pairs(denominator, _MAPSTO)}$" if denominator else "itself"
    text = f"divide the value with ${_pairs(numerator, _MAPSTO)}$ by the value {below}"

    def quotient(e: sp.Basic) -> sp.Basic:
        bottom = e.subs(denominator, simultaneous=True) if denominator else e
        return e.subs(numerator, simultaneous=True) / bottom

    return Operation("ratio", _explained(text, why), quotient)


def column(*labels: str, why: str = "") -> Operation:
    """The column of the results labelled ``labels`` (earlier steps, already checked), in that order."""
    text = f"collect the results {', '.join(labels)} into a column"
    return Operation("column", _explained(text, why), lambda _, *values: sp.ImmutableMatrix(list(values)), reads=labels)


# --- calculus ---------------------------------------------------------------------------------


def differentiate(variable: sp.Symbol, order: int = 1, *, why: str = "") -> Operation:
    """The ``order``-th derivative with respect to ``variable``."""
    text = f"differentiate with respect to ${sp.latex(variable)}$"
    if order > 1:
        text = f"differentiate {order} times with respect to ${sp.latex(variable)}$"
    return Operation("differentiate", _explained(text, why), lambda e: sp.diff(e, variable, order))


def elasticity(variable: sp.Symbol, *, why: str = "") -> Operation:
    """``d ln f / d ln x = x f'(x) / f(x)`` of the previous result ``f``."""
    v = sp.latex(variable)
    text = rf"take the elasticity $\frac{{d \ln f}}{{d \ln {v}}} = \frac{{{v}}}{{f}} \frac{{d f}}{{d {v}}}$"
    return Operation("elasticity", _explained(text, why), lambda e: variable * sp.diff(e, variable) / e)


def jacobian(variables, *, why: str = "") -> Operation:
    """The Jacobian matrix of the previous (column) result with respect to ``variables``."""
    column_ = sp.ImmutableMatrix(list(variables)) if not isinstance(variables, sp.MatrixBase) else variables
    text = f"take the Jacobian with respect to ${sp.latex(column_)}$"
    return Operation("jacobian", _explained(text, why), lambda e: sp.ImmutableMatrix(e).jacobian(column_))


def integrate(variable: sp.Symbol, lower: sp.Basic, upper: sp.Basic, *, why: str = "") -> Operation:
    """The definite integral over ``[lower, upper]``, accepted only where it converges by the symbols' assumptions.

    SymPy states when its answer holds (``Piecewise`` conditions, such as
    ``|arg a| < pi/2``); the step takes a branch only if its condition
    simplifies to true under the assumptions the symbols were declared with,
    and fails naming the condition otherwise.
    """
    text = f"integrate over ${sp.latex(variable)}$ from ${sp.latex(lower)}$ to ${sp.latex(upper)}$"
    return Operation(
        "integrate", _explained(text, why), lambda e: _unconditional(sp.integrate(e, (variable, lower, upper)))
    )


def _unconditional(result: sp.Basic) -> sp.Basic:
    """``result`` with every ``Piecewise`` replaced by its first branch whose condition holds."""

    def branch(piecewise: sp.Piecewise) -> sp.Basic:
        for value, condition in piecewise.args:
            holds = sp.simplify(sp.refine(condition))
            if holds is sp.true:
                return value
            if holds is not sp.false:
                raise DerivationError(
                    f"the integral holds only if {condition}, which does not follow from the symbols' assumptions"
                )
        raise DerivationError(f"no branch of {piecewise} holds")

    return result.replace(lambda e: isinstance(e, sp.Piecewise), branch)


def limit(
    variable: sp.Symbol, point: sp.Basic, direction: str = "+-", *, scale: sp.Basic = 1, why: str = ""
) -> Operation:
    """The limit of ``scale`` times the previous result as ``variable -> point``.

    ``direction`` is ``"+"`` (from above), ``"-"`` (from below) or ``"+-"``
    (both sides must agree); it is ignored at an infinite point.
    """
    point, scale = sp.sympify(point), sp.sympify(scale)
    finite = not point.is_infinite
    one_sided = finite and direction in ("+", "-")
    text = rf"let ${sp.latex(variable)} \to {sp.latex(point)}{'^' + direction if one_sided else ''}$"
    if scale != 1:
        numerator, denominator = sp.fraction(scale)
        by = f"divide by ${sp.latex(denominator)}$" if numerator == 1 else f"multiply by ${sp.latex(scale)}$"
        text = f"{by} and {text}"

    def take_limit(e: sp.Basic) -> sp.Basic:
        if finite:
            return sp.limit(scale * e, variable, point, direction)
        return sp.limit(scale * e, variable, point)

    return Operation("limit", _explained(text, why), take_limit)


def series(variable: sp.Symbol, point: sp.Basic, order: int, *, why: str = "") -> Operation:
    """The Taylor polynomial about ``point``: the series up to ``O((variable - point)^order)``, which is dropped."""
    remainder = sp.Order((variable - point) ** order, (variable, point))
    text = f"expand in powers of ${sp.latex(variable - point)}$, dropping ${sp.latex(remainder)}$"
    return Operation("series", _explained(text, why), lambda e: sp.series(e, variable, point, order).removeO())


def solve_for(variable: sp.Symbol, text: str = "", *, why: str = "") -> Operation:
    """Solve ``previous = 0`` (or an ``Eq``) for ``variable``; the step states the unique solution.

    ``text`` replaces the generated "solve for ..." (kept for existing
    derivations); ``why`` is put before it instead.
    """

    def unique_solution(e: sp.Basic) -> sp.Basic:
        solutions = sp.solve(e, variable, dict=False)
        if len(solutions) != 1:
            raise DerivationError(f"solving for {variable} gave {len(solutions)} solutions: {solutions}")
        return solutions[0]

    return Operation("solve", text or _explained(f"solve for ${sp.latex(variable)}$", why), unique_solution)


# --- matrices ---------------------------------------------------------------------------------


def evaluate(why: str = "") -> Operation:
    """Carry out the operations SymPy holds unevaluated (transposes of products, sums, ...: ``doit``)."""
    return Operation("evaluate", _explained("evaluate the held operations", why), lambda e: e.doit())


def determinant(why: str = "") -> Operation:
    """The determinant of the previous (square, explicit) matrix."""
    return Operation("determinant", _explained("take the determinant", why), lambda m: m.det())


def multiply_blocks(why: str = "") -> Operation:
    """Multiply and add block matrices block by block (``block_collapse``)."""
    return Operation("blocks", _explained("multiply the blocks", why), block_collapse)


def block(row: int, col: int, *, why: str = "") -> Operation:
    """Block ``(row, col)`` (0-based arguments, shown 1-based) of the previous block matrix."""
    text = f"read off block $({row + 1}, {col + 1})$"
    return Operation("block", _explained(text, why), lambda e: e.blocks[row, col])


def rank_bound(source: str) -> Operation:
    """``rank(F_1 ... F_k) <= min`` over the factors of their numbers of rows and columns (a cited lemma)."""
    if not source.strip():
        raise ValueError("the rank bound cites the rank-of-a-product lemma: give its source")
    return Operation("rank", "bound the rank by the sides of the factors", _least_side, source)


def _least_side(product: sp.Basic) -> sp.Basic:
    return sp.Min(*(size for factor in _matrix_factors(product) for size in factor.shape))


def _matrix_factors(product: sp.Basic) -> list[sp.Basic]:
    """The matrix factors of a (possibly nested) product, in order."""
    if isinstance(product, sp.MatMul):
        return [f for arg in product.args if arg.is_Matrix for f in _matrix_factors(arg)]
    return [product]


# --- lemmas, assumptions and custom code ------------------------------------------------------


def lemma(derivation: "Derivation", instance: Mapping[sp.Basic, sp.Basic] | None = None) -> Operation:
    """Replace the lemma's start by its result wherever it occurs (renamed by ``instance``).

    The lemma is a checked :class:`Derivation` whose result equals its start
    (its relation is ``=``); it is checked when the step is.
    """
    renaming = dict(instance or {})
    before, after = derivation.start.xreplace(renaming), derivation.result.xreplace(renaming)
    text = f"apply the lemma '{derivation.title}': ${sp.latex(before)} = {sp.latex(after)}$"

    def use(e: sp.Basic) -> sp.Basic:
        derivation.check()
        if derivation.relation != "=":
            raise DerivationError(f"the lemma {derivation.title!r} is a bound ({derivation.relation}), not an identity")
        if not e.has(before):
            raise DerivationError(f"{before} does not occur in {e}")
        return e.xreplace({before: after})

    return Operation("lemma", text, use, f"the lemma '{derivation.title}', checked")


def given(text: str, source: str) -> Operation:
    """Accept a step without checking it: only for an assumption or a cited lemma."""
    if not source.strip():
        raise ValueError("a given step needs a source: the assumption or the lemma it cites")
    return Operation("given", text, None, source)


def custom(text: str, function: Callable[[sp.Basic], sp.Basic], source: str = "") -> Operation:
    """An operation no named rule covers, given as the SymPy function that performs it.

    The function's code is kept with the step (``code``) and shown wherever
    the step is, and such steps are counted apart (``counts()["custom"]``).
    """
    return Operation("custom", text, function, source, code=_source_of(function))


def _source_of(function: Callable) -> str:
    """What a reader should see of ``function``: a lambda's own expression, a function's definition.

    A closure's code names the functions it was built from; their code follows it, as comments.
    """
    module = getattr(function, "__module__", "") or ""
    if module.startswith("sympy"):
        return f"{module}.{function.__qualname__}"
    code = _lambda_source(function) if getattr(function, "__name__", "") == "<lambda>" else ""
    if not code:
        try:
            code = textwrap.dedent(inspect.getsource(function)).rstrip()
        except (OSError, TypeError):
            return repr(function)
    free = getattr(function, "__code__", None)
    for name, cell in zip(free.co_freevars if free else (), getattr(function, "__closure__", None) or ()):
        value = cell.cell_contents
        if inspect.isfunction(value):
            code += "\n# where " + name + " is:\n" + textwrap.indent(_source_of(value), "#   ")
    return code


def _lambda_source(function: Callable) -> str:
    """The text of the ``lambda`` expression itself, not the whole line it sits on."""
    code = function.__code__
    path = code.co_filename
    tree, text = _parsed(path)
    if tree is None:
        return ""
    lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == code.co_firstlineno]
    if len(lambdas) > 1:
        # Several lambdas on one line: the one whose body starts where the code object's first expression does.
        starts = {(line, column) for line, _, column, _ in code.co_positions() if line is not None}
        lambdas = [n for n in lambdas if (n.body.lineno, n.body.col_offset) in starts] or lambdas
    if not lambdas:
        return ""
    # Pad the first line to its column so that the lines after it keep their indentation relative to it.
    segment = " " * lambdas[0].col_offset + ast.get_source_segment(text, lambdas[0])
    return textwrap.dedent(segment).lstrip(" ")


@functools.lru_cache(maxsize=None)
def _parsed(path: str) -> tuple[ast.AST | None, str]:
    text = "".join(linecache.getlines(path))
    try:
        return ast.parse(text), text
    except SyntaxError:
        return None, text


# --- steps and derivations --------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step: ``operation`` applied to the previous result gives ``stated`` (or is ``relation`` to it)."""

    operation: Operation
    stated: sp.Basic
    note: str = ""
    label: str = ""
    on: str = ""
    relation: str = "="
    evidence: str = ""

    @property
    def checked(self) -> bool:
        return self.evidence in EVIDENCE

    @property
    def relation_latex(self) -> str:
        return RELATION_LATEX[self.relation]

    @property
    def relation_text(self) -> str:
        return RELATION_TEXT[self.relation]


@dataclass(frozen=True)
class Derivation:
    """A chain of steps from ``start``; build it with :meth:`then`, verify it with :meth:`check`.

    ``labels`` name intermediate results (``then(..., label="a")``) so that a
    later step can start from them (``on="a"``) or read them (:func:`column`)
    and a checker can compile them. The derivation's result (its closed form)
    is the last step's statement. ``lemmas`` are other derivations this one
    relies on (a gradient, an identity): they are checked first, and their
    steps count in the evidence.
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

    def then(
        self, operation: Operation, stated, *, note: str = "", label: str = "", on: str = "", relation: str = "="
    ) -> "Derivation":
        """Append a step: ``operation`` applied to the previous result (or to the result labelled ``on``).

        ``relation`` (``"="``, ``"<="``, ``"<"``, ``">="``, ``">"``) is what the
        step claims between the operation's outcome and ``stated``. Raises
        ValueError for an unknown label or relation, and for a chain that
        mixes ``<``-type and ``>``-type steps.
        """
        number = len(self.steps) + 1
        if relation not in RELATIONS:
            raise ValueError(f"step {number}: relation {relation!r} is not one of {RELATIONS}")
        labels = self._labels()
        for name in (on, *operation.reads):
            if name and name not in labels:
                raise ValueError(f"step {number}: no earlier result is labelled {name!r}")
        step = Step(operation, _sympify(stated), note, label, on, relation)
        derivation = replace(self, steps=self.steps + (step,))
        derivation._relations()  # fails now, naming the step, if the chain mixes the two directions
        return derivation

    def _labels(self) -> dict[str, sp.Basic]:
        labels = {"start": self.start}
        for step in self.steps:
            if step.label:
                labels[step.label] = step.stated
        return labels

    def _relations(self) -> list[str]:
        """For each step, the relation between the start and that step's result, along the steps it comes from."""
        by_label, previous, relations = {"start": "="}, "=", []
        for number, step in enumerate(self.steps, start=1):
            inputs = [by_label[step.on] if step.on else previous, *(by_label[name] for name in step.operation.reads)]
            try:
                previous = _compose(*inputs, step.relation)
            except ValueError as error:
                raise ValueError(f"{self.title}, step {number}: {error}") from None
            relations.append(previous)
            if step.label:
                by_label[step.label] = previous
        return relations

    @property
    def relation(self) -> str:
        """``start REL result``: ``"="`` for an identity, else the bound given by the inequality steps leading to it.

        The steps are composed as a chain ``a <= b = c < d``; that reads as a
        bound on the start only where the operations after an inequality keep
        the order (rewrites, substitutions, increasing maps), which the author
        of the derivation vouches for.
        """
        return self._relations()[-1] if self.steps else "="

    @property
    def relation_latex(self) -> str:
        return RELATION_LATEX[self.relation]

    def with_step(self, number: int, **changes) -> "Derivation":
        """The same derivation with step ``number`` (1-based) changed (``stated=``, ``operation=``, ``relation=``, ...).

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
        for lemma_ in self.lemmas:
            lemma_.check()
        return _check_cached(self)

    def counts(self) -> dict[str, int]:
        """Steps by evidence, lemmas included: ``{"steps", "proved", "sampled", "given", "failed", "custom"}``.

        ``custom`` counts the steps done by custom code; they are also counted
        under their evidence.
        """
        total = _counts(self.check(), len(self.steps))
        for lemma_ in self.lemmas:
            for kind, count in lemma_.counts().items():
                total[kind] += count
        return total

    def symbol_table(self) -> tuple[tuple[sp.Basic, tuple[str, ...]], ...]:
        """Every symbol of the start, the steps and the lemmas, by name, with the assumptions it was declared with."""
        symbols: set[sp.Basic] = set()
        for derivation in self._with_lemmas():
            for expression in (derivation.start, *(s.stated for s in derivation.steps)):
                symbols |= expression.atoms(sp.Symbol, sp.MatrixSymbol)
        ordered = sorted(symbols, key=lambda s: (str(s), sp.srepr(s)))
        return tuple((symbol, assumption_words(symbol)) for symbol in ordered)

    def symbol_assumptions(self) -> dict[str, list[str]]:
        """``{symbol name: assumption words}`` (see :meth:`symbol_table`); a repeated name is numbered ``"x (2)"``."""
        table: dict[str, list[str]] = {}
        for symbol, words in self.symbol_table():
            name, copy = str(symbol), 1
            while name in table:
                copy += 1
                name = f"{symbol} ({copy})"
            table[name] = list(words)
        return table

    def _with_lemmas(self) -> Iterator["Derivation"]:
        yield self
        for lemma_ in self.lemmas:
            yield from lemma_._with_lemmas()

    def _repr_latex_(self) -> str:
        lemmas = "".join(lemma_._repr_latex_() + r"\quad " for lemma_ in self.lemmas)
        lines = [rf"&{sp.latex(self.start)} && \text{{{_tex_text(self.start_note or 'start')}}}"]
        for step in self.check():
            mark = f"{step.evidence}, custom" if step.operation.is_custom else step.evidence
            lines.append(
                rf"&{step.relation_latex} {sp.latex(step.stated)} && \text{{[{mark}] {_tex_text(step.operation.text)}}}"
            )
        return lemmas + r"$\begin{aligned}" + r"\\ ".join(lines) + r"\end{aligned}$"


def assumption_words(symbol: sp.Basic) -> tuple[str, ...]:
    """The assumptions ``symbol`` was declared with (``("integer", "positive")``); a matrix symbol gives its shape."""
    if isinstance(symbol, sp.MatrixSymbol):
        rows, cols = symbol.shape
        return (f"matrix ({rows}, {cols})",)
    declared = getattr(symbol, "_assumptions_orig", {})
    return tuple(sorted(name if value else f"not {name}" for name, value in declared.items()))


def _compose(*relations: str) -> str:
    """The relation a chain of ``relations`` gives: ``=`` if all are ``=``; strict only if every inequality is."""
    inequalities = [r for r in relations if r != "="]
    directions = {r[0] for r in inequalities}
    if not directions:
        return "="
    if len(directions) > 1:
        raise ValueError(f"the chain mixes {' and '.join(sorted(set(inequalities)))}: it bounds nothing")
    (direction,) = directions
    return direction if all(len(r) == 1 for r in inequalities) else direction + "="


def _counts(checked: Sequence[Step], total: int, failed: int = 0) -> dict[str, int]:
    tally = {kind: sum(s.evidence == kind for s in checked) for kind in EVIDENCE}
    return {"steps": total, **tally, "failed": failed, "custom": sum(s.operation.is_custom for s in checked)}


def _tex_text(text: str) -> str:
    return text.replace("$", "")


def _sympify(value) -> sp.Basic:
    if isinstance(value, (list, tuple)):
        return sp.ImmutableMatrix(value)
    if isinstance(value, sp.MatrixBase):
        return sp.ImmutableMatrix(value)
    return sp.sympify(value)


_CHECKED: dict[Derivation, tuple[Step, ...]] = {}
"""Each derivation's checked steps, for the life of the process (or restored by :func:`restore_evidence`)."""


def _check_cached(derivation: Derivation) -> tuple[Step, ...]:
    checked = _CHECKED.get(derivation)
    if checked is None:
        checked = _CHECKED[derivation] = _check_steps(derivation)
    return checked


def evidence_record(derivation: Derivation) -> dict:
    """The evidence of every step, lemmas included, as JSON: what :func:`restore_evidence` takes back.

    Checks the derivation first (raises DerivationError if a step does not hold).
    """
    return {
        "rules": [step.operation.rule for step in derivation.steps],
        "evidence": [step.evidence for step in derivation.check()],
        "lemmas": [evidence_record(lemma_) for lemma_ in derivation.lemmas],
    }


def restore_evidence(derivation: Derivation, record: dict) -> bool:
    """Take each step's evidence from ``record`` (an :func:`evidence_record` of this same derivation,
    kept from an earlier run) instead of re-doing the step; False, restoring nothing, if the record
    does not fit the derivation's steps and lemmas."""
    if not _fits(derivation, record):
        return False
    for lemma_, lemma_record in zip(derivation.lemmas, record["lemmas"]):
        restore_evidence(lemma_, lemma_record)
    _CHECKED[derivation] = tuple(replace(step, evidence=e) for step, e in zip(derivation.steps, record["evidence"]))
    return True


def fingerprint(derivation: Derivation) -> str:
    """A digest of everything a check of ``derivation`` reads: its start, and each step's rule, text,
    code, relation, labels and statement, lemmas included. Two derivations with the same fingerprint
    are checked the same way by the same checker."""
    digest = hashlib.sha256()
    for derivation_ in derivation._with_lemmas():
        digest.update(f"{derivation_.title}\0{sp.srepr(derivation_.start)}\0".encode())
        for step in derivation_.steps:
            operation = step.operation
            fields = (operation.rule, operation.text, operation.code, ",".join(operation.reads), step.relation, step.on, step.label)
            digest.update("\0".join(fields).encode() + b"\0" + sp.srepr(step.stated).encode() + b"\1")
    return digest.hexdigest()


def _fits(derivation: Derivation, record: dict) -> bool:
    try:
        rules, evidence, lemmas = record["rules"], record["evidence"], record["lemmas"]
    except (KeyError, TypeError):
        return False
    return (
        rules == [step.operation.rule for step in derivation.steps]
        and len(evidence) == len(derivation.steps)
        and all(e in EVIDENCE for e in evidence)
        and all((e == "given") == step.operation.is_given for e, step in zip(evidence, derivation.steps))
        and isinstance(lemmas, list)
        and len(lemmas) == len(derivation.lemmas)
        and all(_fits(lemma_, r) for lemma_, r in zip(derivation.lemmas, lemmas))
    )


def _check_steps(derivation: Derivation) -> tuple[Step, ...]:
    checked = []
    previous = derivation.start
    labels = {"start": derivation.start}
    for number, step in enumerate(derivation.steps, start=1):
        source = labels[step.on] if step.on else previous
        operation = step.operation
        if operation.is_given:
            evidence = "given"
        else:
            try:
                computed = _sympify(operation.apply(source, *(labels[name] for name in operation.reads)))
            except Exception as error:
                raise DerivationError(
                    f"{derivation.title}, step {number} ({operation.text}): the operation failed: "
                    f"{type(error).__name__}: {error}",
                    _counts(checked, len(derivation.steps), failed=1),
                ) from None
            evidence = compare(computed, step.stated, step.relation)
            if evidence is None:
                claim = "" if step.relation == "=" else f"\n  the step claims:     gives {step.relation} states"
                raise DerivationError(
                    f"{derivation.title}, step {number} ({operation.text}) does not hold:\n"
                    f"  the operation gives: {computed}\n"
                    f"  the step states:     {step.stated}{claim}",
                    _counts(checked, len(derivation.steps), failed=1),
                )
        checked.append(replace(step, evidence=evidence))
        previous = step.stated
        if step.label:
            labels[step.label] = step.stated
    return tuple(checked)


# --- comparing two sides ----------------------------------------------------------------------


def compare(computed: sp.Basic, stated: sp.Basic, relation: str = "=") -> str | None:
    """``"proved"``, ``"sampled"`` or ``None`` (the claim fails) for ``computed REL stated``."""
    if relation != "=":
        return _compare_inequality(computed, stated, relation)
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
    if isinstance(matrix, MatrixExpr) and all(sp.sympify(d).is_Integer for d in matrix.shape):
        return sp.ImmutableMatrix(matrix.as_explicit())
    return None


_SIMPLIFIERS = (
    lambda e: e,
    sp.expand,
    sp.cancel,
    lambda e: sp.expand(sp.expand_trig(e)),
    sp.powsimp,
    sp.simplify,
)
"""Cheapest first: the forms in which a difference is tried for zero."""
_SIGN_FORMS = _SIMPLIFIERS[:-1] + (sp.factor, sp.simplify)
"""The forms in which the gap of an inequality is tried for a sign (factored: a product of signed factors)."""


def _compare_scalars(a: sp.Basic, b: sp.Basic) -> str | None:
    difference = a - b
    for simplifier in _SIMPLIFIERS:
        try:
            if simplifier(difference) == 0:
                return "proved"
        except Exception:  # noqa: BLE001 -- a SymPy simplifier that crashes (KeyError, ...) decides nothing
            continue
    if difference.atoms(sp.MatrixSymbol):  # a scalar of matrices (a trace, an entry): sample shapes and entries
        return "sampled" if _vanishes_at_sampled_shapes(a, b) else None
    return "sampled" if _vanishes_at_samples(difference, _seed(a, b)) else None


def _compare_inequality(computed: sp.Basic, stated: sp.Basic, relation: str) -> str | None:
    """``computed REL stated`` for scalars: the gap (the side that should be larger minus the other) has a sign."""
    if any(isinstance(e, (MatrixExpr, sp.MatrixBase, sp.Equality)) for e in (computed, stated)):
        return None
    gap = stated - computed if relation[0] == "<" else computed - stated
    strict = len(relation) == 1
    for simplifier in _SIGN_FORMS:
        try:
            sign = _has_sign(simplifier(gap), strict)
        except Exception:  # noqa: BLE001 -- a SymPy simplifier that crashes decides nothing
            continue
        if sign is not None:
            return "proved" if sign else None
    return "sampled" if _signed_at_samples(gap, strict, _seed(computed, stated, relation)) else None


def _has_sign(expression: sp.Basic, strict: bool) -> bool | None:
    """Whether ``expression`` is positive (``strict``) or nonnegative, from the assumptions; None if undecided."""
    return expression.is_positive if strict else expression.is_nonnegative


def _seed(*parts) -> int:
    """A seed drawn from the step's content, so that each step gets its own points."""
    return zlib.crc32("|".join(sp.srepr(p) if isinstance(p, sp.Basic) else str(p) for p in parts).encode())


def _points(symbols: Sequence[sp.Basic], seed: int) -> Iterator[dict[sp.Basic, sp.Rational]]:
    """Random rational points for ``symbols`` (respecting their assumptions), a fresh stream per seed."""
    rng = random.Random(seed)
    while True:
        yield {s: _random_value(s, rng) for s in symbols}


def _vanishes_at_samples(difference: sp.Basic, seed: int) -> bool:
    """The difference is exactly 0 at ``SAMPLE_POINTS`` random points where it is defined."""
    return _holds_at_samples(difference, seed, _is_zero_number)


def _signed_at_samples(gap: sp.Basic, strict: bool, seed: int) -> bool:
    """The gap is exactly positive (``strict``) or nonnegative at ``SAMPLE_POINTS`` random points."""
    return _holds_at_samples(gap, seed, lambda value: _has_exact_sign(value, strict))


def _holds_at_samples(expression: sp.Basic, seed: int, holds: Callable[[sp.Basic], bool]) -> bool:
    symbols = sorted(expression.free_symbols, key=str)
    if not symbols:
        return holds(expression)
    passed = 0
    for _, point in zip(range(_MAX_DRAWS), _points(symbols, seed)):
        try:
            value = expression.subs(point)
        except (TypeError, ValueError, ArithmeticError):
            return False
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            continue  # a pole of one side: the point says nothing, draw another
        if not holds(value):
            return False
        passed += 1
        if passed == SAMPLE_POINTS:
            return True
    return False


def _is_zero_number(value: sp.Basic) -> bool:
    """Exactly zero: as it stands, after simplification, or by SymPy's exact ``equals`` (never a float tolerance).

    A value that evaluates to a nonzero number with every digit certain is
    nonzero, and says so at once: exact arithmetic on sampled powers can
    build integers of thousands of digits.
    """
    if value.free_symbols:
        return False
    if value == 0:
        return True
    if _certainly_nonzero(value):
        return False
    try:
        return sp.simplify(value) == 0 or value.equals(0) is True
    except ValueError:  # an integer too long to print or convert: undecided, so not shown to be zero
        return False


def _certainly_nonzero(value: sp.Basic) -> bool:
    """``value`` evaluates to a nonzero number to 15 significant digits that evalf guarantees (``strict``)."""
    try:
        approximation = value.evalf(15, strict=True)
    except (sp.core.evalf.PrecisionExhausted, ValueError, TypeError, ArithmeticError):
        return False
    return bool(approximation.is_number) and approximation != 0


def _has_exact_sign(value: sp.Basic, strict: bool) -> bool:
    """An exact number that is positive (``strict``) or nonnegative; a number whose sign SymPy cannot decide fails."""
    if value.free_symbols:
        return False
    if _is_zero_number(value):
        return not strict
    try:
        return value.is_positive is True
    except ValueError:  # an integer too long to convert: the sign is undecided
        return False


def _random_value(symbol: sp.Basic, rng: random.Random) -> sp.Rational:
    """A random rational respecting the symbol's assumptions (integer, positive, negative, nonzero, ...)."""
    sign = 1
    if symbol.is_negative or symbol.is_nonpositive:
        sign = -1
    elif not (symbol.is_positive or symbol.is_nonnegative) and rng.random() < 0.5:
        sign = -1
    if symbol.is_integer:
        # small integers: sizes and summation bounds stay cheap; 0 only where the symbol allows it
        low = 1 if (symbol.is_positive or symbol.is_negative or symbol.is_zero is False) else 0
        return sp.Integer(sign * rng.randint(low, 7))
    value = Fraction(rng.randint(1, 97), rng.randint(2, 31))
    return sign * sp.Rational(value.numerator, value.denominator)


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
    return "sampled" if _vanishes_at_sampled_shapes(a, b) else None


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


def _vanishes_at_sampled_shapes(a: sp.Basic, b: sp.Basic) -> bool:
    """At ``SAMPLE_POINTS`` random points, each with its own small sizes and rational matrices, ``a = b`` exactly."""
    matrices = sorted((a - b).atoms(sp.MatrixSymbol), key=str)
    sizes = sorted({s for m in matrices for dim in m.shape for s in sp.sympify(dim).free_symbols}, key=str)
    scalars = sorted((a - b).free_symbols - set(matrices) - set(sizes), key=str)
    rng = random.Random(_seed(a, b))
    entry = sp.Symbol("entry")  # no assumptions: entries of either sign
    for _ in range(SAMPLE_POINTS):
        point = {s: sp.Integer(rng.randint(1, 4)) for s in sizes}
        for m in matrices:
            rows, cols = (int(sp.sympify(x).subs(point)) for x in m.shape)
            point[m] = sp.ImmutableMatrix(rows, cols, lambda i, j: _random_value(entry, rng))
        point.update({s: _random_value(s, rng) for s in scalars})
        try:
            concrete = [_explicit_value(x.subs(point)) for x in (a, b)]
        except (TypeError, ValueError, AttributeError, sp.ShapeError):
            return False
        if concrete[0].shape != concrete[1].shape or not all(_is_zero_number(e) for e in concrete[0] - concrete[1]):
            return False
    return True


def _explicit_value(value: sp.Basic) -> sp.ImmutableMatrix:
    """A value with concrete shapes as an explicit matrix (a scalar as ``1 x 1``), every held operation done."""
    value = value.doit()
    if isinstance(value, (MatrixExpr, sp.MatrixBase)):
        return sp.ImmutableMatrix(value.as_explicit())
    return sp.ImmutableMatrix([[value]])
