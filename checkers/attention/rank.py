"""attention-rank (seed 003, exercise 1.3): the rank of attention outputs, and the exercise's false bound.

The claim is the column of the three bounds of :func:`proofs.attention.rank.attention_rank_bounds`
(softmax, linear, multi-head), compiled from the derivation; the oracle computes the three
outputs literally on generic random inputs and takes their numerical ranks
(:func:`numerics.attention.rank.attention_output_ranks`): the bounds are attained there, so the
ranks must equal them. Exercise 1.3's ``min(n, d_k, d_v)`` for softmax attention is a mutant,
refuted whenever ``d_k < min(n, d_v)``, and an erratum.
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from checkers.results import Erratum, Plot
from numerics.attention.rank import (
    RANK_THRESHOLD,
    UNDECIDED,
    attention_output_ranks,
    numerical_rank,
    orthonormal_frames,
    separated_queries_keys,
    singular_value_figure,
)
from proofs.attention.rank import COUNTEREXAMPLE, RANK_OF_A_PRODUCT, attention_rank_bounds, k_1, k_2, q_1, q_2

_SOFTMAX, _LINEAR, _MULTIHEAD = range(3)
EXERCISE_MUTANT = "exercise 1.3: softmax rank <= min(n, d_k, d_v)"


def _draw(rng, n, n_tokens, d_k, d_v, H, d_model):
    """Generic inputs: separated queries and keys, orthonormal values and output projection (see numerics)."""
    Q, K = separated_queries_keys(rng, n, H, n_tokens, d_k)
    V = orthonormal_frames(rng, n * H, n_tokens, d_v).reshape(n, H, n_tokens, d_v)
    W_O = orthonormal_frames(rng, n, H * d_v, d_model)
    return {"Q": Q, "K": K, "V": V, "W_O": W_O}


def _bounds(closed_form, count, n_tokens, d_k, d_v, H, d_model) -> np.ndarray:
    """A compiled closed form of the derivation at these sizes, repeated for ``count`` instances (all share them)."""
    value = closed_form(n=n_tokens, d_k=d_k, d_v=d_v, H=H, d_model=d_model)
    return np.broadcast_to(value, (count,) + np.shape(value)[1:]).copy()


def _assemble(closed_form, n_tokens, d_k, d_v, H, d_model, Q):
    """The claim: the compiled column of the three bounds, one row per instance of the group."""
    return _bounds(closed_form, len(Q), n_tokens, d_k, d_v, H, d_model)


def _with_column(column: int, wrong):
    """The true bounds with one column replaced by ``wrong(n, d_k, d_v, H, d_model, Q)``."""

    def mutant(n_tokens, d_k, d_v, H, d_model, Q):
        bounds = attention_rank.evaluate_claim(n_tokens=n_tokens, d_k=d_k, d_v=d_v, H=H, d_model=d_model, Q=Q)
        bounds[:, column] = wrong(n_tokens, d_k, d_v, H, d_model, Q)
        return bounds

    return mutant


def _labelled(label: str):
    """The bound labelled ``label`` in the derivation, as a column for a mutant."""
    return lambda n_tokens, d_k, d_v, H, d_model, Q: _bounds(
        attention_rank.closed_form(label), len(Q), n_tokens, d_k, d_v, H, d_model
    )


def _counterexample_values() -> dict:
    """The lemma's counterexample: ``q = k = (1, -1)``, ``d_k = 1``; its matrix, determinant and numerical rank."""
    lemma = attention_rank.built_derivation().lemmas[0]
    matrix = np.array(lemma.start.subs(COUNTEREXAMPLE).evalf(), dtype=float)
    determinant = float(lemma.expression("counterexample"))
    return {
        "q": [float(COUNTEREXAMPLE[q_1]), float(COUNTEREXAMPLE[q_2])],
        "k": [float(COUNTEREXAMPLE[k_1]), float(COUNTEREXAMPLE[k_2])],
        "A": matrix,
        "det_A": determinant,
        "rank_A": int(numerical_rank(matrix)),
        "exercise_bound": int(_labelled("linear")(n_tokens=2, d_k=1, d_v=2, H=1, d_model=1, Q=np.empty(1))[0]),
    }


RANK_ANCHORS = (
    Anchor(
        {"n_tokens": 2, "d_k": 1, "d_v": 2, "H": 1, "d_model": 2},
        [2.0, 1.0, 2.0],
        "by hand, exercise 1.3's setting with n = 2, d_k = 1: det softmax(q k^T) = (e^(q1 k1 + q2 k2) - "
        "e^(q1 k2 + q2 k1)) / (r_1 r_2) is nonzero when q1 != q2 and k1 != k2, so softmax rank 2; Q K^T V has "
        "rank 1; one head projected by an invertible 2 x 2 W_O keeps rank 2",
    ),
    Anchor(
        {"n_tokens": 3, "d_k": 1, "d_v": 3, "H": 2, "d_model": 2},
        [3.0, 1.0, 2.0],
        "by hand: softmax min(3, 3) = 3, linear min(3, 1, 3) = 1, two heads projected to d_model = 2: min(3, 6, 2) = 2",
    ),
)
"""Ranks worked by hand at two sizes (exact integers; the oracle's ranks on generic inputs must equal them).

At n = 2, d_k = 1 the softmax matrix ``A = [e^(q_a k_b)] / r_a`` has ``det A = (e^(q1 k1 + q2 k2) -
e^(q1 k2 + q2 k1)) / (r_1 r_2)``, whose sign is that of ``(q1 - q2)(k1 - k2)`` (the exponent difference
``q1 k1 + q2 k2 - q1 k2 - q2 k1`` factors so): ``A`` is invertible, and ``Z = A V`` has the rank of ``V``,
2 for a generic 2 x 2 ``V``. ``Q K^T = q k^T`` is an outer product, rank 1, so ``(Q K^T) V`` has rank 1. One
head projected by an invertible ``W_O`` keeps rank 2. At n = 3 the same reasoning reads the three
minima off the factor sizes: softmax ``A V`` with ``A`` 3 x 3 and ``V`` 3 x 3; linear with the factor ``K^T``
of 1 row; two heads ``[A_1 V_1, A_2 V_2]`` of 6 columns through ``W_O`` with 2 columns.
"""


def _rank_values(n_tokens, d_k, d_v, H, d_model, Q, K, V, W_O):
    sizes = {"n_tokens": n_tokens, "d_k": d_k, "d_v": d_v, "H": H, "d_model": d_model}
    bounds = attention_rank.evaluate_claim(**sizes, Q=Q[None])[0]
    ranks = attention_output_ranks(Q[None], K[None], V[None], W_O[None])[0]
    names = ("softmax", "linear", "multihead")
    return {
        **_counterexample_values(),
        **{f"bound_{name}": int(b) for name, b in zip(names, bounds)},
        **{f"rank_{name}": int(r) for name, r in zip(names, ranks)},
        "exercise_bound_here": int(_labelled("linear")(**sizes, Q=Q[None])[0]),
    }


def _rank_figures(seed):
    return [
        Plot(
            name="softmax-singular-values",
            caption=(
                r"Relative singular values of $\mathrm{softmax}(q k^\top)$ for $n = 8$ tokens and $d_k = 1$. "
                r"Both matrices are invertible, so rank 8 despite $d_k = 1$; with Gaussian $q, k$ the last "
                r"singular values fall towards the float64 rounding floor, which is why the checker draws "
                r"separated queries and keys. Dashed: the rank threshold."
            ),
            figure=singular_value_figure(seed, 8),
        )
    ]


attention_rank = Theorem(
    id="attention-rank",
    title="Rank of attention outputs (Ex. 1.3)",
    topic="attention",
    statement=(
        r"Exercise 1.3 claims that a single softmax head with $Q, K \in \mathbb{R}^{n \times d_k}$, "
        r"$V \in \mathbb{R}^{n \times d_v}$ has output rank $\mathrm{rank}\, Z \le \min(n, d_k, d_v)$. "
        r"\textbf{This is false.} For $n = 2$ and $d_k = 1$, "
        r"$\det \mathrm{softmax}(q k^\top) = \frac{e^{q_1 k_1 + q_2 k_2} - e^{q_1 k_2 + q_2 k_1}}{r_1 r_2}$ "
        r"($r_a$ the positive row sums) has the sign of $(q_1 - q_2)(k_1 - k_2)$: the softmax matrix is "
        r"invertible whenever the queries differ and the keys differ. Counterexample: $q = k = (1, -1)$, "
        r"$V = I_2$ give $\det A = \tanh 1 \approx 0.762$ and $\mathrm{rank}\, Z = 2 > \min(2, 1, 2) = 1$. "
        r"The entrywise exponential destroys the rank-$d_k$ structure of $Q K^\top$. "
        r"The bounds that hold, each read off a factorisation of the output: softmax attention "
        r"$Z = \mathrm{softmax}(Q K^\top / \sqrt{d_k}) V$: $\mathrm{rank}\, Z \le \min(n, d_v)$; linear attention "
        r"$Z = (Q K^\top) V$: $\mathrm{rank}\, Z \le \min(n, d_k, d_v)$; $H$ softmax heads concatenated and "
        r"projected by $W_O \in \mathbb{R}^{H d_v \times d_{\mathrm{model}}}$: "
        r"$\mathrm{rank}\, Z \le \min(n, H d_v, d_{\mathrm{model}})$. All three are attained for almost every input, "
        r"so none can be lowered."
    ),
    assumptions=(
        RANK_OF_A_PRODUCT,
        r"attainment (checked numerically, not derived): for $d_k = 1$ the kernel $e^{q k}$ is strictly totally "
        r"positive, so the softmax matrix of distinct queries and distinct keys is invertible; for generic $V$ and "
        r"$W_O$ the products then have the largest rank their shapes allow",
        r"numerical rank: the number of singular values above $10^{-10} \sigma_1$; an instance with a singular "
        r"value between $10^{-12} \sigma_1$ and $10^{-8} \sigma_1$ is undecided and stops the check, and so does "
        r"one whose rounding floor (a bound on how large an exactly-zero singular value can be computed, from the "
        r"output's rounding error by Weyl's inequality) reaches $10^{-10} \sigma_1$. Every counted singular value "
        r"is therefore nonzero, the numerical rank is at most the exact rank, and equality with the proved bound "
        r"shows attainment on that instance. Inputs are "
        r"drawn so that genuine singular values stay far above the threshold (queries' and keys' first coordinates "
        r"on a jittered grid, orthonormal $V$ and $W_O$); Gaussian queries with $d_k = 1$ give matrices that are "
        r"invertible but numerically rank-deficient beyond $n = 4$ (see the figure)",
    ),
    sources=(
        "seed 003, exercise 1.3",
        "Horn and Johnson, Matrix Analysis, 2nd ed., section 0.4.5 (rank of a product)",
        r"Karlin, Total Positivity, 1968 (the kernel $e^{x y}$ is strictly totally positive)",
    ),
    parameters={
        "n_tokens": Integer(1, 8, shape=True, default=3),
        "d_k": Integer(1, 4, shape=True, default=1),
        "d_v": Integer(1, 8, shape=True, default=3),
        "H": Integer(1, 3, shape=True, default=2),
        "d_model": Integer(1, 16, shape=True, default=2),
    },
    inputs=_draw,
    derivation=attention_rank_bounds,
    assemble=_assemble,
    oracle=attention_output_ranks,
    mutants={
        EXERCISE_MUTANT: _with_column(_SOFTMAX, _labelled("linear")),
        "softmax matrix invertible, so rank = n": _with_column(_SOFTMAX, lambda n_tokens, *_: n_tokens),
        "linear attention: rank <= min(n, d_v) (d_k ignored)": _with_column(_LINEAR, _labelled("softmax")),
        "H heads: H min(n, d_k, d_v)": _with_column(
            _MULTIHEAD, lambda n_tokens, d_k, d_v, H, *_: H * min(n_tokens, d_k, d_v)
        ),
        "H heads: min(n, H d_v) (W_O ignored)": _with_column(
            _MULTIHEAD, lambda n_tokens, d_k, d_v, H, *_: min(n_tokens, H * d_v)
        ),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.5,
        reason=(
            "claim and oracle are integers (ranks): atol 0.5 accepts exactly equal ranks and any disagreement is "
            f"at least 1. The oracle's rank is decided per instance: threshold {RANK_THRESHOLD:g} sigma_1, with the "
            f"band {UNDECIDED} refused and each output's rounding floor bounded below the threshold "
            "(numerics.attention.rank.RANK_THRESHOLD, numerical_rank)"
        ),
    ),
    anchors=RANK_ANCHORS,
    values=_rank_values,
    questions={
        "det_A": (
            r"The course sheet bounds the rank of one softmax head $Z = \mathrm{softmax}(Q K^\top / \sqrt{d_k})\, V$, "
            r"$Q, K \in \mathbb{R}^{n \times d_k}$, $V \in \mathbb{R}^{n \times d_v}$, by $\min(n, d_k, d_v)$. Does "
            r"this hold for $n = 2$ tokens and $d_k = 1$? Prove it there, or give queries $q$, keys $k$ and values "
            r"$V$ with $\mathrm{rank}\, Z > \min(n, d_k, d_v)$, together with the attention matrix $A$ and "
            r"$\det A$."
        ),
        "bound_softmax": (
            r"Prove an upper bound on $\mathrm{rank}\, Z$ for softmax attention that holds for all inputs and "
            r"cannot be lowered, and evaluate it for the given sizes ($n$ = \texttt{n\_tokens})."
        ),
        "bound_linear": (
            r"Do the same for linear attention $Z = (Q K^\top) V$."
        ),
        "bound_multihead": (
            r"With $H$ softmax heads, each with values of width $d_v$, concatenated and projected by "
            r"$W_O \in \mathbb{R}^{H d_v \times d_{\mathrm{model}}}$, bound the rank of the output and evaluate "
            r"the bound for the given sizes."
        ),
    },
    figures=_rank_figures,
    errata=(
        Erratum(
            source="seed 003",
            section="exercise 1.3",
            stated=r"a single softmax attention head has output rank $\mathrm{rank}\, Z \le \min(n, d_k, d_v)$",
            corrected=(
                r"$\mathrm{rank}\, Z \le \min(n, d_v)$ for softmax attention (the entrywise exponential lifts the "
                r"rank of $Q K^\top$; with $d_k = 1$, $q = k = (1, -1)$, $V = I_2$ the output has rank 2, "
                r"$\det = \tanh 1$); $\min(n, d_k, d_v)$ holds for linear attention $(Q K^\top) V$; $H$ heads "
                r"projected by $W_O$: $\min(n, H d_v, d_{\mathrm{model}})$"
            ),
            refuted_by=EXERCISE_MUTANT,
            kind="false",
            evidence=(
                "false for the attention of the sheet, softmax(Q K^T / sqrt(d_k)) V (exercise 1.2 scales the "
                "softmax's input; exercise 1.4 names linear attention apart): at n = 2, d_k = 1, q = k = (1, -1), "
                "V = I_2 the output has rank 2 > 1 (det A = tanh 1). The bound holds only for linear attention "
                "(Q K^T) V, a different layer"
            ),
        ),
    ),
)
