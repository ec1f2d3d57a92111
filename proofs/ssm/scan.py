"""Derivations for the scan theorems (SymPy only).

* :func:`affine_composition`: composing two steps ``h -> a h + b`` of the linear recurrence
  gives the operator ``(a1, b1) o (a2, b2) = (a2 a1, a2 b1 + b2)``, and it is associative, for
  matrix ``a`` of any size ``k`` (homogeneous coordinates turn each step into the block matrix
  ``[[a, b], [0, 1]]``; composition is their product). Blelloch 1990, "Prefix sums and their
  applications", section 1.4; Martin and Cundy 2018, "Parallelizing linear recurrent neural
  nets over sequence length"; seed 000, hours 9-10 ("Parallel Recurrence").
* :func:`scan_cost`: depth and work of the Hillis-Steele and Blelloch (Brent-Kung) scans and
  of the sequential recurrence for ``L = 2^m``, summed round by round.
* :func:`selective_kernel`: the selective SSM's recurrence with Mamba's discretisation
  (``exp(delta A)`` for the state, ``delta B`` for the input), unrolled for ``L = 3``: the
  output is a weighted sum of the inputs with weight ``C_t exp(A Lambda) delta_s B_s``,
  ``Lambda = delta_(s+1) + ... + delta_t`` (Gu and Dao 2023, Mamba, section 3 and Algorithm 2).
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.blockmatrix import block_collapse

from proofs.derivation import Derivation, apply, identity, rewrite, substitute

MAMBA = "Gu and Dao 2023, Mamba: Linear-Time Sequence Modeling with Selective State Spaces"
BLELLOCH = "Blelloch 1990, Prefix Sums and Their Applications (CMU-CS-90-190)"
HILLIS_STEELE = "Hillis and Steele 1986, Data Parallel Algorithms, CACM 29(12)"
SYLLABUS = "seed 000 (syllabus), hours 9-10: Parallel Recurrence"

# --- scan-associativity ---------------------------------------------------------------------

k = sp.Symbol("k", integer=True, positive=True)
a_1, a_2, a_3 = (sp.MatrixSymbol(f"a_{i}", k, k) for i in (1, 2, 3))
b_1, b_2, b_3 = (sp.MatrixSymbol(f"b_{i}", k, 1) for i in (1, 2, 3))
m = sp.Symbol("m", integer=True, positive=True)
d = sp.Symbol("d", integer=True, nonnegative=True)
t = sp.Symbol("t", integer=True, positive=True)


def homogeneous(a, b) -> sp.BlockMatrix:
    """The step ``h -> a h + b`` as the block matrix ``[[a, b], [0, 1]]`` acting on ``(h, 1)``."""
    return sp.BlockMatrix([[a, b], [sp.ZeroMatrix(1, k), sp.Identity(1)]])


def then(first, second):
    """``first o second``: the pair for "apply ``first``, then ``second``" (the derived operator, written out)."""
    (a1, b1), (a2, b2) = first, second
    return a2 * a1, a2 * b1 + b2


def affine_composition() -> Derivation:
    """``h -> a1 h + b1`` then ``h -> a2 h + b2`` is ``h -> (a2 a1) h + (a2 b1 + b2)``; the operator is associative.

    Labelled results ``combine_a = a2 a1`` and ``combine_b = a2 b1 + b2`` (matrix symbols of
    symbolic size ``k``). Associativity: appending a third step to the composition of the
    first two gives the same block matrix as composing the first with the composition of the
    last two. Blelloch 1990, section 1.4; Martin and Cundy 2018, section 2.
    """
    e1, e2, e3 = (a_1, b_1), (a_2, b_2), (a_3, b_3)
    return (
        Derivation(
            "The operator of the linear recurrence and its associativity",
            sp.MatMul(homogeneous(a_2, b_2), homogeneous(a_1, b_1)),
            start_note=r"two steps $h \mapsto a h + b$ in homogeneous coordinates, the first on the right",
        )
        .then(
            apply("multiply the block matrices", block_collapse),
            homogeneous(*then(e1, e2)),
            note=r"$(a_1, b_1) \circ (a_2, b_2) = (a_2 a_1,\ a_2 b_1 + b_2)$",
            label="composition",
        )
        .then(apply("read off the top-left block", lambda e: e.blocks[0, 0]), a_2 * a_1, label="combine_a")
        .then(
            apply("read off the top-right block", lambda e: e.blocks[0, 1]),
            a_2 * b_1 + b_2,
            on="composition",
            label="combine_b",
        )
        .then(
            apply(
                r"append a third step $(a_3, b_3)$: multiply by its block matrix on the left",
                lambda e: block_collapse(homogeneous(a_3, b_3) * e),
            ),
            homogeneous(*then(then(e1, e2), e3)),
            on="composition",
            note=r"$((a_1, b_1) \circ (a_2, b_2)) \circ (a_3, b_3)$",
        )
        .then(
            identity("distributivity of the matrix product"),
            homogeneous(*then(e1, then(e2, e3))),
            note=r"this is $(a_1, b_1) \circ ((a_2, b_2) \circ (a_3, b_3))$: the operator is associative",
        )
    )


def _rounds(pairs: sp.Expr, last: sp.Expr) -> sp.Sum:
    return sp.Sum(pairs, (d, 0, last))


def scan_cost() -> Derivation:
    """Depth (rounds) and work (pairs combined) of three scans of ``L = 2^m`` elements.

    Round by round: Hillis-Steele's round ``d = 0..m-1`` combines ``L - 2^d`` pairs;
    Blelloch's up-sweep round ``d = 0..m-1`` combines ``L / 2^(d+1)`` pairs and its down-sweep
    round ``d = m-2..0`` combines ``L / 2^(d+1) - 1``; the sequential recurrence has ``L - 1``
    rounds of one pair. Summed: depth ``m`` and work ``m 2^m - 2^m + 1`` (Hillis-Steele, not
    work-efficient), depth ``2m - 1`` and work ``2^(m+1) - m - 2 < 2L`` (Blelloch). The lemma
    :func:`affine_composition` is what lets a scan regroup the recurrence at all. The result is
    the column (sequential depth, sequential work, Hillis-Steele depth, Hillis-Steele work,
    Blelloch depth, Blelloch work). Blelloch 1990, section 1.3; Hillis and Steele 1986.
    """
    L = 2**m
    per_round = sp.Matrix(
        [
            sp.Sum(1, (t, 1, L - 1)),
            sp.Sum(1, (t, 1, L - 1)),
            _rounds(1, m - 1),
            _rounds(L - 2**d, m - 1),
            _rounds(1, m - 1) + _rounds(1, m - 2),
            _rounds(2 ** (m - d - 1), m - 1) + _rounds(2 ** (m - d - 1) - 1, m - 2),
        ]
    )
    counts = sp.Matrix([L - 1, L - 1, m, m * L - L + 1, 2 * m - 1, 2 * L - m - 2])
    return (
        Derivation(
            "Depth and work of the sequential, Hillis-Steele and Blelloch scans",
            per_round,
            start_note=r"rounds and pairs per round, for $L = 2^m$ elements",
            lemmas=(affine_composition(),),
        )
        .then(apply("evaluate the sums", lambda e: e.doit()), counts, label="counts")
        .then(
            apply(
                r"Hillis-Steele's work over $L \log_2 L$ as $m \to \infty$",
                lambda e: sp.limit(e[3] / (m * L), m, sp.oo),
            ),
            1,
            note=r"$\Theta(L \log L)$ work: not work-efficient",
        )
        .then(
            apply(r"Blelloch's work over $L$ as $m \to \infty$", lambda e: sp.limit(e[5] / L, m, sp.oo)),
            2,
            on="counts",
            note=r"$O(L)$ work, like the sequential recurrence, in depth $2 \log_2 L - 1$",
        )
        .then(rewrite("collect the counts"), counts, on="counts")
    )


# --- selective-scan -------------------------------------------------------------------------

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
            assumptions=(MAMBA_DISCRETISATION,),
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
            apply(r"read out $y_3 = C_3 h_3 + D u_3$", lambda h: C_3 * h + D * us[2]),
            C_3 * unrolled + D * us[2],
            label="y_3",
        )
        .then(
            apply(r"the weight of $u_1$ in $y_3$: differentiate by $u_1$", lambda y: sp.diff(y, us[0])),
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
