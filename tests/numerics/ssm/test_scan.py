"""Scans of the linear recurrence: agree with a hand loop (numpy and torch), instrumented counts, bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.ssm import linear_recurrence
from numerics.ssm.scan import (
    RECURRENCE_METHODS,
    Count,
    blelloch_scan,
    chunked_scan,
    hillis_steele_scan,
    matrix_combine,
    sequential_scan,
)


def hand_loop(a, b):
    """h_t = a_t h_(t-1) + b_t along the first axis, in plain Python-level steps."""
    h, out = np.zeros_like(b[0]), []
    for a_t, b_t in zip(a, b):
        h = a_t * h + b_t
        out.append(h)
    return np.array(out)


SCANS = {
    "sequential": sequential_scan,
    "hillis-steele": hillis_steele_scan,
    "blelloch": blelloch_scan,
    "chunked by 3": lambda a, b, op=None, count=None: chunked_scan(a, b, 3, **({"op": op} if op else {}), count=count),
}


@pytest.mark.parametrize("name", SCANS)
@given(length=st.integers(1, 70), seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_every_scan_is_the_recurrence(name, length, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-1, 1, (length, 3)), rng.standard_normal((length, 3))
    _, states = SCANS[name](a, b)
    np.testing.assert_allclose(states, hand_loop(a, b), rtol=1e-12, atol=1e-12)


def test_hand_case():
    a, b = np.array([2.0, 3.0, 0.5]), np.array([1.0, 1.0, 4.0])
    # h1 = 1, h2 = 3*1 + 1 = 4, h3 = 0.5*4 + 4 = 6; cumulative products 2, 6, 3.
    for scan in SCANS.values():
        products, states = scan(a, b)
        assert states.tolist() == [1.0, 4.0, 6.0] and products.tolist() == [2.0, 6.0, 3.0]


def test_matrix_recurrence_keeps_the_order():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((9, 2, 2)) / 2, rng.standard_normal((9, 2, 1))
    h, expected = np.zeros((2, 1)), []
    for a_t, b_t in zip(a, b):
        h = a_t @ h + b_t
        expected.append(h)
    for scan in SCANS.values():
        np.testing.assert_allclose(scan(a, b, op=matrix_combine)[1], np.array(expected), rtol=1e-12, atol=1e-12)


def test_counts_by_hand():
    """L = 8: Hillis-Steele 7 + 6 + 4 pairs in 3 rounds; Blelloch 4 + 2 + 1 + 1 + 3 in 5; chunks of 4: 3*2 + 1 + 4."""
    a, b = np.ones(8), np.ones(8)
    for scan, expected in ((hillis_steele_scan, (3, 17)), (blelloch_scan, (5, 11)), (sequential_scan, (7, 7))):
        count = Count()
        scan(a, b, count=count)
        assert (count.depth, count.work) == expected
    count = Count()
    chunked_scan(a, b, 4, count=count)
    assert (count.depth, count.work) == (3 + 1 + 1, 6 + 1 + 4)


@pytest.mark.parametrize("method", RECURRENCE_METHODS + (None,))
@pytest.mark.parametrize("shape", [(4, 37), (2, 3, 64), (1,)])
def test_linear_recurrence_float64(method, shape):
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(shape, dtype=torch.float64, generator=generator)
    b = torch.randn(shape, dtype=torch.float64, generator=generator)
    expected = hand_loop(np.moveaxis(a.numpy(), -1, 0), np.moveaxis(b.numpy(), -1, 0))
    got = linear_recurrence(a, b, method)
    assert got.dtype == torch.float64 and got.shape == a.shape
    assert np.linalg.norm(got.numpy() - np.moveaxis(expected, 0, -1)) <= 1e-13 * np.linalg.norm(expected)


@pytest.mark.parametrize(
    "a, b, match",
    [
        (torch.rand(3, 5), torch.rand(3, 4), "same shape"),
        (torch.tensor([0.5, float("nan")]), torch.rand(2), "a contains NaN"),
        (np.ones(3), torch.rand(3), "a must be a torch tensor"),
        (torch.rand(3), torch.rand(3), "method"),
    ],
)
def test_bad_input_names_the_argument(a, b, match):
    with pytest.raises(ValueError, match=match):
        linear_recurrence(a, b, method="no such method" if match == "method" else None)


@pytest.mark.parametrize("method", RECURRENCE_METHODS + (None,))
def test_linear_recurrence_leaves_its_inputs_alone(method):
    a, b = torch.rand(17, dtype=torch.float64), torch.randn(17, dtype=torch.float64)
    a0, b0 = a.clone(), b.clone()
    linear_recurrence(a, b, method)
    assert torch.equal(a, a0) and torch.equal(b, b0)


def test_blelloch_states_without_products():
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0, 1, (37, 2)), rng.standard_normal((37, 2))
    products, states = blelloch_scan(a, b)
    _, states_only = blelloch_scan(a, b, products=False)
    np.testing.assert_allclose(states_only, states, rtol=1e-13)
    np.testing.assert_allclose(products, np.cumprod(a, axis=0), rtol=1e-13)
    m_a, m_b = rng.standard_normal((12, 2, 2)) / 2, rng.standard_normal((12, 2, 1))
    np.testing.assert_allclose(
        blelloch_scan(m_a, m_b, matrix_combine, products=False)[1], blelloch_scan(m_a, m_b, matrix_combine)[1]
    )
