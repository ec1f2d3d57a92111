"""lora-rank (seed 002; Hu et al. 2021): LoRA's update has rank at most r, costs (d + k) r parameters, and the
best one of rank r is the truncated SVD (Eckart-Young-Mirsky).

The claim is ``(rank bound, trainable parameters, their fraction of a full update, best error)``:
``min(d, r, k)`` and ``d r + r k`` and ``r (d + k) / (d k)`` compiled from the lemmas of
:func:`proofs.circuits.lora.truncated_svd_error`, and its closed form ``s_2^T s_2`` evaluated on the
discarded singular values of the target update ``W`` (numpy's SVD). The oracle measures each
directly: the numerical rank of a generic product ``B A``; the parameters of a LoRA layer built
and counted in torch; and the smallest ``||W - M||_F^2`` over rank-``r`` candidates ``M``: the
product alternating least squares reaches from a random start, and the truncated SVD of scipy's
``gesvd`` rebuilt entry by entry. A claimed minimum below every candidate's error is refuted by the
truncation, one above the search's by the search.
"""

from __future__ import annotations

import functools

import numpy as np

from checkers.closed_form import compile_closed_form
from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.results import Erratum
from checkers.theorem import Anchor, Theorem
from numerics.attention.rank import numerical_rank, orthonormal_frames
from numerics.circuits.lora import (
    factorisation_error,
    lora_parameter_counts,
    svd_error_bound,
    truncated_svd_reconstruction_error,
)
from proofs.circuits.lora import ECKART_YOUNG, FROBENIUS_SVD, HU, LORA_SHAPES, THIN_SVD, truncated_svd_error

_RANK, _PARAMETERS = range(2)  # truncated_svd_error's lemmas
_ERROR = 3  # the error's place in the claim vector


def _draw(rng, n, d, k, r):
    """A standard normal target update ``W`` (``d x k``) and generic LoRA factors ``B``, ``A`` (orthonormal frames).

    Orthonormal factors keep the nonzero singular values of ``B A`` away from the rank threshold
    (a product of Gaussian matrices has a heavy tail of tiny ones), so its rank is decided.
    """
    return {
        "W": rng.standard_normal((n, d, k)),
        "B": orthonormal_frames(rng, n, d, r),
        "A": orthonormal_frames(rng, n, r, k),
    }


@functools.lru_cache(maxsize=1)
def _lemma_forms():
    """The compiled rank bound and parameter count and fraction of the lemmas."""
    derivation = lora_rank.built_derivation()
    rank, parameters = derivation.lemmas[_RANK], derivation.lemmas[_PARAMETERS]
    return tuple(compile_closed_form(e) for e in (rank.result, parameters.start, parameters.expression("fraction")))


def _discarded(W, r) -> np.ndarray:
    """``s_2``: each ``W``'s singular values after the ``r`` largest, ``(m, q, 1)``, ``q = min(d, k) - r`` or empty."""
    return np.linalg.svd(W, compute_uv=False)[:, r:, None]


def _assemble(closed_form, d, k, r, W):
    """The claim vector: the lemmas' closed forms at these sizes, and ``s_2^T s_2`` on each ``W``'s discarded values."""
    sizes = {"d": d, "k": k, "r": r}
    counts = [np.broadcast_to(form(**sizes), len(W)) for form in _lemma_forms()]
    error = closed_form(s_2=_discarded(W, r))[:, 0, 0]
    return np.stack([*counts, error], axis=1)


def _measured(d, k, r, W, B, A, rng):
    """The oracle: the rank of ``B A``, torch's parameter count, and the best rank-``r`` candidate's error, with accuracy."""
    trainable, frozen = lora_parameter_counts(d, k, r)
    searched = factorisation_error(W, r, rng)
    best = np.minimum(searched, truncated_svd_reconstruction_error(W, r))
    counts = np.broadcast_to([trainable, trainable / frozen], (len(W), 2))
    values = np.column_stack([numerical_rank(B @ A), counts, best])
    accuracy = np.zeros_like(values)
    accuracy[:, _ERROR] = svd_error_bound(W, best)
    return values, accuracy


# --- mutants ---------------------------------------------------------------------------------------


def _with_entry(entry: int, wrong):
    """The true claim with one entry replaced by ``wrong(d, k, r, W)``."""

    def mutant(d, k, r, W):
        claim = lora_rank.evaluate_claim(d=d, k=k, r=r, W=W)
        claim[:, entry] = wrong(d, k, r, W)
        return claim

    return mutant


def _spectrum(W) -> np.ndarray:
    return np.linalg.svd(W, compute_uv=False)


SPECTRAL_MUTANT = "error^2 = s_(r+1)^2 (the spectral-norm Eckart-Young)"
_MUTANTS = {
    "rank(BA) <= min(d, k) (r ignored)": _with_entry(0, lambda d, k, r, W: min(d, k)),
    "2 d r parameters for every shape (the square case)": _with_entry(1, lambda d, k, r, W: 2 * d * r),
    "fraction r / d (one factor counted)": _with_entry(2, lambda d, k, r, W: r / d),
    SPECTRAL_MUTANT: _with_entry(_ERROR, lambda d, k, r, W: np.pad(_spectrum(W), ((0, 0), (0, r)))[:, r] ** 2),
    "error = sum of the discarded s_i, not squared": _with_entry(
        _ERROR, lambda d, k, r, W: _spectrum(W)[:, r:].sum(axis=1)
    ),
    "the r smallest singular values kept": _with_entry(
        _ERROR, lambda d, k, r, W: (_spectrum(W)[:, : max(min(d, k) - r, 0)] ** 2).sum(axis=1)
    ),
    "error^2 = sum over i >= r (one discarded value too many)": _with_entry(
        _ERROR, lambda d, k, r, W: (_spectrum(W)[:, r - 1 :] ** 2).sum(axis=1)
    ),
}


# --- anchors ---------------------------------------------------------------------------------------

LORA_ANCHORS = (
    Anchor(
        {"d": 3, "k": 3, "r": 1},
        [1, 6, 2 / 3, 5],
        "by hand: W = diag(3, 2, 1), r = 1 keeps 3 e_1 e_1^T, error^2 = 2^2 + 1^2 = 5; 2 d r = 6 parameters of d^2 = 9; "
        "B = e_1, A = e_1^T has rank 1",
        rtol=1e-12,
        inputs={"W": np.diag([3.0, 2.0, 1.0]), "B": np.eye(3, 1), "A": np.eye(1, 3)},
    ),
    Anchor(
        {"d": 2, "k": 3, "r": 1},
        [1, 5, 5 / 6, 9],
        "by hand: W = [[3, 0, 0], [0, 4, 0]] has singular values 4 and 3; r = 1 keeps the 4, error^2 = 3^2 = 9; "
        "(d + k) r = 5 parameters of d k = 6",
        rtol=1e-12,
        inputs={"W": np.array([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0]]), "B": np.eye(2, 1), "A": np.eye(1, 3)},
    ),
)
"""Two anchors worked by hand at their own inputs, laid out as the claim ``(rank, parameters, fraction, error^2)``:
for a diagonal (or rectangular diagonal) ``W`` the singular values are the absolute diagonal entries, and the
truncated SVD keeps the largest; the parameters are ``d r + r k`` and the fraction over ``d k``."""


# --- worked example --------------------------------------------------------------------------------


def _lora_values(d, k, r, W, B, A, seed):
    claim = lora_rank.evaluate_claim(d=d, k=k, r=r, W=W[None])[0]
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    searched = factorisation_error(W[None], r, np.random.default_rng(seed))[0]
    trainable, frozen = lora_parameter_counts(d, k, r)
    return {
        "W": W,
        "singular_values": s,
        "B_best": U[:, :r] * s[:r],
        "A_best": Vt[:r],
        "rank_bound": int(claim[0]),
        "rank_BA": int(numerical_rank(B @ A)),
        "parameters": int(claim[1]),
        "parameters_torch": trainable,
        "full_parameters": frozen,
        "fraction": float(claim[2]),
        "error": float(claim[_ERROR]),
        "error_searched": float(searched),
        "error_truncation": float(truncated_svd_reconstruction_error(W[None], r)[0]),
        "spectral_mutant": float(s[r] ** 2) if r < len(s) else 0.0,
    }


lora_rank = Theorem(
    id="lora-rank",
    title="LoRA: rank, parameters, and the best low-rank update (Eckart-Young-Mirsky)",
    topic="circuits",
    statement=(
        r"A LoRA update $\Delta W = B A$ of a frozen weight $W_0 \in \mathbb{R}^{d \times k}$, with "
        r"$B \in \mathbb{R}^{d \times r}$ and $A \in \mathbb{R}^{r \times k}$, has rank at most $\min(d, r, k)$ "
        r"(attained for generic factors) and $(d + k)\, r$ trainable parameters, the fraction "
        r"$r (d + k) / (d k)$ of a full update: $2 d r$ instead of $d^2$, a fraction $2 r / d$, for a square weight. "
        r"The best update of rank at most $r$ for a target full update $W$ in Frobenius norm is its truncated SVD, "
        r"$B = U_r \mathrm{diag}(s_1, \dots, s_r)$, $A = V_r^\top$ (Eckart-Young-Mirsky), and "
        r"$\min_{\mathrm{rank}\, M \le r} \lVert W - M \rVert_F^2 = \sum_{i > r} s_i^2$, the sum of the squared "
        r"discarded singular values of $W$ (not $s_{r+1}^2$, the spectral-norm error)."
    ),
    assumptions=(
        LORA_SHAPES,
        THIN_SVD,
        r"the rank bound, the parameter counts and the truncation's residual are proved for symbolic sizes; the "
        r"residual's squared Frobenius norm is the sum of its squared singular values (cited); that no matrix of "
        r"rank at most $r$ does better is Eckart-Young-Mirsky, cited and tested against alternating least squares "
        r"over all rank-$r$ factorisations",
        r"rank attainment is checked numerically on generic factors (singular values above $10^{-10} \sigma_1$, the "
        r"band $(10^{-12}, 10^{-8})\, \sigma_1$ refused as undecided)",
    ),
    sources=(
        f"{HU}, section 4.1",
        ECKART_YOUNG,
        FROBENIUS_SVD,
        "Baldi and Hornik 1989, Neural networks and principal component analysis: learning from examples without "
        "local minima (why a descent method finds the best factorisation)",
        "seed 002, more on low-rank motifs (LoRA)",
    ),
    parameters={
        "d": Integer(1, 8, shape=True, default=6),
        "k": Integer(1, 8, shape=True, default=6),
        "r": Integer(1, 4, shape=True, default=2),
    },
    inputs=_draw,
    derivation=truncated_svd_error,
    assemble=_assemble,
    oracle=_measured,
    mutants=_MUTANTS,
    tolerance=Deterministic(
        rtol=1e-12,
        atol=0.0,
        reason=(
            "rank and parameter counts are exact integers (the fraction a ratio of two, rtol 1e-12 covers its "
            "rounding); the best error's budget is the oracle's stated bound (numerics.circuits.lora.svd_error_bound: "
            "each computed singular value within 10 max(d, k)^2 u ||W||_F of the exact one, so the discarded squares' "
            "sum within 2 sqrt(p E) delta + p delta^2, twice for two evaluations). The minimum over candidates is "
            "an upper bound on the true minimum whatever the optimiser does, so a claim below it is wrong"
        ),
    ),
    example={"d": 6, "k": 6, "r": 2},
    anchors=LORA_ANCHORS,
    variants={},
    values=_lora_values,
    questions={
        "rank_bound": r"Why can a LoRA update $B A$ never have rank above $r$? Give the bound for the given sizes.",
        "parameters": (
            r"How many parameters does LoRA train for a $d \times k$ weight, and what fraction of a full update is "
            r"that? Evaluate it for the given $d$, $k$, $r$, and for a square weight."
        ),
        "error": (
            r"For the given target update $W$, find the best $B A$ of rank $r$ in Frobenius norm and its squared "
            r"error. Is the error $s_{r+1}^2$ or $\sum_{i > r} s_i^2$?"
        ),
    },
    errata=(
        Erratum(
            source="seed 002",
            section="more on low-rank motifs",
            stated=r"Hu et al., ``LoRA: Low-Rank Adaptation of Large Language Models'', arXiv:2106.096851",
            corrected=r"arXiv:2106.09685 (the link in the slides has a sixth digit after the dot and leads nowhere)",
            evidence=(
                "arXiv identifiers since 2015 are YYMM.NNNNN, five digits after the dot; LoRA's abstract page is "
                "arxiv.org/abs/2106.09685"
            ),
            kind="false",
        ),
    ),
)
