"""icl-bayesian: mutants refuted, the oracle on the instance where plain Monte Carlo raised a false alarm, the Bayes
predictor's bound checked by exact enumeration, and the worked example's values. Verification, the mutant list, bad
parameters and the rendered example are rows of tests/checkers/test_every_theorem.py."""

import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp

from checkers.engine import claim_values, mutant_outcome, oracle_values
from checkers.icl.bayesian import POLICY, _information, _log_odds, _weight_bounds, icl_bayesian
from checkers.sampling import draw_instances, single_instance
from checkers.worked import worked_example
from numerics.icl.bayesian import (
    EXACT_PROMPTS,
    bayes_predictor_error,
    example_distribution,
    expected_log_joints,
    prompt_count,
    random_mixtures,
    total_variation,
)


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(icl_bayesian, instances=40, seed=3, generated=False)
    assert len(outcome.mutants) == 6
    for mutant in outcome.mutants:
        assert mutant.refuted, (mutant.name, mutant.evidence)


RARE_TOKEN = {
    "prior": np.array([[0.7781569449177491, 0.2218430550822509]]),
    "initial": np.ones((1, 2, 1)),
    "transition": np.ones((1, 2, 1, 1)),
    "emission": np.array([[[[5.4467164808456086e-05, 0.9999455328351915]], [[0.4973620797282799, 0.5026379202717201]]]]),
}
"""Seed 34's false alarm (sweep of 300 instances): two one-state concepts, examples of 2 tokens, k = 16; the true
concept emits its first token with probability 5.4e-5, so only 1.7e-3 of its prompts hold it."""


def test_a_rare_token_counts_in_every_draw_of_the_oracle():
    # Plain Monte Carlo over 600 prompts missed the rare token in a third of its runs, and with it 0.017 of the
    # expected log joint (error 5.8e8 times the tolerance). Each example's term is now its expectation given the
    # prompt before it: the rare token's share is in every draw, whatever prompt is drawn.
    k = np.array([16])
    claim = icl_bayesian.evaluate_claim(**RARE_TOKEN, length=2, k=k.astype(float))
    for seed in range(5):
        oracle = expected_log_joints(**RARE_TOKEN, length=2, k=k, rng=np.random.default_rng(seed))
        assert POLICY.compare(claim, oracle, 0.0, 1).errors.max() <= 1e-2, (oracle, claim)
    assert prompt_count(2, 2, k) > EXACT_PROMPTS


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
