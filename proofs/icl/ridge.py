"""Derivations for least-squares (ridge) attention (SymPy only; seed 002; Garnelo and Czarnecki 2023).

Keys ``K`` (``n x d``) are the inputs of a ridge regression, values ``V`` (``n x d_v``) its targets
and queries ``Q`` (``m x d``) the points it predicts at; one token per row.

* :func:`ridge_normal_equations`: the gradient of ``J(W) = ||K W - V||_F^2 + alpha ||W||_F^2`` is
  ``2((K^T K + alpha I) W - K^T V)``; it vanishes at ``W* = (K^T K + alpha I)^{-1} K^T V``.
* :func:`push_through`: ``K^T (K K^T + alpha I) = (K^T K + alpha I) K^T`` (multiply out both sides).
* :func:`least_squares_attention`: the layer ``Q (K^T K + alpha I)^{-1} K^T V`` is the ridge
  prediction ``Q W*``; the push-through identity turns it into ``Q K^T (K K^T + alpha I)^{-1} V``;
  and ``alpha Q W* - Q K^T V = -Q (K^T K + alpha I)^{-1} K^T K K^T V``, which is ``O(1/alpha)``
  because ``||(K^T K + alpha I)^{-1}||_2 <= 1/alpha``: linear attention is the ``alpha -> oo`` limit of
  ``alpha`` times the layer. Symbolic sizes throughout.
* :func:`ridge_filter_factor`: per singular direction of ``K`` the layer multiplies by
  ``s / (s^2 + alpha)``; ``alpha`` times it tends to ``s`` (linear attention), is ``s - s^3/alpha``
  to first order in ``1/alpha``, and the remainder is at most ``s^5 / alpha^2``.
* :func:`least_squares_costs`: exact FLOP counts of the layer in its two forms and of attention's
  ``Q K^T`` and ``P V``, their orders, and when the two costs are of the same order.

SymPy cancels ``M^{-1} M`` only when the two factors stand side by side in one product, and it
never factors a sum. The derivations therefore insert ``M M^{-1}`` (held unevaluated, so the step
shows it), rewrite one factor with a checked polynomial identity (:func:`push_through`), and let the
product cancel; and they name ``A = K^T K + alpha I`` by a matrix symbol while they factor, then
substitute its definition back.
"""

from __future__ import annotations

import sympy as sp
from sympy import Identity, MatAdd, MatMul, MatrixSymbol, Trace, ZeroMatrix

from proofs.attention.complexity import matmul_flops
from proofs.derivation import (
    Derivation,
    apply_map,
    differentiate,
    evaluate,
    expand,
    factor,
    lemma,
    limit,
    rewrite,
    series,
    substitute,
)

GARNELO = "Garnelo and Czarnecki 2023, Exploring the Space of Key-Value-Query Models with Intention"
GOLUB = "Golub and Van Loan 2013, Matrix Computations (4th ed.), section 4.2 (Cholesky) and section 3.1 (triangular systems)"

n, d, m, d_v = sp.symbols("n d m d_v", integer=True, positive=True)
alpha = sp.Symbol("alpha", positive=True)

K = MatrixSymbol("K", n, d)
V = MatrixSymbol("V", n, d_v)
Q = MatrixSymbol("Q", m, d)
W = MatrixSymbol("W", d, d_v)
A_named = MatrixSymbol("A", d, d)
"""Stands for ``K^T K + alpha I`` while a step factors a sum (SymPy would cancel the explicit one first)."""

GRAM = K.T * K + alpha * Identity(d)
"""``A = K^T K + alpha I`` (``d x d``), positive definite for ``alpha > 0``."""
KERNEL = K * K.T + alpha * Identity(n)
"""``B = K K^T + alpha I`` (``n x n``), positive definite for ``alpha > 0``."""

ROWS_ARE_TOKENS = (
    r"one token per row: keys $K \in \mathbb{R}^{n \times d}$ (the regression's inputs), values "
    r"$V \in \mathbb{R}^{n \times d_v}$ (its targets), queries $Q \in \mathbb{R}^{m \times d}$ (the points "
    r"it predicts at); $\alpha > 0$"
)
RIDGE = (
    r"$W^* = \arg\min_W J(W)$, $J(W) = \lVert K W - V \rVert_F^2 + \alpha \lVert W \rVert_F^2$: "
    r"regularised least squares from the keys to the values"
)


def ridge_normal_equations() -> Derivation:
    """``grad J(W) = 2((K^T K + alpha I) W - K^T V)``, zero at ``W* = (K^T K + alpha I)^{-1} K^T V``.

    ``J`` is written as one trace and differentiated by SymPy's matrix calculus for symbolic
    sizes. ``J`` is strictly convex (its Hessian is ``2(K^T K + alpha I)``, positive definite for
    ``alpha > 0``), so the stationary point is the unique minimiser. Garnelo and Czarnecki 2023
    (the least-squares module).
    """
    residual = K * W - V
    return (
        Derivation(
            "Ridge regression from the keys to the values: the normal equations",
            Trace(residual.T * residual + alpha * W.T * W),
            start_note=r"$J(W) = \operatorname{tr}\big((KW - V)^\top (KW - V) + \alpha W^\top W\big)$",
            assumptions=(ROWS_ARE_TOKENS, RIDGE),
        )
        .then(differentiate(W), 2 * K.T * residual + 2 * alpha * W, note=r"$\nabla J(W)$")
        .then(
            rewrite(r"collect the terms in $W$"),
            2 * (GRAM * W - K.T * V),
            label="gradient",
            note=r"$\nabla J(W) = 2\big((K^\top K + \alpha I) W - K^\top V\big)$",
        )
        .then(
            substitute({W: GRAM.I * K.T * V}, why=r"at $W^* = (K^\top K + \alpha I)^{-1} K^\top V$"),
            ZeroMatrix(d, d_v),
            note=(
                r"the gradient vanishes; the Hessian $2(K^\top K + \alpha I)$ is positive definite, so $W^*$ is the "
                r"unique minimiser"
            ),
        )
    )


def push_through() -> Derivation:
    """``K^T (K K^T + alpha I) = (K^T K + alpha I) K^T``: both sides are ``K^T K K^T + alpha K^T``."""
    return (
        Derivation(
            "The push-through identity",
            MatMul(K.T, KERNEL),
            start_note=r"$K^\top (K K^\top + \alpha I)$, $d \times n$",
        )
        .then(expand(), K.T * K * K.T + alpha * K.T)
        .then(rewrite(r"take $K^\top$ out on the right"), MatMul(GRAM, K.T))
    )


def _held(*factors) -> MatMul:
    """A product kept as written (SymPy would cancel ``M M^{-1}`` at once), so that the step shows it."""
    return MatMul(*factors, evaluate=False)


def least_squares_attention() -> Derivation:
    """The ridge prediction in one layer, its push-through form, and the linear-attention limit.

    From the layer ``Q (K^T K + alpha I)^{-1} K^T V`` (the start; it is ``Q W*`` by
    :func:`ridge_normal_equations`): inserting ``B B^{-1} = I`` and applying :func:`push_through`
    gives ``Q K^T (K K^T + alpha I)^{-1} V`` (``dual``), which solves an ``n x n`` system instead of a
    ``d x d`` one. Then ``alpha`` times the layer minus linear attention ``Q K^T V`` is
    ``-Q (K^T K + alpha I)^{-1} K^T K K^T V`` (``gap``): with ``||(K^T K + alpha I)^{-1}||_2 <= 1/alpha``
    it is ``O(1/alpha)``, so ``alpha`` times the layer tends to linear attention; the gap is the
    result. Garnelo and Czarnecki 2023 (the least-squares module); seed 002 ("in-context learning and trying to
    improve Transformers 3").
    """
    layer = Q * GRAM.I * K.T * V
    linear_attention = Q * K.T * V
    dual = Q * K.T * KERNEL.I * V
    gap = -Q * GRAM.I * K.T * K * K.T * V
    identity_lemma = push_through()
    named = Q * A_named.I * K.T * V
    column = MatrixSymbol("X", m, d_v)
    return (
        Derivation(
            "Least-squares attention: the ridge prediction, its push-through form and linear attention",
            layer,
            start_note=r"the layer $Q (K^\top K + \alpha I)^{-1} K^\top V = Q W^*$, the ridge prediction at the queries",
            assumptions=(ROWS_ARE_TOKENS, RIDGE),
            lemmas=(ridge_normal_equations(), identity_lemma, ridge_filter_factor(), least_squares_costs()),
        )
        .then(
            rewrite(r"insert $(K K^\top + \alpha I)(K K^\top + \alpha I)^{-1} = I$ before $V$"),
            _held(Q, GRAM.I, _held(K.T, KERNEL), KERNEL.I, V),
        )
        .then(lemma(identity_lemma), _held(Q, GRAM.I, _held(GRAM, K.T), KERNEL.I, V))
        .then(
            rewrite(r"cancel $(K^\top K + \alpha I)^{-1} (K^\top K + \alpha I) = I$"),
            dual,
            label="dual",
            note=r"the push-through form: an $n \times n$ system instead of a $d \times d$ one",
        )
        .then(
            apply_map(lambda X: alpha * X - linear_attention, placeholder=column, why="compare with linear attention"),
            alpha * layer - linear_attention,
            on="start",
            note=r"$\alpha$ times the layer minus linear attention $Q K^\top V$",
        )
        .then(
            substitute({GRAM: A_named}, why=r"name $A = K^\top K + \alpha I$"),
            alpha * named - linear_attention,
        )
        .then(
            rewrite(r"take $Q A^{-1}$ out on the left and $K^\top V$ on the right"),
            _held(Q, A_named.I, MatAdd(alpha * Identity(d), -A_named, evaluate=False), K.T, V),
        )
        .then(
            substitute({A_named: GRAM}, why=r"the definition of $A$"),
            gap,
            label="gap",
            note=(
                r"$\alpha Q W^* - Q K^\top V = -Q (K^\top K + \alpha I)^{-1} K^\top K K^\top V$, of norm at most "
                r"$\lVert Q \rVert\, \lVert K^\top K K^\top V \rVert / \alpha$: linear attention is the limit of $\alpha$ times the layer"
            ),
        )
    )


s = sp.Symbol("s", nonnegative=True)
epsilon = sp.Symbol("epsilon", positive=True)


def ridge_filter_factor() -> Derivation:
    """``alpha s / (s^2 + alpha) -> s`` as ``alpha -> oo``; ``= s - s^3/alpha + r``, ``0 <= r <= s^5/alpha^2``.

    With the singular value decomposition ``K = sum_i s_i u_i v_i^T``,
    ``(K^T K + alpha I)^{-1} K^T = sum_i s_i / (s_i^2 + alpha) v_i u_i^T`` and ``K^T = sum_i s_i v_i u_i^T``:
    the layer and linear attention differ only in these factors. So ``alpha`` times the layer is
    ``Q K^T V - Q K^T K K^T V / alpha + R`` with ``||R||_2 <= ||Q||_2 ||K||_2^5 ||V||_2 / alpha^2``.
    The expansion is taken in ``epsilon = 1/alpha``.
    """
    factor_ = alpha * s / (s**2 + alpha)
    first_order = s - s**3 * epsilon
    return (
        Derivation(
            "The ridge filter factor on one singular direction",
            factor_,
            start_note=(
                r"$\alpha$ times the layer's factor $s / (s^2 + \alpha)$ on a singular direction of $K$ with "
                r"singular value $s$ (linear attention's factor is $s$)"
            ),
            assumptions=(r"$K = \sum_i s_i u_i v_i^\top$ (singular value decomposition), $s_i \ge 0$",),
        )
        .then(limit(alpha, sp.oo), s, note=r"linear attention's factor: $\alpha \cdot \mathrm{layer} \to Q K^\top V$")
        .then(
            substitute({alpha: 1 / epsilon}, why=r"write $\epsilon = 1/\alpha$"),
            s / (1 + epsilon * s**2),
            on="start",
            label="in epsilon",
        )
        .then(series(epsilon, 0, 2), first_order, note=r"$s - s^3/\alpha + O(1/\alpha^2)$")
        .then(
            apply_map(lambda f: f - first_order, why="the remainder of the first-order expansion"),
            s / (1 + epsilon * s**2) - first_order,
            on="in epsilon",
        )
        .then(factor(), epsilon**2 * s**5 / (epsilon * s**2 + 1), note=r"the remainder is $\ge 0$")
        .then(
            rewrite(r"drop $\epsilon s^2 \ge 0$ from the denominator"),
            epsilon**2 * s**5,
            relation="<=",
            note=r"at most $s^5 / \alpha^2$",
        )
    )


# --- costs ------------------------------------------------------------------------------------


def cholesky_flops(size) -> sp.Expr:
    """FLOPs of the Cholesky factorisation ``A = L L^T`` of a ``size x size`` matrix, column by column.

    Column ``j`` (0-based) takes ``2j + 1`` FLOPs for its diagonal entry (a dot product of length
    ``j``, a subtraction, a square root) and for each of the ``size - 1 - j`` entries below it (a dot
    product, a subtraction, a division): ``sum_j (2j + 1)(size - j)``.
    """
    j = sp.Symbol("j", integer=True, nonnegative=True)
    return sp.Sum((2 * j + 1) * (size - j), (j, 0, size - 1))


def triangular_solve_flops(size, columns) -> sp.Expr:
    """FLOPs of solving ``L X = C`` with ``L`` triangular, ``size x size``, for ``columns`` right-hand sides.

    Entry ``j`` of each column takes ``2j + 1`` FLOPs (a dot product of length ``j``, a subtraction,
    a division): ``size^2`` per column.
    """
    j = sp.Symbol("j", integer=True, nonnegative=True)
    return columns * sp.Sum(2 * j + 1, (j, 0, size - 1))


# Each operation: (what it computes, its FLOPs). Self-attention sizes: n queries, keys and values, all of width d.
PRIMAL_PROGRAM = (
    ("G = K^T K", matmul_flops(d, n, d)),
    ("C = K^T V", matmul_flops(d, n, d)),
    ("A = G + alpha I", 0),
    ("A = L L^T (Cholesky)", cholesky_flops(d)),
    ("L Y = C, L^T W = Y", 2 * triangular_solve_flops(d, d)),
    ("O = Q W", matmul_flops(n, d, d)),
)
"""The layer as written: a ``d x d`` system."""

DUAL_PROGRAM = (
    ("H = K K^T", matmul_flops(n, d, n)),
    ("B = H + alpha I", 0),
    ("B = L L^T (Cholesky)", cholesky_flops(n)),
    ("L Z = V, L^T Y = Z", 2 * triangular_solve_flops(n, d)),
    ("S = Q K^T", matmul_flops(n, d, n)),
    ("O = S Y", matmul_flops(n, n, d)),
)
"""The push-through form: an ``n x n`` system."""

ATTENTION_PROGRAM = (
    ("S = Q K^T", matmul_flops(n, d, n)),
    ("P = softmax(S / sqrt(d))", 0),
    ("O = P V", matmul_flops(n, n, d)),
)
"""Softmax attention on the same ``Q, K, V`` (the projections, common to both layers, left out)."""

COST_CONVENTION = (
    r"self-attention sizes: $n$ queries, keys and values, all of width $d$ ($m = n$, $d_v = d$); a product of an "
    r"$a \times b$ by a $b \times c$ matrix costs $2abc$ FLOPs (a multiply-add is 2 FLOPs, as in "
    r"\texttt{attention-complexity}); the Cholesky factorisation and the triangular solves count every scalar "
    r"operation (multiply, add, subtract, divide, square root) as one FLOP; adding $\alpha I$ and the softmax are "
    r"pointwise and not counted; the projections $X W_Q, X W_K, X W_V$, the same for every layer, are left out"
)

COSTS = MatrixSymbol("F", 3, 1)
"""Stands for the column ``(F_primal, F_dual, F_attention)`` in the steps that read one off."""


def _program_flops(program) -> sp.Expr:
    """The unevaluated sum of the program's operation costs, one term per operation."""
    return sp.Add(*(cost for _, cost in program), evaluate=False)


def least_squares_costs() -> Derivation:
    """Exact FLOPs of the layer (``6 n d^2 + 7 d^3/3 + d^2/2 + d/6``), its push-through form
    (``8 n^2 d + n^3/3 + n^2/2 + n/6``) and attention (``4 n^2 d``), and their orders.

    The layer is ``Theta(n d^2 + d^3)``; against attention's ``Theta(n^2 d)`` the ratio tends to 0 as
    ``n -> oo`` at fixed ``d`` and to infinity as ``d -> oo`` at fixed ``n``; with ``n = c d`` it tends to
    ``3/(2c) + 7/(12 c^2)``: the same order exactly when ``n`` and ``d`` grow together. Golub and Van
    Loan (Cholesky, triangular solves); seed 002 ("exactly the same as that of Attention").
    """
    c = sp.Symbol("c", positive=True)
    primal = 6 * n * d**2 + sp.Rational(7, 3) * d**3 + d**2 / 2 + d / 6
    dual = 8 * n**2 * d + n**3 / 3 + n**2 / 2 + n / 6
    attention = 4 * n**2 * d
    return (
        Derivation(
            "FLOPs of least-squares attention and of attention",
            sp.ImmutableMatrix([_program_flops(program) for program in (PRIMAL_PROGRAM, DUAL_PROGRAM, ATTENTION_PROGRAM)]),
            start_note=r"the costs of each operation, summed: $(F_{\mathrm{layer}}, F_{\mathrm{push}}, F_{\mathrm{attention}})$",
            assumptions=(COST_CONVENTION,),
        )
        .then(
            evaluate("carry out the sums over the columns of the factorisations"),
            sp.ImmutableMatrix([primal, dual, attention]),
            label="counts",
        )
        .then(
            apply_map(lambda F: F[0], placeholder=COSTS, why=r"read off $F_{\mathrm{layer}}$"),
            primal,
            label="F_layer",
        )
        .then(limit(n, sp.oo, scale=1 / (n * d**2)), 6, note=r"$\Theta(n d^2)$ for $n \gg d$")
        .then(
            limit(d, sp.oo, scale=1 / d**3),
            sp.Rational(7, 3),
            on="F_layer",
            note=r"$\Theta(d^3)$ for $d \gg n$: the layer is $\Theta(n d^2 + d^3)$",
        )
        .then(
            apply_map(
                lambda F: F[0] / F[2], placeholder=COSTS, why=r"the ratio $F_{\mathrm{layer}} / F_{\mathrm{attention}}$"
            ),
            primal / attention,
            on="counts",
            label="ratio",
        )
        .then(limit(n, sp.oo), 0, note=r"long sequences: the layer is cheaper by a factor of order $n/d$")
        .then(
            apply_map(lambda F: F[2] / F[0], placeholder=COSTS, why=r"the inverse ratio"),
            attention / primal,
            on="counts",
        )
        .then(limit(d, sp.oo), 0, note=r"wide keys: the layer is dearer by a factor of order $d/n$")
        .then(
            substitute({n: c * d}, why=r"let $n$ and $d$ grow together, $n = c d$"),
            primal.subs(n, c * d) / attention.subs(n, c * d),
            on="ratio",
        )
        .then(
            limit(d, sp.oo),
            sp.Rational(3, 2) / c + sp.Rational(7, 12) / c**2,
            note=r"finite and nonzero: the same order as attention exactly when $n = \Theta(d)$",
        )
        .then(
            apply_map(
                lambda F: F[2] / F[1],
                placeholder=COSTS,
                why=r"the ratio $F_{\mathrm{attention}} / F_{\mathrm{push}}$",
            ),
            attention / dual,
            on="counts",
        )
        .then(limit(n, sp.oo), 0, note=r"the push-through form is dearer than attention for long sequences ($n^3$)")
        .then(rewrite("the three exact counts"), sp.ImmutableMatrix([primal, dual, attention]), on="counts")
    )
