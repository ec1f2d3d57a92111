"""icl-bayesian: mutants refuted with their power, the Monte Carlo test calibrated, the Bayes predictor's bound checked
by exact enumeration, and the worked example's values. Verification, the mutant list, bad parameters and the
rendered example are rows of tests/checkers/test_every_theorem.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from scipy import stats

import transformer_proofs as tp

from checkers.engine import claim_values, mutant_outcome, oracle_values
from checkers.icl.bayesian import POLICY, _information, _log_odds, _weight_bounds, icl_bayesian
from checkers.sampling import draw_instances, single_instance
from checkers.worked import worked_example
from numerics.icl.bayesian import (
    EXACT_PROMPTS,
    bayes_predictor_error,
    example_distribution,
    prompt_count,
    random_mixtures,
    total_variation,
)


def test_every_mutant_is_refuted_with_high_probability():
    outcome = mutant_outcome(icl_bayesian, instances=40, seed=3, generated=False)
    assert len(outcome.mutants) == 6
    for mutant in outcome.mutants:
        assert mutant.refuted and mutant.power >= 1 - 1e-6, (mutant.name, mutant.evidence, mutant.power)


def test_the_monte_carlo_t_test_is_calibrated():
    # The policy's per-instance t test (batch means of 20 drawn prompts, 30 batches) on every Monte Carlo instance
    # among 300 (k from 3 up: the smallest k that is Monte Carlo for some shape), at level beta per concept. An
    # instance alarms when any of its M <= 4 concepts does, with probability between beta and 4 beta for a true
    # claim: the alarms stay below the 1e-6 upper quantile of Binomial(instances, 4 beta), and at 10 beta they
    # reach the 1e-6 lower quantile of Binomial(instances, 10 beta) (the test is not absurdly conservative).
    largest = []
    for group in draw_instances(icl_bayesian, 300, seed=11):
        arguments = group.arguments()
        sampled = prompt_count(group.params["symbols"], group.params["length"], arguments["k"]) > EXACT_PROMPTS
        if not sampled.any():
            continue
        means = POLICY.batch_means(oracle_values(icl_bayesian, group, "cpu").values[sampled])
        error = means.std(axis=1, ddof=1) / np.sqrt(POLICY.batches)
        claim = claim_values(icl_bayesian, group, "cpu")[sampled]
        largest.append(np.max(np.abs(means.mean(axis=1) - claim) / error, axis=1))
    largest = np.concatenate(largest)
    instances, beta = len(largest), 0.01
    assert instances > 150
    alarms = int(np.sum(largest > stats.t.isf(beta / 2, POLICY.batches - 1)))
    loose = int(np.sum(largest > stats.t.isf(10 * beta / 2, POLICY.batches - 1)))
    assert alarms <= stats.binom.isf(1e-6, instances, 4 * beta), alarms
    assert loose >= stats.binom.ppf(1e-6, instances, 10 * beta), loose


@pytest.mark.parametrize("concepts, states, symbols, length, k", [(2, 1, 2, 1, 5), (3, 2, 3, 2, 2), (4, 3, 2, 2, 3), (3, 2, 4, 1, 4)])
def test_the_bayes_predictor_bound_holds_by_exact_enumeration(concepts, states, symbols, length, k):
    mixtures = random_mixtures(np.random.default_rng(k), 25, concepts, states, symbols)
    for examples_seen in range(k + 1):
        posterior, tv = bayes_predictor_error(**mixtures, length=length, k=examples_seen, draws=1, rng=None)
        examples = example_distribution(mixtures["initial"], mixtures["transition"], mixtures["emission"], length)
        weights = _weight_bounds(mixtures["prior"], examples, np.full(25, float(examples_seen)))
        assert np.all(posterior >= 1 - weights.sum(axis=1) - 1e-12)
        assert np.all(tv <= np.sum(total_variation(examples[:, :1], examples)[:, 1:] * weights, axis=1) + 1e-12)


def test_the_worked_example():
    example = worked_example(icl_bayesian)
    values = example.values
    assert example.verified and values["exact"] and values["prompts"] == 3 ** (2 * 4)
    assert np.allclose(values["log_odds"], values["log_joint"][1:] - values["log_joint"][0], rtol=1e-12)
    assert values["posterior_true"] >= values["posterior_bound"] and values["tv_bayes"] <= values["tv_bound"]
    # The first k at which every wrong concept's expected log odds log(prior odds) - k KL drop below log(1/99).
    prior_odds = np.log(values["prior"][1:] / values["prior"][0])
    assert values["examples_needed"] == int(np.max(np.ceil((prior_odds + np.log(99)) / values["KL"])))


@settings(max_examples=15, deadline=None)
@given(tp.strategies.parameters(icl_bayesian))
def test_the_claims_differences_are_the_derived_log_odds(params):
    # Anywhere in the parameter space: the true concept's component is log pi_* - k H (its own KL is exactly 0), and
    # the differences of the components are the derivation's labelled log odds, log(prior odds) - k KL.
    mixture = single_instance(icl_bayesian, params, seed=0).inputs
    k = np.array([float(params["k"])])
    claim = icl_bayesian.evaluate_claim(**mixture, length=params["length"], k=k)[0]
    H, D = _information(mixture["initial"], mixture["transition"], mixture["emission"], params["length"])
    assert D[0, 0] == 0 and claim[0] == pytest.approx(np.log(mixture["prior"][0, 0]) - k[0] * H[0], rel=1e-14)
    assert np.allclose(claim[1:] - claim[0], _log_odds(mixture["prior"], D, k)[0], rtol=1e-12, atol=1e-12 * abs(claim[0]))
