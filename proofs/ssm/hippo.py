"""HiPPO-LegT: the memory of a sliding window, by differentiating its Legendre projection (SymPy only).

* :func:`legt_dynamics` (Gu, Dao, Ermon, Rudra, Re 2020, "HiPPO", appendix D.1; the normalised
  case, as in the authors' code ``transition('legt', N)``): the coefficients ``c_n(t)`` of the
  projection of ``f`` on the window ``[t - theta, t]`` onto ``g_n(s, t) = sqrt(2n+1) P_n(2(s-t)/theta + 1)``
  satisfy exactly ``c'(t) = (1/theta) (-D c(t) + B f(t) - e f(t - theta))``; writing the value
  ``f(t - theta)`` that leaves the window as the current reconstruction ``sum_k e_k c_k(t)`` minus
  its error ``epsilon(t)`` gives exactly ``c' = (1/theta)(-A c + B f + e epsilon)`` with
  ``A = D + e e^T``: ``A_nk = sqrt(2n+1) sqrt(2k+1)`` for ``k <= n``,
  ``(-1)^(n-k) sqrt(2n+1) sqrt(2k+1)`` for ``k > n``, ``B_n = sqrt(2n+1)``, ``e_n = (-1)^n sqrt(2n+1)``;
  dropping ``epsilon`` is the paper's approximation, the LegT memory ``c' = -(1/theta) A c + (1/theta) B f``.

* :func:`lagt_dynamics` (the same paper, section 2 and appendix D.2, the untilted case): for the
  exponentially decaying measure ``e^{-(t-s)} ds`` on ``(-oo, t]`` and the Laguerre polynomials
  ``L_n(t - s)`` (orthonormal for it), exactly ``c' = -A c + B f`` with ``A_nk = 1`` for ``k <= n``,
  0 above, and ``B_n = 1``: nothing leaves the memory, so no approximation is needed.

It reuses the Legendre machinery of the LegS derivation (:mod:`proofs.ssm`).
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
from proofs.ssm import (
    DP,
    P,
    Subscripted,
    c,
    coefficients_by_linearity,
    f,
    memory_unknowns,
    n,
    pull_out_constants,
    s,
    t,
    x,
)

LEGT_N_MAX = 8
"""The derivation instantiates the Legendre facts for ``n = 0, ..., LEGT_N_MAX - 1``."""

theta = sp.Symbol("theta", positive=True)
epsilon = sp.Function("varepsilon")(t)
"""The error of the reconstruction at the window's start: ``epsilon(t) = sum_k e_k c_k(t) - f(t - theta)``."""


def _window_time(variable: sp.Expr) -> sp.Expr:
    """The time ``s = t + theta (x - 1) / 2`` in the window that ``x`` in [-1, 1] stands for."""
    return t + theta * (variable - 1) / 2


def _window_integral(degree: sp.Expr) -> sp.Integral:
    """``int_{-1}^{1} f(t + theta (x - 1)/2) P_k(x) dx``, which is ``2 c_k(t) / sqrt(2k + 1)``."""
    return sp.Integral(f(_window_time(x)) * P(degree, x), (x, -1, 1))


def change_to_window_variable(expr: sp.Expr) -> sp.Expr:
    """Substitute ``s = t + theta (x - 1)/2`` (``ds = theta dx / 2``) in every integral over ``s``, constants out."""

    def transform(integral: sp.Integral) -> sp.Expr:
        return pull_out_constants(integral.transform(s, (_window_time(x), x)))

    return expr.replace(lambda e: isinstance(e, sp.Integral), transform)


def _instances(expr: sp.Expr) -> sp.Matrix:
    """The column ``(expr at n = 0, ..., LEGT_N_MAX - 1)``."""
    return sp.Matrix([expr.subs(n, k) for k in range(LEGT_N_MAX)])


def legendre_derivative_expansion(degree: int) -> sp.Expr:
    """``sum_{k < n, n - k odd} (2k + 1) P_k(x)``: the Legendre expansion of ``P_n'(x)``."""
    return sum(((2 * k + 1) * P(k, x) for k in range(degree - 1, -1, -2)), sp.Integer(0))


def _by_linearity(expr: sp.Basic) -> sp.Basic:
    return coefficients_by_linearity(expr, f(_window_time(x)))


def _coefficients(size: int = LEGT_N_MAX) -> list[sp.Expr]:
    return [c(k, t) for k in range(size)]


def _sqrt_product(row: int, column: int) -> sp.Expr:
    return sp.sqrt(2 * row + 1) * sp.sqrt(2 * column + 1)


def legt_matrix(size: int) -> sp.Matrix:
    """The stated LegT ``A``: ``sqrt(2n+1) sqrt(2k+1)`` for ``k <= n`` and ``(-1)^(n-k)`` times that for ``k > n``."""
    return sp.Matrix(size, size, lambda i, j: _sqrt_product(i, j) * (1 if j <= i else (-1) ** (i - j)))


def legt_input(size: int) -> sp.Matrix:
    """The stated LegT ``B``: ``B_n = sqrt(2n + 1)``."""
    return sp.Matrix([sp.sqrt(2 * k + 1) for k in range(size)])


def window_start_values(size: int) -> sp.Matrix:
    """``e_n = g_n(t - theta, t) = (-1)^n sqrt(2n + 1)``: the basis at the oldest point of the window."""
    return sp.Matrix([(-1) ** k * sp.sqrt(2 * k + 1) for k in range(size)])


def legt_derivative_matrix(size: int) -> sp.Matrix:
    """``D``: ``2 sqrt(2n+1) sqrt(2k+1)`` where ``k < n`` and ``n - k`` is odd, else 0 (from ``P_n'``)."""
    return sp.Matrix(size, size, lambda i, j: 2 * _sqrt_product(i, j) if j < i and (i - j) % 2 else 0)


def legt_dynamics() -> Derivation:
    """HiPPO-LegT: the exact window dynamics ``c' = (1/theta)(-A c + B f(t) + e epsilon)``; closed form
    ``(-A | B | e)/theta``.

    ``c_n(t) = (1/theta) int_{t-theta}^t f(s) g_n(s, t) ds``. The Leibniz rule gives the
    entering value ``f(t) g_n(t, t)`` (``P_n(1) = 1``), the leaving value ``f(t - theta) g_n(t - theta, t)``
    (``P_n(-1) = (-1)^n``) and ``int f(s) d_t g_n``; in ``x = 2(s - t)/theta + 1``,
    ``d_t g_n = -(2/theta) sqrt(2n+1) P_n'(x)`` and ``P_n' = sum_{k<n, n-k odd} (2k+1) P_k``, each
    proved by expanding for ``n < LEGT_N_MAX``. The exact rows are labelled ``exact``. Writing
    ``f(t - theta) = e^T c(t) - epsilon(t)`` (the reconstruction minus its error) gives the rows
    ``(1/theta)(-A c + B f(t) + e epsilon)`` with ``A = D + e e^T`` (labelled ``ode``), and their
    Jacobian in ``(c(t), f(t), epsilon(t))`` is the closed form ``(-A/theta | B/theta | e/theta)``;
    the LegT memory drops ``epsilon``, the paper's approximation.
    Gu et al. 2020, appendix D.1 (and Voelker et al. 2019, the LMU, for the same memory in
    another normalisation).
    """
    g = sp.sqrt(2 * n + 1) * P(n, 2 * (s - t) / theta + 1)
    entering = sp.sqrt(2 * n + 1) * P(n, 1) * f(t) / theta
    leaving = sp.sqrt(2 * n + 1) * P(n, -1) * f(t - theta) / theta
    integrand_derivative = sp.sqrt(2 * n + 1) * f(s) * sp.diff(P(n, 2 * (s - t) / theta + 1), t)
    memory = sp.sqrt(2 * n + 1) * sp.Integral(f(_window_time(x)) * DP(n, x), (x, -1, 1)) / theta
    after_identity = sp.Matrix(
        [
            sp.sqrt(2 * k + 1) * f(t) / theta
            - (-1) ** k * sp.sqrt(2 * k + 1) * f(t - theta) / theta
            - sp.sqrt(2 * k + 1)
            * sp.Integral(f(_window_time(x)) * legendre_derivative_expansion(k), (x, -1, 1))
            / theta
            for k in range(LEGT_N_MAX)
        ]
    )
    D, B, e = legt_derivative_matrix(LEGT_N_MAX), legt_input(LEGT_N_MAX), window_start_values(LEGT_N_MAX)
    A = legt_matrix(LEGT_N_MAX)
    coefficients = sp.Matrix(_coefficients())
    reconstruction = sum(e[k] * coefficients[k] for k in range(LEGT_N_MAX))
    return (
        Derivation(
            "HiPPO-LegT: differentiating the projection on a sliding window",
            sp.Integral(f(s) * g, (s, t - theta, t)) / theta,
            start_note=(
                r"$c_n(t) = \frac{1}{\theta}\int_{t-\theta}^t f(s)\, g_n(s, t)\, ds$ with "
                r"$g_n(s, t) = \sqrt{2n+1}\, P_n(2(s - t)/\theta + 1)$, orthonormal in $L^2$ of the uniform "
                r"probability measure on the window $[t - \theta, t]$"
            ),
            assumptions=(r"$f$ is continuous and $\theta > 0$",),
        )
        .then(
            differentiate(t),
            entering - leaving + sp.Integral(integrand_derivative, (s, t - theta, t)) / theta,
            note=(
                r"$c_n'(t)$ by the Leibniz rule: the value entering at $s = t$, the value leaving at "
                r"$s = t - \theta$, and the derivative of $g_n$ under the integral"
            ),
        )
        .then(
            custom(
                r"change variables $s = t + \theta (x - 1)/2$, $ds = \theta\, dx / 2$",
                change_to_window_variable,
            ),
            entering - leaving - memory,
            note=r"$\partial_t g_n(s, t) = -\frac{2}{\theta} \sqrt{2n+1}\, P_n'(x)$ at $x = 2(s - t)/\theta + 1$",
        )
        .then(instantiate(n, range(LEGT_N_MAX)), _instances(entering - leaving - memory))
        .then(
            identity(
                r"$P_n(1) = 1$, $P_n(-1) = (-1)^n$ and $P_n'(x) = \sum_{k < n,\ n - k \text{ odd}} (2k+1) P_k(x)$, "
                r"each proved by expanding both sides for every $n$ of the column",
                "Gu et al. 2020, appendix D.1",
            ),
            after_identity,
        )
        .then(
            custom(
                r"linearity of the integral and "
                r"$\int_{-1}^{1} f(t + \theta(x-1)/2) P_k(x)\, dx = 2 c_k(t) / \sqrt{2k+1}$",
                _by_linearity,
            ),
            (-D * coefficients + B * f(t) - e * f(t - theta)) / theta,
            note=(
                r"exactly $c'(t) = \frac{1}{\theta}\left(-D c(t) + B f(t) - e f(t - \theta)\right)$ with "
                r"$e_n = g_n(t - \theta, t) = (-1)^n \sqrt{2n+1}$"
            ),
            label="exact",
        )
        .then(
            substitute(
                {f(t - theta): reconstruction - epsilon},
                r"write the leaving value as the current reconstruction minus its error: "
                r"$f(t - \theta) = \sum_k c_k(t)\, g_k(t - \theta, t) - \varepsilon(t) = e^\top c(t) - \varepsilon(t)$",
            ),
            (-A * coefficients + B * f(t) + e * epsilon) / theta,
            note=(
                r"exactly $c'(t) = \frac{1}{\theta}\left(-A c(t) + B f(t) + e\, \varepsilon(t)\right)$ with "
                r"$A = D + e e^\top$; the LegT memory drops $\varepsilon$"
            ),
            label="ode",
        )
        .then(
            jacobian(memory_unknowns(LEGT_N_MAX, f(t), epsilon), why="the rates are linear in these unknowns"),
            (-A / theta).row_join(B / theta).row_join(e / theta),
            note=r"the closed form $(-A/\theta \mid B/\theta \mid e/\theta)$",
        )
    )


# --- hippo-lagt -------------------------------------------------------------------------------

LAGT_N_MAX = 8
"""The derivation instantiates the Laguerre facts for ``n = 0, ..., LAGT_N_MAX - 1``."""

y = sp.Symbol("y", nonnegative=True)


class L(Subscripted):
    """The Laguerre polynomial ``L_n(y)``, unevaluated; ``expand`` writes it out for a concrete ``n``."""

    shown_as = "L"

    def fdiff(self, argindex=2):
        if argindex != 2:
            raise sp.ArgumentIndexError(self, argindex)
        return DL(*self.args)

    def _eval_expand_basic(self, **hints):
        degree, argument = self.args
        return sp.laguerre(degree, argument) if degree.is_Integer else self


class DL(Subscripted):
    """The derivative ``L_n'(y)`` of the Laguerre polynomial, expanded like :class:`L`."""

    shown_as = "L'"

    def _eval_expand_basic(self, **hints):
        degree, argument = self.args
        if not degree.is_Integer:
            return self
        z = sp.Dummy("z")
        return sp.diff(sp.laguerre(degree, z), z).subs(z, argument)


def _laguerre_integral(degree: sp.Expr) -> sp.Integral:
    """``int_0^oo f(t - y) L_k(y) e^{-y} dy``, which is ``c_k(t)``."""
    return sp.Integral(f(t - y) * L(degree, y) * sp.exp(-y), (y, 0, sp.oo))


def change_to_age(expr: sp.Expr) -> sp.Expr:
    """Substitute ``s = t - y`` (the age ``y`` of the value) in every integral over ``s``, one integral per term."""

    def transform(integral: sp.Integral) -> sp.Expr:
        moved = integral.transform(s, (t - y, y))
        return sum(sp.Integral(term, *moved.limits) for term in sp.Add.make_args(sp.expand(moved.function)))

    return expr.replace(lambda e: isinstance(e, sp.Integral), transform)


def laguerre_derivative_expansion(degree: int) -> sp.Expr:
    """``-sum_{k < n} L_k(y)``: the Laguerre expansion of ``L_n'(y)``."""
    return -sum((L(k, y) for k in range(degree)), sp.Integer(0))


def _laguerre_instances(expr: sp.Expr) -> sp.Matrix:
    return sp.Matrix([expr.subs(n, k) for k in range(LAGT_N_MAX)])


def _laguerre_in_coefficients(integral: sp.Integral) -> sp.Expr:
    """Linearity: ``int f(t - y) (sum_k a_k L_k(y)) e^{-y} dy = sum_k a_k c_k``.

    Raises :class:`DerivationError` unless the integrand is ``f(t - y) e^{-y}`` times a combination
    of Laguerre polynomials with coefficients free of ``y``.
    """
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(integral.function / (f(t - y) * sp.exp(-y)), basic=False)):
        if term == 0:
            continue
        polynomials = term.atoms(L)
        if len(polynomials) != 1:
            raise DerivationError(f"{term} is not a multiple of one Laguerre polynomial")
        (polynomial,) = polynomials
        coefficient = sp.cancel(term / polynomial)
        if coefficient.has(y):
            raise DerivationError(f"{term}: its coefficient depends on y")
        total += coefficient * c(polynomial.args[0], t)
    return total


def lagt_matrix(size: int) -> sp.Matrix:
    """The stated LagT ``A``: 1 on and below the diagonal, 0 above."""
    return sp.Matrix(size, size, lambda i, j: 1 if j <= i else 0)


def lagt_input(size: int) -> sp.Matrix:
    """The stated LagT ``B``: ``B_n = 1``."""
    return sp.ones(size, 1)


def lagt_dynamics() -> Derivation:
    """HiPPO-LagT: ``c' = -A c + B f`` for the Laguerre projection under the measure ``e^{-(t-s)} ds`` on ``(-oo, t]``.

    ``c_n(t) = int_{-oo}^t f(s) L_n(t - s) e^{-(t-s)} ds``. The Leibniz rule gives the entering value
    ``f(t) L_n(0)`` (nothing leaves: the lower limit is fixed at ``-oo``) and the derivative of
    ``L_n(t - s) e^{-(t-s)}``, which is ``(L_n' - L_n)(t - s) e^{-(t-s)}``; with the age ``y = t - s``,
    ``L_n(0) = 1`` and ``L_n' = -sum_{k<n} L_k`` (proved by expansion for ``n < LAGT_N_MAX``),
    linearity writes ``c_n'`` in the ``c_k``. Gu et al. 2020, section 2 and appendix D.2.
    """
    weight = L(n, t - s) * sp.exp(-(t - s))
    entering = L(n, 0) * f(t)
    after_identity = sp.Matrix(
        [
            f(t)
            - c(k, t)
            + sp.Integral(f(t - y) * laguerre_derivative_expansion(k) * sp.exp(-y), (y, 0, sp.oo))
            for k in range(LAGT_N_MAX)
        ]
    )
    A, B = lagt_matrix(LAGT_N_MAX), lagt_input(LAGT_N_MAX)
    coefficients = sp.Matrix(_coefficients(LAGT_N_MAX))
    memory = sp.Integral(f(t - y) * DL(n, y) * sp.exp(-y), (y, 0, sp.oo))
    return (
        Derivation(
            "HiPPO-LagT: differentiating the projection under an exponentially decaying measure",
            sp.Integral(f(s) * weight, (s, -sp.oo, t)),
            start_note=(
                r"$c_n(t) = \int_{-\infty}^t f(s)\, L_n(t - s)\, e^{-(t-s)}\, ds$: the coefficients of the "
                r"projection of the history of $f$ onto the Laguerre polynomials $L_n(t - s)$, orthonormal in $L^2$ "
                r"of the probability measure $e^{-(t-s)} ds$ on $(-\infty, t]$"
            ),
            assumptions=(r"$f$ is continuous and bounded on $(-\infty, t]$",),
        )
        .then(
            differentiate(t),
            entering + sp.Integral(f(s) * sp.diff(weight, t), (s, -sp.oo, t)),
            note=r"$c_n'(t)$ by the Leibniz rule: the value entering at $s = t$ and the derivative of the weight",
        )
        .then(
            custom(r"change variables to the age $y = t - s$ and split the integral", change_to_age),
            entering - _laguerre_integral(n) + memory,
        )
        .then(
            substitute({_laguerre_integral(n): c(n, t)}, why=r"recognise the coefficient $c_n(t)$"),
            entering - c(n, t) + memory,
        )
        .then(
            instantiate(n, range(LAGT_N_MAX)),
            _laguerre_instances(entering - c(n, t) + memory),
        )
        .then(
            identity(
                r"$L_n(0) = 1$ and $L_n'(y) = -\sum_{k<n} L_k(y)$, each proved by expanding both sides for every $n$ "
                r"of the column",
                "Gu et al. 2020, appendix D.2",
            ),
            after_identity,
        )
        .then(
            custom(
                r"linearity of the integral and $\int_0^\infty f(t - y) L_k(y) e^{-y} dy = c_k(t)$",
                lambda e: e.replace(lambda i: isinstance(i, sp.Integral), _laguerre_in_coefficients),
            ),
            -A * coefficients + B * f(t),
            note=r"$c'(t) = -A c(t) + B f(t)$ exactly",
            label="ode",
        )
        .then(
            jacobian(memory_unknowns(LAGT_N_MAX, f(t)), why="the rates are linear in the coefficients and the input"),
            (-A).row_join(B),
            note=r"the closed form $(-A \mid B)$; $A$ is lower triangular, so every leading block is the LagT "
            r"matrix of that size",
        )
    )
