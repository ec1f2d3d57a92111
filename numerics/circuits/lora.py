"""LoRA's update measured directly: parameters counted in torch, best rank-r fits found by search (numpy/scipy/torch).

* :func:`lora_parameter_counts`: a LoRA layer built in torch (a frozen ``nn.Linear`` and the two
  trainable factors) and its parameters counted, trainable and frozen;
* :func:`factorisation_error`: the ``||W - B A||_F^2`` that alternating least squares reaches over
  ``B`` (``d x r``) and ``A`` (``r x k``) from a random start, every instance at once: an upper bound on
  the best rank-``r`` error found by searching, with no singular value in it;
* :func:`truncated_svd_reconstruction_error`: the error of the truncated SVD rebuilt as a matrix
  (``scipy.linalg.svd`` with LAPACK's ``gesvd``), computed entry by entry;
* :func:`svd_error_bound`: how far two float64 evaluations of the best error can be apart.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from numerics.attention.kernels import UNIT_ROUNDOFF
from numerics.threads import one_blas_thread

SWEEPS = 200
"""Alternating least-squares sweeps per instance. Each sweep shrinks the angle between ``B``'s column space and
``W``'s top ``r`` left singular subspace by ``(s_(r+1) / s_r)^2``; at 1000 instances of the domain, 200
reach the minimum within ``10^-9 ||W||_F^2`` everywhere (largest gap ``3e-12``). A slow one (two
singular values nearly equal) stops short, and its error is then merely an upper bound."""


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


def factorisation_error(W, r: int, rng: np.random.Generator) -> np.ndarray:
    """``(m,)``: the ``||W - B A||_F^2`` that alternating least squares reaches over ``(B, A)`` from a random start.

    The start is a standard normal ``A`` (``q x k``, ``q = min(d, r, k)``: a product of rank ``q`` is one
    of rank at most ``r``); each sweep minimises the error exactly over one factor with the other fixed,
    ``B = W A^T (A A^T)^-1``, then ``A = (B^T B)^-1 B^T W`` (the normal equations, generic full-rank factors
    for a Gaussian ``W``). The error never increases; the problem's local minima are all global (Baldi and
    Hornik 1989) and its saddles strict, so from a random start the sweeps reach the minimum, and the value
    returned is the error of an actual rank-``r`` product in any case. No singular value is computed: every
    instance's sweep is one batched solve of ``q x q`` systems, on one BLAS thread (the matrices are tiny).
    """
    W = np.asarray(W, dtype=float)
    m, d, k = W.shape
    q = min(d, r, k)
    A = rng.standard_normal((m, q, k))
    W_T = np.swapaxes(W, 1, 2)
    with one_blas_thread():
        for _ in range(SWEEPS):
            B = np.swapaxes(np.linalg.solve(A @ np.swapaxes(A, 1, 2), A @ W_T), 1, 2)
            B_T = np.swapaxes(B, 1, 2)
            A = np.linalg.solve(B_T @ B, B_T @ W)
    residual = W - B @ A
    return np.sum(residual * residual, axis=(1, 2))


def truncated_svd_reconstruction_error(W, r: int) -> np.ndarray:
    """``(m,)``: ``||W - U_r diag(s_r) V_r^T||_F^2``, the rank-``r`` truncation rebuilt and subtracted entry by entry.

    The SVD is LAPACK's ``gesvd`` through ``scipy.linalg.svd`` (which loops over the stack, one call per instance).
    """
    W = np.asarray(W, dtype=float)
    U, s, Vt = scipy.linalg.svd(W, full_matrices=False, lapack_driver="gesvd")
    truncation = (U[..., :r] * s[:, None, :r]) @ Vt[:, :r]
    return np.sum((W - truncation) ** 2, axis=(1, 2))


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
