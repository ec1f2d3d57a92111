"""Compile a derivation's closed form into a batched numpy function (never retyped).

Arguments are matched by name: the SymPy symbol ``sigma_q`` reads the keyword
``sigma_q``. Scalar symbols take arrays of shape ``(n,)`` (one value per
instance); a ``MatrixSymbol`` of shape ``(r, c)`` takes an array ``(n, r, c)``.
The result has shape ``(n,)`` for a scalar, ``(n, k)`` for an explicit
column vector of ``k`` entries (one row per instance), and ``(n, r, c)`` for
any other explicit matrix and for a matrix expression.

>>> import numpy as np, sympy as sp
>>> a, b = sp.symbols("a b")
>>> f = compile_closed_form(sp.Matrix([[a + b, 0], [a * b, 1]]))
>>> f(a=np.array([1.0, 2.0]), b=np.array([3.0, 4.0])).shape
(2, 2, 2)
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr
from sympy.printing.numpy import NumPyPrinter


class _BatchedMatrixPrinter(NumPyPrinter):
    """Prints matrix products and transposes so that a leading batch axis is carried along."""

    def _print_MatMul(self, expr):
        scalars = [a for a in expr.args if not a.is_Matrix]
        matrices = [a for a in expr.args if a.is_Matrix]
        product = self._print(matrices[0])
        for m in matrices[1:]:
            product = f"numpy.matmul({product}, {self._print(m)})"
        if scalars:
            product = f"({self._print(sp.Mul(*scalars))})*{product}"
        return product

    def _print_Transpose(self, expr):
        return f"numpy.swapaxes({self._print(expr.arg)}, -1, -2)"

    def _print_MatPow(self, expr):
        return f"numpy.linalg.matrix_power({self._print(expr.base)}, {self._print(expr.exp)})"

    def _print_Inverse(self, expr):
        return f"numpy.linalg.inv({self._print(expr.arg)})"

    def _print_Identity(self, expr):
        # A symbolic size is a shape parameter, passed as one integer (reshaped like any scalar).
        if expr.rows.is_Integer:
            return super()._print_Identity(expr)
        return f"numpy.eye(int(numpy.ravel({self._print(expr.rows)})[0]))"


def compile_closed_form(expr: sp.Basic) -> Callable[..., np.ndarray]:
    """A function of keyword arrays (by symbol name) evaluating ``expr`` on a batch."""
    if isinstance(expr, sp.MatrixBase):
        return _compile_explicit_matrix(expr)
    if isinstance(expr, MatrixExpr):
        return _compile_matrix_expression(expr)
    return _compile_scalar(expr)


def _symbols(expr: sp.Basic) -> list[sp.Basic]:
    return sorted(expr.free_symbols, key=str)


def _compile_scalar(expr: sp.Basic) -> Callable[..., np.ndarray]:
    symbols = _symbols(expr)
    function = sp.lambdify(symbols, expr, modules="numpy")
    names = [str(s) for s in symbols]  # once: str() of a symbol runs SymPy's printer

    def evaluate(**arrays):
        args = [np.asarray(arrays[name], dtype=float) for name in names]
        n = _batch_size(arrays)
        return np.broadcast_to(np.asarray(function(*args), dtype=float), (n,)).copy()

    return evaluate


def _compile_explicit_matrix(matrix: sp.MatrixBase) -> Callable[..., np.ndarray]:
    rows, cols = matrix.shape
    entries = [_compile_scalar(e) for e in matrix]

    shape = (rows,) if cols == 1 else (rows, cols)

    def evaluate(**arrays):
        n = _batch_size(arrays)
        values = np.stack([e(**arrays) for e in entries], axis=-1) if entries else np.zeros((n, 0))
        return values.reshape(n, *shape)

    return evaluate


def _compile_matrix_expression(expr: MatrixExpr) -> Callable[..., np.ndarray]:
    symbols = _symbols(expr)
    function = sp.lambdify(symbols, expr, modules="numpy", printer=_BatchedMatrixPrinter)
    names = [(str(s), isinstance(s, sp.MatrixSymbol)) for s in symbols]

    def evaluate(**arrays):
        args = []
        for name, matrix in names:
            value = np.asarray(arrays[name], dtype=float)
            args.append(value if matrix else value.reshape(-1, 1, 1))
        return np.asarray(function(*args), dtype=float)

    return evaluate


def _batch_size(arrays: dict) -> int:
    """The number of instances; a closed form with no array argument is a constant, evaluated once."""
    sizes = {np.shape(v)[0] for v in arrays.values() if np.ndim(v) > 0}
    if not sizes:
        return 1
    if len(sizes) != 1:
        raise ValueError(f"closed form: arguments disagree on the number of instances: {sorted(sizes)}")
    return sizes.pop()


def constant_perturbations(expr: sp.Basic) -> list[tuple[str, str, sp.Basic]]:
    """Each distinct numeric constant ``c`` of ``expr`` replaced by ``c (1 + 1e-3)``, ``c + 1`` and ``-c``.

    Returns ``(name, constant, perturbed expression)``, skipping perturbations that leave the
    expression unchanged. Every occurrence of the constant changes at once (``x**2 + 2 x``
    with 2 -> 3 is ``x**3 + 3 x``): a generated mutant is a wrong constant, wherever it stands.

    >>> x = sp.Symbol("x")
    >>> [name for name, _, _ in constant_perturbations(3 * x)]
    ['3 -> 3(1 + 1e-3)', '3 -> 3 + 1', '3 -> -3']
    """
    perturbed = []
    seen = {expr}
    for constant in sorted(_scalar_constants(expr), key=lambda c: (abs(float(c)), float(c))):
        text = sp.sstr(constant)
        for label, replacement in (
            (f"{text} -> {text}(1 + 1e-3)", constant * sp.Float("1.001")),
            (f"{text} -> {text} + 1", constant + 1),
            (f"{text} -> -{text}" if not text.startswith("-") else f"{text} -> {text[1:]}", -constant),
        ):
            try:
                changed = expr.xreplace({constant: replacement})
            except (ValueError, TypeError):  # the constant also stands where only an integer may (a power of a matrix)
                continue
            if changed not in seen:
                seen.add(changed)
                perturbed.append((label, text, changed))
    return perturbed


def _scalar_constants(expr: sp.Basic) -> set[sp.Number]:
    """The non-zero numbers of ``expr``, leaving out matrix shapes (a size is not a constant of the claim)."""
    if isinstance(expr, sp.Number):
        return {expr} if expr != 0 else set()
    if isinstance(expr, (sp.MatrixSymbol, sp.Identity, sp.ZeroMatrix)):
        return set()
    found = set()
    for argument in expr.args:
        if isinstance(argument, sp.Basic):
            found |= _scalar_constants(argument)
    return found
