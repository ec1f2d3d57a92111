"""The attention oracles: Isserlis enumeration, Monte Carlo moments, encodings and the least-squares offset map."""

from fractions import Fraction

import numpy as np
import pytest

from numerics.attention import (
    DOT_PRODUCT_BLOCK,
    dot_product_moment_samples,
    exact_dot_moment_table,
    exact_dot_moments,
    fit_offset_map,
    fitting_positions,
    frequencies,
    isserlis_dot_moment,
    perfect_pairings,
    projected_scores,
    sinusoidal_encoding,
)

# --- Isserlis -------------------------------------------------------------------------------


def test_pairings_are_counted_by_the_double_factorial():
    assert [len(perfect_pairings(tuple(range(m)))) for m in (0, 2, 4, 6)] == [1, 1, 3, 15]
    assert perfect_pairings((0, 1, 2, 3))[0] == [(0, 1), (2, 3)]


def test_isserlis_hand_cases():
    # d = 1: E[(qk)^2] = E[q^2] E[k^2] = 1 and E[(qk)^4] = E[q^4] E[k^4] = 3 * 3.
    assert [isserlis_dot_moment(1, m) for m in (1, 2, 3, 4)] == [0, 1, 0, 9]
    # d = 2: q1 k1 + q2 k2 is a standard Laplace variable, whose fourth moment is 4! = 24.
    assert isserlis_dot_moment(2, 4) == 24
    # Odd moments vanish by the symmetry q -> -q.
    assert isserlis_dot_moment(3, 3) == 0


def test_exact_moments_are_fractions():
    mean, variance, scaled, fourth = exact_dot_moments(3, Fraction(1, 2), 3)
    assert (mean, variance, scaled, fourth) == (0, Fraction(27, 4), Fraction(9, 4), Fraction(3 * 3 * 5 * 81, 16))
    assert all(isinstance(v, Fraction) for v in (mean, variance, scaled, fourth))


def test_the_exact_table_rounds_each_exact_moment_once():
    table = exact_dot_moment_table(2, np.array([2.0, 0.5]), np.array([1.0, 0.75]))
    # By hand at d = 2, sigma_q sigma_k = 2: Var = 2 * 4, Var / 2, E[(q.k)^4] = 24 * 2^4.
    assert table.shape == (2, 4) and table[0].tolist() == [0.0, 8.0, 4.0, 384.0]
    assert table[1].tolist() == [float(v) for v in exact_dot_moments(2, 0.5, 0.75)]


# --- Monte Carlo ----------------------------------------------------------------------------


def _samples(d, n=3, draws=2 * DOT_PRODUCT_BLOCK, seed=0):
    rng = np.random.default_rng(seed)
    sigma_q, sigma_k = rng.uniform(0.5, 2.0, n), rng.uniform(0.5, 2.0, n)
    seeds = rng.integers(0, 2**63 - 1, size=n)
    return sigma_q, sigma_k, seeds, dot_product_moment_samples(d, sigma_q, sigma_k, seeds, draws)


def test_samples_have_the_statistical_policys_shape():
    _, _, _, samples = _samples(5, n=3, draws=4 * DOT_PRODUCT_BLOCK)
    assert samples.shape == (3, 4 * DOT_PRODUCT_BLOCK, 4) and np.all(np.isfinite(samples))
    assert np.all(samples[..., 3] >= 0)


def test_batching_equals_per_instance():
    sigma_q, sigma_k, seeds, samples = _samples(7, n=4)
    for i in range(4):
        one = slice(i, i + 1)
        alone = dot_product_moment_samples(7, sigma_q[one], sigma_k[one], seeds[one], samples.shape[1])
        assert np.array_equal(alone[0], samples[i])


def test_scaled_variance_is_the_variance_over_d():
    _, _, _, samples = _samples(9)
    assert np.allclose(samples[..., 2] * 9, samples[..., 1], rtol=1e-15, atol=0)


def test_the_sample_means_agree_with_the_exact_moments():
    d, draws = 3, 30 * DOT_PRODUCT_BLOCK
    samples = dot_product_moment_samples(d, np.array([1.5]), np.array([0.7]), np.array([12345]), draws)[0]
    batch_means = samples.reshape(30, -1, 4).mean(axis=1)
    mean, standard_error = batch_means.mean(axis=0), batch_means.std(axis=0, ddof=1) / np.sqrt(30)
    exact = np.array([float(v) for v in exact_dot_moments(d, 1.5, 0.7)])
    # Six standard errors: a fixed seed, and a false alarm below 1e-6 per component anyway.
    assert np.all(np.abs(mean - exact) < 6 * standard_error)


def test_draws_must_fill_whole_blocks():
    with pytest.raises(ValueError, match="multiple of the block size"):
        dot_product_moment_samples(4, np.ones(1), np.ones(1), np.zeros(1, dtype=int), DOT_PRODUCT_BLOCK + 1)


# --- sinusoidal encoding --------------------------------------------------------------------


def test_encoding_hand_case():
    # d_model = 4, base = 100: w = (1, 100^(-1/2)) = (1, 0.1).
    encoding = sinusoidal_encoding(np.array([[10.0]]), 4, np.array([100.0]))
    assert np.allclose(encoding[0, 0], [np.sin(10), np.cos(10), np.sin(1), np.cos(1)], rtol=0, atol=1e-15)
    assert np.allclose(frequencies(6, np.array([1e4]))[0], [1.0, 1e4 ** (-1 / 3), 1e4 ** (-2 / 3)], rtol=1e-15)


def test_quarter_turn_offset_is_fitted():
    # d_model = 2, k = pi/2: PE(p + k) = (cos p, -sin p) = [[0, 1], [-1, 0]] PE(p).
    fitted, accuracy = fit_offset_map(2, np.array([np.pi / 2]), np.array([3.0]), np.array([1e4]))
    assert fitted.shape == (1, 2, 2) and accuracy.shape == (1,)
    assert np.all(np.abs(fitted[0] - [[0.0, 1.0], [-1.0, 0.0]]) <= accuracy[0]) and accuracy[0] < 1e-11


def _rotation_blocks(d_model, k, base):
    """M_k built independently of both the derivation and the oracle: one 2x2 rotation per frequency."""
    m = np.zeros((len(k), d_model, d_model))
    for i in range(d_model // 2):
        angle = k * base ** (-2 * i / d_model)
        m[:, 2 * i, 2 * i] = m[:, 2 * i + 1, 2 * i + 1] = np.cos(angle)
        m[:, 2 * i, 2 * i + 1], m[:, 2 * i + 1, 2 * i] = np.sin(angle), -np.sin(angle)
    return m


@pytest.mark.parametrize("d_model", [2, 6, 32, 64])
def test_the_accuracy_bounds_the_fit_error(d_model):
    rng = np.random.default_rng(d_model)
    n = 25
    k, pos = rng.uniform(-50, 50, n), rng.uniform(0, 1000, n)
    base = np.exp(rng.uniform(np.log(100), np.log(1e5), n))
    fitted, accuracy = fit_offset_map(d_model, k, pos, base)
    error = np.abs(fitted - _rotation_blocks(d_model, k, base)).max(axis=(1, 2))
    assert np.all(error <= accuracy) and np.all(accuracy < 1e-4)


def test_fit_batching_equals_per_instance():
    k, pos, base = np.array([3.0, -7.5, 0.25]), np.array([5.0, 999.0, 0.0]), np.array([1e4, 100.0, 5e4])
    fitted, accuracy = fit_offset_map(8, k, pos, base)
    for i in range(3):
        alone, alone_accuracy = fit_offset_map(8, k[i : i + 1], pos[i : i + 1], base[i : i + 1])
        assert np.allclose(alone[0], fitted[i], rtol=0, atol=1e-14) and np.isclose(alone_accuracy[0], accuracy[i])


def test_one_slow_period_is_not_enough_to_fit():
    # Spread over a single period of the slowest frequency the encodings are nearly rank deficient
    # (neighbouring frequencies differ by a factor 100^(1/32) = 1.155 for base 100, d_model 64).
    base, d_model = np.array([100.0]), 64
    slowest = frequencies(d_model, base)[0, -1]
    one_period = np.linspace(0, 2 * np.pi / slowest, 4 * d_model + 16)[None, :]
    singular = np.linalg.svd(sinusoidal_encoding(one_period, d_model, base)[0], compute_uv=False)
    spread = fitting_positions(d_model, np.zeros(1), base)
    wide = np.linalg.svd(sinusoidal_encoding(spread, d_model, base)[0], compute_uv=False)
    assert singular[0] / singular[-1] > 1e8 and wide[0] / wide[-1] < 100


# --- after learned projections ---------------------------------------------------------------


def _scores(w_query, w_key, d_model=8, k=3.0, base=1e4):
    positions = np.linspace(0, 500, 41)[None, :]
    return projected_scores(positions, np.array([k]), d_model, np.array([base]), w_query[None], w_key[None])[0]


def test_raw_encodings_score_depends_on_the_offset_only():
    scores = _scores(np.eye(8), np.eye(8))
    expected = np.cos(3.0 * frequencies(8, np.array([1e4]))[0]).sum()
    assert np.allclose(scores, expected, rtol=0, atol=1e-12)


def test_learned_projections_make_the_score_depend_on_pos():
    rng = np.random.default_rng(0)
    scores = _scores(rng.standard_normal((4, 8)), rng.standard_normal((4, 8)))
    assert np.ptp(scores) > 0.1


def test_projections_commuting_with_every_offset_map_keep_it_relative():
    # W_Q^T W_K = M_l (a rotation by a fixed offset l) commutes with every M_p: the score is pos-free.
    m_l = _rotation_blocks(8, np.array([11.0]), np.array([1e4]))[0]
    scores = _scores(np.eye(8), m_l)
    assert np.ptp(scores) < 1e-12
