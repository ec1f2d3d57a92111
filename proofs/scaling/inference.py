"""The inference-optimal allocation (Sardana et al. 2023), SymPy only.

* :func:`inference_optimal_allocation`: minimise the lifetime cost ``6 N D + 2 N D_inf``
  (training plus ``D_inf`` inference tokens) at a fixed loss ``A N^-alpha + B D^-beta = R``
  (the reducible part of Hoffmann et al.'s parametric loss). The Lagrange conditions give
  ``alpha A N^-alpha = beta B D^-beta (1 + D_inf/(3 D))`` (Chinchilla's condition when
  ``D_inf = 0``); with the constraint this is one equation ``h(D) = 0`` whose left side rises
  with ``D``, so it has one root, and that root grows with ``D_inf``: the optimal model is
  smaller and trained on more tokens than the Chinchilla-optimal one of the same loss.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, column, differentiate, solve_for, substitute
from proofs.scaling import A, B, D, N, alpha, beta

SARDANA = "Sardana, Portes, Doubov, Frankle 2023, Beyond Chinchilla-Optimal: Accounting for Inference in Language Model Scaling Laws"

R, D_inf, lambda_ = sp.symbols("R D_inf lambda_", positive=True)

LIFETIME_COST = 6 * N * D + 2 * N * D_inf
LOSS_CONSTRAINT = A * N**-alpha + B * D**-beta - R
COST_MODEL = (
    r"lifetime cost $6 N D + 2 N D_{\mathrm{inf}}$ FLOPs: training on $D$ tokens and $2N$ per inference "
    r"token (Kaplan et al. 2020, section 2.1; Sardana et al. 2023, section 2)"
)
FIXED_LOSS = (
    r"a fixed loss $E + A N^{-\alpha} + B D^{-\beta} = E + R$ (Hoffmann et al.'s approach-3 form), $R > 0$ the "
    r"reducible loss of a reference model; $A, B, \alpha, \beta, D_{\mathrm{inf}} > 0$"
)

_h = alpha * R - (alpha + beta) * B * D**-beta - beta * B * D_inf * D ** (-beta - 1) / 3
_N_of_D = (A / (R - B * D**-beta)) ** (1 / alpha)


def inference_optimal_allocation() -> Derivation:
    """The Lagrange conditions of ``min 6 N D + 2 N D_inf`` subject to ``A N^-alpha + B D^-beta = R``.

    Labelled results: ``tangency`` (``alpha A N^-alpha - beta B D^-beta (1 + D_inf/(3D))``),
    ``h`` (the condition in ``D`` alone, after eliminating ``N`` with the constraint),
    ``constraint`` (``A N^-alpha + B D^-beta - R``; at ``R = 0``, the reducible loss of a model),
    ``N_of_D`` (the constraint solved for ``N``), ``lifetime_cost`` (the Lagrangian on the
    constraint surface: ``6 N D + 2 N D_inf``), ``cost_of_D`` (that cost at ``N_of_D``),
    ``D_inf_for_D`` (the inference demand for which a given ``D`` is optimal). ``h`` rises with
    ``D`` from ``-inf`` to ``alpha R``, so its root ``D*`` is unique, and ``dD*/dD_inf > 0``. The
    closed form is the column ``(h, N_of_D, cost_of_D)``: the claim is its root in ``D`` and the
    ``N`` and cost there.
    Sardana et al. 2023, section 2; Hoffmann et al. 2022, section 3.3.
    """
    derivation = (
        Derivation(
            "Inference-optimal allocation at a fixed loss",
            LIFETIME_COST + lambda_ * LOSS_CONSTRAINT,
            start_note=r"the Lagrangian of the lifetime cost at the fixed loss, multiplier $\lambda$",
            assumptions=(COST_MODEL, FIXED_LOSS),
        )
        .then(
            differentiate(N),
            6 * D + 2 * D_inf - alpha * A * lambda_ * N ** (-alpha - 1),
        )
        .then(
            solve_for(lambda_, text=r"solve $\partial_N = 0$ for $\lambda$"),
            (6 * D + 2 * D_inf) * N ** (alpha + 1) / (alpha * A),
            label="multiplier",
        )
        .then(
            differentiate(D),
            6 * N - beta * B * lambda_ * D ** (-beta - 1),
            on="start",
        )
        .then(
            substitute({lambda_: (6 * D + 2 * D_inf) * N ** (alpha + 1) / (alpha * A)}, text=r"substitute $\lambda$"),
            6 * N - beta * B * D ** (-beta - 1) * (6 * D + 2 * D_inf) * N ** (alpha + 1) / (alpha * A),
        )
        .then(
            apply_map(lambda g: g * alpha * A * N ** (-alpha - 1) / 6, why="multiply out"),
            alpha * A * N**-alpha - beta * B * D**-beta - beta * B * D_inf * D ** (-beta - 1) / 3,
            note=r"the tangency condition $\alpha A N^{-\alpha} = \beta B D^{-\beta} (1 + D_{\mathrm{inf}}/(3D))$",
            label="tangency",
        )
        .then(
            substitute({D_inf: 0}, text=r"no inference: $D_{\mathrm{inf}} = 0$"),
            alpha * A * N**-alpha - beta * B * D**-beta,
            note=r"Chinchilla's condition $\alpha A N^{-\alpha} = \beta B D^{-\beta}$",
        )
        .then(
            differentiate(lambda_),
            LOSS_CONSTRAINT,
            on="start",
            note=r"$\partial_\lambda = 0$ is the fixed-loss constraint",
            label="constraint",
        )
        .then(
            solve_for(N, text=r"solve the constraint for $N$"),
            _N_of_D,
            label="N_of_D",
        )
        .then(
            substitute(
                {R: A * N**-alpha + B * D**-beta},
                why=r"on the fixed-loss surface ($\partial_\lambda = 0$) the constraint term vanishes",
            ),
            LIFETIME_COST,
            on="start",
            note=r"the lifetime cost of a model of the fixed loss",
            label="lifetime_cost",
        )
        .then(
            substitute({N: _N_of_D}, text=r"the model of the fixed loss trained on $D$ tokens: $N = N(D)$"),
            (6 * D + 2 * D_inf) * _N_of_D,
            note=r"the lifetime cost as a function of $D$ alone",
            label="cost_of_D",
        )
        .then(
            substitute({A * N**-alpha: R - B * D**-beta}, text=r"eliminate $N$: $A N^{-\alpha} = R - B D^{-\beta}$"),
            _h,
            on="tangency",
            note=r"$h(D)$: the optimum's $D$ is a root of $h$",
            label="h",
        )
        .then(
            differentiate(D),
            (alpha + beta) * beta * B * D ** (-beta - 1) + beta * (beta + 1) * B * D_inf * D ** (-beta - 2) / 3,
            note=r"$h'(D)$",
        )
        .then(
            apply_map(lambda z: sp.sign(z), why="take the sign"),
            1,
            note=r"$h$ rises from $-\infty$ ($D \to 0$) to $\alpha R > 0$ ($D \to \infty$): exactly one root $D^*$",
        )
        .then(
            differentiate(D_inf),
            -beta * B * D ** (-beta - 1) / 3,
            on="h",
            note=r"$\partial h / \partial D_{\mathrm{inf}}$",
        )
        .then(
            apply_map(lambda z: sp.sign(z), why="take the sign"),
            -1,
            note=(
                r"$h$ falls as $D_{\mathrm{inf}}$ grows and rises with $D$, so by the implicit function theorem "
                r"$dD^*/dD_{\mathrm{inf}} = -\partial_{D_{\mathrm{inf}}} h / \partial_D h > 0$: more inference, more "
                r"tokens; at the fixed loss $N$ then falls ($A N^{-\alpha} = R - B D^{-\beta}$ shrinks): smaller models "
                r"trained longer than Chinchilla-optimal"
            ),
        )
        .then(
            solve_for(D_inf, text=r"solve $h = 0$ for $D_{\mathrm{inf}}$"),
            3 * D * (alpha * R * D**beta / B - alpha - beta) / beta,
            on="h",
            note=r"the inference demand for which $D$ tokens are optimal",
            label="D_inf_for_D",
        )
    )
    return derivation.then(
        column("h", "N_of_D", "cost_of_D", why="the optimum is the root of $h$, with $N$ and the cost there"),
        sp.Matrix([_h, _N_of_D, (6 * D + 2 * D_inf) * _N_of_D]),
        on="h",
    )
