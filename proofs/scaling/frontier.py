"""The Chinchilla frontier of exercise 1.5 (SymPy only).

* :func:`chinchilla_frontier`: with training compute ``C = 6 N D`` and the rule of thumb
  ``D = r N`` (``r = 20`` tokens per parameter, Hoffmann et al. 2022), the model size is
  ``N = sqrt(C / (6 r))`` and the data ``D = sqrt(r C / 6)``; for ``r = 20``,
  ``N = sqrt(C/120)``, and ``C = 1.2e24`` gives ``N = 1e11``, ``D = 2e12`` (seed 003, ex. 1.5).
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, column, elasticity, solve_for, substitute
from proofs.scaling import C, D, N

r = sp.Symbol("r", positive=True)

TOKENS_PER_PARAM_RULE = r"the rule of thumb $D = r N$ with $r = 20$ tokens per parameter (Hoffmann et al. 2022, table 3)"
EXERCISE_BUDGET = sp.Integer(12) * sp.Integer(10) ** 23  # C = 1.2e24 FLOPs, exactly


def chinchilla_frontier() -> Derivation:
    """``N = sqrt(C/(6 r))`` and ``D = sqrt(r C/6)`` from ``C = 6 N D`` and ``D = r N``.

    The budget equation becomes ``C = 6 r N^2`` (labelled ``budget``; its right side, the
    compute a model of ``N`` parameters costs, is ``C_of_N``, and its tokens ``D_of_N``), whose
    one positive root is ``N``. Substituting ``r = 20`` gives ``N = sqrt(C/120)`` and the exact
    numbers of exercise 1.5 (``N_ex``, ``D_ex``). The closed form is the column ``(N, D)``.
    Hoffmann et al. 2022, section 3 and table 3; seed 003, exercise 1.5 and its solution.
    """
    derivation = (
        Derivation(
            "The Chinchilla frontier",
            sp.Eq(C, 6 * N * D),
            start_note=r"training compute of $N$ parameters on $D$ tokens",
            assumptions=(r"$C = 6 N D$ (Kaplan et al. 2020, section 2.1)", TOKENS_PER_PARAM_RULE),
        )
        .then(
            substitute({D: r * N}, text=r"train on $r$ tokens per parameter: substitute $D = r N$"),
            sp.Eq(C, 6 * r * N**2),
            label="budget",
        )
        .then(
            solve_for(C, why=r"the compute a model of $N$ parameters costs"),
            6 * r * N**2,
            label="C_of_N",
        )
        .then(
            apply_map(lambda C: C / (6 * N), why="its training tokens"),
            r * N,
            label="D_of_N",
        )
        .then(
            solve_for(N, text=r"solve the budget equation for $N > 0$"),
            sp.sqrt(C / (6 * r)),
            on="budget",
            note=r"the one positive root",
            label="N",
        )
        .then(
            apply_map(lambda N: r * N, why="the data"),
            sp.sqrt(r * C / 6),
            label="D",
        )
        .then(
            elasticity(C),
            sp.Rational(1, 2),
            on="N",
            note=r"model and data each grow as $\sqrt{C}$",
        )
        .then(
            substitute({r: 20}, text=r"Chinchilla's $r = 20$"),
            sp.sqrt(C / 120),
            on="N",
            label="N_20",
        )
        .then(
            substitute({C: EXERCISE_BUDGET}, text=r"exercise 1.5: $C = 1.2 \times 10^{24}$ FLOPs"),
            sp.Integer(10) ** 11,
            note=r"$10^{11}$: 100 billion parameters",
            label="N_ex",
        )
        .then(
            substitute({r: 20, C: EXERCISE_BUDGET}, text=r"the same for $D$"),
            2 * sp.Integer(10) ** 12,
            on="D",
            note=r"$2 \times 10^{12}$: 2 trillion tokens",
            label="D_ex",
        )
    )
    return derivation.then(
        column("N", "D"),
        sp.Matrix([sp.sqrt(C / (6 * r)), sp.sqrt(r * C / 6)]),
        on="N",
    )
