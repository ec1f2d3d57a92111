"""``sae-recovery`` (seed 002; Sharkey et al. 2022, Bricken et al. 2023): a sparse autoencoder recovers planted features.

Supported, not derived: the lemmas (proofs.circuits.sae) show that the sparse autoencoder's encoder
``ReLU(W_enc (x - b_dec) + b_enc)`` contains the exact L1 sparse code of an orthonormal dictionary
(``W_enc = D^T``, ``b_enc = -lambda/2``); that training finds planted features when there are twice as
many as dimensions (so they are not orthogonal) is measured. The claim, per instance (input dimension
``d`` and planted dictionary number ``dictionary``), is a vector of lower bounds: the trained sparse
autoencoder's mean max cosine similarity (MMCS) with the planted features is at least 0.9; the two
controls, a plain autoencoder with ``d`` latents and no L1 penalty and a random unit-norm decoder of
the sparse autoencoder's size, are only bounded by -1 (reported, and refuted as recoverers by the
mutants). The oracle trains the autoencoders (numerics.circuits.sae) and measures the MMCS.
"""

from __future__ import annotations

import functools

import numpy as np

from checkers.domains import Integer
from checkers.policies import Bound
from checkers.results import Plot
from checkers.theorem import Anchor, Theorem
from numerics.circuits.sae import (
    AutoencoderConfig,
    best_cosines,
    best_cosines_figure,
    mmcs,
    planted_features,
    sparse_codes,
    train_autoencoders,
)
from proofs.circuits.sae import BRICKEN, SAE_OBJECTIVE, SHARKEY, orthonormal_separation, soft_threshold_code

THRESHOLD = 0.9
"""The recovery criterion: a dictionary recovers the planted features when its MMCS with them is at least 0.9."""
DICTIONARIES = 16
"""Planted dictionaries per input dimension (the domain of ``dictionary``): all are trained together, once."""
P_ACTIVE = 0.05
L1 = 0.3
STEPS = 800
SAMPLES = 4096


def _features(d: int) -> int:
    """Twice as many planted features as dimensions: they are in superposition."""
    return 2 * d


@functools.lru_cache(maxsize=4)
def _trained(d: int) -> dict[str, np.ndarray]:
    """For every planted dictionary at this ``d``: the features, and the decoders of the sparse autoencoder, of the
    plain autoencoder and of the random control. Each dictionary's run depends only on ``(d, dictionary)``: the
    whole domain is trained in one batch, so an instance's result never depends on which others were drawn."""
    seeds = np.arange(DICTIONARIES)
    features = planted_features(seeds, d, _features(d))
    codes = sparse_codes(np.random.default_rng([d, DICTIONARIES]), (DICTIONARIES, SAMPLES, _features(d)), P_ACTIVE)
    x = codes @ np.swapaxes(features, 1, 2)
    return {
        "features": features,
        "sae": train_autoencoders(x, AutoencoderConfig(latents=2 * _features(d), l1=L1, steps=STEPS, seed=d)),
        "without_l1": train_autoencoders(x, AutoencoderConfig(latents=d, l1=0.0, steps=STEPS, seed=d)),
        "random": planted_features(seeds, d, 2 * _features(d)),  # Gaussian unit directions, another stream per seed
    }


def _measured(d, dictionary):
    """The oracle: the MMCS of the trained sparse autoencoder, the plain autoencoder and the random decoder."""
    runs = _trained(d)
    index = np.asarray(dictionary, dtype=int)
    features = runs["features"][index]
    return np.stack([mmcs(features, runs[name][index]) for name in ("sae", "without_l1", "random")], axis=-1)


def _bounds(sae, without_l1=-1.0, random=-1.0):
    """A claim of lower bounds on the three MMCS values, the same at every instance."""

    def claim(d, dictionary):
        return np.tile([sae, without_l1, random], (len(np.atleast_1d(dictionary)), 1))

    return claim


def _sae_values(d, dictionary):
    runs = _trained(d)
    features = runs["features"][dictionary][None]
    best = {name: best_cosines(features, runs[name][dictionary][None])[0] for name in ("sae", "without_l1", "random")}
    matches = np.argmax(np.swapaxes(features[0], 0, 1) @ runs["sae"][dictionary], axis=1)
    return {
        "features": _features(d),
        "latents": 2 * _features(d),
        "p_active": P_ACTIVE,
        "l1": L1,
        "steps": STEPS,
        "threshold": THRESHOLD,
        "mmcs": float(best["sae"].mean()),
        "mmcs_without_l1": float(best["without_l1"].mean()),
        "mmcs_random": float(best["random"].mean()),
        "worst_feature": float(best["sae"].min()),
        "latents_used": int(len(np.unique(matches))),
        "encoder_bias": -L1 / 2,
    }


def _sae_figures(d, dictionary):
    runs = _trained(d)
    features = runs["features"][dictionary][None]
    curves = {
        "sparse autoencoder": best_cosines(features, runs["sae"][dictionary][None])[0],
        f"autoencoder, {d} latents, no L1": best_cosines(features, runs["without_l1"][dictionary][None])[0],
        "random unit decoder": best_cosines(features, runs["random"][dictionary][None])[0],
    }
    caption = (
        f"For each of the {_features(d)} planted features in $\\mathbb{{R}}^{{{d}}}$ (dictionary {dictionary}), its best "
        "cosine similarity with a decoder column, sorted: the sparse autoencoder recovers every feature, the controls "
        f"do not; the dashed line is the threshold {THRESHOLD} on their mean (MMCS)."
    )
    return [Plot(name="best-cosines", caption=caption, figure=best_cosines_figure(curves, THRESHOLD))]


sae_recovery = Theorem(
    id="sae-recovery",
    title="A sparse autoencoder recovers planted sparse features",
    topic="circuits",
    statement=(
        r"Plant $F = 2d$ random unit feature directions $f_i \in \mathbb{R}^d$ ($d = 8$ or 16, so they are in "
        r"superposition) and draw inputs $x = \sum_i a_i f_i$ with each $a_i$ active with probability 0.05 at a value "
        r"uniform on $[0, 1]$. A sparse autoencoder $h = \mathrm{ReLU}(W_{\mathrm{enc}}(x - b_{\mathrm{dec}}) + "
        r"b_{\mathrm{enc}})$, $\hat x = W_{\mathrm{dec}} h + b_{\mathrm{dec}}$ with $2F$ unit-norm decoder columns, trained "
        r"on $\lVert x - \hat x \rVert^2 + 0.3 \sum_j h_j$ (Adam, 800 steps), recovers the features: the mean over "
        r"planted features of the largest cosine similarity with a decoder column (MMCS) is at least 0.9, for every "
        r"one of the 16 planted dictionaries at each $d$. Neither control recovers them: an autoencoder with $d$ "
        r"latents and no L1 penalty, and a random unit-norm decoder of the same size as the sparse autoencoder's. "
        r"Why the architecture can: for a dictionary $D$ with orthonormal columns the objective separates into one "
        r"term $(a_j - h_j)^2 + \lambda h_j$ per latent, $a_j = D_j \cdot x$, minimised at "
        r"$h_j = \mathrm{ReLU}(a_j - \lambda/2)$, the encoder with $W_{\mathrm{enc}} = D^\top$, "
        r"$b_{\mathrm{enc}} = -\lambda/2$ (the lemmas)."
    ),
    assumptions=(
        SAE_OBJECTIVE,
        r"basis: supported. The lemmas are derived for an orthonormal dictionary (the separation in two dimensions, "
        r"the sparse code of one latent); the planted features here are not orthogonal, so the lemmas explain the "
        r"encoder's form, and the recovery itself is measured by training, not derived",
        r"the domain is finite: $d \in \{8, 16\}$ and 16 planted dictionaries each; at each $d$ all 16 are trained "
        r"together, once, so an instance's result depends only on its parameters; the default check of 1000 instances "
        r"(16 edge points first, then random ones) covers all 32 points with probability above $1 - 10^{-12}$",
        r"the bound for the controls is the trivial $-1$: they are reported, and the claims that they recover the "
        r"features (MMCS at least 0.9) are the refuted mutants",
    ),
    sources=(
        f"{SHARKEY} (planted features, the MMCS measure)",
        f"{BRICKEN} (the architecture: decoder-bias subtraction, unit-norm decoder columns, L1 penalty)",
        "seed 002, interplay of Transformers and autoencoders; seed 000, hours 7-8 (superposition and SAEs)",
    ),
    parameters={
        "d": Integer(8, 16, step=8, shape=True, default=8),
        "dictionary": Integer(0, DICTIONARIES - 1, default=0),
    },
    claim=_bounds(THRESHOLD),
    lemmas=(orthonormal_separation, soft_threshold_code),
    oracle=_measured,
    mutants={
        "an autoencoder without the L1 penalty (d latents) recovers them too": _bounds(THRESHOLD, without_l1=THRESHOLD),
        "a random decoder of the same size recovers them": _bounds(THRESHOLD, random=THRESHOLD),
        "recovery is exact (MMCS at least 0.99)": _bounds(0.99),
    },
    tolerance=Bound(
        side="lower",
        rtol=0.0,
        atol=0.0,
        reason=(
            "the claim is a threshold and the oracle a measurement of the trained model, with no rounding question "
            "near it: over the whole domain the sparse autoencoders' MMCS is at least 0.952 (d = 8) and 0.973 (d = 16), "
            "the controls' at most 0.753; float32 training on another machine moves these by far less than the margin"
        ),
    ),
    anchors=(
        Anchor(
            {"d": 8, "dictionary": 0},
            [THRESHOLD, -1.0, -1.0],
            "the recovery criterion as stated: MMCS at least 0.9 for the sparse autoencoder (issue 17; Sharkey et al. "
            "2022 measure recovery by MMCS), the trivial bound -1 for the controls. A trained model's MMCS has no "
            "value worked by hand: tests/numerics/circuits/test_sae.py checks the MMCS function on hand cases",
            rtol=0.0,
            of="claim",
        ),
    ),
    example={"d": 8, "dictionary": 0},
    values=_sae_values,
    figures=_sae_figures,
    variants={},
    questions={
        "encoder_bias": (
            r"For a dictionary with orthonormal columns $D$, minimise $\lVert x - D h \rVert^2 + \lambda \sum_j h_j$ "
            r"over $h \ge 0$. Show that the solution is $h = \mathrm{ReLU}(D^\top x - \lambda/2)$, and give the encoder "
            r"bias for the given $\lambda$."
        ),
        "mmcs": (
            r"Train a sparse autoencoder with the given sizes on inputs built from $2d$ planted features in "
            r"$\mathbb{R}^d$ and compute the mean max cosine similarity between the planted features and its "
            r"decoder columns. Do the same for an autoencoder with $d$ latents and no L1 penalty. Which recovers the "
            r"features, and why can the second not?"
        ),
    },
)
