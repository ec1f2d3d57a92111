"""Softmax attention as a kernel smoother (seed 000, hours 1-2; SymPy only).

* :func:`squared_distance`: ``||q - k||^2 = ||q||^2 - 2 q.k + ||k||^2`` for symbolic ``d``.
* :func:`temperature_limits`: the softmax weight of the best of three keys tends to 1 as the
  temperature goes to 0 (1/2 under a tie with the second), and to 1/3 as it goes to infinity.
* :func:`gaussian_kernel_factor`: the Gaussian kernel ``exp(-||q - k||^2 / (2 tau sqrt d))`` is
  the attention kernel ``exp(q.k / (tau sqrt d))`` times a factor that, for keys of one norm
  ``r``, depends on the query only, so it cancels in the Nadaraya-Watson ratio
  ``sum_j K(q, k_j) v_j / sum_j K(q, k_j)``: softmax attention at temperature ``tau`` is the
  Gaussian-kernel estimator with bandwidth ``h^2 = tau sqrt d``.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, custom, differentiate, expand, limit, substitute

NADARAYA_WATSON = (
    r"Nadaraya 1964, On estimating regression; Watson 1964, Smooth regression analysis "
    r"(the kernel-weighted average $\sum_j K(q, k_j) v_j / \sum_j K(q, k_j)$)"
)
TSAI = (
    "Tsai et al. 2019, Transformer Dissection: A Unified Understanding of Transformer's Attention "
    "via the Lens of Kernel"
)

d = sp.Symbol("d", integer=True, positive=True)
i = sp.Symbol("i", integer=True, positive=True)
q, k = sp.IndexedBase("q", real=True), sp.IndexedBase("k", real=True)

tau = sp.Symbol("tau", positive=True)
r = sp.Symbol("r", positive=True)
dist_sq, q_sq, k_sq = sp.symbols("dist_sq q_sq k_sq", nonnegative=True)
qk = sp.Symbol("qk", real=True)

ATTENTION_KERNEL = sp.exp(qk / (tau * sp.sqrt(d)))
"""``K(q, k) = exp(q.k / (tau sqrt d))``: softmax attention's weights are ``K / sum_j K``."""

CONSTANT_KEY_NORM = r"every key has the same norm, $\lVert k_j \rVert = r$ (normalised keys, scaled by $r$)"


def squared_distance() -> Derivation:
    """``sum_i (q_i - k_i)^2 = sum_i q_i^2 - 2 sum_i q_i k_i + sum_i k_i^2`` for symbolic ``d``."""
    return Derivation(
        "Squared distance through norms and the dot product",
        sp.Sum((q[i] - k[i]) ** 2, (i, 1, d)),
        start_note=r"$\lVert q - k \rVert^2$ in $\mathbb{R}^d$, symbolic $d$",
    ).then(
        expand(),
        sp.Sum(q[i] ** 2, (i, 1, d)) - 2 * sp.Sum(q[i] * k[i], (i, 1, d)) + sp.Sum(k[i] ** 2, (i, 1, d)),
        note=r"$\lVert q \rVert^2 - 2\, q \cdot k + \lVert k \rVert^2$",
    )


g_2, g_3 = sp.symbols("g_2 g_3", positive=True)


def temperature_limits() -> Derivation:
    """The softmax weight of the best of three keys, whose score leads by ``g_2, g_3 > 0``, in the limits of ``tau``.

    ``1 / (1 + e^(-g_2 / (tau sqrt d)) + e^(-g_3 / (tau sqrt d)))``: 1 as ``tau -> 0+`` (hard
    attention), 1/2 when the second key ties (``g_2 = 0``), 1/3 as ``tau -> infinity`` (uniform).
    """
    weight = 1 / (1 + sp.exp(-g_2 / (tau * sp.sqrt(d))) + sp.exp(-g_3 / (tau * sp.sqrt(d))))
    return (
        Derivation(
            "Temperature limits of the softmax weights",
            weight,
            start_note=(
                r"the weight of the best of three keys, its score ahead of the others' by $g_2, g_3 > 0$ "
                r"(numerator and denominator divided by its own kernel value)"
            ),
        )
        .then(
            limit(tau, 0, "+"),
            1,
            note="hard attention: all the weight on the arg-max key",
        )
        .then(
            custom(
                r"let the second key tie ($g_2 = 0$), then $\tau \to 0^+$",
                lambda e: sp.limit(e.subs(g_2, 0), tau, 0, "+"),
            ),
            sp.Rational(1, 2),
            on="start",
            note="tied arg-max keys share the weight equally",
        )
        .then(
            limit(tau, sp.oo),
            sp.Rational(1, 3),
            on="start",
            note="the uniform average: every query gets the mean of the values (a rank-one output)",
        )
    )


def gaussian_kernel_factor() -> Derivation:
    """``exp(-||q-k||^2 / (2 tau sqrt d)) = c(q) exp(q.k / (tau sqrt d))`` with ``c`` free of ``k`` when ``||k|| = r``.

    ``c(q) = exp(-(||q||^2 + r^2) / (2 tau sqrt d))``. Since ``c`` is the same for every key, it
    cancels between the numerator and the denominator of the Nadaraya-Watson estimator, so the
    Gaussian-kernel estimator equals softmax attention with logits ``q.k / (tau sqrt d)``. The
    closed form is the Gaussian kernel written as ``c(q)`` times the attention kernel, in
    ``q_sq = ||q||^2``, ``qk = q.k``, ``r``, ``d``, ``tau``. Seed 000, hours 1-2 (attention as a
    kernel smoother); Tsai et al. 2019.
    """
    bandwidth = 2 * tau * sp.sqrt(d)
    factor = sp.exp(-(q_sq + r**2) / bandwidth)
    derivation = (
        Derivation(
            "The Gaussian kernel is the attention kernel times a factor of the query",
            sp.exp(-dist_sq / bandwidth),
            start_note=r"the Gaussian kernel $e^{-\lVert q - k \rVert^2 / (2 \tau \sqrt{d})}$, "
            r"$dist_{sq} = \lVert q - k \rVert^2$",
            assumptions=(CONSTANT_KEY_NORM,),
            lemmas=(squared_distance(), temperature_limits()),
        )
        .then(
            substitute(
                {dist_sq: q_sq - 2 * qk + k_sq},
                text=r"substitute $\lVert q - k \rVert^2 = \lVert q \rVert^2 - 2\, q \cdot k + \lVert k \rVert^2$ "
                r"(the lemma; $q_{sq} = \lVert q \rVert^2$, $qk = q \cdot k$, "
                r"$k_{sq} = \lVert k \rVert^2$)",
            ),
            sp.exp(-(q_sq - 2 * qk + k_sq) / bandwidth),
        )
        .then(
            expand(),
            sp.exp(-q_sq / bandwidth) * ATTENTION_KERNEL * sp.exp(-k_sq / bandwidth),
            note="a factor of the query, the attention kernel, a factor of the key",
        )
        .then(
            substitute({k_sq: r**2}, text=r"keys of one norm: substitute $\lVert k \rVert^2 = r^2$"),
            sp.exp(-q_sq / bandwidth) * ATTENTION_KERNEL * sp.exp(-(r**2) / bandwidth),
            label="gaussian",
        )
        .then(
            apply_map(lambda e: e / ATTENTION_KERNEL, why="divide by the attention kernel"),
            factor,
            note=r"$c(q)$",
            label="factor",
        )
        .then(
            differentiate(qk),
            0,
            note=(
                r"$c$ does not depend on the key: the same $c(q)$ multiplies every term of "
                r"$\sum_j K(q, k_j) v_j$ and of $\sum_j K(q, k_j)$, and cancels"
            ),
        )
    )
    return derivation.then(
        apply_map(lambda c: c * ATTENTION_KERNEL, why="multiply $c(q)$ back onto the attention kernel"),
        factor * ATTENTION_KERNEL,
        on="factor",
        note=(
            r"the Gaussian kernel as $c(q)\, e^{q \cdot k / (\tau \sqrt{d})}$: its Nadaraya-Watson estimator is "
            r"$\sum_j e^{q \cdot k_j / (\tau \sqrt d)} v_j / \sum_j e^{q \cdot k_j / (\tau \sqrt d)}$, "
            r"softmax attention"
        ),
    )
