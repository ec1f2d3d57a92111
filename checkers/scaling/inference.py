"""``inference-optimal`` (Sardana et al. 2023): the cheapest model over training plus inference at a fixed loss.

The Lagrange conditions (proofs.scaling.inference) reduce the problem to the root of one
increasing function ``h(D)``; the claim is that root, the ``N`` the constraint gives there and
the lifetime cost of that model, all compiled from the derivation's closed form (the reference's
reducible loss too: the derived constraint's left side at the reference model).
The oracle (numerics.scaling.inference) minimises the lifetime cost itself along the models of
the same loss, parametrised by the share of the reducible loss due to model size (scipy's
bracketing minimiser, then Newton's method with complex-step slopes); the two reach no project
function in common.
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Real
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from checkers.results import Plot
from checkers.scaling import HOFFMANN_FIT_DOMAINS, chinchilla_allocation, evaluated
from checkers.scaling.frontier import LLAMA3, chinchilla_frontier
from numerics.scaling.inference import (
    increasing_root,
    inference_figure,
    inference_optimal_allocation as cheapest_at_reference_loss,
    reducible_loss,
)
from proofs.scaling import HOFFMANN
from proofs.scaling.inference import COST_MODEL, FIXED_LOSS, SARDANA, inference_optimal_allocation

DEMAND_SWEEP = (0.0, 1e12, 1e13, 1e14, 1e15, 1e16)
"""Inference demands (tokens) at which the worked example reports the optimum; 0 is Chinchilla's."""
TABLE_SIZES = (1e10, 1e11, 1e12)
"""Reference models of the budget table: 10B to 1T parameters at 20 tokens per parameter."""


INFERENCE_ANCHOR = Anchor(
    {"A": 10.0, "B": 10.0, "alpha": 0.5, "beta": 0.5, "N_ref": 2.5e11, "D_ref": 2.5e11, "D_inf": 6e12},
    [1e12 / 9, 1e12, 2e24],
    "worked by hand (module checkers.scaling.inference): R = 20/5e5 = 4e-5; along 10 N^(-1/2) + 10 D^(-1/2) = R "
    "the cost (6 D + 1.2e13) N is stationary at D = 1e12, N = 1e12/9, where it is 2e24",
    rtol=1e-12,
)
"""A case worked by hand: ``A = B = 10``, ``alpha = beta = 1/2``, a reference of ``N = D = 2.5e11``, ``D_inf = 6e12``.

The reference's reducible loss is ``R = 2 * 10 / sqrt(2.5e11) = 20/5e5 = 4e-5``. On the models of that loss write
``x = D^(-1/2)``: ``10 N^(-1/2) = R - 10 x``, so ``N = 100/(R - 10 x)^2`` and the cost is
``c(x) = (6/x^2 + 1.2e13) 100/(R - 10 x)^2``, for ``0 < x < R/10``. Its logarithmic derivative is
``-12/(x^3 (6/x^2 + 1.2e13)) + 20/(R - 10 x)``; at ``x = 1e-6`` (``D = 1e12``) the first term is
``-1.2e19/1.8e13 = -6.67e5`` and the second ``20/3e-5 = 6.67e5``: zero. It is the only stationary point, and a
minimum, since the cost grows without bound at both ends (``x -> 0``, and ``x -> R/10`` where ``N -> infinity``).
There ``N = 100/(3e-5)^2 = 1e12/9`` and the cost is ``N (6e12 + 1.2e13) = 2e24``. rtol 1e-12: exact numbers,
with the claim's rounding (about 3e-14 here) and the oracle's stated accuracy (about 2e-13) well inside.
"""


def _optimal_tokens(closed_form, A, B, R, alpha, beta, D_ref, D_inf) -> np.ndarray:
    """The root ``D`` of the derived ``h`` (the first entry of the compiled closed form), searched from ``D_ref``.

    NaN where ``h`` has no root: only a wrong ``h`` (a mutant's) lacks one, since the derivation
    shows the true ``h`` rises from ``-inf`` to ``alpha R > 0``.
    """

    def h(log_D, A, B, R, alpha, beta, D_inf):
        # Below the smallest feasible D the other entries, N(D) and its cost, are NaN; only h is used here.
        with np.errstate(invalid="ignore"):
            return closed_form(D=np.exp(log_D), A=A, B=B, R=R, alpha=alpha, beta=beta, D_inf=D_inf)[:, 0]

    return increasing_root(h, D_ref, args=(A, B, R, alpha, beta, D_inf))


def _trained_on(closed_form, D, A, B, R, alpha, beta, D_inf) -> np.ndarray:
    """``(N, D, cost)`` of the model of reducible loss ``R`` trained on ``D`` tokens: the derived ``N(D)``, cost."""
    with np.errstate(invalid="ignore"):
        _, N, cost = closed_form(D=D, A=A, B=B, R=R, alpha=alpha, beta=beta, D_inf=D_inf).T
    return np.stack([N, D, cost], axis=-1)


def _reference_loss(A, B, alpha, beta, N_ref, D_ref) -> np.ndarray:
    """The reference model's reducible loss ``R``: the derived constraint's left side ``A N^-alpha + B D^-beta`` there."""
    constraint = inference_optimal.closed_form("constraint")
    return constraint(N=N_ref, D=D_ref, A=A, B=B, alpha=alpha, beta=beta, R=np.zeros_like(N_ref))


def _optimum(closed_form, A, B, alpha, beta, N_ref, D_ref, D_inf):
    """The claim ``(N, D, cost)``: the root of ``h``, and ``N`` and the lifetime cost there (all compiled)."""
    R = _reference_loss(A, B, alpha, beta, N_ref, D_ref)
    D = _optimal_tokens(closed_form, A, B, R, alpha, beta, D_ref, D_inf)
    return _trained_on(closed_form, D, A, B, R, alpha, beta, D_inf)


def _priced(factor: float):
    """The optimum for the inference demand scaled by ``factor``, its cost at the true demand (``2 N`` per token)."""

    def mutant(A, B, alpha, beta, N_ref, D_ref, D_inf):
        closed_form = inference_optimal.closed_form()
        R = _reference_loss(A, B, alpha, beta, N_ref, D_ref)
        D = _optimal_tokens(closed_form, A, B, R, alpha, beta, D_ref, factor * D_inf)
        return _trained_on(closed_form, D, A, B, R, alpha, beta, D_inf)

    return mutant


def _inference_values(A, B, E, alpha, beta, N_ref, D_ref, D_inf):
    params = {"A": A, "B": B, "alpha": alpha, "beta": beta, "N_ref": N_ref, "D_ref": D_ref, "D_inf": D_inf}
    R = float(reducible_loss(N_ref, D_ref, A, B, alpha, beta))
    compute_ref = evaluated(inference_optimal, "lifetime_cost", N=N_ref, D=D_ref, D_inf=0.0)  # training: 6 N D
    fit = {"A": A, "B": B, "E": E, "alpha": alpha, "beta": beta, "C": compute_ref}
    N_opt, D_opt, cost_opt = evaluated(inference_optimal, **params)
    N_chin, D_chin, _ = evaluated(inference_optimal, **{**params, "D_inf": 0.0})
    sweep = evaluated(inference_optimal, **{**params, "D_inf": np.array(DEMAND_SWEEP)})
    sizes = np.array(TABLE_SIZES)
    table = evaluated(inference_optimal, **{**params, "N_ref": sizes, "D_ref": 20 * sizes})
    table_reference_cost = evaluated(inference_optimal, "lifetime_cost", N=sizes, D=20 * sizes, D_inf=D_inf)
    rule = evaluated(chinchilla_frontier, C=compute_ref, tokens_per_param=20.0)
    L_chinchilla_fit = evaluated(chinchilla_allocation, "L_opt", **fit)
    return {
        "loss_ref": E + R,
        "tokens_per_param_ref": D_ref / N_ref,
        "compute_ref": compute_ref,
        "N_chinchilla_fit": evaluated(chinchilla_allocation, "N_opt", **fit),
        "D_chinchilla_fit": evaluated(chinchilla_allocation, "D_opt", **fit),
        "L_chinchilla_fit": L_chinchilla_fit,
        "loss_gap": E + R - L_chinchilla_fit,
        "N_chinchilla_20": float(rule[0]),
        "D_chinchilla_20": float(rule[1]),
        "N_opt": float(N_opt),
        "D_opt": float(D_opt),
        "cost_opt": float(cost_opt),
        "tokens_per_param_opt": float(D_opt / N_opt),
        "N_same_loss_chinchilla": float(N_chin),
        "D_same_loss_chinchilla": float(D_chin),
        "cost_same_loss_chinchilla": evaluated(inference_optimal, "lifetime_cost", N=N_chin, D=D_chin, D_inf=D_inf),
        "cost_ref": evaluated(inference_optimal, "lifetime_cost", N=N_ref, D=D_ref, D_inf=D_inf),
        "D_inf_for_reference": evaluated(inference_optimal, "D_inf_for_D", D=D_ref, R=R, B=B, alpha=alpha, beta=beta),
        "sweep_D_inf": list(DEMAND_SWEEP),
        "sweep_N": sweep[:, 0].tolist(),
        "sweep_D": sweep[:, 1].tolist(),
        "table_N_ref": list(TABLE_SIZES),
        "table_N_opt": table[:, 0].tolist(),
        "table_D_opt": table[:, 1].tolist(),
        "table_saving": (1 - table[:, 2] / table_reference_cost).tolist(),
    }


def _inference_figures(A, B, alpha, beta, N_ref, D_ref):
    demands = np.logspace(10, 17, 57)
    optimum = evaluated(inference_optimal, A=A, B=B, alpha=alpha, beta=beta, N_ref=N_ref, D_ref=D_ref, D_inf=demands)
    figure = inference_figure(demands, optimum[:, 0], optimum[:, 1], N_ref, D_ref)
    caption = (
        f"The inference-optimal model as good as a reference of {N_ref:.3g} parameters trained on {D_ref:.3g} "
        "tokens (dotted), against the number of inference tokens it will serve, under the approach-3 fit: as "
        "demand grows the optimal model shrinks towards the smallest that can reach the loss and is trained on "
        "ever more tokens per parameter; at little demand it is the Chinchilla-optimal model of that loss."
    )
    return [Plot(name="optimum-against-demand", caption=caption, figure=figure)]


inference_optimal = Theorem(
    id="inference-optimal",
    variants={"N_ref": Real(1e9, 1e11, log=True), "D_inf": Real(1e11, 1e14, log=True)},
    title="Inference-optimal scaling: smaller models trained longer (beyond Chinchilla)",
    topic="scaling",
    statement=(
        r"Let $L(N, D) = E + A N^{-\alpha} + B D^{-\beta}$ and let a model serve $D_{\mathrm{inf}} > 0$ inference "
        r"tokens, so its lifetime cost is $6 N D + 2 N D_{\mathrm{inf}}$ FLOPs. Among the models of a given loss "
        r"$E + R$ the cheapest satisfies $\alpha A N^{-\alpha} = \beta B D^{-\beta}\left(1 + \frac{D_{\mathrm{inf}}}{3D}\right)$: "
        r"its $D$ is the unique root of $h(D) = \alpha R - (\alpha + \beta) B D^{-\beta} - \frac{\beta}{3} B D_{\mathrm{inf}} D^{-\beta-1}$, "
        r"which rises with $D$, and $N = \left(A/(R - B D^{-\beta})\right)^{1/\alpha}$. The root grows with "
        r"$D_{\mathrm{inf}}$, so the inference-optimal model is smaller and trained on more tokens than the "
        r"Chinchilla-optimal model of the same loss ($D_{\mathrm{inf}} = 0$, where the condition is Chinchilla's "
        r"$\alpha A N^{-\alpha} = \beta B D^{-\beta}$). A model trained on $D$ tokens is optimal for the demand "
        r"$D_{\mathrm{inf}} = \frac{3D}{\beta}\left(\frac{\alpha R D^{\beta}}{B} - \alpha - \beta\right)$ when this is "
        r"positive (otherwise it is trained on fewer tokens than even the Chinchilla-optimal model of its loss)."
    ),
    assumptions=(
        COST_MODEL,
        FIXED_LOSS,
        r"the loss target is that of a reference model: $R = A N_{\mathrm{ref}}^{-\alpha} + B D_{\mathrm{ref}}^{-\beta}$",
        r"defaults: Hoffmann et al.'s approach-3 fit $A = 406.4$, $B = 410.7$, $E = 1.69$, $\alpha = 0.34$, "
        r"$\beta = 0.28$; the reference is Llama 3 8B, $8 \times 10^{9}$ parameters trained on $15 \times 10^{12}$ "
        r"tokens; $D_{\mathrm{inf}} = 10^{13}$ inference tokens. The fit was made on models trained near the "
        r"Chinchilla ratio, so losses far beyond it (1875 tokens per parameter) are extrapolations",
    ),
    sources=(
        f"{SARDANA}, section 2",
        f"{HOFFMANN}, section 3.3 (approach 3)",
        LLAMA3,
        "seed 000, hours 5-6 (scaling laws)",
    ),
    parameters={
        **HOFFMANN_FIT_DOMAINS,
        "N_ref": Real(1e8, 1e13, log=True, default=8e9),
        "D_ref": Real(1e9, 1e15, log=True, default=15e12),
        "D_inf": Real(1e6, 1e16, log=True, default=1e13),
    },
    derivation=inference_optimal_allocation,
    assemble=_optimum,
    oracle=cheapest_at_reference_loss,
    mutants={
        "inference ignored (Chinchilla-optimal at the same loss)": _priced(0.0),
        "inference priced at 6N per token": _priced(3.0),
        "inference priced at N per token": _priced(0.5),
    },
    anchors=(INFERENCE_ANCHOR,),
    tolerance=Deterministic(
        rtol=1e-10,
        atol=0.0,
        reason=(
            "claim: the root of h in ln D is found to a bracket of 4 eps |ln D|; h's terms are rounded to a few "
            "ulps of alpha R and h rises at rate at least beta alpha R in ln D, so ln D is off by at most about "
            "8 eps/beta + 4 eps |ln D| (beta >= 0.05: 4e-14). Each power x^-p carries p |ln x| eps <= 33 eps, so "
            "R - B D^-beta is good to about 70 eps relative times (alpha + beta)/beta <= 20 (at the root "
            "B D^-beta <= alpha R/(alpha + beta)), and the power 1/alpha <= 20 multiplies that: about 3e-11 "
            "relative for N and the cost at the worst corner of the domain, far less at typical points; rtol 1e-10 "
            "leaves a factor 3. Oracle: returns its own accuracy (numerics.scaling.inference."
            "inference_optimal_allocation): the last Newton correction of its minimiser in the logit of the loss share "
            "plus twice the rounding band of the complex-step slope, carried to N, D and the cost (at most 1.2e-12 "
            "relative over 150 random points; measured at most 0.15 of it against a 40-digit solution)"
        ),
    ),
    values=_inference_values,
    figures=_inference_figures,
)
