"""Zero-order-hold discretisation of a linear state-space model (SymPy only).

* :func:`zoh_discretization`: ``x' = a x + b u`` with ``u`` held constant over ``[t, t + Delta]``
  gives ``x(t + Delta) = A_bar x(t) + B_bar u`` with ``A_bar = exp(Delta a)`` and
  ``B_bar = (Delta a)^-1 (exp(Delta a) - 1) Delta b``, by the integrating factor (variation of
  constants). Its lemmas: the same for a diagonalisable 2 x 2 matrix with symbolic
  eigenvectors (:func:`zoh_two_by_two`), and the error of Mamba's simplified
  ``B_bar = Delta b`` (:func:`euler_input_error`), which is ``O(Delta^2)``.

Sources: Gu, Goel, Re 2022 (S4), section 2; Gu, Dao 2023 (Mamba), section 2 and equation (4).
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import (
    Derivation,
    column,
    custom,
    differentiate,
    identity,
    integrate,
    series,
    solve_for,
    substitute,
)

a = sp.Symbol("a", real=True, nonzero=True)
b = sp.Symbol("b", real=True)
u = sp.Symbol("u", real=True)
x_0 = sp.Symbol("x_0", real=True)
Delta = sp.Symbol("Delta", positive=True)
s = sp.Symbol("s", nonnegative=True)
x = sp.Function("x")

# The 2 x 2 lemma: A = V diag(lambda_1, lambda_2) V^-1 with symbolic eigenvectors and input column (b_1, b_2).
lambda_1, lambda_2 = sp.symbols("lambda_1 lambda_2", real=True, nonzero=True)
r, p = sp.symbols("r p", real=True)
V = sp.Matrix([[1, r], [p, 1]])
B_column = sp.Matrix(sp.symbols("b_1 b_2", real=True))

A_BAR = sp.exp(Delta * a)
B_BAR = (sp.exp(Delta * a) - 1) * b / a


def fundamental_theorem(antiderivative: sp.Expr):
    """The operation ``integral -> Eq(F(Delta) - F(0), integral)`` for ``F = antiderivative`` (a function of ``s``).

    The fundamental theorem of calculus: the integral over ``[0, Delta]`` of ``F'`` is the increment of
    ``F``. The left side is built from ``F`` itself, so a step using it follows from the start.
    """

    def equate_with_increment(integral: sp.Expr) -> sp.Eq:
        return sp.Eq(antiderivative.subs(s, Delta) - antiderivative.subs(s, 0), integral)

    return equate_with_increment


def zoh_discretization() -> Derivation:
    """ZOH: ``x(t + Delta) = exp(Delta a) x(t) + (Delta a)^-1 (exp(Delta a) - 1) Delta b u``.

    Multiply by the integrating factor ``e^{-a s}``: ``(e^{-a s} x(s))' = e^{-a s} b u`` when
    ``u`` is held; integrate over ``[0, Delta]`` (time measured from ``t``), equate the integral with
    the increment ``e^{-a Delta} x(Delta) - x(0)`` of the start (the fundamental theorem of calculus,
    the left side built from the start itself), put in ``x(0) = x_0`` and solve for ``x(Delta)``.
    The update is affine in ``x_0`` and ``u``, so its derivatives in them are ``A_bar`` and ``B_bar``;
    the closed form is the column ``(A_bar, B_bar)``. Every step treats ``a`` and ``b`` only
    through sums, products and power series of ``a``, so it holds verbatim for a diagonal ``A``
    (Mamba's case: one scalar system per state) and, by the spectral mapping
    ``f(V Lambda V^-1) = V f(Lambda) V^-1``, for a diagonalisable ``A``: the lemma
    :func:`zoh_two_by_two` checks that for ``2 x 2`` with symbolic ``V``. Lemma
    :func:`euler_input_error`: Mamba's ``B_bar = Delta b`` is off by ``Delta^2 a b / 2 + O(Delta^3)``.
    """
    endpoint = x(Delta)
    input_integral = b * u * (1 - sp.exp(-a * Delta)) / a
    derivation = Derivation(
        "Zero-order hold by the integrating factor",
        sp.exp(-a * s) * x(s),
        start_note=(
            r"$e^{-a s} x(s)$ for $x' = a x + b u$ with $u$ held constant on $[0, \Delta]$ "
            r"(time measured from $t$) and $x(0) = x_0$"
        ),
        assumptions=(r"$u$ is constant on $[t, t + \Delta]$ (zero-order hold), $a \ne 0$",),
        lemmas=(zoh_two_by_two(), euler_input_error()),
    )
    return (
        derivation.then(differentiate(s), -a * sp.exp(-a * s) * x(s) + sp.exp(-a * s) * sp.Derivative(x(s), s))
        .then(
            substitute({sp.Derivative(x(s), s): a * x(s) + b * u}, r"substitute the dynamics $x'(s) = a x(s) + b u$"),
            sp.exp(-a * s) * b * u,
            note="the state drops out: the derivative of the weighted state is the weighted input",
        )
        .then(integrate(s, 0, Delta), input_integral)
        .then(
            custom(
                r"fundamental theorem of calculus: this integral of the derivative of the start $e^{-a s} x(s)$ "
                r"equals its increment from $s = 0$ to $s = \Delta$",
                fundamental_theorem(derivation.start),
            ),
            sp.Eq(sp.exp(-a * Delta) * endpoint - x(0), input_integral),
        )
        .then(
            substitute({x(0): x_0}, r"the initial state $x(0) = x_0$"),
            sp.Eq(sp.exp(-a * Delta) * endpoint - x_0, input_integral),
        )
        .then(
            solve_for(endpoint, r"solve for $x(\Delta)$"),
            sp.exp(Delta * a) * x_0 + (sp.exp(Delta * a) - 1) * b * u / a,
            label="update",
        )
        .then(differentiate(x_0, why=r"$\bar A$, the coefficient of $x_0$ in the affine update"), A_BAR, label="A_bar")
        .then(differentiate(u, why=r"$\bar B$, the coefficient of $u$"), B_BAR, on="update", label="B_bar")
        .then(
            column("A_bar", "B_bar"),
            sp.Matrix([A_BAR, B_BAR]),
            note=r"$\bar A = e^{\Delta a}$, $\bar B = (\Delta a)^{-1}(e^{\Delta a} - 1)\, \Delta b$",
        )
    )


def spectral_exponential(time: sp.Expr) -> sp.Matrix:
    """``exp(time A) = V diag(e^{time lambda_1}, e^{time lambda_2}) V^-1`` for ``A = V diag(lambda) V^-1``."""
    return V * sp.diag(sp.exp(time * lambda_1), sp.exp(time * lambda_2)) * V.inv()


def two_by_two_matrix() -> sp.Matrix:
    """``A = V diag(lambda_1, lambda_2) V^-1``."""
    return V * sp.diag(lambda_1, lambda_2) * V.inv()


def zoh_two_by_two() -> Derivation:
    """``int_0^Delta e^{sA} ds B = (Delta A)^-1 (e^{Delta A} - I) Delta B`` for ``A = V diag(lambda_1, lambda_2) V^-1``.

    ``V = [[1, r], [p, 1]]`` is every invertible eigenvector matrix up to the scale and order of
    its columns (if ``v_11 = 0``, swapping the columns makes both diagonal entries nonzero).
    Integrating the exponential entry by entry gives ``V diag((e^{Delta lambda_i} - 1)/lambda_i) V^-1 B``;
    the second step states it as the matrix formula with ``A`` and ``e^{Delta A}`` multiplied
    out, which SymPy confirms as rational functions of ``r``, ``p``, ``lambda_i`` and ``e^{Delta lambda_i}``.
    """
    integrated = sp.diag(*[(sp.exp(Delta * lam) - 1) / lam for lam in (lambda_1, lambda_2)])
    return (
        Derivation(
            "ZOH input matrix for a diagonalisable 2 x 2 matrix",
            spectral_exponential(s) * B_column,
            start_note=(
                r"$e^{sA} B = V e^{s\Lambda} V^{-1} B$ for $A = V \Lambda V^{-1}$, "
                r"$\Lambda = \mathrm{diag}(\lambda_1, \lambda_2)$, $V = \begin{pmatrix} 1 & r \\ p & 1 \end{pmatrix}$"
            ),
            assumptions=(r"$A = V \Lambda V^{-1}$ with $\lambda_1, \lambda_2 \ne 0$ and $r p \ne 1$",),
        )
        .then(
            integrate(s, 0, Delta),
            V * integrated * V.inv() * B_column,
            note=r"$\int_0^\Delta e^{s A} ds\, B = V \Lambda^{-1} (e^{\Delta\Lambda} - I) V^{-1} B$",
        )
        .then(
            identity(r"$V \Lambda^{-1}(e^{\Delta\Lambda} - I) V^{-1} = A^{-1}(e^{\Delta A} - I)$"),
            (Delta * two_by_two_matrix()).inv() * (spectral_exponential(Delta) - sp.eye(2)) * Delta * B_column,
            note=r"$\bar B = (\Delta A)^{-1}(e^{\Delta A} - I)\, \Delta B$ with $A$ and $e^{\Delta A}$ multiplied out",
        )
    )


def euler_input_error() -> Derivation:
    """Mamba's ``B_bar = Delta b`` against the exact ``B_bar``: the gap is ``Delta^2 a b / 2 + O(Delta^3)``."""
    return Derivation(
        "Mamba's first-order input matrix",
        B_BAR - Delta * b,
        start_note=r"$\bar B_{\mathrm{ZOH}} - \Delta b$",
    ).then(
        series(Delta, 0, 4),
        a * b * Delta**2 / 2 + a**2 * b * Delta**3 / 6,
        note=r"the local error is $\frac{1}{2}\Delta^2 a b u + O(\Delta^3)$: first-order accurate",
    )
