"""ssd-duality: a scalar-times-identity SSM is masked linear attention; the chunked SSD algorithm equals both.

The derived mask ``L_ij = a_(j+1) ... a_i`` (the result labelled ``mask`` of
:func:`proofs.ssm.duality.ssd_mask`, compiled)
builds ``Y = (L o C B^T) X`` for Mamba-2's shapes; ``numerics.ssm.ssd`` (chunked, every block
length dividing ``L``) gives ``Y`` and the final state; the mask at ``a_t = 1`` gives causal
linear attention. The oracles are the recurrences: ``numerics.ssm.ssd_recurrent``
(``h_t = a_t h_(t-1) + x_t B_t^T``) and ``numerics.ssm.linear_attention_rnn``
(``S_t = S_(t-1) + k_t v_t^T``).
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.theorem import Theorem
from checkers.ssm.selective import per_instance
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

    tensors = [torch.as_tensor(x, dtype=torch.float64, device=device) for x in (X, A, B, C)]
    parts = []
    for block in _divisors(X.shape[1]):
        Y, final = ssd(*tensors, block)
        parts += [Y.cpu().numpy(), final.cpu().numpy()]
    return parts


def _claim_with(mask_of, X, A, B, C, chunked):
    """(mask form, chunked outputs and final states, causal linear attention) for a mask built by ``mask_of``."""
    decays = np.exp(np.swapaxes(A, 1, 2))
    ssm = _attention(mask_of(decays), X, B, C)
    linear = _attention(mask_of(np.ones_like(decays)), X, B, C)
    return per_instance(len(X), ssm, *chunked, linear)


def _claim(_causal, X, A, B, C, device="cpu"):
    """The claim. The engine passes the derivation's last result (the mask at a_t = 1); the claim is ``mask``."""
    closed_form = ssd_duality.closed_form("mask")
    return _claim_with(lambda decays: _derived_mask(closed_form, decays), X, A, B, C, _chunked(X, A, B, C, device))


def _recurrences(X, A, B, C, device="cpu"):
    """The oracle: the SSM recurrence (outputs and final state, once per block length) and the linear-attention RNN."""
    import torch

    from numerics.ssm.duality import linear_attention_rnn, ssd_recurrent

    X_, A_, B_, C_ = (torch.as_tensor(x, dtype=torch.float64, device=device) for x in (X, A, B, C))
    Y, final = (x.cpu().numpy() for x in ssd_recurrent(X_, A_, B_, C_))
    linear = linear_attention_rnn(C_.expand(-1, -1, HEADS, -1), B_.expand(-1, -1, HEADS, -1), X_).cpu().numpy()
    return per_instance(len(X), Y, *([Y, final] * len(_divisors(X.shape[1]))), linear)


def _mutant(wrong_mask):
    """A wrong mask ``wrong_mask(derived mask, decays)`` used for every output (the final states stay right)."""

    def mutant(X, A, B, C):
        closed_form = ssd_duality.closed_form("mask")
        right = _chunked(X, A, B, C)
        decays = np.exp(np.swapaxes(A, 1, 2))
        mask = wrong_mask(_derived_mask(closed_form, decays), decays)
        Y = _attention(mask, X, B, C)
        chunked = [Y if i % 2 == 0 else part for i, part in enumerate(right)]
        linear = _attention(wrong_mask(_derived_mask(closed_form, np.ones_like(decays)), np.ones_like(decays)), X, B, C)
        return per_instance(len(X), Y, *chunked, linear)

    return mutant


def _block_diagonal(mask, decays):
    """Chunks of two steps without passing the state between them."""
    L = mask.shape[-1]
    blocks = np.arange(L) // 2
    return np.where(blocks[:, None] == blocks[None, :], mask, 0.0)


def _ssd_values(L, N, X, A, B, C, seed):
    decays = np.exp(A[:, 0])  # head 0
    mask = _derived_mask(ssd_duality.closed_form("mask"), decays[None, None, :])[0, 0]
    return {"a": decays.tolist(), "L": mask.tolist()}


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
    values=_ssd_values,
)
