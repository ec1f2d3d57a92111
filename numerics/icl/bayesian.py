"""In-context learning as Bayesian inference over a finite set of HMM concepts (numpy only; no closed forms).

Xie, Raghunathan, Liang, Ma 2022 (ICLR), An Explanation of In-context Learning as Implicit Bayesian
Inference. A *concept* is a small hidden Markov model: an initial distribution over ``states`` hidden
states, a transition matrix and an emission matrix over ``symbols`` tokens. An in-context *example* is
``length`` tokens drawn from one concept, its hidden chain started afresh from the initial distribution;
a *prompt* is ``k`` examples, each followed by a delimiter token (token number ``symbols``).

Two computations of the same quantities that share no code:

* the distribution of one example, by summing over every hidden path (:func:`example_distribution`),
  and the information quantities of such distributions (:func:`entropy`, :func:`kl_divergence`,
  :func:`bhattacharyya`, :func:`total_variation`): what the closed forms of the theorem take;
* the whole prompt as one hidden Markov model over the concatenated tokens (:func:`prompt_hmm`: the
  hidden state also carries the position in the example, and the delimiter's state sends the chain back
  to the initial distribution), the scaled forward algorithm on it (:func:`forward_log_likelihood`),
  prompts listed (:func:`all_prompts`) or drawn as the prompt distribution defines them
  (:func:`sample_prompts`), each example's expected log likelihood given the prompt before it
  (:func:`rao_blackwell_log_likelihood`, with the backward algorithm over the next example,
  :func:`next_example_chance`), and from those the concepts' expected log joint probabilities
  (:func:`expected_log_joints`) and the Bayes predictor's error (:func:`bayes_predictor_error`): what the
  oracle takes. The forward algorithm scores the prompt token by token and is never told that the examples
  are independent.

Arrays: a batch of ``n`` mixtures of ``M`` concepts has ``prior (n, M)``, ``initial (n, M, S)``,
``transition (n, M, S, S)`` (rows sum to one) and ``emission (n, M, S, V)``. Concept 0 is the true one.
"""

from __future__ import annotations

import itertools

import numpy as np

EXACT_PROMPTS = 8192
"""Up to this many possible prompts the oracle lists them all and takes the exact expectation; above, it draws one."""


def random_mixtures(rng: np.random.Generator, n: int, concepts: int, states: int, symbols: int) -> dict[str, np.ndarray]:
    """``n`` random mixtures: the prior and every row of every concept's matrices uniform on the simplex (Dirichlet(1))."""
    return {
        "prior": rng.dirichlet(np.ones(concepts), size=n),
        "initial": rng.dirichlet(np.ones(states), size=(n, concepts)),
        "transition": rng.dirichlet(np.ones(states), size=(n, concepts, states)),
        "emission": rng.dirichlet(np.ones(symbols), size=(n, concepts, states)),
    }


# --- one example: the sum over hidden paths ---------------------------------------------------------------


def example_distribution(initial, transition, emission, length: int) -> np.ndarray:
    """``p(x) = sum_h pi(h_1) B(h_1, x_1) prod_t A(h_(t-1), h_t) B(h_t, x_t)`` for every example ``x``.

    A literal sum over all ``S^length`` hidden paths (no recursion), for each concept of the batch:
    ``initial (..., S)``, ``transition (..., S, S)``, ``emission (..., S, V)`` give ``(..., V^length)``,
    the examples in lexicographic order (the first token most significant).
    """
    initial, transition, emission = (np.asarray(a, dtype=float) for a in (initial, transition, emission))
    states, symbols = emission.shape[-2:]
    total = np.zeros(emission.shape[:-2] + (symbols**length,))
    for path in itertools.product(range(states), repeat=length):
        weight = initial[..., path[0]]
        tokens = emission[..., path[0], :]
        for before, after in zip(path, path[1:]):
            weight = weight * transition[..., before, after]
            # the outer product with the next token's emission row: one more token in the example
            tokens = (tokens[..., :, None] * emission[..., after, None, :]).reshape(*tokens.shape[:-1], -1)
        total += weight[..., None] * tokens
    return total


def entropy(p) -> np.ndarray:
    """``H(p) = -sum_x p(x) log p(x)`` in nats over the last axis (``0 log 0 = 0``)."""
    p = np.asarray(p, dtype=float)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def kl_divergence(p, q) -> np.ndarray:
    """``KL(p || q) = sum_x p(x) log(p(x) / q(x))`` in nats over the last axis (terms with ``p(x) = 0`` are 0)."""
    p, q = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(q, dtype=float))
    support = p > 0
    with np.errstate(divide="ignore"):
        ratio = np.log(np.where(support, p, 1.0)) - np.log(np.where(support, q, 1.0))
    return np.sum(np.where(support, p * ratio, 0.0), axis=-1)


def bhattacharyya(p, q) -> np.ndarray:
    """``rho(p, q) = sum_x sqrt(p(x) q(x))`` over the last axis (1 when ``p = q``)."""
    return np.sum(np.sqrt(np.asarray(p, dtype=float) * np.asarray(q, dtype=float)), axis=-1)


def total_variation(p, q) -> np.ndarray:
    """``TV(p, q) = 1/2 sum_x |p(x) - q(x)|`` over the last axis."""
    return 0.5 * np.sum(np.abs(np.asarray(p, dtype=float) - np.asarray(q, dtype=float)), axis=-1)


# --- the prompt as one hidden Markov model --------------------------------------------------------------


def prompt_hmm(initial, transition, emission, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hidden Markov model that emits a whole prompt ``x^1 / x^2 / ... / x^k /`` (``/`` the delimiter).

    Hidden state ``t S + s`` is "hidden state ``s`` at position ``t`` of an example" and the last state,
    ``S length``, emits the delimiter (token ``V``) with probability 1. Inside an example the chain moves
    by the concept's transition matrix; after position ``length - 1`` it goes to the delimiter's state,
    and from there back to position 0 with the initial distribution. Returns ``(start, step, emit)`` of
    shapes ``(..., S')``, ``(..., S', S')`` and ``(..., S', V + 1)``, ``S' = S length + 1``.
    """
    initial, transition, emission = (np.asarray(a, dtype=float) for a in (initial, transition, emission))
    batch = emission.shape[:-2]
    states, symbols = emission.shape[-2:]
    delimiter = states * length
    size = delimiter + 1
    start = np.zeros(batch + (size,))
    step = np.zeros(batch + (size, size))
    emit = np.zeros(batch + (size, symbols + 1))
    start[..., :states] = initial
    for t in range(length):
        here = slice(t * states, (t + 1) * states)
        emit[..., here, :symbols] = emission
        if t + 1 < length:
            step[..., here, (t + 1) * states : (t + 2) * states] = transition
        else:
            step[..., here, delimiter] = 1.0
    step[..., delimiter, :states] = initial
    emit[..., delimiter, symbols] = 1.0
    return start, step, emit


RESCALE_EVERY = 4
"""The forward algorithm renormalises every 4 tokens: in between, the forward vector's mass shrinks by the product
of at most 4 token probabilities, which stays far above float64's smallest normal number (about 1e-308) unless a
token's probability is below 1e-77 (exactly 0 gives ``-inf``, as it should). Renormalising every token took 60%
more time in the oracle's forward passes; the results differ only by rounding (at most 2e-14 relative on the
check's exact groups)."""


def _emission_rows(emit):
    """``emit (n, M, S', V')`` as a table whose row ``(i M + m) V' + v`` is model ``m``'s emission column for token
    ``v`` at instance ``i``, and those rows for ``v = 0``, ``(n, M, 1)``: the columns of a token are one ``np.take``."""
    n, models, size, width = emit.shape
    table = np.swapaxes(emit, -1, -2).reshape(-1, size)
    return table, (np.arange(n)[:, None, None] * models + np.arange(models)[None, :, None]) * width


def forward_log_likelihood(tokens, start, step, emit) -> np.ndarray:
    """The scaled forward algorithm: ``log p(tokens[i, j])`` under every model.

    ``tokens (n, P, T)`` are ``P`` token sequences per instance; ``start (n, M, S')``, ``step (n, M, S', S')``
    and ``emit (n, M, S', V')`` are ``M`` models per instance. Returns ``(n, P, M)``. The forward vector is
    renormalised every :data:`RESCALE_EVERY` tokens and after the last, the logarithms of the normalisers summed
    (Rabiner 1989, section V.A), so nothing underflows; a token a model cannot emit gives ``-inf``.
    """
    tokens = np.asarray(tokens)
    n, prompts, length = tokens.shape
    table, rows = _emission_rows(emit)
    ones = np.ones(start.shape[-1])
    total = np.zeros((n, start.shape[1], prompts))  # the empty sequence has probability 1
    alpha = np.broadcast_to(start[:, :, None, :], total.shape + ones.shape)
    for t in range(length):
        alpha = alpha if t == 0 else alpha @ step
        alpha = alpha * np.take(table, rows + tokens[:, None, :, t], axis=0)
        if (t + 1) % RESCALE_EVERY == 0 or t + 1 == length:
            scale = alpha @ ones
            with np.errstate(divide="ignore"):
                total += np.log(scale)
            alpha *= (1.0 / np.where(scale > 0, scale, 1.0))[..., None]
    return np.moveaxis(total, 1, 2)


def next_example_chance(step, emit, length: int) -> np.ndarray:
    """``p(x / | h = s)``: the probability that the next example is ``x`` (its ``length`` tokens, then the delimiter)
    when the hidden state of its first token is ``s``, for every example ``x`` and state ``s``.

    The backward algorithm (Rabiner 1989, section III.A) on each of the ``V^length`` examples of
    :func:`all_prompts` ``(V, length, 1)``: ``beta_t(s) = emit(s, x_t) sum_s' step(s, s') beta_(t+1)(s')``,
    started at the delimiter's emission. ``step (..., S', S')``, ``emit (..., S', V + 1)``; returns
    ``(..., S', V^length)``.
    """
    examples = all_prompts(emit.shape[-1] - 1, length, 1)
    beta = emit[..., examples[:, length]]
    for t in range(length - 1, -1, -1):
        beta = emit[..., examples[:, t]] * (step @ beta)
    return beta


def rao_blackwell_log_likelihood(tokens, start, step, emit, length: int, k) -> np.ndarray:
    """``sum_j E_0[log p_theta(x^j | x^1 ... x^(j-1))]`` over the ``k[i]`` examples of each prompt, for every model.

    By the chain rule ``log p_theta(prompt) = sum_j log p_theta(x^j | x^<j)``, ``x^j`` the ``j``-th delimited
    example. Here each term is replaced by its expectation over ``x^j`` drawn from model 0 given the drawn prefix
    ``x^<j``: a sum over every possible example ``x``, ``p_0(x | x^<j) log p_theta(x | x^<j)`` (``0 log 0 = 0``),
    where ``p(x | x^<j)`` is the prefix's forward vector, normalised and moved one step, against
    :func:`next_example_chance`. When the prompts are drawn from model 0 the expectation over prompts is unchanged
    (the tower property: ``E[E[f(x^j) | x^<j]] = E[f(x^j)]``), so the sum is an unbiased draw of
    ``E_0[log p_theta(prompt)]`` whose spread comes from the prefixes only; an example too rare to be drawn still
    enters every draw with its probability. Nothing is assumed about how the examples depend on each other: each
    term is conditioned on the drawn prefix by the forward algorithm.

    ``tokens (n, P, K (length + 1))`` are prompts as :func:`sample_prompts` draws them, of ``k (n,)`` examples
    (those after ``k[i]`` are not read); models as in :func:`forward_log_likelihood`. Returns ``(n, P, M)``.
    """
    tokens = np.asarray(tokens)
    k = np.asarray(k)
    n, prompts, _ = tokens.shape
    # Instances by decreasing k: those with a j-th example are the first active[j] of them (leading slices).
    order = np.argsort(-k, kind="stable")
    active = np.sum(k[None, :] > np.arange(k.max(initial=0))[:, None], axis=1)
    start, step, emit, tokens = start[order], step[order], emit[order], tokens[order]
    chance = next_example_chance(step, emit, length)  # (n, M, S', V^length)
    table, rows = _emission_rows(emit)
    total = np.zeros((n, start.shape[1], prompts))
    # predicted: the distribution of the hidden state of the next token given the prefix, (n, M, P, S')
    predicted = np.broadcast_to(start[:, :, None, :], total.shape + start.shape[-1:])
    for j, (m, kept) in enumerate(zip(active, np.append(active[1:], 0))):
        following = predicted[:m] @ chance[:m]  # (m, M, P, V^length): p_theta(x^j = x | x^<j)
        # p_0 log p_theta where model 0 can emit x (-inf if theta cannot), 0 where it cannot (0 log 0 = 0)
        with np.errstate(divide="ignore"):
            terms = np.log(following, out=np.zeros_like(following), where=following[:, :1] > 0)
        terms *= following[:, :1]
        total[:m] += terms @ np.ones(terms.shape[-1])  # a sum over the last axis (matmul: faster on a short axis)
        if kept == 0:
            break
        # the drawn example x^j and its delimiter, for the instances with a next example
        alpha = predicted[:kept]
        for t in range(length + 1):
            alpha = alpha if t == 0 else alpha @ step[:kept]
            alpha = alpha * np.take(table, rows[:kept] + tokens[:kept, None, :, j * (length + 1) + t], axis=0)
        scale = (alpha @ np.ones(alpha.shape[-1]))[..., None]  # 0 where a model cannot emit x^j: its total is -inf
        predicted = np.divide(alpha, scale, out=alpha, where=scale > 0) @ step[:kept]
    scored = np.empty_like(total)
    scored[order] = total
    return np.moveaxis(scored, 1, 2)


def _categorical(rng: np.random.Generator, probabilities: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One draw from row ``row`` (an array of row numbers) of each table ``probabilities (..., rows, C)``.

    Inverse-CDF sampling: a uniform draw ``u`` on row ``j`` gives the number of that row's cumulative sums at or
    below ``u``, counted one column at a time (a table has at most a handful of columns). Each row's cumulative
    sums are divided by their last, so that the last is 1 despite rounding.
    """
    width = probabilities.shape[-1]
    cumulative = np.cumsum(probabilities.reshape(-1, width), axis=-1)
    cumulative /= cumulative[:, -1:]
    u = rng.random(row.shape)
    choice = np.zeros(row.shape, dtype=np.min_scalar_type(width))
    for column in cumulative[:, :-1].T:
        choice += column[row] <= u
    return choice


def sample_prompts(rng: np.random.Generator, initial, transition, emission, length: int, k, draws: int) -> np.ndarray:
    """``draws`` prompts of ``k[i]`` examples for each instance ``i``, drawn as the prompt distribution defines them.

    Each example is an independent run of the concept's hidden chain: a state from ``initial (n, S)``, then
    ``length - 1`` moves by ``transition (n, S, S)``, each state emitting a token by ``emission (n, S, V)``; the
    delimiter (token ``V``) follows every example. ``k`` is an integer or ``(n,)``. Returns
    ``(n, draws, K (length + 1))``, ``K = max k``: an instance's prompts end in delimiters after its own ``k``
    examples (only those are drawn).
    """
    n, states, symbols = emission.shape
    k = np.broadcast_to(np.asarray(k, dtype=np.int64), (n,))
    most = int(k.max(initial=0))
    drawn = np.broadcast_to((np.arange(most) < k[:, None])[:, None, :], (n, draws, most))
    slots = np.flatnonzero(drawn)  # the examples drawn, as rows of the (n draws most, length + 1) tokens
    instance = slots // (draws * most)
    first_row = instance * states  # each drawn example's first row in its instance's transition and emission tables
    token = np.min_scalar_type(symbols)  # the smallest integer type that holds the delimiter: less memory to move
    tokens = np.full((n * draws * most, length + 1), symbols, dtype=token)
    state = _categorical(rng, initial, instance)
    for t in range(length):
        if t:
            state = _categorical(rng, transition, first_row + state)
        tokens[slots, t] = _categorical(rng, emission, first_row + state)
    return tokens.reshape(n, draws, most * (length + 1))


def all_prompts(symbols: int, length: int, k: int) -> np.ndarray:
    """Every prompt of ``k`` examples of ``length`` tokens, each followed by the delimiter ``symbols``: ``(V^(Lk), k(L+1))``."""
    # prompt number p written in base V, the first token its most significant digit (itertools.product's order)
    powers = symbols ** np.arange(length * k - 1, -1, -1, dtype=np.int64)
    examples = np.arange(symbols ** (length * k), dtype=np.int64)[:, None] // powers % symbols
    examples = examples.reshape(len(examples), k, length)
    delimiters = np.full((len(examples), k, 1), symbols, dtype=np.int64)
    return np.concatenate([examples, delimiters], axis=-1).reshape(len(examples), k * (length + 1))


def prompt_count(symbols: int, length: int, k) -> np.ndarray:
    """How many prompts of ``k`` examples there are, ``V^(L k)`` (as a float: it overflows integers)."""
    return float(symbols) ** (length * np.asarray(k, dtype=float))


# --- the oracle: expected log joint probabilities of the concepts, over all prompts or given a drawn one -----


def _chance_and_joints(prior, models, tokens):
    """``p_0(prompt)`` and ``log(prior(theta) p_theta(prompt))``, ``(n, P)`` and ``(n, P, M)``, by the forward algorithm."""
    likelihood = forward_log_likelihood(tokens, *models)
    return np.exp(likelihood[..., 0]), np.log(prior)[:, None, :] + likelihood


def expected_log_joints(prior, initial, transition, emission, length: int, k, rng: np.random.Generator):
    """``E[log(prior(theta) p_theta(prompt))]`` for every concept, the prompt of ``k[i]`` examples drawn from concept 0.

    Returns ``(n, M)``. Where a prompt of ``k`` examples has at most :data:`EXACT_PROMPTS` possible values, all
    are listed and the expectation is the sum ``sum_prompt p_0(prompt) log(prior p_theta(prompt))``, each prompt
    scored whole by the forward algorithm. Elsewhere one prompt per instance is drawn from concept 0
    (:func:`sample_prompts`) and the value is ``log prior(theta)`` plus its Rao-Blackwellised log likelihood
    (:func:`rao_blackwell_log_likelihood`): each example's term ``log p_theta(x^j | x^<j)`` replaced by its exact
    expectation over ``x^j`` given the drawn prefix. That is an unbiased draw of the expectation whose only
    randomness is the prefix; for these prompts it has none (the chain restarts at every delimiter, so the forward
    vector there is the delimiter's state whatever came before, and every prefix gives the same terms), so the one
    draw is the expectation to rounding. Nothing here assumes it: a prompt model whose examples depended
    on each other would give a value that changes with the drawn prompt and fail an exact comparison (an alarm,
    never a pass). Plain Monte Carlo (the mean of ``log p_theta`` over drawn prompts) failed here: an example of
    probability ``1e-4`` is missing from a third of the samples of 600 prompts of 16 examples, whose mean then misses
    its share of the expectation while their spread shows nothing (a false alarm at ``5.8e8`` times the tolerance).
    """
    prior = np.asarray(prior, dtype=float)
    k = np.asarray(k).astype(np.int64)
    symbols = emission.shape[-1]
    models = prompt_hmm(initial, transition, emission, length)
    values = np.empty(prior.shape)
    exact = prompt_count(symbols, length, k) <= EXACT_PROMPTS
    for size in np.unique(k[exact]):
        chosen = np.flatnonzero(exact & (k == size))
        listed = all_prompts(symbols, length, int(size))
        tokens = np.broadcast_to(listed, (len(chosen),) + listed.shape)
        chance, joints = _chance_and_joints(prior[chosen], tuple(m[chosen] for m in models), tokens)
        values[chosen] = np.einsum("cp,cpm->cm", chance, joints)
    drawn = np.flatnonzero(~exact)
    if len(drawn):
        tokens = sample_prompts(rng, initial[drawn, 0], transition[drawn, 0], emission[drawn, 0], length, k[drawn], 1)
        likelihood = rao_blackwell_log_likelihood(tokens, *(m[drawn] for m in models), length, k[drawn])
        values[drawn] = np.log(prior[drawn]) + likelihood[:, 0]
    return values


# --- the Bayes predictor: posterior weights and the next example's distribution --------------------------


def bayes_predictor_error(prior, initial, transition, emission, length: int, k: int, draws: int, rng: np.random.Generator):
    """The Bayes predictor after ``k`` examples of concept 0, against concept 0 itself, for each instance.

    The posterior weights ``w_theta`` of a prompt are its log joint probabilities normalised (forward
    algorithm); the Bayes predictor of the next example is ``sum_theta w_theta p_theta(x)``, each
    ``p_theta(x)`` the forward algorithm on that one example. Returns ``(posterior_true, tv)``, each
    ``(n,)``: the expected posterior weight of concept 0 and the expected total variation between the
    predictor and concept 0's example distribution; exact (all prompts) when there are at most
    :data:`EXACT_PROMPTS`, else the mean over ``draws`` prompts drawn from concept 0.
    """
    prior = np.asarray(prior, dtype=float)
    n = prior.shape[0]
    symbols = emission.shape[-1]
    models = prompt_hmm(initial, transition, emission, length)
    examples = all_prompts(symbols, length, 1)
    _, next_example = _chance_and_joints(np.ones_like(prior), models, np.broadcast_to(examples, (n,) + examples.shape))
    next_example = np.exp(next_example)  # (n, V^L, M): p_theta(x) for every next example x
    exact = prompt_count(symbols, length, k) <= EXACT_PROMPTS
    if exact:
        listed = all_prompts(symbols, length, k)
        tokens = np.broadcast_to(listed, (n,) + listed.shape)
    else:
        tokens = sample_prompts(rng, initial[:, 0], transition[:, 0], emission[:, 0], length, k, draws)
    chance, joints = _chance_and_joints(prior, models, tokens)
    weights = np.exp(joints - joints.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    predictor = np.einsum("npm,nxm->npx", weights, next_example)
    tv = 0.5 * np.abs(predictor - next_example[:, None, :, 0]).sum(axis=-1)
    if not exact:
        return weights[..., 0].mean(axis=1), tv.mean(axis=1)
    return np.einsum("np,np->n", chance, weights[..., 0]), np.einsum("np,np->n", chance, tv)


# --- the handout's figure ---------------------------------------------------------------------------------


def concentration_figure(ks, log_odds, forward_log_odds, posterior_true, posterior_bound, tv, tv_bound):
    """Two panels against the number of examples ``k``.

    Left: the expected log posterior odds of each wrong concept, ``log_odds (K, M - 1)`` as lines (the caller's
    closed form) and ``forward_log_odds (K, M - 1)`` as points (the caller's oracle). Right: the expected posterior
    weight of the true concept ``posterior_true (K,)`` above its lower bound ``posterior_bound``, and the Bayes
    predictor's expected total variation to the true concept ``tv`` below its upper bound ``tv_bound``. A
    ``Figure`` built without pyplot; the same inputs give the same drawing.
    """
    # Imported here: matplotlib is only needed when a handout is drawn (listing theorems stays fast).
    from matplotlib.figure import Figure

    ks = np.asarray(ks)
    figure = Figure(figsize=(7.0, 3.0))
    odds_axes, weight_axes = figure.subplots(1, 2)
    for concept in range(log_odds.shape[1]):
        colour = f"C{concept}"
        odds_axes.plot(ks, log_odds[:, concept], color=colour, label=f"concept {concept + 2}: closed form")
        odds_axes.plot(ks, forward_log_odds[:, concept], "o", color=colour, fillstyle="none", markersize=3)
    odds_axes.set_xlabel("examples in the prompt, k")
    odds_axes.set_ylabel("E[log posterior odds]")
    odds_axes.legend(fontsize=7)
    weight_axes.plot(ks, posterior_true, "o", color="C3", fillstyle="none", markersize=3,
                     label="E[posterior of concept 1]")
    weight_axes.plot(ks, np.clip(posterior_bound, 0.0, None), color="C3", label="its lower bound")
    weight_axes.plot(ks, tv, "s", color="C4", fillstyle="none", markersize=3, label="E[TV(Bayes predictor, concept 1)]")
    weight_axes.plot(ks, np.clip(tv_bound, None, 1.0), color="C4", linestyle="--", label="its upper bound")
    weight_axes.set_ylim(0.0, 1.02)
    weight_axes.set_xlabel("examples in the prompt, k")
    weight_axes.legend(fontsize=7, loc="center right")
    figure.tight_layout()
    return figure
