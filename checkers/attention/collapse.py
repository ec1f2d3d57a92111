"""Rank collapse in pure attention: checked derivations (proofs.attention.collapse) against numerics.attention.collapse.

* ``rank-collapse`` (Dong, Cordonnier, Loukas 2021; syllabus hours 1-2, task 2.3 of seed 003):
  the single-layer bound ``||res(SA(X))|| <= (4 gamma beta / sqrt(d_qk)) ||res(X)||^3`` in the
  composite norm, its ``L``-layer form, and the 50-layer experiment (figure).
* ``rank-collapse-rate`` (seed 003, exercise 1.7): the largest rate ``lambda`` for which the bound
  ``C e^(-lambda l)`` keeps 10% after 12 layers, for the norm and for the squared norm.
"""

from __future__ import annotations

import hashlib

import numpy as np

from checkers.checking import Deterministic, Integer, Real, Theorem
from checkers.results import Erratum, Plot
from numerics.attention.collapse import (
    StackConfig,
    attention_stack_singular_values,
    collapse_constants,
    largest_rate_keeping,
    residual,
    self_attention,
    singular_value_figure,
)
from proofs.attention.collapse import (
    DONG,
    EXPONENTIAL_BOUND,
    INITIAL_IS_THE_BOUND,
    SAME_CONSTANTS,
    SINGLE_LAYER,
    rate_for_kept_fraction,
    residual_bound_over_depth,
)

# --- rank-collapse ----------------------------------------------------------------------------

CONTRACTING_EPS = 0.628
"""Largest sampled ``eps``: the bound's proof needs ``2 eps <= 1.2564``, where ``e^t - 1 <= 2 t``."""

_MEASURED: dict[bytes, dict[str, np.ndarray]] = {}
"""Residuals already solved, by a digest of the batch (claim, oracle and mutants of a group share them)."""
_MEASURED_BATCHES = 256
"""More than the groups of one check (at most 5 x 4 shapes), so a whole check reuses its solutions."""


def _collapse_inputs(rng, n, n_tokens, d_model, d_qk, eps, spread):
    """Tokens ``X`` (spread ``spread``) and weights scaled into the contracting regime.

    ``W_Q, W_K`` are ``d_model x d_model`` with the columns past ``d_qk`` set to zero (so
    ``W_QK = W_Q W_K^T`` has rank at most ``d_qk``). They are rescaled so that
    ``||X - 1 mean^T||_(1,inf)^2 ||W_QK||_1 / sqrt(d_qk) = eps``; the residual's norm is at most
    that of the mean-centred ``X``, so the exact ``eps`` of the bound is at most the parameter.
    """
    X = spread[:, None, None] * rng.standard_normal((n, n_tokens, d_model))
    W_Q, W_K = (rng.standard_normal((n, d_model, d_model)) for _ in range(2))
    mask = np.arange(d_model)[None, :] < np.asarray(d_qk)[:, None]
    W_Q, W_K = W_Q * mask[:, None, :], W_K * mask[:, None, :]
    centred = X - X.mean(axis=1, keepdims=True)
    size = np.abs(centred).sum(axis=1).max(axis=-1) * np.abs(centred).sum(axis=2).max(axis=-1)
    W_QK_norm = np.abs(W_Q @ np.swapaxes(W_K, -1, -2)).sum(axis=1).max(axis=-1)
    scale = np.sqrt(eps * np.sqrt(d_qk) / (size * W_QK_norm))
    W_V = rng.standard_normal((n, d_model, d_model)) / np.sqrt(d_model)
    return {"X": X, "W_Q": W_Q * scale[:, None, None], "W_K": W_K * scale[:, None, None], "W_V": W_V}


def _measured(X, W_Q, W_K, W_V, d_qk) -> dict[str, np.ndarray]:
    """Both residuals (by LP) and the constants for a batch, solved once per distinct batch."""
    d_qk = np.broadcast_to(np.asarray(d_qk, dtype=float), (len(X),))
    key = hashlib.blake2b(b"".join(np.ascontiguousarray(a).tobytes() for a in (X, W_Q, W_K, W_V, d_qk))).digest()
    if key not in _MEASURED:
        res_norm, x = residual(X)
        lhs, _ = residual(self_attention(X, W_Q, W_K, W_V, d_qk))
        if len(_MEASURED) >= _MEASURED_BATCHES:
            _MEASURED.pop(next(iter(_MEASURED)))  # the oldest batch
        _MEASURED[key] = {"res_norm": res_norm, "lhs": lhs, **collapse_constants(X, x, W_Q, W_K, W_V, d_qk)}
    return _MEASURED[key]


def _bound(closed_form, X, W_Q, W_K, W_V, d_qk):
    """The derivation's single-layer bound with the constants computed from this instance's weights."""
    m = _measured(X, W_Q, W_K, W_V, d_qk)
    return closed_form(gamma=m["gamma"], beta=m["beta"], d_qk=np.broadcast_to(d_qk, m["lhs"].shape), r=m["res_norm"])


def _bound_holds(closed_form, X, W_Q, W_K, W_V, d_qk):
    """``min(bound, lhs)``: equals the oracle's ``lhs`` exactly when the bound holds.

    The engine compares equalities; an upper bound is checked as ``min(B, lhs) = lhs``, so the
    error is the violation ``max(0, lhs - B)`` in units of the tolerance, and a mutant bound is
    refuted only where the true left-hand side exceeds it.
    """
    return np.minimum(_bound(closed_form, X, W_Q, W_K, W_V, d_qk), _measured(X, W_Q, W_K, W_V, d_qk)["lhs"])


def _residual_after_attention(X, W_Q, W_K, W_V, d_qk):
    """The oracle: ``||res(SA(X))||_(1,inf)``, the attention layer run and the residual minimised by LP."""
    return _measured(X, W_Q, W_K, W_V, d_qk)["lhs"]


def _bound_mutant(wrong):
    """A wrong bound ``wrong(B, m)`` from the true one ``B`` and the measured constants ``m``, checked as ``min(wrong, lhs)``."""

    def mutant(X, W_Q, W_K, W_V, d_qk):
        m = _measured(X, W_Q, W_K, W_V, d_qk)
        return np.minimum(wrong(_bound(rank_collapse.closed_form(), X, W_Q, W_K, W_V, d_qk), m, d_qk), m["lhs"])

    return mutant


def _collapse_values(X, W_Q, W_K, W_V, d_qk, seed):
    """The single-layer instance, and the second singular value ratio after the last layer of task 2.3's stacks."""
    spectra = attention_stack_singular_values(StackConfig(seed=seed))
    batch = {name: a[None] for name, a in {"X": X, "W_Q": W_Q, "W_K": W_K, "W_V": W_V}.items()}
    m = _measured(d_qk=np.array([d_qk]), **batch)
    rhs = float(_bound(rank_collapse.closed_form(), d_qk=np.array([d_qk]), **batch)[0])
    lhs = float(m["lhs"][0])
    return {
        "res_norm": float(m["res_norm"][0]),
        "gamma": float(m["gamma"][0]),
        "beta": float(m["beta"][0]),
        "eps": float(m["eps"][0]),
        "lhs": lhs,
        "rhs": rhs,
        "ratio": lhs / rhs,
        "stack_sigma2_pure": float(spectra["pure"][-1, 1]),
        "stack_sigma2_skip": float(spectra["skip"][-1, 1]),
    }


def _collapse_figures(seed):
    config = StackConfig(seed=seed)
    return [
        Plot(
            name="singular-values",
            caption=(
                f"Task 2.3: singular values $\\sigma_i / \\sigma_1$ of the {config.n_tokens} tokens after layers "
                f"{', '.join(map(str, config.depths))} of a {config.layers}-layer stack of random single-head attention "
                f"($d_{{\\mathrm{{model}}}} = d_{{qk}} = {config.d_model}$, seed {seed}). Left: pure attention; all but one "
                "singular value fall to the float64 floor. Right: the same weights with skip connections; the mean direction grows, "
                "so the ratios drift down, but no singular value vanishes."
            ),
            figure=singular_value_figure(config),
        )
    ]


rank_collapse = Theorem(
    id="rank-collapse",
    title="Pure attention loses rank doubly exponentially (task 2.3)",
    topic="attention",
    statement=(
        r"Let $SA(X) = \mathrm{softmax}(X W_{QK} X^\top / \sqrt{d_{qk}}) X W_V$ (one head, no skip connection, "
        r"no MLP), $\|M\|_{1,\infty} = \sqrt{\|M\|_1 \|M\|_\infty}$ and $\mathrm{res}(X) = X - \mathbf{1} x^\top$ "
        r"with $x$ minimising $\|X - \mathbf{1} x^\top\|_{1,\infty}$. With $\beta = \|W_{QK}\|_1 \|W_V\|_{1,\infty}$, "
        r"$\gamma = \sqrt{n \max_j \pi_j}$ where $\pi = \mathrm{softmax}(\mathrm{res}(X) W_{QK}^\top x / \sqrt{d_{qk}})$, "
        r"and $\epsilon = \|\mathrm{res}(X)\|_{1,\infty}^2 \|W_{QK}\|_1 / \sqrt{d_{qk}} \le 0.628$: "
        r"$\|\mathrm{res}(SA(X))\|_{1,\infty} \le \frac{4 \gamma \beta}{\sqrt{d_{qk}}} \|\mathrm{res}(X)\|_{1,\infty}^3$, "
        r"and over $L$ layers with the same constants "
        r"$\|\mathrm{res}(X^{(L)})\|_{1,\infty} \le \left(\frac{4 \gamma \beta}{\sqrt{d_{qk}}}\right)^{(3^L - 1)/2} "
        r"\|\mathrm{res}(X)\|_{1,\infty}^{3^L}$. "
        r"The bound is informative only when $4 \gamma \beta \|\mathrm{res}(X)\|^2 / \sqrt{d_{qk}} < 1$. It is loose: "
        r"over 3000 sampled instances (seeds 0 to 2) the measured residual was at most 0.125 of the bound (median 0.008), "
        r"approached by two tokens with nearly uniform attention, so the factor 4 cannot be shown necessary here."
    ),
    assumptions=(
        SINGLE_LAYER,
        SAME_CONSTANTS,
        r"$\gamma$ as defined here comes from this toolkit's proof of the single-layer step: the logits are "
        r"$\mathbf{1} r^\top + E$ up to row constants, $E = R W_{QK} R^\top / \sqrt{d_{qk}}$, so "
        r"$|P_{ij} - \pi_j| \le \pi_j (e^{2\epsilon} - 1) \le 4 \epsilon \pi_j$, and "
        r"$\|\mathrm{res}(SA(X))\| \le \|(P - \mathbf{1}\pi^\top) R W_V\|_{1,\infty}$. Dong et al. name $\gamma$ "
        r"only as a term depending on the attention entries; their appendix form may differ",
        r"sampled: $n \le 6$ tokens, $d_{\mathrm{model}} \le 4$, $d_{qk} \le 512$, the contracting regime "
        r"$\epsilon \le 0.628$, token spread $0.1$ to $10$",
    ),
    sources=(f"{DONG}, section 2.2, Theorem 2.2 and its single-head lemma", "seed 003, task 2.3; syllabus hours 1-2"),
    parameters={
        "n_tokens": Integer(2, 6, shape=True, default=4),
        "d_model": Integer(1, 4, shape=True, default=3),
        "d_qk": Integer(1, 512, default=64),
        "eps": Real(0.01, CONTRACTING_EPS, default=0.3),
        "spread": Real(0.1, 10.0, log=True, default=1.0),
    },
    inputs=_collapse_inputs,
    derivation=residual_bound_over_depth,
    assemble=_bound_holds,
    oracle=_residual_after_attention,
    mutants={
        "||res(X)|| to the first power": _bound_mutant(lambda B, m, d_qk: B / m["res_norm"] ** 2),
        "||res(X)||^2 (a quadratic rate)": _bound_mutant(lambda B, m, d_qk: B / m["res_norm"]),
        "1/d_qk instead of 1/sqrt(d_qk)": _bound_mutant(lambda B, m, d_qk: B / np.sqrt(d_qk)),
        # At L = 1 the prefactor a = B / r^3 appears once; raised to 3^L it appears three times.
        "prefactor to the power 3^L instead of (3^L-1)/2": _bound_mutant(
            lambda B, m, d_qk: B * (B / m["res_norm"] ** 3) ** 2
        ),
    },
    tolerance=Deterministic(
        rtol=1e-6,
        atol=0.0,
        reason=(
            "both residual norms come from HiGHS LPs on the mean-centred matrix scaled to unit largest entry "
            "(optimality tolerance 1e-7 there) and are evaluated exactly at the LP's x, so each is at most "
            "about 1e-7 relative above its minimum: the bound (increasing in ||res(X)||) is never understated "
            "and the left-hand side is overstated by at most 1e-7 relative; rtol 1e-6 covers that. The "
            "check is one-sided through min(bound, lhs) = lhs"
        ),
    ),
    example={"n_tokens": 4, "d_model": 3, "d_qk": 64, "eps": 0.3, "spread": 1.0},
    values=_collapse_values,
    figures=_collapse_figures,
)

# --- rank-collapse-rate -----------------------------------------------------------------------

RATE_VALUES = ("lambda_norm", "lambda_variance")


def _rates_by_root_finding(layers, fraction, C):
    """The oracle: both rates by root finding on the bound sequence (``power`` 1 and 2), with their accuracy."""
    norm, norm_accuracy = largest_rate_keeping(layers, fraction, C, 1)
    variance, variance_accuracy = largest_rate_keeping(layers, fraction, C, 2)
    return np.stack([norm, variance], axis=-1), np.stack([norm_accuracy, variance_accuracy], axis=-1)


def _rates_with(wrong):
    """A plausible wrong formula ``wrong(layers, fraction, C) -> (norm, variance)`` in the claim's shape."""

    def mutant(layers, fraction, C):
        return np.stack(wrong(*(np.asarray(v, dtype=float) for v in (layers, fraction, C))), axis=-1)

    return mutant


def _norm_and_half(rate_for_norm):
    """Rates ``(r, r/2)`` from a wrong rate ``r(layers, fraction, C)`` for the norm (the variance halves it)."""
    return _rates_with(lambda L, f, C: (rate_for_norm(L, f, C), rate_for_norm(L, f, C) / 2))


def _true_rates(layers, fraction):
    rates = rate_for_kept_fraction_theorem.evaluate_claim(layers=layers, fraction=fraction)
    return rates[:, 0], rates[:, 1]


def _rate_values(layers, fraction, C):
    arrays = {"layers": np.array([layers]), "fraction": np.array([fraction]), "C": np.array([C])}
    rates = rate_for_kept_fraction_theorem.evaluate_claim(**arrays)[0]
    return {
        "lambda_norm": float(rates[0]),
        "lambda_variance": float(rates[1]),
        "reading": (
            "'initial' is the bound at layer 0 (C cancels); 'variance' is ambiguous: the norm itself gives "
            "lambda_norm, the squared norm gives lambda_variance. Either is necessary for the bound to keep the "
            "fraction, not sufficient for the network to keep anything"
        ),
    }


rate_for_kept_fraction_theorem = Theorem(
    id="rank-collapse-rate",
    title="Largest convergence rate that keeps 10% after 12 layers (Ex. 1.7)",
    topic="attention",
    statement=(
        r"If $\|H^{(\ell)} - \mathbf{1} v^\top\| \le C e^{-\lambda \ell}$ and the bound is to keep at least a "
        r"fraction $f$ of its layer-0 value $C$ after $L$ layers, then "
        r"$\lambda \le \lambda_{\mathrm{norm}} = \ln(1/f)/L$ when the kept quantity is the norm, and "
        r"$\lambda \le \lambda_{\mathrm{variance}} = \ln(1/f)/(2L)$ when it is the squared norm (``variance''); "
        r"$C$ cancels. For $f = 0.1$, $L = 12$: $\ln 10/12 \approx 0.1919$ and $\ln 10/24 \approx 0.0959$. "
        r"This is a condition on the bound only: an upper bound never guarantees that anything is kept "
        r"(the norms may be 0 from layer 1 on), so the condition is necessary, not sufficient."
    ),
    assumptions=(EXPONENTIAL_BOUND, INITIAL_IS_THE_BOUND),
    sources=(f"{DONG}, Theorem 2.2 (the convergence the exercise abstracts)", "seed 003, exercise 1.7"),
    parameters={
        "layers": Integer(1, 100, default=12),
        "fraction": Real(0.01, 0.99, default=0.1),
        "C": Real(0.01, 100.0, log=True, default=1.0),
    },
    derivation=rate_for_kept_fraction,
    assemble=lambda closed_form, layers, fraction: closed_form(L=layers, f=fraction),
    oracle=_rates_by_root_finding,
    mutants={
        "log10 instead of ln": _norm_and_half(lambda L, f, C: np.log10(1 / f) / L),
        "C does not cancel (lambda <= ln(C/f)/L)": _norm_and_half(lambda L, f, C: np.log(C / f) / L),
        "keeping f read as losing f (ln(1/(1-f)))": _norm_and_half(lambda L, f, C: np.log(1 / (1 - f)) / L),
        "variance doubles the rate instead of halving it": _rates_with(
            lambda L, f, C: (_true_rates(L, f)[0], 2 * _true_rates(L, f)[0])
        ),
    },
    tolerance=Deterministic(
        rtol=1e-12,
        atol=0.0,
        reason=(
            "claim: ln(1/f)/L to a few ulps (ln is correctly rounded to 1 ulp, one division); oracle: returns its "
            "accuracy, the final bracket (4 eps relative) plus the band 16 u/(p L f) where rounding of the kept "
            "share can flip its sign (numerics.attention.collapse.largest_rate_keeping); rtol 1e-12 covers the claim"
        ),
    ),
    values=_rate_values,
    errata=(
        Erratum(
            source="seed 003",
            section="exercise 1.7",
            stated=(
                r"To maintain at least 10\% of the initial variance after 12 layers under "
                r"$\|H^{(\ell)} - \mathbf{1} v^\top\| \le C e^{-\lambda \ell}$, find the maximum allowable $\lambda$ "
                r"(one answer implied)."
            ),
            corrected=(
                r"The bound controls a norm, not a variance, and only from above. If the bound at layer 12 is to be "
                r"at least 10\% of its layer-0 value $C$, then $\lambda \le \ln 10/12 \approx 0.192$ for the norm and "
                r"$\lambda \le \ln 10/24 \approx 0.0959$ for the squared norm (``variance''). This is necessary for the "
                r"bound to allow 10\%, never sufficient for the network to keep it: an upper bound is met by norms "
                r"that vanish after one layer."
            ),
            refuted_by="variance doubles the rate instead of halving it",
            evidence=(
                "the worked example gives both readings; the mutant that reads 'variance' the wrong way round is refuted"
            ),
        ),
    ),
)
