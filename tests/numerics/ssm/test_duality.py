"""SSD: recurrent, quadratic and chunked forms agree; the mask by hand; linear attention = RNN; bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.ssm import ssd, ssd_minimal_discrete
from numerics.ssm.duality import causal_linear_attention, linear_attention_rnn, ssd_mask, ssd_quadratic, ssd_recurrent

F64 = torch.float64


def random_inputs(seed, batch=2, L=12, heads=4, p=3, groups=2, N=5):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, L, heads, p, generator=g, dtype=F64),
        -torch.rand(batch, L, heads, generator=g, dtype=F64) * 2,
        torch.randn(batch, L, groups, N, generator=g, dtype=F64),
        torch.randn(batch, L, groups, N, generator=g, dtype=F64),
    )


def test_mask_by_hand():
    a = [0.5, 0.25, 2.0 / 3.0]
    mask = ssd_mask(torch.log(torch.tensor(a, dtype=F64)))
    expected = [[1, 0, 0], [0.25, 1, 0], [0.25 * 2 / 3, 2 / 3, 1]]
    np.testing.assert_allclose(mask.numpy(), expected, rtol=1e-15)


def test_one_state_by_hand():
    """L = 2, one head, p = N = 1: y1 = c1 b1 x1, y2 = c2 (a2 b1 x1 + b2 x2)."""
    x, A, b, c = [1.0, 2.0], [-0.1, -0.7], [3.0, -1.0], [0.5, 2.0]
    a2 = np.exp(A[1])
    expected = [c[0] * b[0] * x[0], c[1] * (a2 * b[0] * x[0] + b[1] * x[1])]
    tensors = [torch.tensor(v, dtype=F64).reshape(1, 2, 1, 1) for v in (x, b, c)]
    A_ = torch.tensor(A, dtype=F64).reshape(1, 2, 1)
    for Y, final in (
        ssd_recurrent(tensors[0], A_, *tensors[1:]),
        ssd_quadratic(tensors[0], A_, *tensors[1:]),
        ssd(tensors[0], A_, *tensors[1:], 1),
    ):
        np.testing.assert_allclose(Y.reshape(-1).numpy(), expected, rtol=1e-15)
        assert final.item() == pytest.approx(a2 * b[0] * x[0] + b[1] * x[1], rel=1e-15)


@given(
    blocks=st.integers(1, 4),
    block_len=st.integers(1, 6),
    groups=st.sampled_from([1, 2, 4]),
    seed=st.integers(0, 999),
    initial=st.booleans(),
)
@settings(max_examples=25, deadline=None)
def test_property_three_forms_agree(blocks, block_len, groups, seed, initial):
    X, A, B, C = random_inputs(seed, L=blocks * block_len, groups=groups)
    h0 = torch.randn(2, 4, 3, 5, dtype=F64) if initial else None
    Y, final = ssd_recurrent(X, A, B, C, h0)
    for Y_, final_ in (ssd_quadratic(X, A, B, C, h0), ssd(X, A, B, C, block_len, h0)):
        assert torch.linalg.norm(Y_ - Y) <= 1e-13 * torch.linalg.norm(Y)
        assert torch.linalg.norm(final_ - final) <= 1e-13 * torch.linalg.norm(final)


def test_mamba_initial_state_layout_and_alias():
    X, A, B, C = random_inputs(1, L=8)
    h0 = torch.randn(2, 4, 3, 5, dtype=F64)
    torch.testing.assert_close(ssd_minimal_discrete(X, A, B, C, 4, h0[:, None]), ssd(X, A, B, C, 4, h0))
    assert ssd_minimal_discrete is ssd


def test_causal_linear_attention_is_an_rnn():
    g = torch.Generator().manual_seed(2)
    Q, K = torch.randn(2, 7, 3, 4, generator=g, dtype=F64), torch.randn(2, 7, 3, 4, generator=g, dtype=F64)
    V = torch.randn(2, 7, 3, 5, generator=g, dtype=F64)
    scores = torch.einsum("bihn,bjhn->bhij", Q, K).tril()
    direct = torch.einsum("bhij,bjhp->bihp", scores, V)
    torch.testing.assert_close(causal_linear_attention(Q, K, V), direct)
    torch.testing.assert_close(linear_attention_rnn(Q, K, V), direct)


def test_float32_chunked_error_stays_small():
    X, A, B, C = random_inputs(4, L=256)
    Y = ssd_recurrent(X, A, B, C)[0]
    Y32 = ssd(*(t.float() for t in (X, A, B, C)), 32)[0]
    assert Y32.dtype == torch.float32
    # Decays <= 1 (A <= 0): roundings of eps = 6e-8 add up like a random walk over at most L = 256 steps,
    # sqrt(L) eps = 9.5e-7 relative; 2e-6 allows a factor 2 over that (observed: at most 3.4e-7 over 5 seeds).
    assert torch.linalg.norm(Y32.double() - Y) <= 2e-6 * torch.linalg.norm(Y)


def test_numpy_integer_block_lengths_are_accepted():
    X, A, B, C = random_inputs(7)
    Y, final = ssd(X, A, B, C, 4)
    Y_, final_ = ssd(X, A, B, C, np.int64(4))
    assert torch.equal(Y, Y_) and torch.equal(final, final_)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"block_len": 5}, "block_len must be a positive integer dividing L"),
        ({"A": torch.rand(2, 12, 4, dtype=F64)}, "A must have no positive entries"),
        ({"B": torch.randn(2, 12, 3, 5, dtype=F64), "C": torch.randn(2, 12, 3, 5, dtype=F64)}, "B must have shape"),
        ({"C": torch.randn(2, 12, 2, 4, dtype=F64)}, "B and C must have the same shape"),
        ({"X": torch.full((2, 12, 4, 3), float("nan"), dtype=F64)}, "X contains NaN"),
        ({"A": torch.zeros(2, 11, 4, dtype=F64)}, "A must have shape"),
        ({"initial_states": torch.zeros(2, 4, 3, dtype=F64)}, "initial_states must have shape"),
        ({"block_len": True}, "block_len must be a positive integer dividing L"),
        ({"block_len": 4.0}, "block_len must be a positive integer dividing L"),
        ({"A": -torch.rand(2, 12, 4, dtype=torch.float32)}, "A has dtype torch.float32 on cpu, but X has torch.float6"),
        ({"C": torch.randn(2, 12, 2, 5, dtype=torch.float32)}, "C has dtype torch.float32 on cpu, but X has"),
        ({"initial_states": torch.zeros(2, 4, 3, 5, dtype=torch.float32)}, "initial_states has dtype torch.float32"),
        ({"B": torch.randn(2, 12, 2, 5, dtype=F64, device="meta")}, "B has dtype torch.float64 on meta"),
        ({"X": torch.randint(0, 3, (2, 12, 4, 3))}, "X must be a real floating-point tensor"),
        (
            {
                "X": torch.zeros(2, 0, 4, 3, dtype=F64),
                "A": torch.zeros(2, 0, 4, dtype=F64),
                "B": torch.zeros(2, 0, 2, 5, dtype=F64),
                "C": torch.zeros(2, 0, 2, 5, dtype=F64),
                "block_len": 1,
            },
            "X must have at least one step",
        ),
    ],
)
def test_bad_input_names_the_argument(change, match):
    X, A, B, C = random_inputs(0)
    arguments = {"X": X, "A": A, "B": B, "C": C, "block_len": 4, **change}
    with pytest.raises(ValueError, match=match):
        ssd(**arguments)


def test_long_sequences_are_processed_in_spans(monkeypatch):
    from numerics.ssm import duality

    monkeypatch.setattr(duality, "SPAN_STEPS", 8)  # 40 steps in blocks of 4: spans of 8, five of them
    X, A, B, C = random_inputs(6, L=40)
    h0 = torch.randn(2, 4, 3, 5, dtype=F64)
    Y, final = ssd_recurrent(X, A, B, C, h0)
    Y_, final_ = ssd(X, A, B, C, 4, h0)
    assert torch.linalg.norm(Y_ - Y) <= 1e-13 * torch.linalg.norm(Y)
    assert torch.linalg.norm(final_ - final) <= 1e-13 * torch.linalg.norm(final)
