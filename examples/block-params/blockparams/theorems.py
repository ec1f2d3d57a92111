"""How many parameters has one transformer encoder block of width d?

Both theorems compare a formula with PyTorch's own ``TransformerEncoderLayer`` (one head,
feed-forward width 4d, biases and both layer norms), counted on the ``meta`` device so
that no weights are allocated. The first formula is right. The second is the rule of
thumb ``12 d^2``, which forgets the biases and the layer norms: its check fails, and the
failure names the smallest width where it is wrong.
"""

import numpy as np
import torch

import transformer_proofs as tp

WIDTH = tp.Integer(1, 2048, default=768)


def counted_parameters(d):
    """Parameters of ``torch.nn.TransformerEncoderLayer(d, 1, 4 d)``, one instance at a time."""
    counts = []
    for width in np.atleast_1d(d):
        layer = torch.nn.TransformerEncoderLayer(int(width), 1, 4 * int(width), device="meta")
        counts.append(sum(p.numel() for p in layer.parameters()))
    return np.array(counts, dtype=float)


block_parameters = tp.Theorem(
    id="block-parameters",
    title="Parameters of a transformer encoder block",
    topic="user",
    statement=r"A block of width $d$ with feed-forward width $4d$ has $12 d^2 + 13 d$ parameters.",
    assumptions=(r"one attention head; biases on every linear map; two layer norms with gain and bias",),
    sources=("Vaswani et al. 2017; torch.nn.TransformerEncoderLayer",),
    parameters={"d": WIDTH},
    claim=lambda d: 12.0 * d**2 + 13.0 * d,
    oracle=counted_parameters,
    mutants={
        "12 d^2 (no biases, no norms)": lambda d: 12.0 * d**2,
        "8 d^2 + 13 d (feed-forward counted once)": lambda d: 8.0 * d**2 + 13.0 * d,
        "12 d^2 + 9 d (no layer norms)": lambda d: 12.0 * d**2 + 9.0 * d,
    },
)

rule_of_thumb = tp.Theorem(
    id="block-parameters-rule-of-thumb",
    title="The 12 d^2 rule of thumb, taken literally",
    topic="user",
    statement=r"A block of width $d$ with feed-forward width $4d$ has $12 d^2$ parameters.",
    parameters={"d": WIDTH},
    claim=lambda d: 12.0 * d**2,
    oracle=counted_parameters,
    mutants={"4 d^2 (attention only)": lambda d: 4.0 * d**2},
)
