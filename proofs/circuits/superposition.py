"""Superposition in the toy model of Elhage et al. 2022: five features on a pentagon in two dimensions (SymPy only).

The toy model is ``x' = ReLU(W^T W x + b)`` with ``W`` of shape ``(2, 5)``; its columns ``W_i`` are the
features' directions. With the columns on a regular pentagon of radius ``r``:

* :func:`pentagon_gram`: ``W_i . W_j = r^2 cos(2 pi |i - j| / 5)``: ``r^2`` on the diagonal, the neighbours
  ``r^2 (sqrt 5 - 1)/4 = r^2 cos 72 deg`` and the next-but-one ``-r^2 (sqrt 5 + 1)/4 = r^2 cos 144 deg``;
* :func:`relu_interference`, :func:`negative_interference_cut`, :func:`relu_first_moment`: the
  integrals of a ReLU of ``g x - beta`` over a feature value ``x`` uniform on ``[0, 1]``;
* :func:`one_active_feature_loss`: when exactly one feature is active (value ``x ~ U[0, 1]``; the
  event that carries the loss at high sparsity), the expected squared error of the five outputs,
  decomposed into the feature's own reconstruction, its two neighbours' interference and its two
  next-but-one neighbours' interference, in closed form in ``r`` and the bias ``b = -beta <= 0``. The
  negative interference is cut to exactly zero by the ReLU; the positive one survives until
  ``beta >= r^2 cos 72 deg``.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, evaluate, expand, identity, lemma, rewrite, substitute

ELHAGE = "Elhage et al. 2022, Toy Models of Superposition"

x = sp.Symbol("x", real=True)
"""The active feature's value, uniform on ``[0, 1]``."""
beta = sp.Symbol("beta", nonnegative=True)
"""Minus the bias, ``beta = -b >= 0``."""
s = sp.Symbol("s", positive=True)
"""The squared column norm ``s = ||W_i||^2 = r^2``."""
g, h = sp.symbols("g h", positive=True)
"""A positive overlap ``g`` and the size ``h`` of a negative one (the overlap is ``-h``)."""
r = sp.Symbol("r", positive=True)
b = sp.Symbol("b", nonpositive=True)
theta = sp.Symbol("theta", real=True)

FEATURES = 5
TOY_MODEL = (
    r"the toy model $x' = \mathrm{ReLU}(W^\top W x + b)$ with $W \in \mathbb{R}^{2 \times 5}$ and one bias $b \le 0$ "
    r"shared by the five outputs; the loss is $\lVert x - x' \rVert^2$ with every feature of importance 1"
)
ONE_ACTIVE = (
    r"exactly one feature $i$ is active, with value $x \sim U[0, 1]$ (the others are 0); at sparsity $S$ this has "
    r"probability $5 (1 - S) S^4$, and the events with two or more active features have probability "
    r"$1 - S^5 - 5(1 - S) S^4 = O((1 - S)^2)$"
)


def _relu(u: sp.Expr) -> sp.Expr:
    return sp.Max(0, u)


def pentagon_gram() -> Derivation:
    """``W^T W`` for columns ``r (cos j theta, sin j theta)``, ``j = 0..4``, at ``theta = 2 pi / 5``.

    The angle-subtraction formula gives ``r^2 cos((i - j) theta)``; at ``theta = 2 pi / 5`` SymPy
    evaluates ``cos 72 deg = (sqrt 5 - 1)/4`` and ``cos 144 deg = -(sqrt 5 + 1)/4`` exactly.
    Elhage et al. 2022, section "Superposition as a phase change" (the pentagon).
    """
    W = sp.Matrix([[r * sp.cos(j * theta) for j in range(FEATURES)], [r * sp.sin(j * theta) for j in range(FEATURES)]])
    return (
        Derivation(
            "The Gram matrix of the pentagon",
            W.T * W,
            start_note=r"$W_i \cdot W_j$ for the columns $W_j = r (\cos j \theta, \sin j \theta)$, $j = 0, \dots, 4$",
        )
        .then(
            identity(r"the angle-subtraction formula $\cos x \cos y + \sin x \sin y = \cos(x - y)$"),
            sp.Matrix(FEATURES, FEATURES, lambda i, j: r**2 * sp.cos((i - j) * theta)),
        )
        .then(
            substitute({theta: 2 * sp.pi / FEATURES}, why="five columns evenly spread: a regular pentagon"),
            sp.Matrix(FEATURES, FEATURES, lambda i, j: r**2 * sp.cos(2 * sp.pi * (i - j) / FEATURES)),
            label="gram",
        )
    )


def overlaps() -> tuple[sp.Expr, sp.Expr]:
    """``(cos 72 deg, cos 144 deg)`` as read off the Gram matrix (exact radicals)."""
    gram = pentagon_gram().result
    return sp.simplify(gram[0, 1] / r**2), sp.simplify(gram[0, 2] / r**2)


def relu_interference() -> Derivation:
    """``int_0^1 ReLU(g x - beta)^2 dx = max(0, g - beta)^3 / (3 g)`` for ``g > 0``, ``beta >= 0``.

    The ReLU opens at ``x = beta / g``; for ``beta >= g`` it never opens on ``[0, 1]``.
    """
    return (
        Derivation(
            "Interference through a ReLU",
            sp.Integral(_relu(g * x - beta) ** 2, (x, 0, 1)),
            start_note=r"an output whose pre-activation is $g x - \beta$, with overlap $g > 0$ and bias $-\beta \le 0$",
        )
        .then(evaluate("integrate the ramp"), sp.integrate(_relu(g * x - beta) ** 2, (x, 0, 1)))
        .then(
            rewrite(r"the two cases: $\beta < g$ (the ReLU opens at $x = \beta / g$) and $\beta \ge g$ (it stays shut)"),
            _relu(g - beta) ** 3 / (3 * g),
        )
    )


def negative_interference_cut() -> Derivation:
    """``int_0^1 ReLU(-h x - beta)^2 dx = 0`` for ``h > 0``, ``beta >= 0``: a negative overlap never gets through."""
    return Derivation(
        "A negative overlap is cut by the ReLU",
        sp.Integral(_relu(-h * x - beta) ** 2, (x, 0, 1)),
        start_note=r"an output whose pre-activation is $-h x - \beta \le 0$ (overlap $-h < 0$, bias $-\beta \le 0$)",
    ).then(evaluate("integrate"), 0)


def relu_first_moment() -> Derivation:
    """``int_0^1 x ReLU(s x - beta) dx = max(0, s - beta)^2 (2 s + beta) / (6 s^2)`` for ``s > 0``, ``beta >= 0``."""
    return (
        Derivation(
            "The first moment of the feature's own output",
            sp.Integral(x * _relu(s * x - beta), (x, 0, 1)),
            start_note=r"the cross term $E[x\, \mathrm{ReLU}(s x - \beta)]$ of the feature's own squared error",
        )
        .then(evaluate("integrate the ramp"), sp.integrate(x * _relu(s * x - beta), (x, 0, 1)))
        .then(
            rewrite(r"the two cases: $\beta < s$ (the ReLU opens at $x = \beta / s$) and $\beta \ge s$ (it stays shut)"),
            _relu(s - beta) ** 2 * (2 * s + beta) / (6 * s**2),
        )
    )


def one_active_feature_loss() -> Derivation:
    """The expected squared error of the pentagon's five outputs when one feature is active, in three parts.

    Feature ``i`` active with value ``x ~ U[0, 1]``: output ``j`` has pre-activation
    ``W_j . W_i x + b = s cos(2 pi (j - i) / 5) x - beta``. The column vector holds
    ``E[(x - ReLU(s x - beta))^2]`` (own reconstruction), ``2 E[ReLU(s cos 72 deg x - beta)^2]`` (the two
    neighbours) and ``2 E[ReLU(s cos 144 deg x - beta)^2]`` (the two others, 0: the ReLU cuts a negative
    overlap), then ``s = r^2`` and ``beta = -b``. Elhage et al. 2022, sections "Demonstrating
    superposition" and "Superposition as a phase change"; seed 000, hours 7-8.
    """
    gram, interference, cut, moment = pentagon_gram(), relu_interference(), negative_interference_cut(), relu_first_moment()
    c1, c2 = overlaps()
    neighbour, opposite = s * c1, -s * c2  # the neighbours' overlap and the size of the others' (negative) one
    own = sp.Integral((x - _relu(s * x - beta)) ** 2, (x, 0, 1))
    own_expanded = sp.Integral(x**2, (x, 0, 1)) - 2 * moment.start + interference.start.xreplace({g: s})
    start = sp.Matrix([own, 2 * interference.start.xreplace({g: neighbour}), 2 * cut.start.xreplace({h: opposite})])

    def state(own_part, neighbour_part, other_part):
        return sp.Matrix([own_part, neighbour_part, other_part])

    moment_value, own_interference = moment.result, interference.result.xreplace({g: s})
    neighbour_value = 2 * interference.result.xreplace({g: neighbour})
    own_value = sp.Rational(1, 3) - 2 * moment_value + own_interference
    return (
        Derivation(
            "The loss of the pentagon with one active feature",
            start,
            start_note=(
                r"feature $i$ active with value $x \sim U[0, 1]$; output $j$ sees $s \cos(2 \pi (j - i)/5)\, x - \beta$ "
                r"($s = r^2$, $b = -\beta$): its own error, the two neighbours ($\cos 72^\circ$) and the two others "
                r"($\cos 144^\circ$)"
            ),
            assumptions=(TOY_MODEL, ONE_ACTIVE),
            lemmas=(gram, interference, cut, moment),
        )
        .then(expand("the square of the own error, term by term"), state(own_expanded, start[1], start[2]))
        .then(lemma(moment, {}), state(own_expanded.xreplace({moment.start: moment_value}), start[1], start[2]))
        .then(
            lemma(interference, {g: s}),
            state(sp.Integral(x**2, (x, 0, 1)) - 2 * moment_value + own_interference, start[1], start[2]),
        )
        .then(
            lemma(interference, {g: neighbour}),
            state(sp.Integral(x**2, (x, 0, 1)) - 2 * moment_value + own_interference, neighbour_value, start[2]),
            note=r"the neighbours' interference survives while $\beta < s \cos 72^\circ$",
        )
        .then(
            lemma(cut, {h: opposite}),
            state(sp.Integral(x**2, (x, 0, 1)) - 2 * moment_value + own_interference, neighbour_value, 0),
            note=r"the next-but-one neighbours' negative interference is removed exactly",
        )
        .then(evaluate(r"$\int_0^1 x^2 dx = 1/3$"), state(own_value, neighbour_value, 0), label="in_s")
        .then(
            substitute({s: r**2, beta: -b}, why="in the model's parameters: column norm $r$ and bias $b$"),
            state(own_value, neighbour_value, 0).xreplace({s: r**2, beta: -b}),
        )
    )
