"""Derivations for the risk of the best one-layer linear self-attention predictor (SymPy only; seed 004, track A).

The task: ``w ~ N(0, I_d)``; ``k`` examples ``x_a ~ N(0, I_d)`` (the rows of ``X``, ``k x d``) with
noiseless labels ``y_a = w^T x_a``, and a query ``x_q ~ N(0, I_d)``, ``y_q = w^T x_q``; all independent.
The predictor is one preconditioned gradient step from ``W = 0`` on the in-context least squares,
``y_hat = x_q^T Gamma X^T y / k``, which is what one linear self-attention layer computes (von
Oswald et al. 2023; Mahankali et al. 2023 show it is the best one such layer can do); by the
rotation invariance of the task the best ``Gamma`` is ``eta I``.

* :func:`gaussian_moment`: ``E[x^2] = 1`` and ``E[x^4] = 3`` as Gaussian integrals.
* :func:`wishart_second_moment`: ``E tr((X^T X)^2) = d k (k + d + 1)`` from those moments.
* :func:`one_step_risk`: ``risk(eta) = d - 2 eta d + eta^2 d (k + d + 1) / k``, minimised at
  ``eta* = k / (k + d + 1)`` with ``risk* = d (d + 1) / (k + d + 1)``; ``nmse = risk / E[y_q^2] = risk / d``.
  The same derivation gives the best single step when ``k`` is drawn from a curriculum (uniform on
  ``k_min..k_max`` as in seed 004's ``k in [5, 50]``): ``eta_mix = 1 / (1 + (d + 1) E[1/k])``.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import (
    Derivation,
    Operation,
    apply_map,
    differentiate,
    evaluate,
    factor,
    lemma,
    rewrite,
    solve_for,
    substitute,
)

MAHANKALI = (
    "Mahankali, Hashimoto and Ma 2023, One Step of Gradient Descent is Provably the Optimal In-Context Learner "
    "with One Layer of Linear Self-Attention"
)
VON_OSWALD = "von Oswald et al. 2023, Transformers learn in-context by gradient descent"

d, k = sp.symbols("d k", integer=True, positive=True)
k_min, k_max = sp.symbols("k_min k_max", integer=True, positive=True)
eta = sp.Symbol("eta", real=True)
h = sp.Symbol("h", positive=True)
"""``E[1/k]`` over a curriculum of ``k``."""
m_2, m_4 = sp.symbols("m_2 m_4", positive=True)
"""``E[x^2]`` and ``E[x^4]`` for ``x ~ N(0, 1)``, until their values (:func:`gaussian_moment`) are substituted."""
x = sp.Symbol("x", real=True)

TASK = (
    r"$w \sim \mathcal{N}(0, I_d)$; the $k$ rows $x_a$ of $X \in \mathbb{R}^{k \times d}$ and the query $x_q$ are "
    r"$\mathcal{N}(0, I_d)$; $y = X w$ and $y_q = w^\top x_q$ (no noise); all independent"
)
PREDICTOR = (
    r"$\hat y = x_q^\top \Gamma X^\top y / k$, one gradient step from $W = 0$ on "
    r"$\frac{1}{2k} \lVert X W - y \rVert^2$ preconditioned by $\Gamma$: the prediction of one linear "
    r"self-attention layer; the task is invariant under rotations, so the best $\Gamma$ is $\eta I$"
)


def gaussian_moment(power: int) -> Derivation:
    """``E[x^power]`` for ``x ~ N(0, 1)``, the integral evaluated by SymPy."""
    density = sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)
    value = sp.factorial2(power - 1)
    return Derivation(
        f"The Gaussian moment E[x^{power}]",
        sp.Integral(x**power * density, (x, -sp.oo, sp.oo)),
        start_note=rf"$E[x^{power}]$ for $x \sim \mathcal{{N}}(0, 1)$",
    ).then(evaluate("integrate"), value, note=rf"$({power} - 1)!! = {value}$")


def _trace_moments() -> tuple[sp.Expr, sp.Expr]:
    """``E tr(X^T X)`` and ``E tr((X^T X)^2)`` in terms of the Gaussian moments ``m_2, m_4``, counted over the entries.

    ``tr(X^T X) = sum_{a, i} x_ai^2``. ``tr(S^2) = sum_i S_ii^2 + sum_{i != j} S_ij^2`` with
    ``S = X^T X``: ``S_ii = sum_a x_ai^2`` squares to ``k`` fourth powers and ``k (k - 1)`` products
    of two squares; ``S_ij = sum_a x_ai x_aj`` (``i != j``) keeps in its square only the ``k`` terms
    ``x_ai^2 x_aj^2`` (the others have a factor of mean 0).
    """
    first = d * k * m_2
    second = d * (k * m_4 + k * (k - 1) * m_2**2) + d * (d - 1) * k * m_2**2
    return first, second


def _moment_value(power: int) -> Operation:
    """Substitute ``m_power`` by its value, checked by :func:`gaussian_moment`."""
    moment = gaussian_moment(power)
    symbol = {2: m_2, 4: m_4}[power]
    return substitute({symbol: moment.result}, why=rf"the Gaussian moment $E[x^{power}]$ (lemma)")


def wishart_second_moment() -> Derivation:
    """``E tr((X^T X)^2) = d k (k + d + 1)`` for ``X`` (``k x d``) with independent ``N(0, 1)`` entries.

    By rotation invariance ``E[(X^T X)^2]`` is a multiple of ``I_d``, hence ``k (k + d + 1) I_d``;
    likewise ``E[X^T X] = k I_d``. The count of the entries is :func:`_trace_moments`'.
    """
    second = _trace_moments()[1]
    return (
        Derivation(
            "The Wishart moment E tr((X^T X)^2)",
            second,
            start_note=(
                r"$E \operatorname{tr}(S^2) = \sum_i E[S_{ii}^2] + \sum_{i \ne j} E[S_{ij}^2]$, $S = X^\top X$: "
                r"$S_{ii} = \sum_a x_{ai}^2$ gives $k m_4 + k(k-1) m_2^2$; $S_{ij}$ ($i \ne j$) gives "
                r"$k m_2^2$ (every other term has a factor of mean 0); $m_p = E[x^p]$ for $x \sim \mathcal{N}(0, 1)$"
            ),
            assumptions=(TASK,),
            lemmas=(gaussian_moment(4), gaussian_moment(2)),
        )
        .then(_moment_value(4), second.subs(m_4, 3))
        .then(_moment_value(2), d * (3 * k + k * (k - 1)) + d * (d - 1) * k)
        .then(factor(), d * k * (k + d + 1), note=r"$E[(X^\top X)^2] = k (k + d + 1) I_d$")
    )


def one_step_risk() -> Derivation:
    """The risk of one preconditioned step, its best step size and its minimum, for symbolic ``d, k``.

    Given ``X``, ``y_q - y_hat = x_q^T (I - (eta/k) X^T X) w``, whose square has mean
    ``tr((I - (eta/k) S)^2) = d - 2 (eta/k) tr S + (eta/k)^2 tr S^2`` over ``x_q`` and ``w``; the mean
    over ``X`` (Wishart moments) gives ``risk(eta) = d - 2 eta d + eta^2 d (k + d + 1) / k`` (label
    ``risk``); it is convex, minimised at ``eta* = k / (k + d + 1)`` (``optimal_step``) with
    ``risk* = d (d + 1) / (k + d + 1)`` (``risk_star``) and ``nmse* = (d + 1) / (k + d + 1)``
    (``nmse_star``). For a curriculum (``k`` drawn per prompt) the risk, affine in ``1/k``, averages to
    the same parabola with ``1/k`` replaced by ``h = E[1/k]``: the best single step is
    ``eta_mix = 1 / (1 + (d + 1) h)`` (``curriculum_step``), its risk ``d (d + 1) h / (1 + (d + 1) h)``
    (``curriculum_risk``, normalised ``curriculum_nmse``); for ``k`` uniform on ``k_min..k_max``,
    ``h = (H_{k_max} - H_{k_min - 1}) / (k_max - k_min + 1)``. The result is the normalised curve in
    completed-square form, ``nmse(eta) = nmse* + ((k + d + 1) / k) (eta - eta*)^2``. Mahankali et al.
    2023 (theorem 1, the isotropic case); seed 004, track A (the curriculum ``k in [5, 50]``).
    """
    first, second = _trace_moments()
    wishart = wishart_second_moment()
    risk = d - 2 * eta * d + eta**2 * d * (k + d + 1) / k
    optimal = k / (k + d + 1)
    nmse_star = (d + 1) / (k + d + 1)
    mixture = d - 2 * eta * d + eta**2 * d * (1 + (d + 1) * h)
    step = 1 / (1 + (d + 1) * h)
    uniform = (sp.harmonic(k_max) - sp.harmonic(k_min - 1)) / (k_max - k_min + 1)
    return (
        Derivation(
            "The risk of one preconditioned gradient step and its best step size",
            d - 2 * (eta / k) * first + (eta / k) ** 2 * second,
            start_note=(
                r"$E[(y_q - \hat y)^2] = E \operatorname{tr}\big((I - \tfrac{\eta}{k} X^\top X)^2\big) "
                r"= d - \tfrac{2\eta}{k} E \operatorname{tr}(X^\top X) + \tfrac{\eta^2}{k^2} E \operatorname{tr}((X^\top X)^2)$: "
                r"given $X$, $y_q - \hat y = x_q^\top (I - \tfrac{\eta}{k} X^\top X) w$ and $E[(x_q^\top M w)^2] = "
                r"\operatorname{tr}(M^\top M)$ for independent $x_q, w \sim \mathcal{N}(0, I_d)$; the traces are "
                r"counted over the entries of $X$"
            ),
            assumptions=(TASK, PREDICTOR),
            lemmas=(wishart,),
        )
        .then(lemma(wishart), d - 2 * eta * d * m_2 + eta**2 * d * (k + d + 1) / k)
        .then(_moment_value(2), risk, label="risk", note=r"$\mathrm{risk}(\eta)$, a parabola in $\eta$")
        .then(differentiate(eta, 2), 2 * d * (k + d + 1) / k)
        .then(
            rewrite(r"every factor is positive"),
            0,
            relation=">",
            note="convex: its stationary point is the global minimum",
        )
        .then(differentiate(eta), -2 * d + 2 * eta * d * (k + d + 1) / k, on="risk")
        .then(solve_for(eta), optimal, label="optimal_step", note=r"$\eta^* = k / (k + d + 1)$")
        .then(
            substitute({eta: optimal}, why=r"at $\eta = \eta^*$"),
            d - 2 * optimal * d + optimal**2 * d * (k + d + 1) / k,
            on="risk",
        )
        .then(factor(), d * (d + 1) / (k + d + 1), label="risk_star", note=r"$\mathrm{risk}^*$")
        .then(
            apply_map(lambda r: r / d, why=r"divide by $E[y_q^2] = E[(w^\top x_q)^2] = d$"),
            nmse_star,
            label="nmse_star",
            note=r"the normalised risk of the best single step",
        )
        .then(
            substitute({k: 1 / h}, why=r"a curriculum of $k$: the risk is affine in $1/k$, so put $h = E[1/k]$"),
            mixture,
            on="risk",
            label="mixture",
            note=r"$E_k[\mathrm{risk}_k(\eta)]$, $k$ drawn once per prompt",
        )
        .then(differentiate(eta), -2 * d + 2 * eta * d * (1 + (d + 1) * h))
        .then(solve_for(eta), step, label="curriculum_step", note=r"$\eta_{\mathrm{mix}}$")
        .then(
            substitute({eta: step}, why=r"at $\eta = \eta_{\mathrm{mix}}$"),
            d - 2 * d * step + d * step,
            on="mixture",
        )
        .then(factor(), d * (d + 1) * h / ((d + 1) * h + 1), label="curriculum_risk")
        .then(
            apply_map(lambda r: r / d, why=r"divide by $E[y_q^2] = d$"),
            (d + 1) * h / ((d + 1) * h + 1),
            label="curriculum_nmse",
        )
        .then(
            substitute({h: uniform}, why=r"$k$ uniform"),
            step.subs(h, uniform),
            on="curriculum_step",
            label="curriculum_uniform",
            note=r"$k$ uniform on $k_{\min}, \dots, k_{\max}$ (seed 004: $5, \dots, 50$); $H$ the harmonic numbers",
        )
        .then(apply_map(lambda r: r / d, why=r"divide by $E[y_q^2] = d$"), risk / d, on="risk", label="nmse")
        .then(
            rewrite(r"complete the square around $\eta^*$"),
            nmse_star + (k + d + 1) / k * (eta - optimal) ** 2,
            note=r"$\mathrm{nmse}(\eta) = \mathrm{nmse}^* + \tfrac{k + d + 1}{k} (\eta - \eta^*)^2$",
        )
    )
