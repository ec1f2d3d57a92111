"""``lsa-multistep-gd`` (von Oswald et al. 2023, Prop. 1 stacked and section 4; seed 000, hours 3-4): a checked
derivation (proofs.icl.multistep) against the literal layer stack and explicit gradient descent (numerics.icl.multistep).

The checked quantity, per instance, is ``(tokens after K GD layers, tokens after K GD++ layers, the K-step
error factor per eigendirection of Sigma)``, flattened, set against two computations:

* row 0: the literal stack of K linear self-attention layers (plain and GD++ weights), and the error of K
  explicit gradient steps against ``scipy.linalg.lstsq``'s least squares, measured along the eigenvectors of
  ``Sigma = X X^T / N``;
* row 1: explicit gradient descent (autograd gradients) and GD++ written as preconditioned descent whose inputs
  are transformed layer by layer, each turned into tokens, and the same measured factors.

The claim iterates the derived one-step maps (the lemmas 'One preconditioned gradient step' and 'The inputs after
one more curvature correction') K - 1 times from the prompt's state ``V = 0``, ``M = I`` and applies the derived
layer (the result, and the step labelled ``layer`` for GD++) once more; the factors are the lemma's
``(1 - eta lambda)^K`` at ``Sigma``'s eigenvalues. Every token is compared, the training tokens included: that
is where the flipped value matrix of lsa-gd goes wrong already after one layer, and its query read-out (right
after one layer) goes wrong after two.
"""

from __future__ import annotations

import functools

import numpy as np

from checkers.closed_form import compile_closed_form
from checkers.domains import Integer, Real
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from numerics.icl import token_matrix
from numerics.icl.multistep import (
    explicit_gd_plus_plus,
    explicit_gradient_descent,
    layer_stack,
    measured_contraction,
    residual_tokens,
    stack_rounding_bound,
    stacked_construction,
)
from proofs.icl import LOSS, TOKENS, VON_OSWALD
from proofs.icl.multistep import GD_PLUS_PLUS, NORMAL_EQUATIONS, STACK, stacked_layers


def _draw(rng: np.random.Generator, n: int, d_x: int, d_y: int, N: int) -> dict[str, np.ndarray]:
    """Gaussian context and query (the query's ``y`` enters as 0, the paper's setting)."""
    return {
        "X": rng.standard_normal((n, d_x, N)),
        "Y": rng.standard_normal((n, d_y, N)),
        "x_q": rng.standard_normal((n, d_x, 1)),
    }


@functools.cache
def _lemma(title: str):
    """A lemma's result, compiled."""
    lemma = next(lemma for lemma in lsa_multistep_gd.built_derivation().lemmas if lemma.title == title)
    return compile_closed_form(lemma.result)


def _iterates(X, Y, eta, gamma, N, steps: int):
    """``(V^(steps), M^(steps))`` by the derived one-step maps from the prompt's state ``(0, I)``."""
    n, d_x = X.shape[:2]
    V = np.zeros((n, Y.shape[1], d_x))
    M = np.broadcast_to(np.eye(d_x), (n, d_x, d_x)).copy()
    step = _lemma("One preconditioned gradient step")
    correction = _lemma("The inputs after one more curvature correction")
    for _ in range(steps):
        V, M = step(V=V, M=M, X=X, Y=Y, eta=eta, N=N), correction(M=M, X=X, gamma=gamma, N=N)
    return V, M


def _eigen_factors(X, eta, K, N) -> np.ndarray:
    """``(1 - eta lambda_i)^K`` (the lemma 'The error per eigendirection after K steps') at ``Sigma``'s eigenvalues, ascending."""
    factor = _lemma("The error per eigendirection after K steps")
    eigenvalues = np.linalg.eigvalsh(X @ np.swapaxes(X, -1, -2) / N)
    steps = np.full(len(X), float(K))
    return np.stack([factor(eta=eta, K=steps, **{"lambda": eigenvalues[:, i]}) for i in range(X.shape[1])], axis=1)


def _flat(*parts) -> np.ndarray:
    return np.concatenate([np.asarray(p).reshape(len(p), -1) for p in parts], axis=1)


def _claim(closed_form, X, Y, x_q, eta, gamma, K, N):
    """The derived stacks and factors, beside themselves (set against both rows of the oracle)."""
    V, _ = _iterates(X, Y, eta, np.zeros_like(gamma), N, K - 1)
    gd = closed_form(V=V, X=X, Y=Y, x_q=x_q, eta=eta, N=N)
    V, M = _iterates(X, Y, eta, gamma, N, K - 1)
    plus = lsa_multistep_gd.closed_form("layer")(V=V, M=M, X=X, Y=Y, x_q=x_q, eta=eta, gamma=gamma, N=N)
    claim = _flat(gd, plus, _eigen_factors(X, eta, K, N))
    return np.stack([claim, claim], axis=1)


def _stacks_and_explicit_descent(X, Y, x_q, eta, gamma, K, device="cpu"):
    """The oracle: row 0 the literal layer stacks, row 1 explicit (preconditioned) descent; both rows end with the
    measured error factors. With the accuracy: the rounding bounds of the tokens and of the measured factors."""
    n, d_x, N = X.shape
    d_y = Y.shape[1]
    prompt = token_matrix(X, Y, x_q, np.zeros((n, d_y, 1)))
    plain = layer_stack(prompt, stacked_construction(eta, np.zeros(n), N, d_x, d_y), K)
    plus = layer_stack(prompt, stacked_construction(eta, gamma, N, d_x, d_y), K)
    descent = residual_tokens(X, Y, x_q, explicit_gradient_descent(X, Y, eta, K, device))
    V, inputs, query = explicit_gd_plus_plus(X, Y, x_q, eta, gamma, K, device)
    preconditioned = token_matrix(inputs, Y - V @ X, query, -V @ x_q)
    factors, factor_accuracy = measured_contraction(X, Y, eta, K, device)
    rows = [(plain, plus), (descent, preconditioned)]
    values = np.stack([np.concatenate([gd.reshape(n, -1), pp.reshape(n, -1), factors], axis=1) for gd, pp in rows], axis=1)
    bounds = stack_rounding_bound(X, Y, x_q, eta, np.zeros(n), K), stack_rounding_bound(X, Y, x_q, eta, gamma, K)
    accuracy = np.concatenate([bounds[0].reshape(n, -1), bounds[1].reshape(n, -1), factor_accuracy], axis=1)
    return values, accuracy[:, None, :]


def _claim_now(X, Y, x_q, eta, gamma, K, N):
    return lsa_multistep_gd.evaluate_claim(X=X, Y=Y, x_q=x_q, eta=eta, gamma=gamma, K=K, N=N)


def _parts(claim, d_x, d_y, N):
    """Views of one row of the claim: the GD tokens, the GD++ tokens, the factors."""
    size = (d_x + d_y) * (N + 1)
    shape = (len(claim), d_x + d_y, N + 1)
    return claim[:, :size].reshape(shape), claim[:, size : 2 * size].reshape(shape), claim[:, 2 * size :]


def _replacing(part: int, wrong):
    """A mutant: the claim with one part (0 GD tokens, 1 GD++ tokens, 2 factors) replaced by ``wrong(**arguments)``."""

    def mutant(X, Y, x_q, eta, gamma, K, N, d_x, d_y):
        row = _claim_now(X, Y, x_q, eta, gamma, K, N)[:, 0]
        parts = list(_parts(row, d_x, d_y, N))
        parts[part] = wrong(X=X, Y=Y, x_q=x_q, eta=eta, gamma=gamma, K=K, N=N, d_x=d_x, d_y=d_y)
        claim = _flat(*parts)
        return np.stack([claim, claim], axis=1)

    return mutant


def _stack_with(change):
    """The literal plain stack with its weights altered by ``change(weights, N)``."""

    def tokens(X, Y, x_q, eta, K, N, d_x, d_y, **_):
        weights = dict(zip(("W_K", "W_Q", "W_V", "P"), stacked_construction(eta, np.zeros(len(X)), N, d_x, d_y)))
        weights.update(change(weights, N))
        prompt = token_matrix(X, Y, x_q, np.zeros((len(X), d_y, 1)))
        return layer_stack(prompt, tuple(weights.values()), K)

    return tokens


def _friendlier(X, Y, x_q, eta, K, N, d_x, d_y, **_):
    """lsa-gd's flipped ``W_V = [[0, 0], [-W_0, I]]`` (``W_0 = 0``) in every layer, its query read without the minus sign
    (its own convention: it reads ``+W_1 x_q`` after one layer): right at the query after one layer, wrong after two."""
    tokens = _stack_with(lambda w, N: {"W_V": -w["W_V"]})(X=X, Y=Y, x_q=x_q, eta=eta, K=K, N=N, d_x=d_x, d_y=d_y)
    tokens[:, d_x:, -1] *= -1
    return tokens


def _query_without_minus(X, Y, x_q, eta, gamma, K, N, d_x, d_y):
    gd = _parts(_claim_now(X, Y, x_q, eta, gamma, K, N)[:, 0], d_x, d_y, N)[0].copy()
    gd[:, d_x:, -1] *= -1
    return gd


def _plain_for_plus(X, Y, x_q, eta, gamma, K, N, d_x, d_y):
    """GD++ taken as plain GD: the curvature correction of the ``x`` channels dropped."""
    return _parts(_claim_now(X, Y, x_q, eta, gamma, K, N)[:, 0], d_x, d_y, N)[0]


def _plus_with(preconditioner, transform):
    """GD++ tokens from a wrong recursion: ``V <- V - eta grad L(V) preconditioner(M)``, ``M <- transform(M, k)``."""

    def tokens(X, Y, x_q, eta, gamma, K, N, **_):
        n, d_x = X.shape[:2]
        eta3, gamma3 = eta[:, None, None], gamma[:, None, None]
        V = np.zeros((n, Y.shape[1], d_x))
        M = np.broadcast_to(np.eye(d_x), (n, d_x, d_x)).copy()
        for k in range(K):
            gradient = (V @ X - Y) @ np.swapaxes(X, -1, -2) / N
            V, M = V - eta3 * gradient @ preconditioner(M), transform(M, X, gamma3, N, k)
        return token_matrix(M @ X, Y - V @ X, M @ x_q, -V @ x_q)

    return tokens


def _accumulated(M, X, gamma3, N, k):
    current = M @ X
    return M - gamma3 * current @ np.swapaxes(current, -1, -2) @ M / N


def _prompt_covariance_power(M, X, gamma3, N, k):
    """``(I - gamma Sigma)^(k+1)`` with the prompt's ``Sigma`` in every layer, not the current inputs' covariance."""
    step = np.eye(X.shape[1]) - gamma3 * X @ np.swapaxes(X, -1, -2) / N
    return np.linalg.matrix_power(step, k + 1)


def _factors_with(exponent):
    def factors(X, eta, K, N, **_):
        eigenvalues = np.linalg.eigvalsh(X @ np.swapaxes(X, -1, -2) / N)
        return exponent(1 - eta[:, None] * eigenvalues, eta[:, None] * eigenvalues, K)

    return factors


MUTANTS = {
    "friendlier W_V = [[0, 0], [0, I]] stacked (right after one layer, wrong after two)": _replacing(0, _friendlier),
    "P = eta I (no 1/N) in every layer": _replacing(0, _stack_with(lambda w, N: {"P": N * w["P"]})),
    "prediction read out without the minus sign": _replacing(0, _query_without_minus),
    "GD++ as plain GD (the x channels left unchanged)": _replacing(1, _plain_for_plus),
    "GD++ preconditioner M instead of M^T M": _replacing(1, _plus_with(lambda M: M, _accumulated)),
    "GD++ correction with the prompt's covariance in every layer": _replacing(
        1, _plus_with(lambda M: np.swapaxes(M, -1, -2) @ M, _prompt_covariance_power)
    ),
    "error factor (1 - eta lambda)^(K - 1) (one step short)": _replacing(2, _factors_with(lambda f, s, K: f ** (K - 1))),
    "error factor exp(-K eta lambda) (gradient flow)": _replacing(2, _factors_with(lambda f, s, K: np.exp(-K * s))),
}


def _hand_tokens(x_rows, y_row, query_x, query_y):
    """A token matrix written out: the ``x`` rows and the ``y`` row, the query's entries last."""
    return [list(row) + [q] for row, q in zip(x_rows, query_x)] + [list(y_row) + [query_y]]


def _hand_anchor_value(gd, plus, factors):
    row = [v for matrix in (gd, plus) for r in matrix for v in r] + list(factors)
    return [row, row]


ANCHORS = (
    Anchor(
        {"d_x": 1, "d_y": 1, "N": 5, "K": 2, "eta": 0.5, "gamma": 0.1},
        _hand_anchor_value(
            _hand_tokens([[1.0] * 5], [0.25] * 5, [1.0], -0.75),
            _hand_tokens([[0.8271] * 5], [0.2975] * 5, [0.8271], -0.7025),
            [0.25],
        ),
        "worked by hand (module checkers.icl.multistep): x_j = y_j = x_q = 1, so Sigma = C = 1 and W_* = 1. GD: "
        "W_1 = 1/2, W_2 = 1/2 - (1/2)(1/2 - 1) = 3/4: targets 1 - 3/4, query -3/4, error factor (1 - 1/2)^2. GD++: "
        "layer 1 moves x to 0.9 and W to 1/2; layer 2 preconditions by 0.81: V_2 = 1/2 + (1/2)(1/2)(0.81) = 0.7025, "
        "x to 0.9 (1 - 0.1 * 0.81) = 0.8271",
        rtol=1e-12,
        inputs={"X": [[1.0] * 5], "Y": [[1.0] * 5], "x_q": [[1.0]]},
    ),
    Anchor(
        {"d_x": 2, "d_y": 1, "N": 5, "K": 1, "eta": 0.5, "gamma": 0.25},
        _hand_anchor_value(
            _hand_tokens([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]], [0.9, 1.8, 0, 0, 0], [1.0, 1.0], -0.3),
            _hand_tokens([[0.95, 0, 0, 0, 0], [0, 0.95, 0, 0, 0]], [0.9, 1.8, 0, 0, 0], [0.95, 0.95], -0.3),
            [0.9, 0.9],
        ),
        "worked by hand: x_1 = e_1, x_2 = e_2, the other x_j = 0, y = (1, 2, 0, 0, 0): Sigma = I/5, C = (1, 2)/5, "
        "W_* = (1, 2); one step W_1 = C/2 = (0.1, 0.2): targets (0.9, 1.8, 0, 0, 0), query -(0.1 + 0.2); GD++ also "
        "scales every x by 1 - 0.25/5 = 0.95; both error factors 1 - 0.5/5 = 0.9",
        rtol=1e-12,
        atol=1e-15,
        inputs={"X": [[1.0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0]], "Y": [[1.0, 2.0, 0, 0, 0]], "x_q": [[1.0], [1.0]]},
    ),
)
"""Two prompts worked by hand, laid out as the claim: the GD tokens, the GD++ tokens, the error factors, twice.

Every number is a short decimal; the float64 results agree to a few ulps (rtol 1e-12; atol 1e-15 for the zeros).
"""


def _example_values(d_x, d_y, N, K, eta, gamma, X, Y, x_q, device="cpu"):
    """The example's stacks against explicit descent, the flipped value matrix after one and two layers, the factors."""
    batch = {"X": X[None], "Y": Y[None], "x_q": x_q[None], "eta": np.array([eta]), "gamma": np.array([gamma])}
    gd, plus, factors = _parts(_claim_now(**batch, K=K, N=N)[:, 0], d_x, d_y, N)
    W_K = explicit_gradient_descent(X[None], Y[None], batch["eta"], K, device)
    V, _, _ = explicit_gd_plus_plus(**batch, K=K, device=device)
    measured, _ = measured_contraction(X[None], Y[None], batch["eta"], K, device)
    W_star = np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T
    # Its own read-out is the query's y channel itself (no minus sign): undo the mutant's change of convention.
    friendly = [(-_friendlier(**batch, K=k, N=N, d_x=d_x, d_y=d_y)[0, d_x:, -1]).tolist() for k in (1, 2)]
    steps = [(explicit_gradient_descent(X[None], Y[None], batch["eta"], k, device)[0] @ x_q)[:, 0].tolist() for k in (1, 2)]
    W_K_plain = stacked_construction(batch["eta"], np.zeros(1), N, d_x, d_y)
    W_K_plus = stacked_construction(batch["eta"], batch["gamma"], N, d_x, d_y)
    return {
        "W_V": W_K_plain[2][0],
        "W_V_plus": W_K_plus[2][0],
        "y_lsa": (-gd[0, d_x:, -1]).tolist(),
        "y_gd": (W_K[0] @ x_q)[:, 0].tolist(),
        "y_lsa_plus": (-plus[0, d_x:, -1]).tolist(),
        "y_gd_plus": (V[0] @ x_q)[:, 0].tolist(),
        "friendly_1": friendly[0],
        "friendly_2": friendly[1],
        "y_gd_1": steps[0],
        "y_gd_2": steps[1],
        "lambda": np.linalg.eigvalsh(X @ X.T / N).tolist(),
        "factors": factors[0].tolist(),
        "measured_factors": measured[0].tolist(),
        "error_gd": float(np.linalg.norm(W_K[0] - W_star) / np.linalg.norm(W_star)),
        "error_gd_plus": float(np.linalg.norm(V[0] - W_star) / np.linalg.norm(W_star)),
    }


lsa_multistep_gd = Theorem(
    id="lsa-multistep-gd",
    title="K stacked linear self-attention layers are K steps of gradient descent (and GD++)",
    topic="icl",
    statement=(
        r"Stack $K$ identical linear self-attention layers $e \leftarrow e + P W_V \big(\sum_{j=1}^N e_j (W_K e_j)^\top\big) "
        r"W_Q e$ with von Oswald et al.'s construction at $W_0 = 0$: $W_K = W_Q = \begin{pmatrix} I & 0 \\ 0 & 0 \end{pmatrix}$, "
        r"$W_V = \begin{pmatrix} 0 & 0 \\ 0 & -I \end{pmatrix}$, $P = \frac{\eta}{N} I$, on the prompt $e_j = (x_j, y_j)$, "
        r"$e_q = (x_q, 0)$. After $k$ layers every $x$ is unchanged, the training $y$ channels hold the residuals "
        r"$y_j - W^{(k)} x_j$ and the query's $y$ channel is $-W^{(k)} x_q$, where $W^{(k)}$ is the $k$-th iterate of "
        r"gradient descent $W^{(k+1)} = W^{(k)} - \eta \nabla L(W^{(k)})$ from $W^{(0)} = 0$ on "
        r"$L(W) = \frac{1}{2N} \sum_j \lVert W x_j - y_j \rVert^2$: $K$ layers are $K$ steps, read out as $-y_q$. "
        r"lsa-gd's ``friendlier'' $W_V = \begin{pmatrix} 0 & 0 \\ -W_0 & I \end{pmatrix}$ reads $W^{(1)} x_q$ after one "
        r"layer but moves the training targets the wrong way, so after two layers its read-out is no longer "
        r"$W^{(2)} x_q$. GD++ (an $x$ block $-\frac{\gamma}{\eta} I$ in $W_V$) also transforms the inputs, "
        r"$x \leftarrow (I - \gamma \Sigma_k) x$ with $\Sigma_k$ the current inputs' covariance, and is preconditioned "
        r"gradient descent: $V^{(k+1)} = V^{(k)} - \eta \nabla L(V^{(k)}) M_k^\top M_k$, $M_k$ the product of the "
        r"transforms so far, the inputs $M_k x$. For gradient descent, with $W_*$ a least-squares solution and "
        r"$\Sigma = \frac1N X X^\top$, $W^{(K)} - W_* = (W^{(0)} - W_*)(I - \eta \Sigma)^K$: along an eigenvector of "
        r"$\Sigma$ with eigenvalue $\lambda$ the error is multiplied by $(1 - \eta \lambda)^K$."
    ),
    assumptions=(
        TOKENS,
        LOSS,
        STACK,
        NORMAL_EQUATIONS,
        r"sampled: $d_x \le 4$, $d_y \le 2$, $5 \le N \le 12$ (so $N > d_x$ and $X X^\top$ is invertible almost surely), "
        r"$K \le 5$, $\eta \in [0.01, 0.5]$, $\gamma \in [0, 0.25]$, Gaussian $x_j$, $y_j$, $x_q$; the derivation holds "
        r"for symbolic $d_x$, $d_y$, $N$ and one layer, the $K$ layers by induction from the prompt",
        r"GD++ is preconditioned descent whatever $\gamma$; whether it converges faster than plain descent depends on "
        r"$\eta$ and $\gamma$ (it damps the large eigendirections, which pays when $\eta$ is near the stability limit "
        r"$2 / \lambda_{\max}$); the worked example reports both errors",
    ),
    sources=(
        f"{VON_OSWALD}, Proposition 1 (one layer) and its stacking to multi-step GD",
        GD_PLUS_PLUS,
        "seed 000, hours 3-4 (in-context learning as gradient descent)",
    ),
    parameters={
        "d_x": Integer(1, 4, shape=True, default=3),
        "d_y": Integer(1, 2, shape=True, default=1),
        "N": Integer(5, 12, shape=True, default=10),
        "K": Integer(1, 5, shape=True, default=3),
        "eta": Real(0.01, 0.5, default=0.1),
        "gamma": Real(0.0, 0.25, default=0.05),
    },
    variants={"eta": Real(0.01, 0.5), "gamma": Real(0.0, 0.25)},
    inputs=_draw,
    derivation=stacked_layers,
    assemble=_claim,
    oracle=_stacks_and_explicit_descent,
    mutants=MUTANTS,
    anchors=ANCHORS,
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "the whole budget is the per-entry bound the oracle returns (numerics.icl.multistep). Tokens: every "
            "evaluation (the derived maps iterated, the literal layers, explicit descent) is a chain of at most "
            "n = K (N + 4 (d_x + d_y) + 12) rounded operations, within gamma_n of exact times the same recursion on "
            "|X|, |Y|, |x_q| with every subtraction an addition; two evaluations differ by twice that. Factors: the "
            "measured ratio moves by the iterate's rounding and the least-squares solution's (bounded a posteriori "
            "from the normal equations' residual over lambda_min(X X^T)), over |E_0 u|, plus the eigenvectors' "
            "error, which only mixes nearly equal eigenvalues: 10 d_x K eta u ||Sigma|| max(1, |1 - eta lambda|)^(K-1) "
            "times (1 + ||E_0|| / |E_0 u|), doubled."
        ),
    ),
    example={"d_x": 3, "d_y": 1, "N": 10, "K": 3, "eta": 0.1, "gamma": 0.05},
    values=_example_values,
    questions={
        "W_V": (
            r"Stack $K$ linear self-attention layers with von Oswald et al.'s construction at $W_0 = 0$ on the prompt "
            r"$(x_1, y_1), \dots, (x_N, y_N), (x_q, 0)$. Show by induction that after $k$ layers the training $y$ "
            r"channels hold $y_j - W^{(k)} x_j$ and the query holds $-W^{(k)} x_q$, with $W^{(k)}$ the $k$-th gradient-"
            r"descent iterate on $\frac{1}{2N} \sum_j \lVert W x_j - y_j \rVert^2$ from 0."
        ),
        "y_lsa": r"Run the $K$ layers on the given data and compare the read-out with $K$ explicit gradient steps.",
        "friendly_2": (
            r"lsa-gd's flipped value matrix $\begin{pmatrix} 0 & 0 \\ -W_0 & I \end{pmatrix}$ reads $W^{(1)} x_q$ after one "
            r"layer without a minus sign. What does it read after two layers, and why?"
        ),
        "y_lsa_plus": (
            r"GD++ adds the block $-\frac{\gamma}{\eta} I$ to $W_V$ for the $x$ channels. Show that the stack then performs "
            r"preconditioned gradient descent, and name the preconditioner."
        ),
        "factors": (
            r"Show that the error against least squares is multiplied by $1 - \eta \lambda$ per step along each "
            r"eigenvector of $\Sigma = \frac1N X X^\top$, and evaluate $(1 - \eta\lambda)^K$ here."
        ),
    },
)
