"""Derivations for the in-context-learning theorems (SymPy only).

* :func:`mean_squared_loss_gradient`: the gradient of ``L(W) = 1/(2N) sum_j ||W x_j - y_j||^2``
  by matrix calculus, and one gradient-descent step ``W_1 = W_0 - eta grad L(W_0)``.
* :func:`lsa_token_update`: one linear self-attention layer with the construction of
  von Oswald et al. 2023 (Prop. 1) moves every token as that gradient step does
  (``x`` unchanged, ``y -> y - (W_1 - W_0) x``), for symbolic sizes ``d_x, d_y, N``.

Both are stated with ``MatrixSymbol`` and ``BlockMatrix``: the block products are multiplied
by ``block_collapse`` and every step is compared for symbolic shapes, not one concrete size.
"""

from __future__ import annotations

import sympy as sp
from sympy import BlockMatrix, Identity, MatrixSymbol, Trace, ZeroMatrix

from proofs.derivation import Derivation, apply_map, differentiate, identity, multiply_blocks, substitute

VON_OSWALD = "von Oswald et al. 2023, Transformers learn in-context by gradient descent"

d_x, d_y, N = sp.symbols("d_x d_y N", integer=True, positive=True)
eta = sp.Symbol("eta", positive=True)

X = MatrixSymbol("X", d_x, N)
Y = MatrixSymbol("Y", d_y, N)
x_q = MatrixSymbol("x_q", d_x, 1)
y_q = MatrixSymbol("y_q", d_y, 1)
W = MatrixSymbol("W", d_y, d_x)
W_0 = MatrixSymbol("W_0", d_y, d_x)
LAYER_WEIGHTS = tuple(MatrixSymbol(name, d_x + d_y, d_x + d_y) for name in ("W_K", "W_Q", "W_V", "P"))
"""The generic layer's ``W_K, W_Q, W_V, P``, before the construction is substituted."""

TOKENS = (
    r"the $N$ context tokens $e_j = (x_j, y_j)$ are the columns of $Z = \begin{pmatrix} X \\ Y \end{pmatrix}$ "
    r"($X \in \mathbb{R}^{d_x \times N}$, $Y \in \mathbb{R}^{d_y \times N}$); the layer acts on every token, "
    r"the columns of $E = \begin{pmatrix} X & x_q \\ Y & y_q \end{pmatrix}$, and only the context tokens are "
    r"keys and values"
)
LOSS = r"$L(W) = \frac{1}{2N} \sum_{j=1}^N \lVert W x_j - y_j \rVert^2$, $W \in \mathbb{R}^{d_y \times d_x}$, $N \ge 1$"


def _block_identity(kept: sp.Expr, dropped: sp.Expr) -> BlockMatrix:
    """``[[I, 0], [0, 0]]`` on ``(kept, dropped)`` channels."""
    return BlockMatrix(
        [[Identity(kept), ZeroMatrix(kept, dropped)], [ZeroMatrix(dropped, kept), ZeroMatrix(dropped, dropped)]]
    )


def construction() -> dict[MatrixSymbol, sp.MatrixExpr]:
    """The weights of von Oswald et al. 2023, Prop. 1, keyed by the symbols of the generic layer.

    ``W_K = W_Q = [[I, 0], [0, 0]]`` read the ``x`` channels, ``W_V = [[0, 0], [W_0, -I]]`` writes
    ``W_0 x - y`` into the ``y`` channels, and ``P = (eta / N) I`` (no ``1/sqrt(d)``).
    """
    key = _block_identity(d_x, d_y)
    value = BlockMatrix([[ZeroMatrix(d_x, d_x), ZeroMatrix(d_x, d_y)], [W_0, -Identity(d_y)]])
    projection = (eta / N) * BlockMatrix(
        [[Identity(d_x), ZeroMatrix(d_x, d_y)], [ZeroMatrix(d_y, d_x), Identity(d_y)]]
    )
    return dict(zip(LAYER_WEIGHTS, (key, key, value, projection)))


def mean_squared_loss_gradient() -> Derivation:
    """``grad L(W) = (1/N)(W X - Y) X^T`` and ``W_1 = W_0 - (eta/N)(W_0 X - Y) X^T``.

    The loss is written as a trace (the columns of ``W X - Y`` are the residuals
    ``W x_j - y_j``) and differentiated with SymPy's matrix calculus for symbolic sizes.
    von Oswald et al. 2023 (the regression loss and its GD step, stated before Prop. 1).
    """
    residual = W * X - Y
    return (
        Derivation(
            "Gradient of the mean squared loss and one gradient-descent step",
            Trace(residual.T * residual) / (2 * N),
            start_note=r"$L(W) = \frac{1}{2N} \sum_j \lVert W x_j - y_j \rVert^2 = "
            r"\frac{1}{2N} \operatorname{tr}\big((WX - Y)^\top (WX - Y)\big)$: "
            r"the columns of $WX - Y$ are the residuals",
            assumptions=(LOSS,),
        )
        .then(differentiate(W), residual * X.T / N, note=r"$\nabla L(W)$", label="gradient")
        .then(
            substitute({W: W_0}, why="evaluate at the initial weights"),
            (W_0 * X - Y) * X.T / N,
            note=r"$\nabla L(W_0)$",
            label="gradient at W_0",
        )
        .then(
            apply_map(
                lambda G: W_0 - eta * G,
                placeholder=MatrixSymbol("G", d_y, d_x),
                why=r"one gradient-descent step, learning rate $\eta$, from the gradient $G$",
            ),
            W_0 - eta * (W_0 * X - Y) * X.T / N,
            note=r"$W_1$",
            label="W_1",
        )
    )


def _moved(target: sp.MatrixExpr, W_1: sp.MatrixExpr, inputs: sp.MatrixExpr) -> sp.MatrixExpr:
    """``target - (W_1 - W_0) inputs`` kept as written (SymPy would cancel ``W_0``), so the step shows ``W_1``."""
    minus = sp.S.NegativeOne
    shift = sp.MatAdd(W_1, sp.MatMul(minus, W_0, evaluate=False), evaluate=False)
    return sp.MatAdd(target, sp.MatMul(minus, shift, inputs, evaluate=False), evaluate=False)


_GRADIENT_SOURCE = "the lemma 'Gradient of the mean squared loss and one gradient-descent step', checked above"


def lsa_token_update() -> Derivation:
    """One LSA layer with the construction of Prop. 1 is one GD step on every token.

    For symbolic ``d_x, d_y, N``: the layer ``e <- e + P W_V (sum_j e_j (W_K e_j)^T) W_Q e``
    applied to the token matrix ``E = [[X, x_q], [Y, y_q]]`` gives
    ``[[X, x_q], [Y - (W_1 - W_0) X, y_q - (W_1 - W_0) x_q]]``: the ``x`` channels are unchanged
    and every ``y`` channel moves by ``+eta grad L(W_0) x``. With ``W_0 = 0`` and ``y_q = 0`` the
    query ends at ``-W_1 x_q`` (read out with a minus sign). The gradient and ``W_1`` are those
    derived (and checked) by :func:`mean_squared_loss_gradient`.
    von Oswald et al. 2023, Proposition 1; seed 000, hours 3-4 (the LSA-GD equivalence).
    """
    gradient = mean_squared_loss_gradient()
    grad_at_W_0 = gradient.expression("gradient at W_0")
    W_1 = gradient.result

    E = BlockMatrix([[X, x_q], [Y, y_q]])
    Z = BlockMatrix([[X], [Y]])
    weights = construction()
    W_K, W_Q, W_V, P = LAYER_WEIGHTS
    layer = E + P * W_V * Z * (W_K * Z).T * W_Q * E
    update = (eta / N) * (W_0 * X * X.T - Y * X.T)
    return (
        Derivation(
            "One linear self-attention layer moves every token as one gradient-descent step",
            layer,
            start_note=r"the layer on every column of $E$; $\sum_j e_j (W_K e_j)^\top = Z (W_K Z)^\top$ "
            r"(a matrix product is the sum of the outer products of its columns)",
            assumptions=(TOKENS, LOSS),
            lemmas=(gradient,),
        )
        .then(
            substitute(weights, why="the construction", source=f"{VON_OSWALD}, Proposition 1"),
            layer.xreplace(weights),
        )
        .then(
            multiply_blocks(),
            BlockMatrix([[X, x_q], [Y + update * X, y_q + update * x_q]]),
            note=r"the keys and queries see only $x$; the values are $W_0 x_j - y_j$",
        )
        .then(
            identity(
                r"the gradient $\nabla L(W_0) = \frac{1}{N} (W_0 X - Y) X^\top$",
                source=_GRADIENT_SOURCE,
            ),
            BlockMatrix([[X, x_q], [Y + eta * grad_at_W_0 * X, y_q + eta * grad_at_W_0 * x_q]]),
            note=r"every $y$ channel moves by $+\eta \nabla L(W_0)\, x$",
        )
        .then(
            identity(
                r"one gradient-descent step $W_1 - W_0 = -\eta \nabla L(W_0)$",
                source=_GRADIENT_SOURCE,
            ),
            BlockMatrix([[X, x_q], [_moved(Y, W_1, X), _moved(y_q, W_1, x_q)]]),
            note=r"$x$ unchanged; targets $y_j - (W_1 - W_0) x_j$; the query's $y$ channel "
            r"$y_q - (W_1 - W_0) x_q$, which is $-W_1 x_q$ when $W_0 = 0$ and $y_q = 0$",
        )
    )
