"""The Bayesian in-context-learning derivations: every step proved, the expectation steps redone by brute force, wrong steps rejected."""

import itertools

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.icl.bayesian import (
    D,
    H,
    N,
    R,
    bayes_predictive,
    expected_log_joint,
    expected_root_odds,
    k,
    p,
    pi_star,
    pi_theta,
    posterior_odds,
    q,
    rho,
    s,
    true_concept_log_joint,
    wrong_concept_weight,
    xi,
)


def test_every_step_is_proved_lemmas_included():
    derivation = expected_log_joint()
    assert derivation.counts() == {"steps": 17, "proved": 17, "sampled": 0, "given": 0, "failed": 0, "custom": 3}
    assert [lemma.title for lemma in derivation.lemmas] == [
        posterior_odds().title,
        true_concept_log_joint().title,
        bayes_predictive().title,
        wrong_concept_weight().title,
        expected_root_odds().title,
    ]


def test_the_results():
    derivation = expected_log_joint()
    assert sp.simplify(derivation.result - (sp.log(pi_theta) - k * (H + D))) == 0
    assert sp.simplify(derivation.expression("log_odds") - (sp.log(pi_theta / pi_star) - k * D)) == 0
    assert derivation.relation == "="
    assert wrong_concept_weight().relation == "<="
    assert sp.simplify(expected_root_odds().result - sp.sqrt(pi_theta / pi_star) * rho**k) == 0


# Two concrete example distributions on N = 2 examples, exact rationals.
TRUE = (sp.Rational(1, 3), sp.Rational(2, 3))
OTHER = (sp.Rational(3, 4), sp.Rational(1, 4))


def _on_two_examples(expression):
    """``expression`` with ``N = 2`` and the sums over the example space carried out for :data:`TRUE`, :data:`OTHER`."""
    concrete = expression.subs(N, 2).doit()
    return concrete.subs({p[1]: TRUE[0], p[2]: TRUE[1], q[1]: OTHER[0], q[2]: OTHER[1]})


@pytest.mark.parametrize("examples", [0, 1, 2, 3])
def test_the_expected_log_odds_equal_the_sum_over_every_prompt(examples):
    # The custom expectation step, redone by listing all 2^k prompts of k examples with their probabilities.
    prior = {pi_theta: sp.Rational(1, 5), pi_star: sp.Rational(4, 5)}
    brute = sum(
        sp.prod(TRUE[x] for x in prompt)
        * (sp.log(prior[pi_theta] / prior[pi_star]) + sum(sp.log(OTHER[x] / TRUE[x]) for x in prompt))
        for prompt in itertools.product(range(2), repeat=examples)
    )
    kl = sum(t * sp.log(t / o) for t, o in zip(TRUE, OTHER))
    closed = expected_log_joint().expression("log_odds").subs({k: examples, D: kl, **prior})
    assert sp.simplify(sp.expand_log(brute - closed, force=True)) == 0


@pytest.mark.parametrize("examples", [0, 1, 3])
def test_the_expected_root_odds_equal_the_sum_over_every_prompt(examples):
    brute = sum(
        sp.prod(TRUE[x] * sp.sqrt(OTHER[x] / TRUE[x]) for x in prompt)
        for prompt in itertools.product(range(2), repeat=examples)
    )
    derivation = expected_root_odds()
    before_rho = derivation.steps[0].stated.subs({k: examples, pi_theta: 1, pi_star: 1})
    assert sp.simplify(_on_two_examples(before_rho) - brute) == 0


def test_the_true_concepts_expected_log_joint_is_minus_k_entropies():
    entropy = -sum(t * sp.log(t) for t in TRUE)
    stated = true_concept_log_joint().steps[1].stated.subs({k: 3, pi_star: 1})
    assert sp.simplify(_on_two_examples(stated) - (-3 * entropy)) == 0


def test_the_weight_bound_is_attained_at_odds_one_with_no_rivals():
    bound = wrong_concept_weight()
    assert bound.start.subs({s: 1, R: 0}) == bound.result.subs(s, 1) == sp.Rational(1, 2)


def test_a_wrong_step_is_rejected():
    derivation = expected_log_joint()
    with pytest.raises(DerivationError, match="step 3"):
        derivation.with_step(3, stated=-k * sp.Sum(p[xi] * sp.log(q[xi] / p[xi]), (xi, 1, N)) + sp.log(pi_theta / pi_star)).check()
    with pytest.raises(DerivationError, match="step 5"):
        derivation.with_step(5, stated=sp.log(pi_theta) - k * (D - H)).check()


def test_a_bound_in_the_wrong_direction_is_rejected():
    with pytest.raises(DerivationError, match="step 2"):
        wrong_concept_weight().with_step(2, stated=s / 4).check()
