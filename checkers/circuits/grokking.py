"""Experiment ``grokking`` (project track B; exercise 1.10): a one-layer transformer groks ``(a + b) mod p``,
and the circuit it learns is the trigonometric algorithm of theorem ``modular-addition-fourier``.

    transformer-proofs experiment grokking --out DIR [--config KEY=VALUE ...] [--device cpu|cuda]

The run trains a TransformerLens one-layer transformer on ``"a b ="`` with 30% of the ``p^2``
equations (seed 004, section 3.2), full-batch AdamW with weight decay 1, and records training and
validation accuracy, loss and the weight norm on a logarithmic grid of epochs. It then reads the
trained network: the key frequencies of the embedding's Fourier spectrum, the accuracy with only
them kept in the embedding and with them removed, the embeddings' top two principal axes, activation
patching of the MLP neurons, and the logits against the algorithm. What it *checks* (exit status 1
when one fails) is the circuit; what it *measures* are the answers to exercise 1.10 and seed 004's
expected results, with errata where the course's expectation is not what the run shows.

Everything that imports torch, TransformerLens or matplotlib is imported inside :func:`run_grokking`:
``transformer-proofs list`` imports this module and must not pay for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from checkers.experiment import Check, Experiment, ExperimentResult, Progress, no_progress
from checkers.results import Erratum, Plot

GROKKED = 0.99
"""Accuracy that counts as memorised (training) or grokked (validation)."""

KEY_SHARE_OF_FREQUENCIES = 0.2
"""The key frequencies are *found* when at most this share of the ``(p - 1)/2`` frequencies holds the
embedding's energy: a random Gaussian embedding needs 87-91% of them for 90% of its energy (measured
over 20 draws at p = 23 and 113, d_model = 32 to 128), the grokked network a handful."""

KEPT_TOLERANCE = 0.01
"""Keeping only the key frequencies *keeps* the accuracy when it falls by at most one percentage point:
the other frequencies hold up to a tenth of the embedding's energy, and taking it away moves every
equation's logits a little, enough to tip an answer whose margin was small."""

ABLATED_CHANCE_MULTIPLE = 5
"""Removing the key frequencies *destroys* the accuracy when it falls to at most 5 times chance (5/p):
a network with one key frequency left intact would still answer a share of the equations."""

ALGORITHM_SHARE = 0.5
"""The logits *are* the algorithm when ``sum_k alpha_k cos(w_k (a + b - c))`` at the key frequencies (one
weight per frequency, fitted by least squares to the logits, each equation's centred over ``c``) has every
``alpha_k > 0`` (then its argmax is ``(a + b) mod p``, as in the theorem: each term is largest there),
explains more than half of the logits' variance, and the logits minus it answer at most
:data:`ABLATED_CHANCE_MULTIPLE` times chance. Not all of the variance: the network weights
``cos w(a + b) cos wc`` and ``sin w(a + b) sin wc`` unequally, which adds ``cos w(a + b + c)`` terms, and it
carries a bias per answer (at the defaults 10% and 7% of the variance, against 80% for the algorithm;
:func:`numerics.circuits.grokking.logit_terms`). The theorem's equal weights are reported, not checked."""


@dataclass(frozen=True)
class GrokkingConfig:
    """Settings of the grokking run; the defaults are the full run.

    Seed 004 fixes ``p = 113``, the 30% training split and a high weight decay; the model is Nanda et
    al. 2023's (one layer, ``d_model = 128``, four heads, ReLU MLP of width 512, no layer norm,
    full-batch AdamW with weight decay 1 and betas (0.9, 0.98)). One setting differs from theirs:
    ``lr = 1e-2`` (theirs ``1e-3``). Weight decay acts at the rate ``lr * weight_decay``; at ``1e-3``
    their network groks after about 10^4 epochs (their figure 1), some 45 minutes of a CPU core here,
    and at ``3e-3`` (measured here with ``d_model = 64``) validation accuracy was still 6% after 2000
    epochs. At ``1e-2`` it groks
    near epoch 500, after a loss spike (the "slingshot" of Thilak et al. 2022), and the whole run takes
    about 6.5 minutes of one CPU core (388 s measured here, 0.3 s an epoch; 9.4 minutes of wall time on
    this shared 2-core machine). ``--config lr=0.001 epochs=40000`` is their run.
    """

    p: int = 113
    train_fraction: float = 0.3
    epochs: int = 1200
    lr: float = 1e-2
    weight_decay: float = 1.0
    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    seed: int = 0
    log_points: int = 120
    energy_fraction: float = 0.9
    patch_pairs: int = 128

    def validate(self) -> None:
        if self.p < 5 or self.p > 257 or any(self.p % q == 0 for q in range(2, int(self.p**0.5) + 1)):
            raise ValueError(f"p must be a prime from 5 to 257 (the Fourier algorithm needs a prime), got {self.p}")
        train = int(self.train_fraction * self.p * self.p)
        if not 0 < self.train_fraction < 1 or train < 1 or train >= self.p * self.p:
            raise ValueError(f"train_fraction must leave at least one training and one validation equation, got {self.train_fraction}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be in (0, 1), got {self.lr}")
        if not 0 <= self.weight_decay <= 100:
            raise ValueError(f"weight_decay must be in [0, 100], got {self.weight_decay}")
        if self.n_heads < 1 or self.d_model < self.n_heads or self.d_model % self.n_heads:
            raise ValueError(f"d_model must be a positive multiple of n_heads, got d_model={self.d_model}, n_heads={self.n_heads}")
        if self.d_mlp < 1:
            raise ValueError(f"d_mlp must be at least 1, got {self.d_mlp}")
        if self.log_points < 2:
            raise ValueError(f"log_points must be at least 2, got {self.log_points}")
        if not 0 < self.energy_fraction < 1:
            raise ValueError(f"energy_fraction must be in (0, 1), got {self.energy_fraction}")
        if not 1 <= self.patch_pairs <= self.p * self.p:
            raise ValueError(f"patch_pairs must be from 1 to p^2 = {self.p * self.p}, got {self.patch_pairs}")


def run_grokking(config: GrokkingConfig, device: str = "cpu", progress: Progress = no_progress) -> ExperimentResult:
    """Train, read the circuit, and compare it with the algorithm; see the module docstring. Torch runs
    on one intra-op thread (:func:`numerics.threads.one_torch_thread`: the matrices are small)."""
    from numerics.threads import one_torch_thread

    with one_torch_thread():
        return _run(config, device, progress)


def _run(config: GrokkingConfig, device: str, progress: Progress) -> ExperimentResult:
    import numpy as np

    from numerics.circuits import grokking as g

    p = config.p
    data = g.modular_addition(p, config.train_fraction, config.seed).to(device)
    model = g.one_layer_transformer(p, config.d_model, config.n_heads, config.d_mlp, config.seed, device)
    log = g.train(model, data, config.epochs, config.lr, config.weight_decay, g.log_grid(config.epochs, config.log_points), progress)
    memorised = g.first_epoch_reaching(log.epochs, log.train_accuracy, GROKKED)
    grokked = g.first_epoch_reaching(log.epochs, log.val_accuracy, GROKKED)

    W_E = model.W_E.detach().double().cpu().numpy()[:p]
    norms = g.frequency_norms(W_E)
    key = g.key_frequencies(norms, config.energy_fraction)
    full = g.accuracy(model, data.tokens, data.labels)
    kept = g.accuracy_with_frequencies(model, data, key, keep=True)
    ablated = g.accuracy_with_frequencies(model, data, key, keep=False)
    coordinates, explained = g.embedding_pca(W_E)
    spread = g.radius_spread(coordinates)
    circle_k, angle_error = g.circle_frequency(coordinates)
    strongest = max(key, key=lambda k: norms[k])
    plane_spread = g.radius_spread(g.embedding_pca(g.frequency_projector(p, [strongest]) @ W_E)[0])
    patching = g.patch_neurons(model, data, config.patch_pairs, config.seed)
    neuron_k, neuron_share = g.neuron_frequencies(model, data)
    logits = g.all_logits(model, data)
    fit = g.algorithm_fit(logits, key)

    frequencies = (p - 1) // 2
    energy = norms[1:] ** 2
    key_share = float(energy[[k - 1 for k in key]].sum() / energy.sum())
    carriers = patching.top[: patching.carriers]
    norm = _norm_story(log, memorised, grokked)
    metrics = {
        "epochs": log.epochs,
        "train_accuracy": log.train_accuracy,
        "val_accuracy": log.val_accuracy,
        "train_loss": log.train_loss,
        "val_loss": log.val_loss,
        "weight_norm": log.weight_norm,
        "memorisation_epoch": memorised,
        "grok_epoch": grokked,
        "weight_norm_story": norm,
        "frequency_norms": norms.tolist(),
        "key_frequencies": list(key),
        "key_frequency_energy_share": key_share,
        "accuracy": full,
        "key_frequencies_kept_accuracy": kept,
        "key_frequencies_ablated_accuracy": ablated,
        "intervention": "the embedding W_E of the numbers 0..p-1, projected by a hook on hook_embed (the constant kept in both)",
        "pca": {
            "explained_variance": explained.tolist(),
            "radius_spread": spread,
            "circle_frequency": circle_k,
            "angle_rms_error": angle_error,
            "strongest_key_frequency": strongest,
            "strongest_key_frequency_radius_spread": plane_spread,
        },
        "patching": {
            "pairs": config.patch_pairs,
            "restored_by_every_neuron": patching.all_neurons,
            "carriers": patching.carriers,
            "restored_by_carriers": patching.top_restored,
            "carrier_frequencies": {str(k): int((neuron_k[carriers] == k).sum()) for k in sorted(set(neuron_k[carriers].tolist()))},
            "carriers_reading_a_key_frequency": float(np.isin(neuron_k[carriers], key).mean()),
            "top_neurons": patching.top[:10].tolist(),
            "top_restored": patching.restored[patching.top[:10]].tolist(),
            "neuron_frequency_share_median": float(np.median(neuron_share)),
        },
        "fourier_algorithm": {
            "correlation": fit.correlation,
            "weights": dict(zip((str(k) for k in key), fit.weights.tolist())),
            "weighted_correlation": fit.weighted_correlation,
            "explained_variance": fit.explained,
            "residual_accuracy": fit.residual_accuracy,
            "terms": g.logit_terms(logits, key),
        },
    }
    metrics["answers"] = _answers(metrics, config)
    chance = 1 / p
    checks = (
        Check(
            f"the network groks: validation accuracy reaches {GROKKED:.0%}",
            grokked is not None,
            f"at epoch {grokked} (training: epoch {memorised}); {log.val_accuracy[-1]:.4f} at the last epoch",
        ),
        Check(
            f"few key frequencies: at most {KEY_SHARE_OF_FREQUENCIES:.0%} of the {frequencies} frequencies hold {config.energy_fraction:.0%} of the embedding's energy",
            len(key) <= KEY_SHARE_OF_FREQUENCIES * frequencies and key_share >= config.energy_fraction,
            f"{', '.join(map(str, key))} hold {key_share:.1%}",
        ),
        Check(
            f"keeping only the key frequencies in the embedding keeps the accuracy (within {KEPT_TOLERANCE:.0%} of all equations)",
            kept >= full - KEPT_TOLERANCE,
            f"{kept:.4f} against {full:.4f} unchanged",
        ),
        Check(
            f"removing them destroys it (at most {ABLATED_CHANCE_MULTIPLE} times chance, {ABLATED_CHANCE_MULTIPLE * chance:.3f})",
            ablated <= ABLATED_CHANCE_MULTIPLE * chance,
            f"{ablated:.4f}; chance $1/p$ = {chance:.4f}",
        ),
        Check(
            f"the logits are modular-addition-fourier's algorithm: $\\sum_k \\alpha_k \\cos w_k (a + b - c)$, all "
            f"$\\alpha_k > 0$, explains over {ALGORITHM_SHARE:.0%} of their variance; without it at most {ABLATED_CHANCE_MULTIPLE} times chance",
            bool((fit.weights > 0).all()) and fit.explained > ALGORITHM_SHARE and fit.residual_accuracy <= ABLATED_CHANCE_MULTIPLE * chance,
            "$\\alpha = "
            + ", ".join(f"{w:.3g}" for w in fit.weights)
            + f"$, {fit.explained:.1%} of the variance (correlation {fit.weighted_correlation:.3f}; {fit.correlation:.3f} with "
            f"equal weights); without it {fit.residual_accuracy:.4f}",
        ),
    )
    figures = (
        Plot("accuracy", f"Training ({config.train_fraction:.0%} of the equations) and validation accuracy.", g.accuracy_figure(log, memorised, grokked)),
        Plot("weight-norm", "The weight norm $\\|\\theta\\|_2$.", g.weight_norm_figure(log, memorised, grokked)),
        Plot("spectrum", "$W_E$'s norm at each frequency; key ones in red.", g.spectrum_figure(norms, key)),
        Plot("pca", f"The embeddings on the top two principal axes, and in the plane of key frequency $k = {strongest}$.", g.pca_figure(W_E, strongest)),
        Plot(
            "patching",
            f"Patching MLP neurons at `=' ({config.patch_pairs} pairs): the share each top neuron restores, and the cumulative share.",
            g.patching_figure(patching, neuron_k, key),
        ),
    )
    return ExperimentResult(metrics, figures, checks, _errata(metrics))


def _norm_story(log, memorised: int | None, grokked: int | None) -> dict:
    """The weight norm at the landmarks of the run, its relative change across the jump in validation
    accuracy (from the last logged epoch below 50% validation accuracy to the grokking epoch), and the
    lowest training accuracy between memorisation and grokking (a loss spike, if there was one)."""

    def at(epoch):
        return None if epoch is None else log.weight_norm[log.epochs.index(epoch)]

    peak = max(range(len(log.epochs)), key=lambda i: log.weight_norm[i])
    before = max((e for e, v in zip(log.epochs, log.val_accuracy) if v < 0.5 and (grokked is None or e < grokked)), default=None)
    between = [i for i, e in enumerate(log.epochs) if memorised is not None and memorised < e < (grokked or log.epochs[-1] + 1)]
    dip = min(between, key=lambda i: log.train_accuracy[i], default=None)
    return {
        "initial": log.weight_norm[0],
        "peak": log.weight_norm[peak],
        "peak_epoch": log.epochs[peak],
        "at_memorisation": at(memorised),
        "before_jump_epoch": before,
        "before_jump": at(before),
        "at_grok": at(grokked),
        "final": log.weight_norm[-1],
        "change_across_jump": None if before is None or grokked is None else at(grokked) / at(before) - 1,
        "lowest_train_accuracy_before_grokking": None if dip is None else log.train_accuracy[dip],
        "lowest_train_accuracy_epoch": None if dip is None else log.epochs[dip],
    }


def _number(value, digits: int = 1) -> str:
    return "--" if value is None else f"{value:.{digits}f}"


def _change(value) -> str:
    return "--" if value is None else f"{100 * value:+.0f}%"


def _epoch(value) -> str:
    return "never (within the run)" if value is None else f"epoch {value}"


SPIKE = 0.9
"""A training accuracy below 90% after memorisation is a loss spike (a "slingshot", Thilak et al. 2022)."""


def _answers(m: dict, config: GrokkingConfig) -> list[dict]:
    """The course's questions on track B, each answered with the run's numbers."""
    norm, pca, patching, terms = m["weight_norm_story"], m["pca"], m["patching"], m["fourier_algorithm"]["terms"]
    key, frequencies = m["key_frequencies"], (config.p - 1) // 2
    n_train = int(config.train_fraction * config.p**2)
    spike = norm["lowest_train_accuracy_before_grokking"]
    jump = m["grok_epoch"] is not None and norm["before_jump_epoch"] is not None
    return [
        {
            "question": "Exercise 1.10 (seed 003): why would a lower weight norm correspond to better generalisation in modular arithmetic?",
            "answer": (
                r"Weight decay adds $\frac{\lambda}{2}\|\theta\|^2$ to the loss: of two networks that fit the training set it "
                "prefers the lighter. A lookup table stores each equation on its own: while the "
                f"{n_train} training equations were memorised the norm grew from {_number(norm['initial'])} to "
                f"{_number(norm['at_memorisation'])} (peak {_number(norm['peak'])}). The Fourier algorithm answers all "
                f"${config.p}^2$ with {len(key)} shared frequencies and is lighter: {_number(norm['at_grok'])} at grokking, "
                f"{_number(norm['final'])} at the end. Low norm generalises here because the light fit of part of the table is "
                "the rule behind all of it, not because low norm generalises in general."
            ),
        },
        {
            "question": "Seed 004, section 3.4: does the weight norm decrease at the moment of grokking?",
            "answer": (
                "Not measured: the network did not grok within the run."
                if norm["change_across_jump"] is None
                else f"Yes: across the jump in validation accuracy (from {_epoch(norm['before_jump_epoch'])}, the last below 50%, "
                f"to {_epoch(m['grok_epoch'])}) $\\|\\theta\\|$ fell from {_number(norm['before_jump'])} to "
                f"{_number(norm['at_grok'])} ({_change(norm['change_across_jump'])}); its peak, {_number(norm['peak'])}, was at "
                f"{_epoch(norm['peak_epoch'])}."
                if norm["change_across_jump"] < 0
                else f"No: across the jump in validation accuracy the norm changed by {_change(norm['change_across_jump'])}."
            ),
        },
        {
            "question": "Seed 004, section 3.4: does a 2-D PCA of the token embeddings reveal a perfect circle?",
            "answer": (
                f"The radius spread (0 on a circle) is {100 * pca['radius_spread']:.0f}% on the top two principal axes and "
                f"{100 * pca['strongest_key_frequency_radius_spread']:.0f}% in the plane of key frequency "
                f"$k = {pca['strongest_key_frequency']}$, where the numbers go round as $x \\mapsto k x \\bmod {config.p}$ "
                "(errata)."
            ),
        },
        {
            "question": "Seed 004, section 4.2, questions 1 and 3: a sharp `Aha!' moment or a smooth improvement? Does it generalise to $a, b$ not seen in training?",
            "answer": (
                (
                    f"Sharp: training accuracy reached 99% at {_epoch(m['memorisation_epoch'])}; validation accuracy went from "
                    f"below 50% ({_epoch(norm['before_jump_epoch'])}) to 99% ({_epoch(m['grok_epoch'])})"
                    + (
                        f", after a loss spike (training accuracy {100 * spike:.0f}% at "
                        f"{_epoch(norm['lowest_train_accuracy_epoch'])}), the `slingshot' of large Adam steps (Thilak et al. 2022, arXiv:2206.04817)"
                        if spike is not None and spike < SPIKE
                        else ""
                    )
                    + "."
                    if jump
                    else "No jump within the run."
                )
                + f" It answers {100 * m['val_accuracy'][-1]:.2f}% of the {config.p**2 - n_train} equations never trained on "
                f"at the last epoch."
            ),
        },
        {
            "question": "Seed 004, section 4.2, question 2: is the learned circuit the simplest possible, and how does weight decay influence this?",
            "answer": (
                f"{len(key)} of {frequencies} frequencies hold {100 * m['key_frequency_energy_share']:.0f}% of the embedding's "
                f"energy (of a random one: about {100 * len(key) / frequencies:.0f}%); by modular-addition-fourier one would do: "
                "sparse, not minimal. Weight decay's part needs a run without it (not made)."
            ),
        },
        {
            "question": "Seed 004, section 3.3: does the network compute with trigonometric identities at frequencies $w_k = 2 \\pi k / p$?",
            "answer": (
                f"Yes: {100 * terms['a + b - c, key frequencies']:.0f}% of its logits' variance is "
                f"$\\sum_k \\alpha_k \\cos w_k (a + b - c)$ at $k = {', '.join(map(str, key))}$, the product formulas' output "
                f"(theorem modular-addition-fourier); other frequencies of $a + b - c$ hold {100 * terms['a + b - c, other frequencies']:.2f}%. "
                f"The rest: $\\cos w_k (a + b + c)$ terms ({100 * terms['a + b + c, key frequencies']:.0f}%, cosine and sine products "
                f"weighted unequally), a bias per answer ({100 * terms['c alone']:.0f}%), other terms ({100 * terms['the rest']:.0f}%)."
            ),
        },
        {
            "question": "Seed 004, section 3.3: which MLP neurons are responsible (activation patching)?",
            "answer": (
                f"Patching every neuron at `=' from runs on $(a, b)$ into runs on $(a', b)$ restores "
                f"{100 * patching['restored_by_every_neuron']:.0f}% of the logit difference $\\ell_c - \\ell_{{c'}}$; "
                f"{patching['carriers']} of {config.d_mlp} neurons carry 90% of it (together: "
                f"{100 * patching['restored_by_carriers']:.0f}%), {100 * patching['carriers_reading_a_key_frequency']:.0f}% of "
                "them reading a key frequency."
            ),
        },
    ]


CIRCLE_SPREAD = 0.1
"""Points whose distances from their centroid vary by at most 10% (standard deviation over mean) are
called a circle; a perfect circle has spread 0."""


def _errata(m: dict) -> tuple[Erratum, ...]:
    """Where seed 003's or seed 004's expectation is not what the run measured, or needs a caveat."""
    norm, pca = m["weight_norm_story"], m["pca"]
    plane = (
        f"in the plane of one key frequency ($k = {pca['strongest_key_frequency']}$, radius spread "
        f"{100 * pca['strongest_key_frequency_radius_spread']:.0f}%), in the order $x \\mapsto k x \\bmod p$"
    )
    top = (
        f"on the top two principal axes ({100 * sum(pca['explained_variance']):.0f}% of the variance, radius spread "
        f"{100 * pca['radius_spread']:.0f}%)"
    )
    stated = "A 2D PCA of the token embeddings should reveal a perfect circle."
    if pca["radius_spread"] <= CIRCLE_SPREAD:
        circle = Erratum(
            source="seed 004",
            section="3.4 (embeddings)",
            stated=stated,
            corrected=(
                f"A near circle, not a perfect one, and not in the order $0, 1, 2, \\dots$: {top}, the numbers in the order "
                f"$x \\mapsto {pca['circle_frequency']} x \\bmod p$. Each key frequency has such a circle in its own plane."
            ),
            kind="context",
        )
    else:
        circle = Erratum(
            source="seed 004",
            section="3.4 (embeddings)",
            stated=stated,
            corrected=f"A circle {plane}; none {top}, which key frequencies of similar strength share.",
            kind="ambiguous",
            readings=(f"PCA of the whole embedding: no circle, {top}", f"PCA within one key frequency's plane: {plane}"),
        )
    errata = [circle]
    change = norm["change_across_jump"]
    if change is not None and change >= 0:
        errata.append(
            Erratum(
                source="seed 004",
                section="3.4 (weight norm)",
                stated="You should see the $L_2$ norm of the weights decrease at the moment of grokking.",
                corrected=f"Across the jump in validation accuracy the norm changed by {_change(change)}; it did not decrease.",
                evidence="measured (metrics.json: weight_norm_story)",
                kind="false",
            )
        )
    if not (norm["peak"] > norm["initial"] and norm["final"] < norm["peak"]):
        errata.append(
            Erratum(
                source="seed 003",
                section="exercise 1.10",
                stated="The $L_2$ norm of the weights increases during the memorization phase and decreases during the generalization phase.",
                corrected=(
                    f"Here the norm went from {norm['initial']:.1f} (initialisation) to a peak of {norm['peak']:.1f} and ended at "
                    f"{norm['final']:.1f}: whether it rises while memorising depends on the initial scale of the weights."
                ),
                evidence="measured (metrics.json: weight_norm_story)",
                kind="context",
            )
        )
    return tuple(errata)


EXPERIMENT = Experiment(
    name="grokking",
    title="Grokking modular addition and its Fourier circuit",
    topic="circuits",
    config=GrokkingConfig,
    run=run_grokking,
    theorems=("modular-addition-fourier",),
    sources=(
        "A. Power et al. 2022, Grokking: generalization beyond overfitting, arXiv:2201.02177.",
        "N. Nanda et al. 2023, Progress measures for grokking, arXiv:2301.05217.",
    ),
    description=(
        "Project track B: a one-layer transformer learning $a\\ b = \\to (a + b) \\bmod p$ with high weight decay "
        "memorises, then generalises, by the algorithm of modular-addition-fourier."
    ),
)
