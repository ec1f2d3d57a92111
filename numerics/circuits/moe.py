"""Mixture-of-experts layers computed two ways, and the rounding bound for comparing them (numpy / torch).

* :func:`expert_outputs`: every expert's output on every token, ``relu(x W_1^e) W_2^e`` (numpy): what a
  dense mixture computes;
* :func:`routed_mixture`: the routed layer as it runs, in torch: the router's ``torch.topk`` picks each
  token's ``k`` experts, ``torch.softmax`` of their logits gives the gates, and each token is sent
  through those experts' weights only, under ``torch.utils.flop_counter.FlopCounterMode``; the same
  counter measures the dense mixture (every expert on every token);
* :func:`mixture_rounding_bound`: how far two float64 evaluations of the layer's output can be apart.
"""

from __future__ import annotations

import numpy as np

from numerics.attention.kernels import UNIT_ROUNDOFF, gamma, softmax_weight_error
from numerics.threads import one_torch_thread


def expert_outputs(X, W_1, W_2) -> np.ndarray:
    """``(m, n, E, d_model)``: ``relu(x W_1^e) W_2^e`` for every token ``x`` of ``X (m, n, d_model)`` and every expert.

    ``W_1`` is ``(m, E, d_model, d_ff)`` and ``W_2`` is ``(m, E, d_ff, d_model)``.
    """
    hidden = np.maximum(np.einsum("mnd,medf->mnef", X, W_1), 0.0)
    return np.einsum("mnef,mefd->mned", hidden, W_2)


def _expert(x, W_1, W_2):
    import torch

    return torch.relu(x @ W_1) @ W_2


def routed_mixture(X, W_r, W_1, W_2, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(Y, gates, routed FLOPs, dense FLOPs)`` of a top-``k`` mixture-of-experts layer, run as it runs, in torch.

    ``X`` is ``(m, n, d_model)``, the router ``W_r`` ``(m, d_model, E)``, the experts ``W_1``
    ``(m, E, d_model, d_ff)`` and ``W_2`` ``(m, E, d_ff, d_model)``. Each token goes to the experts of its
    ``k`` largest router logits (``torch.topk``) with gates ``torch.softmax`` of those logits: the chosen
    experts' weights are gathered for each (instance, token, slot), so a token meets those ``k`` experts
    and no other, and the outputs are added with their gates. ``FlopCounterMode`` counts the experts'
    products (the router's are left outside the counter) for the whole group at once: every instance
    has the same shapes, so each one's count is the total over ``m``; the dense mixture, every expert on
    all the tokens, is counted the same way on the group's first instance (its cost depends on the
    shapes only). Returns ``Y (m, n, d_model)``, the gates the router gave each expert ``(m, n, E)`` (0 for
    the experts not chosen) and the counts ``(m,)``.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    X, W_r, W_1, W_2 = (torch.as_tensor(np.asarray(a, dtype=float)) for a in (X, W_r, W_1, W_2))
    m, n, _ = X.shape
    with one_torch_thread(), torch.no_grad():
        top = torch.topk(X @ W_r, k, dim=-1)
        gates = torch.softmax(top.values, dim=-1)
        instance = torch.arange(m)[:, None, None]
        tokens = X[:, :, None, None, :]  # (m, n, 1, 1, d_model)
        W_in, W_out = W_1[instance, top.indices], W_2[instance, top.indices]  # (m, n, k, ...): sliced before counting
        counter = FlopCounterMode(display=False)
        with counter:
            outputs = _expert(tokens, W_in, W_out)  # (m, n, k, 1, d_model): each token through its k experts only
        routed = np.full(m, counter.get_total_flops() / m)
        Y = (gates[..., None] * outputs[:, :, :, 0]).sum(dim=2)
        counter = FlopCounterMode(display=False)
        with counter:  # the dense mixture: every expert on all the tokens
            _expert(X[0][None], W_1[0], W_2[0])
    chosen = torch.zeros(m, n, W_r.shape[-1], dtype=X.dtype).scatter(-1, top.indices, gates)
    return Y.numpy(), chosen.numpy(), routed, np.full(m, float(counter.get_total_flops()))


def mixture_rounding_bound(X, W_r, W_1, W_2, gates) -> np.ndarray:
    """``(m, n, d_model)``: a bound on ``|Y - Y'|`` for two float64 evaluations with the same chosen experts.

    ``gates`` ``(m, n, E)`` are the layer's gates (0 off the top ``k``). Each expert's output is a chain of
    ``d_model + d_ff`` terms (relu is exact), within ``gamma |x| |W_1| |W_2|`` of exact; the mixture adds
    ``E`` gated outputs (``gamma_(d_model + d_ff + E + 2)`` in all, Higham section 3.5). Each logit is
    within ``gamma_d |x| |W_r|``; the gates then move relatively by
    :func:`numerics.attention.kernels.softmax_weight_error` of twice the largest logit error plus
    ``2 u`` of the largest logit (the max shift). Two evaluations differ by twice each.
    A near-tie at the ``k``-th logit, within rounding, could change the experts chosen; with continuous
    random weights that has probability about ``1e-15`` per token and is not covered.
    """
    X, W_r, W_1, W_2 = (np.abs(np.asarray(a, dtype=float)) for a in (X, W_r, W_1, W_2))
    _, n, d_model = X.shape
    E, d_ff = W_1.shape[1], W_1.shape[3]
    magnitude = np.einsum("mnd,medf,mefc->mnec", X, W_1, W_2)  # |x| |W_1^e| |W_2^e|
    logits = X @ W_r
    exponent_error = 2 * gamma(d_model) * logits.max(axis=-1) + 2 * UNIT_ROUNDOFF * logits.max(axis=-1)
    gate_error = 2 * gates * softmax_weight_error(exponent_error, E)[..., None]
    chain = 2 * gamma(d_model + d_ff + E + 2)
    return np.einsum("mne,mned->mnd", chain * gates + gate_error, magnitude)
