"""LoRA's update measured directly: parameters counted in torch, best rank-r fits found by search (numpy/scipy/torch).

* :func:`lora_parameter_counts`: a LoRA layer built in torch (a frozen ``nn.Linear`` and the two
  trainable factors) and its parameters counted, trainable and frozen;
* :func:`factorisation_error`: the smallest ``||W - B A||_F^2`` that L-BFGS-B finds over
  ``B`` (``d x r``) and ``A`` (``r x k``) from random starts: an upper bound on the best rank-``r`` error
  found by searching, with no singular value in it;
* :func:`truncated_svd_reconstruction_error`: the error of the truncated SVD rebuilt as a matrix
  (``scipy.linalg.svd`` with LAPACK's ``gesvd``), computed entry by entry;
* :func:`svd_error_bound`: how far two float64 evaluations of the best error can be apart.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize

from numerics.attention.kernels import UNIT_ROUNDOFF
from numerics.scaling.fit import one_blas_thread

MAX_ITERATIONS = 500
"""L-BFGS-B iterations per start: enough for almost every instance here (a median of about 50); a slow one
(two singular values nearly equal) stops early, and its error is then merely an upper bound."""


def lora_parameter_counts(d: int, k: int, r: int) -> tuple[int, int]:
    """``(trainable, frozen)``: the parameters of a LoRA layer on a ``d x k`` weight, counted by torch.

    The layer holds the frozen pretrained ``nn.Linear(k, d, bias=False)`` and the trainable factors
    ``A = nn.Linear(k, r)`` and ``B = nn.Linear(r, d)`` (no biases), as in Hu et al. 2021, section 4.1.
    """
    import torch  # imported here: listing theorems must stay fast

    layer = torch.nn.ModuleDict(
        {
            "W_0": torch.nn.Linear(k, d, bias=False).requires_grad_(False),
            "A": torch.nn.Linear(k, r, bias=False),
            "B": torch.nn.Linear(r, d, bias=False),
        }
    )
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in layer.parameters() if not p.requires_grad)
    return trainable, frozen


def _squared_residual(W: np.ndarray, r: int):
    """``f(x) = ||W - B A||_F^2`` and its gradient, ``x`` holding ``B (d x r)`` then ``A (r x k)`` row by row."""
    d, k = W.shape

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        B, A = x[: d * r].reshape(d, r), x[d * r :].reshape(r, k)
        R = W - B @ A
        return float(np.sum(R * R)), np.concatenate([(-2 * R @ A.T).ravel(), (-2 * B.T @ R).ravel()])

    return objective


def factorisation_error(W, r: int, rng: np.random.Generator, starts: int = 1) -> np.ndarray:
    """``(m,)``: the smallest ``||W - B A||_F^2`` found by L-BFGS-B over ``(B, A)`` from ``starts`` random starts.

    Each start is a standard normal ``(B, A)``. The problem is not convex, but all its local minima are
    global (Baldi and Hornik 1989) and its saddles strict, so a descent method from a random start
    reaches the minimum; the value returned is the error of an actual rank-``r`` product in any case.
    ``scipy.optimize.minimize`` is not batched: a loop over instances, on one BLAS thread (the
    vectors are tiny).
    """
    W = np.asarray(W, dtype=float)
    m, d, k = W.shape
    best = np.full(m, np.inf)
    with one_blas_thread():
        for i in range(m):
            objective = _squared_residual(W[i], r)
            for _ in range(starts):
                start = rng.standard_normal((d + k) * r)
                result = scipy.optimize.minimize(
                    objective, start, jac=True, method="L-BFGS-B",
                    options={"maxiter": MAX_ITERATIONS, "gtol": 1e-10, "ftol": 1e-14},
                )
                best[i] = min(best[i], result.fun)
    return best


def truncated_svd_reconstruction_error(W, r: int) -> np.ndarray:
    """``(m,)``: ``||W - U_r diag(s_r) V_r^T||_F^2``, the rank-``r`` truncation rebuilt and subtracted entry by entry.

    The SVD is LAPACK's ``gesvd`` through ``scipy.linalg.svd`` (one call per instance).
    """
    W = np.asarray(W, dtype=float)
    errors = []
    for matrix in W:
        U, s, Vt = scipy.linalg.svd(matrix, full_matrices=False, lapack_driver="gesvd")
        truncation = (U[:, :r] * s[:r]) @ Vt[:r]
        errors.append(np.sum((matrix - truncation) ** 2))
    return np.array(errors)


def svd_error_bound(W, error) -> np.ndarray:
    """``(m,)``: a bound on the gap between two float64 evaluations of the best error ``E = sum_{i > r} s_i^2``.

    A backward-stable SVD returns the exact singular values of ``W + F`` with
    ``||F||_2 <= delta = 10 max(d, k)^2 u ||W||_F`` (a generous constant for LAPACK), so each computed
    ``s_i`` is within ``delta`` of the true one (Weyl) and ``sum_{i > r} s_i^2`` within
    ``2 sqrt(p E) delta + p delta^2`` (Cauchy-Schwarz over the ``p = min(d, k)`` values). A rank-``r``
    matrix rebuilt from those factors is within ``delta`` of the exact truncation of ``W + F``, so its
    error, summed entry by entry (``gamma`` of the ``d k`` squares, below ``delta``), is off by as much.
    Two evaluations differ by at most twice that.
    """
    W = np.asarray(W, dtype=float)
    _, d, k = W.shape
    p = min(d, k)
    delta = 10 * max(d, k) ** 2 * UNIT_ROUNDOFF * np.linalg.norm(W, axis=(1, 2))
    return 2 * (2 * np.sqrt(p * np.maximum(error, 0.0)) * delta + p * delta**2)
