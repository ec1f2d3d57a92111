"""The kernel-smoother derivation: every step proved, the factor is free of the key, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.attention.kernels import (
    ATTENTION_KERNEL,
    d,
    dist_sq,
    gaussian_kernel_factor,
    k_sq,
    q_sq,
    qk,
    r,
    squared_distance,
    tau,
    temperature_limits,
)
from proofs.derivation import DerivationError, substitute


def test_every_step_is_proved_lemmas_included():
    derivation = gaussian_kernel_factor()
    assert all(s.evidence == "proved" for s in derivation.check())
    assert [s.evidence for s in squared_distance().check()] == ["proved"]
    assert [s.evidence for s in temperature_limits().check()] == ["proved"] * 3
    assert derivation.counts() == {"steps": 10, "proved": 10, "sampled": 0, "given": 0, "failed": 0, "custom": 1}


def test_the_result_is_the_gaussian_kernel_of_keys_of_norm_r():
    result = gaussian_kernel_factor().result
    gaussian = sp.exp(-(q_sq - 2 * qk + r**2) / (2 * tau * sp.sqrt(d)))
    assert sp.simplify(result - gaussian) == 0
    assert result.free_symbols == {q_sq, qk, r, tau, d}


def test_the_factor_does_not_depend_on_the_key_and_cancels():
    factor = gaussian_kernel_factor().expression("factor")
    assert qk not in factor.free_symbols
    # The Nadaraya-Watson ratio for three keys of one norm, Gaussian kernel against attention kernel, by hand.
    a = sp.symbols("a_1:4", real=True)
    v = sp.symbols("v_1:4", real=True)
    gaussian = [sp.exp(-(q_sq - 2 * a_j + r**2) / (2 * tau * sp.sqrt(d))) for a_j in a]
    attention = [ATTENTION_KERNEL.subs(qk, a_j) for a_j in a]
    ratio = lambda K: sum(K_j * v_j for K_j, v_j in zip(K, v)) / sum(K)
    assert sp.simplify(ratio(gaussian) - ratio(attention)) == 0


def test_without_the_constant_norm_the_factor_depends_on_the_key():
    # Stop before the norm is fixed: dividing by the attention kernel leaves a factor of ||k||^2.
    expanded = gaussian_kernel_factor().steps[1].stated
    assert k_sq in sp.powsimp(expanded / ATTENTION_KERNEL).free_symbols


def test_a_bandwidth_without_the_two_is_rejected():
    derivation = gaussian_kernel_factor()
    number = derivation.step_number("factor")
    wrong = sp.exp(-(q_sq + r**2) / (tau * sp.sqrt(d)))
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=wrong).check()


def test_a_substitution_that_does_not_follow_is_rejected():
    # ||q - k||^2 = ||q||^2 + ||k||^2 - q.k (a wrong expansion) cannot give the stated step 1.
    derivation = gaussian_kernel_factor()
    wrong = substitute({dist_sq: q_sq - qk + k_sq})
    with pytest.raises(DerivationError, match="step 1 "):
        derivation.with_step(1, operation=wrong).check()


def test_wrong_temperature_limits_are_rejected():
    limits = temperature_limits()
    with pytest.raises(DerivationError, match="step 3 "):
        limits.with_step(3, stated=sp.Integer(1)).check()  # "hot softmax still picks the arg-max"
    with pytest.raises(DerivationError, match="step 2 "):
        limits.with_step(2, stated=sp.Integer(1)).check()  # "a tie still goes to one key"
