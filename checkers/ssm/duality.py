"""ssd-duality: a scalar-times-identity SSM is masked linear attention; the chunked SSD algorithm equals both.

The claim is the derivation's mask ``L_ij = a_(j+1) ... a_i`` (the closed form of
:func:`proofs.ssm.duality.ssd_mask`, compiled): ``Y = (L o C B^T) X`` for Mamba-2's shapes and, at
``a_t = 1``, causal linear attention; beside them ``numerics.ssm.ssd`` (chunked, every block length
dividing ``L``) gives ``Y`` and the final state. The oracles are the recurrences, written out here
as plain float64 numpy loops: ``h_t = a_t h_(t-1) + x_t B_t^T`` and ``S_t = S_(t-1) + k_t v_t^T``.
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from proofs.ssm.duality import LINEAR_ATTENTION, MAMBA2, SSD_L_MAX, ssd_mask
from proofs.ssm.scan import SYLLABUS

HEADS = 2
HEAD_DIM = 2


def _ssd_inputs(rng: np.random.Generator, n: int, L: int, N: int) -> dict[str, np.ndarray]:
    """Mamba-2's shapes with one group shared by both heads; log decays ``A_t`` in [-1.5, 0]."""
    return {
        "X": rng.standard_normal((n, L, HEADS, HEAD_DIM)),
        "A": -rng.uniform(0.0, 1.5, (n, L, HEADS)),
        "B": rng.standard_normal((n, L, 1, N)),
        "C": rng.standard_normal((n, L, 1, N)),
    }


def _worked_inputs(L: int, N: int) -> dict[str, np.ndarray]:
    """The anchor's hand case, one instance: ``X = B = C = 1`` and every decay ``a_t = e^(A_t) = 1/2``."""
    return {
        "X": np.ones((L, HEADS, HEAD_DIM)),
        "A": np.full((L, HEADS), -np.log(2)),
        "B": np.ones((L, 1, N)),
        "C": np.ones((L, 1, N)),
    }


def _divisors(L: int) -> list[int]:
    return [block for block in range(1, L + 1) if L % block == 0]


def _derived_mask(closed_form, decays: np.ndarray) -> np.ndarray:
    """The compiled mask at ``a_t = decays[..., t]`` (shape (n, heads, L)): (n, heads, L, L).

    Steps past ``L`` get ``a_t = 1``; the mask of the first ``L`` steps is the leading block (causality).
    """
    n, heads, L = decays.shape
    padded = np.ones((n * heads, SSD_L_MAX))
    padded[:, :L] = decays.reshape(n * heads, L)
    mask = closed_form(**{f"a_{t + 1}": padded[:, t] for t in range(SSD_L_MAX)})
    return mask.reshape(n, heads, SSD_L_MAX, SSD_L_MAX)[:, :, :L, :L]


def _attention(mask, X, B, C):
    """``Y = (mask o C B^T) X`` per head, B and C shared by the heads (one group): (n, L, heads, p)."""
    scores = np.einsum("lis,ljs->lij", C[:, :, 0], B[:, :, 0])
    return np.einsum("lhij,lij,ljhp->lihp", mask, scores, X)


def _chunked(X, A, B, C, device="cpu"):
    """``numerics.ssm.ssd`` for every block length dividing L: outputs and final states, flattened per instance."""
    import torch

    from numerics.ssm.duality import ssd
    from numerics.threads import one_torch_thread

    tensors = [torch.as_tensor(x, dtype=torch.float64, device=device) for x in (X, A, B, C)]
    parts = []
    with one_torch_thread():  # blocks of at most 6 steps: a second thread only waits
        for block in _divisors(X.shape[1]):
            Y, final = ssd(*tensors, block)
            parts += [Y.cpu().numpy(), final.cpu().numpy()]
    return parts


def _flattened(*parts) -> np.ndarray:
    """Each part's entries flattened per instance and side by side: (n, total)."""
    return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)


def _claim(closed_form, X, A, B, C, device="cpu"):
    """The mask form, the chunked algorithm's outputs and final states, and causal linear attention (the mask at
    ``a_t = 1``), all with the compiled closed form ``closed_form``."""
    decays = np.exp(np.swapaxes(A, 1, 2))
    ssm = _attention(_derived_mask(closed_form, decays), X, B, C)
    linear = _attention(_derived_mask(closed_form, np.ones_like(decays)), X, B, C)
    return _flattened(ssm, *_chunked(X, A, B, C, device), linear)


def _recurrences(X, A, B, C):
    """The oracle: ``h_t = e^(A_t) h_(t-1) + x_t B_t^T``, ``y_t = h_t C_t`` and ``S_t = S_(t-1) + k_t v_t^T``,
    ``y_t = S_t^T q_t`` (``q = C``, ``k = B``, ``v = X``), step by step in float64 numpy; the SSM's outputs and
    final state once per block length of the claim's chunked algorithm."""
    n, L, heads, p = X.shape
    h = np.zeros((n, heads, p, B.shape[-1]))
    S = np.zeros((n, heads, B.shape[-1], p))
    Y, linear = np.empty(X.shape), np.empty(X.shape)
    for t in range(L):
        h = np.exp(A[:, t])[..., None, None] * h + X[:, t, :, :, None] * B[:, t, :, None, :]
        Y[:, t] = np.sum(h * C[:, t, :, None, :], axis=-1)
        S = S + B[:, t, :, :, None] * X[:, t, :, None, :]
        linear[:, t] = np.sum(S * C[:, t, :, :, None], axis=-2)
    block_lengths = sum(L % block == 0 for block in range(1, L + 1))
    ssm, final = Y.reshape(n, -1), h.reshape(n, -1)
    return np.concatenate([ssm] + [ssm, final] * block_lengths + [linear.reshape(n, -1)], axis=1)


def _mutant(wrong_mask):
    """A wrong mask ``wrong_mask(derived mask, decays)`` used for every output (the final states stay right)."""

    def mutant(X, A, B, C):
        closed_form = ssd_duality.closed_form()
        right = _chunked(X, A, B, C)
        decays = np.exp(np.swapaxes(A, 1, 2))
        mask = wrong_mask(_derived_mask(closed_form, decays), decays)
        Y = _attention(mask, X, B, C)
        chunked = [Y if i % 2 == 0 else part for i, part in enumerate(right)]
        no_decay = np.ones_like(decays)
        linear = _attention(wrong_mask(_derived_mask(closed_form, no_decay), no_decay), X, B, C)
        return _flattened(Y, *chunked, linear)

    return mutant


def _block_diagonal(mask, decays):
    """Chunks of two steps without passing the state between them."""
    L = mask.shape[-1]
    blocks = np.arange(L) // 2
    return np.where(blocks[:, None] == blocks[None, :], mask, 0.0)


def _ssd_values(L, N, X, A, B, C, seed):
    decays = np.exp(A[:, 0])  # head 0
    mask = _derived_mask(ssd_duality.closed_form(), decays[None, None, :])[0, 0]
    return {"a": decays.tolist(), "L": mask.tolist()}


def _worked_value(L: int, N: int) -> np.ndarray:
    """The claim at the hand case ``X = B = C = 1``, ``a_t = 1/2``, by hand: ``C_i . B_j = N``, so
    ``y_t = N sum_(j <= t) 2^-(t-j) = N (2 - 2^(1-t))`` in every head and channel, the final state is
    ``sum_j 2^-(L-j) x_j B_j^T = (2 - 2^(1-L))`` in every entry (for each block length dividing ``L``), and causal
    linear attention (no decay) gives ``y_t = N t``."""
    t = np.arange(1, L + 1)
    ssm = np.repeat(N * (2 - 2.0 ** (1 - t)), HEADS * HEAD_DIM)
    final = np.full(HEADS * HEAD_DIM * N, 2 - 2.0 ** (1 - L))
    linear = np.repeat(N * t.astype(float), HEADS * HEAD_DIM)
    return np.concatenate([ssm] + [ssm, final] * len(_divisors(L)) + [linear])


ssd_duality = Theorem(
    id="ssd-duality",
    title="State space duality (Mamba-2): the SSM is masked linear attention, and chunked SSD computes both",
    topic="ssm",
    statement=(
        r"For the scalar-times-identity SSM $h_t = a_t h_{t-1} + x_t B_t^{\top}$, $y_t = h_t C_t$ ($a_t = e^{A_t}$, "
        r"$A_t \le 0$, state $p \times N$ per head) the outputs are masked linear attention "
        r"$Y = (L \circ C B^{\top}) X$ with the 1-semiseparable mask $L_{ij} = a_{j+1} \cdots a_i$ for $i \ge j$ "
        r"($L_{ii} = 1$) and $L_{ij} = 0$ for $i < j$. The off-diagonal blocks of $L$ have rank one, and the chunked "
        r"SSD algorithm (quadratic inside blocks, the recurrence on states between blocks) gives the same $Y$ and "
        r"final state for every block length. With $a_t = 1$, causal linear attention "
        rf"$Y = (\mathrm{{tril}} \circ Q K^{{\top}}) V$ equals the RNN $S_t = S_{{t-1}} + k_t v_t^{{\top}}$, "
        rf"$y_t = S_t^{{\top}} q_t$. The mask is derived for $L \le {SSD_L_MAX}$; the checker samples those lengths."
    ),
    assumptions=(
        r"$A_t \le 0$: per-step log decays (Mamba-2's $A \Delta$), so $0 < a_t \le 1$",
        r"inputs: $X, B, C \sim \mathcal{N}(0, 1)$, $A_t \sim -U[0, 1.5]$; 2 heads of dimension 2 sharing one "
        r"group of $B, C$; linear attention reuses $Q = C$, $K = B$, $V = X$",
    ),
    sources=(
        f"{MAMBA2}, sections 3-6 and Listing 1",
        LINEAR_ATTENTION,
        f"{SYLLABUS}: The Frontier: State Space Duality (Mamba-2)",
    ),
    parameters={"L": Integer(1, SSD_L_MAX, shape=True, default=4), "N": Integer(1, 3, shape=True, default=2)},
    inputs=_ssd_inputs,
    derivation=ssd_mask,
    assemble=_claim,
    oracle=_recurrences,
    mutants={
        "mask a_j ... a_i (off by one)": _mutant(lambda mask, decays: mask * decays[:, :, None, :]),
        "mask without decay (plain causal)": _mutant(lambda mask, decays: np.tril(np.ones_like(mask))),
        "anti-causal mask (transposed)": _mutant(lambda mask, decays: np.swapaxes(mask, -1, -2)),
        "chunks without state passing": _mutant(_block_diagonal),
    },
    tolerance=Deterministic(
        rtol=1e-12,
        atol=2e-11,
        reason=(
            "float64 (u = 1.1e-16), L <= 6, N <= 3: each output sums L N <= 18 products of three standard normal "
            "factors (|x| <= 6) and a mask entry in (0, 1] computed as a product of at most 5 factors (mask form), "
            "an exponential of a sum of at most 6 log decays >= -1.5 (chunked, relative error <= 10 u) or the "
            "recurrence (at most 6 steps); claim and oracle each carry at most (L N + 10) u times the sum of |terms| "
            "<= 18 * 216: 1.1e-11 each in the very worst case, atol 2e-11 for both (observed errors are below 1e-14); "
            "rtol 1e-12 adds nothing material. The mutants disagree by O(1)"
        ),
    ),
    example={"L": 4, "N": 2},
    anchors=(
        Anchor(
            {"L": 4, "N": 2},
            _worked_value(4, 2),
            "by hand (see _worked_value): y_t = N (2 - 2^(1-t)) for X = B = C = 1 and decays 1/2, final state "
            "2 - 2^(1-L), linear attention y_t = N t (Dao and Gu 2024, section 3; Katharopoulos et al. 2020)",
            rtol=1e-13,
            inputs=_worked_inputs(4, 2),
        ),
    ),
    values=_ssd_values,
)
