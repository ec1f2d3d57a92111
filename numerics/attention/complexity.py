"""Measured FLOPs and memory of attention layers in torch (no closed forms).

The layers are ordinary torch code (:func:`softmax_attention`, :func:`linear_attention`);
:func:`measure_costs` runs one under two dispatch-level counters:

* ``torch.utils.flop_counter.FlopCounterMode``, torch's own FLOP counter (matrix products
  at ``2 m k n``; pointwise operations such as softmax are not counted);
* :func:`_allocation_counter`, which records every tensor the aten operations return whose
  storage is new (views such as ``K.T`` share their input's storage and allocate nothing) and
  sums the storages' bytes. Storages are told apart by their C++ storage object, and every
  returned tensor is kept alive until the layer finishes, so none is freed and replaced by a
  new one at the same address: no allocation is missed or counted twice.

The counts are per sequence: a batch of sequences runs as batched products and the totals are
divided by the batch size (each batched product is exactly ``batch`` per-sequence products).
On ``device="meta"`` torch dispatches the same aten operations but its meta kernels only
compute the output shapes, without arithmetic: FLOPs and allocations depend on shapes only,
so the counts are those of a CPU run (the tests compare the two), at a fraction of the time.
:func:`flops_figure` draws given FLOP curves against torch's counts for the handout. torch and
matplotlib are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import math

import numpy as np

LAYERS = ("softmax", "linear")
DTYPES = {4: "float32", 8: "float64"}
"""Bytes per element and the torch dtype measured for it."""


def softmax_attention(X, W_Q, W_K, W_V, W_O):
    """``softmax(Q K^T / sqrt(d)) V W_O`` with ``Q, K, V = X W_Q, X W_K, X W_V`` (Vaswani et al. 2017, eq. 1)."""
    import torch

    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    scores = (Q @ K.transpose(-1, -2)) / math.sqrt(X.shape[-1])
    return (torch.softmax(scores, dim=-1) @ V) @ W_O


def linear_attention(X, W_Q, W_K, W_V, W_O):
    """``Q (K^T V) W_O``: attention without softmax, the ``d x d`` summary formed first (Katharopoulos et al. 2020)."""
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    return (Q @ (K.transpose(-1, -2) @ V)) @ W_O


def _allocation_counter(known_storages):
    """A dispatch mode that sums the bytes of every new storage an aten operation returns."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    import torch

    class AllocationCounter(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.known = set(known_storages)
            self.bytes = 0
            self.alive = []  # keeps every output alive so that no storage address is reused

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for tensor in tree_leaves(out):
                if isinstance(tensor, torch.Tensor):
                    storage = tensor.untyped_storage()
                    if storage._cdata not in self.known:  # the StorageImpl, shared by views (meta: no data pointer)
                        self.known.add(storage._cdata)
                        self.bytes += storage.nbytes()
                    self.alive.append(tensor)
            return out

    return AllocationCounter()


def measure_costs(layer: str, T: int, d: int, *, bytes_per_element: int = 8, batch: int = 1, layers: int = 1,
                  seed: int = 0, device: str = "cpu") -> tuple[float, float]:
    """``(FLOPs, bytes allocated)`` per sequence of ``layers`` stacked attention layers, measured in torch.

    ``layer`` is ``"softmax"`` or ``"linear"``; the input is a batch of ``batch`` random
    sequences ``X`` of shape ``(T, d)`` and each layer has random ``d x d`` weights; the
    measurement runs without autograd (so nothing but the layer's own tensors is allocated).
    ``device`` is ``"cpu"``, ``"cuda"`` or ``"meta"`` (shapes only, no arithmetic).
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    for name, value in (("T", T), ("d", d), ("batch", batch), ("layers", layers)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if bytes_per_element not in DTYPES:
        raise ValueError(f"bytes_per_element must be one of {sorted(DTYPES)}, got {bytes_per_element!r}")
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    dtype = getattr(torch, DTYPES[bytes_per_element])
    if device not in ("cpu", "cuda", "meta"):
        raise ValueError(f"device must be cpu, cuda or meta, got {device!r}")
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape):
        if device == "meta":  # a meta tensor has a shape and no values to draw
            return torch.empty(*shape, dtype=dtype, device="meta")
        return torch.randn(*shape, dtype=dtype, generator=generator).to(device)

    X = draw(int(T), int(d)) if batch == 1 else draw(batch, int(T), int(d))
    weights = [[draw(int(d), int(d)) for _ in range(4)] for _ in range(layers)]
    function = softmax_attention if layer == "softmax" else linear_attention
    inputs = [X] + [w for layer_weights in weights for w in layer_weights]
    flops = FlopCounterMode(display=False)
    allocations = _allocation_counter(t.untyped_storage()._cdata for t in inputs)
    with torch.no_grad(), flops, allocations:
        Y = X
        for layer_weights in weights:
            Y = function(Y, *layer_weights)
    return flops.get_total_flops() / batch, allocations.bytes / batch


def attention_layer_costs(T: int, d: int, bytes_per_element: int, n: int, device: str = "meta") -> np.ndarray:
    """The measured ``(F_softmax, M_softmax, F_linear, M_linear)`` of one layer, for ``n`` instances of these sizes.

    The counts depend on the sizes only, so each layer runs once, on one sequence (2-D tensors: the
    fewest aten operations), and the row is repeated; a batch of ``n`` sequences costs exactly
    ``n`` times as much (the tests check this).
    """
    costs = [value for layer in LAYERS
             for value in measure_costs(layer, T, d, bytes_per_element=bytes_per_element, device=device)]
    return np.tile(np.array(costs, dtype=float), (n, 1))


def flops_figure(lengths, closed_forms, d: int, bytes_per_element: int, probe_every: int = 6):
    """FLOPs of one layer against sequence length ``T`` at width ``d``: given curves as lines, torch's counts as points.

    ``closed_forms`` maps each layer of :data:`LAYERS` to its predicted FLOPs at ``lengths`` (the
    caller's closed forms; nothing here derives them); every ``probe_every``-th length is measured
    with :func:`measure_costs`. The crossover ``T = d`` is marked. A ``Figure`` built without
    pyplot (no global state); the same inputs give the same drawing.
    """
    # Imported here: matplotlib is only needed when a handout is drawn (listing theorems stays fast).
    from matplotlib.figure import Figure

    lengths = np.asarray(lengths)
    figure = Figure(figsize=(5.0, 3.4))
    axes = figure.add_subplot()
    for (layer, predicted), colour in zip(closed_forms.items(), ("C0", "C1", "C2")):
        if layer not in LAYERS:
            raise ValueError(f"closed_forms has layer {layer!r}; expected one of {LAYERS}")
        axes.loglog(lengths, predicted, color=colour, label=f"{layer} (closed form)")
        probes = lengths[::probe_every]
        measured = [measure_costs(layer, int(t), d, bytes_per_element=bytes_per_element)[0] for t in probes]
        axes.loglog(probes, measured, "o", color=colour, fillstyle="none", label=f"{layer} (torch FlopCounterMode)")
    axes.axvline(d, color="0.5", linestyle=":", label=f"crossover T = d = {d}")
    axes.set_xlabel("sequence length T")
    axes.set_ylabel("FLOPs of one layer")
    axes.legend(fontsize=7)
    figure.tight_layout()
    return figure
