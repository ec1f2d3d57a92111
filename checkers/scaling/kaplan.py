"""``kaplan-exponents`` (seed 001; Kaplan et al. 2020): the power laws, what a tenfold increase buys,
and the compute-optimal allocation the joint form ``L(N, D)`` implies, beside Chinchilla's.

The derivation (proofs.scaling.kaplan) against a numerical minimisation of the joint law along
``C = 6 N D`` (numerics.scaling.kaplan).
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Real
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from checkers.results import Erratum
from checkers.scaling import chinchilla_allocation, evaluated
from numerics.scaling.kaplan import kaplan_allocation as minimise_joint_law
from numerics.scaling.kaplan import kaplan_loss
from proofs.scaling import HOFFMANN
from proofs.scaling.kaplan import JOINT_FORM, KAPLAN, POSITIVE_CONSTANTS, kaplan_allocation

PORIAN = "Porian et al. 2024, Resolving Discrepancies in Compute-Optimal Scaling of Language Models"
PEARCE = "Pearce and Song 2024, Reconciling Kaplan and Chinchilla Scaling Laws"

SEED_EXPONENTS = {"alpha_N": 0.07, "alpha_D": 0.10}
"""Seed 001: "alpha ~ 0.07 for model size, 0.10 for data size"."""
JOINT_FIT = {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13}
"""Kaplan et al. 2020, table 2: the fit of the joint law L(N, D) (eq. 1.5), the defaults here.

The single-variable fits of eqs. 1.1 and 1.2 are alpha_N = 0.076, N_c = 8.8e13 and alpha_D = 0.095,
D_c = 5.4e13; the joint law is evaluated with its own fit. Its ratio alpha_N/alpha_D = 0.738 is the
paper's printed ``D ~ N^0.74``."""
KAPLAN_PUBLISHED_SIZE_EXPONENT = 0.73
"""Kaplan et al. 2020, figure 14 / eq. 1.7: N_opt grows as C_min^0.73 (from L(N, S_min), not from L(N, D))."""

KAPLAN_VALUES = (
    "N_opt", "D_opt", "L_opt", "a", "b", "tokens_per_param", "alpha_C_joint", "gain_N", "gain_D", "gain_C_joint",
)


KAPLAN_ANCHOR = Anchor(
    {"alpha_N": 0.25, "alpha_D": 0.5, "N_c": 1e12, "D_c": 1e12, "C": 1.2e25},
    [1e12, 2e12, 1.5**0.5],
    "worked by hand (module checkers.scaling.kaplan): the bracket sqrt(1e12/N) + 1e12 N/2e24 along N D = 2e24 has slope "
    "-(1/2) 1e6 N^(-3/2) + 5e-13, zero at N^(3/2) = 1e18; so N = 1e12, D = 2e12, L = (1 + 1/2)^(1/2)",
    rtol=1e-13,
)
"""A case worked by hand with unequal exponents (``p = alpha_N/alpha_D = 1/2``, ``a = 2/3``, ``b = 1/3``).

``alpha_N = 1/4``, ``alpha_D = 1/2``, ``N_c = D_c = 1e12``, ``C = 1.2e25`` (``C/6 = 2e24``). The loss is the
bracket ``f = (1e12/N)^(1/2) + 1e12/D`` to the power 1/2, an increasing map, so both have the same minimiser.
With ``D = 2e24/N``, ``f = 1e6 N^(-1/2) + 5e-13 N``, whose derivative ``-5e5 N^(-3/2) + 5e-13`` vanishes where
``N^(3/2) = 1e18``, ``N = 1e12`` (and rises through 0 there): ``D = 2e12``, ``f = 1 + 1/2``, ``L = 1.5^(1/2)``.
rtol 1e-13: the numbers are exact, and the claim's and the oracle's float64 values carry about 1e-14.
"""


def _allocation_at(N, C, N_c, D_c, alpha_N, alpha_D) -> np.ndarray:
    """``(N, D, L)`` for a model of ``N`` parameters trained on the rest of the budget ``C = 6 N D``."""
    D = C / (6 * N)
    return np.stack([N, D, kaplan_loss(N, D, N_c, D_c, alpha_N, alpha_D)], axis=-1)


def _swapped_exponents(C, N_c, D_c, alpha_N, alpha_D):
    """N grows as C^b and D as C^a: the exponents of model and data exchanged."""
    params = {"alpha_N": alpha_N, "alpha_D": alpha_D}
    a, b = evaluated(kaplan_exponents, "a", **params), evaluated(kaplan_exponents, "b", **params)
    N = N_c**a * (alpha_N * C / (6 * alpha_D * D_c)) ** b
    return _allocation_at(N, C, N_c, D_c, alpha_N, alpha_D)


def _whole_budget(C, N_c, D_c, alpha_N, alpha_D):
    """C instead of C/6 in N_opt (the factor 6 of C = 6 N D dropped)."""
    N = evaluated(kaplan_exponents, "N_opt", C=6 * C, N_c=N_c, D_c=D_c, alpha_N=alpha_N, alpha_D=alpha_D)
    return _allocation_at(N, C, N_c, D_c, alpha_N, alpha_D)


def _sum_of_single_laws(C, N_c, D_c, alpha_N, alpha_D):
    """Treat the loss as (N_c/N)^alpha_N + (D_c/D)^alpha_D and use Chinchilla's allocation for that sum."""
    N = evaluated(chinchilla_allocation, "N_opt", A=N_c**alpha_N, B=D_c**alpha_D, alpha=alpha_N, beta=alpha_D, C=C)
    return _allocation_at(N, C, N_c, D_c, alpha_N, alpha_D)


def _bracket_exponent_dropped(C, N_c, D_c, alpha_N, alpha_D):
    """Read the joint form as (N_c/N + D_c/D)^alpha_D: the exponent alpha_N/alpha_D inside the bracket dropped."""
    N = evaluated(kaplan_exponents, "N_opt", C=C, N_c=N_c, D_c=D_c, alpha_N=alpha_D, alpha_D=alpha_D)
    return _allocation_at(N, C, N_c, D_c, alpha_N, alpha_D)


def _kaplan_values(C, N_c, D_c, alpha_N, alpha_D):
    params = {"C": C, "N_c": N_c, "D_c": D_c, "alpha_N": alpha_N, "alpha_D": alpha_D}
    values = {name: evaluated(kaplan_exponents, name, **params) for name in KAPLAN_VALUES if name != "tokens_per_param"}
    values["tokens_per_param"] = values["D_opt"] / values["N_opt"]
    values["N_ridge_exponent"] = float(alpha_N / alpha_D)
    values["a_seed"] = evaluated(kaplan_exponents, "a", **SEED_EXPONENTS)
    values["gain_N_seed"] = evaluated(kaplan_exponents, "gain_N", **SEED_EXPONENTS)
    values["a_kaplan_published"] = KAPLAN_PUBLISHED_SIZE_EXPONENT
    fit = {**chinchilla_allocation.default_params(), "C": C}
    for name in ("a", "N_opt", "D_opt"):
        values[f"{name}_chinchilla"] = evaluated(chinchilla_allocation, name, **fit)
    return values


kaplan_exponents = Theorem(
    id="kaplan-exponents",
    variants={"C": Real(1e18, 1e24, log=True)},  # the fit stays Kaplan et al.'s
    title="Kaplan's scaling exponents and the allocation their joint law implies",
    topic="scaling",
    statement=(
        r"Let $L(N, D) = \left[(N_c/N)^{\alpha_N/\alpha_D} + D_c/D\right]^{\alpha_D}$ with $N_c, D_c > 0$ and "
        r"$0 < \alpha_N, \alpha_D < 1$. With unlimited data it is $L(N) = (N_c/N)^{\alpha_N}$, with unlimited "
        r"parameters $L(D) = (D_c/D)^{\alpha_D}$, and a tenfold $N$ or $D$ multiplies the loss by $10^{-\alpha_N}$ "
        r"or $10^{-\alpha_D}$. Among $N, D > 0$ with $6 N D = C$ the loss is minimised exactly at "
        r"$N_{\mathrm{opt}} = N_c^{b} \left(\frac{\alpha_N C}{6 \alpha_D D_c}\right)^{a}$, "
        r"$D_{\mathrm{opt}} = C/(6 N_{\mathrm{opt}})$, with $a = \frac{\alpha_D}{\alpha_N + \alpha_D}$, "
        r"$b = \frac{\alpha_N}{\alpha_N + \alpha_D}$, where "
        r"$L_{\mathrm{opt}} = \left(\frac{\alpha_N + \alpha_D}{\alpha_N} \frac{D_c}{D_{\mathrm{opt}}}\right)^{\alpha_D}"
        r"\propto C^{-\alpha_N\alpha_D/(\alpha_N+\alpha_D)}$. At Kaplan et al.'s joint fit this is "
        r"$N_{\mathrm{opt}} \propto C^{0.58}$, close to Chinchilla's $C^{0.45}$ to $C^{0.5}$, and far from the "
        r"$C^{0.73}$ Kaplan et al. recommended: their allocation came from the learning-curve law $L(N, S)$ with "
        r"early stopping at a fixed learning-rate schedule, not from $L(N, D)$ at convergence."
    ),
    assumptions=(
        JOINT_FORM,
        r"training compute $C = 6 N D$",
        POSITIVE_CONSTANTS,
        r"defaults: Kaplan et al.'s fit of the joint law (table 2), $\alpha_N = 0.076$, $\alpha_D = 0.103$, "
        r"$N_c = 6.4 \times 10^{13}$, $D_c = 1.8 \times 10^{13}$, $N$ counting non-embedding parameters, and "
        r"Gopher's budget $C = 5.76 \times 10^{23}$ FLOPs; their single-variable fits (eqs. 1.1, 1.2) are "
        r"$\alpha_N = 0.076$, $N_c = 8.8 \times 10^{13}$ and $\alpha_D = 0.095$, $D_c = 5.4 \times 10^{13}$",
        r"the oracle minimises $\ln L$ itself along the budget, in $u = \ln N$ (scipy's bracketing minimiser on its "
        r"values, then Newton's method with complex-step slopes); it never solves the stationarity condition",
        r"why Kaplan and Chinchilla differ: Kaplan et al. derived $N \propto C^{0.73}$ from $L(N, S_{\min})$ with "
        r"a cosine schedule whose length did not follow the number of tokens (so short runs looked worse than "
        r"they are), counted non-embedding parameters only, and fitted small models; Hoffmann et al. tuned the "
        r"schedule to each run and found $a \approx 0.5$. Pearce and Song 2024 trace most of the gap to counting "
        r"non-embedding parameters at small scale; Porian et al. 2024 to the last layer's compute, the warmup "
        r"length and optimiser tuning. The joint law $L(N, D)$ itself, minimised here, already gives $a = 0.58$",
    ),
    sources=(
        f"{KAPLAN}, eqs. 1.1, 1.2, 1.5, 1.7, table 2, section 6",
        f"{HOFFMANN}, section 3 and appendix D",
        PORIAN,
        PEARCE,
        "seed 001 (scaling laws: alpha ~ 0.07 for model size, 0.10 for data size)",
    ),
    parameters={
        "alpha_N": Real(0.01, 0.99, default=JOINT_FIT["alpha_N"]),
        "alpha_D": Real(0.01, 0.99, default=JOINT_FIT["alpha_D"]),
        "N_c": Real(1e10, 1e16, log=True, default=JOINT_FIT["N_c"]),
        "D_c": Real(1e10, 1e16, log=True, default=JOINT_FIT["D_c"]),
        "C": Real(1e15, 1e28, log=True, default=5.76e23),
    },
    derivation=kaplan_allocation,
    oracle=minimise_joint_law,
    mutants={
        "swapped exponents": _swapped_exponents,
        "C instead of C/6": _whole_budget,
        "sum of the single-variable laws": _sum_of_single_laws,
        "exponent alpha_N/alpha_D in the bracket dropped": _bracket_exponent_dropped,
    },
    anchors=(KAPLAN_ANCHOR,),
    tolerance=Deterministic(
        rtol=1e-12,
        atol=0.0,
        reason=(
            "claim: N_opt = N_c^b (alpha_N C/(6 alpha_D D_c))^a carries p |ln x| u for each power x^p, with "
            "|ln N_c| <= 37, |ln(alpha_N C/(6 alpha_D D_c))| <= 70 and a, b < 1: at most about 150 u = 2e-14 "
            "relative; D_opt = C/(6 N_opt) and L_opt (a power alpha_D < 1 of a product) add a few u; rtol 1e-12 "
            "leaves a factor 50. Oracle: returns its own accuracy (numerics.scaling.kaplan.kaplan_allocation): "
            "the last Newton correction of its minimiser of ln L in u = ln N plus twice the rounding band of the "
            "complex-step slope (at most 2.2e-13 relative over 200 random points; measured at most 0.03 of it "
            "against a 40-digit solution)"
        ),
    ),
    values=_kaplan_values,
    errata=(
        Erratum(
            source="seed 001",
            section="scaling laws",
            stated=r"the exponents are $\alpha \approx 0.07$ for model size and $0.10$ for data size",
            corrected=(
                r"Kaplan et al. 2020 fit $\alpha_N = 0.076$ (eq. 1.1, and again in the joint fit of table 2), "
                r"which rounds to $0.08$: $0.07$ is a truncation. The $0.10$ for data is right to two decimals: "
                r"$\alpha_D = 0.095$ (eq. 1.2), $0.103$ in the joint fit. The truncation shows downstream: a tenfold "
                r"model buys a factor $10^{-0.076} = 0.839$, not $10^{-0.07} = 0.851$, and the joint law's "
                r"compute-optimal exponent is $a = 0.103/0.179 = 0.575$, not $0.10/0.17 = 0.588$"
            ),
            evidence=(
                "Kaplan et al. 2020, eqs. 1.1, 1.2 and table 2; the factors and exponents are this theorem's "
                r"closed forms $10^{-\alpha_N}$ and $a$ at both pairs of exponents (see the worked example)"
            ),
            kind="imprecise",
        ),
    ),
)
