"""What one attention layer cannot do: a finite certificate against induction with one head (SymPy only).

The model class: one attention layer with ``H`` heads of any width ``d_model`` and head size
``d_head``, token and positional embeddings added, causal softmax attention, a residual connection
and a linear readout (unembedding, optional bias) at the last position; no MLP, no layer norm.
With one head, the query is fixed by the last token and position, and every key's score
``s_j`` and value readout ``w_j = u . (x_j W_V W_O)`` (``u`` the difference of two unembedding
columns) depend only on the pair ``(j, x_j)``. So the logit gap ``G = c + sum_j e^(s_j) w_j / D``,
``D = sum_j e^(s_j)``, satisfies ``D G = sum_j phi(j, x_j)``: additive over (position, token) pairs.

* :data:`CERTIFICATE`: four prompts ending in ``A`` whose targets are ``B, B, C, C`` (by the
  previous-occurrence rule) and whose (position, token) pairs, taken with multiplicity, are the same
  for the first two as for the last two.
* :func:`additive_gap`: ``D G = sum_j e^(s_j) (c + w_j)`` for one head.
* :func:`certificate`: on the four prompts, ``(D_1 G_1 + D_2 G_2 - D_3 G_3 - D_4 G_4) / sum_i D_i = 0``
  for every single-head model: with ``D_i > 0`` the gaps cannot have the signs ``+, +, -, -``, so at
  most three of the four prompts are predicted right, whatever the width.
* :func:`two_heads`: with two heads ``D_1 D_2 G = c D_1 D_2 + N_1 D_2 + N_2 D_1`` has cross terms over
  pairs of positions (not additive), and :func:`two_head_model` is a two-head model, exact in
  rationals, that gets all four prompts right.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, cancel, expand, substitute

ELHAGE = "Elhage et al. 2021, A Mathematical Framework for Transformer Circuits (one-layer attention-only models)"
SANFORD_2023 = "Sanford, Hsu, Telgarsky 2023, Representational Strengths and Limitations of Transformers (NeurIPS)"
SANFORD_2024 = "Sanford, Hsu, Telgarsky 2024, One-layer transformers fail to solve the induction heads task (arXiv:2408.14332)"

TOKENS = ("A", "B", "C")
CERTIFICATE = ("ABBCA", "CCABA", "CBACA", "ACBBA")
"""The prompts; targets by the previous-occurrence rule: B (A at 0, then B), B (A at 2, then B), C, C."""
SIGNS = (1, 1, -1, -1)
"""``+1`` where the target is ``B``, ``-1`` where it is ``C``: the sign the gap ``logit_B - logit_C`` needs."""
POSITIONS = len(CERTIFICATE[0])

c = sp.Symbol("c", real=True)
D_SUM = sp.Symbol(r"D_\Sigma", positive=True)
"""``sum_i D_i`` over the certificate's prompts: a positive number the signed sum is divided by (it only scales it)."""
ONE_HEAD = (
    r"one head: the query is that of the last position (token $A$, position 4), so key $j$'s score $s_{j, x_j}$ and "
    r"value readout $w_{j, x_j} = u \cdot (x_j W_V W_O)$ ($x_j$ = token plus positional embedding, $u$ = the "
    r"difference of the unembedding columns of $B$ and $C$) depend only on the pair $(j, x_j)$; $c$ = $u$ applied "
    r"to the last position's residual (and the readout bias), the same for every prompt"
)


def score(j: int, token: str, head: int = 0) -> sp.Symbol:
    """``s_(j, token)``: a key's attention score at the last position (``head`` numbers the heads when there are two)."""
    return sp.Symbol(f"s{'' if head == 0 else head}_{j}{token}", real=True)


def readout(j: int, token: str, head: int = 0) -> sp.Symbol:
    """``w_(j, token)``: the logit gap a key's value contributes (times its attention weight)."""
    return sp.Symbol(f"w{'' if head == 0 else head}_{j}{token}", real=True)


def normaliser(prompt: str, head: int = 0) -> sp.Expr:
    """``D = sum_j e^(s_j)``, the softmax's denominator at the last position."""
    return sp.Add(*(sp.exp(score(j, x, head)) for j, x in enumerate(prompt)))


def weighted_readout(prompt: str, head: int = 0) -> sp.Expr:
    """``N = sum_j e^(s_j) w_j``."""
    return sp.Add(*(sp.exp(score(j, x, head)) * readout(j, x, head) for j, x in enumerate(prompt)))


def logit_gap(prompt: str, heads: int = 1) -> sp.Expr:
    """``G = logit_B - logit_C`` at the last position: ``c + sum_h N_h / D_h``."""
    return c + sp.Add(*(weighted_readout(prompt, h) / normaliser(prompt, h) for h in range(heads)))


def additive_gap() -> Derivation:
    """``D G = sum_j e^(s_j) (c + w_j)``: one head's logit gap, times its normaliser, is a sum over positions.

    Shown on a generic prompt of five positions, tokens ``x_0 .. x_4`` written as ``A`` at every
    position (the symbols ``s_(j, x_j)``, ``w_(j, x_j)`` stand for any token). Labelled: ``additive``.
    """
    prompt = "A" * POSITIONS
    return Derivation(
        "One head's logit gap is additive over (position, token) pairs",
        normaliser(prompt) * logit_gap(prompt),
        start_note=r"$D\, G$ at the last position of a prompt of five tokens",
        assumptions=(ONE_HEAD,),
    ).then(
        expand(),
        sp.Add(*(sp.exp(score(j, "A")) * (c + readout(j, "A")) for j in range(POSITIONS))).expand(),
        label="additive",
        note=r"one term $e^{s_{j, x_j}} (c + w_{j, x_j})$ per position: only the pair $(j, x_j)$ enters it",
    )


def certificate() -> Derivation:
    """On the four prompts ``(D_1 G_1 + D_2 G_2 - D_3 G_3 - D_4 G_4) / sum_i D_i = 0`` for every single-head model.

    The (position, token) pairs of ``ABBCA`` and ``CCABA`` are those of ``CBACA`` and ``ACBBA``, so the
    additive sums cancel term by term. As ``D_i > 0``, ``G_1, G_2 > 0`` and ``G_3, G_4 < 0`` would make the
    left side positive: no single-head one-layer model predicts all four targets (B, B, C, C). The
    start (the four gaps) and the result (0) are the claim's first five entries. Labelled: ``additive`` (the
    four ``D_i G_i``, each a sum over its prompt's pairs). Lemmas: :func:`additive_gap`, :func:`two_heads`, :func:`two_head_model`.
    """
    signs = sp.ImmutableMatrix([SIGNS])
    normalisers = [normaliser(p) for p in CERTIFICATE]
    count = len(CERTIFICATE)
    additive = [sp.expand(c * normaliser(p) + weighted_readout(p)) for p in CERTIFICATE]
    return (
        Derivation(
            "A certificate that one head cannot do induction",
            sp.ImmutableMatrix([logit_gap(p) for p in CERTIFICATE]),
            start_note=r"the logit gaps $G_i = c + N_i/D_i$ on ABBCA, CCABA (target B) and CBACA, ACBBA (target C)",
            assumptions=(ONE_HEAD,),
            lemmas=(additive_gap(), two_heads(), two_head_model()),
        )
        .then(
            apply_map(
                lambda v: sp.ImmutableMatrix([D * v[i, 0] for i, D in enumerate(normalisers)]),
                placeholder=sp.MatrixSymbol("G", count, 1),
                why="weight each gap by its normaliser $D_i > 0$ (the sign is kept)",
            ),
            sp.ImmutableMatrix([D * logit_gap(p) for D, p in zip(normalisers, CERTIFICATE)]),
        )
        .then(
            cancel(why="the normaliser cancels in each (the additive lemma)"),
            sp.ImmutableMatrix(additive),
            label="additive",
        )
        .then(
            apply_map(
                lambda v: (signs * v)[0, 0] / D_SUM,
                placeholder=sp.MatrixSymbol("v", count, 1),
                why=r"the signed sum, $\epsilon_i = (+1, +1, -1, -1)$, over $D_\Sigma = \sum_i D_i > 0$",
            ),
            0,
            note="the (position, token) pairs of the first two prompts are those of the last two: every term cancels",
        )
    )


N_1, N_2, D_1, D_2 = sp.symbols("N_1 N_2 D_1 D_2", positive=True)


def two_heads() -> Derivation:
    """With two heads ``D_1 D_2 G = c D_1 D_2 + N_1 D_2 + N_2 D_1``: products of sums over two positions.

    ``N_1 D_2`` contains ``e^(s_j + s2_k) w_j`` for every pair of positions ``(j, k)``: the gap is no
    longer a sign-preserving multiple of a sum over single (position, token) pairs, and the
    certificate's cancellation fails. Labelled: ``cross_terms``.
    """
    return Derivation(
        "Two heads are not additive",
        D_1 * D_2 * (c + N_1 / D_1 + N_2 / D_2),
        start_note=r"$D_1 D_2\, G$ with two heads, $G = c + N_1/D_1 + N_2/D_2$",
    ).then(expand(), c * D_1 * D_2 + N_1 * D_2 + N_2 * D_1, label="cross_terms")


HUNDRED = sp.Integer(100)
"""The two-head model's scores are ``k ln 100``, so every ``e^s`` is a power of 100 and the check is exact."""


def _two_head_tables() -> dict[sp.Symbol, sp.Basic]:
    """The two-head model: head 1 reads position 1 unless position 2 holds A; head 2 position 3 unless position 0 does.

    Scores ``alpha(x) + beta(j)``: ``alpha(A) = 2 ln 100``, ``alpha(B) = alpha(C) = 0``; head 1 has
    ``beta = (-4, 0, -1, -4, -4) ln 100``, head 2 ``(-1, -4, -4, 0, -4) ln 100``. Readouts
    ``w = +1`` for ``B``, ``-1`` for ``C``, ``0`` for ``A``, in both heads; ``c = 0``.
    """
    alpha = {"A": 2, "B": 0, "C": 0}
    beta = {1: (-4, 0, -1, -4, -4), 2: (-1, -4, -4, 0, -4)}
    value = {"A": 0, "B": 1, "C": -1}
    tables = {c: sp.Integer(0)}
    for head, offsets in beta.items():
        index = head - 1
        for j in range(POSITIONS):
            for token in TOKENS:
                tables[score(j, token, index)] = (alpha[token] + offsets[j]) * sp.log(HUNDRED)
                tables[readout(j, token, index)] = sp.Integer(value[token])
    return tables


def two_head_model() -> Derivation:
    """A two-head model (exact rationals) gets all four certificate prompts right: gaps ``+, +, -, -``.

    Labelled: ``gaps`` (the four logit gaps, exact).
    """
    gaps = sp.ImmutableMatrix([logit_gap(p, heads=2) for p in CERTIFICATE])
    tables = {symbol: value for symbol, value in _two_head_tables().items() if gaps.has(symbol)}
    exact = gaps.xreplace(tables)
    return Derivation(
        "Two heads get the certificate right",
        gaps,
        start_note=r"the gaps $G = c + N_1/D_1 + N_2/D_2$ on ABBCA, CCABA, CBACA, ACBBA",
    ).then(
        substitute(
            tables,
            text=(
                r"the model: scores $\alpha(x) + \beta_h(j)$ in units of $\ln 100$, $\alpha = (2, 0, 0)$ for $(A, B, C)$, "
                r"$\beta_1 = (-4, 0, -1, -4, -4)$, $\beta_2 = (-1, -4, -4, 0, -4)$; readouts $(0, 1, -1)$; $c = 0$"
            ),
        ),
        exact,
        label="gaps",
        note=r"signs $+, +, -, -$: head 1 reads the token after an $A$ at position 0, head 2 after an $A$ at position 2",
    )
