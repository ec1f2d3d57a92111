"""Derivations for the state-space-model theorems (SymPy only).

* :func:`legs_dynamics`: the HiPPO-LegS memory (Gu, Dao, Ermon, Rudra, Re 2020, "HiPPO:
  Recurrent Memory with Optimal Polynomial Projections", section 3 and appendix D.3).
  The coefficients ``c_n(t)`` of the optimal projection of the history of ``f`` onto the
  scaled Legendre polynomials satisfy ``c'(t) = -(1/t) A c(t) + (1/t) B f(t)``; the
  derivation differentiates the projection integral, and the Jacobian of the rates in
  ``(c(t), f(t))`` is the closed form ``(-A/t | B/t)``.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import (
    Derivation,
    DerivationError,
    custom,
    differentiate,
    identity,
    instantiate,
    jacobian,
    substitute,
)

# --- hippo-legs -----------------------------------------------------------------------------

LEGS_N_MAX = 8
"""The derivation instantiates the Legendre facts for ``n = 0, ..., LEGS_N_MAX - 1``."""

n = sp.Symbol("n", integer=True, nonnegative=True)
s = sp.Symbol("s", nonnegative=True)
t = sp.Symbol("t", positive=True)
x = sp.Symbol("x", real=True)
f = sp.Function("f")


class Subscripted(sp.Function):
    """``name_k(argument)`` for the two-argument application ``(k, argument)``, in every printer."""

    nargs = 2
    shown_as = ""

    def _as_shown(self) -> sp.Expr:
        degree, argument = self.args
        return sp.Function(f"{self.shown_as}_{degree}")(argument)

    def _sympystr(self, printer):
        return printer._print(self._as_shown())

    def _pretty(self, printer):
        return printer._print(self._as_shown())

    def _latex(self, printer, exp=None):
        degree, argument = (printer._print(a) for a in self.args)
        return rf"{self.shown_as}_{{{degree}}}\left({argument}\right)"


class P(Subscripted):
    """The Legendre polynomial ``P_n(x)``, kept unevaluated so that steps read ``P_n(x)``.

    ``expand`` writes it out (Rodrigues' formula, through ``sympy.legendre``) when ``n`` is
    a concrete integer, so a step that uses a Legendre identity for concrete ``n`` is proved
    by expanding both sides.
    """

    shown_as = "P"

    def fdiff(self, argindex=2):
        if argindex != 2:
            raise sp.ArgumentIndexError(self, argindex)
        return DP(*self.args)

    def _eval_expand_basic(self, **hints):
        degree, argument = self.args
        return sp.legendre(degree, argument) if degree.is_Integer else self

    def _eval_evalf(self, prec):
        expanded = self._eval_expand_basic()
        return None if expanded is self else expanded._eval_evalf(prec)


class DP(Subscripted):
    """The derivative ``P_n'(x)`` of the Legendre polynomial, expanded like :class:`P`."""

    shown_as = "P'"

    def _eval_expand_basic(self, **hints):
        degree, argument = self.args
        if not degree.is_Integer:
            return self
        y = sp.Dummy("y")
        return sp.diff(sp.legendre(degree, y), y).subs(y, argument)

    def _eval_evalf(self, prec):
        expanded = self._eval_expand_basic()
        return None if expanded is self else expanded._eval_evalf(prec)


class c(Subscripted):
    """The projection coefficient ``c_n(t)``: an unknown, never a number, even at a numeric ``t``.

    A Jacobian may be taken with respect to it (as with respect to ``f(t)``): the rates are linear in the coefficients.
    """

    shown_as = "c"
    is_number = False
    _diff_wrt = True


def _history(variable: sp.Expr) -> sp.Expr:
    """``f`` at the time ``s = t (x + 1) / 2`` that the variable ``x`` in [-1, 1] stands for."""
    return f(t * (variable + 1) / 2)


def _projection_integral(degree: sp.Expr) -> sp.Integral:
    """``int_{-1}^{1} f(t (x + 1) / 2) P_k(x) dx``, which is ``2 c_k(t) / sqrt(2k + 1)``."""
    return sp.Integral(_history(x) * P(degree, x), (x, -1, 1))


def pull_out_constants(integral: sp.Integral) -> sp.Expr:
    """``int a g(x) dx = a int g(x) dx`` for the factors ``a`` that do not involve ``x``."""
    (variable, *_), = integral.limits
    constant, rest = integral.function.as_independent(variable, as_Add=False)
    return constant * sp.Integral(rest, *integral.limits)


def change_to_unit_interval(expr: sp.Expr) -> sp.Expr:
    """Substitute ``s = t (x + 1) / 2`` (``ds = t dx / 2``) in every integral over ``s``, constants taken out."""

    def transform(integral: sp.Integral) -> sp.Expr:
        return pull_out_constants(integral.transform(s, (t * (x + 1) / 2, x)))

    return expr.replace(lambda e: isinstance(e, sp.Integral), transform)


def _instances(expr: sp.Expr) -> sp.Matrix:
    """The column ``(expr at n = 0, ..., LEGS_N_MAX - 1)``."""
    return sp.Matrix([expr.subs(n, k) for k in range(LEGS_N_MAX)])


def coefficients_by_linearity(expr: sp.Basic, signal: sp.Expr) -> sp.Basic:
    """Linearity in every integral of ``expr``: ``int F (sum_k a_k P_k) dx = sum_k a_k 2 c_k / sqrt(2k + 1)``.

    ``F`` is ``signal``, the measured signal in the variable ``x`` of the integrals (the
    history for LegS, the window for LegT). Raises :class:`DerivationError` unless each
    integrand is ``F`` times a combination of Legendre polynomials with coefficients free of ``x``.
    """

    def in_coefficients(integral: sp.Integral) -> sp.Expr:
        total = sp.Integer(0)
        for term in sp.Add.make_args(sp.expand(integral.function / signal, basic=False)):
            if term == 0:
                continue
            polynomials = term.atoms(P)
            if len(polynomials) != 1:
                raise DerivationError(f"{term} is not a multiple of one Legendre polynomial")
            (polynomial,) = polynomials
            coefficient = sp.cancel(term / polynomial)
            if coefficient.has(x):
                raise DerivationError(f"{term}: its coefficient depends on x")
            degree = polynomial.args[0]
            total += coefficient * 2 * c(degree, t) / sp.sqrt(2 * degree + 1)
        return total

    return expr.replace(lambda e: isinstance(e, sp.Integral), in_coefficients)


def _by_linearity(expr: sp.Basic) -> sp.Basic:
    return coefficients_by_linearity(expr, _history(x))


def memory_unknowns(size: int, *signal_values: sp.Expr) -> list[sp.Expr]:
    """``c_0(t), ..., c_(size-1)(t)`` and then the signal's values that the rates read (``f(t)``, ...)."""
    return [c(k, t) for k in range(size)] + list(signal_values)


def legs_matrix(size: int) -> sp.Matrix:
    """The stated LegS ``A``: ``sqrt(2n+1) sqrt(2k+1)`` below the diagonal, ``n + 1`` on it, 0 above."""

    def entry(row: int, column: int) -> sp.Expr:
        if row > column:
            return sp.sqrt(2 * row + 1) * sp.sqrt(2 * column + 1)
        return sp.Integer(row + 1) if row == column else sp.Integer(0)

    return sp.Matrix(size, size, entry)


def legs_input(size: int) -> sp.Matrix:
    """The stated LegS ``B``: ``B_n = sqrt(2n + 1)``."""
    return sp.Matrix([sp.sqrt(2 * k + 1) for k in range(size)])


def legendre_identity_right_side(degree: int) -> sp.Expr:
    """``n P_n(x) + sum_{k<n} (2k + 1) P_k(x)``: the Legendre expansion of ``(x + 1) P_n'(x)``."""
    return degree * P(degree, x) + sum((2 * k + 1) * P(k, x) for k in range(degree))


def legs_dynamics() -> Derivation:
    """HiPPO-LegS: ``c'(t) = -(1/t) A c(t) + (1/t) B f(t)``; the closed form is the Jacobian ``(-A/t | B/t)``.

    ``c_n(t) = (1/t) int_0^t f(s) g_n(s, t) ds`` with ``g_n(s, t) = sqrt(2n+1) P_n(2s/t - 1)``
    (orthonormal in L2 of the uniform measure on [0, t]). The Leibniz rule differentiates the
    integral for symbolic ``n``: the boundary term gives ``sqrt(2n+1) P_n(1) f(t) / t``, the
    derivative of ``1/t`` gives ``-c_n / t`` and the derivative of ``g_n`` in ``t`` is
    ``-(1/t) sqrt(2n+1) (x+1) P_n'(x)`` in the variable ``x = 2s/t - 1``. For
    ``n = 0, ..., LEGS_N_MAX - 1`` the Legendre identity
    ``(x+1) P_n'(x) = n P_n(x) + sum_{k<n} (2k+1) P_k(x)`` and ``P_n(1) = 1`` are proved by
    expanding both sides; linearity of the integral then writes ``c_n'`` in the ``c_k``, and the
    Jacobian of these rates in ``(c_0(t), ..., c_7(t), f(t))`` is ``(-A/t | B/t)``: the matrix of the
    memory's ODE at time ``t``. Gu et al. 2020, section 3 and appendix D.3.
    """
    g = sp.sqrt(2 * n + 1) * P(n, 2 * s / t - 1)
    integrand_derivative = sp.sqrt(2 * n + 1) * f(s) * sp.diff(P(n, 2 * s / t - 1), t)
    projection = sp.Integral(f(s) * g, (s, 0, t))
    outer_derivative = -sp.Integral(f(s) * g, (s, 0, t)) / t**2
    boundary = sp.sqrt(2 * n + 1) * P(n, 1) * f(t) / t
    memory = sp.sqrt(2 * n + 1) * sp.Integral((x + 1) * _history(x) * DP(n, x), (x, -1, 1)) / (2 * t)
    rows = _instances(-c(n, t) / t + boundary - memory)
    after_identity = sp.Matrix(
        [
            -c(k, t) / t
            + sp.sqrt(2 * k + 1) * f(t) / t
            - sp.sqrt(2 * k + 1) * sp.Integral(_history(x) * legendre_identity_right_side(k), (x, -1, 1)) / (2 * t)
            for k in range(LEGS_N_MAX)
        ]
    )
    A, B = legs_matrix(LEGS_N_MAX), legs_input(LEGS_N_MAX)
    coefficients = sp.Matrix([c(k, t) for k in range(LEGS_N_MAX)])
    return (
        Derivation(
            "HiPPO-LegS: differentiating the optimal projection",
            projection / t,
            start_note=(
                r"$c_n(t) = \frac{1}{t}\int_0^t f(s)\, g_n(s, t)\, ds$ with "
                r"$g_n(s, t) = \sqrt{2n+1}\, P_n(2s/t - 1)$, the coefficient of the projection of "
                r"the history of $f$ onto $g_n$ in $L^2(\mu_t)$, $\mu_t$ uniform on $[0, t]$"
            ),
            assumptions=(r"$f$ is continuous on $[0, t]$ and $t > 0$",),
        )
        .then(
            differentiate(t),
            outer_derivative + boundary + sp.Integral(integrand_derivative, (s, 0, t)) / t,
            note=(
                r"$c_n'(t)$ by the Leibniz rule: the derivative of $1/t$, the boundary term at $s = t$ "
                r"($2s/t - 1 = 1$), and the derivative of $g_n$ under the integral"
            ),
        )
        .then(
            custom(
                r"change variables $s = t (x + 1)/2$, $ds = t\, dx / 2$, in both integrals", change_to_unit_interval
            ),
            -sp.sqrt(2 * n + 1) * _projection_integral(n) / (2 * t) + boundary - memory,
            note=r"$\partial_t g_n(s, t) = -\frac{1}{t} \sqrt{2n+1}\, (x + 1) P_n'(x)$ at $x = 2s/t - 1$",
        )
        .then(
            substitute(
                {_projection_integral(n): 2 * c(n, t) / sp.sqrt(2 * n + 1)},
                why=r"recognise the coefficient $c_n(t)$",
            ),
            -c(n, t) / t + boundary - memory,
            note=r"the derivative of $1/t$ contributes $-c_n(t)/t$",
            label="derivative",
        )
        .then(
            instantiate(n, range(LEGS_N_MAX)),
            rows,
        )
        .then(
            identity(
                r"$P_n(1) = 1$ and the Legendre identity $(x + 1) P_n'(x) = n P_n(x) + \sum_{k<n} (2k+1) P_k(x)$, "
                r"each proved by expanding both sides for every $n$ of the column",
                "Gu et al. 2020, appendix D.3",
            ),
            after_identity,
        )
        .then(
            custom(
                r"linearity of the integral and $\int_{-1}^{1} f(t(x+1)/2) P_k(x)\, dx = 2 c_k(t) / \sqrt{2k+1}$",
                _by_linearity,
            ),
            (-A * coefficients + B * f(t)) / t,
            note=r"$c'(t) = -\frac{1}{t} A c(t) + \frac{1}{t} B f(t)$ for the first "
            rf"${LEGS_N_MAX}$ coefficients",
            label="ode",
        )
        .then(
            jacobian(memory_unknowns(LEGS_N_MAX, f(t)), why="the rates are linear in the coefficients and the input"),
            (-A / t).row_join(B / t),
            note=r"the closed form $(-A/t \mid B/t)$; $A$ is lower triangular, so every leading block is "
            r"the LegS matrix of that size",
        )
    )
