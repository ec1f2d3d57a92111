"""Kaplan et al.'s power laws and the allocation their joint form implies (SymPy only).

* :func:`kaplan_allocation`: from ``L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D``
  (Kaplan et al. 2020, eq. 1.5): its limits are the single-variable laws ``(N_c/N)^alpha_N``
  and ``(D_c/D)^alpha_D`` (eqs. 1.1, 1.2), a tenfold ``N`` or ``D`` multiplies them by
  ``10^-alpha``, and under ``C = 6 N D`` the loss is minimised at
  ``N_opt = N_c^(alpha_N/(alpha_N+alpha_D)) (alpha_N C/(6 alpha_D D_c))^(alpha_D/(alpha_N+alpha_D))``.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import (
    Derivation,
    apply_map,
    column,
    differentiate,
    elasticity,
    limit,
    ratio,
    solve_for,
    substitute,
)
from proofs.scaling import C, D, N, u

KAPLAN = "Kaplan et al. 2020, Scaling Laws for Neural Language Models"

alpha_N, alpha_D, N_c, D_c = sp.symbols("alpha_N alpha_D N_c D_c", positive=True)

_p = alpha_N / alpha_D
JOINT_LOSS = ((N_c / N) ** _p + D_c / D) ** alpha_D
_bracket = (N_c / N) ** _p + D_c / D
_a = alpha_D / (alpha_N + alpha_D)
_b = alpha_N / (alpha_N + alpha_D)
_N_opt = N_c**_b * (alpha_N * C / (6 * alpha_D * D_c)) ** _a
_D_opt = C / (6 * _N_opt)
# At the optimum (N_c/N)^p = D_c/(p D), so the bracket is (1 + 1/p) D_c / D.
_L_opt = ((alpha_N + alpha_D) / alpha_N * D_c / _D_opt) ** alpha_D

JOINT_FORM = r"$L(N, D) = \left[(N_c/N)^{\alpha_N/\alpha_D} + D_c/D\right]^{\alpha_D}$ (Kaplan et al. 2020, eq. 1.5)"
POSITIVE_CONSTANTS = r"$N_c, D_c, C > 0$ and $0 < \alpha_N, \alpha_D < 1$; $N, D > 0$"


def kaplan_allocation() -> Derivation:
    """Single-variable laws, the gain of a tenfold increase, and the compute-optimal split of the joint form.

    The loss is an increasing function (``x -> x^alpha_D``) of the bracket
    ``f = (N_c/N)^p + D_c/D``, ``p = alpha_N/alpha_D``, so both have the same minimiser on
    ``6 N D = C``. Along the budget, in ``u = ln N``, ``f`` is a sum of two exponentials: its
    one stationary point is its global minimum (``f'' > 0``). Labelled results: ``L_N``,
    ``L_D``, ``gain_N``, ``gain_D``, ``N_opt``, ``D_opt``, ``a``, ``b``, ``L_opt``,
    ``alpha_C_joint`` (the compute exponent this allocation implies), ``gain_C_joint``;
    the closed form is the column ``(N_opt, D_opt, L_opt)``.
    Kaplan et al. 2020, eqs. 1.1, 1.2, 1.5 and section 6; seed 001 (scaling laws).
    """
    derivation = (
        Derivation(
            "Kaplan's power laws and the compute-optimal split of the joint form",
            JOINT_LOSS,
            start_note=r"the joint form $L(N, D)$ of Kaplan et al. (eq. 1.5)",
            assumptions=(JOINT_FORM, r"training compute $C = 6 N D$", POSITIVE_CONSTANTS),
        )
        .then(
            limit(D, sp.oo, why="unlimited data"),
            (N_c / N) ** alpha_N,
            note=r"$L(N)$, the model-size law (eq. 1.1)",
            label="L_N",
        )
        .then(
            ratio({N: 10 * N}, why="grow the model tenfold"),
            10**-alpha_N,
            label="gain_N",
        )
        .then(
            limit(N, sp.oo, why="unlimited model size"),
            (D_c / D) ** alpha_D,
            on="start",
            note=r"$L(D)$, the data law (eq. 1.2)",
            label="L_D",
        )
        .then(
            ratio({D: 10 * D}, why="grow the data tenfold"),
            10**-alpha_D,
            label="gain_D",
        )
        .then(
            apply_map(
                lambda L: L ** (1 / alpha_D),
                why=r"raise to the power $1/\alpha_D$, a strictly increasing map of $(0, \infty)$: same minimiser",
            ),
            _bracket,
            on="start",
            note=r"the bracket $f(N, D)$",
        )
        .then(
            substitute({D: C / (6 * N)}, text=r"eliminate the constraint: substitute $D = C/(6N)$"),
            (N_c / N) ** _p + 6 * D_c * N / C,
        )
        .then(
            substitute({N: sp.exp(u)}, text=r"change variable to $u = \ln N$: substitute $N = e^u$"),
            (N_c * sp.exp(-u)) ** _p + 6 * D_c * sp.exp(u) / C,
            note=r"$g(u)$, a sum of two exponentials in $u$",
            label="along_constraint",
        )
        .then(
            differentiate(u),
            -_p * (N_c * sp.exp(-u)) ** _p + 6 * D_c * sp.exp(u) / C,
            label="df_du",
        )
        .then(
            solve_for(u, text=r"solve the stationarity condition $g'(u) = 0$ for $u$"),
            sp.log((alpha_N * C * N_c**_p / (6 * alpha_D * D_c)) ** _a),
            note=r"the only stationary point: $p\,(N_c/N)^p = D_c/D$ there",
            label="u_opt",
        )
        .then(
            apply_map(lambda u: sp.exp(u), why="return to $N = e^u$"),
            _N_opt,
            label="N_opt",
        )
        .then(
            apply_map(lambda N: C / (6 * N), why="the data from the constraint"),
            _D_opt,
            label="D_opt",
        )
        .then(
            elasticity(C),
            _a,
            on="N_opt",
            note=r"the exponent $a$ of model size",
            label="a",
        )
        .then(
            elasticity(C),
            _b,
            on="D_opt",
            note=r"the exponent $b$ of data size; $a + b = 1$",
            label="b",
        )
        .then(
            substitute({u: sp.log(N), C: 6 * N * D}, text=r"return to $N = e^u$ and $C = 6 N D$"),
            -_p * (N_c / N) ** _p + D_c / D,
            on="df_du",
            note=r"stationarity in the original variables",
        )
        .then(
            solve_for(N, text=r"solve for $N$: the optimal model size for $D$ tokens"),
            N_c * (_p * D / D_c) ** (1 / _p),
            note=r"$D \propto N^{\alpha_N/\alpha_D}$ on the optimum, Kaplan et al.'s $N^{0.74}/D$ ratio",
            label="N_ridge",
        )
        .then(
            substitute({N: N_c * (_p * D / D_c) ** (1 / _p)}, text=r"evaluate $L$ there"),
            ((alpha_N + alpha_D) / alpha_N * D_c / D) ** alpha_D,
            on="start",
            note=r"the bracket is $(1 + \alpha_D/\alpha_N)\, D_c / D$ on the optimum",
        )
        .then(
            substitute({D: _D_opt}, text=r"at $D = D_{\mathrm{opt}}$"),
            _L_opt,
            label="L_opt",
        )
        .then(
            elasticity(C, why=r"how $L_{\mathrm{opt}}$ scales with compute"),
            -alpha_N * alpha_D / (alpha_N + alpha_D),
        )
        .then(
            apply_map(lambda elasticity_C: -elasticity_C, why=r"the compute exponent $\alpha_C$ is minus the elasticity"),
            alpha_N * alpha_D / (alpha_N + alpha_D),
            note=r"$\alpha_C$ implied by the joint form: $L_{\mathrm{opt}} \propto C^{-\alpha_N\alpha_D/(\alpha_N+\alpha_D)}$",
            label="alpha_C_joint",
        )
        .then(
            apply_map(
                lambda alpha_C: 10**-alpha_C, why=r"a tenfold compute multiplies $L_{\mathrm{opt}}$ by $10^{-\alpha_C}$"
            ),
            10 ** (-alpha_N * alpha_D / (alpha_N + alpha_D)),
            label="gain_C_joint",
        )
        .then(
            differentiate(u, 2),
            _p**2 * (N_c * sp.exp(-u)) ** _p + 6 * D_c * sp.exp(u) / C,
            on="along_constraint",
            note=r"$g''(u)$: a sum of two positive terms",
        )
        .then(
            apply_map(lambda z: sp.sign(z), why=r"take the sign ($N_c, D_c, C, \alpha_N, \alpha_D > 0$)"),
            1,
            note=r"$g$ is strictly convex: its stationary point is the global minimum of $f$, hence of $L$",
        )
    )
    return derivation.then(
        column("N_opt", "D_opt", "L_opt"),
        sp.Matrix([_N_opt, _D_opt, _L_opt]),
        on="N_opt",
    )
