"""K stacked linear self-attention layers are K steps of gradient descent (SymPy only).

* :func:`stacked_layers`: one layer of the construction of von Oswald et al. 2023 (Prop. 1 with
  ``W_0 = 0``, extended by GD++'s curvature correction of the inputs) maps the *state*
  ``[[M X, M x_q], [Y - V X, -V x_q]]`` to the same form at ``(V', M')``: the training ``y``
  channels hold the residuals of the current iterate ``V`` and the query reads ``-V x_q``. With
  ``gamma = 0`` (plain GD, ``M = I``) ``V' = V - eta grad L(V)``; with ``gamma > 0`` (GD++)
  ``V' = V - eta grad L(V) M^T M`` (preconditioned gradient descent) and ``M' = (I - gamma X_M X_M^T / N) M``.
  The input tokens with ``y_q = 0`` are the state at ``V = 0``, ``M = I`` (:func:`initial_state`), so by
  induction K layers give the K-th iterate. Symbolic ``d_x, d_y, N`` (``MatrixSymbol``, ``BlockMatrix``).
* :func:`error_contraction`, :func:`eigen_factor`: with ``W_*`` any solution of the normal equations,
  one step maps the error ``W - W_*`` to ``(W - W_*)(I - eta Sigma)``, ``Sigma = X X^T / N``: along an
  eigenvector of ``Sigma`` with eigenvalue ``lambda`` the error is multiplied by ``1 - eta lambda`` per
  step, ``(1 - eta lambda)^K`` after K steps.

Conventions are :mod:`proofs.icl`'s (von Oswald et al.): tokens are columns, ``X`` is ``d_x x N``.
"""

from __future__ import annotations

import sympy as sp
from sympy import BlockMatrix, Identity, MatrixSymbol, ZeroMatrix

from proofs.derivation import Derivation, apply_map, evaluate, expand, identity, multiply_blocks, rewrite, substitute
from proofs.icl import LAYER_WEIGHTS, LOSS, N, VON_OSWALD, X, Y, d_x, d_y, eta, mean_squared_loss_gradient, x_q

gamma = sp.Symbol("gamma", nonnegative=True)
V = MatrixSymbol("V", d_y, d_x)
"""The current gradient-descent iterate (``W^(k)``), ``d_y x d_x``."""
M = MatrixSymbol("M", d_x, d_x)
"""The accumulated transform of the inputs (GD++): the state's ``x`` channels are ``M x``."""

STACK = (
    r"every layer has the same weights: $W_K = W_Q = \begin{pmatrix} I & 0 \\ 0 & 0 \end{pmatrix}$, "
    r"$W_V = \begin{pmatrix} -\frac{\gamma}{\eta} I & 0 \\ 0 & -I \end{pmatrix}$, $P = \frac{\eta}{N} I$: von Oswald et al.'s "
    r"construction with $W_0 = 0$, and for $\gamma > 0$ GD++'s correction of the $x$ channels (their section 4); "
    r"the query enters with $y_q = 0$ and is not a key"
)
GD_PLUS_PLUS = f"{VON_OSWALD}, section 4 (GD++: every layer also transforms the inputs, a curvature correction)"
_GRADIENT_SOURCE = "the lemma 'Gradient of the mean squared loss and one gradient-descent step', checked above"


def state(iterate: sp.MatrixExpr, transform: sp.MatrixExpr) -> BlockMatrix:
    """``[[M X, M x_q], [Y - V X, -V x_q]]``: the tokens when the ``x`` channels carry ``M x`` and the ``y`` channels the
    residuals of ``V`` (the training targets ``y_j - V x_j``, the query ``0 - V x_q``)."""
    return BlockMatrix([[transform * X, transform * x_q], [Y - iterate * X, -iterate * x_q]])


def _diagonal(top: sp.MatrixExpr, bottom: sp.MatrixExpr) -> BlockMatrix:
    return BlockMatrix([[top, ZeroMatrix(d_x, d_y)], [ZeroMatrix(d_y, d_x), bottom]])


def construction() -> dict[MatrixSymbol, sp.MatrixExpr]:
    """The weights of every layer, keyed by the generic layer's symbols: keys and queries read ``x``,
    values ``-(gamma/eta) x`` and ``-y`` (``gamma = 0``: von Oswald et al.'s Prop. 1 with ``W_0 = 0``), ``P = (eta/N) I``."""
    key = _diagonal(Identity(d_x), ZeroMatrix(d_y, d_y))
    value = _diagonal(-(gamma / eta) * Identity(d_x), -Identity(d_y))
    projection = (eta / N) * _diagonal(Identity(d_x), Identity(d_y))
    return dict(zip(LAYER_WEIGHTS, (key, key, value, projection)))


def preconditioned_step() -> Derivation:
    """``V' = V - eta grad L(V) M^T M = V - (eta/N)(V X - Y) X^T M^T M``: one gradient step preconditioned by ``M^T M``."""
    gradient = MatrixSymbol("G", d_y, d_x)
    preconditioner = MatrixSymbol("P_M", d_x, d_x)
    return (
        Derivation(
            "One preconditioned gradient step",
            V - eta * gradient * preconditioner,
            start_note=r"$V' = V - \eta\, G\, P_M$ with $G = \nabla L(V)$ and the preconditioner $P_M = M^\top M$",
            assumptions=(LOSS,),
        )
        .then(
            substitute({gradient: (V * X - Y) * X.T / N, preconditioner: M.T * M}, why=r"$\nabla L(V)$ and $P_M$",
                       source=_GRADIENT_SOURCE),
            V - eta * (V * X - Y) * X.T * M.T * M / N,
            note=r"with $M = I$: plain gradient descent $V - \eta \nabla L(V)$",
        )
    )


def input_correction() -> Derivation:
    """``M' = (I - gamma X_M X_M^T / N) M = M - (gamma/N) M X X^T M^T M``, ``X_M = M X``: GD++'s transform of the inputs,
    accumulated (the correction uses the covariance of the current, already transformed, inputs)."""
    current = M * X
    return Derivation(
        "The inputs after one more curvature correction",
        (Identity(d_x) - (gamma / N) * current * current.T) * M,
        start_note=r"$x \leftarrow (I - \gamma \Sigma_M) x$ with $\Sigma_M = \frac1N (M X)(M X)^\top$, applied to the current $M x$",
    ).then(expand(), M - (gamma / N) * M * X * X.T * M.T * M)


def initial_state() -> Derivation:
    """The prompt's tokens ``[[X, x_q], [Y, 0]]`` (``y_q = 0``) are the state at ``V = 0``, ``M = I``: the induction's start."""
    return Derivation(
        "The prompt is the state of the zeroth iterate",
        state(V, M),
        start_note=r"the state $\begin{pmatrix} M X & M x_q \\ Y - V X & -V x_q \end{pmatrix}$",
    ).then(
        substitute({V: ZeroMatrix(d_y, d_x), M: Identity(d_x)}, why=r"$V = W^{(0)} = 0$, $M = I$"),
        BlockMatrix([[X, x_q], [Y, ZeroMatrix(d_y, 1)]]),
        note=r"the context tokens and the query with $y_q = 0$",
    )


W = MatrixSymbol("W", d_y, d_x)
W_star = MatrixSymbol("W_star", d_y, d_x)
cross = MatrixSymbol("C", d_y, d_x)
"""``C = Y X^T``, the targets' cross-product with the inputs."""
NORMAL_EQUATIONS = (
    r"$W_*$ solves the normal equations $W_* X X^\top = Y X^\top$ (a least-squares solution: the ordinary least "
    r"squares $Y X^\top (X X^\top)^{-1}$ when $N \ge d_x$ and $X$ has full rank)"
)


def error_contraction() -> Derivation:
    """``W - (eta/N)(W X X^T - Y X^T) - W_* = (W - W_*)(I - eta Sigma)``, ``Sigma = X X^T / N``: one gradient step
    multiplies the error against any least-squares solution by ``I - eta Sigma`` (from the right)."""
    return (
        Derivation(
            "One gradient step contracts the error against least squares",
            W - (eta / N) * (W * X * X.T - cross) - W_star,
            start_note=r"$W - \eta \nabla L(W) - W_*$ with $\nabla L(W) = \frac1N (W X X^\top - C)$, $C = Y X^\top$",
            assumptions=(LOSS, NORMAL_EQUATIONS),
        )
        .then(
            substitute({cross: W_star * X * X.T}, why="the normal equations"),
            W - (eta / N) * (W * X * X.T - W_star * X * X.T) - W_star,
        )
        .then(
            rewrite("factor out the error"),
            (W - W_star) * (Identity(d_x) - (eta / N) * X * X.T),
            note=r"$(W - W_*)(I - \eta \Sigma)$: on an eigenvector $u$ of $\Sigma$, $\Sigma u = \lambda u$, the error's "
            r"component $(W - W_*) u$ is multiplied by $1 - \eta \lambda$",
        )
    )


lam = sp.Symbol("lambda", nonnegative=True)
K = sp.Symbol("K", integer=True, positive=True)
step = sp.Symbol("k", integer=True, positive=True)
initial_error = sp.Symbol("e_0", real=True, nonzero=True)


def eigen_factor() -> Derivation:
    """After ``K`` steps the error along an eigenvector of ``Sigma`` (eigenvalue ``lambda``) is ``(1 - eta lambda)^K`` times
    the initial one: the K-fold product of the one-step factor of 'One gradient step contracts the error'."""
    return (
        Derivation(
            "The error per eigendirection after K steps",
            initial_error * sp.Product(1 - eta * lam, (step, 1, K)),
            start_note=r"the error $e_0 = (W^{(0)} - W_*) u$ along $u$ ($\Sigma u = \lambda u$), multiplied by "
            r"$1 - \eta \lambda$ at each of the $K$ steps",
        )
        .then(evaluate("a product of equal factors"), initial_error * (1 - eta * lam) ** K)
        .then(
            apply_map(lambda e: e / initial_error, why="relative to the initial error"),
            (1 - eta * lam) ** K,
            note=r"$|1 - \eta\lambda| < 1$ for $0 < \eta < 2/\lambda$: the large eigenvalues converge fastest while "
            r"$\eta \lambda < 1$, the small ones set the pace",
            label="factor",
        )
    )


def stacked_layers() -> Derivation:
    """One layer maps ``state(V, M)`` to ``state(V', M')``: K layers from the prompt (``state(0, I)``) are K steps.

    The memory ``sum_j e_j (W_K e_j)^T = Z (W_K Z)^T`` of the context columns ``Z`` of the state; the blocks
    multiply out to ``M X - (gamma/N) M X X^T M^T M X`` (the inputs) and ``R - (eta/N) R X^T M^T M X``
    (``R = Y - V X``, the residuals), which are ``M' X`` and ``Y - V' X`` with the lemmas' ``M'`` and
    ``V'`` (and the same with ``x_q`` for the query). At ``gamma = 0`` the transform stays ``M = I`` and
    the step is plain gradient descent: the result. von Oswald et al. 2023, Prop. 1 stacked, and
    section 4 (GD++); lemmas: the gradient, the two updates, the prompt as the starting state, the
    error contraction per eigendirection.
    """
    W_K, W_Q, W_V, P = LAYER_WEIGHTS
    E = state(V, M)
    Z = BlockMatrix([[M * X], [Y - V * X]])
    layer = E + P * W_V * Z * (W_K * Z).T * W_Q * E
    weights = construction()
    inputs = M * X * X.T * M.T
    residual = Y - V * X
    next_iterate = preconditioned_step().result
    next_transform = input_correction().result
    return (
        Derivation(
            "K stacked linear self-attention layers are K steps of gradient descent",
            layer,
            start_note=r"one layer on the state $\begin{pmatrix} M X & M x_q \\ Y - V X & -V x_q \end{pmatrix}$ "
            r"($V = W^{(k)}$, the $k$-th iterate); its context columns $Z$ are the keys and values",
            assumptions=(STACK, LOSS),
            lemmas=(
                mean_squared_loss_gradient(),
                preconditioned_step(),
                input_correction(),
                initial_state(),
                error_contraction(),
                eigen_factor(),
            ),
        )
        .then(substitute(weights, why="the weights of every layer", source=f"{VON_OSWALD}, Proposition 1; {GD_PLUS_PLUS}"), layer.xreplace(weights))
        .then(
            multiply_blocks(),
            BlockMatrix(
                [
                    [M * X - (gamma / N) * inputs * M * X, M * x_q - (gamma / N) * inputs * M * x_q],
                    [residual - (eta / N) * residual * X.T * M.T * M * X, -V * x_q - (eta / N) * residual * X.T * M.T * M * x_q],
                ]
            ),
            note=r"the $x$ channels move by $-\gamma \Sigma_M$, the $y$ channels by a gradient step on the residuals",
        )
        .then(
            identity(
                "the lemmas 'One preconditioned gradient step' and 'The inputs after one more curvature correction'",
                source="those lemmas, checked above",
            ),
            state(next_iterate, next_transform),
            note=r"the state of the next iterate $V' = V - \eta \nabla L(V) M^\top M$ (GD++: preconditioned gradient "
            r"descent), with inputs $M' x$",
            label="layer",
        )
        .then(
            substitute({gamma: 0, M: Identity(d_x)}, why="no curvature correction (plain GD)"),
            state(V - eta * (V * X - Y) * X.T / N, Identity(d_x)),
            note=r"$x$ unchanged; training targets $y_j - W^{(k+1)} x_j$; the query reads $-W^{(k+1)} x_q$, "
            r"$W^{(k+1)} = W^{(k)} - \eta \nabla L(W^{(k)})$",
            label="gd",
        )
    )
