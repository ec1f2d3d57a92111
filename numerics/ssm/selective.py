"""Mamba's selective scan (S6) with the signature, shapes and semantics of ``selective_scan_ref``.

Gu and Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
section 3 and Algorithm 2; the reference is ``mamba_ssm.ops.selective_scan_interface.
selective_scan_ref``. For every batch ``b``, channel ``d`` and state ``n``::

    delta  <- softplus(delta + delta_bias)            (each step optional)
    h_t    =  exp(delta_t A_dn) h_(t-1) + delta_t B_tn u_t      (ZOH for A, Euler for B)
    y_t    =  sum_n C_tn h_tn  +  D_d u_t
    out_t  =  y_t * silu(z_t)                         (when z is given)

:func:`selective_scan_ref` is the reference, as in Mamba: the plain loop, one step at a time,
slow and obviously correct, with ``selective_scan_ref``'s signature; :func:`selective_scan` is
the fast path with the same signature and two more keywords. In :func:`selective_scan`,
``method`` chooses how the recurrence is evaluated: ``"sequential"`` (the loop, on inputs
discretised all at once), ``"parallel"`` (Blelloch's work-efficient log-depth scan of the pairs
``(exp(delta_t A), delta_t B_t u_t)``) or ``"chunked"`` (the same scan over blocks of steps
small enough to stay in cache, one block after another, each continuing from the state the
previous one left): all three compute the same states, only the roundings differ. No
log-space shortcut is taken (``exp(-A T)`` factors overflow or lose ``eps |A T|`` where decays
are extreme); every method computes the decays as ``2^(delta A log2 e)`` (:func:`_decay_rates`).
The default is ``"chunked"``, the fastest on CPU (benchmarks/bench_ssm.py: 5 to 6.7 times the
sequential loop in CPU time at batch 2, dim 64, N 16, L = 2048, float32, one thread, on a
busy 2-core machine).

Dtypes: float16/bfloat16 inputs are computed in float32 (as the reference does); float64
inputs stay float64 (the reference would round them to float32). The output has ``u``'s dtype;
the last state keeps the computing dtype (as the reference's does).
``A``, ``B``, ``C`` must be real: the reference also accepts complex ones (S4D's complex
diagonal ``A``, whose output is the real part), which are rejected here with a ValueError.
torch is imported inside the functions, so that listing the theorems does not load it.
"""

from __future__ import annotations

import math
import operator

from numerics.ssm.scan import all_finite, blelloch_scan

SELECTIVE_METHODS = ("sequential", "parallel", "chunked")
DEFAULT_METHOD = "chunked"
BLOCK_ELEMENTS = 2**19
"""The chunked method's time blocks hold about this many (step, batch, channel, state) entries (2 MiB in float32)."""


def _require_tensor(name: str, x, ndims: tuple[int, ...]) -> None:
    import torch

    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if x.ndim not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} dimensions, got shape {tuple(x.shape)}")
    if x.is_complex():
        raise ValueError(
            f"{name}: complex tensors are not supported (real A, B, C only; selective_scan_ref's complex S4D mode "
            "is not implemented)"
        )
    if not all_finite(x):
        raise ValueError(f"{name} contains NaN or infinite values")


def _check_shapes(u, delta, A, B, C, D, z, delta_bias) -> None:
    _require_tensor("u", u, (3,))
    batch, dim, length = u.shape
    if length == 0:
        raise ValueError(f"u must have at least one step (L >= 1), got shape {tuple(u.shape)}")
    _require_tensor("delta", delta, (3,))
    _require_tensor("A", A, (2,))
    if delta.shape != u.shape:
        raise ValueError(f"delta must have u's shape {tuple(u.shape)}, got {tuple(delta.shape)}")
    if A.shape[0] != dim:
        raise ValueError(f"A must have shape (dim, N) = ({dim}, N), got {tuple(A.shape)}")
    if (A > 0).any():
        raise ValueError("A must have no positive entries: exp(delta A) is a decay")
    state = A.shape[1]
    for name, x in (("B", B), ("C", C)):
        _require_tensor(name, x, (2, 3, 4))
        if x.ndim == 2 and x.shape != (dim, state):
            raise ValueError(f"{name} (time-invariant) must have shape ({dim}, {state}), got {tuple(x.shape)}")
        if x.ndim == 3 and x.shape != (batch, state, length):
            raise ValueError(
                f"{name} must have shape (batch, N, L) = ({batch}, {state}, {length}), got {tuple(x.shape)}"
            )
        if x.ndim == 4 and (x.shape[0] != batch or x.shape[2:] != (state, length) or dim % x.shape[1]):
            raise ValueError(
                f"{name} must have shape (batch, groups, N, L) = ({batch}, G, {state}, {length}) with G dividing "
                f"dim = {dim}, got {tuple(x.shape)}"
            )
    for name, x, shape in (("D", D, (dim,)), ("delta_bias", delta_bias, (dim,)), ("z", z, tuple(u.shape))):
        if x is not None:
            _require_tensor(name, x, (len(shape),))
            if tuple(x.shape) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {tuple(x.shape)}")


def _time_first(x, dim: int):
    """B or C as time-first ``(L, batch, dim or 1, N)`` (or ``(dim, N)`` when time-invariant).

    Groups are repeated over their channels: channel ``d`` uses group ``d // (dim / G)`` (Mamba).
    """
    if x.ndim == 2:
        return x
    if x.ndim == 3:
        return x.permute(2, 0, 1).contiguous()[:, :, None, :]
    return x.repeat_interleave(dim // x.shape[1], dim=1).permute(3, 0, 1, 2).contiguous()


def _decay_rates(A):
    """``A log2(e)``: the decays ``exp(delta A)`` are computed as ``2^(delta A log2 e)``.

    torch's ``exp2`` is about 2.5 times faster than ``exp`` on this project's CPUs (AVX-512),
    and the decays are the largest elementwise computation of every method. The rounding of
    ``A log2 e`` adds one rounding to the exponent: a relative error ``~ eps |delta A|`` in the
    decay, as the rounding of the product ``delta A`` already makes.
    """
    return A * math.log2(math.e)


def _time_first_rows(x):
    """``(batch, dim, L)`` as time-first ``(L, batch, dim)``, contiguous: one 2-D transpose (much faster than
    a 3-D permute)."""
    batch, dim, length = x.shape
    return x.reshape(batch * dim, length).t().contiguous().view(length, batch, dim)


def _discretise(u, delta, A, B):
    """Time-first ``(L, batch, dim, N)`` decays ``exp(delta A)`` and inputs ``delta B u`` (one broadcast each)."""
    import torch

    step = _time_first_rows(delta)[..., None]
    decay = torch.exp2_(step * _decay_rates(A))
    inputs = _time_first_rows(delta * u)[..., None] * _time_first(B, u.shape[1])
    return decay, inputs


def _readout(states, C):
    """``y_t = sum_n C_tn h_tn`` for time-first states ``(L, batch, dim, N)``; returns ``(batch, dim, L)``.

    Shared or time-invariant ``C`` is a batched matrix-vector product (no temporary of the states' size).
    """
    length, batch, dim, state = states.shape
    if C.ndim == 2:
        y = (states * C).sum(-1)
    elif C.ndim == 3:
        shared = C.permute(2, 0, 1).reshape(length * batch, state, 1)
        y = (states.reshape(length * batch, dim, state) @ shared).reshape(length, batch, dim)
    else:
        y = (states * _time_first(C, dim)).sum(-1)
    return y.permute(1, 2, 0)


def _sequential_states(decay, inputs, C):
    """The reference loop: ``h = exp(delta_t A) h + delta_t B_t u_t``, read out at every step."""
    import torch

    C = _time_first(C, decay.shape[2])
    h = torch.zeros_like(inputs[0])
    outputs = []
    for t in range(len(decay)):
        h = decay[t] * h + inputs[t]
        outputs.append((h * (C if C.ndim == 2 else C[t])).sum(-1))
    return torch.stack(outputs, dim=2), h


def _parallel_states(decay, inputs, C):
    """Blelloch's scan of the pairs (decay, input); the states read out at every step."""
    _, states = blelloch_scan(decay, inputs, overwrite=True, products=False)
    # A copy: the view states[-1] would keep the whole (L, batch, dim, N) buffer alive.
    return _readout(states, C), states[-1].clone()


def _channels_last(x, dim: int):
    """B or C time-first with the channel axis last: ``(L, batch, N, 1)`` when shared by the channels,
    ``(L, batch, N, dim)`` for groups (channel ``d`` in group ``d // (dim / G)``), ``(N, dim)`` when
    time-invariant: the layout of :func:`_chunked_states`'s states."""
    if x.ndim == 2:
        return x.t().contiguous()
    if x.ndim == 3:
        return x.permute(2, 0, 1).contiguous()[..., None]
    return x.repeat_interleave(dim // x.shape[1], dim=1).permute(3, 0, 2, 1).contiguous()


def _chunked_states(u, delta, A, B, C, block=None):
    """Blocks of ``block`` steps (default ``~ BLOCK_ELEMENTS / (batch dim N)``) one after another, each scanned at once.

    The states are laid out ``(step, batch, N, dim)``: the channel axis last, so that every
    product runs along contiguous channels and the readout ``y_t = sum_n C_tn h_tn`` is one
    batched matrix product (a sum over short rows of N would not vectorise). The steps
    ``delta``, the drives ``delta u`` and ``B``, ``C`` are laid out once for the whole sequence
    (they have no state axis: N times smaller than the states). Each block's decays and inputs
    are written into two buffers that every block reuses, so they stay in cache; the state
    carried in from the previous block is folded into the block's first input
    (``h_start = exp(delta A) h_carried + delta B u``), the block is Blelloch-scanned in place
    (states only) and read out. The arithmetic is the same scan as ``"parallel"``.
    """
    import torch

    batch, dim, length = u.shape
    state = A.shape[1]
    block = min(length, block or max(16, BLOCK_ELEMENTS // (batch * dim * state)))
    step, drive = _time_first_rows(delta)[:, :, None, :], _time_first_rows(delta * u)[:, :, None, :]
    decay_rates, B, C = _decay_rates(A).t().contiguous(), _channels_last(B, dim), _channels_last(C, dim)
    decays, inputs = u.new_empty(block, batch, state, dim), u.new_empty(block, batch, state, dim)
    y = u.new_empty(length, batch, 1, dim)
    carry = u.new_zeros(batch, state, dim)
    for start in range(0, length, block):
        steps = slice(start, min(start + block, length))
        decay, states = decays[: steps.stop - start], inputs[: steps.stop - start]
        torch.mul(step[steps], decay_rates, out=decay).exp2_()
        torch.mul(drive[steps], B if B.ndim == 2 else B[steps], out=states)
        states[0].addcmul_(decay[0], carry)
        blelloch_scan(decay, states, overwrite=True, products=False)
        readout = C if C.ndim == 2 else C[steps]
        if readout.shape[-1] == 1:  # C shared by the channels: (1 x N) @ (N x dim) per step and batch
            torch.matmul(readout.transpose(-1, -2), states, out=y[steps])
        else:
            torch.sum(states * readout, dim=-2, keepdim=True, out=y[steps])
        carry.copy_(states[-1])
    return y.view(length, batch * dim).t().contiguous().view(batch, dim, length), carry.transpose(1, 2).contiguous()


def _steps_per_block(block) -> int:
    """``block`` as a positive Python int (numpy integers too; not bool)."""
    try:
        if isinstance(block, bool):
            raise TypeError
        block = operator.index(block)
    except TypeError:
        raise ValueError(f"block must be a positive integer (steps per block), got {block!r}") from None
    if block < 1:
        raise ValueError(f"block must be a positive integer (steps per block), got {block!r}")
    return block


def selective_scan(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    delta_bias=None,
    delta_softplus=False,
    return_last_state=False,
    method=None,
    block=None,
):
    """Mamba's selective scan, fast; drop-in for ``selective_scan_ref`` (see the module docstring for the formulas).

    u, delta: (batch, dim, L); A: (dim, N), no positive entries; B, C: (batch, N, L),
    (batch, groups, N, L) with groups dividing dim, or time-invariant (dim, N); D, delta_bias:
    (dim,); z: (batch, dim, L). Returns out (batch, dim, L), and with ``return_last_state``
    also the last state (batch, dim, N). ``method``: "sequential", "parallel" or "chunked"
    (default: ``DEFAULT_METHOD``); ``block``: steps per block of "chunked", an integer (numpy's
    too) (default: blocks of about ``BLOCK_ELEMENTS`` entries). A, B, C must be real (the
    reference's complex mode is not implemented). Bad input (shapes, L = 0, NaN, complex or
    positive A, a block that is not a positive integer): ValueError naming it.
    """
    import torch
    import torch.nn.functional as F

    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    method = method or DEFAULT_METHOD
    if method not in SELECTIVE_METHODS:
        raise ValueError(f"method must be one of {', '.join(SELECTIVE_METHODS)}, got {method!r}")
    block = None if block is None else _steps_per_block(block)
    dtype_in = u.dtype
    dtype = torch.float64 if torch.float64 in (u.dtype, delta.dtype, A.dtype, B.dtype, C.dtype) else torch.float32
    u, delta, A, B, C = (x.to(dtype) for x in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    if method == "chunked":
        y, last_state = _chunked_states(u, delta, A, B, C, block)
    else:
        states = {"sequential": _sequential_states, "parallel": _parallel_states}[method]
        y, last_state = states(*_discretise(u, delta, A, B), C)
    out = y if D is None else y + u * D.to(dtype)[:, None]
    if z is not None:
        out = out * F.silu(z.to(dtype))
    out = out.to(dtype_in)
    return (out, last_state) if return_last_state else out


def _per_channel_and_step(x, batch: int, dim: int, length: int):
    """B or C as ``(batch, dim, N, L)``: time-invariant ``(dim, N)`` held over time, ``(batch, N, L)`` shared by
    every channel, or ``(batch, groups, N, L)`` with channel ``d`` in group ``d // (dim / groups)``."""
    if x.ndim == 2:
        return x[None, :, :, None].expand(batch, dim, x.shape[1], length)
    if x.ndim == 3:
        return x[:, None].expand(batch, dim, *x.shape[1:])
    return x.repeat_interleave(dim // x.shape[1], dim=1)


def selective_scan_ref(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False
):
    """The reference selective scan: the plain loop over time, as Mamba's ``selective_scan_ref``.

    Same signature, shapes, dtypes and checks as :func:`selective_scan` (without ``method`` and
    ``block``): for every step ``t``, ``h = exp(delta_t A) h + delta_t B_t u_t`` and
    ``y_t = sum_n C_tn h_tn``, then ``out = (y + D u) silu(z)``. Slow (one Python step per time
    step) and written to be read: the computation :func:`selective_scan` is tested against.
    """
    import torch
    import torch.nn.functional as F

    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    dtype_in = u.dtype
    dtype = torch.float64 if torch.float64 in (u.dtype, delta.dtype, A.dtype, B.dtype, C.dtype) else torch.float32
    u, delta, A, B, C = (x.to(dtype) for x in (u, delta, A, B, C))
    batch, dim, length = u.shape
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    B, C = (_per_channel_and_step(x, batch, dim, length) for x in (B, C))
    h = u.new_zeros(batch, dim, A.shape[1])
    y = u.new_empty(batch, dim, length)
    for t in range(length):
        h = torch.exp(delta[:, :, t, None] * A) * h + (delta[:, :, t] * u[:, :, t])[..., None] * B[..., t]
        y[:, :, t] = (h * C[..., t]).sum(-1)
    out = y if D is None else y + u * D.to(dtype)[:, None]
    if z is not None:
        out = out * F.silu(z.to(dtype))
    out = out.to(dtype_in)
    return (out, h) if return_last_state else out
