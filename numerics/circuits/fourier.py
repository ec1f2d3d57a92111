"""The trigonometric algorithm for modular addition, computed the way the network computes it (numpy only).

:func:`trig_algorithm_logits` is the reference the grokking experiment compares a trained
model's logits with: from the Fourier basis of ``Z_p`` (read off numpy's FFT, not from a
cosine formula) it forms the products ``cos(w_k a) cos(w_k b) - sin(w_k a) sin(w_k b)`` and
``sin(w_k a) cos(w_k b) + cos(w_k a) sin(w_k b)`` and reads them against ``cos(w_k c)`` and
``sin(w_k c)``, summed over the key frequencies ``k`` (Nanda et al. 2023, section 4). No
trigonometric identity is used, so it is independent of the derived closed form
``cos(w_k (a + b - c))``.
"""

from __future__ import annotations

import functools

import numpy as np

NANDA_KEY_FREQUENCIES = (14, 35, 41, 42, 52)
"""The five key frequencies of Nanda et al.'s mainline model (p = 113), section 4.1."""


@functools.lru_cache(maxsize=4)
def fourier_basis(p: int) -> tuple[np.ndarray, np.ndarray]:
    """``(cos, sin)``, each ``(p, p)``, read-only: entry ``[x, k]`` is ``cos(2 pi k x / p)``, ``sin(2 pi k x / p)``.

    Row ``x`` of ``fft(I)`` is the DFT of the one-hot vector ``e_x``, ``exp(-2 pi i k x / p)``. A function of ``p``
    alone, computed once per ``p``: a check asks for it once per instance.
    """
    transform = np.fft.fft(np.eye(p))
    cos, sin = transform.real.copy(), -transform.imag
    cos.flags.writeable = sin.flags.writeable = False
    return cos, sin


def trig_algorithm_logits(a, b, key_frequencies, p: int) -> np.ndarray:
    """The logits over ``c = 0..p-1`` of the trigonometric algorithm for ``(a + b) mod p``.

    ``a`` and ``b`` are integer arrays (broadcast together; scalars allowed) of tokens in
    ``0..p-1``; ``key_frequencies`` the integers ``k`` the network uses. Returns an array of shape
    ``broadcast(a, b).shape + (p,)``: ``sum_k cos(w_k a + w_k b) cos(w_k c) + sin(w_k a + w_k b) sin(w_k c)``
    with ``w_k = 2 pi k / p``, each angle sum formed from the products of the embeddings' cosines and
    sines as the MLP forms them. Nanda et al. 2023, section 4.
    """
    cos, sin = fourier_basis(p)
    k = np.asarray(key_frequencies, dtype=int)
    a, b = np.broadcast_arrays(np.asarray(a, dtype=int), np.asarray(b, dtype=int))
    cos_a, sin_a, cos_b, sin_b = cos[a][..., k], sin[a][..., k], cos[b][..., k], sin[b][..., k]
    cos_sum = cos_a * cos_b - sin_a * sin_b  # cos(w_k (a + b)): the MLP's product
    sin_sum = sin_a * cos_b + cos_a * sin_b  # sin(w_k (a + b))
    return cos_sum @ cos[:, k].T + sin_sum @ sin[:, k].T  # the unembedding reads cos(w_k c), sin(w_k c)


def maximizers(logits: np.ndarray, atol: float = 1e-9) -> np.ndarray:
    """How many answers ``c`` attain the largest logit (within ``atol``), along the last axis."""
    return np.count_nonzero(logits >= logits.max(axis=-1, keepdims=True) - atol, axis=-1)


def logit_profile_figure(profiles: dict[str, np.ndarray], p: int):
    """``sum_k cos(2 pi k m / p)`` against ``m = a + b - c`` (mod ``p``), one line per set of key frequencies.

    Each profile holds the values at ``m = 0..p-1``; they are drawn at ``m = -(p-1)/2..(p-1)/2`` (the same
    residues), so that the right answer, ``m = 0``, is in the middle.
    """
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    figure = Figure(figsize=(5.6, 3.2))
    axes = figure.subplots()
    half = (p - 1) // 2
    m = np.arange(-half, half + 1)
    for (label, profile), style in zip(profiles.items(), ("-", "--", ":")):
        axes.plot(m, np.asarray(profile)[m % p], style, linewidth=1.0, label=label)
    axes.axvline(0, color="gray", linewidth=0.5)
    axes.set(xlabel=r"$m = a + b - c$ (mod $p$)", ylabel="logit", xlim=(-half, half))
    axes.grid(True, linewidth=0.3)
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    return figure
