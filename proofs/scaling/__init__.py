"""Derivations for the scaling-law theorems (SymPy only).

* :func:`compute_optimal_allocation`: the compute-optimal model size and data size for the
  parametric loss ``L(N, D) = E + A N^-alpha + B D^-beta`` under ``C = 6 N D``
  (Hoffmann et al. 2022, section 3.3, approach 3; seed 000, hours 5-6).
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, column, differentiate, elasticity, limit, solve_for, substitute

HOFFMANN = "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models"

# --- chinchilla-allocation ------------------------------------------------------------------

A, B, C, alpha, beta = sp.symbols("A B C alpha beta", positive=True)
E = sp.Symbol("E", nonnegative=True)
N, D = sp.symbols("N D", positive=True)
u = sp.Symbol("u", real=True)

PARAMETRIC_LOSS = E + A * N**-alpha + B * D**-beta
COMPUTE_BUDGET = r"training compute $C = 6 N D$ (Kaplan et al. 2020; Hoffmann et al. 2022, section 3)"
POSITIVE_FIT = r"$A, B, C, \alpha, \beta > 0$ and $E \ge 0$; $N, D > 0$"

# The exponents, the scale G and the budget per 6 FLOPs, written once so every step states the same objects.
_a = beta / (alpha + beta)
_b = alpha / (alpha + beta)
_G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
_budget = C / 6


def _along_constraint(u_: sp.Expr) -> sp.Expr:
    """``L(e^u, C/(6 e^u))`` written as a sum of two exponentials in ``u``."""
    return E + A * sp.exp(-alpha * u_) + B * _budget**-beta * sp.exp(beta * u_)


def compute_optimal_allocation() -> Derivation:
    """``N_opt = G (C/6)^a``, ``D_opt = G^-1 (C/6)^b`` minimise ``E + A N^-alpha + B D^-beta`` on ``6 N D = C``.

    Here ``a = beta/(alpha+beta)``, ``b = alpha/(alpha+beta)``, ``G = (alpha A/(beta B))^(1/(alpha+beta))``.
    The constraint is eliminated with ``D = C/(6N)`` and the loss is written in ``u = ln N``,
    where it is ``E + A e^(-alpha u) + B (C/6)^(-beta) e^(beta u)``: its stationarity condition
    is solved for ``u``, and its second derivative in ``u`` is a sum of positive terms, so the
    loss is strictly convex along the constraint and the stationary point is the global
    minimum. In ``N`` itself the second derivative turns negative for large ``N`` when
    ``beta < 1``, so a second-order test in ``N`` is only local. Labelled results: ``N_opt``,
    ``D_opt``, ``L_opt``, ``a``, ``b``, ``G``, ``tokens_per_param``; the closed form is the
    column ``(N_opt, D_opt, L_opt)``.
    Hoffmann et al. 2022, section 3.3 (approach 3) and appendix D.2; seed 000, hours 5-6.
    """
    derivation = (
        Derivation(
            "Compute-optimal allocation under a parametric loss",
            PARAMETRIC_LOSS,
            start_note=r"the parametric loss $L(N, D)$ of Hoffmann et al.'s approach 3",
            assumptions=(COMPUTE_BUDGET, POSITIVE_FIT),
        )
        .then(
            substitute({D: _budget / N}, text=r"eliminate the constraint $C = 6 N D$: substitute $D = C/(6N)$"),
            E + A * N**-alpha + B * (_budget / N) ** -beta,
            note=r"$f(N)$, the loss along the constraint",
            label="constrained",
        )
        .then(
            substitute({N: sp.exp(u)}, text=r"change variable to $u = \ln N$: substitute $N = e^u$"),
            _along_constraint(u),
            note=r"$g(u) = f(e^u)$, a sum of two exponentials in $u$",
            label="along_constraint",
        )
        .then(
            differentiate(u),
            -alpha * A * sp.exp(-alpha * u) + beta * B * _budget**-beta * sp.exp(beta * u),
            label="dL_du",
        )
        .then(
            solve_for(u, text=r"solve the stationarity condition $g'(u) = 0$ for $u$"),
            (sp.log(alpha * A / (beta * B)) + beta * sp.log(_budget)) / (alpha + beta),
            note=r"the only stationary point: $\alpha A N^{-\alpha} = \beta B D^{-\beta}$ there",
            label="u_opt",
        )
        .then(
            apply_map(lambda u: sp.exp(u), why="return to $N = e^u$"),
            _G * _budget**_a,
            note=r"$N_{\mathrm{opt}} = G\, (C/6)^a$",
            label="N_opt",
        )
        .then(
            apply_map(lambda N: _budget / N, why="the data size from the constraint"),
            _budget**_b / _G,
            note=r"$D_{\mathrm{opt}} = G^{-1} (C/6)^b$",
            label="D_opt",
        )
    )
    N_opt, D_opt = derivation.expression("N_opt"), derivation.expression("D_opt")
    derivation = (
        derivation.then(
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
            apply_map(lambda N: N / _budget**_a, why="divide by $(C/6)^a$"),
            _G,
            on="N_opt",
            note=r"the scale $G$, independent of $C$",
            label="G",
        )
        .then(
            apply_map(lambda D: D / N_opt, why=r"tokens per parameter $D_{\mathrm{opt}} / N_{\mathrm{opt}}$"),
            _G**-2 * _budget ** (_b - _a),
            on="D_opt",
            label="tokens_per_param",
        )
        .then(
            substitute(
                {N: N_opt, D: D_opt},
                why=r"evaluate $L$ at $(N_{\mathrm{opt}}, D_{\mathrm{opt}})$, where "
                r"$\beta B D_{\mathrm{opt}}^{-\beta} = \alpha A N_{\mathrm{opt}}^{-\alpha}$",
            ),
            E + (alpha + beta) / beta * A * _G**-alpha * _budget ** (-alpha * beta / (alpha + beta)),
            on="start",
            note=r"the minimal loss: the reducible part falls as $C^{-\alpha\beta/(\alpha+\beta)}$",
            label="L_opt",
        )
        .then(
            differentiate(u, 2),
            alpha**2 * A * sp.exp(-alpha * u) + beta**2 * B * _budget**-beta * sp.exp(beta * u),
            on="along_constraint",
            note=r"$g''(u)$: a sum of two positive terms",
            label="d2L_du2",
        )
        .then(
            apply_map(lambda z: sp.sign(z), why=r"take the sign ($A, B, C, \alpha, \beta > 0$ and $e^{x} > 0$)"),
            1,
            note=(
                r"$g'' > 0$ everywhere: $g$ is strictly convex, so its one stationary point is its "
                r"global minimum, and $(N_{\mathrm{opt}}, D_{\mathrm{opt}})$ is the global constrained minimum"
            ),
        )
        .then(
            differentiate(N, 2),
            alpha * (alpha + 1) * A * N ** (-alpha - 2) + beta * (beta - 1) * B * _budget**-beta * N ** (beta - 2),
            on="constrained",
            note=r"$f''(N)$ in the original variable",
        )
        .then(
            limit(N, sp.oo, scale=N ** (2 - beta)),
            -beta * (1 - beta) * B * _budget**-beta,
            note=(
                r"negative when $\beta < 1$: $f$ is concave for large $N$, so $f''(N_{\mathrm{opt}}) > 0$ "
                r"shows only a local minimum; convexity in $u = \ln N$ is what makes it global"
            ),
        )
    )
    L_opt = derivation.expression("L_opt")
    return derivation.then(
        column("N_opt", "D_opt", "L_opt"),
        sp.Matrix([_G * _budget**_a, _budget**_b / _G, L_opt]),
        on="N_opt",
    )
