"""``icl-bayesian``: in-context learning as Bayesian inference over a finite set of HMM concepts (Xie et al. 2022).

The claim is the derivation's closed form (:func:`proofs.icl.bayesian.expected_log_joint`, compiled): for every
concept ``theta`` of a random small mixture, ``E[log(pi_theta p_theta(prompt))] = log pi_theta - k (H + D_theta)``
after ``k`` examples of the true concept (index 0; concept 1 in the handout), with ``H`` the entropy of its example distribution and
``D_theta`` the KL divergence from it to concept ``theta``'s; differences give the expected log posterior odds
``log(pi_theta / pi_0) - k D_theta``. The claim's ``H`` and ``D`` come from the examples' distributions summed over
every hidden path. The oracle (:func:`numerics.icl.bayesian.expected_log_joints`) runs the forward algorithm on the
whole delimited prompt as one hidden Markov model: over every prompt (exact expectation) where there are at most
8192 of them; elsewhere on a prompt drawn from the true concept, each example's log likelihood term replaced by its
exact expectation given the examples drawn before it (Rao-Blackwellised). Seed 000, hours 3-4 ("The Bayesian
Perspective").
"""

from __future__ import annotations

import functools

import numpy as np

from checkers.closed_form import compile_closed_form
from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.results import Erratum, Plot
from checkers.sampling import single_instance
from checkers.theorem import Anchor, Theorem
from numerics.icl.bayesian import (
    EXACT_PROMPTS,
    bayes_predictor_error,
    bhattacharyya,
    concentration_figure,
    entropy,
    example_distribution,
    expected_log_joints,
    kl_divergence,
    random_mixtures,
    total_variation,
)
from proofs.icl.bayesian import (
    INDEPENDENT_EXAMPLES,
    POSTERIOR,
    XIE,
    expected_log_joint,
    expected_root_odds,
    wrong_concept_weight,
)

POLICY = Deterministic(
    rtol=1e-11,
    atol=1e-11,
    reason=(
        "the oracle is exact to float64 rounding: where a prompt of k examples has at most 8192 values "
        "(k <= 2 for every shape, up to k = 13 for one-token examples of 2 symbols) it sums over all of them; "
        "elsewhere it scores one drawn prompt with each example's term replaced by its exact expectation given "
        "the examples before it, which does not depend on them (the chain restarts at each delimiter): the drawn "
        "prompt leaves no spread (600 drawn prompts per instance gave identical values at 1000 instances), and a "
        "prompt model with dependent examples would fail here, not pass. The sums over 8192 prompts round the "
        "most: measured at 61 seeds x 1000 instances, |claim - oracle| <= 4e-12 and <= 1.8e-13 |oracle|; "
        "rtol = atol = 1e-11 (atol for components near 0), eight orders below a generated mutant's 1e-3"
    ),
)
"""Deterministic since the Rao-Blackwellised oracle (:func:`numerics.icl.bayesian.rao_blackwell_log_likelihood`) has
no spread here. Plain Monte Carlo (600 drawn prompts, a t test on batch means, stated false alarm 1e-9) raised a false
alarm at seed 34 of 200 sweeps of 300 instances (2 one-state concepts, 2 symbols, examples of 2 tokens, k = 16): the
true concept's rarer token has probability 5e-5, a prompt holding it 1.7e-3, and a third of the sets of 600 prompts
hold none, so their mean misses its share of the expectation (0.017) while their spread shows nothing. Averaging the
same one value 600 times would only add work, and the Statistical policy's pooled square test is not meant for draws
without spread (their rounding residuals, squared, are all positive: its z grows like the square root of the
instances)."""

FIGURE_EXAMPLES = np.arange(0, 25)
FIGURE_DRAWS = 2000
EXAMPLE_DRAWS = 20_000
ODDS_TARGET = 99.0
"""The worked example asks from how many examples on every wrong concept's expected log posterior odds are below log(1/99)."""


# --- the claim: the compiled closed form on the examples' distributions --------------------------------------


def _information(initial, transition, emission, length):
    """The true concept's example entropy ``H (n,)`` and ``D_theta = KL(p_0 || p_theta)`` for every concept ``(n, M)``.

    The example distributions are sums over hidden paths (:func:`numerics.icl.bayesian.example_distribution`).
    """
    examples = example_distribution(initial, transition, emission, length)
    return entropy(examples[:, 0]), kl_divergence(examples[:, :1], examples)


def _per_concept(closed_form, prior, k, H, D):
    """The closed form at every concept's ``pi_theta`` and ``D_theta``: ``(n, M)``."""
    return np.stack([closed_form(pi_theta=prior[:, c], k=k, H=H, D=D[:, c]) for c in range(prior.shape[1])], axis=1)


def _log_joints(closed_form, prior, initial, transition, emission, length, k):
    return _per_concept(closed_form, prior, k, *_information(initial, transition, emission, length))


# --- mutants: plausible wrong claims ------------------------------------------------------------------------


def _closed_form_on(information):
    """A mutant: the true closed form on wrong information quantities ``information(initial, transition, emission, length)``."""

    def mutant(prior, initial, transition, emission, length, k):
        return _per_concept(icl_bayesian.closed_form(), prior, k, *information(initial, transition, emission, length))

    return mutant


def _reversed_divergence(initial, transition, emission, length):
    examples = example_distribution(initial, transition, emission, length)
    return entropy(examples[:, 0]), kl_divergence(examples, examples[:, :1])


def _without_initial_distribution(initial, transition, emission, length):
    """The forward pass started at ``alpha_1 = B[:, x_1]``: the initial distribution left out (weights summing to ``S``)."""
    return _information(np.ones_like(initial), transition, emission, length)


def _independent_tokens(initial, transition, emission, length):
    """Every token of an example treated as independent: entropies and KLs of the per-position marginals, summed."""
    examples = example_distribution(initial, transition, emission, length)
    symbols = emission.shape[-1]
    grid = examples.reshape(examples.shape[:2] + (symbols,) * length)
    positions = [grid.sum(axis=tuple(2 + other for other in range(length) if other != t)) for t in range(length)]
    H = sum(entropy(m[:, 0]) for m in positions)
    D = sum(kl_divergence(m[:, :1], m) for m in positions)
    return H, D


def _odds_rate(rate):
    """A mutant: the log odds fall like ``rate(k) D`` instead of ``k D`` (the entropy term kept)."""

    def mutant(prior, initial, transition, emission, length, k):
        H, D = _information(initial, transition, emission, length)
        k = np.asarray(k, dtype=float)[:, None]
        return np.log(prior) - k * H[:, None] - rate(k) * D

    return mutant


def _without_prior(prior, initial, transition, emission, length, k):
    """The posterior taken proportional to the likelihood alone: the log prior term dropped."""
    information = _information(initial, transition, emission, length)
    return _per_concept(icl_bayesian.closed_form(), np.ones_like(prior), k, *information)


# --- anchors: two mixtures worked by hand ---------------------------------------------------------------------


COINS = {
    "prior": np.array([0.5, 0.5]),
    "initial": np.ones((2, 1)),
    "transition": np.ones((2, 1, 1)),
    "emission": np.array([[[0.5, 0.5]], [[0.25, 0.75]]]),
}
"""Two one-state HMMs, coins: the true one fair, the other ``P(heads) = 1/4``; prior ``(1/2, 1/2)``."""


STICKY = {
    "prior": np.array([1 / 3, 2 / 3]),
    "initial": np.full((2, 2), 0.5),
    "transition": np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.75, 0.25], [0.25, 0.75]]]),
    "emission": np.array([np.eye(2), np.eye(2)]),
}
"""Two two-state chains that emit their state (``B = I``), both started uniformly: the true one forgets its state
(every two-token example has probability 1/4), the other is sticky (``aa``, ``bb``: 3/8; ``ab``, ``ba``: 1/8)."""

ANCHORS = (
    Anchor(
        {"concepts": 2, "states": 1, "symbols": 2, "length": 1, "k": 2},
        [-3 * np.log(2), -np.log(32 / 3)],
        "worked by hand: coins, fair against P(heads) = 1/4, prior (1/2, 1/2): H = log 2, "
        "KL = (1/2) log((1/2)/(1/4)) + (1/2) log((1/2)/(3/4)) = (1/2) log(4/3); after k = 2 tosses "
        "log(1/2) - 2 log 2 = -3 log 2 and -3 log 2 - log(4/3) = -log(32/3)",
        rtol=1e-12,
        inputs=COINS,
    ),
    Anchor(
        {"concepts": 2, "states": 1, "symbols": 2, "length": 1, "k": 32},
        [-33 * np.log(2), -33 * np.log(2) - 16 * np.log(4 / 3)],
        "worked by hand: the same coins after k = 32 tosses, -33 log 2 and -33 log 2 - 16 log(4/3) "
        "(the oracle draws a prompt here: 2^32 prompts)",
        rtol=1e-12,
        inputs=COINS,
    ),
    Anchor(
        {"concepts": 2, "states": 2, "symbols": 2, "length": 2, "k": 3},
        [-np.log(192), np.log(2 / 3) - np.log(64) - 1.5 * np.log(4 / 3)],
        "worked by hand: a memoryless against a sticky two-state chain emitting its state, prior (1/3, 2/3), "
        "two-token examples: H = log 4, KL = sum (1/4) log((1/4)/p_1) = (1/2) log(2/3) + (1/2) log 2 = "
        "(1/2) log(4/3); after k = 3 examples log(1/3) - 3 log 4 = -log 192 and log(2/3) - log 64 - (3/2) log(4/3)",
        rtol=1e-12,
        inputs=STICKY,
    ),
)
"""Three anchors worked by hand at their own mixtures, laid out as the claim (one expected log joint per concept).

* Coins (:data:`COINS`): the fair coin's tosses have ``H = log 2``; ``KL = 1/2 log 2 + 1/2 log(2/3) = 1/2 log(4/3)``.
  With ``pi = (1/2, 1/2)`` and ``k = 2``: ``log(1/2) - 2 log 2 = -3 log 2 = -2.0794415`` and
  ``-3 log 2 - 2 (1/2) log(4/3) = -log(32/3) = -2.3671236``; at ``k = 32``: ``-33 log 2`` and
  ``-33 log 2 - 16 log(4/3)`` (there the oracle scores a drawn prompt: 2^32 of them).
* The sticky chain (:data:`STICKY`): ``p_0`` is uniform on ``aa, ab, ba, bb`` (``H = log 4``), ``p_1`` gives
  ``3/8, 1/8, 1/8, 3/8``, ``KL = 2 (1/4) log(2/3) + 2 (1/4) log 2 = 1/2 log(4/3)``. With ``pi = (1/3, 2/3)`` and
  ``k = 3``: ``log(1/3) - 3 log 4 = -log 192`` and ``log(2/3) - 3 log 4 - (3/2) log(4/3)``.
"""


# --- the worked example and its figure ------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _bound_parts():
    """The lemmas' closed forms, compiled: ``E[sqrt(odds)] = sqrt(pi_theta / pi_*) rho^k`` and the weight bound ``s / 2``."""
    return compile_closed_form(expected_root_odds().result), compile_closed_form(wrong_concept_weight().result)


def _weight_bounds(prior, examples, k):
    """``E[P_theta] <= E[sqrt(odds_theta)] / 2`` for every wrong concept: the lemmas' closed forms at the mixture, ``(n, M - 1)``."""
    root_odds, weight = _bound_parts()
    rho = bhattacharyya(examples[:, :1], examples)
    roots = np.stack(
        [root_odds(**{"pi_theta": prior[:, c], "pi_*": prior[:, 0], "rho": rho[:, c], "k": k})
         for c in range(1, prior.shape[1])],
        axis=1,
    )
    return weight(s=roots.reshape(-1)).reshape(roots.shape)


def _log_odds(prior, D, k):
    """The labelled step ``log_odds`` of the derivation, ``log(pi_theta / pi_*) - k D``, for every wrong concept."""
    log_odds = icl_bayesian.closed_form("log_odds")
    return np.stack(
        [log_odds(**{"pi_theta": prior[:, c], "pi_*": prior[:, 0], "k": k, "D": D[:, c]})
         for c in range(1, prior.shape[1])],
        axis=1,
    )


def _example_values(prior, initial, transition, emission, length, k, seed):
    """The worked example at its mixture: the closed forms (the claim, the labelled log odds, the lemmas' bounds)
    and, from the forward algorithm, the Bayes predictor's posterior weight and total variation."""
    batch = {"prior": prior[None], "initial": initial[None], "transition": transition[None], "emission": emission[None]}
    H, D = _information(batch["initial"], batch["transition"], batch["emission"], length)
    examples = example_distribution(batch["initial"], batch["transition"], batch["emission"], length)
    ks = np.array([k], dtype=float)
    log_odds = _log_odds(batch["prior"], D, ks)[0]
    horizon = np.arange(0, 10_000, dtype=float)
    below = np.all(_log_odds(np.repeat(batch["prior"], len(horizon), 0), np.repeat(D, len(horizon), 0), horizon)
                   <= -np.log(ODDS_TARGET), axis=1)
    weights = _weight_bounds(batch["prior"], examples, ks)[0]
    tv = total_variation(examples[:, :1], examples)[0, 1:]
    posterior_true, tv_bayes = bayes_predictor_error(**batch, length=length, k=k, draws=EXAMPLE_DRAWS,
                                                      rng=np.random.default_rng((seed, 1)))
    return {
        "prior": prior,
        "initial": initial,
        "transition": transition,
        "emission": emission,
        "H": float(H[0]),
        "KL": D[0, 1:],
        "log_joint": icl_bayesian.evaluate_claim(**batch, length=length, k=ks)[0],
        "log_odds": log_odds,
        "examples_needed": int(horizon[np.argmax(below)]) if below.any() else -1,
        "rho": bhattacharyya(examples[:, :1], examples)[0, 1:],
        "posterior_true": float(posterior_true[0]),
        "posterior_bound": float(1 - weights.sum()),
        "tv_bayes": float(tv_bayes[0]),
        "tv_bound": float(np.sum(tv * weights)),
        "prompts": float(emission.shape[-1]) ** (length * k),
        "exact": bool(float(emission.shape[-1]) ** (length * k) <= EXACT_PROMPTS),
    }


def _figures(seed, concepts, states, symbols, length, k):
    """The worked example's mixture for k = 0, ..., 24: the closed-form log odds against the forward algorithm's, and the
    Bayes predictor's posterior weight and total variation against the lemmas' bounds."""
    params = {"concepts": concepts, "states": states, "symbols": symbols, "length": length, "k": k}
    mixture = single_instance(icl_bayesian, params, seed).inputs
    many = {name: np.repeat(value, len(FIGURE_EXAMPLES), axis=0) for name, value in mixture.items()}
    ks = FIGURE_EXAMPLES.astype(float)
    _, D = _information(many["initial"], many["transition"], many["emission"], length)
    rng = np.random.default_rng((seed, 2))
    joints = expected_log_joints(**many, length=length, k=FIGURE_EXAMPLES, rng=rng)
    predictor = np.array([bayes_predictor_error(**mixture, length=length, k=int(n), draws=FIGURE_DRAWS, rng=rng)
                          for n in FIGURE_EXAMPLES])[:, :, 0]
    examples = example_distribution(many["initial"], many["transition"], many["emission"], length)
    weights = _weight_bounds(many["prior"], examples, ks)
    tv_bound = np.sum(total_variation(examples[:, :1], examples)[:, 1:] * weights, axis=1)
    figure = concentration_figure(FIGURE_EXAMPLES, _log_odds(many["prior"], D, ks), joints[:, 1:] - joints[:, :1],
                                  predictor[:, 0], 1 - weights.sum(axis=1), predictor[:, 1], tv_bound)
    caption = (
        f"A random mixture of {concepts} concepts ({states} hidden states, {symbols} symbols, examples of {length} "
        f"tokens; seed {seed}); concept 1 is the true one. Left: the expected log posterior odds of each other concept "
        "against it, the closed form log(prior odds) - k KL (lines) and the forward algorithm on prompts (points: exact "
        f"over all prompts up to {EXACT_PROMPTS} of them, else on one drawn prompt with each example's term replaced by "
        "its expectation given the examples before it). Right: the expected posterior weight of the true concept above "
        "its lower bound "
        "1 - sum sqrt(prior odds) rho^k / 2, and the Bayes predictor's expected total variation to the true concept's "
        "example distribution below its upper bound sum TV rho^k sqrt(prior odds) / 2."
    )
    return [Plot(name="concentration", caption=caption, figure=figure)]


icl_bayesian = Theorem(
    id="icl-bayesian",
    title="In-context learning as Bayesian inference: the posterior concentrates at the KL rate",
    topic="icl",
    statement=(
        r"A prior $\pi$ over $M$ concepts, each a hidden Markov model; an in-context example is a sequence of "
        r"fixed length from one concept, and a prompt is $k$ examples of the true concept $\theta_*$ separated by "
        r"delimiters. Let $p$ be the true concept's distribution of one example, $q = p_\theta$ a concept's, "
        r"$H = H(p)$ and $D_\theta = \mathrm{KL}(p \,\|\, q)$. The posterior odds of $\theta$ against $\theta_*$ are "
        r"the prior odds times the likelihood ratio (the evidence cancels), and in expectation over the prompt "
        r"$E\big[\log \tfrac{p(\theta \mid x_{1:k})}{p(\theta_* \mid x_{1:k})}\big] = \log \tfrac{\pi_\theta}{\pi_*} - k\, D_\theta$: "
        r"linear in $k$ with slope minus the per-example KL divergence, so the posterior concentrates on $\theta_*$. "
        r"Equivalently $E[\log \pi_\theta\, p_\theta(x_{1:k})] = \log \pi_\theta - k\,(H + D_\theta)$ for every "
        r"concept (the form checked; $D_{\theta_*} = 0$). The Bayes predictor of the next example is the posterior "
        r"mixture $\sum_\theta p(\theta \mid x_{1:k})\, p_\theta$, and its total variation to $p$ satisfies "
        r"$E[\mathrm{TV}] \le \tfrac12 \sum_{\theta \ne \theta_*} \mathrm{TV}(p, p_\theta) \sqrt{\pi_\theta / \pi_*}\, \rho_\theta^k$, "
        r"$\rho_\theta = \sum_x \sqrt{p(x)\, p_\theta(x)} < 1$: it approaches the true concept's exponentially fast."
    ),
    assumptions=(
        INDEPENDENT_EXAMPLES,
        POSTERIOR,
        r"the check draws random mixtures: prior and every row of every initial, transition and emission matrix "
        r"uniform on its simplex (Dirichlet(1)); concept 1 is the true one; the delimiter is a token of its own",
        r"the total-variation bound combines the lemmas by $\mathrm{TV}(p, \sum_\theta P_\theta p_\theta) \le "
        r"\sum_{\theta \ne \theta_*} P_\theta\, \mathrm{TV}(p, p_\theta)$ (the triangle inequality) and the linearity of "
        r"the expectation; the tests and the worked example check it by exact enumeration, the numeric check "
        r"of \texttt{verify} compares the equality",
    ),
    sources=(
        f"{XIE}: the pretraining mixture of HMMs, the prompt of independent delimited examples, the in-context "
        "predictor as the posterior predictive, and Theorem 1 (a distinguishable concept: the KL divergence between "
        "the examples' distributions drives the posterior to the prompt's concept)",
        "seed 000, hours 3-4 (The Bayesian Perspective)",
    ),
    parameters={
        "concepts": Integer(2, 4, shape=True, default=3),
        "states": Integer(1, 3, shape=True, default=2),
        "symbols": Integer(2, 5, shape=True, default=3),
        "length": Integer(1, 2, shape=True, default=2),
        "k": Integer(0, 32, default=4),
    },
    inputs=random_mixtures,
    derivation=expected_log_joint,
    assemble=_log_joints,
    oracle=expected_log_joints,
    mutants={
        "KL(p_theta || p): the divergence reversed": _closed_form_on(_reversed_divergence),
        "log odds fall like k^2 KL": _odds_rate(lambda k: k**2),
        "log odds fall like sqrt(k) KL": _odds_rate(np.sqrt),
        "prior left out (posterior proportional to the likelihood)": _without_prior,
        "forward pass without the initial distribution (alpha_1 = B[:, x_1])": _closed_form_on(_without_initial_distribution),
        "tokens of an example independent (per-position KLs summed)": _closed_form_on(_independent_tokens),
    },
    tolerance=POLICY,
    anchors=ANCHORS,
    values=_example_values,
    figures=_figures,
    questions={
        "log_odds": (
            r"A prior $\pi$ over concepts, each a hidden Markov model; a prompt is $k$ examples of fixed length from the "
            r"true concept $\theta_*$, independent given the concept. Show that the log posterior odds of a concept "
            r"$\theta$ against $\theta_*$ are the log prior odds plus a sum of per-example log-likelihood ratios, and "
            r"that their expectation is $\log(\pi_\theta / \pi_*) - k\, \mathrm{KL}(p_{\theta_*} \,\|\, p_\theta)$."
        ),
        "KL": (
            r"Write the probability of one example as a sum over hidden paths. For a random mixture of the given sizes "
            r"(prior and every row of every matrix uniform on its simplex; concept 1 the true one), list the $V^L$ "
            r"possible examples and compute the entropy $H$ of the true concept's and the KL divergence from it to "
            r"each other concept's."
        ),
        "examples_needed": (
            r"From how many examples on are the expected log posterior odds of every wrong concept below $\log(1/99)$?"
        ),
        "tv_bound": (
            r"Show that the Bayes predictor of the next example is the posterior mixture of the concepts' predictions, "
            r"that a wrong concept's posterior weight is at most half the square root of its odds, and bound the "
            r"predictor's expected total variation to the true concept's example distribution; compare the bound with "
            r"the exact value over all prompts of $k$ examples."
        ),
    },
    errata=(
        Erratum(
            source="seed 000",
            section="hours 3-4, The Bayesian Perspective",
            stated=r"Xie et al. (2022) proof of In-Context Learning as implicit Bayesian Inference over latent HMM concepts.",
            corrected=(
                r"What is proved concerns the Bayes predictor of the pretraining mixture: its posterior over concepts "
                r"concentrates on the prompt's concept as the number of examples $k$ grows (for a distinguishable concept, "
                r"at the rate of the per-example KL divergence: $E[\log \text{odds}] = \log(\pi_\theta / \pi_*) - k\, "
                r"\mathrm{KL}$ here), so its predictions approach the true concept's. A trained language model does "
                r"in-context learning this way only insofar as it matches the pretraining distribution, which Xie et al. "
                r"assume; and with finitely many examples a wrong concept keeps a positive posterior weight, typically "
                r"about $(\pi_\theta / \pi_*)\, e^{-k\, \mathrm{KL}}$"
            ),
            evidence=(
                "the expected log posterior odds log(pi_theta/pi_*) - k KL checked against the forward algorithm on "
                "random HMM mixtures (finite for every k); Xie et al. 2022 assume that the language model fits the "
                "pretraining distribution"
            ),
            kind="context",
        ),
    ),
)
