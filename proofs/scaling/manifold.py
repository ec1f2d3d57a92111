"""The manifold-dimension exponent of Sharma and Kaplan 2020 (SymPy only).

* :func:`manifold_exponent`: piecewise-(multi)linear interpolation in a cell of side ``h``
  misses a smooth function by its second-order Taylor term, ``a_1 x(x - h) + a_2 y(y - h)``,
  whose mean square over the cell is ``h^4 K``; ``N`` cells of side ``h`` fill a
  ``d``-dimensional manifold of unit volume, ``N h^d = 1``, so the squared error is
  ``K N^(-4/d)`` and its log-log slope in ``N`` is ``-4/d``.
* :func:`axis_error_scaling` (its lemma): each axis's term is ``h^2`` times a function of
  ``x/h``, so in any dimension the cell's mean square is ``h^4`` times a constant ``K``.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, collect, elasticity, expand, integrate, solve_for, substitute

SHARMA_KAPLAN = "Sharma and Kaplan 2020, A Neural Scaling Law from the Dimension of the Data Manifold"

x, y = sp.symbols("x y", real=True)
h, N, d = sp.symbols("h N d", positive=True)
a0, b1, b2, a12, a1, a2 = sp.symbols("a_0 b_1 b_2 a_12 a_1 a_2", real=True)
xi = sp.Symbol("xi", real=True)
# The mean-square constant of the cell error (positive unless the target is linear in the cell).
K = sp.Symbol("K", positive=True)

# A smooth function to second order (Taylor) in a cell [0, h]^2 with its corner at the origin.
_taylor = a0 + b1 * x + b2 * y + a12 * x * y + a1 * x**2 + a2 * y**2


def _bilinear_interpolant(f: sp.Expr) -> sp.Expr:
    """The bilinear interpolant of ``f`` through the four corners of ``[0, h]^2``."""
    s, t = x / h, y / h
    corner = lambda i, j: f.subs({x: i * h, y: j * h})
    return corner(0, 0) * (1 - s) * (1 - t) + corner(1, 0) * s * (1 - t) + corner(0, 1) * (1 - s) * t + corner(1, 1) * s * t


def cells_filling_the_manifold() -> Derivation:
    """``N`` cells of side ``h`` cover a ``d``-dimensional manifold of unit volume: ``h = N^(-1/d)``."""
    return Derivation(
        "Cell side for N cells",
        N * h**d - 1,
        start_note=r"$N$ cells of volume $h^d$ fill a unit volume",
        assumptions=(r"the manifold has unit $d$-dimensional volume (the scale is absorbed in the constant)",),
    ).then(solve_for(h, text=r"solve $N h^d = 1$ for $h$"), N ** (-1 / d), label="h")


def axis_error_scaling() -> Derivation:
    """One axis's interpolation error ``a x (x - h)`` is ``h^2 a xi (xi - 1)`` with ``x = h xi``, ``xi`` in ``[0, 1]``.

    So the error in a cell of side ``h``, the sum of these over the ``d`` axes, is ``h^2`` times a
    function of the cell's unit coordinates ``xi`` alone; its mean square over the cell (the mean
    over the unit cube) is ``h^4`` times a constant ``K`` that depends on the curvatures ``a_i``
    and on ``d`` but not on ``h``. Sharma and Kaplan 2020, section 2.
    """
    return Derivation(
        "The cell error scales with the square of the cell side",
        a1 * x * (x - h),
        start_note=r"the error of linear interpolation along one axis of the cell, curvature $a_1$",
    ).then(
        substitute({x: h * xi}, text=r"unit coordinates: $x = h \xi$, $\xi \in [0, 1]$"),
        h**2 * a1 * xi * (xi - 1),
        note=(
            r"$h^2$ times a function of $\xi$: summed over $d$ axes and squared, $h^4$ times a function on the unit "
            r"cube, whose mean is a constant $K$"
        ),
    )


def manifold_exponent() -> Derivation:
    """The squared error of piecewise-linear interpolation falls as ``N^(-4/d)``.

    The cell computation is done for ``d = 2`` (bilinear interpolation; ``a_2 = 0`` is the
    one-dimensional case): the interpolant reproduces ``1, x, y, xy`` exactly, so the error is
    the pure second-order terms, ``a_1 x(x - h) + a_2 y(y - h)``, and its mean square over the cell
    is ``h^4 (a_1^2/30 + a_1 a_2/18 + a_2^2/30)``. In ``d`` dimensions multilinear interpolation
    likewise leaves ``sum_i a_i x_i (x_i - h)``, whose mean square is ``h^4`` times a constant ``K``
    (lemma :func:`axis_error_scaling`); from there on the derivation holds for every ``d`` with ``K``
    that constant, and the numerical check covers ``d = 3``. Labelled: ``error``, ``cell_mse``,
    ``mse_of_K`` (``K h^4``), ``mse_of_N``; the closed form is the exponent ``-4/d``.
    Sharma and Kaplan 2020, section 2; seed 000, hours 5-6.
    """
    cell_mse = h**4 * (a1**2 / 30 + a1 * a2 / 18 + a2**2 / 30)
    return (
        Derivation(
            "The manifold-dimension exponent",
            _taylor - _bilinear_interpolant(_taylor),
            start_note=r"a smooth function to second order minus its bilinear interpolant on a cell $[0, h]^2$",
            assumptions=(
                r"the target is smooth on a $d$-dimensional manifold; within a cell of side $h$ it equals its "
                r"second-order Taylor polynomial up to $O(h^3)$",
                r"the model is the piecewise-(multi)linear interpolant on $N$ cells, one parameter per cell",
            ),
            lemmas=(cells_filling_the_manifold(), axis_error_scaling()),
        )
        .then(
            expand(),
            a1 * x**2 - a1 * h * x + a2 * y**2 - a2 * h * y,
            note=r"constant, linear and $xy$ terms are reproduced exactly",
        )
        .then(
            collect(a1, a2, why="factor each axis"),
            a1 * x * (x - h) + a2 * y * (y - h),
            note=r"the second-order Taylor error, $O(h^2)$ pointwise",
            label="error",
        )
        .then(
            apply_map(lambda error: error**2, why="square the error"),
            (a1 * x * (x - h) + a2 * y * (y - h)) ** 2,
        )
        .then(
            integrate(x, 0, h),
            a1**2 * h**5 / 30 - a1 * a2 * h**3 * y * (y - h) / 3 + a2**2 * h * y**2 * (y - h) ** 2,
            note=r"$\int_0^h x (x - h)\, dx = -h^3/6$ and $\int_0^h x^2 (x - h)^2\, dx = h^5/30$",
        )
        .then(
            integrate(y, 0, h),
            h**6 * (a1**2 / 30 + a1 * a2 / 18 + a2**2 / 30),
        )
        .then(
            apply_map(lambda total: total / h**2, why="divide by the cell's area $h^2$: the mean"),
            cell_mse,
            note=r"the mean squared error in a cell for $d = 2$",
            label="cell_mse",
        )
        .then(
            substitute({cell_mse / h**4: K}, text=r"call the constant $K$"),
            K * h**4,
            note=r"in $d$ dimensions too the mean square is $K h^4$, with $K$ depending on $d$ (lemma)",
            label="mse_of_K",
        )
        .then(
            substitute({h: N ** (-1 / d)}, text=r"cells of side $h = N^{-1/d}$ (lemma)"),
            K * N ** (-4 / d),
            note=r"the squared error with $N$ parameters",
            label="mse_of_N",
        )
        .then(
            elasticity(N, why=r"the log-log slope $d \ln \mathrm{MSE} / d \ln N$"),
            -4 / d,
            note=r"independent of the constant $K$ (the target's curvature) and of the ambient dimension",
        )
    )
