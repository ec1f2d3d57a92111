"""Derivations for rank collapse in pure attention (SymPy only).

* :func:`single_layer_bound`: the single-layer step ``||res(SA(X))|| <= 4 gamma beta r^3 / sqrt(d_qk)``
  from the softmax perturbation ``|P - 1 pi^T| <= (e^(2 eps) - 1) pi <= 4 eps pi`` and the norm
  chain; the norm inequalities are given steps (prose), the algebra and ``e^t - 1 <= 2 t`` are proved.
* :func:`residual_bound_over_depth`: Dong, Cordonnier and Loukas' single-layer bound
  ``||res(SA(X))|| <= (4 gamma beta / sqrt(d_qk)) ||res(X)||^3`` unrolled over ``L`` layers to
  ``(4 gamma beta / sqrt(d_qk))^((3^L - 1)/2) ||res(X)||^(3^L)`` (Dong et al. 2021, Theorem 2.2;
  syllabus hours 1-2, task 2.3 of seed 003).
* :func:`rate_for_kept_fraction`: from ``||H^(l) - 1 v^T|| <= C e^(-lambda l)``, the largest
  rate ``lambda`` whose bound still keeps a fraction of its layer-0 value after ``L`` layers,
  for the norm and for the squared norm (seed 003, exercise 1.7).
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import (
    Derivation,
    DerivationError,
    apply_map,
    column,
    custom,
    given,
    ratio,
    solve_for,
    substitute,
)

DONG = (
    "Dong, Cordonnier, Loukas 2021, Attention is not all you need: pure attention loses rank "
    "doubly exponentially with depth (ICML 2021; arXiv:2103.03404)"
)

# --- rank-collapse --------------------------------------------------------------------------

gamma, beta, d_qk, res_norm = sp.symbols("gamma beta d_qk r", positive=True)
a = sp.Symbol("a", positive=True)
L = sp.Symbol("L", integer=True, positive=True)
l = sp.Symbol("l", integer=True, nonnegative=True)
s, s_0 = sp.symbols("s s_0", real=True)
_log_residual = sp.Function("s")

CONTRACTING_EPS = sp.Rational(628, 1000)
"""Largest ``eps`` the single-layer step allows: ``e^t - 1 <= 2 t`` holds for ``0 <= t = 2 eps <= 1.25643``."""

rho, p_1, p_inf, v_norm, w_norm, n_tokens, pi_max, delta, epsilon = sp.symbols(
    r"rho p_1 p_\infty v w n pi_max delta epsilon", positive=True
)

NORM_CHAIN = (
    r"$SA(X) = P X W_V = P R W_V + \mathbf{1} x^\top W_V$ ($P \mathbf{1} = \mathbf{1}$, $R = \mathrm{res}(X)$); "
    r"$\mathrm{res}$ subtracts the best $\mathbf{1} c^\top$, at least as good as $c = W_V^\top (R^\top \pi + x)$, so "
    r"$\|\mathrm{res}(SA(X))\|_{1,\infty} \le \|(P - \mathbf{1}\pi^\top) R W_V\|_{1,\infty}$; $\|\cdot\|_1$ and "
    r"$\|\cdot\|_\infty$ are induced (submultiplicative) norms, so their geometric mean is submultiplicative too"
)
ROW_COLUMN_SUMS = (
    r"with $|P_{ij} - \pi_j| \le \delta \pi_j$: every row sum of $|P - \mathbf{1}\pi^\top|$ is at most "
    r"$\delta \sum_j \pi_j = \delta$, every column sum at most $n \delta \max_j \pi_j$"
)
SOFTMAX_PERTURBATION = (
    r"the logits are $\mathbf{1} r^\top + E$ up to row constants, with $E = R W_{QK} R^\top / \sqrt{d_{qk}}$. "
    r"Each entry has $|E_{ij}| \le \|R_j\|_1 \max_l \sum_k |R_{ik}|\, |(W_{QK})_{kl}| / \sqrt{d_{qk}}$, "
    r"at most $\|R\|_\infty \max_{ik} |R_{ik}|\, \|W_{QK}\|_1 / \sqrt{d_{qk}}$, "
    r"at most $\|R\|_\infty \|R\|_1 \|W_{QK}\|_1 / \sqrt{d_{qk}} = \epsilon$. So "
    r"$P_{ij} / \pi_j = e^{E_{ij}} / \sum_k \pi_k e^{E_{ik}}$ lies in $[e^{-2\epsilon}, e^{2\epsilon}]$ and "
    r"$|P_{ij} - \pi_j| \le (e^{2\epsilon} - 1) \pi_j$"
)


def _linear_bound_of_the_exponential(e: sp.Basic) -> sp.Basic:
    """Replace ``e^(2 eps) - 1`` by ``4 eps`` in ``e``, after proving ``e^t - 1 <= 2 t`` on ``0 <= t <= 2 CONTRACTING_EPS``.

    ``g(t) = 1 + 2 t - e^t`` is concave (``g'' = -e^t < 0``) and vanishes at ``0`` and at
    ``t* = -1/2 - W_(-1)(-e^(-1/2)/2) = 1.25643...`` (solve; ``g(t*) = 0`` by the definition
    ``W e^W = z`` of Lambert's W), so ``g >= 0`` between them; ``2 CONTRACTING_EPS <= t*`` is checked
    exactly. ``e`` must be a positive multiple of ``e^(2 eps) - 1``, so the replacement bounds it above.
    """
    t = sp.Symbol("t", nonnegative=True)
    gap = 1 + 2 * t - sp.exp(t)
    if not sp.diff(gap, t, 2).is_negative:
        raise DerivationError("1 + 2t - e^t is not concave")
    roots = sp.solve(gap, t)
    t_star = max(roots, key=lambda root: sp.N(root))
    (lambert,) = t_star.atoms(sp.LambertW)
    at_t_star = sp.expand(gap.subs(t, t_star), power_exp=True).xreplace({sp.exp(-lambert): lambert / lambert.args[0]})
    if 0 not in roots or sp.simplify(at_t_star) != 0 or not sp.simplify(t_star - 2 * CONTRACTING_EPS).is_positive:
        raise DerivationError(f"e^t - 1 <= 2t is not shown on [0, {2 * CONTRACTING_EPS}] (roots {roots})")
    factor = sp.exp(2 * epsilon) - 1
    coefficient = sp.simplify(e / factor)
    if coefficient.has(epsilon) or not coefficient.is_positive:
        raise DerivationError(f"{e} is not a positive multiple of {factor}")
    return coefficient * 4 * epsilon


def single_layer_bound() -> Derivation:
    """``||res(SA(X))||_(1,inf) <= 4 gamma beta r^3 / sqrt(d_qk)`` for ``eps <= CONTRACTING_EPS``: the step the depth bound iterates.

    The chain (this toolkit's proof, after Dong et al. 2021, section 2.2): the norm chain
    ``rho <= sqrt(p_1 p_inf) r v`` (``p_1, p_inf``: the two norms of ``P - 1 pi^T``, ``v = ||W_V||_(1,inf)``),
    the row and column sums ``p_inf <= delta``, ``p_1 <= n delta max pi``, and the softmax
    perturbation ``delta <= e^(2 eps) - 1`` are inequalities SymPy does not show: they are
    ``given`` steps with their argument. The algebra (``gamma = sqrt(n max pi)``, ``eps = r^2 w /
    sqrt(d_qk)``, ``beta = w v``) and ``e^(2 eps) - 1 <= 4 eps`` (:func:`_linear_bound_of_the_exponential`)
    are proved. The result is in the symbols ``gamma, beta, d_qk, r`` of :func:`residual_bound_over_depth`.
    """
    return (
        Derivation(
            "One attention layer contracts the residual cubically",
            rho,
            start_note=r"$\rho = \|\mathrm{res}(SA(X))\|_{1,\infty}$",
        )
        .then(
            given(r"norm chain: $\rho \le \sqrt{p_1 p_\infty}\, r\, v$", NORM_CHAIN),
            sp.sqrt(p_1 * p_inf) * res_norm * v_norm,
            relation="<=",
        )
        .then(
            given(r"row and column sums: $p_\infty \le \delta$, $p_1 \le n \delta \pi_{\max}$", ROW_COLUMN_SUMS),
            sp.sqrt(n_tokens * pi_max * delta**2) * res_norm * v_norm,
            relation="<=",
        )
        .then(
            substitute({pi_max: gamma**2 / n_tokens}, text=r"$\gamma = \sqrt{n \pi_{\max}}$"),
            delta * gamma * res_norm * v_norm,
        )
        .then(
            given(r"softmax perturbation: $\delta \le e^{2\epsilon} - 1$", SOFTMAX_PERTURBATION),
            (sp.exp(2 * epsilon) - 1) * gamma * res_norm * v_norm,
            relation="<=",
        )
        .then(
            custom(
                r"$e^{2\epsilon} - 1 \le 4 \epsilon$ for $2\epsilon \le 1.2564$ ($1 + 2t - e^t$ concave, zero at 0 and 1.25643)",
                _linear_bound_of_the_exponential,
            ),
            4 * epsilon * gamma * res_norm * v_norm,
            relation="<=",
        )
        .then(
            substitute({epsilon: res_norm**2 * w_norm / sp.sqrt(d_qk)}, text=r"$\epsilon = r^2 \|W_{QK}\|_1 / \sqrt{d_{qk}}$"),
            4 * gamma * res_norm**3 * w_norm * v_norm / sp.sqrt(d_qk),
        )
        .then(
            substitute({w_norm: beta / v_norm}, text=r"$\beta = \|W_{QK}\|_1 \|W_V\|_{1,\infty}$"),
            4 * gamma * beta * res_norm**3 / sp.sqrt(d_qk),
            label="single_layer",
        )
    )


SINGLE_LAYER = (
    r"one self-attention layer without skip connection or MLP, $SA(X) = P X W_V$ with "
    r"$P = \mathrm{softmax}(X W_{QK} X^\top / \sqrt{d_{qk}})$ row-wise, contracts the residual "
    r"$\mathrm{res}(X) = X - \mathbf{1} x^\top$ ($x$ minimising the composite norm "
    r"$\|M\|_{1,\infty} = \sqrt{\|M\|_1 \|M\|_\infty}$) as "
    r"$\|\mathrm{res}(SA(X))\|_{1,\infty} \le a\, \|\mathrm{res}(X)\|_{1,\infty}^3$ with "
    r"$a = 4 \gamma \beta / \sqrt{d_{qk}}$, for $\epsilon \le 0.628$ (the lemma: its three norm inequalities "
    r"are given steps with their argument, the rest is proved)"
)
SAME_CONSTANTS = (
    r"one constant bounds every layer's: $\beta \ge \|W_{QK}^{(\ell)}\|_1 \|W_V^{(\ell)}\|_{1,\infty}$ and "
    r"$\gamma \ge \gamma_\ell$ for $\ell = 1, \dots, L$, and $\epsilon_\ell \le 0.628$ at every layer "
    r"(when $a r_0^2 \le 1$ the residual never grows, so $\epsilon_\ell \le \epsilon_0$ if the $W_{QK}^{(\ell)}$ "
    r"share a norm)"
)
MONOTONE_MAP = (
    r"$r \mapsto a r^3$ increases, so a bound on $r_\ell$ gives a bound on $r_{\ell + 1}$: the $L$-layer "
    r"bound is the map iterated $L$ times from $r_0 = \|\mathrm{res}(X)\|_{1,\infty}$"
)


def residual_bound_over_depth() -> Derivation:
    """``r_L <= (4 gamma beta / sqrt(d_qk))^((3^L - 1)/2) r_0^(3^L)``: the single-layer bound iterated over ``L`` layers.

    The start is the single-layer bound ``a r^3`` of Dong et al. 2021 (the step of the proof of
    their Theorem 2.2) with ``a = 4 gamma beta / sqrt(d_qk)``, derived in the lemma
    :func:`single_layer_bound` (checked first; its steps count in the evidence). Iterating the
    increasing map ``r -> a r^3`` ``L`` times bounds ``r_L`` (:data:`MONOTONE_MAP`). In
    logarithms ``s = ln r`` the map is affine, ``s -> ln a + 3 s``; its ``L``-th iterate from
    ``s_0`` (rsolve) is ``3^L s_0 + (3^L - 1)/2 ln a``; exponentiating gives the bound.
    Labelled results: ``log_step``, ``unrolled``, ``L_layer`` (the bound in ``a``); the closed
    form is the bound in ``gamma, beta, d_qk, r`` (``r_0``) and ``L``, the symbols the checker
    passes by name.
    """
    return (
        Derivation(
            "Doubly exponential decay of the residual",
            a * res_norm**3,
            start_note=(
                r"the single-layer bound $\|\mathrm{res}(SA(X))\| \le a\, r^3$, $r = \|\mathrm{res}(X)\|_{1,\infty}$ "
                r"(the lemma, with $a = 4 \gamma \beta / \sqrt{d_{qk}}$)"
            ),
            assumptions=(SINGLE_LAYER, SAME_CONSTANTS, MONOTONE_MAP),
            lemmas=(single_layer_bound(),),
        )
        .then(apply_map(lambda r_next: sp.log(r_next), why="take logarithms"), sp.log(a) + 3 * sp.log(res_norm), label="log_step")
        .then(
            custom(
                r"iterate the affine map $s \mapsto \ln a + 3 s$ ($s = \ln r$) $L$ times from $s_0$ (solved by rsolve)",
                lambda e: sp.rsolve(
                    _log_residual(l + 1) - e.subs(sp.log(res_norm), _log_residual(l)),
                    _log_residual(l),
                    {_log_residual(0): s_0},
                ).subs(l, L),
            ),
            3**L * s_0 + (3**L - 1) / 2 * sp.log(a),
            label="unrolled",
        )
        .then(substitute({s_0: sp.log(res_norm)}, why="start from $r_0 = r$"), 3**L * sp.log(res_norm) + (3**L - 1) / 2 * sp.log(a))
        .then(
            apply_map(lambda s_L: sp.exp(s_L), why="exponentiate"),
            a ** ((3**L - 1) / 2) * res_norm ** (3**L),
            note=r"the $L$-layer bound: the exponent $3^L$ makes the decay doubly exponential when $a\, r_0^2 < 1$",
            label="L_layer",
        )
        .then(
            substitute({a: 4 * gamma * beta / sp.sqrt(d_qk)}, why="the lemma's constant"),
            (4 * gamma * beta / sp.sqrt(d_qk)) ** ((3**L - 1) / 2) * res_norm ** (3**L),
            note=r"Dong et al.'s Theorem 2.2 for one head",
        )
    )


# --- rank-collapse-rate ---------------------------------------------------------------------

C, fraction, layers = sp.symbols("C f L", positive=True)
rate = sp.Symbol("lambda", real=True)

EXPONENTIAL_BOUND = r"$\|H^{(\ell)} - \mathbf{1} v^\top\| \le C e^{-\lambda \ell}$ for every layer $\ell \ge 0$ (seed 003, exercise 1.7)"
INITIAL_IS_THE_BOUND = (
    r"``initial'' is the bound at layer 0, $C$: the bound is all the exercise gives, so only the bound "
    r"can be asked to keep a fraction; the true norms may be far below it"
)


def rate_for_kept_fraction() -> Derivation:
    """``lambda_norm = ln(1/f)/L`` and ``lambda_variance = ln(1/f)/(2L)``: the largest rates keeping a fraction ``f``.

    The bound ``C e^(-lambda l)`` at ``l = L`` divided by its value ``C`` at ``l = 0`` is
    ``e^(-lambda L)`` (``C`` cancels); it is at least ``f`` exactly when ``lambda <= ln(1/f)/L``,
    the root of ``e^(-lambda L) = f`` (solve). If "variance" means the squared norm, the kept
    share is ``e^(-2 lambda L)`` and the root halves. Labelled results: ``kept_norm``,
    ``lambda_norm``, ``kept_variance``, ``lambda_variance``; the closed form is the column
    ``(lambda_norm, lambda_variance)`` in the symbols ``L`` (layers) and ``f`` (fraction); ``C`` has cancelled.
    Seed 003, exercise 1.7.
    """
    derivation = (
        Derivation(
            "Largest convergence rate that keeps a fraction after L layers",
            C * sp.exp(-rate * l),
            start_note=r"the bound at layer $\ell$",
            assumptions=(EXPONENTIAL_BOUND, INITIAL_IS_THE_BOUND),
        )
        .then(
            ratio({l: layers}, {l: 0}, why="the share of the initial bound left at layer $L$"),
            sp.exp(-rate * layers),
            note=r"$C$ cancels",
            label="kept_norm",
        )
        .then(
            apply_map(lambda share: share - fraction, why="require the share to be the fraction $f$ kept"),
            sp.exp(-rate * layers) - fraction,
        )
        .then(
            solve_for(rate, text=r"solve $e^{-\lambda L} = f$ for $\lambda$"),
            sp.log(1 / fraction) / layers,
            note=r"the share decreases in $\lambda$, so every $\lambda$ up to this root keeps at least $f$",
            label="lambda_norm",
        )
        .then(
            apply_map(lambda share: share**2, why="``variance'' as the squared norm: square the share"),
            sp.exp(-2 * rate * layers),
            on="kept_norm",
            label="kept_variance",
        )
        .then(
            apply_map(lambda share: share - fraction, why="require the squared share to be $f$"),
            sp.exp(-2 * rate * layers) - fraction,
        )
        .then(
            solve_for(rate, text=r"solve $e^{-2 \lambda L} = f$ for $\lambda$"),
            sp.log(1 / fraction) / (2 * layers),
            note=r"half the rate allowed for the norm",
            label="lambda_variance",
        )
    )
    return derivation.then(
        column("lambda_norm", "lambda_variance"),
        sp.Matrix([sp.log(1 / fraction) / layers, sp.log(1 / fraction) / (2 * layers)]),
        on="lambda_norm",
    )
