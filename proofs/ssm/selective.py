"""Derivation for the selective-scan theorem (SymPy only).

* :func:`selective_kernel`: the selective SSM's recurrence with Mamba's discretisation
  (``exp(delta A)`` for the state, ``delta B`` for the input), unrolled for ``L = 3``: the
  output is a weighted sum of the inputs with weight ``C_t exp(A Lambda) delta_s B_s``,
  ``Lambda = delta_(s+1) + ... + delta_t`` (Gu and Dao 2023, Mamba, section 3 and Algorithm 2;
  seed 000, hours 9-10, "Modern SSMs (Mamba)").
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, differentiate, identity, substitute

MAMBA = "Gu and Dao 2023, Mamba: Linear-Time Sequence Modeling with Selective State Spaces"

A = sp.Symbol("A", negative=True)
D = sp.Symbol("D", real=True)
Lambda = sp.Symbol("Lambda", nonnegative=True)
delta = sp.Symbol("delta", positive=True)
B, C = sp.symbols("B C", real=True)
deltas = sp.symbols("delta_1:4", positive=True)
Bs = sp.symbols("B_1:4", real=True)
us = sp.symbols("u_1:4", real=True)
hs = sp.symbols("h_0:3", real=True)
C_3 = sp.Symbol("C_3", real=True)

MAMBA_DISCRETISATION = (
    r"Mamba's discretisation: $\bar A_t = \exp(\Delta_t A)$ (zero-order hold) and "
    r"$\bar B_t u_t = \Delta_t B_t u_t$ (Euler), per channel $d$ and state $n$ ($A = A_{dn} \le 0$)"
)
REAL_PARAMETERS = (
    r"$A$, $B$, $C$ real: \texttt{selective\_scan\_ref} also accepts complex $A$, $B$, $C$ (S4D's complex "
    r"diagonal; the output is then the real part), which \texttt{numerics.ssm.selective\_scan} rejects"
)
"""The one place where ``numerics.ssm.selective_scan`` is narrower than Mamba's reference."""


def _step(index: int, previous: sp.Expr) -> sp.Expr:
    """``h_t = exp(delta_t A) h_(t-1) + delta_t B_t u_t`` for ``t = index + 1``."""
    return sp.exp(deltas[index] * A) * previous + deltas[index] * Bs[index] * us[index]


def selective_kernel() -> Derivation:
    """Unrolled selective recurrence: ``y_t = sum_(s <= t) C_t exp(A Lambda_ts) delta_s B_s u_s + D u_t``.

    For ``L = 3`` (one channel, one state), the three steps are substituted into each other,
    the output ``y_3 = C_3 h_3 + D u_3`` is read out and differentiated by ``u_1``: the weight
    of ``u_1`` in ``y_3`` is ``C_3 exp(A (delta_2 + delta_3)) delta_1 B_1``. With the elapsed
    time ``Lambda = delta_2 + delta_3`` this is the kernel ``C_t exp(A Lambda) delta_s B_s``,
    the closed form (symbols ``A, Lambda, delta, B, C``). Proved for ``L = 3``; larger ``L``
    rests on the numerical check. Gu and Dao 2023, section 3.2 and Algorithm 2.
    """
    unrolled = sum(sp.exp(A * sum(deltas[s + 1 :])) * deltas[s] * Bs[s] * us[s] for s in range(3))
    return (
        Derivation(
            "The selective scan as a weighted sum of its inputs (L = 3)",
            _step(2, hs[2]),
            start_note=r"$h_3 = e^{\Delta_3 A} h_2 + \Delta_3 B_3 u_3$",
            assumptions=(MAMBA_DISCRETISATION, REAL_PARAMETERS),
        )
        .then(substitute({hs[2]: _step(1, hs[1])}, text=r"substitute the step for $h_2$"), _step(2, _step(1, hs[1])))
        .then(
            substitute({hs[1]: _step(0, hs[0])}, text=r"substitute the step for $h_1$"),
            _step(2, _step(1, _step(0, hs[0]))),
        )
        .then(substitute({hs[0]: 0}, text=r"start from $h_0 = 0$"), _step(2, _step(1, _step(0, 0))))
        .then(
            identity(r"$e^x e^y = e^{x+y}$"),
            unrolled,
            note=r"$h_3 = \sum_{s \le 3} e^{A(\Delta_{s+1} + \dots + \Delta_3)} \Delta_s B_s u_s$",
        )
        .then(
            apply_map(lambda h_3: C_3 * h_3 + D * us[2], why="read out the output"),
            C_3 * unrolled + D * us[2],
            label="y_3",
        )
        .then(
            differentiate(us[0], why="the weight of $u_1$ in $y_3$"),
            C_3 * sp.exp(A * (deltas[1] + deltas[2])) * deltas[0] * Bs[0],
        )
        .then(
            substitute({deltas[1]: Lambda - deltas[2]}, text=r"write the elapsed time $\Lambda = \Delta_2 + \Delta_3$"),
            C_3 * sp.exp(A * Lambda) * deltas[0] * Bs[0],
        )
        .then(
            substitute({C_3: C, deltas[0]: delta, Bs[0]: B}, text=r"name the output step $t$ and the input step $s$"),
            C * sp.exp(A * Lambda) * delta * B,
            note=(
                r"the kernel $K_{ts} = C_t\, e^{A \Lambda_{ts}}\, \Delta_s B_s$, "
                r"$\Lambda_{ts} = \Delta_{s+1} + \dots + \Delta_t$"
            ),
        )
    )
