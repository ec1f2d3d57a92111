"""selective_scan against selective_scan_ref (the reference loop, as in Mamba), both by hand, dtypes, bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.ssm import selective_scan, selective_scan_ref
from numerics.ssm.selective import SELECTIVE_METHODS

F64 = torch.float64


def random_inputs(seed, batch=2, dim=4, N=3, L=9, groups=None, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    shape = (batch, N, L) if groups is None else (batch, groups, N, L)
    return {
        "u": torch.randn(batch, dim, L, generator=g, dtype=dtype),
        "delta": torch.randn(batch, dim, L, generator=g, dtype=dtype),
        "A": -torch.rand(dim, N, generator=g, dtype=dtype) * 2,
        "B": torch.randn(shape, generator=g, dtype=dtype),
        "C": torch.randn(shape, generator=g, dtype=dtype),
        "D": torch.randn(dim, generator=g, dtype=dtype),
        "z": torch.randn(batch, dim, L, generator=g, dtype=dtype),
        "delta_bias": torch.rand(dim, generator=g, dtype=dtype),
    }


def reference(inputs):
    """``selective_scan_ref``'s output and last state (numpy), with softplus on."""
    return (x.numpy() for x in selective_scan_ref(**inputs, delta_softplus=True, return_last_state=True))


def test_two_steps_by_hand():
    """One channel, one state: h1 = d1 B1 u1, h2 = e^(d2 A) h1 + d2 B2 u2, y = C h + D u."""
    u, d, A, B, C, D = [1.0, 2.0], [0.5, 0.25], -0.8, [1.5, -1.0], [2.0, 3.0], 0.7
    h1 = d[0] * B[0] * u[0]
    h2 = math.exp(d[1] * A) * h1 + d[1] * B[1] * u[1]
    expected = [C[0] * h1 + D * u[0], C[1] * h2 + D * u[1]]
    t = lambda x: torch.tensor(x, dtype=F64)  # noqa: E731
    arguments = (t([[u]]), t([[d]]), t([[A]]), t([[B]]), t([[C]]))
    runs = [selective_scan_ref(*arguments, D=t([D]), return_last_state=True)]
    runs += [selective_scan(*arguments, D=t([D]), return_last_state=True, method=m) for m in SELECTIVE_METHODS]
    for out, last in runs:
        np.testing.assert_allclose(out[0, 0].numpy(), expected, rtol=1e-15)
        assert last.shape == (1, 1, 1) and last.item() == pytest.approx(h2, rel=1e-15)


@pytest.mark.parametrize("groups", [None, 1, 2, 4])
@pytest.mark.parametrize("method", SELECTIVE_METHODS)
def test_every_method_matches_the_reference_loop_in_float64(groups, method):
    inputs = random_inputs(3, groups=groups)
    out, last = selective_scan(**inputs, delta_softplus=True, return_last_state=True, method=method)
    expected, expected_last = reference(inputs)
    assert np.linalg.norm(out.numpy() - expected) <= 1e-13 * np.linalg.norm(expected)
    assert np.linalg.norm(last.numpy() - expected_last) <= 1e-13 * np.linalg.norm(expected_last)


@given(L=st.integers(1, 80), N=st.integers(1, 5), seed=st.integers(0, 2**16))
@settings(max_examples=20, deadline=None)
def test_property_parallel_and_chunked_equal_sequential(L, N, seed):
    inputs = random_inputs(seed, batch=1, dim=2, N=N, L=L)
    reference = selective_scan(**inputs, delta_softplus=True, method="sequential")
    for method in ("parallel", "chunked"):
        got = selective_scan(**inputs, delta_softplus=True, method=method)
        assert torch.linalg.norm(got - reference) <= 1e-13 * torch.linalg.norm(reference)


def test_float32_in_float32_out_and_close_to_float64():
    inputs = random_inputs(5, L=200)
    single = {k: v.float() for k, v in inputs.items()}
    exact = selective_scan(**inputs, delta_softplus=True)
    for method in SELECTIVE_METHODS:
        out = selective_scan(**single, method=method, delta_softplus=True)
        assert out.dtype == torch.float32
        # Softplus steps and A <= 0 make every decay <= 1 (contractive): roundings of eps = 6e-8 (inputs and
        # arithmetic) add up like a random walk over at most L = 200 steps, sqrt(L) eps = 8.4e-7 relative;
        # 2e-6 allows a factor 2.4 over that (observed: 1e-7 here, at most 3.2e-7 over 40 seeds).
        assert torch.linalg.norm(out.double() - exact) <= 2e-6 * torch.linalg.norm(exact)


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32_and_returned_in_its_dtype(half):
    """The docstring's promise: float16/bfloat16 inputs give the float32 result on the same values, rounded once."""
    inputs = {k: v.to(half) for k, v in random_inputs(13, L=20).items()}
    for method in SELECTIVE_METHODS:
        out, last = selective_scan(**inputs, delta_softplus=True, return_last_state=True, method=method)
        in_float32 = selective_scan(
            **{k: v.float() for k, v in inputs.items()}, delta_softplus=True, return_last_state=True, method=method
        )
        assert out.dtype == half and last.dtype == torch.float32
        assert torch.equal(out, in_float32[0].to(half)) and torch.equal(last, in_float32[1])


def test_delta_bias_without_softplus_is_added_to_the_step():
    """delta_bias applies even without softplus: the step is delta + delta_bias (here positive, so decays <= 1)."""
    inputs = random_inputs(14)
    inputs["delta"] = inputs["delta"].abs()
    shifted = {**inputs, "delta": inputs["delta"] + inputs["delta_bias"][:, None], "delta_bias": None}
    expected, expected_last = (x.numpy() for x in selective_scan_ref(**shifted, return_last_state=True))
    for method in SELECTIVE_METHODS:
        out, last = selective_scan(**inputs, delta_softplus=False, return_last_state=True, method=method)
        assert np.linalg.norm(out.numpy() - expected) <= 1e-13 * np.linalg.norm(expected)
        assert np.linalg.norm(last.numpy() - expected_last) <= 1e-13 * np.linalg.norm(expected_last)
        without_bias = selective_scan(**{**inputs, "delta_bias": None}, delta_softplus=False, method=method)
        assert not torch.allclose(without_bias, out)


@pytest.mark.parametrize("method", SELECTIVE_METHODS)
def test_the_last_state_owns_its_memory(method):
    """The last state is (batch, dim, N) on its own, not a view keeping the (L, batch, dim, N) states alive."""
    _, last = selective_scan(**random_inputs(15, L=40), return_last_state=True, method=method, block=16)
    assert last.untyped_storage().nbytes() == last.numel() * last.element_size()


def test_numpy_integer_blocks_are_accepted():
    inputs = random_inputs(16, L=12)
    expected = selective_scan(**inputs, method="chunked", block=4)
    torch.testing.assert_close(selective_scan(**inputs, method="chunked", block=np.int64(4)), expected, rtol=0, atol=0)


def test_options_are_optional_and_the_reference_is_a_loop_of_its_own():
    inputs = random_inputs(7)
    plain = {k: inputs[k] for k in ("u", "delta", "A", "B", "C")}
    out = selective_scan_ref(**plain)
    assert selective_scan_ref is not selective_scan and out.shape == inputs["u"].shape
    with_skip = selective_scan_ref(**plain, D=inputs["D"])
    torch.testing.assert_close(with_skip - out, inputs["u"] * inputs["D"][:, None])
    torch.testing.assert_close(selective_scan(**plain), out, rtol=1e-13, atol=1e-14)


def test_the_reference_keeps_mambas_dtypes():
    # float32 in, float32 out and state; half precision computed in float32, returned in its dtype, state float32.
    inputs = {k: v.float() for k, v in random_inputs(9).items()}
    out, last = selective_scan_ref(**inputs, return_last_state=True)
    assert out.dtype == last.dtype == torch.float32
    half = {k: v.half() for k, v in inputs.items()}
    out, last = selective_scan_ref(**half, return_last_state=True)
    assert out.dtype == torch.float16 and last.dtype == torch.float32


def test_time_invariant_B_and_C_are_one_group_per_channel_held_over_time():
    inputs = random_inputs(8, batch=1, dim=3, N=2, L=5)
    B, C = torch.randn(3, 2, dtype=F64), torch.randn(3, 2, dtype=F64)
    held = [x[None, :, :, None].expand(1, 3, 2, 5) for x in (B, C)]
    expected = selective_scan_ref(inputs["u"], inputs["delta"], inputs["A"], *held)
    torch.testing.assert_close(selective_scan_ref(inputs["u"], inputs["delta"], inputs["A"], B, C), expected)
    for method in SELECTIVE_METHODS:
        torch.testing.assert_close(
            selective_scan(inputs["u"], inputs["delta"], inputs["A"], B, C, method=method), expected
        )


BAD = [
    ({"delta": torch.rand(2, 4, 8, dtype=F64)}, "delta must have u's shape"),
    ({"A": torch.rand(4, 3, dtype=F64)}, "A must have no positive entries"),
    ({"A": -torch.rand(5, 3, dtype=F64)}, "A must have shape"),
    ({"B": torch.randn(2, 3, 3, 9, dtype=F64)}, "B must have shape"),
    ({"C": torch.randn(2, 2, 9, dtype=F64)}, "C must have shape"),
    ({"D": torch.randn(3, dtype=F64)}, "D must have shape"),
    ({"z": torch.randn(2, 4, 8, dtype=F64)}, "z must have shape"),
    ({"u": torch.full((2, 4, 9), float("nan"), dtype=F64)}, "u contains NaN"),
    ({"method": "fast"}, "method must be one of"),
    ({"method": "chunked", "block": 0}, "block must be a positive integer"),
    ({"method": "chunked", "block": True}, "block must be a positive integer"),
    ({"method": "chunked", "block": 2.5}, "block must be a positive integer"),
    ({"u": torch.zeros(2, 4, 0, dtype=F64), "delta": torch.zeros(2, 4, 0, dtype=F64)}, "u must have at least one step"),
    ({"A": -torch.rand(4, 3, dtype=F64).to(torch.complex128)}, "A: complex tensors are not supported"),
]


@pytest.mark.parametrize("change, match", BAD)
def test_bad_input_names_the_argument(change, match):
    inputs = {**random_inputs(0), **change}
    with pytest.raises(ValueError, match=match):
        selective_scan(**inputs)
    if not {"method", "block"} & set(change):  # the reference has neither keyword, and the same checks
        reference = {k: v for k, v in inputs.items() if k not in ("method", "block")}
        with pytest.raises(ValueError, match=match):
            selective_scan_ref(**reference)


@pytest.mark.parametrize("groups", [None, 2])
def test_chunked_carries_the_state_across_blocks(groups):
    inputs = random_inputs(11, L=50, groups=groups)  # blocks of 16 steps: 16 + 16 + 16 + 2
    out, last = selective_scan(**inputs, delta_softplus=True, return_last_state=True, method="chunked", block=16)
    expected, expected_last = reference(inputs)
    assert np.linalg.norm(out.numpy() - expected) <= 1e-13 * np.linalg.norm(expected)
    assert np.linalg.norm(last.numpy() - expected_last) <= 1e-13 * np.linalg.norm(expected_last)


def test_time_invariant_B_and_C_across_blocks():
    inputs = random_inputs(12, batch=1, dim=3, N=2, L=40)
    B, C = torch.randn(3, 2, dtype=F64), torch.randn(3, 2, dtype=F64)
    expected = selective_scan(inputs["u"], inputs["delta"], inputs["A"], B, C, method="sequential")
    chunked = selective_scan(inputs["u"], inputs["delta"], inputs["A"], B, C, method="chunked", block=7)
    torch.testing.assert_close(chunked, expected)
