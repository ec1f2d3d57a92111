"""``attention-kernel-smoother`` (seed 000, hours 1-2): a checked derivation (proofs.attention.kernels)
against the Gaussian kernel computed from distances and softmax attention computed by torch (numerics.attention).

The checked quantity, per instance, is ``[G | Z]``: the Gaussian kernel ``G_ij = exp(-||q_i - k_j||^2 /
(2 tau sqrt d))`` of every query-key pair, unnormalised, beside the outputs ``Z`` of softmax attention at
temperature ``tau``. The claim evaluates ``G`` through the derivation's closed form ``c(q) exp(q.k / (tau
sqrt d))`` from ``||q||^2``, ``q.k`` and the key norm ``r``, and ``Z`` as the Nadaraya-Watson estimator with
that kernel. Comparing ``G`` pair by pair pins the factor ``c(q)``, which cancels in the estimator: a wrong
``c`` (or a kernel missing it) verifies on ``Z`` alone but not on ``G``.
"""

from __future__ import annotations

import math

import numpy as np

from checkers.domains import Integer, Real
from checkers.policies import Deterministic
from checkers.sampling import single_instance
from checkers.theorem import Anchor, Theorem
from checkers.results import Plot
from numerics.attention.kernels import (
    attention_weights,
    gaussian_kernel,
    gaussian_kernel_and_attention,
    hard_attention_weights,
    scaled_dot_product_attention,
    squared_distances,
    temperature_figure,
)
from proofs.attention.kernels import CONSTANT_KEY_NORM, NADARAYA_WATSON, TSAI, gaussian_kernel_factor

VALUE_DIM = 3
"""Columns of the values ``v_j`` (the estimator treats each column alike)."""

COLD, HOT = 1e-3, 1e4
"""The temperatures standing in for the limits ``tau -> 0`` and ``tau -> infinity`` in the worked example."""

FIGURE_TEMPERATURES = (0.1, 0.3, 1.0, 3.0, 10.0)

TIE_TEMPERATURE = 1e-2
"""Cold enough for the tie example: the losing keys get weights below 1e-30, still normal floats."""

TIE_QUERY = np.array([1.0, 0.0])
TIE_KEYS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
"""A query with two keys tied for the largest score (the first and the third)."""


def _draw(rng: np.random.Generator, n: int, tokens: int, d: int, key_norm) -> dict[str, np.ndarray]:
    """Gaussian queries and values; keys uniform on the sphere of radius ``key_norm`` (one norm for all)."""
    directions = rng.standard_normal((n, tokens, d))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    return {
        "queries": rng.standard_normal((n, tokens, d)),
        "keys": np.asarray(key_norm, dtype=float)[:, None, None] * directions,
        "values": rng.standard_normal((n, tokens, VALUE_DIM)),
    }


def _kernel_and_attention(queries, keys, values, temperature, d):
    """The oracle: ``[G | Z]`` with ``G`` from the distances and ``Z`` from torch's attention, and its accuracy.

    :func:`numerics.attention.kernels.gaussian_kernel_and_attention`; neither part uses the closed form.
    """
    return gaussian_kernel_and_attention(queries, keys, values, temperature)


def _smoother(kernel, values, *, normalised=True) -> np.ndarray:
    """``[K | sum_j K_ij v_j / sum_j K_ij]``: a kernel beside its Nadaraya-Watson estimator (or the plain sum)."""
    weights = kernel / kernel.sum(axis=-1, keepdims=True) if normalised else kernel
    return np.concatenate([kernel, weights @ values], axis=-1)


def _derived_kernel(closed_form, queries, keys, temperature, key_norm, d):
    """``G_ij`` from the compiled closed form ``c(q) exp(q.k / (tau sqrt d))``, at ``||q_i||^2``, ``q_i.k_j`` and ``r``."""
    m, tokens = queries.shape[:2]
    shape = (m, tokens, tokens)

    def per_pair(per_instance):
        return np.broadcast_to(np.asarray(per_instance, dtype=float)[:, None, None], shape).ravel()

    return closed_form(
        q_sq=np.broadcast_to((queries * queries).sum(axis=-1)[:, :, None], shape).ravel(),
        qk=(queries @ np.swapaxes(keys, 1, 2)).ravel(),
        r=per_pair(key_norm),
        tau=per_pair(temperature),
        d=d,
    ).reshape(shape)


def _derived_kernel_smoother(closed_form, queries, keys, values, temperature, key_norm, d):
    """The claim: the derived kernel ``G`` and the Nadaraya-Watson estimator with it."""
    return _smoother(_derived_kernel(closed_form, queries, keys, temperature, key_norm, d), values)


def _scale(temperature, d) -> np.ndarray:
    return (np.asarray(temperature, dtype=float) * np.sqrt(d))[:, None, None]


def _gaussian_without_the_two(queries, keys, values, temperature, d):
    return _smoother(gaussian_kernel(queries, keys, np.asarray(temperature) * np.sqrt(d) / 2), values)


def _laplace_kernel(queries, keys, values, temperature, d):
    return _smoother(np.exp(-np.sqrt(squared_distances(queries, keys)) / _scale(temperature, d)), values)


def _scaled_by_d(queries, keys, values, temperature, d):
    return _smoother(gaussian_kernel(queries, keys, np.asarray(temperature) * d), values)


def _unnormalised(queries, keys, values, temperature, d):
    return _smoother(gaussian_kernel(queries, keys, np.asarray(temperature) * np.sqrt(d)), values, normalised=False)


def _attention_kernel(queries, keys, temperature, d) -> np.ndarray:
    return np.exp(queries @ np.swapaxes(keys, 1, 2) / _scale(temperature, d))


def _factor_forgotten(queries, keys, values, temperature, d):
    return _smoother(_attention_kernel(queries, keys, temperature, d), values)


def _factor_without_key_norm(queries, keys, values, temperature, d):
    query_factor = np.exp(-(queries * queries).sum(axis=-1)[:, :, None] / (2 * _scale(temperature, d)))
    return _smoother(query_factor * _attention_kernel(queries, keys, temperature, d), values)


def _attention_at(query, keys, values, temperature):
    """Softmax attention of one query ``(d,)`` over ``keys`` ``(n, d)``: ``(weights, output)``."""
    weights = attention_weights(query[None] / temperature, keys)[0]
    return weights, weights @ values


def _example_values(queries, keys, values, temperature, key_norm, tokens, d):
    batch = {
        "queries": queries[None],
        "keys": keys[None],
        "values": values[None],
        "temperature": np.array([temperature]),
    }
    oracle = _kernel_and_attention(**batch, d=d)[0][0]
    claim = attention_kernel_smoother.evaluate_claim(**batch, key_norm=np.array([key_norm]), d=d)[0]
    distance_kernel, attention = oracle[:, :tokens], oracle[:, tokens:]
    derived_kernel, derived = claim[:, :tokens], claim[:, tokens:]
    query, mean = queries[0], values.mean(axis=0)
    factor = attention_kernel_smoother.closed_form("factor")
    hot_outputs = scaled_dot_product_attention(queries / HOT, keys, values)
    identical = np.broadcast_to(keys[0], keys.shape)
    # Identity limit: W_Q = W_K = I on tokens of norm key_norm (the keys), so queries = keys; a cold temperature.
    self_weights = attention_weights(keys / COLD, keys)
    return {
        "attention": attention,
        "nadaraya_watson": derived,
        "max_error": float(np.abs(attention - derived).max()),
        "kernel": derived_kernel[0],
        "kernel_error": float(np.abs(derived_kernel / distance_kernel - 1).max()),
        "kernel_factor": float(
            factor(q_sq=np.array([query @ query]), r=np.array([key_norm]), tau=np.array([temperature]), d=d)[0]
        ),
        "weights": _attention_at(query, keys, values, temperature)[0],
        "cold_weights": _attention_at(query, keys, values, COLD)[0],
        "hard_weights": hard_attention_weights(keys @ query),
        "hot_weights": _attention_at(query, keys, values, HOT)[0],
        "hot_gap": float(np.abs(hot_outputs - mean).max()),
        "identical_keys_gap": float(np.abs(scaled_dot_product_attention(queries, identical, values) - mean).max()),
        "self_weights": np.diag(self_weights),
        "self_gap": float(np.abs(self_weights @ values - values).max()),
        "tie_weights": attention_weights(TIE_QUERY[None] / TIE_TEMPERATURE, TIE_KEYS)[0],
        "tie_limit": hard_attention_weights(TIE_KEYS @ TIE_QUERY),
    }


_E = math.e


def _worked_inputs(key_norm: float) -> dict[str, np.ndarray]:
    """The anchors' hand-built inputs, 2 tokens in ``d = 4``: queries ``e_0, e_1``, keys ``key_norm e_0, key_norm e_1``
    (on the sphere of radius ``key_norm``, as drawn), values ``e_0, e_1`` in 3 columns."""
    units = np.eye(4)[:2]
    return {"queries": units, "keys": key_norm * units, "values": np.eye(VALUE_DIM)[:2]}


SMOOTHER_ANCHORS = (
    Anchor(
        {"tokens": 2, "d": 4, "temperature": 0.5, "key_norm": 1.0},
        [[1.0, 1 / _E, _E / (_E + 1), 1 / (_E + 1), 0.0], [1 / _E, 1.0, 1 / (_E + 1), _E / (_E + 1), 0.0]],
        "by hand: q_i = k_i = e_i, 2 tau sqrt d = 2, so G = [[1, e^-1], [e^-1, 1]] and the "
        "weights e/(e + 1), 1/(e + 1)",
        rtol=1e-12,
        inputs=_worked_inputs(1.0),
    ),
    Anchor(
        {"tokens": 2, "d": 4, "temperature": 0.5, "key_norm": 2.0},
        [
            [_E**-0.5, _E**-2.5, 1 / (1 + _E**-2), 1 / (1 + _E**2), 0.0],
            [_E**-2.5, _E**-0.5, 1 / (1 + _E**2), 1 / (1 + _E**-2), 0.0],
        ],
        "by hand: q_i = e_i, k_j = 2 e_j, ||q - k||^2 = 1 or 5 over 2 tau sqrt d = 2: "
        "G = [[e^-1/2, e^-5/2], [e^-5/2, e^-1/2]], weights 1/(1 + e^-2), 1/(1 + e^2)",
        rtol=1e-12,
        inputs=_worked_inputs(2.0),
    ),
)
"""Two anchors worked by hand at their own inputs (:func:`_worked_inputs`), 2 tokens in ``d = 4`` at ``tau = 1/2``,
where ``2 tau sqrt d = 2``, laid out as the claim: the kernel of each query against both keys, then its output.
The queries are ``e_0, e_1``, the keys ``r e_0, r e_1`` and the values ``e_0`` and ``e_1`` (in 3 columns), so each
output row is that query's weights and a 0.

* ``r = 1``: ``||e_0 - e_0||^2 = 0``, ``||e_0 - e_1||^2 = 2``: ``G = [[1, e^-1], [e^-1, 1]]``; weights
  ``1/(1 + e^-1) = e/(e + 1) = 0.7310586`` and ``1/(e + 1) = 0.2689414``.
* ``r = 2``: ``||e_0 - 2 e_0||^2 = 1``, ``||e_0 - 2 e_1||^2 = 1 + 4 = 5``: ``G = [[e^-1/2, e^-5/2], [e^-5/2,
  e^-1/2]]``; weights ``e^-1/2 / (e^-1/2 + e^-5/2) = 1/(1 + e^-2) = 0.8807971`` and ``1/(1 + e^2) = 0.1192029``.
  Through the closed form: ``c(e_0) = e^(-(1 + 4)/2) = e^-5/2`` times ``e^(q.k / (tau sqrt d)) = e^2`` is
  ``e^-1/2``, the same.
"""


def _figures(seed, tokens, d, temperature, key_norm):
    params = {"tokens": tokens, "d": d, "temperature": temperature, "key_norm": key_norm}
    inputs = single_instance(attention_kernel_smoother, params, seed).inputs
    figure = temperature_figure(inputs["queries"][0, 0], inputs["keys"][0], FIGURE_TEMPERATURES)
    caption = (
        f"Attention weights of the first query over its {tokens} keys (seed {seed}, d = {d}, key norm "
        f"{key_norm:g}) at temperatures {', '.join(f'{t:g}' for t in FIGURE_TEMPERATURES)}: cold temperatures "
        "approach hard attention on the arg-max key, hot ones the uniform average."
    )
    return [Plot(name="temperatures", caption=caption, figure=figure)]


attention_kernel_smoother = Theorem(
    id="attention-kernel-smoother",
    title="Softmax attention is a Nadaraya-Watson kernel smoother (hours 1-2)",
    topic="attention",
    statement=(
        r"Softmax attention at temperature $\tau$ gives query $q_i$ the output "
        r"$\sum_j K(q_i, k_j) v_j$ over $\sum_j K(q_i, k_j)$ with the asymmetric kernel "
        r"$K(q, k) = e^{q \cdot k / (\tau \sqrt{d})}$: the Nadaraya-Watson estimator. If every key has the same "
        r"norm $r$, then $e^{-\lVert q - k \rVert^2 / (2 \tau \sqrt{d})} = c(q)\, K(q, k)$ with "
        r"$c(q) = e^{-(\lVert q \rVert^2 + r^2) / (2 \tau \sqrt{d})}$, the same for every key, so it cancels: "
        r"attention "
        r"equals the Gaussian-kernel estimator with squared bandwidth $\tau \sqrt{d}$. Limits: as $\tau \to 0$ the "
        r"weights become hard attention on the arg-max key (tied keys share equally); as $\tau \to \infty$ they "
        r"become uniform and every output is the mean of the values (rank one); identical keys give that mean "
        r"whatever the query; with $W_Q = W_K$, keys of one norm and a large scale each token attends to itself "
        r"and the output tends to $V$."
    ),
    assumptions=(
        CONSTANT_KEY_NORM + r" (for the Gaussian form; the exponential-kernel form needs nothing)",
        r"temperature $\tau > 0$ divides the logits: weights $\propto e^{q \cdot k_j / (\tau \sqrt{d})}$, "
        r"$\tau = 1$ being standard attention",
    ),
    sources=(
        TSAI,
        NADARAYA_WATSON,
        "seed 000, hours 1-2 (attention as a kernel smoother)",
        "seed 003, exercise 1.4 (2)",
    ),
    parameters={
        "tokens": Integer(1, 12, shape=True, default=5),
        "d": Integer(1, 16, shape=True, default=4),
        "temperature": Real(0.25, 4.0, log=True, default=1.0),
        "key_norm": Real(0.25, 2.0, default=1.0),
    },
    inputs=_draw,
    derivation=gaussian_kernel_factor,
    assemble=_derived_kernel_smoother,
    oracle=_kernel_and_attention,
    mutants={
        "Gaussian bandwidth sqrt(d) (factor 2 dropped)": _gaussian_without_the_two,
        "Laplace kernel exp(-||q - k|| / (tau sqrt d))": _laplace_kernel,
        "logits scaled by 1/d": _scaled_by_d,
        "no normalisation: sum_j K(q, k_j) v_j": _unnormalised,
        "the Gaussian kernel is K itself (c(q) forgotten)": _factor_forgotten,
        "c(q) = exp(-||q||^2 / (2 tau sqrt d)) (key norm left out)": _factor_without_key_norm,
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "no fixed tolerance: the oracle states, entry by entry, a bound on the gap between two float64 "
            "evaluations. Kernel values (numerics.attention.kernels.kernel_rounding_bound): with E = (max|q| + "
            "max|k|)^2 / (2 tau sqrt d) from the instance itself, the two log-kernels (from distances; from norms "
            "and the dot product) differ by at most 6 E gamma_(d+8), the exponentials and the product add gamma_6, "
            "and the kernel moves by at most twice that relatively (u = 2^-53). Outputs, convex combinations of the "
            "values (numerics.attention.kernels.smoother_rounding_bound): each weight is relatively off by twice "
            "the exponent error plus gamma_(n+1), and an output entry by that times max|v| plus gamma_n max|v|; "
            "two evaluations by twice the sum"
        ),
    ),
    anchors=SMOOTHER_ANCHORS,
    variants={"temperature": Real(0.25, 4.0, log=True), "key_norm": Real(0.25, 2.0)},
    values=_example_values,
    figures=_figures,
)
