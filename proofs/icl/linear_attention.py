"""Exercise 1.4 (seed 003): linear attention as one gradient step, and what softmax attention is instead (SymPy only).

* :func:`one_step_learning_rate`: ``O = x_test^T X^T Y`` is the prediction after one gradient step
  from ``W = 0`` on ``L(W) = 1/2 ||X W - Y||^2`` exactly when ``eta = 1`` (``eta = N`` for the mean
  loss ``1/(2N) ||X W - Y||^2``), for symbolic ``N, d, d_y`` (``MatrixSymbol``). Its lemmas are the
  second part of the exercise:
* :func:`nadaraya_watson`: softmax attention is the Nadaraya-Watson estimator with the kernel
  ``exp(beta x . x_j)``, whose weights sum to one, so it reproduces constant targets;
  :func:`softmax_counterexample`: on two context points it predicts 1 where every gradient step
  predicts 0, whatever the step size;
* :func:`lse_gradient`, :func:`concave_convex_step`, :func:`lse_as_expectation`,
  :func:`energy_decrease`, :func:`energy_never_increases`: the Hopfield update
  ``xi <- X^T softmax(beta X xi)`` (Ramsauer et al. 2020) is one concave-convex procedure (CCCP) step
  on ``E(xi) = -lse(beta, X xi) + xi^T xi / 2``, and it lowers ``E`` by exactly
  ``||xi_new - xi||^2 / 2 + KL(p || p_new) / beta >= 0``.

Conventions are the exercise's: ``X`` is ``N x d`` with the context inputs ``x_j`` as rows (the keys),
``Y`` is ``N x d_y`` (the values), the query is ``x_test`` (a column). Ramsauer et al. store the
patterns as the columns of their matrix, which is ``X^T`` here.
"""

from __future__ import annotations

import sympy as sp
from sympy import Identity, MatrixSymbol, Trace, ZeroMatrix

from proofs.derivation import (
    Derivation,
    apply_map,
    column,
    custom,
    differentiate,
    identity,
    rewrite,
    simplify,
    solve_for,
    substitute,
)

RAMSAUER = "Ramsauer et al. 2020, Hopfield Networks is All You Need (ICLR 2021)"
YUILLE = "Yuille and Rangarajan 2003, The Concave-Convex Procedure (Neural Computation 15)"
EXERCISE = "seed 003, exercise 1.4"

N, d, d_y = sp.symbols("N d d_y", integer=True, positive=True)
eta = sp.Symbol("eta", positive=True)
beta = sp.Symbol("beta", positive=True)

X = MatrixSymbol("X", N, d)
Y = MatrixSymbol("Y", N, d_y)
x_test = MatrixSymbol("x_test", d, 1)
W = MatrixSymbol("W", d, d_y)
O = x_test.T * X.T * Y
"""The linear-attention output ``(Q K^T) V`` with ``Q = x_test^T``, ``K = X``, ``V = Y``: a ``1 x d_y`` row."""

square_norm = sp.Symbol("s", positive=True)
"""``s = ||O||^2 = tr(O O^T)``, positive by the assumption ``O != 0``."""

ATTENTION = (
    r"$Q = x_{\mathrm{test}}^\top$, $K = X \in \mathbb{R}^{N \times d}$ (the inputs $x_j$ as rows), "
    r"$V = Y \in \mathbb{R}^{N \times d_y}$: linear attention outputs $O = (Q K^\top) V = x_{\mathrm{test}}^\top X^\top Y$"
)
NONZERO_OUTPUT = (
    r"$O \ne 0$, so $s = \lVert O \rVert^2 > 0$ (otherwise every step size matches: both sides are 0); "
    r"Gaussian data give $O \ne 0$ almost surely"
)
GRADIENT_STEP = r"one gradient step from $W_0 = 0 \in \mathbb{R}^{d \times d_y}$: $W_1 = W_0 - \eta \nabla L(W_0)$, prediction $x_{\mathrm{test}}^\top W_1$"


def _loss(scale: sp.Expr) -> sp.Expr:
    """``scale tr((X W - Y)^T (X W - Y))``: the squared error of the linear model ``x -> x^T W`` on the rows."""
    residual = X * W - Y
    return scale * Trace(residual.T * residual)


def _matching_rate(derivation: Derivation, loss: str, scale: sp.Expr, name: str, root: sp.Expr) -> Derivation:
    """Append the steps from a loss (labelled ``loss``, ``scale tr(R^T R)``) to the step size ``root`` at which the
    one-step prediction equals ``O``, labelled ``name``.

    The prediction is ``f O`` with ``f = 2 scale eta``. Sufficiency: at ``eta = root`` the mismatch
    ``(f - 1) O`` is the zero row. Necessity: the mismatch's inner product with ``O``,
    ``tr(f O O^T) - tr(O O^T) = (f - 1) ||O||^2``, must vanish, and its only root is ``root``.
    """
    factor = 2 * scale * eta
    return (
        derivation.then(differentiate(W), 2 * scale * X.T * (X * W - Y), on=loss, note=r"$\nabla L(W)$")
        .then(
            substitute({W: ZeroMatrix(d, d_y)}, why="start from $W_0 = 0$"),
            -2 * scale * X.T * Y,
            note=r"$\nabla L(0)$",
        )
        .then(
            apply_map(lambda G: -eta * G, placeholder=MatrixSymbol("G", d, d_y), why=r"one step $W_1 = 0 - \eta G$"),
            factor * X.T * Y,
            note=r"$W_1$",
        )
        .then(
            apply_map(lambda V: x_test.T * V, placeholder=MatrixSymbol("V", d, d_y), why="predict at the query"),
            factor * O,
            note=r"the one-step prediction $x_{\mathrm{test}}^\top W_1$",
            label=f"prediction {name}",
        )
        .then(
            apply_map(lambda P: P - O, placeholder=MatrixSymbol("P", 1, d_y), why="subtract the attention output $O$"),
            (factor - 1) * O,
            note=r"the mismatch, a multiple of $O$",
        )
        .then(
            substitute({eta: root}, why=f"at $\\eta = {sp.latex(root)}$"),
            ZeroMatrix(1, d_y),
            note="the prediction is $O$: sufficient",
        )
        .then(
            apply_map(
                lambda P: Trace(P * O.T) - Trace(O * O.T),
                placeholder=MatrixSymbol("P", 1, d_y),
                why="the inner product of the mismatch with $O$",
            ),
            factor * Trace(O * O.T) - Trace(O * O.T),
            on=f"prediction {name}",
        )
        .then(substitute({Trace(O * O.T): square_norm}, why=r"$\lVert O \rVert^2 = s > 0$"), factor * square_norm - square_norm)
        .then(
            solve_for(eta, why="a match makes the inner product vanish"),
            root,
            note=r"the only step size that matches: necessary",
            label=name,
        )
    )


def one_step_learning_rate() -> Derivation:
    """``eta = 1`` for ``L = 1/2 ||X W - Y||^2``, ``eta = N`` for ``1/(2N) ||X W - Y||^2``: the closed form ``(1, N)``.

    The gradient ``X^T (X W - Y)`` (matrix calculus, symbolic sizes) at ``W = 0`` is ``-X^T Y``, one step
    gives ``W_1 = eta X^T Y`` and the prediction ``eta x_test^T X^T Y = eta O``. The mismatch
    ``(eta - 1) O`` vanishes iff ``eta = 1`` (``O != 0``): its inner product with ``O`` is
    ``(eta - 1) ||O||^2``, whose only root is 1, and at ``eta = 1`` the mismatch is the zero row. The
    mean loss divides the gradient by ``N``, so the root is ``N``. Exercise 1.4, part 1. Part 2 is in the
    lemmas (softmax attention as a kernel smoother, the Hopfield update as a CCCP step).
    """
    half = sp.Rational(1, 2)
    derivation = Derivation(
        "Linear attention is one gradient step exactly at these step sizes",
        _loss(half),
        start_note=r"$L(W) = \frac{1}{2} \lVert X W - Y \rVert^2 = \frac{1}{2} \operatorname{tr}\big((XW - Y)^\top (XW - Y)\big)$",
        assumptions=(ATTENTION, GRADIENT_STEP, NONZERO_OUTPUT),
        lemmas=(
            nadaraya_watson(),
            softmax_counterexample(),
            lse_gradient(),
            concave_convex_step(),
            lse_as_expectation(),
            energy_decrease(),
            energy_never_increases(),
        ),
    )
    derivation = _matching_rate(derivation, "start", half, "eta_sum", sp.Integer(1))
    derivation = derivation.then(
        apply_map(lambda L: L / N, why="the mean loss $\\frac{1}{2N} \\lVert X W - Y \\rVert^2$"),
        _loss(half / N),
        on="start",
        label="mean loss",
    )
    derivation = _matching_rate(derivation, "mean loss", half / N, "eta_mean", N)
    return derivation.then(column("eta_sum", "eta_mean", why="the two step sizes"), sp.Matrix([1, N]), on="eta_mean")


# --- softmax attention: a kernel smoother, not a gradient step ---------------------------------

i, j = sp.symbols("i j", integer=True, positive=True)
score = sp.IndexedBase("s", real=True)
"""``s_j = x_test . x_j``, the query's score against context input ``j``."""
target = sp.IndexedBase("y", real=True)
c = sp.Symbol("c", real=True)


def _kernel(index: sp.Symbol) -> sp.Expr:
    return sp.exp(beta * score[index])


def nadaraya_watson() -> Derivation:
    """Softmax attention ``sum_j softmax(beta s)_j y_j`` is ``sum_j k_j y_j / sum_i k_i`` with ``k_j = exp(beta s_j)``:
    the Nadaraya-Watson estimator with the kernel ``exp(beta x_test . x_j)``; its weights sum to one, so
    constant targets ``y_j = c`` come back as ``c`` (symbolic ``N``).
    """
    normaliser = sp.Sum(_kernel(i), (i, 1, N))
    return (
        Derivation(
            "Softmax attention is a Nadaraya-Watson kernel smoother",
            sp.Sum(_kernel(j) / normaliser * target[j], (j, 1, N)),
            start_note=r"one query, scores $s_j = x_{\mathrm{test}} \cdot x_j$, values $y_j$ ($d_y = 1$; each "
            r"value column alike): $\sum_j \mathrm{softmax}(\beta s)_j\, y_j$",
        )
        .then(
            identity("the linearity of the sum (the normaliser is free of $j$)"),
            sp.Sum(_kernel(j) * target[j], (j, 1, N)) / normaliser,
            note=r"$\sum_j k(x_{\mathrm{test}}, x_j)\, y_j \big/ \sum_i k(x_{\mathrm{test}}, x_i)$ with "
            r"$k(x, x') = e^{\beta x \cdot x'}$: the Nadaraya-Watson estimator",
            label="nadaraya-watson",
        )
        .then(
            custom(
                "take constant targets $y_j = c$",
                lambda e: e.replace(lambda a: isinstance(a, sp.Indexed) and a.base == target, lambda a: c),
            ),
            c * sp.Sum(_kernel(j), (j, 1, N)) / normaliser,
        )
        .then(
            substitute({sp.Sum(_kernel(j), (j, 1, N)): normaliser}, why="rename the summation index"),
            c,
            note="the weights sum to one: a constant comes back unchanged, which no gradient step from 0 on a "
            "linear model without bias does",
        )
    )


x_1, x_2, y_1, y_2, x_q = sp.symbols("x_1 x_2 y_1 y_2 x_q", real=True)
COUNTEREXAMPLE = {x_q: 1, x_1: 1, x_2: -1, y_1: 1, y_2: 1}
"""Two context points ``x = 1, -1`` with the same target 1, queried at ``x_test = 1``."""


def softmax_counterexample() -> Derivation:
    """On ``N = 2``, ``d = d_y = 1``, ``x = (1, -1)``, ``y = (1, 1)``, ``x_test = 1``: softmax attention minus
    the one-step prediction ``eta x_test sum_j x_j y_j`` (part 1's ``eta O``) is 1 for every ``eta`` and ``beta``."""
    weights = (sp.exp(beta * x_q * x_1), sp.exp(beta * x_q * x_2))
    softmax_prediction = (weights[0] * y_1 + weights[1] * y_2) / (weights[0] + weights[1])
    return Derivation(
        "No step size makes a gradient step match softmax attention",
        softmax_prediction - eta * x_q * (x_1 * y_1 + x_2 * y_2),
        start_note=r"softmax attention on two context points minus the one-step prediction $\eta\, x_{\mathrm{test}}^\top X^\top Y$",
    ).then(
        substitute(COUNTEREXAMPLE, why=r"the counterexample $x = (1, -1)$, $y = (1, 1)$, $x_{\mathrm{test}} = 1$"),
        sp.Integer(1),
        note=r"softmax predicts 1 (the weights sum to one), every gradient step predicts $\eta \cdot 0 = 0$: "
        r"the gap is 1 whatever $\eta$ and $\beta$",
    )


# --- the Hopfield update: one concave-convex step -------------------------------------------

t = sp.Symbol("t", real=True)
pattern = sp.IndexedBase("X", real=True)
state = sp.IndexedBase("xi", real=True)
direction = sp.IndexedBase("v", real=True)


def _pattern_score(row: sp.Symbol, shift: sp.Expr = 0) -> sp.Expr:
    """``(X (xi + t v))_row``: the state's score against pattern ``row``."""
    return sp.Sum(pattern[row, i] * (state[i] + shift * direction[i]), (i, 1, d))


def lse_gradient() -> Derivation:
    """The directional derivative of ``lse(beta, X xi) = log(sum_j exp(beta (X xi)_j)) / beta`` along any ``v`` is
    ``sum_j p_j (X v)_j = v^T X^T p`` with ``p = softmax(beta X xi)``: the gradient is ``X^T p`` (symbolic ``N, d``)."""
    moved = sp.log(sp.Sum(sp.exp(beta * _pattern_score(j, t)), (j, 1, N))) / beta
    along = sp.Sum(pattern[j, i] * direction[i], (i, 1, d))
    return (
        Derivation(
            "The gradient of log-sum-exp is the softmax average of the patterns",
            moved,
            start_note=r"$\mathrm{lse}(\beta, X(\xi + t v)) = \beta^{-1} \log \sum_j e^{\beta (X(\xi + t v))_j}$",
        )
        .then(
            differentiate(t),
            sp.Sum(along * sp.exp(beta * _pattern_score(j, t)), (j, 1, N))
            / sp.Sum(sp.exp(beta * _pattern_score(j, t)), (j, 1, N)),
        )
        .then(
            substitute({t: 0}, why=r"at $t = 0$"),
            sp.Sum(along * sp.exp(beta * _pattern_score(j)), (j, 1, N)) / sp.Sum(sp.exp(beta * _pattern_score(j)), (j, 1, N)),
            note=r"$\sum_j p_j (X v)_j = v^\top X^\top p$ for every $v$, $p = \mathrm{softmax}(\beta X \xi)$: "
            r"$\nabla_\xi \mathrm{lse}(\beta, X \xi) = X^\top p$",
        )
    )


zeta = MatrixSymbol("zeta", d, 1)
g = MatrixSymbol("g", d, 1)
p = MatrixSymbol("p", N, 1)
"""``p = softmax(beta X xi)``, the attention weights of the current state."""

CCCP = (
    r"the concave-convex procedure: for $E = E_{\mathrm{vex}} + E_{\mathrm{cave}}$ the step minimises "
    r"$E_{\mathrm{vex}}(\zeta) + \nabla E_{\mathrm{cave}}(\xi)^\top \zeta$, here $E_{\mathrm{vex}} = \frac12 \zeta^\top \zeta$, "
    r"$E_{\mathrm{cave}} = -\mathrm{lse}(\beta, X \zeta)$ (concave: log-sum-exp is convex)"
)


def concave_convex_step() -> Derivation:
    """The CCCP surrogate ``zeta^T zeta / 2 - g^T zeta`` (``g = grad lse(xi)``) has gradient ``zeta - g`` and Hessian
    ``I``; one Newton step from any ``zeta`` lands on its minimiser ``g = X^T softmax(beta X xi)``.
    Ramsauer et al. 2020, Theorem 1's proof; Yuille and Rangarajan 2003."""
    half = sp.Rational(1, 2)
    return (
        Derivation(
            "The Hopfield update is one concave-convex step",
            half * zeta.T * zeta - g.T * zeta,
            start_note=r"the surrogate $\frac12 \zeta^\top \zeta - g^\top \zeta$ (constants dropped), "
            r"$g = \nabla \mathrm{lse}(\beta, X \xi)$ at the current state",
            assumptions=(CCCP,),
        )
        .then(differentiate(zeta), zeta - g, label="surrogate gradient")
        .then(differentiate(zeta), Identity(d), note=r"the Hessian $I$: strictly convex, one minimiser")
        .then(
            apply_map(lambda G: zeta - G, placeholder=MatrixSymbol("G", d, 1), why=r"a Newton step $\zeta - I^{-1} G$"),
            g,
            on="surrogate gradient",
            note="exact for a quadratic, from any $\\zeta$: the minimiser",
        )
        .then(
            substitute({g: X.T * p}, why="the gradient of log-sum-exp", source="the lemma 'The gradient of log-sum-exp "
            "is the softmax average of the patterns', checked above"),
            X.T * p,
            note=r"$\xi_{\mathrm{new}} = X^\top \mathrm{softmax}(\beta X \xi)$: Ramsauer et al.'s update",
        )
    )


score_any = sp.IndexedBase("z", real=True)
weight_any = sp.IndexedBase("q", nonnegative=True)


def lse_as_expectation() -> Derivation:
    """For any probability vector ``q`` and ``p = softmax(beta z)``: ``sum_j q_j (z_j - log(p_j) / beta) = lse(beta, z)``
    (symbolic ``N``). With ``q = p`` it writes ``lse`` as the expected score plus the entropy over ``beta``."""
    normaliser = sp.Sum(sp.exp(beta * score_any[i]), (i, 1, N))
    probability = sp.exp(beta * score_any[j]) / normaliser
    return (
        Derivation(
            "Log-sum-exp as an expectation under any probability vector",
            sp.Sum(weight_any[j] * (score_any[j] - sp.log(probability) / beta), (j, 1, N)),
            start_note=r"$\sum_j q_j \big(z_j - \beta^{-1} \log p_j\big)$, $p = \mathrm{softmax}(\beta z)$, "
            r"$q_j \ge 0$, $\sum_j q_j = 1$",
        )
        .then(
            identity(r"$\log(u / v) = \log u - \log v$ for $u, v > 0$"),
            sp.Sum(weight_any[j] * (score_any[j] - (beta * score_any[j] - sp.log(normaliser)) / beta), (j, 1, N)),
        )
        .then(simplify(), sp.Sum(weight_any[j] * sp.log(normaliser) / beta, (j, 1, N)))
        .then(
            identity("the linearity of the sum (the factor is free of $j$)"),
            sp.log(normaliser) / beta * sp.Sum(weight_any[j], (j, 1, N)),
        )
        .then(
            substitute({sp.Sum(weight_any[j], (j, 1, N)): 1}, why="$q$ sums to one"),
            sp.log(normaliser) / beta,
            note=r"$= \mathrm{lse}(\beta, z)$",
        )
    )


lse_old, lse_new = sp.symbols("ell ell_new", real=True)
gram_old, gram_cross, gram_new = sp.symbols("a b c_new", real=True)
"""``a = xi^T xi``, ``b = xi_new^T xi``, ``c_new = xi_new^T xi_new``."""
entropy_old, entropy_cross = sp.symbols("h h_new", real=True)
"""``h = p^T log p``, ``h_new = p^T log p_new`` (``p_new = softmax(beta X xi_new)``)."""

GRAM = (
    r"$a = \xi^\top \xi$, $b = \xi_{\mathrm{new}}^\top \xi$, $c_{\mathrm{new}} = \xi_{\mathrm{new}}^\top \xi_{\mathrm{new}}$; "
    r"$h = p^\top \log p$, $h_{\mathrm{new}} = p^\top \log p_{\mathrm{new}}$ with $p = \mathrm{softmax}(\beta X \xi)$, "
    r"$p_{\mathrm{new}} = \mathrm{softmax}(\beta X \xi_{\mathrm{new}})$; $\ell = \mathrm{lse}(\beta, X\xi)$, "
    r"$\ell_{\mathrm{new}} = \mathrm{lse}(\beta, X\xi_{\mathrm{new}})$"
)


def energy_decrease() -> Derivation:
    """``E(xi) - E(xi_new) = (a - 2b + c_new)/2 + (h - h_new)/beta = ||xi_new - xi||^2 / 2 + KL(p || p_new) / beta``.

    ``E(v) = -lse(beta, X v) + v^T v / 2``. The lemma 'Log-sum-exp as an expectation' with ``q = p``
    gives ``ell = p^T X xi - h / beta`` and ``ell_new = p^T X xi_new - h_new / beta``; with
    ``xi_new = X^T p`` (the CCCP step) ``p^T X xi = b`` and ``p^T X xi_new = c_new``. Ramsauer et al. 2020,
    Theorem 1 (the energy decreases), made exact.
    """
    start = (-lse_old + gram_old / 2) - (-lse_new + gram_new / 2)
    expectations = {lse_old: gram_cross - entropy_old / beta, lse_new: gram_new - entropy_cross / beta}
    return (
        Derivation(
            "How much one Hopfield update lowers the energy",
            start,
            start_note=r"$E(\xi) - E(\xi_{\mathrm{new}})$, $E(v) = -\mathrm{lse}(\beta, X v) + \frac12 v^\top v$",
            assumptions=(GRAM,),
        )
        .then(
            substitute(
                expectations,
                why=r"log-sum-exp as the expectation under $q = p$, and $X^\top p = \xi_{\mathrm{new}}$",
                source="the lemmas 'Log-sum-exp as an expectation under any probability vector' and "
                "'The Hopfield update is one concave-convex step', checked above",
            ),
            start.subs(expectations),
        )
        .then(
            rewrite("collect the squares and the logarithms"),
            (gram_old - 2 * gram_cross + gram_new) / 2 + (entropy_old - entropy_cross) / beta,
            note=r"$\frac12 \lVert \xi_{\mathrm{new}} - \xi \rVert^2 + \beta^{-1} \mathrm{KL}(p \,\Vert\, p_{\mathrm{new}})$ "
            r"with $\mathrm{KL}(p \,\Vert\, p_{\mathrm{new}}) = \sum_j p_j \log(p_j / p_{\mathrm{new}, j})$",
            label="decrease",
        )
    )


half_square = sp.Symbol("r", nonnegative=True)
divergence = sp.Symbol("KL", nonnegative=True)
GIBBS = (
    r"$r = \frac12 \lVert \xi_{\mathrm{new}} - \xi \rVert^2 \ge 0$; $\mathrm{KL}(p \,\Vert\, p_{\mathrm{new}}) \ge 0$ "
    r"(Gibbs' inequality; Cover and Thomas, Elements of Information Theory, Theorem 2.6.3)"
)


def energy_never_increases() -> Derivation:
    """``E(xi) - E(xi_new) = r + KL / beta >= r >= 0``: a Hopfield update never raises the energy, and lowers it by
    at least half the squared step (the CCCP bound; the KL term is what the bound leaves out)."""
    return (
        Derivation(
            "A Hopfield update never increases the energy",
            half_square + divergence / beta,
            start_note=r"$E(\xi) - E(\xi_{\mathrm{new}})$ by the lemma 'How much one Hopfield update lowers the energy'",
            assumptions=(GIBBS,),
        )
        .then(rewrite("drop the divergence"), half_square, relation=">=", note=r"the CCCP bound $\frac12 \lVert \xi_{\mathrm{new}} - \xi \rVert^2$")
        .then(rewrite("drop the square"), sp.Integer(0), relation=">=", note=r"$E(\xi_{\mathrm{new}}) \le E(\xi)$")
    )
