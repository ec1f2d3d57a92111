"""In-context-learning theorems: each a checked derivation (proofs.icl) against an independent oracle (numerics.icl).

* ``lsa-gd`` (von Oswald et al. 2023, Prop. 1; seed 000, hours 3-4): one linear self-attention
  layer with their construction moves every token as one gradient-descent step on the
  in-context least-squares loss.

The topic's other theorems live in its submodules (loaded by the registry in ``ORDER``).
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Integer, Real
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from checkers.results import Erratum
from numerics.icl import (
    gradient_descent_construction,
    gradient_descent_step,
    gradient_descent_tokens,
    linear_self_attention,
    token_matrix,
    token_rounding_bound,
)
from proofs.icl import LOSS, TOKENS, VON_OSWALD, lsa_token_update

# The registry loads the submodules in the syllabus order of their theorems (CATALOG.md).
ORDER = ("linear_attention", "multistep", "ridge", "risk", "bayesian")

# --- lsa-gd -----------------------------------------------------------------------------------


def _regression_data(rng: np.random.Generator, n: int, d_x: int, d_y: int, N: int) -> dict[str, np.ndarray]:
    """Gaussian context, query, starting weights ``W_0`` and query target ``y_q``.

    ``W_0`` and ``y_q`` are random rather than zero: the token statement holds for any of them,
    and zeros would hide sign errors that only act through ``W_0`` (the value matrix) or ``y_q``.
    """
    return {
        "X": rng.standard_normal((n, d_x, N)),
        "Y": rng.standard_normal((n, d_y, N)),
        "x_q": rng.standard_normal((n, d_x, 1)),
        "y_q": rng.standard_normal((n, d_y, 1)),
        "W_0": rng.standard_normal((n, d_y, d_x)),
    }


def _worked_data(d_x: int, d_y: int, N: int) -> dict[str, np.ndarray]:
    """The anchors' hand-built data (one instance, shaped as :func:`_regression_data`'s), in the paper's setting:
    every ``x_j`` entry 2, every ``y_j`` entry 1, ``x_q`` all ones, ``y_q = 0``, ``W_0 = 0``."""
    return {
        "X": np.full((d_x, N), 2.0),
        "Y": np.ones((d_y, N)),
        "x_q": np.ones((d_x, 1)),
        "y_q": np.zeros((d_y, 1)),
        "W_0": np.zeros((d_y, d_x)),
    }


LSA_ANCHORS = (
    Anchor(
        {"d_x": 1, "d_y": 1, "N": 1, "eta": 0.5},
        [[[2.0, 1.0], [-1.0, -1.0]]] * 2,
        "worked by hand (module checkers.icl): x = 2, y = 1, W_0 = 0: grad L(0) = (0 - 1) 2 = -2, W_1 = 1; "
        "y -> 1 - 1 * 2 = -1, the query's y -> 0 - 1 * 1 = -1 (read out: W_1 x_q = 1)",
        rtol=1e-15,
        inputs=_worked_data(d_x=1, d_y=1, N=1),
    ),
    Anchor(
        {"d_x": 2, "d_y": 1, "N": 2, "eta": 0.5},
        [[[2.0, 2.0, 1.0], [2.0, 2.0, 1.0], [-3.0, -3.0, -2.0]]] * 2,
        "worked by hand (module checkers.icl): X = 2 (2 x 2), Y = (1, 1), W_0 = 0: grad L(0) = -(1, 1) X^T / 2 = "
        "-(2, 2), W_1 = (1, 1); y_j -> 1 - 4 = -3, the query's y -> -(1, 1).(1, 1) = -2",
        rtol=1e-15,
        inputs=_worked_data(d_x=2, d_y=1, N=2),
    ),
)
"""Two anchors worked by hand at their own data (:func:`_worked_data`), laid out as the claim: the token matrix
(``x`` rows first, the query last), once for each of the oracle's two computations.

* ``d_x = d_y = N = 1``, ``eta = 1/2``: ``L(W) = (W 2 - 1)^2 / 2`` has gradient ``(2W - 1) 2 = -2`` at 0, so
  ``W_1 = 0 - (1/2)(-2) = 1``. ``x`` stays 2; the target moves to ``y - (W_1 - W_0) x = 1 - 2 = -1``; the query's
  ``y`` channel to ``0 - 1 * 1 = -1``, read out as ``+1 = W_1 x_q``.
* ``d_x = 2``, ``d_y = 1``, ``N = 2``, ``eta = 1/2``: ``grad L(0) = (1/N)(0 X - Y) X^T = -(1/2)(1, 1)[[2, 2], [2, 2]]
  = -(2, 2)``, ``W_1 = (1, 1)``; each target ``1 - (1, 1).(2, 2) = -3``, the query's ``y`` ``-(1, 1).(1, 1) = -2``.

Every number is a small integer, exact in float64 on both sides (rtol 1e-15).
"""


def _layer_and_explicit_gradient_descent(X, Y, x_q, y_q, W_0, eta, N, device="cpu"):
    """Every token computed twice, independently of the closed form, with the rounding bound of the comparison.

    ``[:, 0]``: the literal LSA layer run with the construction; ``[:, 1]``: one explicit GD step
    (autograd gradient) applied to the tokens. The claim must match both.
    """
    layer = linear_self_attention(token_matrix(X, Y, x_q, y_q), *gradient_descent_construction(W_0, eta, N))
    descent = gradient_descent_tokens(X, Y, x_q, y_q, W_0, eta, device)
    bound = token_rounding_bound(X, Y, x_q, y_q, W_0, eta)
    return np.stack([layer, descent], axis=1), bound[:, None]


def _against_both(tokens):
    """A claim about the tokens, set against both computations of the oracle."""

    def claim(**arguments):
        values = tokens(**arguments)
        return np.stack([values, values], axis=1)

    return claim


def _closed_form_against_both(closed_form, **arguments):
    return _against_both(closed_form)(**arguments)


def _layer_with(change):
    """A mutant: the literal LSA layer run with the construction altered by ``change(weights, d_x, d_y, N)``."""

    def mutant(X, Y, x_q, y_q, W_0, eta, d_x, d_y, N, **_):
        weights = dict(zip(("W_K", "W_Q", "W_V", "P"), gradient_descent_construction(W_0, eta, N)))
        weights.update(change(weights, d_x, d_y, N))
        return linear_self_attention(token_matrix(X, Y, x_q, y_q), **weights)

    return _against_both(mutant)


def _read_out_without_minus(X, Y, x_q, y_q, W_0, eta, d_x, N, **_):
    """The true layer with the query's ``y`` channel negated: "the query ends at the prediction ``W_1 x_q``".

    For ``W_0 = 0``, ``y_q = 0`` that is the read-out without the minus sign.
    """
    weights = gradient_descent_construction(W_0, eta, N)
    tokens = linear_self_attention(token_matrix(X, Y, x_q, y_q), *weights)
    tokens[:, d_x:, -1] *= -1
    return tokens


def _example_values(d_x, d_y, N, eta, X, Y, x_q):
    """The paper's setting ``W_0 = 0``, ``y_q = 0`` on the seeded data: the layer's read-out and explicit GD."""
    W_0 = np.zeros((1, d_y, d_x))
    X, Y, x_q = X[None], Y[None], x_q[None]
    W_K, W_Q, W_V, P = gradient_descent_construction(W_0, np.array([eta]), N)
    after = linear_self_attention(token_matrix(X, Y, x_q, np.zeros((1, d_y, 1))), W_K, W_Q, W_V, P)
    W_1 = gradient_descent_step(X, Y, W_0, np.array([eta]))
    return {
        "W_K": W_K[0],
        "W_Q": W_Q[0],
        "W_V": W_V[0],
        "P": P[0],
        "y_lsa": (-after[0, d_x:, -1]).tolist(),
        "y_gd": (W_1 @ x_q)[0, :, 0].tolist(),
    }


lsa_gd = Theorem(
    id="lsa-gd",
    title="One linear self-attention layer is one step of gradient descent",
    topic="icl",
    statement=(
        r"Let the context tokens be $e_j = (x_j, y_j)$, $j = 1, \dots, N$, and the query $e_q = (x_q, y_q)$, "
        r"with $x \in \mathbb{R}^{d_x}$, $y \in \mathbb{R}^{d_y}$. One linear self-attention layer updates every "
        r"token $e \leftarrow e + P W_V \big(\sum_{j=1}^N e_j (W_K e_j)^\top\big) W_Q e$. With "
        r"$W_K = W_Q = \begin{pmatrix} I & 0 \\ 0 & 0 \end{pmatrix}$, "
        r"$W_V = \begin{pmatrix} 0 & 0 \\ W_0 & -I \end{pmatrix}$ and $P = \frac{\eta}{N} I$ (no $1/\sqrt{d}$), "
        r"let $L(W) = \frac{1}{2N} \sum_j \lVert W x_j - y_j \rVert^2$ and $W_1 = W_0 - \eta \nabla L(W_0)$. "
        r"Then every $x$ is unchanged and every $y$ channel moves by $+\eta \nabla L(W_0)\, x$: the training "
        r"targets become $y_j - (W_1 - W_0) x_j$ (the data on which the loss at $W_0$ equals the original loss "
        r"at $W_1$) and the query's $y$ channel becomes $y_q - (W_1 - W_0) x_q$. With $W_0 = 0$ and $y_q = 0$ the "
        r"query ends at $-W_1 x_q$: the prediction is read out with a minus sign. The ``friendlier'' "
        r"$W_V = \begin{pmatrix} 0 & 0 \\ -W_0 & I \end{pmatrix}$ with $y_q = W_0 x_q$ also reads $W_1 x_q$ "
        r"after one layer, but it moves the training targets to $y_j + (W_1 - W_0) x_j$, the wrong way."
    ),
    assumptions=(
        TOKENS,
        LOSS,
        r"$W_0 \in \mathbb{R}^{d_y \times d_x}$ and $y_q$ are arbitrary (the check draws them at random); "
        r"$\eta > 0$",
    ),
    sources=(f"{VON_OSWALD}, Proposition 1", "seed 000, hours 3-4 (the LSA-GD equivalence)"),
    parameters={
        "d_x": Integer(1, 8, shape=True, default=3),
        "d_y": Integer(1, 4, shape=True, default=1),
        "N": Integer(1, 64, shape=True, default=10),
        "eta": Real(0.001, 1.0, default=0.1),
    },
    variants={"eta": Real(0.001, 1.0)},
    inputs=_regression_data,
    derivation=lsa_token_update,
    assemble=_closed_form_against_both,
    oracle=_layer_and_explicit_gradient_descent,
    mutants={
        "P = eta I (no 1/N)": _layer_with(lambda w, d_x, d_y, N: {"P": N * w["P"]}),
        "prediction read out without the minus sign": _against_both(_read_out_without_minus),
        "W_K = W_Q = I on (x, y)": _layer_with(
            lambda w, d_x, d_y, N: {"W_K": np.eye(d_x + d_y), "W_Q": np.eye(d_x + d_y)}
        ),
        # d = d_x + d_y, the width of the keys and queries (softmax attention's habit).
        "scores scaled by 1/sqrt(d)": _layer_with(lambda w, d_x, d_y, N: {"P": w["P"] / np.sqrt(d_x + d_y)}),
        # [[0, 0], [-W_0, I]] = -W_V: right read-out from y_q = W_0 x_q, training targets moved the wrong way.
        "friendlier W_V = [[0, 0], [-W_0, I]]": _layer_with(lambda w, d_x, d_y, N: {"W_V": -w["W_V"]}),
    },
    anchors=LSA_ANCHORS,
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "the whole budget is the per-instance bound the oracle returns "
            "(numerics.icl.token_rounding_bound): each y entry is y - (W_1 - W_0) z, a chain of at most "
            "K = N + 2 d_x + 10 rounded float64 operations, so the claim and the oracle each lie within "
            "gamma_K = K u / (1 - K u) (u = 2^-53) of the exact value times the same computation in absolute "
            "values, |y| + (2|W_0| + (eta/N)(|W_0||X| + |Y|)|X|^T)|z|, which carries the data's norms and the "
            "cancellation in W_1 - W_0; the two differ by at most twice that. The literal layer forms the same "
            "sums (its zero and identity blocks multiply exactly), so the same bound covers it. The x channels "
            "are exact copies."
        ),
    ),
    values=_example_values,
    questions={
        "W_K": (
            r"Context tokens $e_j = (x_j, y_j)$, $j = 1, \dots, N$, with $x_j \in \mathbb{R}^{d_x}$, "
            r"$y_j \in \mathbb{R}^{d_y}$, and the query $e_q = (x_q, 0)$ pass through one linear self-attention "
            r"layer $e \leftarrow e + P W_V \big(\sum_{j=1}^N e_j (W_K e_j)^\top\big) W_Q e$. Find weights $W_K$, "
            r"$W_Q$, $W_V$ and $P$ for which the layer performs one gradient-descent step with learning rate $\eta$ "
            r"on $L(W) = \frac{1}{2N} \sum_j \lVert W x_j - y_j \rVert^2$ from $W_0 = 0$, and write them out for the "
            r"given $d_x$, $d_y$, $N$ and $\eta$."
        ),
        "y_lsa": (
            r"Prove that your construction works: how does the layer change each token's $x$ and $y$ channels, and "
            r"where in the query token, and with which sign, does the one-step prediction $W_1 x_q$ appear?"
        ),
        "y_gd": (
            r"On random data of the given sizes, compute $W_1 x_q$ by explicit gradient descent and compare it "
            r"with the layer's read-out."
        ),
    },
    errata=(
        Erratum(
            source="seed 004",
            section="project track A, 2.3 step 5",
            stated="the OLS prediction $y_{OLS} = x_{test}^\\top (X^\\top X)^{-1} X^\\top Y$ with $k \\in [5, 50]$ examples",
            corrected=(
                "$\\operatorname{rank}(X^\\top X) = \\operatorname{rank}(X) \\le \\min(k, d)$, so for $k < d$ the "
                "$d \\times d$ matrix $X^\\top X$ has no inverse; the minimum-norm least-squares prediction is "
                "$x_{test}^\\top X^{+} Y$ (Moore-Penrose pseudo-inverse), which equals the stated formula whenever "
                "$X$ has full column rank ($k \\ge d$, almost surely for Gaussian $x_i$)"
            ),
            evidence="$\\operatorname{rank}(X^\\top X) = \\operatorname{rank}(X) \\le \\min(k, d)$",
            kind="ambiguous",
            readings=(
                "$(X^\\top X)^{-1}$ as the inverse, with the project's $d$ unstated: true when $d \\le 5$ (every $k$ of "
                "the curriculum has $k \\ge d$); undefined for the prompts with $k < d$ when $d > 5$ (e.g. $d = 20$)",
                "$(X^\\top X)^{-1}$ read as a generalised inverse, $(X^\\top X)^{+} X^\\top = X^{+}$: true for every "
                "$k$, the minimum-norm least-squares prediction (the ridge-less limit)",
            ),
        ),
    ),
)
