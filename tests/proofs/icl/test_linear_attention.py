"""Exercise 1.4's derivations: every step proved for symbolic sizes; a wrong step size, energy or bound is rejected."""

import pytest
import sympy as sp

from proofs.derivation import Derivation, DerivationError
from proofs.icl.linear_attention import (
    N,
    beta,
    concave_convex_step,
    energy_decrease,
    energy_never_increases,
    entropy_cross,
    entropy_old,
    eta,
    gram_cross,
    gram_new,
    gram_old,
    nadaraya_watson,
    one_step_learning_rate,
    softmax_counterexample,
)

LEMMAS = [
    "Softmax attention is a Nadaraya-Watson kernel smoother",
    "No step size makes a gradient step match softmax attention",
    "The gradient of log-sum-exp is the softmax average of the patterns",
    "The Hopfield update is one concave-convex step",
    "Log-sum-exp as an expectation under any probability vector",
    "How much one Hopfield update lowers the energy",
    "A Hopfield update never increases the energy",
]


def test_every_step_is_proved_and_the_closed_form_is_one_and_n():
    derivation = one_step_learning_rate()
    assert [lemma.title for lemma in derivation.lemmas] == LEMMAS
    assert derivation.counts() == {"steps": 38, "proved": 38, "sampled": 0, "given": 0, "failed": 0, "custom": 1}
    assert derivation.result == sp.Matrix([1, N])
    assert derivation.expression("eta_sum") == 1 and derivation.expression("eta_mean") == N


def test_the_step_size_for_the_mean_loss_is_not_one_over_n():
    derivation = one_step_learning_rate()
    number = derivation.step_number("eta_mean")
    # The solve step alone, from the statement before it (re-checking the whole chain takes seconds).
    condition = derivation.steps[number - 2].stated
    solve = derivation.steps[number - 1].operation
    assert condition == eta * sp.Symbol("s", positive=True) / N - sp.Symbol("s", positive=True)
    with pytest.raises(DerivationError, match="step 1"):
        Derivation("the mean loss's condition", condition).then(solve, 1 / N).check()
    assert Derivation("the mean loss's condition", condition).then(solve, N).check()[0].evidence == "proved"


def test_the_counterexample_gap_is_one_whatever_the_step_size():
    result = softmax_counterexample().result
    assert result == 1 and eta not in result.free_symbols and beta not in result.free_symbols


def test_softmax_reproduces_constants():
    assert nadaraya_watson().result == sp.Symbol("c", real=True)


def test_the_cccp_minimiser_is_x_transpose_p():
    step = concave_convex_step()
    assert [s.evidence for s in step.check()] == ["proved"] * 4
    assert str(step.result) == "X.T*p"


def test_the_decrease_is_half_the_square_plus_the_divergence_over_beta():
    decrease = energy_decrease().expression("decrease")
    assert sp.expand(decrease - ((gram_old - 2 * gram_cross + gram_new) / 2 + (entropy_old - entropy_cross) / beta)) == 0


@pytest.mark.parametrize(
    "wrong",
    [
        (gram_old - 2 * gram_cross + gram_new) / 2 + beta * (entropy_old - entropy_cross),
        (gram_old - 2 * gram_cross + gram_new) / 2,
        (gram_old - 2 * gram_cross + gram_new) / 2 - (entropy_old - entropy_cross) / beta,
    ],
    ids=["beta-times-kl", "no-kl", "kl-subtracted"],
)
def test_a_wrong_decrease_is_rejected(wrong):
    derivation = energy_decrease()
    with pytest.raises(DerivationError, match="step 2"):
        derivation.with_step(2, stated=wrong).check()


def test_the_energy_bound_is_a_lower_bound_on_the_decrease():
    bound = energy_never_increases()
    assert bound.relation == ">=" and bound.result == 0
    with pytest.raises(DerivationError, match="step 1"):
        bound.with_step(1, relation="<=").check()
