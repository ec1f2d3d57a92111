"""``attention-kernel-smoother`` (seed 000, hours 1-2): a checked derivation (proofs.attention.kernels)
against softmax attention and the Gaussian-kernel smoother computed from distances (numerics.attention).

The checked quantity stacks two independent computations of the same outputs: softmax attention
at temperature ``tau`` (max-subtracted, from dot products) and the Nadaraya-Watson estimator with
the Gaussian kernel ``exp(-||q - k||^2 / (2 tau sqrt d))`` (from the differences ``q - k``). The
claim is the Nadaraya-Watson estimator with the derivation's closed form ``c(q) exp(q.k / (tau
sqrt d))`` as its kernel; it must match both.
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Integer, Real
from checkers.policies import Deterministic
from checkers.sampling import single_instance
from checkers.theorem import Theorem
from checkers.results import Plot
from numerics.attention.kernels import (
    attention_weights,
    gaussian_kernel_smoother,
    hard_attention_weights,
    nadaraya_watson,
    scaled_dot_product_attention,
    smoother_rounding_bound,
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


def _attention_and_gaussian_smoother(queries, keys, values, temperature, d):
    """``[softmax attention at tau, Gaussian-kernel smoother with width tau sqrt d]``: ``(m, 2, tokens, VALUE_DIM)``,
    with each instance's rounding bound (:func:`numerics.attention.kernels.smoother_rounding_bound`).

    Neither uses the closed form: the first works from dot products, the second from distances.
    """
    temperature = np.asarray(temperature, dtype=float)
    attention = scaled_dot_product_attention(queries / temperature[:, None, None], keys, values)
    smoother = gaussian_kernel_smoother(queries, keys, values, temperature * np.sqrt(d))
    return np.stack([attention, smoother], axis=1), smoother_rounding_bound(queries, keys, values, temperature)


def _twice(outputs: np.ndarray) -> np.ndarray:
    """A claim about the outputs, set against both computations of the oracle."""
    return np.stack([outputs, outputs], axis=1)


def _derived_kernel_smoother(closed_form, queries, keys, values, temperature, key_norm, d):
    """``sum_j K(q, k_j) v_j / sum_j K(q, k_j)``, ``K`` the compiled closed form ``c(q) exp(q.k / (tau sqrt d))``."""
    m, tokens = queries.shape[:2]
    shape = (m, tokens, tokens)

    def per_pair(per_instance):
        return np.broadcast_to(np.asarray(per_instance, dtype=float)[:, None, None], shape).ravel()

    kernel = closed_form(
        q_sq=np.broadcast_to((queries * queries).sum(axis=-1)[:, :, None], shape).ravel(),
        qk=(queries @ np.swapaxes(keys, 1, 2)).ravel(),
        r=per_pair(key_norm),
        tau=per_pair(temperature),
        d=d,
    ).reshape(shape)
    return _twice((kernel / kernel.sum(axis=-1, keepdims=True)) @ values)


def _gaussian_without_the_two(queries, keys, values, temperature, d):
    return _twice(gaussian_kernel_smoother(queries, keys, values, temperature * np.sqrt(d) / 2))


def _laplace_kernel(queries, keys, values, temperature, d):
    scale = (np.asarray(temperature, dtype=float) * np.sqrt(d))[:, None, None]
    return _twice(nadaraya_watson(-np.sqrt(squared_distances(queries, keys)) / scale, values))


def _scaled_by_d(queries, keys, values, temperature, d):
    scale = (np.asarray(temperature, dtype=float) * np.sqrt(d))[:, None, None]
    return _twice(scaled_dot_product_attention(queries / scale, keys, values))


def _unnormalised(queries, keys, values, temperature, d):
    scale = (np.asarray(temperature, dtype=float) * np.sqrt(d))[:, None, None]
    return _twice(np.exp(queries @ np.swapaxes(keys, 1, 2) / scale) @ values)


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
    attention = _attention_and_gaussian_smoother(**batch, d=d)[0][0, 0]
    # The claim: the Nadaraya-Watson estimator with the derived kernel (both of its stacked copies are equal).
    derived = attention_kernel_smoother.evaluate_claim(**batch, key_norm=np.array([key_norm]), d=d)[0, 0]
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
        r"$\sum_j K(q_i, k_j) v_j / \sum_j K(q_i, k_j)$ with the asymmetric kernel "
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
    oracle=_attention_and_gaussian_smoother,
    mutants={
        "Gaussian bandwidth sqrt(d) (factor 2 dropped)": _gaussian_without_the_two,
        "Laplace kernel exp(-||q - k|| / (tau sqrt d))": _laplace_kernel,
        "logits scaled by 1/d": _scaled_by_d,
        "no normalisation: sum_j K(q, k_j) v_j": _unnormalised,
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "no fixed tolerance: all three are convex combinations of the values, and the oracle states per "
            "instance a bound on the gap between any two float64 evaluations "
            "(numerics.attention.kernels.smoother_rounding_bound): with E = (max|q| + max|k|)^2 / (2 tau sqrt d) "
            "from the instance itself, every exponent is off by at most 6 E gamma_(d+8) (u = 2^-53), each weight "
            "relatively by twice that plus gamma_(n+1), and an output entry by that times max|v| plus "
            "gamma_n max|v|; two evaluations by twice the sum"
        ),
    ),
    values=_example_values,
    figures=_figures,
)
