"""``lsa-trained-risk``: the risk of the best one-layer linear self-attention predictor, derived and simulated.

The claim is the normalised risk curve of one preconditioned gradient step, in the completed-square
form that shows its minimiser and minimum (proofs.icl.risk); the oracle simulates prompts and the
step (numerics.icl.risk), exactly by enumerating Gaussian monomials where that is cheap. Seed 004,
track A; Mahankali et al. 2023.

The closed forms the ``icl-regression`` experiment uses are public here, each the derivation's
compiled labelled result: :func:`lsa_trained_risk_nmse`, :func:`optimal_step`, :func:`one_step_nmse`,
:func:`curriculum_optimal_step` and :func:`curriculum_risk_nmse`.
"""

from __future__ import annotations

import functools

import numpy as np

from checkers.closed_form import compile_closed_form
from checkers.domains import Integer, Real
from checkers.policies import Statistical
from checkers.theorem import Anchor, Theorem
from numerics.icl.risk import exact_one_step_risk, simulated_risks
from proofs.icl.risk import MAHANKALI, PREDICTOR, TASK, VON_OSWALD, one_step_risk

EXACT_TERMS = 20_000
"""The oracle is exact when the enumeration of :func:`numerics.icl.risk.one_step_error_moments` has at most this
many index tuples (``d^4 k^2``: every ``k`` for ``d = 1``, ``k <= 35`` for ``d = 2``, ..., ``k = 1`` up to ``d = 11``;
at most 0.05 s per ``(d, k)``, once per process); Monte Carlo above."""

RISK_POLICY = Statistical(false_alarm=1e-9, batches=30, draws=900)
"""30 batches of 30 draws, each draw the query-averaged squared error of 4 simulated tasks sharing a context.

Where the oracle is exact (small ``d^4 k^2``, among them every edge of the domain the sampler tries
first) it repeats the exact risk as its draws: their batch means have no spread, the standard-error
floor (1e-13 of the values) applies, and every written mutant is refuted there by more than 1e9
floors, as is a constant of the closed form off by one part in a thousand (a generated mutant). The
Monte Carlo instances check the larger sizes; their false-alarm rate at false_alarm = 1e-2 is
measured by tests/checkers/icl/test_risk.py.
"""


# --- the closed forms, public for the experiment ------------------------------------------------


@functools.lru_cache(maxsize=None)
def _compiled(label: str):
    return compile_closed_form(one_step_risk().expression(label))


def _evaluate(label: str, **arguments):
    """The derivation's result labelled ``label`` at the given values: a float for scalars, else an array."""
    shape = np.broadcast(*arguments.values()).shape
    flat = {name: np.broadcast_to(np.asarray(value, dtype=float), shape).ravel() for name, value in arguments.items()}
    value = _compiled(label)(**flat).reshape(shape)
    return float(value) if value.ndim == 0 else value


def lsa_trained_risk_nmse(d, k):
    """``(d + 1) / (k + d + 1)``: the nmse (risk / E[y_q^2]) of the best single step, at ``eta* = k / (k + d + 1)``."""
    return _evaluate("nmse_star", d=d, k=k)


def optimal_step(d, k):
    """``k / (k + d + 1)``: the step size of the best single preconditioned gradient step (``Gamma = eta* I``)."""
    return _evaluate("optimal_step", d=d, k=k)


def one_step_nmse(d, k, eta):
    """``1 - 2 eta + eta^2 (k + d + 1) / k``: the nmse of one gradient step ``W_1 = (eta / k) X^T y`` from 0."""
    return _evaluate("nmse", d=d, k=k, eta=eta)


def _inverse_k_mean(k_min, k_max):
    """``E[1/k]`` for ``k`` uniform on ``k_min..k_max`` (the curriculum of seed 004's track A)."""
    low, high = int(k_min), int(k_max)
    if not 1 <= low <= high:
        raise ValueError(f"the curriculum needs 1 <= k_min <= k_max, got k_min={k_min}, k_max={k_max}")
    return float(np.mean(1.0 / np.arange(low, high + 1)))


def curriculum_optimal_step(d, k_min, k_max):
    """``1 / (1 + (d + 1) E[1/k])``: the best single step when each prompt's ``k`` is uniform on ``k_min..k_max``."""
    return _evaluate("curriculum_step", d=d, h=_inverse_k_mean(k_min, k_max))


def curriculum_risk_nmse(d, k_min, k_max):
    """``(d + 1) h / (1 + (d + 1) h)``, ``h = E[1/k]``: the nmse, averaged over the curriculum, at that step."""
    return _evaluate("curriculum_nmse", d=d, h=_inverse_k_mean(k_min, k_max))


# --- lsa-trained-risk -------------------------------------------------------------------------


def _squared_errors(d, k, eta, draws, rng):
    """The oracle: normalised squared errors ``(y_q - y_hat)^2 / E[y_q^2]`` (``E[y_q^2] = E||w||^2 = d``), ``(n, draws)``.

    Exact (the enumerated mean, repeated as every draw) when ``d^4 k^2 <= EXACT_TERMS``; else
    simulated tasks and contexts with the query averaged exactly (:func:`numerics.icl.risk.simulated_risks`),
    each instance on its own stream drawn from the engine's oracle stream.
    """
    if d**4 * k**2 <= EXACT_TERMS:
        return np.repeat(exact_one_step_risk(d, k, eta)[:, None] / d, draws, axis=1)
    seeds = rng.integers(0, 2**63 - 1, size=len(eta))
    return simulated_risks(d, k, eta, seeds, draws) / d


def _with_fourth_moment(fourth):
    """The curve with ``k fourth(d, k)`` in place of ``E tr((X^T X)^2) / d = k (k + d + 1)``: ``1 - 2 eta + eta^2 fourth / k``."""

    def mutant(d, k, eta):
        return 1 - 2 * eta + eta**2 * fourth(d, k) / k

    return mutant


def _wrong_minimiser(d, k, eta):
    """The true minimum and curvature about the minimiser ``k / (k + d)`` (the ``+ 1`` of the Wishart moment lost)."""
    return (d + 1) / (k + d + 1) + (k + d + 1) / k * (eta - k / (k + d)) ** 2


def _with_label_noise(d, k, eta):
    """The risk of noisy labels ``y = w^T x + e``, ``e ~ N(0, 1)``: ``+ (1 + eta^2 d / k) / d`` (the noise kept)."""
    return one_step_nmse(d, k, eta) + (1 + eta**2 * d / k) / d


def _without_one_over_k(d, k, eta):
    """The curve of ``W_1 = eta X^T y`` (the ``1/k`` of the mean loss left out): the true curve at ``k eta``."""
    return one_step_nmse(d, k, k * np.asarray(eta, dtype=float))


def _risk_values(d, k, eta):
    """The best step and its risk at ``(d, k)``, the curve at the example's ``eta``, seed 004's curriculum ``5..50``,
    and whether the oracle is exact here."""
    curriculum = {"k_min": 5, "k_max": 50}
    return {
        "optimal_step": optimal_step(d, k),
        "risk": _evaluate("risk_star", d=d, k=k),
        "nmse": lsa_trained_risk_nmse(d, k),
        "nmse_at_eta": one_step_nmse(d, k, eta),
        "curriculum_step": curriculum_optimal_step(d, **curriculum),
        "curriculum_nmse": curriculum_risk_nmse(d, **curriculum),
        "exact_oracle": d**4 * k**2 <= EXACT_TERMS,
    }


lsa_trained_risk = Theorem(
    id="lsa-trained-risk",
    title="The risk of the best one-layer linear attention predictor (one preconditioned GD step)",
    topic="icl",
    statement=(
        r"Let $w \sim \mathcal{N}(0, I_d)$, let the $k$ in-context inputs $x_a$ and the query $x_q$ be "
        r"$\mathcal{N}(0, I_d)$, $y_a = w^\top x_a$, $y_q = w^\top x_q$ (no noise), and predict "
        r"$\hat y = x_q^\top \Gamma X^\top y / k$ (one gradient step from $0$ preconditioned by $\Gamma$: one linear "
        r"self-attention layer); the best $\Gamma$ is $\eta I$. With the Wishart moments $E[X^\top X] = k I$ and "
        r"$E[(X^\top X)^2] = k (k + d + 1) I$, the risk is "
        r"$\mathrm{risk}(\eta) = E[(y_q - \hat y)^2] = d - 2 \eta d + \eta^2 d (k + d + 1)/k$, minimised at "
        r"$\eta^* = k / (k + d + 1)$ with $\mathrm{risk}^* = d (d + 1) / (k + d + 1)$; normalised by $E[y_q^2] = d$, "
        r"$\mathrm{nmse}(\eta) = \frac{d + 1}{k + d + 1} + \frac{k + d + 1}{k} (\eta - \eta^*)^2$. The error does not "
        r"vanish as training proceeds: $\mathrm{nmse}^* = (d + 1)/(k + d + 1) > 0$ for every $k$, while least squares "
        r"is exact once $k \ge d$. When $k$ varies over prompts (a curriculum) the best single step is "
        r"$\eta_{\mathrm{mix}} = 1 / (1 + (d + 1) E[1/k])$."
    ),
    assumptions=(
        TASK,
        PREDICTOR,
        r"the oracle simulates tasks $w$, contexts $X$ (4 tasks per context) and the gradient step itself, and "
        r"averages the query exactly ($E[(x_q^\top (w - W_1))^2 \mid w, X] = \lVert w - W_1 \rVert^2$); it is exact "
        rf"(every monomial of the expanded square averaged by its Gaussian moments) when $d^4 k^2 \le {EXACT_TERMS}$",
    ),
    sources=(
        f"{MAHANKALI}, theorem 1 (isotropic inputs)",
        f"{VON_OSWALD}, section 2 (one layer as one gradient step)",
        "seed 004, project track A (sections 2.2-2.4)",
    ),
    parameters={
        "d": Integer(1, 12, shape=True, default=4),
        "k": Integer(1, 48, shape=True, default=20),
        "eta": Real(0.0, 1.0, default=0.8),
    },
    derivation=one_step_risk,
    oracle=_squared_errors,
    mutants={
        "k + d instead of k + d + 1 (E[(X^T X)^2] = k(k + d) I)": _with_fourth_moment(lambda d, k: k + d),
        "eta* = k/(k + d)": _wrong_minimiser,
        "E[(X^T X)^2] = k^2 I (the square of the mean)": _with_fourth_moment(lambda d, k: k),
        "unit label noise kept (no noise-free simplification)": _with_label_noise,
        "prediction without the 1/k (W_1 = eta X^T y)": _without_one_over_k,
    },
    tolerance=RISK_POLICY,
    anchors=(
        Anchor(
            {"d": 1, "k": 1, "eta": 1 / 3},
            2 / 3,
            "worked by hand at d = k = 1: y_q - y_hat = x_q w (1 - eta x^2), so risk(eta) = E[(1 - eta x^2)^2] = "
            "1 - 2 eta + 3 eta^2 (E[x^4] = 3), least at eta* = 1/3 with risk 2/3",
            rtol=1e-12,
        ),
        Anchor(
            {"d": 2, "k": 3, "eta": 1.0},
            1.0,
            "worked by hand at d = 2, k = 3, eta = 1: risk = 2 - 4 + 2 (3 + 2 + 1)/3 = 2, nmse = 2/2 = 1 "
            "(the step overshoots back to the risk of predicting 0)",
            rtol=1e-12,
        ),
    ),
    values=_risk_values,
    questions={
        "optimal_step": (
            r"In-context linear regression: $w \sim \mathcal{N}(0, I_d)$, $k$ examples $x_a \sim \mathcal{N}(0, I_d)$ "
            r"with $y_a = w^\top x_a$, a query $x_q$. One gradient step from $0$ on $\frac{1}{2k}\lVert X W - y\rVert^2$ "
            r"predicts $\hat y = \eta\, x_q^\top X^\top y / k$. Using $E[X^\top X] = k I$ and "
            r"$E[(X^\top X)^2] = k (k + d + 1) I$, find $E[(y_q - \hat y)^2]$ as a function of $\eta$ and the best "
            r"step $\eta^*$ for the given $d$ and $k$."
        ),
        "nmse": r"What normalised risk $E[(y_q - \hat y)^2] / E[y_q^2]$ does the best step reach? Does it vanish as $k$ grows?",
        "nmse_at_eta": r"Evaluate the normalised risk at the given step size $\eta$.",
        "curriculum_step": (
            r"A model is trained on prompts whose $k$ is uniform on $5, \dots, 50$ (seed 004's curriculum). Which single "
            r"step size minimises the risk averaged over $k$?"
        ),
    },
)
