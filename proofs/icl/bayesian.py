"""In-context learning as implicit Bayesian inference over a finite set of concepts (SymPy only).

Xie, Raghunathan, Liang, Ma 2022 (ICLR), An Explanation of In-context Learning as Implicit Bayesian
Inference. A prior ``pi`` over concepts; given a concept ``theta`` the ``k`` in-context examples
``x_1, ..., x_k`` are independent draws from its example distribution ``p_theta`` (an HMM sequence of
fixed length; the delimiter restarts the hidden chain). The true concept is ``theta_*``, with example
distribution ``p``; a concept ``theta`` has ``q``; ``xi`` runs over the ``N`` possible examples.

* :func:`posterior_odds`: Bayes' rule; the evidence cancels and the log posterior odds are the log prior
  odds plus a sum of per-example log-likelihood ratios.
* :func:`true_concept_log_joint`: ``E[log pi_* p(x_1..x_k)] = log pi_* - k H(p)``.
* :func:`expected_log_joint` (the theorem): ``E[log odds_k] = log(pi_theta / pi_*) - k KL(p || q)``, and
  with the lemma above ``E[log pi_theta q(x_1..x_k)] = log pi_theta - k (H + KL)``.
* :func:`bayes_predictive`: the Bayes predictor of the next example is the posterior mixture of the
  concepts' predictions.
* :func:`wrong_concept_weight` and :func:`expected_root_odds`: a wrong concept's posterior weight is at
  most half the square root of its odds, whose expectation is ``sqrt(pi_theta / pi_*) rho^k`` with
  ``rho = sum sqrt(p q)`` (Bhattacharyya): the Bayes predictor approaches the true concept exponentially.

Expectations are over ``x_1, ..., x_k`` drawn independently from ``p`` (the true concept). Taking one is the
only step no SymPy rule covers; it is a custom step (linearity, or the product of independent factors).
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, custom, expand, lemma, rewrite, substitute

XIE = (
    "Xie, Raghunathan, Liang, Ma 2022, An Explanation of In-context Learning as Implicit Bayesian Inference "
    "(ICLR 2022; arXiv:2111.02080)"
)

k = sp.Symbol("k", integer=True, nonnegative=True)
i = sp.Symbol("i", integer=True, positive=True)
xi = sp.Symbol("xi", integer=True, positive=True)
N = sp.Symbol("N", integer=True, positive=True)
x = sp.IndexedBase("x", integer=True, positive=True)
p = sp.IndexedBase("p", positive=True)
q = sp.IndexedBase("q", positive=True)

pi_theta, pi_star, Z = sp.symbols("pi_theta pi_* Z", positive=True)
P_theta, P_star = sp.symbols("P_theta P_*", positive=True)
H, D = sp.symbols("H D", nonnegative=True)
rho = sp.Symbol("rho", positive=True)

INDEPENDENT_EXAMPLES = (
    r"given the concept $\theta$, the examples $x_1, \dots, x_k$ are independent with distribution $p_\theta$ "
    r"(each an HMM sequence of fixed length; the delimiter after it restarts the hidden chain from the "
    r"concept's initial distribution), so $p_\theta(x_1, \dots, x_k) = \prod_i p_\theta(x_i)$"
)
TRUE_CONCEPT = (
    r"the prompt is drawn from the true concept $\theta_*$: $x_i \sim p = p_{\theta_*}$; a concept $\theta$ "
    r"has $q = p_\theta$; $\xi$ runs over the $N$ possible examples; every probability is positive"
)
POSTERIOR = (
    r"$P_\theta = p(\theta \mid x_1, \dots, x_k) = \pi_\theta\, p_\theta(x_1, \dots, x_k) / Z$ with the evidence "
    r"$Z = p(x_1, \dots, x_k) = \sum_{\theta'} \pi_{\theta'}\, p_{\theta'}(x_1, \dots, x_k)$ (Bayes' rule)"
)


def _expectation_of_sums(expression: sp.Expr) -> sp.Expr:
    """``E[sum_i f(x_i)] = k sum_xi p(xi) f(xi)``: linearity, and every ``x_i`` has distribution ``p``."""
    return expression.replace(
        lambda e: isinstance(e, sp.Sum) and tuple(e.variables) == (i,),
        lambda e: (e.limits[0][2] - e.limits[0][1] + 1) * sp.Sum(p[xi] * e.function.subs(x[i], xi), (xi, 1, N)),
    )


def _expectation_of_products(expression: sp.Expr) -> sp.Expr:
    """``E[prod_i g(x_i)] = prod_i E[g(x_i)] = (sum_xi p(xi) g(xi))^k``: the examples are independent."""
    return expression.replace(
        lambda e: isinstance(e, sp.Product) and tuple(e.variables) == (i,),
        lambda e: sp.Sum(p[xi] * e.function.subs(x[i], xi), (xi, 1, N)) ** (e.limits[0][2] - e.limits[0][1] + 1),
    )


def _likelihood(distribution: sp.IndexedBase) -> sp.Product:
    return sp.Product(distribution[x[i]], (i, 1, k))


def posterior_odds() -> Derivation:
    """``log(P_theta / P_*) = log(pi_theta / pi_*) + sum_i log(q(x_i) / p(x_i))``.

    Bayes' rule gives each posterior as prior times likelihood over the evidence ``Z``; ``Z`` is the same for
    every concept and cancels in the odds, and the likelihood of independent examples is a product, whose
    logarithm is a sum of per-example log-likelihood ratios. Xie et al. 2022 (the posterior over concepts
    given the prompt, in their analysis of the in-context predictor).
    """
    return (
        Derivation(
            "Bayes' rule for the posterior odds of independent examples",
            sp.log(P_theta / P_star),
            start_note=r"the log posterior odds of a concept $\theta$ against the true concept $\theta_*$",
            assumptions=(INDEPENDENT_EXAMPLES, POSTERIOR),
        )
        .then(
            substitute(
                {P_theta: pi_theta * _likelihood(q) / Z, P_star: pi_star * _likelihood(p) / Z},
                why="Bayes' rule with the likelihood of independent examples",
            ),
            sp.log(pi_theta * _likelihood(q) / (pi_star * _likelihood(p))),
            note=r"the evidence $Z$ is common to all concepts and cancels",
        )
        .then(
            expand(r"the logarithm of a product of positive factors"),
            sp.log(pi_theta) - sp.log(pi_star)
            + sp.Sum(sp.log(q[x[i]]), (i, 1, k)) - sp.Sum(sp.log(p[x[i]]), (i, 1, k)),
        )
        .then(
            rewrite("gather the prior odds and the per-example log-likelihood ratios"),
            sp.log(pi_theta / pi_star) + sp.Sum(sp.log(q[x[i]] / p[x[i]]), (i, 1, k)),
            note=r"log prior odds plus $\sum_i \ell(x_i)$, $\ell = \log(q / p)$",
        )
    )


def true_concept_log_joint() -> Derivation:
    """``E[log(pi_* p(x_1..x_k))] = log pi_* - k H(p)``, ``H(p) = -sum_xi p(xi) log p(xi)``."""
    return (
        Derivation(
            "Expected log joint probability of the true concept",
            sp.log(pi_star * _likelihood(p)),
            start_note=r"$\log\big(\pi_* \, p(x_1, \dots, x_k)\big)$ for independent examples",
            assumptions=(INDEPENDENT_EXAMPLES, TRUE_CONCEPT),
        )
        .then(
            expand("the logarithm of a product of positive factors"),
            sp.log(pi_star) + sp.Sum(sp.log(p[x[i]]), (i, 1, k)),
        )
        .then(
            custom(r"take the expectation over $x_i \sim p$: linearity, each of the $k$ terms has mean "
                   r"$\sum_\xi p(\xi) \log p(\xi)$", _expectation_of_sums),
            sp.log(pi_star) + k * sp.Sum(p[xi] * sp.log(p[xi]), (xi, 1, N)),
        )
        .then(
            substitute({sp.Sum(p[xi] * sp.log(p[xi]), (xi, 1, N)): -H}, why=r"the entropy $H = H(p)$ of an example"),
            sp.log(pi_star) - k * H,
        )
    )


def expected_log_joint() -> Derivation:
    """``E[log odds_k] = log(pi_theta / pi_*) - k KL(p || q)`` and ``E[log(pi_theta q(x_1..x_k))] = log pi_theta - k (H + KL)``.

    The log posterior odds of a concept against the true one fall linearly in the number of examples, at the
    rate of the per-example KL divergence from the true concept's example distribution to the concept's
    (labelled ``log_odds``). Adding the true concept's own expected log joint (:func:`true_concept_log_joint`)
    gives each concept's expected log joint probability, the closed form (in ``pi_theta``, ``k``, ``H``, ``D``)
    that the checker compares: its two terms have one sign, so nothing cancels in floating point. For the true
    concept ``q = p`` and ``D = 0``. Xie et al. 2022, Theorem 1 (the distinguishable case: the KL
    divergence between the prompt examples' distributions decides whether the posterior concentrates on ``theta_*``).
    """
    odds = posterior_odds()
    log_ratio = sp.Sum(p[xi] * sp.log(q[xi] / p[xi]), (xi, 1, N))
    kl = sp.Sum(p[xi] * sp.log(p[xi] / q[xi]), (xi, 1, N))
    return (
        Derivation(
            "Expected log posterior odds after k in-context examples",
            odds.start,
            start_note=r"the log posterior odds of a concept $\theta$ against the true concept, after $k$ examples",
            assumptions=(INDEPENDENT_EXAMPLES, TRUE_CONCEPT, POSTERIOR),
            lemmas=(odds, true_concept_log_joint(), bayes_predictive(), wrong_concept_weight(), expected_root_odds()),
        )
        .then(lemma(odds), odds.result)
        .then(
            custom(r"take the expectation over $x_i \sim p$: linearity, each of the $k$ log-likelihood ratios has "
                   r"mean $\sum_\xi p(\xi) \log(q(\xi) / p(\xi))$", _expectation_of_sums),
            sp.log(pi_theta / pi_star) + k * log_ratio,
        )
        .then(rewrite(r"$\log(q / p) = -\log(p / q)$"), sp.log(pi_theta / pi_star) - k * kl)
        .then(
            substitute({kl: D}, why=r"the KL divergence $D = \mathrm{KL}(p \,\|\, q)$ of one example"),
            sp.log(pi_theta / pi_star) - k * D,
            note=r"$E[\log \text{odds}_k] = \log(\pi_\theta / \pi_*) - k\, \mathrm{KL}(p \,\|\, q)$: linear in $k$, slope $-\mathrm{KL}$",
            label="log_odds",
        )
        .then(
            apply_map(
                lambda log_odds: log_odds + sp.log(pi_star) - k * H,
                why=r"add $E[\log \pi_*\, p(x_1, \dots, x_k)] = \log \pi_* - k H$ (the lemma on the true concept)",
            ),
            sp.log(pi_theta) - k * (H + D),
            note=r"$E[\log \pi_\theta\, q(x_1, \dots, x_k)]$: the cross-entropy $H + \mathrm{KL}$ per example",
        )
    )


theta = sp.Symbol("theta", integer=True, positive=True)
M = sp.Symbol("M", integer=True, positive=True)
prior = sp.IndexedBase("pi", positive=True)
L = sp.IndexedBase("L", positive=True)
r = sp.IndexedBase("r", positive=True)


def bayes_predictive() -> Derivation:
    """``p(x_(k+1) | x_1..x_k) = sum_theta (pi_theta L_theta / Z) r_theta``: the posterior mixture of the concepts' predictions.

    ``L_theta = p_theta(x_1..x_k)``, ``r_theta = p_theta(x_(k+1))`` and, by independence given the concept,
    ``p_theta(x_1..x_(k+1)) = L_theta r_theta``; the bracket is the posterior ``P_theta`` (Bayes' rule).
    Xie et al. 2022 (the in-context predictor as the posterior predictive of the pretraining mixture).
    """
    evidence = sp.Sum(prior[theta] * L[theta], (theta, 1, M))
    return (
        Derivation(
            "The Bayes predictor is the posterior mixture",
            sp.Sum(prior[theta] * L[theta] * r[theta], (theta, 1, M)) / evidence,
            start_note=r"$p(x_{k+1} \mid x_1, \dots, x_k) = p(x_1, \dots, x_{k+1}) / p(x_1, \dots, x_k)$, "
            r"each a mixture over the $M$ concepts",
            assumptions=(INDEPENDENT_EXAMPLES, POSTERIOR),
        )
        .then(
            substitute({evidence: Z}, why=r"the evidence $Z = p(x_1, \dots, x_k)$"),
            sp.Sum(prior[theta] * L[theta] * r[theta], (theta, 1, M)) / Z,
        )
        .then(
            rewrite(r"$Z$ does not depend on $\theta$: move it into the sum"),
            sp.Sum(prior[theta] * L[theta] / Z * r[theta], (theta, 1, M)),
            note=r"$\sum_\theta P_\theta\, p_\theta(x_{k+1})$: each concept's prediction weighted by its posterior",
        )
    )


s, R = sp.symbols("s R", nonnegative=True)


def wrong_concept_weight() -> Derivation:
    """``P_theta = s^2 / (1 + s^2 + R) <= s^2 / (1 + s^2) <= s / 2`` with ``s^2`` the odds of ``theta`` against ``theta_*``.

    Dividing by ``P_*`` writes a wrong concept's posterior weight through the odds ``s^2 = P_theta / P_*`` and
    ``R``, the other wrong concepts' odds; ``1 + s^2 >= 2 s`` (AM-GM) gives the last step.
    """
    return (
        Derivation(
            "A wrong concept's posterior weight is at most half the square root of its odds",
            s**2 / (1 + s**2 + R),
            start_note=r"$P_\theta = \frac{P_\theta / P_*}{1 + \sum_{\theta' \ne \theta_*} P_{\theta'} / P_*}$ with "
            r"$s^2 = P_\theta / P_*$ and $R \ge 0$ the other wrong concepts' odds",
            assumptions=(POSTERIOR,),
        )
        .then(rewrite(r"drop $R \ge 0$ from the denominator"), s**2 / (1 + s**2), relation="<=")
        .then(rewrite(r"$1 + s^2 \ge 2 s$"), s / 2, relation="<=")
    )


def expected_root_odds() -> Derivation:
    """``E[sqrt(P_theta / P_*)] = sqrt(pi_theta / pi_*) rho^k``, ``rho = sum_xi sqrt(p(xi) q(xi))`` (Bhattacharyya).

    The square root of the odds is ``sqrt(pi_theta / pi_*)`` times a product of independent per-example factors
    (:func:`posterior_odds`, exponentiated and halved), and the expectation of such a product is the product of
    the expectations. ``rho < 1`` unless ``q = p``, so this decays exponentially in ``k``.
    """
    return (
        Derivation(
            "Expected square root of the posterior odds",
            sp.sqrt(pi_theta / pi_star) * sp.Product(sp.sqrt(q[x[i]] / p[x[i]]), (i, 1, k)),
            start_note=r"$\sqrt{P_\theta / P_*}$, from the posterior odds (lemma) for independent examples",
            assumptions=(INDEPENDENT_EXAMPLES, TRUE_CONCEPT),
        )
        .then(
            custom(r"take the expectation over independent $x_i \sim p$: the expectation of a product of independent "
                   r"factors is the product of their expectations", _expectation_of_products),
            sp.sqrt(pi_theta / pi_star) * sp.Sum(sp.sqrt(p[xi] * q[xi]), (xi, 1, N)) ** k,
            note=r"$p \sqrt{q / p} = \sqrt{p q}$ for positive $p, q$",
        )
        .then(
            substitute({sp.Sum(sp.sqrt(p[xi] * q[xi]), (xi, 1, N)): rho}, why=r"the Bhattacharyya coefficient $\rho$ of $p$ and $q$"),
            sp.sqrt(pi_theta / pi_star) * rho**k,
        )
    )
