"""Why a sparse autoencoder's encoder has the right form: the sparse code of an orthonormal dictionary (SymPy only).

* :func:`orthonormal_separation`: for a dictionary with orthonormal columns (a rotation ``R`` in two
  dimensions), ``||x - R h||^2 = ||R^T x - h||^2``: the reconstruction error splits into one term
  ``(a_j - h_j)^2`` per latent, ``a_j = R_j . x``;
* :func:`soft_threshold_code`: one latent's objective ``(a - h)^2 + lambda h`` over ``h >= 0`` is
  minimised at ``max(0, a - lambda / 2)``, which is the encoder ``ReLU(W_enc x + b_enc)`` with
  ``W_enc = D^T`` and ``b_enc = -lambda / 2``.

Together: the sparse autoencoder's architecture contains the exact L1 sparse code of the planted
dictionary when its features are orthonormal. With more features than dimensions they are not, and
that training finds them anyway is what the numeric check measures.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, differentiate, simplify, solve_for

SHARKEY = (
    "Sharkey, Braun and Millidge 2022, Taking features out of superposition with sparse autoencoders "
    "(interim research report, AI Alignment Forum)"
)
BRICKEN = "Bricken et al. 2023, Towards Monosemanticity: Decomposing Language Models With Dictionary Learning"

a = sp.Symbol("a", real=True)
"""A latent's projection ``a = D_j . x`` of the input on its dictionary column."""
h = sp.Symbol("h", nonnegative=True)
"""The latent's activation, ``h >= 0`` (the ReLU's range)."""
lam = sp.Symbol("lambda", positive=True)
"""The L1 coefficient."""
phi = sp.Symbol("phi", real=True)
x1, x2, h1, h2 = sp.symbols("x_1 x_2 h_1 h_2", real=True)

SAE_OBJECTIVE = (
    r"the sparse autoencoder's objective for one input $x$: $\lVert x - W_{\mathrm{dec}} h \rVert^2 + \lambda \sum_j h_j$, "
    r"$h = \mathrm{ReLU}(W_{\mathrm{enc}} (x - b_{\mathrm{dec}}) + b_{\mathrm{enc}}) \ge 0$, decoder columns of unit norm"
)


def orthonormal_separation() -> Derivation:
    """``||x - R h||^2 = (a_1 - h_1)^2 + (a_2 - h_2)^2`` with ``a = R^T x``, for a rotation ``R`` of the plane."""
    R = sp.Matrix([[sp.cos(phi), -sp.sin(phi)], [sp.sin(phi), sp.cos(phi)]])
    x, code = sp.Matrix([x1, x2]), sp.Matrix([h1, h2])
    projection = R.T * x
    residual = x - R * code
    return (
        Derivation(
            "An orthonormal dictionary separates the reconstruction error",
            (residual.T * residual)[0],
            start_note=r"$\lVert x - R h \rVert^2$ for a dictionary $R$ with orthonormal columns (a rotation of the plane)",
        )
        .then(
            simplify(
                r"$R^\top R = I$ ($\cos^2 \varphi + \sin^2 \varphi = 1$): "
                r"$\lVert x - R h \rVert = \lVert R^\top x - h \rVert$"
            ),
            (projection[0] - h1) ** 2 + (projection[1] - h2) ** 2,
            note=r"one term $(a_j - h_j)^2$ per latent, $a = R^\top x$",
        )
    )


def soft_threshold_code() -> Derivation:
    """``argmin_{h >= 0} (a - h)^2 + lambda h = max(0, a - lambda / 2)``: the ReLU encoder with bias ``-lambda / 2``.

    Sharkey et al. 2022 and Bricken et al. 2023 (the sparse autoencoder: ReLU encoder, L1 penalty).
    """
    return (
        Derivation(
            "The sparse code of one latent is a shifted ReLU",
            (a - h) ** 2 + lam * h,
            start_note=r"one latent's share of the objective ($h \ge 0$, so $\lambda |h| = \lambda h$)",
            assumptions=(SAE_OBJECTIVE,),
        )
        .then(differentiate(h), 2 * h - 2 * a + lam, label="gradient")
        .then(solve_for(h), a - lam / 2, label="stationary", note="the unconstrained minimiser")
        .then(differentiate(h), 2, on="gradient", note="positive: the objective is convex in $h$")
        .then(
            apply_map(
                lambda u: sp.Max(0, u),
                why=r"a convex function of one variable is smallest over $h \ge 0$ at its minimiser clipped to $h \ge 0$",
            ),
            sp.Max(0, a - lam / 2),
            on="stationary",
            note=(
                r"$\mathrm{ReLU}(D_j \cdot x - \lambda/2)$: the encoder with $W_{\mathrm{enc}} = D^\top$, "
                r"$b_{\mathrm{enc}} = -\lambda/2$"
            ),
        )
    )
