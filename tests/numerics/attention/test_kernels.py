"""numpy scaled dot-product attention (task 2.1) against torch, masks, huge logits, bad input; the kernel smoothers."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.attention import scaled_dot_product_attention as reexported
from numerics.attention.kernels import (
    attention_weights,
    gaussian_kernel,
    gaussian_kernel_and_attention,
    gaussian_kernel_smoother,
    hard_attention_weights,
    kernel_rounding_bound,
    nadaraya_watson,
    scaled_dot_product_attention,
    smoother_rounding_bound,
    softmax,
    squared_distances,
    temperature_figure,
)


def _torch(Q, K, V, mask=None):
    as_tensor = lambda a: None if a is None else torch.from_numpy(np.array(a))
    attention = torch.nn.functional.scaled_dot_product_attention
    out = attention(as_tensor(Q), as_tensor(K), as_tensor(V), attn_mask=as_tensor(mask))
    return out.numpy()


@pytest.mark.parametrize(
    "lead, n_q, n_k, d_k, d_v",
    [((), 1, 1, 1, 1), ((), 4, 7, 3, 5), ((2,), 5, 5, 8, 2), ((2, 3), 6, 4, 16, 3), ((3, 1, 2), 2, 9, 4, 4)],
)
def test_matches_torch_in_float64(lead, n_q, n_k, d_k, d_v):
    rng = np.random.default_rng(n_q * 100 + n_k)
    Q, K, V = rng.normal(size=lead + (n_q, d_k)), rng.normal(size=lead + (n_k, d_k)), rng.normal(size=lead + (n_k, d_v))
    ours = scaled_dot_product_attention(Q, K, V)
    assert ours.shape == lead + (n_q, d_v) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, _torch(Q, K, V), rtol=1e-13, atol=1e-14)


def test_leading_dimensions_broadcast_as_in_torch():
    rng = np.random.default_rng(1)
    Q, K, V = rng.normal(size=(2, 1, 3, 4)), rng.normal(size=(1, 5, 6, 4)), rng.normal(size=(5, 6, 2))
    ours = scaled_dot_product_attention(Q, K, V)
    assert ours.shape == (2, 5, 3, 2)
    np.testing.assert_allclose(ours, _torch(Q, K, np.broadcast_to(V, (1, 5, 6, 2))), rtol=1e-13, atol=1e-14)


def test_boolean_mask_means_take_part_as_in_torch():
    rng = np.random.default_rng(2)
    Q, K, V = rng.normal(size=(3, 5, 4)), rng.normal(size=(3, 6, 4)), rng.normal(size=(3, 6, 2))
    mask = rng.random((3, 5, 6)) < 0.6
    mask[..., 0] = True  # every query keeps a key
    ours = scaled_dot_product_attention(Q, K, V, mask)
    np.testing.assert_allclose(ours, _torch(Q, K, V, mask), rtol=1e-13, atol=1e-14)
    # A masked key gets weight exactly 0: changing its value changes nothing.
    changed = V.copy()
    changed[0, 1] += 100.0
    masked = np.ones((5, 6), dtype=bool)
    masked[:, 1] = False
    before, after = (scaled_dot_product_attention(Q, K, values, masked)[0] for values in (V, changed))
    assert np.array_equal(before, after)
    # By hand: keeping only key j gives exactly v_j.
    only_third = np.zeros((5, 6), dtype=bool)
    only_third[:, 2] = True
    expected = np.broadcast_to(V[:, 2:3], (3, 5, 2))
    np.testing.assert_array_equal(scaled_dot_product_attention(Q, K, V, only_third), expected)


def test_a_fully_masked_query_gets_zero_output_as_in_torch():
    rng = np.random.default_rng(3)
    Q, K, V = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    mask = np.ones((4, 5), dtype=bool)
    mask[2] = False
    ours = scaled_dot_product_attention(Q, K, V, mask)
    assert np.all(np.isfinite(ours)) and np.array_equal(ours[2], [0.0, 0.0])
    np.testing.assert_allclose(ours, _torch(Q, K, V, mask), rtol=1e-13, atol=1e-14)


def test_huge_logits_do_not_overflow():
    # Scores of order 1e300 would overflow exp without the max subtraction: the limit is hard attention.
    Q = np.array([[1e300, 0.0], [0.0, -1e300]])
    K = np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0]])
    V = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp(-huge) may underflow to 0
        out = scaled_dot_product_attention(Q, K, V)
    # Query 1 picks key 1 (largest score); query 2's scores are (0, 0, -inf-ish): keys 1 and 2 tie.
    np.testing.assert_array_equal(out, [[1.0, 2.0], [2.0, 3.0]])
    big = np.random.default_rng(4).normal(size=(6, 4)) * 1e4
    weights = attention_weights(big, big)
    assert np.all(np.isfinite(weights)) and np.allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-15)


def test_float32_keeps_its_precision_and_integers_become_float64():
    rng = np.random.default_rng(5)
    Q, K, V = (rng.normal(size=(3, 4)).astype(np.float32) for _ in range(3))
    assert scaled_dot_product_attention(Q, K, V).dtype == np.float32
    integers = np.ones((2, 2), int), np.ones((3, 2), int), np.arange(6).reshape(3, 2)
    assert scaled_dot_product_attention(*integers).dtype == np.float64


@pytest.mark.parametrize(
    "shapes, mask, name",
    [
        (((3, 4), (5, 3), (5, 2)), None, "K"),  # d_k disagrees
        (((3, 4), (5, 4), (6, 2)), None, "V"),  # number of keys disagrees
        (((2, 3, 4), (3, 5, 4), (3, 5, 2)), None, "K"),  # leading dimensions do not broadcast
        (((3,), (5, 3), (5, 2)), None, "Q"),  # not a matrix
        (((3, 4), (5, 4), (5, 2)), np.ones((3, 5)), "mask"),  # not boolean
        (((3, 4), (5, 4), (5, 2)), np.ones((4, 5), dtype=bool), "mask"),  # wrong shape
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(shapes, mask, name):
    Q, K, V = (np.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        scaled_dot_product_attention(Q, K, V, mask)


def test_re_exported_from_the_package():
    assert reexported is scaled_dot_product_attention


@given(
    n_q=st.integers(1, 6),
    n_k=st.integers(1, 6),
    d_k=st.integers(1, 5),
    scale=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=40, deadline=None)
def test_property_rows_of_weights_are_probabilities_and_match_torch(n_q, n_k, d_k, scale, seed):
    rng = np.random.default_rng(seed)
    Q, K, V = scale * rng.normal(size=(n_q, d_k)), rng.normal(size=(n_k, d_k)), rng.normal(size=(n_k, 2))
    weights = attention_weights(Q, K)
    assert np.all(weights >= 0) and np.allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-14)
    # Logits reach scale |q||k| <= 40 scale; each side's weights are off by at most 4 u (40 scale) relatively and
    # |v| <= 5, so the outputs differ by at most 2 * 5 * 160 u scale = 1.8e-13 scale (plus the products' rounding).
    np.testing.assert_allclose(scaled_dot_product_attention(Q, K, V), _torch(Q, K, V), rtol=0, atol=1e-12 * (1 + scale))


# --- kernel smoothers ----------------------------------------------------------------------------


def test_nadaraya_watson_by_hand():
    # Kernel values 1, 3 (log 0, log 3) on values 2, 6: (1*2 + 3*6) / 4 = 5.
    np.testing.assert_allclose(nadaraya_watson(np.log([[1.0, 3.0]]), np.array([[2.0], [6.0]])), [[5.0]], rtol=1e-15)
    # Far below float64's range (exp(-1e4) = 0) the ratio is still right.
    far = nadaraya_watson(np.log([[1.0, 3.0]]) - 1e4, np.array([[2.0], [6.0]]))
    np.testing.assert_allclose(far, [[5.0]], rtol=1e-12)


def test_squared_distances_by_hand():
    q = np.array([[0.0, 0.0], [1.0, 1.0]])
    k = np.array([[3.0, 4.0], [1.0, 0.0]])
    np.testing.assert_array_equal(squared_distances(q, k), [[25.0, 1.0], [13.0, 1.0]])


def test_gaussian_smoother_equals_attention_for_keys_of_one_norm():
    rng = np.random.default_rng(6)
    queries, keys, values = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 7, 3)), rng.normal(size=(2, 7, 2))
    keys /= np.linalg.norm(keys, axis=-1, keepdims=True)
    np.testing.assert_allclose(
        gaussian_kernel_smoother(queries, keys, values, np.full(2, np.sqrt(3))),
        scaled_dot_product_attention(queries, keys, values),
        rtol=1e-13,
        atol=1e-14,
    )
    # Keys of different norms: the two differ (the norm factor no longer cancels).
    keys[:, 0] *= 3
    assert not np.allclose(
        gaussian_kernel_smoother(queries, keys, values, np.full(2, np.sqrt(3))),
        scaled_dot_product_attention(queries, keys, values),
    )


def test_gaussian_kernel_by_hand():
    q, k = np.array([[[0.0, 0.0]]]), np.array([[[3.0, 4.0], [1.0, 0.0]]])
    np.testing.assert_allclose(gaussian_kernel(q, k, np.array([0.5])), [[[math.exp(-25), math.exp(-1)]]], rtol=1e-15)


def test_the_kernel_and_attention_side_by_side():
    rng = np.random.default_rng(8)
    queries, keys, values = rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 5, 2))
    keys /= np.linalg.norm(keys, axis=-1, keepdims=True)
    temperature = np.array([0.25, 0.5, 1.0, 4.0])
    values_, accuracy = gaussian_kernel_and_attention(queries, keys, values, temperature)
    assert values_.shape == accuracy.shape == (4, 5, 7)
    width = temperature * np.sqrt(3)
    np.testing.assert_array_equal(values_[..., :5], gaussian_kernel(queries, keys, width))
    # The attention columns are the Gaussian-kernel smoother (unit keys), within the stated accuracy.
    gap = np.abs(values_[..., 5:] - gaussian_kernel_smoother(queries, keys, values, width))
    assert np.all(gap <= accuracy[..., 5:]) and accuracy.max() < 1e-12
    # The kernel through norms and the dot product (unit keys) agrees within the stated relative bound.
    through_dot = np.exp((queries @ np.swapaxes(keys, 1, 2) - ((queries**2).sum(-1)[..., None] + 1) / 2) / width[:, None, None])
    relative = np.abs(through_dot / values_[..., :5] - 1).reshape(4, -1).max(axis=1)
    assert np.all(relative <= kernel_rounding_bound(queries, keys, temperature))


def test_hard_attention_averages_ties():
    np.testing.assert_array_equal(hard_attention_weights([1.0, 0.0, 1.0, -1.0]), [0.5, 0.0, 0.5, 0.0])
    np.testing.assert_array_equal(hard_attention_weights([[2.0, 3.0], [4.0, 4.0]]), [[0.0, 1.0], [0.5, 0.5]])


def test_temperature_figure_is_deterministic():
    import io

    query, keys = np.array([1.0, -0.5]), np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])

    def pdf_bytes():
        buffer = io.BytesIO()
        temperature_figure(query, keys, (0.1, 1.0, 10.0)).savefig(buffer, format="pdf", metadata={"CreationDate": None})
        return buffer.getvalue()

    assert pdf_bytes() == pdf_bytes()
    lines = temperature_figure(query, keys, (0.1, 1.0, 10.0)).axes[0].get_lines()
    # The first line is the coldest: almost all weight on key 1 (score 1 against 0 and -1).
    assert lines[0].get_ydata()[0] > 0.99


def _extended_precision_smoother(queries, keys, values, temperature):
    """Softmax attention at temperature tau in numpy's long double (u = 2^-64 on x86), written out here."""
    queries, keys, values = (np.asarray(a, dtype=np.longdouble) for a in (queries, keys, values))
    scale = np.asarray(temperature, dtype=np.longdouble)[:, None, None] * np.sqrt(np.longdouble(keys.shape[-1]))
    scores = queries @ np.swapaxes(keys, 1, 2) / scale
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)) @ values


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="long double is no wider than float64 here")
def test_the_smoother_rounding_bound_covers_both_float64_evaluations():
    rng = np.random.default_rng(5)
    m, n, d = 400, 12, 16
    directions = rng.normal(size=(m, n, d))
    keys = 2.0 * directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    queries, values = 3 * rng.normal(size=(m, n, d)), rng.normal(size=(m, n, 3))
    temperature = rng.uniform(0.25, 4.0, m)
    exact = _extended_precision_smoother(queries, keys, values, temperature)
    bound = smoother_rounding_bound(queries, keys, values, temperature)
    attention = scaled_dot_product_attention(queries / temperature[:, None, None], keys, values)
    gaussian = gaussian_kernel_smoother(queries, keys, values, temperature * np.sqrt(d))
    for computed in (attention, gaussian):
        used = np.abs(computed - exact).reshape(m, -1).max(axis=1) / (bound / 2)
        # Each evaluation is within half the bound (it covers two), and the bound is not vacuous.
        assert used.max() <= 1 and used.max() > 1e-5


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="long double is no wider than float64 here")
def test_the_kernel_rounding_bound_covers_both_float64_evaluations():
    rng = np.random.default_rng(9)
    m, n, d = 400, 12, 16
    directions = rng.normal(size=(m, n, d))
    keys = 2.0 * directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    queries, temperature = 3 * rng.normal(size=(m, n, d)), rng.uniform(0.25, 4.0, m)
    width = (temperature * np.sqrt(d))[:, None, None]
    long_q, long_k = queries.astype(np.longdouble), keys.astype(np.longdouble)
    exact = np.exp(-((long_q[:, :, None] - long_k[:, None]) ** 2).sum(-1) / (2 * width.astype(np.longdouble)))
    through_dot = np.exp(-((queries**2).sum(-1)[..., None] + 4.0) / (2 * width)) * np.exp(
        queries @ np.swapaxes(keys, 1, 2) / width
    )
    bound = kernel_rounding_bound(queries, keys, temperature)
    for computed in (gaussian_kernel(queries, keys, width[:, 0, 0]), through_dot):
        used = np.abs(computed / exact - 1).reshape(m, -1).max(axis=1).astype(float) / (bound / 2)
        # Each evaluation is within half the bound (it covers two), and the bound is not vacuous.
        assert used.max() <= 1 and used.max() > 1e-3


def test_softmax_by_hand_huge_and_masked():
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(softmax([[0.0, 1.0, 2.0]]), [e / e.sum()], rtol=1e-15)
    np.testing.assert_allclose(softmax([[1000.0, 1001.0, 1002.0]]), [e / e.sum()], rtol=1e-14)  # no overflow
    masked = softmax([[0.0, 1.0, 2.0], [5.0, 6.0, 7.0]], mask=np.array([[True, True, False], [False, False, False]]))
    np.testing.assert_allclose(masked, [[1 / (1 + math.e), math.e / (1 + math.e), 0.0], [0.0, 0.0, 0.0]], rtol=1e-15)
