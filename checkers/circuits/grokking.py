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
"""Keeping only the key frequencies *keeps* the accuracy when it falls by at most one percentage point
(the other frequencies hold the last tenth of the embedding's energy: most of it noise weight decay has
not yet removed)."""

ABLATED_CHANCE_MULTIPLE = 5
"""Removing the key frequencies *destroys* the accuracy when it falls to at most 5 times chance (5/p):
a network with one key frequency left intact would still answer a share of the equations."""

CORRELATION = 0.9
"""The logits *match* the algorithm when their correlation with ``sum_k alpha_k cos(w_k (a + b - c))`` at
the key frequencies (each equation's logits centred over ``c``; one weight ``alpha_k > 0`` per frequency,
fitted by least squares) is at least 0.9, i.e. the algorithm's terms explain at least 81% of the logits'
variance. The network weights its frequencies unequally, so the theorem's equal weights are reported
beside it, not checked; any positive weights keep the theorem's argmax, each term being largest at
``c = (a + b) mod p``."""


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
    near epoch 500, after a loss spike (the "slingshot" of Thilak et al. 2022), and 1200 epochs take
    about 6 minutes of one CPU core (0.25 s an epoch). ``--config lr=0.001 epochs=40000`` is their run.
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
    fit = g.algorithm_fit(g.all_logits(model, data), key)

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
        },
    }
    metrics["answers"] = _answers(metrics, config)
    chance = 1 / p
    checks = (
        Check(
            f"the network groks: validation accuracy reaches {GROKKED:.0%}",
            grokked is not None,
            f"validation accuracy {log.val_accuracy[-1]:.4f} at epoch {log.epochs[-1]}; training accuracy reached {GROKKED:.0%} at epoch {memorised}, validation at epoch {grokked}",
        ),
        Check(
            f"the embedding's Fourier spectrum is sparse: at most {KEY_SHARE_OF_FREQUENCIES:.0%} of the {frequencies} frequencies hold {config.energy_fraction:.0%} of its energy",
            len(key) <= KEY_SHARE_OF_FREQUENCIES * frequencies and key_share >= config.energy_fraction,
            f"key frequencies {', '.join(map(str, key))} ({len(key)} of {frequencies}) hold {key_share:.1%}",
        ),
        Check(
            f"keeping only the key frequencies in the embedding keeps the accuracy (within {KEPT_TOLERANCE:.0%})",
            kept >= full - KEPT_TOLERANCE,
            f"accuracy on all {p * p} equations {kept:.4f} with only the key frequencies, {full:.4f} unchanged",
        ),
        Check(
            f"removing the key frequencies from the embedding destroys the accuracy (at most {ABLATED_CHANCE_MULTIPLE} times chance, {ABLATED_CHANCE_MULTIPLE * chance:.3f})",
            ablated <= ABLATED_CHANCE_MULTIPLE * chance,
            f"accuracy {ablated:.4f} without the key frequencies (chance 1/p = {chance:.4f})",
        ),
        Check(
            f"the logits are the algorithm of modular-addition-fourier at the key frequencies, each with a positive weight (correlation at least {CORRELATION})",
            fit.weighted_correlation >= CORRELATION and bool((fit.weights > 0).all()),
            f"correlation {fit.weighted_correlation:.4f} with sum_k alpha_k cos(w_k (a + b - c)), alpha = "
            + ", ".join(f"{w:.3g}" for w in fit.weights)
            + f" ({fit.explained:.1%} of the logits' variance); {fit.correlation:.4f} with equal weights",
        ),
    )
    figures = (
        Plot("accuracy", _accuracy_caption(memorised, grokked, config), g.accuracy_figure(log, memorised, grokked)),
        Plot("weight-norm", _norm_caption(norm), g.weight_norm_figure(log, memorised, grokked)),
        Plot("spectrum", _spectrum_caption(key, key_share, frequencies), g.spectrum_figure(norms, key)),
        Plot("pca", _pca_caption(metrics["pca"], p), g.pca_figure(W_E, strongest)),
        Plot("patching", _patching_caption(metrics["patching"]), g.patching_figure(patching, neuron_k, key)),
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
    norm, pca, patching = m["weight_norm_story"], m["pca"], m["patching"]
    key, frequencies = m["key_frequencies"], (config.p - 1) // 2
    n_train = int(config.train_fraction * config.p**2)
    spike = norm["lowest_train_accuracy_before_grokking"]
    jump = m["grok_epoch"] is not None and norm["before_jump_epoch"] is not None
    return [
        {
            "question": "Exercise 1.10 (seed 003): why would a lower weight norm correspond to better generalisation in modular arithmetic?",
            "answer": (
                r"With weight decay the objective is $L(\theta) + \frac{\lambda}{2}\|\theta\|^2$: of two networks that fit the "
                "training set it prefers the lighter. A lookup table stores each training equation on its own, and the norm grew "
                f"while the network memorised: from {_number(norm['initial'])} to {_number(norm['at_memorisation'])} while the {n_train} "
                f"training equations were memorised ({_epoch(m['memorisation_epoch'])}), peaking at {_number(norm['peak'])}. The "
                f"Fourier algorithm answers all ${config.p}^2$ equations with {len(key)} shared frequencies and is lighter: "
                f"{_number(norm['at_grok'])} at grokking, {_number(norm['final'])} at the end. Lower norm goes with generalisation "
                f"here because the light way to fit {config.train_fraction:.0%} of the table is the rule that generates all of it, "
                "not because a small norm implies generalisation in general."
            ),
        },
        {
            "question": "Seed 004, section 3.4: does the weight norm decrease at the moment of grokking?",
            "answer": (
                "Not measured: the network did not grok within the run."
                if norm["change_across_jump"] is None
                else f"Yes here: across the jump in validation accuracy ({_epoch(norm['before_jump_epoch'])}, the last below 50%, to "
                f"{_epoch(m['grok_epoch'])}) $\\|\\theta\\|$ went from {_number(norm['before_jump'])} to {_number(norm['at_grok'])} "
                f"({_change(norm['change_across_jump'])}), from a peak of {_number(norm['peak'])} at {_epoch(norm['peak_epoch'])}."
                if norm["change_across_jump"] < 0
                else f"No: across the jump in validation accuracy the norm changed by {_change(norm['change_across_jump'])}."
            ),
        },
        {
            "question": "Seed 004, section 3.4: does a 2-D PCA of the token embeddings reveal a perfect circle?",
            "answer": (
                f"The top two principal axes hold {100 * sum(pca['explained_variance']):.0f}% of the variance; the distance of the "
                f"points from their centre varies by {100 * pca['radius_spread']:.0f}% (0 on a circle). In the plane of the "
                f"strongest key frequency ($k = {pca['strongest_key_frequency']}$) it varies by "
                f"{100 * pca['strongest_key_frequency_radius_spread']:.0f}%, the numbers going round in the order "
                f"$x \\mapsto k x \\bmod {config.p}$, not $0, 1, 2, \\dots$ (see the errata)."
            ),
        },
        {
            "question": "Seed 004, section 4.2, question 1: a sharp `Aha!' moment (grokking) or a smooth improvement?",
            "answer": (
                f"Sharp: training accuracy reached 99% at {_epoch(m['memorisation_epoch'])}, validation accuracy stayed low, then rose "
                f"from below 50% ({_epoch(norm['before_jump_epoch'])}) to 99% ({_epoch(m['grok_epoch'])})."
                + (
                    f" The jump followed a loss spike (training accuracy down to {100 * spike:.0f}% at "
                    f"{_epoch(norm['lowest_train_accuracy_epoch'])}), the `slingshot' large Adam steps produce (Thilak et al. 2022)."
                    if spike is not None and spike < SPIKE
                    else ""
                )
                if jump
                else f"No jump within the run: validation accuracy {100 * m['val_accuracy'][-1]:.1f}% at the last epoch."
            ),
        },
        {
            "question": "Seed 004, section 4.2, question 2: is the learned circuit the simplest possible, and how does weight decay influence this?",
            "answer": (
                f"It keeps {len(key)} of the {frequencies} frequencies ({', '.join(map(str, key))}), with "
                f"{100 * m['key_frequency_energy_share']:.0f}% of the embedding's energy ({len(key)} frequencies of a random embedding "
                f"hold about {100 * len(key) / frequencies:.0f}%). By theorem modular-addition-fourier one frequency would do, so it is "
                "sparse, not minimal. Weight decay is what the norm curve shows it pressing on; a run without it "
                "(--config weight_decay=0) is the comparison."
            ),
        },
        {
            "question": "Seed 004, section 4.2, question 3: does it generalise to $a, b$ not seen in training?",
            "answer": (
                f"On the {config.p**2 - n_train} equations never trained on, the accuracy is {100 * m['val_accuracy'][-1]:.2f}% at the "
                f"last epoch (all equations: {100 * m['accuracy']:.2f}%)."
            ),
        },
        {
            "question": "Seed 004, section 3.3: which MLP neurons are responsible (activation patching)?",
            "answer": (
                f"Patching every neuron at `=' from a run on $(a, b)$ into one on $(a', b)$ restores "
                f"{100 * patching['restored_by_every_neuron']:.0f}% of the logit difference $\\ell_c - \\ell_{{c'}}$ "
                f"({patching['pairs']} pairs). The effect is spread: {patching['carriers']} of {config.d_mlp} neurons carry 90% of it "
                f"(patched together: {100 * patching['restored_by_carriers']:.0f}%), and "
                f"{100 * patching['carriers_reading_a_key_frequency']:.0f}% of them read a key frequency."
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
        f"in the plane of one key frequency (the embedding projected on its cosine and sine; the strongest, "
        f"$k = {pca['strongest_key_frequency']}$): radius spread {100 * pca['strongest_key_frequency_radius_spread']:.0f}%, "
        "the numbers in the order $x \\mapsto k x \\bmod p$"
    )
    top = (
        f"on the top two principal axes of the whole embedding ({100 * sum(pca['explained_variance']):.0f}% of its variance): "
        f"radius spread {100 * pca['radius_spread']:.0f}%"
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
            evidence="measured on the trained network's embedding (metrics.json: pca)",
            kind="context",
        )
    else:
        circle = Erratum(
            source="seed 004",
            section="3.4 (embeddings)",
            stated=stated,
            corrected="A circle appears in the plane of one key frequency, not necessarily on the top two principal axes.",
            evidence="measured on the trained network's embedding (metrics.json: pca)",
            kind="ambiguous",
            readings=(
                f"the top two principal axes: no circle, {top}: key frequencies of similar strength share the axes",
                f"a 2-D PCA within one key frequency's plane: a near circle, {plane}",
            ),
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


def _accuracy_caption(memorised, grokked, config: GrokkingConfig) -> str:
    return (
        f"Training ({int(config.train_fraction * 100)}% of the {config.p}$^2$ equations) and validation accuracy and loss "
        f"against the epoch (log scale). Training accuracy reaches 99% at {_epoch(memorised)}, validation accuracy at {_epoch(grokked)}."
    )


def _norm_caption(norm: dict) -> str:
    return (
        f"The weight norm $\\|\\theta\\|_2$: {norm['initial']:.1f} at initialisation, a peak of {norm['peak']:.1f} at "
        f"{_epoch(norm['peak_epoch'])}, {_number(norm['at_grok'])} at grokking and {norm['final']:.1f} at the end."
    )


def _spectrum_caption(key, share: float, frequencies: int) -> str:
    return (
        f"The embedding's Fourier spectrum: the norm of $W_E$'s component at each frequency $k$ in the basis "
        f"$\\cos(w_k x), \\sin(w_k x)$ of $\\mathbb{{Z}}_p$. The {len(key)} key frequencies (red) of {frequencies} hold "
        f"{100 * share:.0f}% of the energy."
    )


def _pca_caption(pca: dict, p: int) -> str:
    return (
        f"The numbers' embeddings on the top two principal axes of $W_E$ ({100 * sum(pca['explained_variance']):.0f}% of "
        f"the variance; radius spread {100 * pca['radius_spread']:.0f}%) and in the plane of the strongest key frequency "
        f"$k = {pca['strongest_key_frequency']}$ (radius spread {100 * pca['strongest_key_frequency_radius_spread']:.0f}%), "
        f"where they go round in the order $x \\mapsto k x \\bmod {p}$."
    )


def _patching_caption(patching: dict) -> str:
    return (
        f"Activation patching of MLP neurons at `=' ({patching['pairs']} clean/corrupted pairs): the share of the logit "
        f"difference each of the top neurons restores alone, coloured by the key frequency it reads, and the cumulative share. "
        f"{patching['carriers']} neurons carry 90% of what every neuron together restores "
        f"({100 * patching['restored_by_every_neuron']:.0f}%)."
    )


EXPERIMENT = Experiment(
    name="grokking",
    title="Grokking modular addition and its Fourier circuit",
    topic="circuits",
    config=GrokkingConfig,
    run=run_grokking,
    theorems=("modular-addition-fourier",),
    sources=(
        "A. Power, Y. Burda, H. Edwards, I. Babuschkin, V. Misra, Grokking: generalization beyond overfitting on small algorithmic datasets, arXiv:2201.02177, 2022.",
        "N. Nanda, L. Chan, T. Lieberum, J. Smith, J. Steinhardt, Progress measures for grokking via mechanistic interpretability, ICLR 2023, arXiv:2301.05217.",
        "Course seed 004, project track B; seed 003, exercise 1.10.",
    ),
    description=(
        "Project track B: a one-layer transformer (TransformerLens) trained on $a\\ b = \\to (a + b) \\bmod p$ with 30% "
        "of the equations and high weight decay memorises, then generalises. Its embedding keeps a few key frequencies, "
        "and its logits are the trigonometric algorithm of theorem modular-addition-fourier."
    ),
)
