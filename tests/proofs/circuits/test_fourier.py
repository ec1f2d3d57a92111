"""modular-addition-fourier derivations: every step proved, the closed form, wrong steps rejected."""

import numpy as np
import pytest
import sympy as sp

from proofs.circuits.fourier import a, b, c, cos_of_sum, k, logit_gap, omega, p, s, sin_of_sum, trig_logits
from proofs.derivation import DerivationError


def test_the_lemmas_in_order():
    # Every step proved (12 of 12) is asserted where the theorem checks it: tests/checkers/test_every_theorem.py.
    assert [lemma.title for lemma in trig_logits().lemmas] == [
        "The cosine of the sum from the products",
        "The sine of the sum from the products",
        "Each frequency's logit is at most 1",
        "The right answer attains the maximum",
    ]


def test_the_closed_form_is_the_logit_of_frequency_k_as_a_function_of_the_sum():
    derivation = trig_logits()
    assert derivation.result == sp.cos(2 * sp.pi * k * (s - c) / p)
    assert derivation.expression("logit_k") == sp.cos(omega * (a + b - c))
    assert cos_of_sum().result == sp.cos(omega * (a + b)) and sin_of_sum().result == sp.sin(omega * (a + b))


def test_the_gap_lemma_is_a_lower_bound_by_zero():
    assert logit_gap().relation == ">="


def test_the_closed_form_agrees_with_numpy_at_integers():
    f = sp.lambdify((k, s, c, p), trig_logits().result, "numpy")
    rng = np.random.default_rng(0)
    kk, ss, cc = rng.integers(1, 57, 50), rng.integers(0, 225, 50), rng.integers(0, 113, 50)
    np.testing.assert_allclose(f(kk, ss, cc, 113), np.cos(2 * np.pi * kk * (ss - cc) / 113), atol=1e-12)


def test_a_wrong_product_to_sum_sign_is_rejected():
    cosine = cos_of_sum()
    wrong_sign = cosine.with_step(2, stated=sp.cos(omega * (a - b)))  # cos(a - b): the sin-sin sign flipped
    with pytest.raises(DerivationError, match="step 2"):
        wrong_sign.check()


def test_angle_addition_in_the_unembedding_is_rejected():
    derivation = trig_logits()
    with pytest.raises(DerivationError, match="step 3"):
        derivation.with_step(3, stated=sp.cos(omega * (a + b + c))).check()
