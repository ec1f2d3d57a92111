"""Derivation of the Johnson-Lindenstrauss target dimension (SymPy only).

* :func:`jl_dimension`: the dimension ``d`` at which a Gaussian projection ``f(u) = G u / sqrt(d)`` keeps all pairwise
  squared distances of ``m`` points within factors ``1 +- eps`` by Dasgupta and Gupta's tail bound
  and a union bound, ``4 ln m / (eps^2/2 - eps^3/3)``, and the course's ``8 ln m / eps^2``, the
  same bound with the cubic term dropped (seed 003, exercise 1.9). Both are sufficient
  dimensions: any larger ``d`` works too.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, column, custom, solve_for

DASGUPTA_GUPTA = (
    "Dasgupta, Gupta 2003, An elementary proof of a theorem of Johnson and Lindenstrauss, "
    "Random Structures and Algorithms 22(1), Lemma 2.2 and Theorem 2.1"
)
ACHLIOPTAS = (
    "Achlioptas 2003, Database-friendly random projections: Johnson-Lindenstrauss with binary coins, "
    "Journal of Computer and System Sciences 66(4), Theorem 1.1 and its proof"
)

m, eps = sp.symbols("m epsilon", positive=True)
d = sp.Symbol("d", real=True)

PAIR_TAIL = (
    r"for a Gaussian projection $f(u) = G u / \sqrt{d}$ ($G$ a $d \times D$ matrix of independent standard normal "
    r"entries) of one pair, $\|f(u)\|^2 / \|u\|^2$ has the law of $\chi^2_d / d$ and leaves "
    r"$[1 - \epsilon, 1 + \epsilon]$ with probability at most $2 e^{-d (\epsilon^2/2 - \epsilon^3/3)/2}$, $0 < \epsilon < 1$: "
    r"the Chernoff bound from the $\chi^2_d$ moment generating function, $P(\chi^2_d / d \ge \beta) \le "
    r"(\beta e^{1 - \beta})^{d/2}$ for $\beta = 1 + \epsilon$ and $P(\chi^2_d / d \le \beta) \le (\beta e^{1 - \beta})^{d/2}$ "
    r"for $\beta = 1 - \epsilon$, with $\ln(1 \pm \epsilon) \mp \epsilon \le -(\epsilon^2/2 - \epsilon^3/3)$. This is the "
    r"$D \to \infty$ limit of Dasgupta and Gupta's Lemma 2.2 (their projection onto a random $d$-dimensional subspace "
    r"is scaled by $\sqrt{D/d}$ instead) and the bound Achlioptas 2003 proves for $f(u) = R u / \sqrt{d}$ with "
    r"Gaussian or $\pm 1$ entries"
)
SUCCESS_PROBABILITY = (
    r"the union bound over the $m(m-1)/2$ pairs is set to $1 - 1/m$, so that every pair is kept "
    r"with probability at least $1/m$ (Dasgupta and Gupta's Theorem 2.1; repeating $O(m)$ times boosts it)"
)


def jl_dimension() -> Derivation:
    """``d_dasgupta_gupta = 4 ln m / (eps^2/2 - eps^3/3)`` and ``d_min = 8 ln m / eps^2`` (the cubic term dropped).

    From the pair tail ``2 exp(-d (eps^2/2 - eps^3/3)/2)``: multiply by the ``m(m-1)/2`` pairs
    (union bound), set the result to ``1 - 1/m`` and solve for ``d``. Dropping the
    ``-eps^3/3`` term of the exponent gives the formula of exercise 1.9, which is smaller, so
    Dasgupta and Gupta's argument does not cover it. Labelled results: ``failure``,
    ``d_dasgupta_gupta``, ``d_min``; the closed form is the column ``(d_min, d_dasgupta_gupta)``
    in the symbols ``m`` and ``epsilon``. Seed 003, exercise 1.9.
    """
    kappa = eps**2 / 2 - eps**3 / 3
    derivation = (
        Derivation(
            "Target dimension of a Johnson-Lindenstrauss projection",
            2 * sp.exp(-d * kappa / 2),
            start_note=r"the probability that one pair's squared distance is distorted by more than $1 \pm \epsilon$",
            assumptions=(PAIR_TAIL, SUCCESS_PROBABILITY),
        )
        .then(
            apply_map(lambda p: m * (m - 1) / 2 * p, why="union bound over the $m(m-1)/2$ pairs"),
            m * (m - 1) * sp.exp(-d * kappa / 2),
            label="failure",
        )
        .then(
            apply_map(lambda p: p - (1 - 1 / m), why="require the failure probability to be $1 - 1/m$"),
            m * (m - 1) * sp.exp(-d * kappa / 2) - (1 - 1 / m),
        )
        .then(
            solve_for(d, text=r"solve for $d$ (the failure bound decreases in $d$: any larger $d$ also works)"),
            4 * sp.log(m) / kappa,
            note=r"Dasgupta and Gupta's sufficient dimension",
            label="d_dasgupta_gupta",
        )
        .then(
            # xreplace, not subs: subs would also read eps^2 as (eps^3)^(2/3) and send it to 0.
            custom(r"drop the cubic term $-\epsilon^3/3$ of the exponent", lambda e: e.xreplace({eps**3: 0})),
            8 * sp.log(m) / eps**2,
            note=(
                r"the formula of exercise 1.9: smaller than the line above, so that proof does not cover it for squared "
                r"distances; for distances themselves it suffices (checked numerically)"
            ),
            label="d_min",
        )
    )
    return derivation.then(
        column("d_min", "d_dasgupta_gupta"),
        sp.Matrix([8 * sp.log(m) / eps**2, 4 * sp.log(m) / kappa]),
    )
