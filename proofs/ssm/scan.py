"""Derivations for the scan theorems (SymPy only).

* :func:`affine_composition`: composing two steps ``h -> a h + b`` of the linear recurrence
  gives the operator ``(a1, b1) o (a2, b2) = (a2 a1, a2 b1 + b2)``, and it is associative, for
  matrix ``a`` of any size ``k`` (homogeneous coordinates turn each step into the block matrix
  ``[[a, b], [0, 1]]``; composition is their product). Blelloch 1990, "Prefix sums and their
  applications", section 1.4; Martin and Cundy 2018, "Parallelizing linear recurrent neural
  nets over sequence length"; seed 000, hours 9-10 ("Parallel Recurrence").
* :func:`scan_cost`: depth and work of the Hillis-Steele and Blelloch (Brent-Kung) scans and
  of the sequential recurrence for ``L = 2^m``, summed round by round; its lemmas
  :func:`hillis_steele_work_growth` and :func:`blelloch_work_growth` take the works' limits.

The selective scan's kernel is derived in :mod:`proofs.ssm.selective`.
"""

from __future__ import annotations

import sympy as sp
from proofs.derivation import Derivation, apply_map, block, evaluate, identity, limit, multiply_blocks

BLELLOCH = "Blelloch 1990, Prefix Sums and Their Applications (CMU-CS-90-190)"
HILLIS_STEELE = "Hillis and Steele 1986, Data Parallel Algorithms, CACM 29(12)"
SYLLABUS = "seed 000 (syllabus), hours 9-10"
"""The course's SSM hours; each theorem's source appends its section (``f"{SYLLABUS}: Parallel Recurrence"``)."""

# --- scan-associativity ---------------------------------------------------------------------

k = sp.Symbol("k", integer=True, positive=True)
M = sp.MatrixSymbol("M", k + 1, k + 1)
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
            multiply_blocks(),
            homogeneous(*then(e1, e2)),
            note=r"$(a_1, b_1) \circ (a_2, b_2) = (a_2 a_1,\ a_2 b_1 + b_2)$",
            label="composition",
        )
        .then(block(0, 0), a_2 * a_1, label="combine_a")
        .then(
            block(0, 1),
            a_2 * b_1 + b_2,
            on="composition",
            label="combine_b",
        )
        .then(
            apply_map(lambda M: homogeneous(a_3, b_3) * M, placeholder=M, why="append a third step $(a_3, b_3)$"),
            sp.MatMul(homogeneous(a_3, b_3), homogeneous(*then(e1, e2))),
            on="composition",
        )
        .then(
            multiply_blocks(),
            homogeneous(*then(then(e1, e2), e3)),
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


def _per_round() -> dict[str, sp.Expr]:
    """Rounds and pairs combined per round, summed over the rounds, for ``L = 2^m`` elements."""
    L = 2**m
    return {
        "depth_sequential": sp.Sum(1, (t, 1, L - 1)),
        "work_sequential": sp.Sum(1, (t, 1, L - 1)),
        "depth_hillis_steele": _rounds(1, m - 1),
        "work_hillis_steele": _rounds(L - 2**d, m - 1),
        "depth_blelloch": _rounds(1, m - 1) + _rounds(1, m - 2),
        "work_blelloch": _rounds(2 ** (m - d - 1), m - 1) + _rounds(2 ** (m - d - 1) - 1, m - 2),
    }


def hillis_steele_work_growth() -> Derivation:
    """Hillis-Steele's work over ``L log2 L`` tends to 1: ``Theta(L log L)``, not work-efficient."""
    L = 2**m
    return (
        Derivation("Hillis-Steele's work grows like L log L", _per_round()["work_hillis_steele"])
        .then(evaluate("evaluate the sum"), m * L - L + 1)
        .then(limit(m, sp.oo, scale=1 / (m * L)), 1, note=r"$\Theta(L \log L)$ work: not work-efficient")
    )


def blelloch_work_growth() -> Derivation:
    """Blelloch's work over ``L`` tends to 2: ``O(L)``, like the sequential recurrence."""
    L = 2**m
    return (
        Derivation("Blelloch's work grows like 2 L", _per_round()["work_blelloch"])
        .then(evaluate("evaluate the sums"), 2 * L - m - 2)
        .then(limit(m, sp.oo, scale=1 / L), 2, note=r"$O(L)$ work, like the sequential recurrence")
    )


def scan_cost() -> Derivation:
    """Depth (rounds) and work (pairs combined) of three scans of ``L = 2^m`` elements.

    Round by round: Hillis-Steele's round ``d = 0..m-1`` combines ``L - 2^d`` pairs;
    Blelloch's up-sweep round ``d = 0..m-1`` combines ``L / 2^(d+1)`` pairs and its down-sweep
    round ``d = m-2..0`` combines ``L / 2^(d+1) - 1``; the sequential recurrence has ``L - 1``
    rounds of one pair. Summed: depth ``m`` and work ``m 2^m - 2^m + 1`` (Hillis-Steele, not
    work-efficient), depth ``2m - 1`` and work ``2^(m+1) - m - 2 < 2L`` (Blelloch). The closed form
    is the column (sequential depth, sequential work, Hillis-Steele depth, Hillis-Steele work,
    Blelloch depth, Blelloch work), labelled ``counts``. Its lemmas: :func:`affine_composition`,
    what lets a scan regroup the recurrence at all, and the works' growth,
    :func:`hillis_steele_work_growth` and :func:`blelloch_work_growth`. Blelloch 1990, section 1.3;
    Hillis and Steele 1986.
    """
    L = 2**m
    counts = sp.Matrix([L - 1, L - 1, m, m * L - L + 1, 2 * m - 1, 2 * L - m - 2])
    return Derivation(
        "Depth and work of the sequential, Hillis-Steele and Blelloch scans",
        sp.Matrix(list(_per_round().values())),
        start_note=r"rounds and pairs per round, for $L = 2^m$ elements",
        lemmas=(affine_composition(), hillis_steele_work_growth(), blelloch_work_growth()),
    ).then(evaluate("evaluate the sums"), counts, label="counts")
