"""selective-scan: Mamba's selective SSM by its kernel, the reference loop, the parallel and the chunked scan.

The claim stacks five computations of the selective SSM's output on random inputs with every
option on (groups, ``D``, ``z``, ``delta_bias``, ``delta_softplus``): the kernel form
``y_t = sum_s C_t exp(A Lambda_ts) delta_s B_s u_s + D u_t`` built from the derivation's
compiled kernel (:func:`proofs.ssm.selective.selective_kernel`), ``numerics.ssm.selective_scan``
with ``method="sequential"``, ``"parallel"`` and ``"chunked"`` (in blocks of a third of the
sequence, so that the state is carried across blocks), and ``numerics.ssm.selective_scan_ref``
(Mamba's reference loop), with their last states. The oracle is the recurrence written out here
as a plain float64 numpy loop over time (:func:`_plain_loop`, no project function); it also
states its accuracy per instance, a float64 rounding bound from that instance's own magnitudes
(:func:`_rounding_bound`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softplus

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from proofs.ssm.scan import SYLLABUS
from proofs.ssm.selective import MAMBA, MAMBA_DISCRETISATION, REAL_PARAMETERS, selective_kernel

DIM = 4
GROUPS = 2
METHODS = ("sequential", "parallel", "chunked")
COMPUTATIONS = METHODS + ("ref",)
"""``selective_scan`` by each method, then ``selective_scan_ref``."""


def _selective_inputs(rng: np.random.Generator, n: int, L: int, N: int) -> dict[str, np.ndarray]:
    """One sequence per instance with every option of ``selective_scan_ref`` in use."""
    return {
        "u": rng.standard_normal((n, DIM, L)),
        "delta": rng.normal(-1.0, 1.0, (n, DIM, L)),  # before softplus, as Mamba feeds it
        "A": -rng.uniform(0.1, 2.0, (n, DIM, N)),
        "B": rng.standard_normal((n, GROUPS, N, L)),
        "C": rng.standard_normal((n, GROUPS, N, L)),
        "D": rng.standard_normal((n, DIM)),
        "z": rng.standard_normal((n, DIM, L)),
        "delta_bias": rng.uniform(0.0, 1.0, (n, DIM)),
    }


def _worked_inputs(L: int, N: int) -> dict[str, np.ndarray]:
    """The anchor's hand case, one instance: ``u = B = C = D = z = 1``, ``A = -1``, ``delta = delta_bias = 0``."""
    return {
        "u": np.ones((DIM, L)),
        "delta": np.zeros((DIM, L)),
        "A": -np.ones((DIM, N)),
        "B": np.ones((GROUPS, N, L)),
        "C": np.ones((GROUPS, N, L)),
        "D": np.ones(DIM),
        "z": np.ones((DIM, L)),
        "delta_bias": np.zeros(DIM),
    }


def _worked_output(L: int, N: int) -> np.ndarray:
    """The claim at the hand case, by hand: softplus(0) = ln 2, so each step decays the state by ``e^(-ln 2) = 1/2``
    and adds ``ln 2``: ``h_t = ln 2 (2 - 2^(1-t))`` in every state, ``y_t = N h_t + 1`` (the skip), and
    ``out_t = y_t silu(1) = y_t e / (1 + e)``; the kernel form and every computation give these outputs, and every
    computation the last state ``h_L``."""
    t = np.arange(1, L + 1)
    state = np.log(2) * (2 - 2.0 ** (1 - t))
    out = np.broadcast_to((N * state + 1) * np.e / (1 + np.e), (DIM, L))
    last = np.full((DIM, N), state[-1])
    return np.concatenate([np.tile(out.ravel(), 1 + len(COMPUTATIONS)), np.tile(last.ravel(), len(COMPUTATIONS))])


def _folded(u, delta, A, B, C, D, z, delta_bias):
    """All instances as one batch element: instance ``i``'s channels are channels ``4i .. 4i+3`` and its
    groups are groups ``2i, 2i+1``, so one call with per-instance ``A``, ``D``, ``delta_bias`` does them all."""
    n, _, L = u.shape
    shapes = {
        "u": (1, n * DIM, L),
        "delta": (1, n * DIM, L),
        "A": (n * DIM, -1),
        "B": (1, n * GROUPS, -1, L),
        "C": (1, n * GROUPS, -1, L),
        "D": (n * DIM,),
        "z": (1, n * DIM, L),
        "delta_bias": (n * DIM,),
    }
    given = {"u": u, "delta": delta, "A": A, "B": B, "C": C, "D": D, "z": z, "delta_bias": delta_bias}
    return {k: None if v is None else v.reshape(shapes[k]) for k, v in given.items()}


def _step_sizes(delta, delta_bias):
    return np.logaddexp(0.0, delta + delta_bias[..., None])


def _silu(z):
    return z / (1.0 + np.exp(-z))


def _kernel_form(closed_form, u, delta, A, B, C, D, z, delta_bias):
    """``out_t = (sum_(n, s <= t) K_tsn u_s + D u_t) silu(z_t)`` with ``K`` the compiled kernel; (n, DIM, L)."""
    n, _, L = u.shape
    step = _step_sizes(delta, delta_bias)  # (n, DIM, L)
    elapsed = np.cumsum(step, axis=-1)
    Lambda = elapsed[..., :, None] - elapsed[..., None, :]  # (n, DIM, t, s): delta_(s+1) + ... + delta_t
    per_channel = np.arange(DIM) // (DIM // GROUPS)
    B_c, C_c = B[:, per_channel], C[:, per_channel]  # (n, DIM, N, L)
    shape = (n, DIM, A.shape[-1], L, L)  # instance, channel, state, t, s
    arguments = {
        "A": A[..., None, None],
        "Lambda": Lambda[:, :, None],
        "delta": step[:, :, None, None, :],
        "B": B_c[..., None, :],
        "C": C_c[..., :, None],
    }
    causal = np.tril(np.ones((L, L), dtype=bool))
    with np.errstate(over="ignore"):  # above the diagonal Lambda < 0: those entries are masked out
        kernel = closed_form(**{k: np.broadcast_to(v, shape).ravel() for k, v in arguments.items()}).reshape(shape)
    kernel = np.where(causal, kernel, 0.0).sum(axis=2)  # (n, DIM, t, s)
    y = np.einsum("ncts,ncs->nct", kernel, u) + D[..., None] * u
    return y * _silu(z)


def _fast_methods(u, delta, A, B, C, D, z, delta_bias, device="cpu"):
    """``selective_scan`` by each method, then ``selective_scan_ref``: outputs (n, 4, DIM, L) and last states
    (n, 4, DIM, N)."""
    import torch

    from numerics.ssm.selective import selective_scan, selective_scan_ref
    from numerics.threads import one_torch_thread

    n, _, L = u.shape
    folded = {
        k: torch.as_tensor(v, dtype=torch.float64, device=device)
        for k, v in _folded(u, delta, A, B, C, D, z, delta_bias).items()
    }
    outs, lasts = [], []
    with one_torch_thread():  # tensors of a few thousand entries: a second thread only waits
        for method in METHODS:
            # Blocks of a third of the sequence, so that "chunked" carries its state across blocks.
            block = max(1, L // 3) if method == "chunked" else None
            out, last = selective_scan(**folded, delta_softplus=True, return_last_state=True, method=method, block=block)
            outs.append(out.reshape(n, DIM, L).cpu().numpy())
            lasts.append(last.reshape(n, DIM, -1).cpu().numpy())
        out, last = selective_scan_ref(**folded, delta_softplus=True, return_last_state=True)
    outs.append(out.reshape(n, DIM, L).cpu().numpy())
    lasts.append(last.reshape(n, DIM, -1).cpu().numpy())
    return np.stack(outs, axis=1), np.stack(lasts, axis=1)


def per_instance(n, *parts):
    """Each part's entries flattened per instance and side by side: (n, total)."""
    return np.concatenate([p.reshape(n, -1) for p in parts], axis=1)


def _claim(closed_form, u, delta, A, B, C, D, z, delta_bias, device="cpu"):
    """Kernel form, then the three methods' outputs, then their last states."""
    outs, lasts = _fast_methods(u, delta, A, B, C, D, z, delta_bias, device)
    return per_instance(len(u), _kernel_form(closed_form, u, delta, A, B, C, D, z, delta_bias), outs, lasts)


def _plain_loop(u, step, A, B, C):
    """``h_t = exp(step_t A) h_(t-1) + step_t B_t u_t``, ``y_t = sum_n C_tn h_tn`` per instance and channel, one step
    at a time in float64 numpy: ``(y (n, DIM, L), h_L (n, DIM, N))``. Channel ``d`` reads group ``d // (DIM / GROUPS)``
    of ``B`` and ``C``; ``step`` is the step size itself (after any softplus)."""
    group = np.arange(DIM) // (DIM // GROUPS)
    B, C = B[:, group], C[:, group]  # (n, DIM, N, L)
    h = np.zeros(A.shape)
    y = np.empty(u.shape)
    for t in range(u.shape[-1]):
        h = np.exp(step[..., t, None] * A) * h + (step[..., t] * u[..., t])[..., None] * B[..., t]
        y[..., t] = np.sum(h * C[..., t], axis=-1)
    return y, h


def _rounding_bound(u, step, A, B, C, D, z):
    """Per instance: a float64 bound on |claim - oracle| for every entry, from the instance's magnitudes.

    Every output and state is a sum of terms ``C e^(A Lambda) Delta B u`` (times ``silu(z)``) and
    ``D u silu(z)``, each entry's terms bounded by the same loop on absolute values (``|u|, |B|,
    |C|, |D|, |silu(z)|``; decays and steps are positive). Each computation forms a term through
    at most ``2L`` products and sums (the recurrence's ``t - s`` steps; a scan's ``2 log2 L + 1``
    levels; the kernel form's ``L``-term sums) plus ``N + 8`` more (the readout over states, the
    skip, the gate, softplus): a relative error of at most ``(2L + N + 8) u``. The decay's
    exponent ``A Lambda`` is formed from rounded steps (softplus, a few ``u`` relative) or, in the
    kernel form, as a difference of two running sums of up to ``L`` steps: an absolute error of at
    most ``(2L + 4) u |A| Lambda_max``, a relative error of the same size in ``e^(A Lambda)``. The
    claim and the oracle each carry this, hence the factor 2. The bound is first order in
    ``u = 1.1e-16``; it is a few 1e-11 at L = 32 and observed errors are about 1e-14.
    """
    n, _, L = u.shape
    unit = np.finfo(float).eps / 2
    elapsed = step.sum(axis=-1).max(axis=1)  # Lambda_max per instance
    relative = 2 * unit * ((2 * L + A.shape[-1] + 8) + (2 * L + 4) * np.abs(A).max(axis=(1, 2)) * elapsed)
    y, last = _plain_loop(np.abs(u), step, A, np.abs(B), np.abs(C))
    gate = np.abs(z * expit(z))
    outputs = ((y + np.abs(D[..., None] * u)) * gate).reshape(n, -1).max(axis=1)
    magnitude = np.maximum(outputs, last.reshape(n, -1).max(axis=1))
    return relative * magnitude


def _tiled(out, last):
    """An output and a last state in the claim's layout: once for the kernel form and once per computation."""
    n, copies = len(out), len(COMPUTATIONS)
    return np.concatenate([out.reshape(n, -1)] * (1 + copies) + [last.reshape(n, -1)] * copies, axis=1)


def _gated(y, u, D, z):
    """``(y + D u) silu(z)``, with ``silu(z) = z expit(z)`` (scipy's logistic sigmoid)."""
    return (y + D[..., None] * u) * z * expit(z)


def _recurrence(u, delta, A, B, C, D, z, delta_bias):
    """The oracle: the plain recurrence (:func:`_plain_loop`) with scipy's softplus step, gated as Mamba does, in the
    claim's layout, and its accuracy per instance."""
    step = softplus(delta + delta_bias[..., None])
    y, last = _plain_loop(u, step, A, B, C)
    return _tiled(_gated(y, u, D, z), last), _rounding_bound(u, step, A, B, C, D, z)


def _input_discretised_by_exp(u, delta, A, B, C, D, z, delta_bias):
    """Mutant: ``deltaB = exp(delta) B`` (the input step exponentiated like the state's)."""
    step = softplus(delta + delta_bias[..., None])
    y, last = _plain_loop(u * np.exp(step) / step, step, A, B, C)
    return _tiled(_gated(y, u, D, z), last)


def _without_skip(u, delta, A, B, C, D, z, delta_bias):
    """Mutant: no ``D u`` skip connection."""
    y, last = _plain_loop(u, softplus(delta + delta_bias[..., None]), A, B, C)
    return _tiled(y * z * expit(z), last)


def _gate_without_silu(u, delta, A, B, C, D, z, delta_bias):
    """Mutant: ``out = y z`` instead of ``y silu(z)``."""
    y, last = _plain_loop(u, softplus(delta + delta_bias[..., None]), A, B, C)
    return _tiled((y + D[..., None] * u) * z, last)


def _decay_without_step(u, delta, A, B, C, D, z, delta_bias):
    """Mutant: ``exp(A)`` instead of ``exp(delta A)`` for the state (the step only scales the input)."""
    step = softplus(delta + delta_bias[..., None])
    y, last = _plain_loop(u * step, np.ones_like(step), A, B, C)
    return _tiled(_gated(y, u, D, z), last)


def _softplus_before_bias(u, delta, A, B, C, D, z, delta_bias):
    """Mutant: ``softplus(delta) + delta_bias`` instead of ``softplus(delta + delta_bias)``."""
    step = np.logaddexp(0.0, delta) + delta_bias[..., None]
    y, last = _plain_loop(u, step, A, B, C)
    return _tiled(_gated(y, u, D, z), last)


def _selective_values(L, N, u, delta, A, B, C, D, z, delta_bias):
    batch = {k: v[None] for k, v in locals().items() if k not in ("L", "N")}
    outs, _ = _fast_methods(**batch)
    kernel = _kernel_form(selective_scan.closed_form(), **batch)[0]
    reference = _recurrence(**batch)[0][0, : DIM * L].reshape(DIM, L)  # the oracle's output
    scale = np.linalg.norm(reference)
    values = {"out_sequential_first_channel": outs[0, 0, 0].tolist()}
    values["relative_error_kernel"] = float(np.linalg.norm(kernel - reference) / scale)
    for i, computation in enumerate(COMPUTATIONS):
        values[f"relative_error_{computation}"] = float(np.linalg.norm(outs[0, i] - reference) / scale)
    return values


selective_scan = Theorem(
    id="selective-scan",
    title="Mamba's selective scan: the kernel, the sequential, parallel and chunked scans agree",
    topic="ssm",
    statement=(
        r"For Mamba's selective SSM with input-dependent step $\Delta_t = \mathrm{softplus}(\delta_t + b_\Delta)$, "
        r"$B_t$, $C_t$ (per channel $d$ and state $n$, $A_{dn} < 0$): "
        r"$h_t = e^{\Delta_t A} h_{t-1} + \Delta_t B_t u_t$, "
        r"$y_t = C_t^{\top} h_t + D u_t$, $\mathrm{out}_t = y_t\, \mathrm{silu}(z_t)$ (zero-order hold for $A$, "
        r"Euler for $B$), the output is the causal kernel sum "
        r"$y_t = \sum_{s \le t} \sum_n C_{tn}\, e^{A_{dn} \Lambda_{ts}}\, \Delta_s B_{sn} u_s + D u_t$ with "
        r"$\Lambda_{ts} = \Delta_{s+1} + \dots + \Delta_t$, and the sequential recurrence, Blelloch's parallel scan "
        r"and the chunked scan of \texttt{numerics.ssm.selective\_scan}, and the reference loop "
        r"\texttt{numerics.ssm.selective\_scan\_ref}, compute it (and the last state) to float64 rounding, with the "
        r"signature and shapes of Mamba's \texttt{selective\_scan\_ref} (for real $A$, $B$, $C$: its complex mode "
        r"is not implemented)."
    ),
    assumptions=(
        MAMBA_DISCRETISATION,
        REAL_PARAMETERS,
        r"the kernel is derived by unrolling $L = 3$ steps; lengths up to $32$ rest on the numerical check",
        r"inputs: $u, z, B, C, D \sim \mathcal{N}(0, 1)$, $\delta \sim \mathcal{N}(-1, 1)$, $b_\Delta \sim U[0, 1]$, "
        r"$A_{dn} \sim -U[0.1, 2]$; 4 channels in 2 groups",
    ),
    sources=(
        f"{MAMBA}, section 3.2, Algorithm 2, and its reference implementation "
        "(state-spaces/mamba, selective scan interface)",
        f"{SYLLABUS}: Modern SSMs (Mamba)",
    ),
    parameters={"L": Integer(1, 32, shape=True, default=6), "N": Integer(1, 3, shape=True, default=2)},
    inputs=_selective_inputs,
    derivation=selective_kernel,
    assemble=_claim,
    oracle=_recurrence,
    mutants={
        "deltaB = exp(delta) B": _input_discretised_by_exp,
        "missing D skip": _without_skip,
        "z gate without silu": _gate_without_silu,
        "decay exp(A) without delta": _decay_without_step,
        "softplus before delta_bias": _softplus_before_bias,
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=0.0,
        reason=(
            "the oracle states its accuracy per instance (checkers.ssm.selective._rounding_bound): float64 rounding "
            "(u = 1.1e-16) of claim and oracle, 2 u ((2L + N + 8) + (2L + 4) |A|_max Lambda_max) relative to the "
            "largest entry of the same scan on absolute values; a few 1e-11 at L = 32, against observed errors of "
            "about 1e-14. No extra rtol or atol is needed; the mutants disagree by O(1)"
        ),
    ),
    example={"L": 6, "N": 2},
    anchors=(
        Anchor(
            {"L": 4, "N": 2},
            _worked_output(4, 2),
            "by hand (see _worked_output): Delta = softplus(0) = ln 2, decay 1/2 per step, h_t = ln 2 (2 - 2^(1-t)), "
            "out_t = (2 h_t + 1) e / (1 + e); Mamba's recurrence (Gu and Dao 2023, Algorithm 2)",
            rtol=1e-13,
            inputs=_worked_inputs(4, 2),
        ),
    ),
    values=_selective_values,
)
