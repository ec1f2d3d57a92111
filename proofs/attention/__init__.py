"""Derivations for the attention theorems (SymPy only).

* :func:`dot_product_moments`: the moments of ``q . k`` for Gaussian ``q, k`` in R^d, for
  symbolic ``d``, through the moment-generating function (Vaswani et al. 2017, section 3.2.1,
  footnote 4; seed 003, exercise 1.2).
* :func:`positional_rotation_block`: the 2x2 block that moves the sinusoidal encoding of
  position ``pos`` to ``pos + k`` (Vaswani et al. 2017, section 3.5; seed 003, exercise 1.6).
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import (
    Derivation,
    apply_map,
    column,
    custom,
    differentiate,
    given,
    identity,
    integrate,
    jacobian,
    rewrite,
    series,
    substitute,
)

# --- softmax-variance -----------------------------------------------------------------------

d = sp.Symbol("d", integer=True, positive=True)
sigma_q, sigma_k = sp.symbols("sigma_q sigma_k", positive=True)
t = sp.Symbol("t", real=True)
x, y = sp.symbols("x y", real=True)
r = sp.Symbol("r", positive=True)

INDEPENDENT_ENTRIES = (
    r"the entries $q_1, \dots, q_d, k_1, \dots, k_d$ are independent, "
    r"$q_i \sim \mathcal{N}(0, \sigma_q^2)$, $k_i \sim \mathcal{N}(0, \sigma_k^2)$"
)


def _gaussian_density(variable: sp.Symbol, sigma: sp.Symbol) -> sp.Expr:
    return sp.exp(-(variable**2) / (2 * sigma**2)) / (sp.sqrt(2 * sp.pi) * sigma)


def dot_product_moments() -> Derivation:
    """``E[q.k] = 0``, ``Var(q.k) = d sq^2 sk^2``, ``Var(q.k/sqrt d) = sq^2 sk^2``, ``E[(q.k)^4] = 3d(d+2) sq^4 sk^4``.

    Through the moment-generating function ``E[exp(t q.k)] = (1 - sq^2 sk^2 t^2)^(-d/2)``
    for symbolic ``d``: the per-coordinate factor is integrated over the two Gaussian densities,
    independence raises it to the ``d``-th power, and the moments are derivatives at ``t = 0``
    (of the Taylor polynomial of degree 4, which has the same derivatives up to order 4).
    Vaswani et al. 2017, section 3.2.1, footnote 4; seed 003, exercise 1.2.
    """
    s2 = sigma_q**2 * sigma_k**2
    derivation = (
        Derivation(
            "Moments of q.k through its moment-generating function",
            sp.exp(t * x * y) * _gaussian_density(x, sigma_q) * _gaussian_density(y, sigma_k),
            start_note="integrand of $E[e^{t q_i k_i}]$ over the densities of $q_i = x$ and $k_i = y$",
            assumptions=(INDEPENDENT_ENTRIES,),
        )
        .then(
            integrate(x, -sp.oo, sp.oo),
            sp.exp(sigma_q**2 * t**2 * y**2 / 2) * _gaussian_density(y, sigma_k),
            note=r"the Gaussian MGF of $q_i$ at $t y$, times the density of $k_i$",
        )
        .then(
            substitute(
                {t: sp.sqrt(1 - r**2) / (sigma_q * sigma_k)},
                text=r"on $|t| \sigma_q \sigma_k < 1$, where the MGF is finite, write "
                r"$\sigma_q^2 \sigma_k^2 t^2 = 1 - r^2$ with $r > 0$ ($t$ enters only through $t^2$)",
            ),
            _gaussian_density(y, sigma_k / r) / r,
            note=r"a Gaussian density in $y$ with standard deviation $\sigma_k / r$, divided by $r$",
        )
        .then(integrate(y, -sp.oo, sp.oo), 1 / r)
        .then(
            substitute({r: sp.sqrt(1 - s2 * t**2)}, text=r"substitute back $r = \sqrt{1 - \sigma_q^2 \sigma_k^2 t^2}$"),
            (1 - s2 * t**2) ** sp.Rational(-1, 2),
            note=r"the MGF of one product $q_i k_i$",
            label="coordinate",
        )
        .then(
            given(
                r"the MGF of a sum of $d$ independent, identically distributed terms is the $d$-th power of one",
                source="assumption: the entries of q and k are independent",
            ),
            (1 - s2 * t**2) ** (-d / 2),
            note=r"$E[e^{t\, q \cdot k}]$",
            label="mgf",
        )
        .then(
            series(t, 0, 5, why="Taylor expand up to $t^4$"),
            1 + d * s2 * t**2 / 2 + d * (d + 2) * s2**2 * t**4 / 8,
            note="same derivatives at $t = 0$ up to order 4 as the MGF",
            label="taylor",
        )
        .then(differentiate(t), d * s2 * t + d * (d + 2) * s2**2 * t**3 / 2, on="taylor")
        .then(substitute({t: 0}), 0, note=r"$E[q \cdot k]$", label="mean")
        .then(differentiate(t, 2), d * s2 + 3 * d * (d + 2) * s2**2 * t**2 / 2, on="taylor")
        .then(substitute({t: 0}), d * s2, note=r"$E[(q \cdot k)^2]$", label="second")
    )
    mean = derivation.expression("mean")
    derivation = (
        derivation.then(
            custom(r"subtract the squared mean: $\mathrm{Var}(X) = E[X^2] - E[X]^2$", lambda e: e - mean**2),
            d * s2,
            note=r"$\mathrm{Var}(q \cdot k)$",
            label="variance",
        )
        .then(
            apply_map(
                lambda v: (1 / sp.sqrt(d)) ** 2 * v,
                why=r"$\mathrm{Var}(c X) = c^2 \mathrm{Var}(X)$ with $c = 1/\sqrt{d}$",
            ),
            s2,
            note=r"$\mathrm{Var}(q \cdot k / \sqrt{d})$: unit variance when $\sigma_q = \sigma_k = 1$",
            label="scaled",
        )
        .then(
            differentiate(t, 4),
            3 * d * (d + 2) * s2**2,
            on="taylor",
            note=r"$E[(q \cdot k)^4]$ (a constant: the Taylor polynomial has degree 4)",
            label="fourth",
        )
    )
    variance = derivation.expression("variance")
    return derivation.then(
        apply_map(lambda m_4: m_4 / variance**2 - 3, why=r"excess kurtosis $E[X^4] / \mathrm{Var}(X)^2 - 3$"),
        sp.Rational(6) / d,
        label="kurtosis",
        note=(
            r"$\to 0$ as $d \to \infty$, the value of a Gaussian "
            r"(by the central limit theorem $q \cdot k / \sqrt{d}$ is asymptotically normal)"
        ),
    ).then(
        column("mean", "variance", "scaled", "fourth"),
        sp.Matrix([0, d * s2, s2, 3 * d * (d + 2) * s2**2]),
        on="fourth",
    )


# --- pe-rotation ----------------------------------------------------------------------------

pos, k, l, w = sp.symbols("pos k l w", real=True)


def rotation_block(angle: sp.Expr) -> sp.Matrix:
    """``[[cos a, sin a], [-sin a, cos a]]``: the block acting on a (sin, cos) pair."""
    return sp.Matrix([[sp.cos(angle), sp.sin(angle)], [-sp.sin(angle), sp.cos(angle)]])


def _encoding_pair(position: sp.Expr) -> sp.Matrix:
    return sp.Matrix([sp.sin(position * w), sp.cos(position * w)])


sine, cosine = sp.symbols("s c", real=True)
"""Names for the pair at ``pos``, ``s = sin(pos w)`` and ``c = cos(pos w)``, so that its coefficients can be read off."""


def positional_rotation_block() -> Derivation:
    """``(sin((pos+k) w), cos((pos+k) w)) = R(k w) (sin(pos w), cos(pos w))``, ``R`` independent of ``pos``.

    By the angle-addition identities, for symbolic ``pos, k, w``. Further steps show that
    ``R`` is orthogonal, that ``R(l w) R(k w) = R((k + l) w)``, and that the dot product of
    the pairs at ``pos`` and ``pos + k`` is ``cos(k w)``, independent of ``pos``. The result
    (closed form) is the block ``R(k w)``; ``M_k`` is block-diagonal with ``w = w_i``.
    Vaswani et al. 2017, section 3.5; seed 003, exercise 1.6.
    """
    block = rotation_block(k * w)
    at_pos = _encoding_pair(pos)
    return (
        Derivation(
            "The offset map of the sinusoidal encoding",
            _encoding_pair(pos + k),
            start_note=r"the pair $(PE_{pos+k, 2i}, PE_{pos+k, 2i+1})$ at frequency $w = w_i$",
        )
        .then(
            identity(
                "the angle-addition identities",
                r"sin(a+b) = sin a cos b + cos a sin b, cos(a+b) = cos a cos b - sin a sin b",
            ),
            sp.Matrix(
                [
                    sp.sin(pos * w) * sp.cos(k * w) + sp.cos(pos * w) * sp.sin(k * w),
                    sp.cos(pos * w) * sp.cos(k * w) - sp.sin(pos * w) * sp.sin(k * w),
                ]
            ),
        )
        .then(
            rewrite(r"as a matrix acting on the pair at $pos$"),
            sp.MatMul(sp.ImmutableMatrix(block), sp.ImmutableMatrix(at_pos), evaluate=False),
        )
        .then(
            substitute({sp.sin(pos * w): sine, sp.cos(pos * w): cosine}, why="name the pair at $pos$"),
            sp.MatMul(sp.ImmutableMatrix(block), sp.ImmutableMatrix([sine, cosine]), evaluate=False),
        )
        .then(
            jacobian([sine, cosine], why=r"read off the coefficients of $s$ and $c$"),
            block,
            note=r"the block $R(k w)$: it does not involve $pos$, so one matrix serves every position",
            label="block",
        )
        .then(
            apply_map(lambda R: R.T * R, placeholder=sp.MatrixSymbol("R", 2, 2), why=r"form $R^\top R$"),
            sp.eye(2),
            on="block",
            note="the block is orthogonal, so $M_k$ is",
        )
        .then(
            apply_map(
                lambda R: sp.ImmutableMatrix(rotation_block(l * w)) * R,
                placeholder=sp.MatrixSymbol("R", 2, 2),
                why=r"compose with the block for an offset $l$",
            ),
            rotation_block((k + l) * w),
            on="block",
            note=r"$M_l M_k = M_{k+l}$",
        )
        .then(
            apply_map(
                lambda v: (v.T * sp.ImmutableMatrix(at_pos))[0, 0],
                placeholder=sp.MatrixSymbol("v", 2, 1),
                why=r"dot product with the pair at $pos$",
            ),
            sp.cos(k * w),
            on="start",
            note="the raw encodings' score for offset $k$",
            label="score",
        )
        .then(differentiate(pos), 0, note="the score does not depend on $pos$")
        .then(
            rewrite("the closed form: the block of $M_k$ at frequency $w$"),
            block,
            on="block",
        )
    )
