"""``linear-attention-gd`` (seed 003, exercise 1.4, both parts): a checked derivation
(proofs.icl.linear_attention) against explicit gradient steps and a numerical concave-convex step
(numerics.icl.linear_attention).

The checked quantity, per instance, is ``(eta_sum, eta_mean, xi_new, decrease)``:

* the step sizes at which one gradient step from ``W = 0`` predicts the linear-attention output
  ``O = x_test^T X^T Y``, on the sum loss ``1/2 ||XW - Y||^2`` and on the mean loss (the derivation's
  closed form ``(1, N)``), against the step size that matches the literal ``(Q K^T) V`` with a unit
  autograd step's prediction scaled onto it;
* the Hopfield update of the state ``xi = x_test`` (the derived minimiser ``X^T softmax(beta X xi)`` of
  the concave-convex surrogate), against the surrogate minimised by L-BFGS with the gradient of
  log-sum-exp from autograd;
* the energy decrease ``E(xi) - E(xi_new)``, derived exactly as ``||xi_new - xi||^2 / 2 +
  KL(p || p_new) / beta`` (so ``>= 0``: the update never raises the energy), against two energies
  from ``scipy.special.logsumexp`` at the oracle's own update.

The decrease is checked as an identity, not only as the inequality ``E(xi_new) <= E(xi)``: the identity
pins the gap (a mutant that drops the KL term, the CCCP bound taken for the decrease, is refuted), and
``>= 0`` follows from it by the lemma 'A Hopfield update never increases the energy'. One record has one
tolerance policy, and the step sizes are equalities. The second part's other half, softmax attention as
a Nadaraya-Watson smoother that no gradient step matches, is derived exactly (two lemmas, a
counterexample with gap 1 for every step size) and shown in the worked example.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from checkers.closed_form import compile_closed_form
from checkers.domains import Integer, Real
from checkers.policies import Deterministic
from checkers.results import Erratum
from checkers.theorem import Anchor, Theorem
from numerics.attention.kernels import scaled_dot_product_attention
from numerics.icl.linear_attention import (
    hopfield_accuracy,
    hopfield_energy,
    linear_attention,
    log_softmax_weights,
    log_sum_exp_gradient,
    matching_step_size,
    minimise_surrogate,
    one_step_weights,
    step_size_accuracy,
)
from proofs.icl.linear_attention import EXERCISE, RAMSAUER, YUILLE, one_step_learning_rate

VON_OSWALD = "von Oswald et al. 2023, Transformers learn in-context by gradient descent"


def _draw(rng: np.random.Generator, n: int, N: int, d: int, d_y: int) -> dict[str, np.ndarray]:
    """Standard normal context ``X`` (rows ``x_j``), targets ``Y`` and query ``x_test`` (also the Hopfield state)."""
    return {
        "X": rng.standard_normal((n, N, d)),
        "Y": rng.standard_normal((n, N, d_y)),
        "x_test": rng.standard_normal((n, d, 1)),
    }


@functools.cache
def _lemma_closed_form(title: str, label: str | None = None):
    """A lemma of the checked derivation, compiled (its result, or the step labelled ``label``)."""
    lemma = next(lemma for lemma in linear_attention_gd.built_derivation().lemmas if lemma.title == title)
    return compile_closed_form(lemma.expression(label) if label else lemma.result)


def _inner(u, v) -> np.ndarray:
    """``u^T v`` per instance for ``(n, k, 1)`` columns."""
    return (np.asarray(u) * np.asarray(v)).sum(axis=(-2, -1))


def _hopfield_parts(X, x_test, beta) -> dict[str, np.ndarray]:
    """The derived update and the symbols of the derived decrease, evaluated at the state ``xi = x_test``."""
    p = np.exp(log_softmax_weights(X, x_test, beta))
    xi_new = _lemma_closed_form("The Hopfield update is one concave-convex step")(X=X, p=p)
    log_p_new = log_softmax_weights(X, xi_new, beta)
    symbols = {
        "a": _inner(x_test, x_test),
        "b": _inner(xi_new, x_test),
        "c_new": _inner(xi_new, xi_new),
        "h": _inner(p, np.log(p)),
        "h_new": _inner(p, log_p_new),
        "beta": np.asarray(beta, dtype=float),
    }
    return {"xi_new": xi_new, **symbols}


def _decrease(parts) -> np.ndarray:
    """The derived ``E(xi) - E(xi_new)`` (the lemma's step 'decrease') at the evaluated symbols."""
    decrease = _lemma_closed_form("How much one Hopfield update lowers the energy", "decrease")
    return decrease(**{k: parts[k] for k in ("a", "b", "c_new", "h", "h_new", "beta")})


def _assemble(rates, parts, decrease) -> np.ndarray:
    return np.concatenate([rates, parts["xi_new"][..., 0], np.asarray(decrease)[:, None]], axis=1)


def _claim(closed_form, X, x_test, beta, N):
    """``(eta_sum, eta_mean, xi_new, decrease)``: the main closed form ``(1, N)`` beside the Hopfield lemmas' forms."""
    rates = closed_form(N=np.full(len(X), float(N)))
    parts = _hopfield_parts(X, x_test, beta)
    return _assemble(rates, parts, _decrease(parts))


def _explicit_steps_and_energy(X, Y, x_test, beta, device="cpu"):
    """The oracle and its accuracy: step sizes matching the literal attention output with an autograd gradient
    step; the concave-convex step solved numerically; the energies by ``scipy.special.logsumexp``."""
    query = np.swapaxes(x_test, -1, -2)
    O = linear_attention(query, X, Y)
    rates, rate_accuracy = [], []
    for mean in (False, True):
        prediction = query @ one_step_weights(X, Y, mean, device)
        rate = matching_step_size(O, prediction)
        rates.append(rate)
        rate_accuracy.append(step_size_accuracy(X, Y, x_test, prediction, rate))
    xi_new, residual = minimise_surrogate(log_sum_exp_gradient(X, x_test, beta, device))
    decrease = hopfield_energy(X, x_test, beta) - hopfield_energy(X, xi_new, beta)
    update_accuracy, decrease_accuracy = hopfield_accuracy(X, x_test, xi_new, beta, residual)
    values = np.concatenate([np.stack(rates, axis=1), xi_new[..., 0], decrease[:, None]], axis=1)
    accuracy = np.concatenate([np.stack(rate_accuracy, axis=1), update_accuracy[..., 0], decrease_accuracy[:, None]], axis=1)
    return values, accuracy


def _claim_now(X, x_test, beta, N):
    return linear_attention_gd.evaluate_claim(X=X, x_test=x_test, beta=beta, N=N)


def _with_rates(eta_sum, eta_mean):
    """A mutant: the claim with the two step sizes replaced by ``eta_sum(N)`` and ``eta_mean(N)``."""

    def mutant(X, x_test, beta, N):
        claim = _claim_now(X, x_test, beta, N)
        claim[:, 0], claim[:, 1] = eta_sum(N), eta_mean(N)
        return claim

    return mutant


def _with_decrease(wrong):
    """A mutant: the claim with the decrease replaced by ``wrong(parts, decrease)``."""

    def mutant(X, x_test, beta, N):
        claim = _claim_now(X, x_test, beta, N)
        parts = _hopfield_parts(X, x_test, beta)
        claim[:, -1] = wrong(parts, claim[:, -1])
        return claim

    return mutant


def _without_beta(X, x_test, beta, N):
    """The Hopfield step and its energy taken at ``beta = 1`` (``X^T softmax(X xi)``): the inverse temperature lost."""
    claim = _claim_now(X, x_test, beta, N)
    parts = _hopfield_parts(X, x_test, np.ones_like(beta))
    return _assemble(claim[:, :2], parts, _decrease(parts))


def _kl_term(parts) -> np.ndarray:
    return (parts["h"] - parts["h_new"]) / parts["beta"]


def _half_square(parts) -> np.ndarray:
    return (parts["a"] - 2 * parts["b"] + parts["c_new"]) / 2


MUTANTS = {
    "eta = 1/N for the sum loss (the mean loss's answer inverted)": _with_rates(lambda N: 1 / N, lambda N: N),
    "eta = 1/2: the gradient of ||XW - Y||^2 (the loss's 1/2 dropped)": _with_rates(lambda N: 0.5, lambda N: N / 2),
    "eta = 1 for the mean loss too (its 1/N forgotten)": _with_rates(lambda N: 1.0, lambda N: 1.0),
    "gradient ascent: eta = -1": _with_rates(lambda N: -1.0, lambda N: -N),
    "Hopfield step without beta: X^T softmax(X xi)": _without_beta,
    # E_+ = +lse + xi^T xi / 2: its drop is (lse - lse_new) + (a - c_new)/2 = -decrease + a - c_new.
    "energy with +lse (the concave part's sign flipped)": _with_decrease(lambda parts, D: -D + parts["a"] - parts["c_new"]),
    "decrease = ||xi_new - xi||^2 / 2 (the CCCP bound taken as the decrease)": _with_decrease(lambda parts, D: _half_square(parts)),
    "KL term times beta instead of over beta": _with_decrease(
        lambda parts, D: _half_square(parts) + _kl_term(parts) * parts["beta"] ** 2
    ),
}


def _tanh_decrease() -> float:
    """By hand: ``E(v) = -log(2 cosh v) + v^2 / 2`` for the patterns ``+-1``; from ``xi = 1`` to ``tanh 1``."""
    return 0.5 / math.cosh(1) ** 2 + math.log(math.cosh(math.tanh(1)) / math.cosh(1))


ANCHORS = (
    Anchor(
        {"N": 1, "d": 1, "d_y": 1, "beta": 1.0},
        [1.0, 1.0, 2.0, 0.5],
        "worked by hand: X = 2, Y = 3, x_test = 1: O = 6 and one unit step predicts 6 (both losses, N = 1); one "
        "pattern, so p = 1 and xi_new = 2; E(v) = -2v + v^2/2 gives E(1) - E(2) = -3/2 + 2 = 1/2 = (2 - 1)^2 / 2 "
        "(KL 0)",
        rtol=1e-12,
        inputs={"X": [[2.0]], "Y": [[3.0]], "x_test": [[1.0]]},
    ),
    Anchor(
        {"N": 2, "d": 1, "d_y": 1, "beta": 1.0},
        [1.0, 2.0, math.tanh(1), _tanh_decrease()],
        "worked by hand: X = (1, -1), Y = (2, 1), x_test = 1: O = 1; patterns +-1, p = (e, 1/e)/(e + 1/e), so "
        "xi_new = tanh 1; E(v) = -log(2 cosh v) + v^2/2 gives the decrease sech^2(1)/2 + log(cosh(tanh 1)/cosh 1)",
        rtol=1e-12,
        inputs={"X": [[1.0], [-1.0]], "Y": [[2.0], [1.0]], "x_test": [[1.0]]},
    ),
)
"""Two instances worked by hand (the values are exact closed forms evaluated in float64, not the oracle's).

* ``N = d = d_y = 1``: the sum-loss gradient at 0 is ``-x y = -6``, a unit step predicts ``x_test 6 = O``;
  with ``N = 1`` the mean loss is the sum loss. A single pattern has weight 1, so ``xi_new = x_1 = 2``, and
  ``lse(v) = 2v``.
* ``N = 2``, patterns ``+1, -1``, ``beta = 1``: ``lse(v) = log(e^v + e^-v) = log(2 cosh v)``, the update
  ``(e - 1/e)/(e + 1/e) = tanh 1``, ``E(1) - E(tanh 1) = log(cosh(tanh 1)/cosh 1) + (1 - tanh^2 1)/2``.
"""


COUNTEREXAMPLE_X = np.array([[1.0], [-1.0]])
COUNTEREXAMPLE_Y = np.array([[1.0], [1.0]])
COUNTEREXAMPLE_QUERY = np.array([[1.0]])
"""The lemma's counterexample: two context points ``x = 1, -1`` with the same target 1, queried at 1."""


def _example_values(N, d, d_y, beta, X, Y, x_test, device="cpu"):
    """Both parts at the seeded instance, and the counterexample to 'softmax attention is a gradient step'."""
    batch = {"X": X[None], "x_test": x_test[None], "beta": np.array([beta]), "N": N}
    claim = linear_attention_gd.evaluate_claim(**batch)[0]
    query = x_test.T[None]
    O = linear_attention(query, X[None], Y[None])[0, 0]
    step_sum = (query @ one_step_weights(X[None], Y[None], False, device))[0, 0]
    step_mean = (query @ one_step_weights(X[None], Y[None], True, device))[0, 0]
    parts = _hopfield_parts(X[None], x_test[None], np.array([beta]))
    xi_new = parts["xi_new"]
    counter_query = beta * COUNTEREXAMPLE_QUERY  # one feature: 1/sqrt(d_k) = 1, so beta scales the scores
    softmax_counter = scaled_dot_product_attention(counter_query, COUNTEREXAMPLE_X, COUNTEREXAMPLE_Y)[0, 0]
    linear_counter = linear_attention(COUNTEREXAMPLE_QUERY, COUNTEREXAMPLE_X, COUNTEREXAMPLE_Y)[0, 0]
    return {
        "eta_sum": float(claim[0]),
        "eta_mean": float(claim[1]),
        "O": O.tolist(),
        "y_gd": (claim[0] * step_sum).tolist(),
        "y_gd_mean": (claim[1] * step_mean).tolist(),
        "xi": x_test[:, 0].tolist(),
        "xi_new": claim[2 : 2 + d].tolist(),
        "energy": float(hopfield_energy(X[None], x_test[None], [beta])[0]),
        "energy_new": float(hopfield_energy(X[None], xi_new, [beta])[0]),
        "decrease": float(claim[-1]),
        "half_square": float(_half_square(parts)[0]),
        "kl_term": float(_kl_term(parts)[0]),
        "softmax_counterexample": float(softmax_counter),
        "gd_counterexample": float(linear_counter),
    }


linear_attention_gd = Theorem(
    id="linear-attention-gd",
    title="Linear attention as gradient descent, and what softmax attention is instead (Ex. 1.4)",
    topic="icl",
    statement=(
        r"Let $X \in \mathbb{R}^{N \times d}$ hold the context inputs $x_j$ as rows, $Y \in \mathbb{R}^{N \times d_y}$ "
        r"the targets, and $O = (Q K^\top) V = x_{\mathrm{test}}^\top X^\top Y$ the linear-attention output for "
        r"$Q = x_{\mathrm{test}}^\top$, $K = X$, $V = Y$. (1) One gradient step from $W = 0$ on "
        r"$L(W) = \frac12 \lVert X W - Y \rVert^2$ predicts $x_{\mathrm{test}}^\top W_1 = \eta\, O$, which equals "
        r"$O$ exactly when $\eta = 1$ (for $O \ne 0$); on the mean loss $\frac{1}{2N} \lVert X W - Y \rVert^2$ "
        r"exactly when $\eta = N$. (2) Softmax attention $\sum_j \mathrm{softmax}(\beta X x_{\mathrm{test}})_j\, y_j$ is "
        r"the Nadaraya-Watson estimator with the kernel $e^{\beta x \cdot x'}$, not a gradient step on the linear "
        r"model: its weights sum to one, and on $x = (1, -1)$, $y = (1, 1)$, $x_{\mathrm{test}} = 1$ it predicts 1 "
        r"where every gradient step from 0 predicts $\eta \cdot 0 = 0$. Viewed as an optimiser, softmax attention "
        r"whose values are its keys ($V = K = X$) is the Hopfield update "
        r"$\xi \leftarrow X^\top \mathrm{softmax}(\beta X \xi)$, one concave-convex (CCCP) step on "
        r"$E(\xi) = -\mathrm{lse}(\beta, X \xi) + \frac12 \xi^\top \xi$ (the gradient of the concave part "
        r"linearised, the convex part minimised in closed form), which lowers the energy by exactly "
        r"$E(\xi) - E(\xi_{\mathrm{new}}) = \frac12 \lVert \xi_{\mathrm{new}} - \xi \rVert^2 + "
        r"\beta^{-1} \mathrm{KL}(p \,\Vert\, p_{\mathrm{new}}) \ge 0$, $p = \mathrm{softmax}(\beta X \xi)$, "
        r"$p_{\mathrm{new}} = \mathrm{softmax}(\beta X \xi_{\mathrm{new}})$: it never increases $E$."
    ),
    assumptions=(
        r"$O \ne 0$ (otherwise every step size matches); the check draws Gaussian $X$, $Y$, $x_{\mathrm{test}}$, "
        r"for which $O \ne 0$ almost surely",
        r"the Hopfield state is the query, $\xi = x_{\mathrm{test}}$, and the stored patterns are the context inputs "
        r"(Ramsauer et al.'s pattern matrix is $X^\top$ here); constant terms of $E$ are dropped",
        r"sampled: $N \le 12$, $d \le 5$, $d_y \le 3$, $\beta \in [0.1, 10]$; the derivation holds for symbolic "
        r"$N$, $d$, $d_y$, $\beta$",
    ),
    sources=(
        EXERCISE,
        RAMSAUER + ", Theorem 1 and its proof (the update is a CCCP step; the energy decreases)",
        YUILLE,
        VON_OSWALD + " (the mean loss, whose step size is N)",
        "seed 000, hours 1-2 (self-attention as a Nadaraya-Watson kernel estimator)",
    ),
    parameters={
        "N": Integer(1, 12, shape=True, default=8),
        "d": Integer(1, 5, shape=True, default=3),
        "d_y": Integer(1, 3, shape=True, default=1),
        "beta": Real(0.1, 10.0, log=True, default=1.0),
    },
    inputs=_draw,
    derivation=one_step_learning_rate,
    assemble=_claim,
    oracle=_explicit_steps_and_energy,
    mutants=MUTANTS,
    anchors=ANCHORS,
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "the whole budget is the per-entry bound the oracle returns (numerics.icl.linear_attention). Step sizes: "
            "O and the unit step's prediction are sums of at most K = N + d + 8 rounded products, each within "
            "gamma_K |x_test|^T |X|^T |Y| of exact, so the matching step size is within 2 gamma_K ||M|| / ||p|| "
            "(growing as O shrinks), plus gamma for the inner products, doubled. Update: both evaluations form "
            "softmax weights from scores off by gamma_(d+2) beta max|X||xi| (relative weight error rho), then "
            "X^T p; they differ by 2 (rho + gamma_N) |X|^T p, plus the L-BFGS minimiser's distance |zeta - g| "
            "(exact: the surrogate's Hessian is I). Decrease: energies, Gram products and log-weights are sums of "
            "total size S (scores, lse values, norms, p |log p|) in at most K operations, a weight off by rho "
            "moves them by rho S, and the update's error moves the decrease by its slope times that error; both "
            "evaluations, doubled. First order in u = 2^-53."
        ),
    ),
    example={"N": 8, "d": 3, "d_y": 1, "beta": 1.0},
    values=_example_values,
    questions={
        "eta_sum": (
            r"Linear attention with $Q = x_{\mathrm{test}}^\top$, $K = X$, $V = Y$ outputs "
            r"$O = (Q K^\top) V = x_{\mathrm{test}}^\top X^\top Y$. Derive the condition on the learning rate "
            r"$\eta$ under which $O$ equals the prediction $x_{\mathrm{test}}^\top W_1$ after one gradient step "
            r"from $W = 0$ on $L(W) = \frac12 \lVert X W - Y \rVert^2$."
        ),
        "eta_mean": r"What is the condition for the mean loss $\frac{1}{2N} \lVert X W - Y \rVert^2$ instead?",
        "y_gd": r"Check it on the given data: compute $O$ and the one-step prediction.",
        "softmax_counterexample": (
            r"Replace the linear scores by softmax attention $\mathrm{softmax}(\beta\, x_{\mathrm{test}}^\top X^\top) Y$. "
            r"Which estimator is this? Show with $x = (1, -1)$, $y = (1, 1)$, $x_{\mathrm{test}} = 1$ that no "
            r"gradient step from $W = 0$ on the linear model gives the same prediction, whatever $\eta$."
        ),
        "xi_new": (
            r"Can softmax attention be viewed as a different optimiser? Show that the update "
            r"$\xi \leftarrow X^\top \mathrm{softmax}(\beta X \xi)$ is one concave-convex step on "
            r"$E(\xi) = -\mathrm{lse}(\beta, X \xi) + \frac12 \xi^\top \xi$, and compute it from $\xi = x_{\mathrm{test}}$."
        ),
        "decrease": (
            r"Show that the step never increases $E$: compute $E(\xi) - E(\xi_{\mathrm{new}})$ exactly in terms of "
            r"$\lVert \xi_{\mathrm{new}} - \xi \rVert$ and a Kullback-Leibler divergence, and evaluate it here."
        ),
    },
    errata=(
        Erratum(
            source="seed 003",
            section="exercise 1.4, part 1",
            stated=r"the condition on $\eta$ for $O$ to match one step of GD on $L(W) = \frac12 \lVert XW - Y \rVert^2$",
            corrected=(
                r"$\eta = 1$ for this (summed) loss, provided $O = x_{\mathrm{test}}^\top X^\top Y \ne 0$ (at $O = 0$ every "
                r"$\eta$ matches); with the mean loss $\frac{1}{2N} \lVert XW - Y \rVert^2$ of von Oswald et al. the "
                r"condition is $\eta = N$, and a step size of $1/N$ matches neither"
            ),
            refuted_by="eta = 1/N for the sum loss (the mean loss's answer inverted)",
            kind="context",
        ),
    ),
)
