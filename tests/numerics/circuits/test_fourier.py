"""The trigonometric algorithm computed the network's way: against the cosine formula, exhaustively at p = 113."""

import numpy as np

from numerics.circuits.fourier import NANDA_KEY_FREQUENCIES, fourier_basis, maximizers, trig_algorithm_logits


def test_the_fourier_basis_is_the_cosine_and_sine_table():
    cos, sin = fourier_basis(7)
    x, k = np.meshgrid(np.arange(7), np.arange(7), indexing="ij")
    np.testing.assert_allclose(cos, np.cos(2 * np.pi * k * x / 7), atol=1e-14)
    np.testing.assert_allclose(sin, np.sin(2 * np.pi * k * x / 7), atol=1e-14)


def test_the_logits_are_the_sum_of_cosines_of_a_plus_b_minus_c():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 113, 40), rng.integers(0, 113, 40)
    logits = trig_algorithm_logits(a, b, NANDA_KEY_FREQUENCIES, 113)
    c = np.arange(113)
    expected = sum(np.cos(2 * np.pi * k * (a[:, None] + b[:, None] - c) / 113) for k in NANDA_KEY_FREQUENCIES)
    assert logits.shape == (40, 113)
    np.testing.assert_allclose(logits, expected, atol=1e-12)


def test_nanda_frequencies_add_mod_113_at_every_pair():
    tokens = np.arange(113)
    logits = trig_algorithm_logits(tokens[:, None], tokens[None, :], NANDA_KEY_FREQUENCIES, 113)
    assert np.array_equal(logits.argmax(axis=-1), (tokens[:, None] + tokens[None, :]) % 113)
    assert np.all(maximizers(logits) == 1)


def test_a_composite_modulus_with_a_shared_factor_ties_answers():
    assert maximizers(trig_algorithm_logits(0, 0, [5], 15)) == 5  # 5 shares the factor 5: c = 0, 3, 6, 9, 12
    assert maximizers(trig_algorithm_logits(0, 0, [3, 6], 15)) == 3  # gcd(15, 3, 6) = 3: c = 0, 5, 10
    assert maximizers(trig_algorithm_logits(0, 0, [3, 5], 15)) == 1  # gcd(15, 3, 5) = 1
