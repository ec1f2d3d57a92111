"""Why hard attention reads the tape: the lemmas of the Turing-machine construction (SymPy only).

In the decoder of numerics.attention.turing (after Pérez, Barceló, Marinković 2021, section 4),
position ``t`` queries ``q = W_Q y_t`` and position ``j`` offers the key ``k_j = W_K y_j``, on the
token coordinates ``(h, a, p, 1)``: the head's cell, the cell written at step ``j``, the
positional term ``p_j = 1/(2(j + 1))`` and the constant. :func:`most_recent_write` shows that
the score ``-|<q, k_j>|`` is maximal exactly at the most recent write to the head's cell (and
that every write elsewhere scores lower, so the maximum is unique); :func:`match_detector`
shows that the ReLU layer ``e(x) = relu(x + 1) - 2 relu(x) + relu(x - 1)`` tells a matching cell
(``x = 0``) from any other integer; :func:`one_hot_conjunction` shows that ``relu(u + v - 1)`` is
``u v`` on ``{0, 1}``, the AND by which the ReLU layers read the symbol and look up the transition.
The construction (checkers.attention.turing) reads its query and key maps, positional term,
detector and conjunction off these derivations, so the transformer that is checked is the one
the lemmas are about.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, column, custom, differentiate, substitute

PEREZ = "Perez, Barcelo, Marinkovic 2021, Attention is Turing Complete (JMLR 22), section 4"

h, a = sp.symbols("h a", integer=True)
j, j_other = sp.symbols("j j'", integer=True, nonnegative=True)
delta = sp.Symbol("delta", integer=True, nonzero=True)
k = sp.Symbol("k", integer=True, positive=True)
m = sp.Symbol("m", integer=True, nonnegative=True)
x = sp.Symbol("x", integer=True)
u, v = sp.symbols("u v", integer=True, nonnegative=True)
p = 1 / (2 * (j + 1))

W_Q = sp.ImmutableMatrix([[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]])
"""Query map on the coordinates ``(h, a, p, 1)``: ``(h, 1, 1)``."""
W_K = sp.ImmutableMatrix([[0, 0, 0, 1], [0, -1, 0, 0], [0, 0, 1, 0]])
"""Key map on the coordinates ``(h, a, p, 1)``: ``(1, -a, p)``."""

TOKEN_COORDINATES = (
    r"the query token has head cell $h$ (coordinates $(h, a, p, 1)$, its own $a$ and $p$ unused by $W_Q$); "
    r"the key token $j$ records a write to cell $a$ and carries $p_j = 1/(2(j+1))$; $h, a \in \mathbb{Z}$, $j \ge 0$"
)


def _phi(value: sp.Expr) -> sp.Expr:
    """Pérez et al.'s score function ``-|<q, k>|``."""
    return -sp.Abs(value)


def _excess_over_bound(argument: sp.Expr) -> sp.Expr:
    """``|argument| - (1 - p_j)``, the argument brought over one denominator so SymPy can read the sign of ``|.|``."""
    return sp.Abs(sp.cancel(argument)) - (1 - p)


NEGATIVE_PART = r"$\min(0, \cdot)$ is 0 exactly for a nonnegative argument"


def _negative_part(value: sp.Expr) -> sp.Expr:
    """``min(0, value)``: SymPy reduces it to 0 only when it can prove ``value >= 0`` from the symbols' assumptions."""
    return sp.Min(0, value)


def most_recent_write() -> Derivation:
    """The score ``-|<W_Q y_t, W_K y_j>|`` picks the most recent write to the head's cell, uniquely.

    ``<q, k_j> = h - a + 1/(2(j+1))``. A write to the head's cell (``a = h``) scores
    ``-1/(2(j+1))``, increasing in ``j``: the latest such write wins. A write ``delta != 0`` cells
    away has ``|delta + p_j| >= 1 - p_j`` (proved in two cases, ``delta = 1 + m`` and ``delta = -1 - m``
    with ``m >= 0``: the excess over the bound is ``m + 2 p_j``, resp. ``m``), so it scores at most
    ``1/(2(j+1)) - 1``, attained at ``delta = -1``; the margin to
    a matching write at ``j'`` is ``1 - 1/(2(j+1)) - 1/(2(j'+1))``, increasing in ``j`` and ``j'``
    and 0 only at ``j = j' = 0``, one token, which cannot hold both writes. So the maximum is
    strict (no tie ever averages two values) and it is the most recent write to ``h`` when there
    is one. Labelled: ``score_argument``, ``match_score``, ``offset_argument``, ``mismatch_score``,
    ``margin``.
    """
    query_token = sp.ImmutableMatrix([h, sp.Symbol("a_t", integer=True), sp.Symbol("p_t", positive=True), 1])
    key_token = sp.ImmutableMatrix([sp.Symbol("h_j", integer=True), a, p, 1])
    # Kept as the product of the four factors: the construction reads W_Q, W_K and p_j off this start.
    start = sp.MatMul(query_token.T, W_Q.T, W_K, key_token, evaluate=False)
    return (
        Derivation(
            "Hard attention selects the most recent write",
            start,
            start_note=r"$\langle W_Q y_t, W_K y_j \rangle$ with the construction's $W_Q$, $W_K$",
            assumptions=(TOKEN_COORDINATES,),
        )
        .then(
            custom("multiply out", lambda m: sp.expand(sp.ImmutableMatrix(m.as_explicit())[0, 0])),
            h - a + p,
            label="score_argument",
        )
        .then(substitute({a: h}, text=r"a write to the head's cell: $a = h$"), p)
        .then(
            apply_map(_phi, placeholder=sp.Dummy("z"), why=r"the score $\varphi(z) = -|z|$"),
            -p,
            label="match_score",
        )
        .then(
            differentiate(j),
            1 / (2 * (j + 1) ** 2),
            note=r"positive: among writes to the head's cell the most recent one scores highest",
        )
        .then(
            substitute({a: h - delta}, text=r"a write $\delta \ne 0$ cells away: $a = h - \delta$"),
            delta + p,
            on="score_argument",
            label="offset_argument",
        )
        .then(
            substitute({delta: 1 + m}, text=r"$\delta \ge 1$: $\delta = 1 + m$, $m \ge 0$"),
            1 + m + p,
        )
        .then(
            custom(r"$|\delta + p_j| - (1 - p_j)$", _excess_over_bound),
            m + 2 * p,
            note=r"a sum of nonnegative terms",
        )
        .then(
            apply_map(_negative_part, placeholder=sp.Dummy("z"), why=NEGATIVE_PART),
            0,
            note=r"so $|\delta + p_j| \ge 1 - p_j$ for every $\delta \ge 1$",
        )
        .then(
            substitute({delta: -1 - m}, text=r"$\delta \le -1$: $\delta = -1 - m$, $m \ge 0$"),
            p - 1 - m,
            on="offset_argument",
        )
        .then(
            custom(
                r"$|\delta + p_j| - (1 - p_j)$ (over the common denominator, whose numerator has one sign)",
                _excess_over_bound,
            ),
            m,
        )
        .then(
            apply_map(_negative_part, placeholder=sp.Dummy("z"), why=NEGATIVE_PART),
            0,
            note=r"so $|\delta + p_j| \ge 1 - p_j$ for every $\delta \le -1$ as well",
        )
        .then(
            substitute({delta: -1}, text=r"the bound is attained at $\delta = -1$"),
            p - 1,
            on="offset_argument",
        )
        .then(
            apply_map(_phi, placeholder=sp.Dummy("z"), why=r"the score $\varphi(z) = -|z|$"),
            p - 1,
            note=(
                r"by the two cases every write elsewhere scores at most $p_j - 1 \le -1/2$, "
                r"and $\delta = -1$ attains it"
            ),
            label="mismatch_score",
        )
        .then(
            apply_map(lambda s: -1 / (2 * (j_other + 1)) - s, why=r"subtract from a matching write's score at $j'$"),
            1 - p - 1 / (2 * (j_other + 1)),
            label="margin",
        )
        .then(differentiate(j), 1 / (2 * (j + 1) ** 2), note=r"increasing in $j$ (and likewise in $j'$)")
        .then(
            substitute({j: 0, j_other: 0}, text=r"the margin at its smallest point, $j = j' = 0$"),
            0,
            on="margin",
            note=r"0 only when both writes are token 0, impossible; so the maximum is strict",
        )
    )


def match_detector() -> Derivation:
    """``e(x) = relu(x + 1) - 2 relu(x) + relu(x - 1)`` is 1 at ``x = 0`` and 0 at every other integer."""
    e = sp.Max(0, x + 1) - 2 * sp.Max(0, x) + sp.Max(0, x - 1)
    return (
        Derivation(
            "A ReLU layer detects a matching cell",
            e,
            start_note=r"$e(x)$ at $x = h - a^*$, the head's cell minus the attended write's cell",
        )
        .then(substitute({x: 0}, text="the attended write is at the head's cell: $x = 0$"), 1)
        .then(substitute({x: k}, text="a write $k \\ge 1$ cells to the left: $x = k$"), 0, on="start")
        .then(substitute({x: -k}, text="a write $k \\ge 1$ cells to the right: $x = -k$"), 0, on="start")
    )


def one_hot_conjunction() -> Derivation:
    """``relu(u + v - 1) = u v`` for ``u, v`` in ``{0, 1}``: one ReLU unit is the AND of two bits.

    The read layer uses it with ``u = symbol*[s]``, ``v = e`` (the attended write's symbol, kept only
    when the write is at the head's cell); the transition layer with ``u = state[q]``, ``v = read[s]``
    (exactly one unit, the current ``(q, s)``, fires).
    """
    conjunction = sp.Max(0, u + v - 1)
    derivation = Derivation(
        "A ReLU unit is the AND of two bits",
        conjunction,
        start_note=r"$\mathrm{relu}(u + v - 1)$ for $u, v \in \{0, 1\}$",
    )
    for label, (first, second) in zip(("00", "01", "10", "11"), ((0, 0), (0, 1), (1, 0), (1, 1))):
        derivation = derivation.then(
            substitute({u: first, v: second}, text=f"$u = {first}$, $v = {second}$"), first * second, on="start", label=label
        )
    return derivation.then(
        column("00", "01", "10", "11", why=r"the four cases, which are $u v$ at $(u, v) = (0,0), (0,1), (1,0), (1,1)$"),
        sp.ImmutableMatrix([0, 0, 0, 1]),
        on="11",
    )
