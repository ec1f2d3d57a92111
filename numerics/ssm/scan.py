"""Prefix scans for the linear recurrence ``h_t = a_t h_(t-1) + b_t`` (numpy or torch arrays).

The step ``h -> a h + b`` is an affine map, and composing two of them is the operator

    (a1, b1) o (a2, b2) = (a2 a1, a2 b1 + b2)        ("first (a1, b1), then (a2, b2)"),

which is associative (for scalar and for matrix ``a``). So the states ``h_1, ..., h_L``
(with ``h_0 = 0``) are the ``b`` parts of the inclusive prefix scan of the pairs
``(a_t, b_t)``, and any parallel prefix algorithm computes them (Blelloch 1990, "Prefix sums
and their applications"; Martin and Cundy 2018; Gu and Dao 2023, Mamba, section 3.3).

The scan functions below work on *time-first* sequences: element ``t`` of the sequence is
``(a[t], b[t])``, whatever trailing shape it has, and ``op`` combines two equally long runs of
elements pairwise. They only slice, assign and call ``op``, so they run on numpy arrays and
on torch tensors alike. Each vectorised call of ``op`` is one *round* (a step of depth) that
combines some number of *pairs* (work); pass a :class:`Count` to tally them. They scan copies
of ``a`` and ``b`` unless ``overwrite=True`` (then ``a`` and ``b``, contiguous, are scanned in place):

* :func:`sequential_scan`: depth ``L - 1``, work ``L - 1``;
* :func:`hillis_steele_scan` (Hillis and Steele 1986): depth ``ceil(log2 L)``, work
  ``L log2 L - L + 1`` for ``L = 2^m`` (not work-efficient);
* :func:`blelloch_scan` (the work-efficient up-sweep/down-sweep tree of Blelloch 1990, in
  its inclusive Brent-Kung form): depth ``2 log2 L - 1``, work ``2L - log2 L - 2``;
* :func:`chunked_scan`: a sequential scan inside chunks of ``c`` (all chunks at once), a
  sequential scan of the chunk totals, one fix-up round: depth ``c + L/c - 1``, work
  ``2L - c - 1``, and only ``O(sqrt L)`` Python-level rounds for ``c ~ sqrt L``.

:func:`linear_recurrence` is the user's entry point over the *last* axis of torch tensors
(torch is imported there, so that the scans on numpy arrays do not load it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

Pair = tuple  # (a, b): two arrays whose first axis is time
Operator = Callable[[Pair, Pair], Pair]

RECURRENCE_METHODS = ("sequential", "hillis-steele", "blelloch", "chunked")


@dataclass
class Count:
    """What an instrumented scan did: ``depth`` rounds (vectorised combines), ``work`` pairs combined."""

    depth: int = 0
    work: int = 0


def combine(first: Pair, second: Pair) -> Pair:
    """``(a1, b1) o (a2, b2) = (a2 a1, a2 b1 + b2)`` for scalar (elementwise) ``a``."""
    a1, b1 = first
    a2, b2 = second
    return a2 * a1, a2 * b1 + b2


def combine_into(first: Pair, second: Pair) -> None:
    """``combine`` written into ``second``'s arrays (views of the scanned sequence): no temporaries.

    Only for rounds whose two runs do not overlap (sequential, Blelloch, chunked); the
    ``b`` part is updated first because it needs the old ``a2``.
    """
    a1, b1 = first
    a2, b2 = second
    if hasattr(b2, "addcmul_"):
        b2.addcmul_(a2, b1)
    else:
        b2 += a2 * b1
    a2 *= a1


IN_PLACE = {combine: combine_into}
"""Operators with an in-place form that the scans use for non-overlapping rounds (a speed-up only)."""


def matrix_combine(first: Pair, second: Pair) -> Pair:
    """The same operator for matrix ``a`` (``(..., k, k)``) and column ``b`` (``(..., k, 1)``): order matters."""
    a1, b1 = first
    a2, b2 = second
    return a2 @ a1, a2 @ b1 + b2


def _copy(x):
    """A contiguous copy (so that reshaping it gives views): ``clone`` for torch, ``copy`` for numpy."""
    return x.clone().contiguous() if hasattr(x, "clone") else x.copy()


def _inputs(a, b, overwrite: bool):
    """What a scan works on: ``a`` and ``b`` themselves if ``overwrite`` (contiguous, scanned in place), else copies."""
    if overwrite:
        return a, b
    return _copy(a), _copy(b)


def _round(op: Operator, first: Pair, second: Pair, count: Count | None, pairs: int | None = None) -> Pair:
    """One parallel round: ``op`` on runs of pairs; tallied in ``count`` (``pairs`` defaults to the run length)."""
    if count is not None:
        count.depth += 1
        count.work += len(first[1]) if pairs is None else pairs
    return op(first, second)


def _update(op: Operator, a, b, left, right, count: Count | None, pairs: int | None = None) -> None:
    """One round that replaces the elements at ``right`` by ``(element at left) o (element at right)``.

    ``left`` and ``right`` are indices (slices) of disjoint runs, so an in-place operator may
    write straight into them.
    """
    first, second = (a[left], b[left]), (a[right], b[right])
    if op in IN_PLACE:
        _round(IN_PLACE[op], first, second, count, pairs)
    else:
        a[right], b[right] = _round(op, first, second, count, pairs)


def sequential_scan(a, b, op: Operator = combine, count: Count | None = None, overwrite: bool = False) -> Pair:
    """The inclusive prefix scan one element at a time: the recurrence itself (depth and work ``L - 1``)."""
    a, b = _inputs(a, b, overwrite)
    for t in range(1, len(a)):
        _update(op, a, b, slice(t - 1, t), slice(t, t + 1), count)
    return a, b


def hillis_steele_scan(a, b, op: Operator = combine, count: Count | None = None, overwrite: bool = False) -> Pair:
    """Hillis-Steele: round ``d`` combines every element with the one ``2^d`` before it (all at once).

    After round ``d`` element ``t`` holds the combination of elements ``max(0, t - 2^(d+1) + 1) .. t``,
    so ``ceil(log2 L)`` rounds finish the scan; round ``d`` combines ``L - 2^d`` pairs.
    """
    a, b = _inputs(a, b, overwrite)
    offset = 1
    while offset < len(a):
        a[offset:], b[offset:] = _round(op, (a[:-offset], b[:-offset]), (a[offset:], b[offset:]), count)
        offset *= 2
    return a, b


def blelloch_scan(
    a, b, op: Operator = combine, count: Count | None = None, overwrite: bool = False, products: bool = True
) -> Pair:
    """Blelloch's work-efficient scan, inclusive form (Brent-Kung): an up-sweep, then a down-sweep.

    Up-sweep with stride ``s = 1, 2, 4, ...``: element ``2s k - 1`` absorbs element ``2s k - s - 1``,
    building a balanced tree of partial combinations (``L/2 + L/4 + ... = L - 1`` pairs for
    ``L = 2^m``). Down-sweep with stride ``s = ..., 2, 1``: element ``2s k + s - 1`` (``k >= 1``)
    absorbs the finished prefix at ``2s k - 1`` (``L - log2 L - 1`` pairs). Associativity is what
    makes the regrouping legal.

    The down-sweep never reads the ``a`` part of an element it updates again, so with
    ``products=False`` it updates only ``b``: the states are the same, the returned ``a`` is
    then not the cumulative product (a saving when only the states are wanted).
    """
    a, b = _inputs(a, b, overwrite)
    length = len(a)
    stride = 1
    while 2 * stride <= length:
        right, left = slice(2 * stride - 1, length, 2 * stride), slice(stride - 1, length - stride, 2 * stride)
        _update(op, a, b, left, right, count)
        stride *= 2
    while stride > 1:
        stride //= 2
        if 3 * stride - 1 >= length:  # no element to update at this stride
            continue
        right, left = slice(3 * stride - 1, length, 2 * stride), slice(2 * stride - 1, length - stride, 2 * stride)
        if products:
            _update(op, a, b, left, right, count)
        elif op in IN_PLACE:
            _round(_state_into, (None, b[left]), (a[right], b[right]), count)
        else:
            b[right] = _round(op, (a[left], b[left]), (a[right], b[right]), count)[1]
    return a, b


def _state_into(first: Pair, second: Pair) -> None:
    """The ``b`` part of :func:`combine_into` alone: ``b2 <- a2 b1 + b2``."""
    a2, b2 = second
    if hasattr(b2, "addcmul_"):
        b2.addcmul_(a2, first[1])
    else:
        b2 += a2 * first[1]


def chunked_scan(a, b, chunk: int, op: Operator = combine, count: Count | None = None, overwrite: bool = False) -> Pair:
    """Scan inside chunks of ``chunk`` elements (all chunks in one round per position), then pass the carries.

    1. each chunk's local prefixes, position by position, every chunk at once (``chunk - 1`` rounds);
    2. the inclusive scan of the chunk totals, sequentially (``chunks - 1`` rounds);
    3. one round that applies each chunk's incoming carry to all its local prefixes.

    Elements past the last whole chunk are appended one by one.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk}")
    length = len(a)
    chunks, whole = length // chunk, (length // chunk) * chunk
    a, b = _inputs(a, b, overwrite)
    if chunks > 1:
        # Views (chunks, chunk, ...) of the contiguous copies: rounds write straight into a and b.
        local_a = a[:whole].reshape(chunks, chunk, *a.shape[1:])
        local_b = b[:whole].reshape(chunks, chunk, *b.shape[1:])
        for t in range(1, chunk):
            _update(op, local_a, local_b, (slice(None), t - 1), (slice(None), t), count, chunks)
        carry_a, carry_b = sequential_scan(local_a[:, -1], local_b[:, -1], op, count)
        # Each chunk but the first receives the carry of all chunks before it.
        carried = (local_a[1:], local_b[1:])
        if op in IN_PLACE:
            _round(IN_PLACE[op], (carry_a[:-1, None], carry_b[:-1, None]), carried, count, chunk * (chunks - 1))
        else:
            local_a[1:], local_b[1:] = _round(
                op, (carry_a[:-1, None], carry_b[:-1, None]), carried, count, chunk * (chunks - 1)
            )
    for t in range(whole if chunks > 1 else 1, length):
        _update(op, a, b, slice(t - 1, t), slice(t, t + 1), count)
    return a, b


def default_chunk(length: int) -> int:
    """``~ sqrt(L)`` (a power of two): balances the in-chunk and the carry rounds."""
    return max(1, 2 ** round(math.log2(math.sqrt(max(length, 1)))))


def all_finite(x) -> bool:
    """No NaN or infinity in the tensor ``x``: one reduction, and the elementwise test only if the sum overflowed."""
    import torch

    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def _check_recurrence_inputs(a, b) -> None:
    import torch

    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name} must be a torch tensor, got {type(x).__name__}")
        if x.ndim < 1 or x.shape[-1] == 0:
            raise ValueError(f"{name} must have a non-empty last (time) axis, got shape {tuple(x.shape)}")
        if not all_finite(x):
            raise ValueError(f"{name} contains NaN or infinite values")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got a {tuple(a.shape)} and b {tuple(b.shape)}")


def sequential_recurrence(a, b):
    """The plain loop ``h_t = a_t h_(t-1) + b_t`` over the last axis of torch tensors (``h_0 = 0``): the reference."""
    import torch

    _check_recurrence_inputs(a, b)
    a_t, b_t = a.movedim(-1, 0), b.movedim(-1, 0)
    states = torch.empty_like(b_t)
    h = torch.zeros_like(b_t[0])
    for t in range(len(a_t)):
        h = a_t[t] * h + b_t[t]
        states[t] = h
    return states.movedim(0, -1)


def _time_first_copy(x):
    """A contiguous copy of ``x`` with its last axis first (never ``x`` itself: the scans overwrite it)."""
    moved = x.movedim(-1, 0)
    return moved.clone() if moved.is_contiguous() else moved.contiguous()


DEFAULT_RECURRENCE = "blelloch"
"""The fastest scan on the benchmarks' CPU in every regime measured (benchmarks/bench_ssm.py, CPU time,
one thread: 4 to 1024 channels, L = 512 to 4096). Python and dispatch overhead per round dominates
few channels and memory traffic many: Blelloch's in-place rounds, updating only the states on the
way down, issue the fewest operations (three per level, against Hillis-Steele's five on copies)
and do ``2L`` work, against Hillis-Steele's ``L log2 L``."""


def linear_recurrence(a, b, method: str | None = None, chunk: int | None = None):
    """All states of ``h_t = a_t h_(t-1) + b_t`` (``h_0 = 0``) over the last axis of ``a`` and ``b``.

    ``method``: ``"sequential"`` (the loop), ``"hillis-steele"``, ``"blelloch"`` or
    ``"chunked"`` (``chunk`` elements per chunk, default ``~ sqrt L``); ``None`` is
    :data:`DEFAULT_RECURRENCE`. Any device and float dtype.
    """
    _check_recurrence_inputs(a, b)
    method = method or DEFAULT_RECURRENCE
    if method == "sequential":
        return sequential_recurrence(a, b)
    # Time-first contiguous copies, scanned in place: every round reads and writes whole contiguous slices.
    a_t, b_t = _time_first_copy(a), _time_first_copy(b)
    if method == "hillis-steele":
        _, states = hillis_steele_scan(a_t, b_t, overwrite=True)
    elif method == "blelloch":
        _, states = blelloch_scan(a_t, b_t, overwrite=True, products=False)
    elif method == "chunked":
        _, states = chunked_scan(a_t, b_t, chunk or default_chunk(a.shape[-1]), overwrite=True)
    else:
        raise ValueError(f"method must be one of {', '.join(RECURRENCE_METHODS)} or None, got {method!r}")
    return states.movedim(0, -1)


def counted_costs(lengths) -> dict[str, list[tuple[int, int]]]:
    """``(depth, work)`` of an instrumented run of each scan on a scalar sequence of each length."""
    import numpy as np

    scans = {"sequential": sequential_scan, "Hillis-Steele": hillis_steele_scan, "Blelloch": blelloch_scan}
    costs = {name: [] for name in scans}
    for length in lengths:
        for name, scan in scans.items():
            count = Count()
            scan(np.ones(length), np.zeros(length), count=count)
            costs[name].append((count.depth, count.work))
    return costs


def cost_figure(lengths, counted: dict, formulas: dict):
    """Depth and work against ``L`` (log-log): counts as markers, ``formulas[name] = (depths, works)`` as lines."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.2), layout="constrained")
    depth_axes, work_axes = figure.subplots(1, 2)
    for (name, costs), colour in zip(counted.items(), ("C0", "C1", "C2")):
        depths, works = zip(*costs)
        depth_axes.loglog(lengths, depths, "o", color=colour, label=f"{name} (counted)")
        work_axes.loglog(lengths, works, "o", color=colour, label=f"{name} (counted)")
        depth_axes.loglog(lengths, formulas[name][0], "-", color=colour, label=f"{name} (derived)")
        work_axes.loglog(lengths, formulas[name][1], "-", color=colour, label=f"{name} (derived)")
    depth_axes.set(xlabel="L", ylabel="depth (rounds)", title="depth")
    work_axes.set(xlabel="L", ylabel="work (pairs combined)", title="work")
    depth_axes.legend(fontsize=6)
    for axes in (depth_axes, work_axes):
        axes.grid(True, which="both", alpha=0.3)
    return figure
