"""Independent computations for the attention theorems (numpy only; no closed forms).

* Scaled dot-product logits (Vaswani et al. 2017, section 3.2.1, footnote 4; seed 003,
  exercise 1.2): Monte Carlo moments of ``q . k`` for Gaussian ``q, k``
  (:func:`dot_product_moment_samples`), and the exact moments for small ``d`` by
  Isserlis' theorem (:func:`isserlis_dot_moment`, :func:`exact_dot_moments`,
  :func:`exact_dot_moment_table`).
* Sinusoidal positional encoding (Vaswani et al. 2017, section 3.5; seed 003,
  exercise 1.6): the encoding itself (:func:`sinusoidal_encoding`), the linear map
  taking ``PE(p)`` to ``PE(p + k)`` fitted by least squares from many positions
  (:func:`fit_offset_map`), and attention scores after learned projections
  (:func:`projected_scores`).
"""

from __future__ import annotations

import functools
import itertools
import math
from fractions import Fraction

import numpy as np

# --- dot products of Gaussian vectors ---------------------------------------------------------

DOT_PRODUCT_BLOCK = 40
"""Draws per independent block of :func:`dot_product_moment_samples`."""

SIMULATED_COORDINATES = 32
"""Each draw of :func:`dot_product_moment_samples` averages ``ceil(32 / d)`` sub-blocks."""

DOT_PRODUCT_COMPONENTS = ("mean", "variance", "scaled_variance", "fourth_moment")


def dot_product_moment_samples(
    d: int,
    sigma_q,
    sigma_k,
    seeds,
    draws: int,
    block: int = DOT_PRODUCT_BLOCK,
    coordinates: int = SIMULATED_COORDINATES,
) -> np.ndarray:
    """Per-draw unbiased samples of ``(E[q.k], Var(q.k), Var(q.k / sqrt d), E[(q.k)^4])``.

    ``q, k`` in R^d have independent entries ``q_i ~ N(0, sigma_q^2)``, ``k_i ~ N(0, sigma_k^2)``;
    ``sigma_q, sigma_k, seeds`` have shape ``(n,)``; the result has shape ``(n, draws, 4)``.

    The draws come in independent blocks of ``block`` (even). A sub-block simulates
    ``block`` queries and ``block`` keys and forms all ``block**2`` dot products
    ``x_ab = q_a . k_b``; each ``x_ab`` has exactly the law of ``q . k`` (``q_a`` and ``k_b``
    are independent), so row ``a`` gives unbiased ``mean_b x_ab``, ``mean_b x_ab^2``,
    ``mean_b x_ab^4``. The variance does not assume the mean is 0: ``E[x]^2`` is estimated by
    ``m_a m'_(a+1)``, the mean of row ``a`` over the first half of the keys times the mean of
    row ``a + 1`` (cyclically) over the second half; the two share no vector, so the product is
    unbiased for ``E[x]^2`` and ``mean_b x_ab^2 - m_a m'_(a+1)`` for ``Var(q . k)``.

    Draw ``a`` of a block averages row ``a`` of ``ceil(coordinates / d)`` independent
    sub-blocks, so every instance simulates about the same number of normal coordinates
    whatever ``d``: small ``d``, where ``(q.k)^4`` is most heavy-tailed (a Laplace variable to the
    fourth power at d = 2), is cheap and gets the most averaging. With one sub-block of 20 per
    draw, a t test on 30 batch means of the fourth moment at d = 2 rejected the true value 37
    times too often at two-sided level 1e-4 (positive skew makes the lower tail heavy). With
    blocks of 40 and 16 sub-blocks it rejected 1.0 times as often as it should (40,000
    instances, about 4 rejections expected), and at level 1e-3 every component rejected 0.8 to
    1.25 times the nominal rate at d = 2, 64 and 128 (40,000 instances each). Far smaller levels
    cannot be measured: the residual skew still makes the lower tail somewhat heavier there.

    Draws within a block are dependent, blocks are not: a Monte Carlo test must form batch
    means over whole blocks (``draws / batches`` a multiple of ``block``), which makes the batch
    means independent and identically distributed.

    Each instance has its own random stream (``Generator(SFC64(seeds[i]))``), so its
    draws do not depend on the batch it is evaluated in; this loops over instances in
    Python, and the work inside each iteration (one batched matmul) is vectorised.
    """
    if draws % block or block % 2:
        raise ValueError(f"draws={draws} must be a multiple of the block size {block}, which must be even")
    sigma_q, sigma_k = np.asarray(sigma_q, dtype=float), np.asarray(sigma_k, dtype=float)
    seeds = np.asarray(seeds)
    samples = np.empty((len(seeds), draws, len(DOT_PRODUCT_COMPONENTS)))
    blocks, repeats = draws // block, -(-coordinates // d)
    # Row means as matrix products (much faster than numpy reductions over short axes).
    half_means = np.kron(np.eye(2), np.full((block // 2, 1), 2.0 / block))
    row_mean = np.full(block, 1.0 / block)
    for i, seed in enumerate(seeds):
        q, k = np.random.Generator(np.random.SFC64(int(seed))).standard_normal((2, blocks, repeats, block, d))
        x = np.matmul(q, np.swapaxes(k, -1, -2)).reshape(-1, block)
        x *= sigma_q[i] * sigma_k[i]
        halves = (x @ half_means).reshape(blocks, repeats, block, 2)
        squared = x * x
        fourth = ((squared * squared) @ row_mean).reshape(blocks, repeats, block)
        samples[i, :, 0] = halves.mean(axis=(1, 3)).ravel()
        samples[i, :, 1] = _variance_estimates(squared, halves, row_mean).mean(axis=1).ravel()
        scaled = x / np.sqrt(d)
        scaled_halves = (scaled @ half_means).reshape(halves.shape)
        samples[i, :, 2] = _variance_estimates(scaled * scaled, scaled_halves, row_mean).mean(axis=1).ravel()
        samples[i, :, 3] = fourth.mean(axis=1).ravel()
    return samples


def _variance_estimates(squared: np.ndarray, halves: np.ndarray, row_mean: np.ndarray) -> np.ndarray:
    """Unbiased variance per row: mean of the squares ``squared`` minus a product of two means over disjoint vectors."""
    second = (squared @ row_mean).reshape(halves.shape[:-1])
    return second - halves[..., 0] * np.roll(halves[..., 1], -1, axis=-1)


def perfect_pairings(items: tuple) -> list[list[tuple]]:
    """Every way of splitting ``items`` (an even number of them) into unordered pairs."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    pairings = []
    for j, partner in enumerate(rest):
        remaining = rest[:j] + rest[j + 1 :]
        pairings += [[(first, partner)] + p for p in perfect_pairings(remaining)]
    return pairings


@functools.lru_cache(maxsize=None)
def isserlis_dot_moment(d: int, m: int) -> int:
    """``E[(q . k)^m] / (sigma_q sigma_k)^m`` exactly, by enumerating index tuples and pairings.

    ``E[(sum_i q_i k_i)^m] = sum over (i_1..i_m) of E[q_i1 ... q_im] E[k_i1 ... k_im]``
    (``q`` and ``k`` are independent), and by Isserlis' theorem (Isserlis 1918)
    ``E[q_i1 ... q_im] = sigma_q^m`` times the number of perfect pairings of the ``m``
    positions whose pairs carry equal indices (0 for odd ``m``). Cost ``d^m`` tuples: for small
    ``d`` and ``m`` only (12 ms at d = 8, m = 4; cached, it depends on ``d`` and ``m`` alone).
    """
    pairings = perfect_pairings(tuple(range(m))) if m % 2 == 0 else []
    total = 0
    for indices in itertools.product(range(d), repeat=m):
        matching = sum(all(indices[a] == indices[b] for a, b in p) for p in pairings)
        total += matching**2
    return total


def exact_dot_moments(d: int, sigma_q, sigma_k) -> tuple[Fraction, Fraction, Fraction, Fraction]:
    """``(E[q.k], Var(q.k), Var(q.k / sqrt d), E[(q.k)^4])`` exactly (Fractions), by Isserlis' theorem.

    ``sigma_q, sigma_k`` may be ints, Fractions or floats (a float is taken at its exact
    binary value).
    """
    scale = Fraction(sigma_q) * Fraction(sigma_k)
    mean = isserlis_dot_moment(d, 1) * scale
    variance = isserlis_dot_moment(d, 2) * scale**2 - mean**2
    return mean, variance, variance / d, isserlis_dot_moment(d, 4) * scale**4


def exact_dot_moment_table(d: int, sigma_q, sigma_k) -> np.ndarray:
    """``(n, 4)``: :func:`exact_dot_moments` per instance, each rounded once to float64 (relative error <= 2^-53).

    ``sigma_q, sigma_k`` have shape ``(n,)``; each float is taken at its exact binary value, so
    the only rounding is the final conversion of the exact rational.
    """
    pairs = zip(np.asarray(sigma_q, dtype=float).tolist(), np.asarray(sigma_k, dtype=float).tolist())
    return np.array([[float(m) for m in exact_dot_moments(d, q, k)] for q, k in pairs]).reshape(-1, 4)


# --- sinusoidal positional encoding -----------------------------------------------------------

_GOLDEN = (math.sqrt(5) - 1) / 2
SLOWEST_PERIODS = 8
"""How many periods of the slowest frequency the fitting positions span."""


def frequencies(d_model: int, base) -> np.ndarray:
    """``w_i = base^(-2i / d_model)``, ``i = 0 .. d_model/2 - 1``, shape ``(n, d_model/2)`` for ``base`` ``(n,)``."""
    i = np.arange(d_model // 2)
    return np.asarray(base, dtype=float)[:, None] ** (-2.0 * i / d_model)


def sinusoidal_encoding(positions, d_model: int, base) -> np.ndarray:
    """``PE(p, 2i) = sin(p w_i)``, ``PE(p, 2i+1) = cos(p w_i)`` (Vaswani et al. 2017, section 3.5).

    ``positions`` has shape ``(n, m)`` (real positions allowed), ``base`` ``(n,)``; the result
    ``(n, m, d_model)``.
    """
    angles = np.asarray(positions, dtype=float)[:, :, None] * frequencies(d_model, base)[:, None, :]
    encoding = np.empty(angles.shape[:2] + (d_model,))
    encoding[..., 0::2] = np.sin(angles)
    encoding[..., 1::2] = np.cos(angles)
    return encoding


def fitting_positions(d_model: int, pos, base, samples: int | None = None) -> np.ndarray:
    """Positions ``pos + L frac(j g)``, ``j = 1..samples`` (``g`` the golden ratio), shape ``(n, samples)``.

    ``L`` spans :data:`SLOWEST_PERIODS` periods of the slowest frequency ``w_min =
    base^(-(d_model-2)/d_model)``: over a shorter range the slowest (sin, cos) columns are
    nearly constant and neighbouring frequencies (ratio ``base^(2/d_model)``, as low as 1.155
    for base 100 and d_model 64) cannot be told apart, so the least-squares problem is
    ill-conditioned (condition number 1e15 at one period, about 10 at eight). The golden-ratio
    sequence spreads the positions evenly without a random stream.
    """
    samples = samples or 4 * d_model + 16
    slowest = frequencies(d_model, base)[:, -1]
    span = SLOWEST_PERIODS * 2 * np.pi / slowest
    offsets = (np.arange(1, samples + 1) * _GOLDEN) % 1.0
    return np.asarray(pos, dtype=float)[:, None] + span[:, None] * offsets[None, :]


def fit_offset_map(d_model: int, k, pos, base, samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The matrix ``M`` with ``PE(p + k) = M PE(p)``, fitted by least squares, and a bound on its error.

    Rows of ``P`` are ``PE(p_j)`` and rows of ``P'`` are ``PE(p_j + k)`` at the positions of
    :func:`fitting_positions`; ``M^T`` minimises ``||P M^T - P'||`` (batched SVD, float64).
    Returns ``(M, accuracy)`` of shapes ``(n, d_model, d_model)`` and ``(n,)``.

    ``accuracy`` bounds ``max |M_fit - M_exact|`` from the fit's conditioning. The encodings
    carry an absolute error ``delta <= 4 u (max p + |k|) w_0 + 2 u`` (the angle ``p w`` is
    rounded relative to its size, ``w_0 = 1``, ``u = 2^-53``), so ``||dP||_2, ||dP'||_2 <=
    sqrt(m d) delta``. The system is consistent (zero residual) and ``||M|| = 1``, so to first
    order (Golub & Van Loan, Matrix Computations, section 5.3) ``||dM||_2 <= (||dP'|| +
    ||dP||) / sigma_min(P)``; the backward-stable SVD solve adds ``~ u kappa(P)`` per entry
    scale, counted as ``sqrt(m) d u sigma_max / sigma_min``. The bound is that sum times 4.
    """
    k, pos = np.asarray(k, dtype=float), np.asarray(pos, dtype=float)
    positions = fitting_positions(d_model, pos, base, samples)
    before = sinusoidal_encoding(positions, d_model, base)
    after = sinusoidal_encoding(positions + k[:, None], d_model, base)
    u, singular, vt = np.linalg.svd(before, full_matrices=False)
    transposed = np.swapaxes(vt, 1, 2) @ ((np.swapaxes(u, 1, 2) @ after) / singular[:, :, None])
    m = positions.shape[1]
    eps = np.finfo(float).eps / 2
    delta = 4 * eps * (np.abs(positions).max(axis=1) + np.abs(k)) + 2 * eps
    perturbation = 2 * math.sqrt(m * d_model) * delta + math.sqrt(m) * d_model * eps * singular[:, 0]
    accuracy = 4 * perturbation / singular[:, -1]
    return np.swapaxes(transposed, 1, 2), accuracy


def projected_scores(positions, k, d_model: int, base, w_query, w_key) -> np.ndarray:
    """Attention scores ``(W_Q PE(p)) . (W_K PE(p + k))`` for each position ``p``.

    ``positions`` ``(n, m)``, ``k`` and ``base`` ``(n,)``, ``w_query, w_key`` ``(n, d_head,
    d_model)``; the result ``(n, m)``.
    """
    k = np.asarray(k, dtype=float)
    queries = sinusoidal_encoding(positions, d_model, base) @ np.swapaxes(w_query, 1, 2)
    keys = sinusoidal_encoding(np.asarray(positions) + k[:, None], d_model, base) @ np.swapaxes(w_key, 1, 2)
    return (queries * keys).sum(axis=-1)
from numerics.attention.kernels import scaled_dot_product_attention  # noqa: E402,F401
