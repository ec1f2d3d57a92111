"""Derivations for the two-layer induction construction (SymPy only; seed 003 exercise 1.8, task 2.2).

The construction (Elhage et al. 2021; Olsson et al. 2022) is written down in :func:`construction`
as block matrices on the residual stream ``[token | position | previous | output]`` (widths
``V, T, V, V``; ``d_model = 3V + T``), rows are positions. Its heads: layer 1 has a previous-token
head (query ``lambda e_(t-1)``, key ``e_s``, positions only) that copies the token it attends to
into the ``previous`` block, and a first-position head that writes nothing; layer 2 has the
induction head (query ``lambda e_(x_t)``, key the ``previous`` block, value the token, written to
the ``output`` block that the unembedding reads) and a duplicate-token head that writes nothing.

* :func:`layer_one_scores`: the two layer-1 heads' scores ``lambda P S P^T`` and ``lambda P J P^T``
  (``S`` the shift ``S_(t, t-1) = 1``, ``J`` the first column of ones; ``P`` the positional one-hots).
* :func:`softmax_row`: a softmax row with ``h`` scores ``lambda`` and ``n - h`` scores 0.
* :func:`k_composition` (exercise 1.8): head 2's scores ``(X + A_1 X W_OV^1) W_QK^2 (X + A_1 X W_OV^1)^T``
  split into the direct, K-, Q- and QK-composition terms; with the construction only the
  K-composition term survives, ``lambda E E^T A_1^T``: the query reads the current token, the key
  reads what the previous-token head wrote. The exercise's reading (the query reads head 1) gives
  ``lambda A_1 E E^T`` instead; the duplicate-token head gives ``lambda E E^T``.
* :func:`ov_copy`: the logits are ``A_2 E``: head 2 copies the token it attends to.
* :func:`margin`, :func:`right_token_bound`, :func:`position_one_scores`, :func:`current_token_bound`:
  the logit of the right token is at least ``1 - (T - 1) e^(-lambda g)``, ``g`` the least margin
  between the right key and any other; when the earlier occurrence is at position 1 (``j = 0``), the
  key there wins instead (the previous-token head had nothing to attend to but itself) and at least
  ``(1 - (T - 2) e^(-lambda g)) / 2`` goes to the current token.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp
from sympy import BlockMatrix, Identity, MatrixSymbol, ZeroMatrix

from proofs.derivation import (
    Derivation,
    DerivationError,
    apply_map,
    custom,
    evaluate,
    expand,
    given,
    rewrite,
    substitute,
)

ELHAGE = "Elhage et al. 2021, A Mathematical Framework for Transformer Circuits (section on two-layer models, K-composition)"
OLSSON = "Olsson et al. 2022, In-context Learning and Induction Heads (the mechanism; prefix-matching and copying)"
EXERCISE = "seed 003, exercise 1.8 (induction head circuit)"

V, T = sp.symbols("V T", integer=True, positive=True)
lam = sp.Symbol("lambda", positive=True)
E = MatrixSymbol("E", T, V)
P = MatrixSymbol("P", T, T)
S = MatrixSymbol("S", T, T)
J = MatrixSymbol("J", T, T)
A_1 = MatrixSymbol("A_1", T, T)
A_2 = MatrixSymbol("A_2", T, T)
d_model = 3 * V + T
X = MatrixSymbol("X", T, d_model)
W_OV = MatrixSymbol("W_OV", d_model, d_model)
W_QK = MatrixSymbol("W_QK", d_model, d_model)
W_U = MatrixSymbol("W_U", d_model, V)

ROWS = (
    r"rows are positions $0, \dots, T-1$; $E \in \{0,1\}^{T \times V}$ holds the one-hot tokens, "
    r"$P \in \{0,1\}^{T \times T}$ the one-hot positions ($P = I$); the residual stream "
    r"$X = [E \mid P \mid 0 \mid 0]$ has the blocks token, position, previous, output ($d_{\mathrm{model}} = 3V + T$); "
    r"scores are $q \cdot k$ (no $1/\sqrt{d_{\mathrm{head}}}$), causally masked, softmax row by row"
)


def _zero(rows, cols) -> ZeroMatrix:
    return ZeroMatrix(rows, cols)


def _column(*blocks) -> BlockMatrix:
    return BlockMatrix([[b] for b in blocks])


def construction() -> dict[str, BlockMatrix]:
    """The construction's weights as block matrices on ``[token | position | previous | output]``.

    Each head has its own ``d_head`` here (``T`` for the positional heads, ``V`` for the token
    heads); numerics pads them with zeros to ``max(V, T)``, which changes no product.
    """
    I_V, I_T = Identity(V), Identity(T)
    reads_tokens = _column(I_V, _zero(T, V), _zero(V, V), _zero(V, V))
    reads_positions = _column(_zero(V, T), I_T, _zero(V, T), _zero(V, T))
    return {
        "W_Q_previous": _column(_zero(V, T), lam * S, _zero(V, T), _zero(V, T)),
        "W_K_previous": reads_positions,
        "W_V_previous": reads_tokens,
        "W_O_previous": BlockMatrix([[_zero(V, V), _zero(V, T), I_V, _zero(V, V)]]),
        "W_Q_first": _column(_zero(V, T), lam * J, _zero(V, T), _zero(V, T)),
        "W_K_first": reads_positions,
        "W_Q_induction": _column(lam * I_V, _zero(T, V), _zero(V, V), _zero(V, V)),
        "W_K_induction": _column(_zero(V, V), _zero(T, V), I_V, _zero(V, V)),
        "W_V_induction": reads_tokens,
        "W_O_induction": BlockMatrix([[_zero(V, V), _zero(V, T), _zero(V, V), I_V]]),
        "W_Q_duplicate": _column(lam * I_V, _zero(T, V), _zero(V, V), _zero(V, V)),
        "W_K_duplicate": reads_tokens,
        "W_U": _column(_zero(V, V), _zero(T, V), _zero(V, V), I_V),
    }


def residual_stream() -> BlockMatrix:
    """``X = [E | P | 0 | 0]``: token and position embeddings, the two written blocks still empty."""
    return BlockMatrix([[E, P, _zero(T, V), _zero(T, V)]])


# --- layer 1: the previous-token head -----------------------------------------------------------


def layer_one_scores() -> Derivation:
    """The layer-1 heads' scores ``X W_Q (X W_K)^T``: ``lambda P S P^T`` (previous token), ``lambda P J P^T`` (first position).

    With ``P = I``: ``lambda S`` scores ``lambda`` at ``s = t - 1`` and 0 elsewhere; ``lambda J`` scores
    ``lambda`` at ``s = 0``. Positional embeddings alone: the token block is never read. Labelled:
    ``previous``, ``first``.
    """
    w = construction()
    placeholder = MatrixSymbol("X", T, d_model)
    X_block = residual_stream()

    def scores(query, key, head):
        why = f"the {head} head's scores, its blocks multiplied out"
        return apply_map(lambda x: x * query * (x * key).T, placeholder=placeholder, why=why)

    return (
        Derivation(
            "Layer 1: the previous-token head reads positions only",
            X_block,
            start_note=r"the residual stream $X = [E \mid P \mid 0 \mid 0]$ entering layer 1",
            assumptions=(ROWS,),
        )
        .then(
            scores(w["W_Q_previous"], w["W_K_previous"], "previous-token"),
            lam * P * S * P.T,
            label="previous",
            note=r"$q_t = \lambda\, e_{t-1}$, $k_s = e_s$",
        )
        .then(
            scores(w["W_Q_first"], w["W_K_first"], "first-position"),
            lam * P * J * P.T,
            on="start",
            label="first",
            note=r"every query is $\lambda\, e_0$",
        )
    )


# --- the softmax rows ---------------------------------------------------------------------------

h, n_keys = sp.symbols("h n", integer=True, positive=True)
r = sp.Symbol("r", integer=True, positive=True)
t = sp.Symbol("t", integer=True, positive=True)


def softmax_row() -> Derivation:
    """A softmax row with ``h`` scores ``lambda`` and ``n - h`` scores 0: ``e^lambda / (h e^lambda + n - h)`` on a hit.

    A miss gets ``1 / (h e^lambda + n - h)``. For the previous-token head at ``t >= 1`` (one hit
    among ``t + 1`` keys) that is ``e^lambda / (e^lambda + t)`` on ``t - 1`` and ``1 / (e^lambda + t)``
    elsewhere; at ``t = 0`` the only key is position 0 itself (weight 1). Labelled: ``hit``,
    ``miss``, ``previous_weight``, ``other_weight``.
    """
    hit = sp.exp(lam) / (sp.Sum(sp.exp(lam), (r, 1, h)) + sp.Sum(1, (r, 1, n_keys - h)))
    return (
        Derivation(
            "Softmax of a row of hits and misses",
            hit,
            start_note=r"the weight of a key scoring $\lambda$ when $h$ of the $n$ keys score $\lambda$ and the rest 0",
        )
        .then(evaluate(), sp.exp(lam) / (h * sp.exp(lam) + n_keys - h), label="hit")
        .then(
            apply_map(
                lambda w_hit: w_hit * sp.exp(-lam), why=r"a miss scores 0, so its weight is a hit's times $e^{-\lambda}$"
            ),
            1 / (h * sp.exp(lam) + n_keys - h),
            label="miss",
        )
        .then(
            substitute({h: 1, n_keys: t + 1}, why=r"the previous-token head at $t \ge 1$: one hit among $t + 1$ keys"),
            sp.exp(lam) / (sp.exp(lam) + t),
            on="hit",
            label="previous_weight",
        )
        .then(
            substitute({h: 1, n_keys: t + 1}, why="its other keys"),
            1 / (sp.exp(lam) + t),
            on="miss",
            label="other_weight",
        )
    )


# --- layer 2: K-composition (exercise 1.8) ------------------------------------------------------


def k_composition() -> Derivation:
    """Head 2's scores after a layer-1 head: four terms, of which the construction keeps the K-composition one.

    ``X_1 = X + A_1 X W_OV^1`` is the stream after layer 1 (the previous-token head; the first-position
    head writes nothing). ``X_1 W_QK^2 X_1^T`` expands into the direct term ``X W_QK X^T``, the
    K-composition term ``X W_QK W_OV^T X^T A_1^T`` (the key side reads head 1), the Q-composition term
    ``A_1 X W_OV W_QK X^T`` (the query side reads head 1) and the term with both. With the construction
    (``W_OV^1`` writes the token into the previous block, ``W_Q^2`` reads the token, ``W_K^2`` the
    previous block) only the K-composition term survives: ``lambda E E^T A_1^T``, entry ``(t, s)``
    ``= lambda sum_r [x_r = x_t] A_1(s, r)``, the weight the previous-token head at ``s`` puts on copies
    of the current token. The exercise's "query of head 2 attends to the output of head 1" (query reads
    the previous block, key the token) gives ``lambda A_1 E E^T`` instead: it attends to copies of the
    previous token. The duplicate-token head (key reads the token) gives ``lambda E E^T``. Labelled:
    ``four_terms``, ``q_composition_scores``, ``duplicate_scores``, ``induction_scores`` (the result). Its
    lemma is :func:`layer_one_scores` (``A_1`` is the softmax of its ``lambda P S P^T``).
    """
    w = construction()
    X_block = residual_stream()
    written = w["W_V_previous"] * w["W_O_previous"]
    start = (X + A_1 * X * W_OV) * W_QK * (X + A_1 * X * W_OV).T
    four_terms = (
        X * W_QK * X.T
        + X * W_QK * W_OV.T * X.T * A_1.T
        + A_1 * X * W_OV * W_QK * X.T
        + A_1 * X * W_OV * W_QK * W_OV.T * X.T * A_1.T
    )
    reads_previous = _column(_zero(V, V), _zero(T, V), lam * Identity(V), _zero(V, V))
    circuits = {
        "induction": w["W_Q_induction"] * w["W_K_induction"].T,
        "q_composition": reads_previous * w["W_V_previous"].T,
        "duplicate": w["W_Q_duplicate"] * w["W_K_duplicate"].T,
    }

    def construct(name):
        return {X: X_block, W_OV: written, W_QK: circuits[name]}

    text = {
        "induction": r"the construction: $W_{OV}^1$ writes the token into the previous block, $W_Q^2$ reads the token, "
        r"$W_K^2$ the previous block",
        "q_composition": r"the exercise read literally: $W_Q^2$ reads the previous block (head 1's output), $W_K^2$ the token",
        "duplicate": r"the duplicate-token head: $W_Q^2$ and $W_K^2$ both read the token",
    }
    derivation = Derivation(
        "Exercise 1.8: head 2's scores under K-composition",
        start,
        start_note=r"head 2's scores on the stream after layer 1, $X_1 = X + A_1 X W_{OV}^1$",
        assumptions=(ROWS,),
        lemmas=(layer_one_scores(),),
    ).then(expand(), four_terms, label="four_terms", note="direct, K-composition, Q-composition, both")
    results = {
        "induction": lam * E * E.T * A_1.T,
        "q_composition": lam * A_1 * E * E.T,
        "duplicate": lam * E * E.T,
    }
    notes = {
        "induction": r"only the K-composition term survives: the key at $s$ is what the previous-token head wrote there",
        "q_composition": r"only the Q-composition term survives: the query at $t$ is the previous token, so the head "
        r"attends to earlier copies of the previous token, not to the token after the current one",
        "duplicate": "only the direct term survives: copies of the current token",
    }
    for name in ("q_composition", "duplicate", "induction"):
        derivation = derivation.then(
            substitute(construct(name), text=text[name] + ", and multiply the blocks"),
            results[name],
            on="four_terms",
            label=f"{name}_scores",
            note=notes[name],
        )
    return derivation


def ov_copy() -> Derivation:
    """The logits ``(X_1 + A_2 X_1 W_V^2 W_O^2) W_U = A_2 E``: the induction head copies the attended token.

    ``X_1 = [E | P | A_1 E | 0]`` (the previous block holds what head 1 copied); the unembedding reads
    the output block only, so the direct path and layer 1 add nothing to the logits. Labelled: ``logits``.
    """
    w = construction()
    X_1 = BlockMatrix([[E, P, A_1 * E, _zero(T, V)]])
    placeholder = MatrixSymbol("X_1", T, d_model)
    return (
        Derivation(
            "The induction head copies the token it attends to",
            (placeholder + A_2 * placeholder * W_OV) * W_U,
            start_note=r"the logits of the stream after layer 2, $X_2 = X_1 + A_2 X_1 W_{OV}^2$",
            assumptions=(ROWS,),
        )
        .then(
            substitute(
                {placeholder: X_1, W_OV: w["W_V_induction"] * w["W_O_induction"], W_U: w["W_U"]},
                text=r"the construction, with $X_1 = [E \mid P \mid A_1 E \mid 0]$ after layer 1, and multiply the blocks",
            ),
            A_2 * E,
            label="logits",
            note=r"logit of token $v$ at $t$: $\sum_s A_2(t, s)\, [x_s = v]$",
        )
    )


# --- the bounds ---------------------------------------------------------------------------------

m, s = sp.symbols("m s", integer=True, positive=True)
K = sp.Symbol("K", integer=True, positive=True)
"""The last position, ``T - 1`` (kept as a symbol until the end: SymPy sees ``e^lambda + K > 0``, not ``e^lambda + T - 1 > 0``)."""
pi_m, pi_s, pi_0, pi_1 = sp.symbols("pi_m pi_s pi_0 pi_1", nonnegative=True)
delta = sp.Symbol("delta", real=True)
z = sp.Symbol("z", nonnegative=True)
ell, ell_current = sp.symbols("ell ell_c", nonnegative=True)
a_0, a_1 = sp.symbols("a_0 a_1", positive=True)


def _at_bound(variable: sp.Symbol, bound, increasing: bool) -> Callable[[sp.Basic], sp.Basic]:
    """Put ``variable = bound`` in an expression monotone in it, after SymPy shows the sign of the slope.

    Used for a lower bound: an expression non-decreasing in ``variable`` (slope ``>= 0`` from the
    symbols' assumptions) with ``variable >= bound``, or non-increasing in it with ``variable <= bound``,
    is at least its value at ``bound``.
    """

    def at_bound(expression: sp.Basic) -> sp.Basic:
        slope = sp.diff(expression, variable)
        shown = slope.is_nonnegative if increasing else slope.is_nonpositive
        if shown is not True:
            raise DerivationError(f"the slope {slope} in {variable} is not shown {'>= 0' if increasing else '<= 0'}")
        return expression.subs(variable, bound)

    return at_bound


def _monotone(variable, bound, increasing: bool, why: str, source: str = ""):
    direction = "does not decrease" if increasing else "does not increase"
    relation = r"\ge" if increasing else r"\le"
    text = (
        f"the expression {direction} in ${sp.latex(variable)}$ (slope sign shown) and "
        f"${sp.latex(variable)} {relation} {sp.latex(bound)}$ ({why}): put ${sp.latex(variable)} = {sp.latex(bound)}$"
    )
    return custom(text, _at_bound(variable, bound, increasing), source)


PATTERN_SUPPORT = (
    r"the current token $x_t$ occurs at $j$ and at $t$ only, $m = j + 1 \le t \le K = T - 1$: the previous-token head at $m$ "
    r"puts $e^\lambda / (e^\lambda + m)$ on $j$ (softmax row), and at any other $s \ge 1$ it puts $1/(e^\lambda + s)$ "
    r"on each of at most two copies of $x_t$ (neither is $s - 1$); at $s = 0$ it sees only $x_0 \ne x_t$ (when $j \ge 1$)"
)


def margin() -> Derivation:
    """The least margin ``pi_m - pi_s`` of the right key over any other is at least ``g = e^lambda/(e^lambda + K) - 2/(e^lambda + 1)``.

    ``K = T - 1`` is the last position.

    ``pi_s = (A_1 E)_(s, x_t)`` is what the previous-token head at ``s`` put on copies of the current
    token (the induction head's score at ``s`` over ``lambda``, :func:`k_composition`). Labelled: ``margin``.
    """
    return (
        Derivation(
            "The right key's margin",
            pi_m - pi_s,
            start_note=r"$\pi_m - \pi_s$: the right key $m = j + 1$ against any other key $s \ge 1$",
        )
        .then(
            given(r"$\pi_m \ge e^\lambda/(e^\lambda + m)$ and $\pi_s \le 2/(e^\lambda + s)$", PATTERN_SUPPORT),
            sp.exp(lam) / (sp.exp(lam) + m) - 2 / (sp.exp(lam) + s),
            relation=">=",
        )
        .then(
            _monotone(s, 1, True, "a key at $s = 0$ scores 0"),
            sp.exp(lam) / (sp.exp(lam) + m) - 2 / (sp.exp(lam) + 1),
            relation=">=",
        )
        .then(
            _monotone(m, K, False, "$m \\le t \\le K$, the last position $K = T - 1$"),
            sp.exp(lam) / (sp.exp(lam) + K) - 2 / (sp.exp(lam) + 1),
            relation=">=",
            label="margin",
        )
    )


SOFTMAX_AT_THE_RIGHT_KEY = (
    r"the logits are $A_2 E$ (the OV lemma), position $m = j + 1$ holds $x_{j+1}$, so $\ell \ge A_2(t, m)$; and "
    r"$A_2(t, m) = 1/(1 + z)$ with $z = \sum_{s \ne m} e^{\lambda (\pi_s - \pi_m)}$ (the scores are $\lambda \pi_s$, "
    r"the K-composition lemma)"
)
TERMS_OF_Z = r"$z$ has $t$ terms (keys $0, \dots, t$ other than $m$), each $e^{-\lambda (\pi_m - \pi_s)} \le e^{-\lambda \delta}$"


def right_token_bound() -> Derivation:
    """The logit of the right token ``x_(j+1)`` is at least ``1 - (T - 1) e^(-lambda g)`` when ``x_t`` occurred once before, at ``j >= 1``.

    ``delta`` is the least margin ``pi_m - pi_s`` (:func:`margin`: ``delta >= g``). The result is the
    claim of ``induction-two-layers`` (its first entry).
    """
    g = margin().result
    return (
        Derivation(
            "The induction construction predicts the token after the previous occurrence",
            ell,
            start_note=r"$\ell$: the logit of $x_{j+1}$ at $t$, where $x_t$ occurred once before, at $j \ge 1$",
            assumptions=(ROWS,),
            lemmas=(softmax_row(), k_composition(), ov_copy(), margin(), current_token_bound()),
        )
        .then(given(r"$\ell \ge A_2(t, m) = 1/(1 + z)$", SOFTMAX_AT_THE_RIGHT_KEY), 1 / (1 + z), relation=">=")
        .then(rewrite(r"$1/(1 + z) - (1 - z) = z^2/(1 + z) \ge 0$"), 1 - z, relation=">=")
        .then(given(r"$z \le t\, e^{-\lambda \delta}$", TERMS_OF_Z), 1 - t * sp.exp(-lam * delta), relation=">=")
        .then(
            _monotone(delta, g, True, "the margin lemma", "the lemma 'The right key's margin', checked"),
            1 - t * sp.exp(-lam * g),
            relation=">=",
        )
        .then(_monotone(t, K, False, "$t \\le K$"), 1 - K * sp.exp(-lam * g), relation=">=")
        .then(substitute({K: T - 1}, why="the last position"), 1 - (T - 1) * sp.exp(-lam * g.subs(K, T - 1)), label="bound")
    )


def position_one_scores() -> Derivation:
    """When ``x_t``'s only earlier occurrence is at position 0 (the course's position 1), key 0 beats key 1 by ``lambda/(e^lambda + 1)``.

    The previous-token head at position 0 has no previous token: it attends to itself (weight 1), so
    ``pi_0 = 1``; at position 1 it puts ``e^lambda/(e^lambda + 1)`` on position 0. So the induction head
    scores ``lambda pi_0 > lambda pi_1``: it attends to position 0 (holding the current token) at least
    as much as to position 1 (holding the right one). Labelled: ``score_gap``.
    """
    return (
        Derivation(
            "At position 1 there is no previous token",
            lam * (pi_0 - pi_1),
            start_note=r"head 2's score at key 0 minus its score at key 1, when $x_t$ occurred only at position 0",
        )
        .then(
            substitute(
                {pi_0: 1, pi_1: sp.exp(lam) / (sp.exp(lam) + 1)},
                why=r"$A_1(0, 0) = 1$, $A_1(1, 0) = e^\lambda/(e^\lambda + 1)$",
            ),
            lam * (1 - sp.exp(lam) / (sp.exp(lam) + 1)),
        )
        .then(rewrite(), lam / (sp.exp(lam) + 1), label="score_gap")
        .then(rewrite("positive"), 0, relation=">")
    )


SPLIT_AT_POSITION_ONE = (
    r"$j = 0$ and $x_1 \ne x_0 = x_t$: position 0 holds the current token, so $\ell_c \ge a_0 = A_2(t, 0)$; "
    r"$a_0 \ge a_1 = A_2(t, 1)$ (the position-one lemma), so $a_0 \ge (a_0 + a_1)/2$"
)
REST_AT_POSITION_ONE = (
    r"$a_0 + a_1 = 1 - \sum_{s \ge 2} A_2(t, s)$ and $A_2(t, s) \le e^{-\lambda (\pi_1 - \pi_s)}$: $t - 1$ keys, each at "
    r"margin $\pi_1 - \pi_s \ge \delta$ (the margin lemma with $m = 1$)"
)


def current_token_bound() -> Derivation:
    """When the earlier occurrence is at position 0, at least ``(1 - (T - 2) e^(-lambda g))/2`` of the logits goes to the current token.

    The right token ``x_1`` then gets at most about half: the circuit fails there. The result is the
    second entry of the claim of ``induction-two-layers``.
    """
    g = margin().result
    return (
        Derivation(
            "At position 1 the construction copies the current token",
            ell_current,
            start_note=r"$\ell_c$: the logit of the current token $x_t = x_0$ at $t$, whose only earlier occurrence is position 0",
            lemmas=(position_one_scores(),),
        )
        .then(given(r"$\ell_c \ge (a_0 + a_1)/2$", SPLIT_AT_POSITION_ONE), (a_0 + a_1) / 2, relation=">=")
        .then(
            given(r"$a_0 + a_1 \ge 1 - (t - 1) e^{-\lambda \delta}$", REST_AT_POSITION_ONE),
            (1 - (t - 1) * sp.exp(-lam * delta)) / 2,
            relation=">=",
        )
        .then(
            _monotone(delta, g, True, "the margin lemma", "the lemma 'The right key's margin', checked"),
            (1 - (t - 1) * sp.exp(-lam * g)) / 2,
            relation=">=",
        )
        .then(_monotone(t, K, False, "$t \\le K$"), (1 - (K - 1) * sp.exp(-lam * g)) / 2, relation=">=")
        .then(
            substitute({K: T - 1}, why="the last position"),
            (1 - (T - 2) * sp.exp(-lam * g.subs(K, T - 1))) / 2,
            label="bound",
        )
    )
