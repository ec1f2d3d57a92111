"""LoRA measured directly: torch's parameter count, the alternating least-squares search, the rebuilt truncation and its error bound."""

import numpy as np
import pytest

from numerics.circuits.lora import (
    factorisation_error,
    lora_parameter_counts,
    svd_error_bound,
    truncated_svd_reconstruction_error,
)


@pytest.mark.parametrize("d, k, r", [(1, 1, 1), (6, 6, 2), (8, 3, 4), (512, 512, 8)])
def test_torch_counts_d_r_plus_r_k_trainable_and_d_k_frozen(d, k, r):
    assert lora_parameter_counts(d, k, r) == ((d + k) * r, d * k)


def test_the_search_never_beats_the_truncation_and_almost_always_reaches_it():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((30, 5, 4))
    searched = factorisation_error(W, 2, rng)
    truncated = truncated_svd_reconstruction_error(W, 2)
    s = np.linalg.svd(W, compute_uv=False)
    exact = (s[:, 2:] ** 2).sum(axis=1)
    bound = svd_error_bound(W, exact)
    assert np.all(np.abs(truncated - exact) <= bound)
    assert np.all(searched >= exact - bound)
    assert np.mean(searched - exact <= 1e-9 * (s**2).sum(axis=1)) >= 0.9


def test_nothing_is_discarded_when_r_reaches_the_rank():
    rng = np.random.default_rng(2)
    W = rng.standard_normal((5, 3, 4))
    assert np.all(truncated_svd_reconstruction_error(W, 3) <= svd_error_bound(W, np.zeros(5)))
    assert np.all(factorisation_error(W, 3, rng) < 1e-12)
