"""Mamba-2's state space duality (SSD): one scalar-decay SSM computed three ways (torch).

Dao and Gu 2024, "Transformers are SSMs: Generalized Models and Efficient Algorithms Through
Structured State Space Duality", sections 3-6 and Listing 1 (``ssd_minimal_discrete`` in
``mamba_ssm/modules/ssd_minimal.py``). Per batch and head, with state ``h_t`` of shape
``(p, N)``::

    h_t = exp(A_t) h_(t-1) + x_t B_t^T,        y_t = h_t C_t

(``A_t <= 0`` is the per-step log decay, already multiplied by the step size). Unrolled,
``y_i = sum_(j <= i) L_ij (C_i . B_j) x_j`` with the 1-semiseparable mask
``L_ij = exp(A_(j+1) + ... + A_i) = a_(j+1) ... a_i`` (``a_t = exp(A_t)``): masked linear
attention ``Y = (L o C B^T) X``.

* :func:`ssd_recurrent`: the recurrence, one step at a time (linear in ``L``, sequential);
* :func:`ssd_quadratic`: the masked-attention form (quadratic in ``L``);
* :func:`ssd`: the chunked algorithm: the quadratic form inside blocks of ``block_len``,
  the recurrence between blocks on the states at block boundaries (the off-diagonal blocks of
  ``L`` have rank one). Also importable as ``ssd_minimal_discrete``.

Causal linear attention is the case ``A = 0``: ``Y = (tril o Q K^T) V`` equals the RNN
``S_t = S_(t-1) + k_t v_t^T``, ``y_t = S_t^T q_t`` (:func:`causal_linear_attention`,
:func:`linear_attention_rnn`; Katharopoulos et al. 2020, section 3.4).

Shapes (Mamba-2's): X (batch, L, heads, p), L >= 1; A (batch, L, heads); B, C (batch, L,
groups, N) with groups dividing heads (head ``h`` uses group ``h // (heads / groups)``); initial
and final states (batch, heads, p, N). X, A, B, C and the initial state share one real
floating dtype and device. Returns ``(Y, final_state)``. Bad input: ValueError naming it. torch is imported inside the
functions, so that listing the theorems does not load it.
"""

from __future__ import annotations

import operator

from numerics.ssm.scan import all_finite, sequential_scan

SPAN_STEPS = 1024
"""``ssd`` works through long sequences in spans of about this many steps (a multiple of ``block_len``)."""


def _check_ssd_inputs(X, A, B, C, initial_states=None) -> None:
    import torch

    for name, x, ndim in (("X", X, 4), ("A", A, 3), ("B", B, 4), ("C", C, 4)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name} must be a torch tensor, got {type(x).__name__}")
        if x.ndim != ndim:
            raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{name} must be a real floating-point tensor, got dtype {x.dtype}")
        _check_like_X(name, x, X)
        if not all_finite(x):
            raise ValueError(f"{name} contains NaN or infinite values")
    batch, length, heads, _ = X.shape
    if length == 0:
        raise ValueError(f"X must have at least one step (L >= 1), got shape {tuple(X.shape)}")
    if A.shape != (batch, length, heads):
        raise ValueError(f"A must have shape (batch, L, heads) = {(batch, length, heads)}, got {tuple(A.shape)}")
    if (A > 0).any():
        raise ValueError("A must have no positive entries: A holds per-step log decays")
    if B.shape != C.shape:
        raise ValueError(f"B and C must have the same shape, got B {tuple(B.shape)} and C {tuple(C.shape)}")
    if B.shape[:2] != (batch, length) or heads % B.shape[2]:
        raise ValueError(
            f"B must have shape (batch, L, groups, N) = ({batch}, {length}, G, N) with G dividing heads = {heads}, "
            f"got {tuple(B.shape)}"
        )
    if initial_states is not None:
        state = (batch, heads, X.shape[3], B.shape[3])
        if not isinstance(initial_states, torch.Tensor) or tuple(initial_states.shape) not in (
            state,
            state[:1] + (1,) + state[1:],
        ):
            raise ValueError(
                f"initial_states must have shape (batch, heads, p, N) = {state} (or Mamba's with a block axis of 1)"
            )
        _check_like_X("initial_states", initial_states, X)
        if not all_finite(initial_states):
            raise ValueError("initial_states contains NaN or infinite values")


def _check_like_X(name: str, x, X) -> None:
    """``x`` has X's dtype and device (torch would otherwise fail deep inside, without naming it)."""
    if x.dtype != X.dtype or x.device != X.device:
        raise ValueError(
            f"{name} has dtype {x.dtype} on {x.device}, but X has {X.dtype} on {X.device}: X, A, B, C and "
            "initial_states must share one dtype and device"
        )


def _block_length(block_len, length: int) -> int:
    """``block_len`` as a Python int (numpy integers too; not bool), checked to divide ``length``."""
    try:
        if isinstance(block_len, bool):
            raise TypeError
        block_len = operator.index(block_len)
    except TypeError:
        raise ValueError(f"block_len must be a positive integer dividing L = {length}, got {block_len!r}") from None
    if block_len < 1 or length % block_len:
        raise ValueError(f"block_len must be a positive integer dividing L = {length}, got {block_len!r}")
    return block_len


def _per_head(x, heads: int):
    """B or C ``(batch, L, groups, N)`` as ``(batch, L, heads, N)``."""
    return x.repeat_interleave(heads // x.shape[2], dim=2)


def _initial(initial_states, X, B):
    """The initial state as (batch, heads, p, N); Mamba's (batch, 1, heads, p, N) is accepted too."""
    batch, _, heads, p = X.shape
    if initial_states is None:
        return X.new_zeros(batch, heads, p, B.shape[3])
    return initial_states.reshape(batch, heads, p, B.shape[3])


def segment_sums(A):
    """``S[..., i, j] = A_(j+1) + ... + A_i`` for ``i >= j`` (0 on the diagonal), ``-inf`` above it.

    Summed along each column from the diagonal down (a masked cumsum), not as a difference of
    prefix sums: the difference of two large prefix sums cancels and loses ``eps |prefix|``.
    """
    import torch

    length = A.shape[-1]
    below = torch.ones(length, length, dtype=torch.bool, device=A.device).tril(-1)
    terms = A[..., :, None].expand(*A.shape, length).masked_fill(~below, 0.0)
    sums = terms.cumsum(dim=-2)
    return sums.masked_fill(~below.logical_or(torch.eye(length, dtype=torch.bool, device=A.device)), -torch.inf)


def ssd_mask(A):
    """The 1-semiseparable mask ``L_ij = exp(A_(j+1) + ... + A_i)`` (``i >= j``), 0 above: (..., L) -> (..., L, L)."""
    import torch

    return torch.exp(segment_sums(A))


def ssd_recurrent(X, A, B, C, initial_states=None):
    """``h_t = exp(A_t) h_(t-1) + x_t B_t^T``, ``y_t = h_t C_t``, one step at a time: (Y, final_state)."""
    import torch

    _check_ssd_inputs(X, A, B, C, initial_states)
    heads = X.shape[2]
    B, C = _per_head(B, heads), _per_head(C, heads)
    h = _initial(initial_states, X, B)
    decay = torch.exp(A)
    outputs = []
    for t in range(X.shape[1]):
        h = decay[:, t, :, None, None] * h + X[:, t, :, :, None] * B[:, t, :, None, :]
        outputs.append((h * C[:, t, :, None, :]).sum(-1))
    return torch.stack(outputs, dim=1), h


def ssd_quadratic(X, A, B, C, initial_states=None):
    """The masked-attention form ``Y = (L o C B^T) X`` per head (cost ``L^2``): (Y, final_state)."""
    import torch

    _check_ssd_inputs(X, A, B, C, initial_states)
    heads = X.shape[2]
    B, C = _per_head(B, heads), _per_head(C, heads)
    mask = ssd_mask(A.transpose(1, 2))  # (batch, heads, L, L)
    scores = torch.einsum("bihn,bjhn->bhij", C, B) * mask
    Y = torch.einsum("bhij,bjhp->bihp", scores, X)
    final = torch.einsum("bhj,bjhp,bjhn->bhpn", mask[:, :, -1], X, B)
    h0 = _initial(initial_states, X, B)
    if initial_states is not None:
        # The initial state decays by exp(A_1 + ... + A_i) before it is read at step i.
        carried = torch.exp(A.cumsum(dim=1))  # (batch, L, heads)
        Y = Y + carried[..., None] * torch.einsum("bhpn,bihn->bihp", h0, C)
        final = final + carried[:, -1, :, None, None] * h0
    return Y, final


def ssd(X, A, B, C, block_len, initial_states=None):
    """The chunked SSD algorithm (Mamba-2's ``ssd_minimal_discrete``): (Y, final_state).

    With blocks of ``block_len`` steps (an integer, numpy's too, dividing L):

    1. inside each block, the quadratic form with the block's own mask (diagonal blocks of L);
    2. each block's contribution to the state at its end: ``sum_j exp(A_(j+1) + ... + A_end) x_j B_j^T``;
    3. the recurrence over blocks, ``H_c = exp(sum of A over block c) H_(c-1) + (block c's
       contribution)``, from the initial state: the state entering every block;
    4. each step reads the entering state, decayed to it: ``exp(A_start + ... + A_i) H C_i``
       (the off-diagonal blocks of L, which have rank one).

    Everything is laid out (batch, groups, heads per group, blocks, step, ...) so that steps 1,
    2 and 4 are batched matrix products and ``C B^T`` is formed once per group. Inside a block
    the decays are differences of the block's prefix sums of ``A``: they lose ``eps`` times the
    block's total log decay, independent of ``L``. Long sequences are processed in spans of
    about ``SPAN_STEPS`` steps, each starting from the state the previous one left, so that the
    intermediates stay in cache.
    """
    import torch

    _check_ssd_inputs(X, A, B, C, initial_states)
    block_len = _block_length(block_len, X.shape[1])
    state = _initial(initial_states, X, B)
    span = block_len * max(1, SPAN_STEPS // block_len)
    outputs = []
    for start in range(0, X.shape[1], span):
        steps = slice(start, start + span)
        Y, state = _ssd_span(X[:, steps], A[:, steps], B[:, steps], C[:, steps], block_len, state)
        outputs.append(Y)
    return torch.cat(outputs, dim=1), state


def _ssd_span(X, A, B, C, block_len, h0):
    """Steps 1-4 of :func:`ssd` on validated inputs whose length ``block_len`` divides, from the state ``h0``."""
    import torch

    batch, length, heads, p = X.shape
    groups, N = B.shape[2:]
    blocks, per_group = length // block_len, heads // groups
    h0 = h0.reshape(batch, groups, per_group, p, N)

    def head_major(x, size):  # (batch, L, groups * size, d) -> (batch, groups, size, blocks, block_len, d)
        return x.reshape(batch, blocks, block_len, groups, size, -1).permute(0, 3, 4, 1, 2, 5)

    X, B, C = head_major(X, per_group), head_major(B, 1), head_major(C, 1)
    within = head_major(A[..., None], per_group)[..., 0].cumsum(dim=-1)  # log decay from the block's start
    causal = torch.ones(block_len, block_len, dtype=torch.bool, device=X.device).tril()
    gaps = (within[..., :, None] - within[..., None, :]).masked_fill(~causal, -torch.inf)
    Y_diag = ((C @ B.transpose(-1, -2)) * torch.exp(gaps)) @ X
    to_end = torch.exp(within[..., -1:] - within)  # decay from step j to the block's end
    contributions = (X * to_end[..., None]).transpose(-1, -2) @ B  # (batch, groups, per_group, blocks, p, N)
    # The recurrence over blocks is a scan of (decay, contribution) pairs started from h0; blocks first.
    block_decay = torch.exp(within[..., -1]).permute(3, 0, 1, 2)[..., None, None]
    _, ends = sequential_scan(
        torch.cat([torch.ones_like(block_decay[:1]), block_decay]),
        torch.cat([h0[None], contributions.permute(3, 0, 1, 2, 4, 5)]),
    )
    entering = ends[:-1].permute(1, 2, 3, 0, 4, 5)  # the state entering each block
    Y_off = (C @ entering.transpose(-1, -2)) * torch.exp(within)[..., None]
    Y = (Y_diag + Y_off).permute(0, 3, 4, 1, 2, 5).reshape(batch, length, heads, p)
    return Y, ends[-1].reshape(batch, heads, p, N)


ssd_minimal_discrete = ssd


def causal_linear_attention(Q, K, V):
    """``Y = (tril o Q K^T) V`` per head: Q, K (batch, L, heads, N), V (batch, L, heads, p) -> (batch, L, heads, p)."""
    import torch

    zero = torch.zeros(V.shape[:3], dtype=V.dtype, device=V.device)
    return ssd_quadratic(V, zero, K, Q)[0]


def linear_attention_rnn(Q, K, V):
    """The RNN ``S_t = S_(t-1) + k_t v_t^T``, ``y_t = S_t^T q_t`` (an N x p state per head): Y (batch, L, heads, p)."""
    import torch

    _check_ssd_inputs(V, torch.zeros(V.shape[:3], dtype=V.dtype, device=V.device), K, Q)
    S = V.new_zeros(V.shape[0], V.shape[2], K.shape[3], V.shape[3])
    outputs = []
    for t in range(V.shape[1]):
        S = S + K[:, t, :, :, None] * V[:, t, :, None, :]
        outputs.append(torch.einsum("bhnp,bhn->bhp", S, Q[:, t]))
    return torch.stack(outputs, dim=1)
