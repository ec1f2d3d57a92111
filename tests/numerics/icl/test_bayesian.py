"""HMM mixtures for Bayesian in-context learning: the sum over hidden paths, the prompt's hidden Markov model, the
forward algorithm, the prompt sampler and the oracle's exact and Monte Carlo expectations."""

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
    kl_divergence,
    log_joint_draws,
    prompt_count,
    prompt_hmm,
    random_mixtures,
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


def test_the_forward_algorithm_scores_each_instances_own_prefix(mixtures):
    same = {name: np.repeat(value[:1], 4, axis=0) for name, value in mixtures.items()}  # one mixture, four times
    models = prompt_hmm(same["initial"], same["transition"], same["emission"], 1)
    tokens = np.broadcast_to(all_prompts(3, 1, 2), (4, 9, 4))
    whole = forward_log_likelihood(tokens, *models)
    prefixes = forward_log_likelihood(tokens, *models, lengths=np.array([0, 1, 2, 4]))
    assert np.all(prefixes[0] == 0) and np.array_equal(prefixes[3], whole[3])
    # one example, then with its delimiter: the delimiter has probability one under every concept
    assert np.allclose(prefixes[1], prefixes[2], rtol=0, atol=1e-15)
    examples = example_distribution(same["initial"], same["transition"], same["emission"], 1)[0]
    assert np.allclose(np.exp(whole[0]), examples.T[tokens[0, :, 0]] * examples.T[tokens[0, :, 2]], rtol=1e-14)


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


def test_exact_and_monte_carlo_expectations_agree_with_the_path_sums(mixtures):
    H = entropy(example_distribution(mixtures["initial"], mixtures["transition"], mixtures["emission"], 2)[:, 0])
    rng = np.random.default_rng(1)
    exact = log_joint_draws(**mixtures, length=2, k=np.array([0, 1, 3, 4]), draws=60, rng=rng)
    assert np.all(exact == exact[:, :1])  # listed prompts: no spread
    assert np.array_equal(exact[0, 0], np.log(mixtures["prior"][0]))
    true_concept = exact[1:, 0, 0] - np.log(mixtures["prior"][1:, 0])
    assert np.allclose(true_concept, -np.array([1, 3, 4]) * H[1:], rtol=1e-13, atol=0)
    sampled = log_joint_draws(**mixtures, length=2, k=np.full(4, 6), draws=3000, rng=rng)[:, :, 0]
    mean, error = sampled.mean(axis=1), sampled.std(axis=1) / np.sqrt(3000)
    assert np.all(np.abs(mean - (np.log(mixtures["prior"][:, 0]) - 6 * H)) < 6 * error)


def test_the_bayes_predictor_before_any_example_is_the_prior_mixture(mixtures):
    posterior, tv = bayes_predictor_error(**mixtures, length=2, k=0, draws=10, rng=np.random.default_rng(0))
    examples = example_distribution(mixtures["initial"], mixtures["transition"], mixtures["emission"], 2)
    mixture = np.einsum("nm,nmx->nx", mixtures["prior"], examples)
    assert np.allclose(posterior, mixtures["prior"][:, 0], rtol=1e-14)
    assert np.allclose(tv, total_variation(examples[:, 0], mixture), rtol=1e-12)
