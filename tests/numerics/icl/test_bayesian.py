"""HMM mixtures for Bayesian in-context learning: the sum over hidden paths, the prompt's hidden Markov model, the
forward and backward algorithms, the prompt sampler, the Rao-Blackwellised log likelihood and the oracle's
expectations."""

import numpy as np
import pytest

from numerics.icl.bayesian import (
    EXACT_PROMPTS,
    all_prompts,
    bayes_predictor_error,
    bhattacharyya,
    entropy,
    example_distribution,
    forward_log_likelihood,
    expected_log_joints,
    kl_divergence,
    next_example_chance,
    prompt_count,
    prompt_hmm,
    random_mixtures,
    rao_blackwell_log_likelihood,
    sample_prompts,
    total_variation,
)


@pytest.fixture
def mixtures():
    return random_mixtures(np.random.default_rng(7), 4, 3, 2, 3)


def test_the_information_quantities_of_two_coins():
    fair, biased = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert entropy(fair) == pytest.approx(np.log(2), rel=1e-15)
    assert kl_divergence(fair, biased) == pytest.approx(0.5 * np.log(4 / 3), rel=1e-15)
    assert bhattacharyya(fair, biased) == pytest.approx((np.sqrt(0.125) + np.sqrt(0.375)), rel=1e-15)
    assert total_variation(fair, biased) == 0.25
    assert entropy(np.array([1.0, 0.0])) == 0.0 and kl_divergence(np.array([1.0, 0.0]), fair) == pytest.approx(np.log(2))


def test_an_example_distribution_is_a_distribution_and_the_forward_algorithm_agrees(mixtures):
    for length in (1, 2, 3):
        examples = example_distribution(mixtures["initial"], mixtures["transition"], mixtures["emission"], length)
        assert examples.shape == (4, 3, 3**length)
        assert np.allclose(examples.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
        models = prompt_hmm(mixtures["initial"], mixtures["transition"], mixtures["emission"], length)
        listed = all_prompts(3, length, 1)
        forward = forward_log_likelihood(np.broadcast_to(listed, (4,) + listed.shape), *models)
        assert np.allclose(np.exp(forward), np.swapaxes(examples, 1, 2), rtol=1e-13, atol=0)


def test_the_prompt_model_is_stochastic_and_restarts_at_the_delimiter(mixtures):
    start, step, emit = prompt_hmm(mixtures["initial"], mixtures["transition"], mixtures["emission"], 2)
    assert start.shape == (4, 3, 5) and step.shape == (4, 3, 5, 5) and emit.shape == (4, 3, 5, 4)
    assert np.allclose(start.sum(-1), 1) and np.allclose(step.sum(-1), 1) and np.allclose(emit.sum(-1), 1)
    assert np.array_equal(step[..., 4, :2], mixtures["initial"]) and np.all(emit[..., 4, 3] == 1)


def test_the_backward_algorithm_gives_the_example_distribution(mixtures):
    # From the states of an example's first token its V^L examples have probabilities summing to one, and weighted by
    # the initial distribution they are the path sums' example distribution.
    for length in (1, 2):
        start, step, emit = prompt_hmm(mixtures["initial"], mixtures["transition"], mixtures["emission"], length)
        chance = next_example_chance(step, emit, length)
        assert chance.shape == (4, 3, 2 * length + 1, 3**length)
        assert np.allclose(chance[..., :2, :].sum(axis=-1), 1.0, rtol=0, atol=1e-14)
        examples = example_distribution(mixtures["initial"], mixtures["transition"], mixtures["emission"], length)
        assert np.allclose(np.einsum("nms,nmsx->nmx", start, chance), examples, rtol=1e-13, atol=0)


def test_the_rao_blackwell_terms_do_not_depend_on_the_drawn_prompt(mixtures):
    # The chain restarts at every delimiter: each example's expected log likelihood is the same after any prefix, so
    # every drawn prompt gives the same value, k times the cross entropy of the example distributions.
    one = {name: value[:, 0] for name, value in mixtures.items() if name != "prior"}
    k = np.array([0, 1, 5, 3])
    tokens = sample_prompts(np.random.default_rng(3), one["initial"], one["transition"], one["emission"], 2, k, 50)
    models = prompt_hmm(mixtures["initial"], mixtures["transition"], mixtures["emission"], 2)
    values = rao_blackwell_log_likelihood(tokens, *models, 2, k)
    assert values.shape == (4, 50, 3) and np.all(values == values[:, :1]) and np.all(values[0] == 0)
    examples = example_distribution(mixtures["initial"], mixtures["transition"], mixtures["emission"], 2)
    cross_entropy = -np.einsum("nx,nmx->nm", examples[:, 0], np.log(examples))
    assert np.allclose(values[:, 0], -k[:, None] * cross_entropy, rtol=1e-13, atol=0)
    # the examples after an instance's own k are not read
    tokens[0, :, :] = 0
    tokens[2, :, 18:] = 1
    assert np.array_equal(rao_blackwell_log_likelihood(tokens, *models, 2, k), values)


def _regimes(rng, symbols, switch):
    """Two prompt models whose examples depend on each other: each is two concepts' prompt models (regimes), the
    delimiter of regime ``r`` going on to regime ``r'`` with probability ``switch[r, r']``, started in regime 0 or 1
    with probability 1/2. ``(start, step, emit)`` for two such models, batched as ``(1, 2, ...)``."""
    concepts = random_mixtures(rng, 2, 2, 2, symbols)
    start, step, emit = prompt_hmm(concepts["initial"], concepts["transition"], concepts["emission"], 1)  # (2, 2, ...)
    size = start.shape[-1]
    delimiter = size - 1
    joint_start = np.concatenate([start[:, 0], start[:, 1]], axis=-1) / 2
    joint_step = np.zeros((2, 2 * size, 2 * size))
    for r in range(2):
        inside = np.array(step[:, r])
        inside[:, delimiter, :] = 0  # the delimiter's own way on, replaced below
        joint_step[:, r * size : (r + 1) * size, r * size : (r + 1) * size] = inside
        for after in range(2):
            joint_step[:, r * size + delimiter, after * size : (after + 1) * size] = switch[r, after] * start[:, after]
    joint_emit = np.concatenate([emit[:, 0], emit[:, 1]], axis=-2)
    return joint_start[None], joint_step[None], joint_emit[None]


def test_the_rao_blackwell_value_is_unbiased_when_examples_depend_on_each_other():
    # The tower property, checked over every prompt of 4 one-token examples: the Rao-Blackwellised values weighted by
    # the prompts' probabilities under model 0 sum to the expected log likelihood of the whole prompt. Here the
    # prefix changes the terms, so the values vary from prompt to prompt (an exact comparison of one draw would fail).
    start, step, emit = _regimes(np.random.default_rng(5), 3, np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert np.allclose(step.sum(axis=-1), 1.0) and np.allclose(emit.sum(axis=-1), 1.0)
    listed = all_prompts(3, 1, 4)[None]
    whole = forward_log_likelihood(listed, start, step, emit)[0]
    chance = np.exp(whole[:, 0])
    assert chance.sum() == pytest.approx(1.0, abs=1e-13)
    values = rao_blackwell_log_likelihood(listed, start, step, emit, 1, np.array([4]))[0]
    assert np.allclose(chance @ values, chance @ whole, rtol=1e-13, atol=0)
    assert np.ptp(values, axis=0).min() > 1e-2


def test_the_listed_prompts():
    prompts = all_prompts(2, 2, 3)
    assert prompts.shape == (64, 9) and len(np.unique(prompts, axis=0)) == 64
    assert np.all(prompts[:, 2::3] == 2) and all_prompts(4, 3, 0).shape == (1, 0)
    assert prompt_count(2, 2, 3) == 64 and prompt_count(5, 2, 32) > EXACT_PROMPTS


def test_drawn_examples_follow_the_example_distribution(mixtures):
    rng = np.random.default_rng(0)
    one = {name: value[:, 0] for name, value in mixtures.items() if name != "prior"}
    tokens = sample_prompts(rng, one["initial"], one["transition"], one["emission"], 2, 4, 20_000)
    assert tokens.shape == (4, 20_000, 12) and np.all(tokens[..., 2::3] == 3)
    examples = tokens.reshape(4, -1, 3)
    index = examples[..., 0] * 3 + examples[..., 1]
    frequencies = np.stack([np.bincount(row, minlength=9) for row in index]) / index.shape[1]
    probabilities = example_distribution(one["initial"], one["transition"], one["emission"], 2)
    error = np.sqrt(probabilities * (1 - probabilities) / index.shape[1])
    assert np.all(np.abs(frequencies - probabilities) < 6 * error + 1e-12)


def test_each_instance_draws_only_its_own_examples(mixtures):
    one = {name: value[:, 0] for name, value in mixtures.items() if name != "prior"}
    k = np.array([0, 1, 3, 2])
    tokens = sample_prompts(np.random.default_rng(2), one["initial"], one["transition"], one["emission"], 2, k, 50)
    assert tokens.shape == (4, 50, 9)
    drawn = np.arange(9) < 3 * k[:, None, None]
    examples = np.broadcast_to(drawn & (np.arange(9) % 3 != 2), tokens.shape)
    assert np.all(tokens[~examples] == 3) and np.all(tokens[examples] < 3)


def test_the_oracles_expectations_agree_with_the_path_sums(mixtures):
    # over all prompts (k <= 4) and on a drawn prompt (k = 6, 9, 32: 3^12 prompts and more)
    examples = example_distribution(mixtures["initial"], mixtures["transition"], mixtures["emission"], 2)
    cross_entropy = -np.einsum("nx,nmx->nm", examples[:, 0], np.log(examples))
    for k in (np.array([0, 1, 3, 4]), np.array([6, 6, 9, 32])):
        values = expected_log_joints(**mixtures, length=2, k=k, rng=np.random.default_rng(1))
        assert values.shape == (4, 3)
        assert np.allclose(values, np.log(mixtures["prior"]) - k[:, None] * cross_entropy, rtol=1e-13, atol=1e-14)
    assert np.array_equal(expected_log_joints(**mixtures, length=2, k=np.zeros(4), rng=None), np.log(mixtures["prior"]))


def test_the_bayes_predictor_before_any_example_is_the_prior_mixture(mixtures):
    posterior, tv = bayes_predictor_error(**mixtures, length=2, k=0, draws=10, rng=np.random.default_rng(0))
    examples = example_distribution(mixtures["initial"], mixtures["transition"], mixtures["emission"], 2)
    mixture = np.einsum("nm,nmx->nx", mixtures["prior"], examples)
    assert np.allclose(posterior, mixtures["prior"][:, 0], rtol=1e-14)
    assert np.allclose(tv, total_variation(examples[:, 0], mixture), rtol=1e-12)
