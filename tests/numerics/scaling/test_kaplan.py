"""The numerical minimisation of Kaplan's joint law: hand cases, an independent minimiser, accuracy, bad input."""

import mpmath
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from numerics.scaling.kaplan import kaplan_allocation, kaplan_loss


def _random(n, seed):
    rng = np.random.default_rng(seed)
    log_uniform = lambda low, high: np.exp(rng.uniform(np.log(low), np.log(high), n))
    return {
        "C": log_uniform(1e15, 1e28),
        "N_c": log_uniform(1e10, 1e16),
        "D_c": log_uniform(1e10, 1e16),
        "alpha_N": rng.uniform(0.01, 0.99, n),
        "alpha_D": rng.uniform(0.01, 0.99, n),
    }


def test_the_joint_law_by_hand():
    # N = N_c, D = D_c: the bracket is 1 + 1 = 2, so L = 2^alpha_D.
    assert kaplan_loss(8.8e13, 5.4e13, 8.8e13, 5.4e13, 0.076, 0.095) == pytest.approx(2**0.095, rel=1e-15)


def test_equal_exponents_and_constants_split_evenly():
    # alpha_N = alpha_D and N_c = D_c: f = N_c/N + N_c/D is symmetric, so N = D = sqrt(C/6).
    values, accuracy = kaplan_allocation(np.array([6e22]), np.array([1e13]), np.array([1e13]), np.array([0.1]), np.array([0.1]))
    expected = np.array([1e11, 1e11, (2 * 1e13 / 1e11) ** 0.1])
    assert np.all(np.abs(values[0] - expected) <= accuracy[0] + 4e-16 * expected)


def test_an_independent_minimiser_agrees():
    """Brent's method on ln L in u = ln N, no derivative."""
    params = _random(8, seed=1)
    values, _ = kaplan_allocation(**params)
    for i in range(8):
        p = {k: v[i] for k, v in params.items()}
        log_loss = lambda u: np.log(kaplan_loss(np.exp(u), p["C"] / (6 * np.exp(u)), p["N_c"], p["D_c"], p["alpha_N"], p["alpha_D"]))
        start = np.log(values[i, 0])
        best = minimize_scalar(log_loss, bracket=(start - 2, start + 2), tol=1e-12)
        assert np.exp(best.x) == pytest.approx(values[i, 0], rel=1e-5)
        assert np.exp(best.fun) == pytest.approx(values[i, 2], rel=1e-12)


def test_the_stated_accuracy_covers_a_50_digit_solution():
    params = _random(8, seed=2)
    values, accuracy = kaplan_allocation(**params)
    for i in range(8):
        with mpmath.workdps(50):
            C, N_c, D_c, a_N, a_D = (mpmath.mpf(float(params[k][i])) for k in ("C", "N_c", "D_c", "alpha_N", "alpha_D"))
            p = a_N / a_D
            bracket = lambda u: (N_c * mpmath.exp(-u)) ** p + 6 * D_c * mpmath.exp(u) / C
            exact_u = mpmath.findroot(lambda u: mpmath.diff(bracket, u), mpmath.mpf(float(np.log(values[i, 0]))))
            N = mpmath.exp(exact_u)
            D = C / (6 * N)
            exact = [N, D, ((N_c / N) ** p + D_c / D) ** a_D]
            errors = np.array([float(abs(mpmath.mpf(float(v)) - t)) for v, t in zip(values[i], exact)])
        assert np.all(errors <= accuracy[i])


def test_shapes_and_batching():
    params = _random(6, seed=3)
    values, accuracy = kaplan_allocation(**params)
    assert values.shape == accuracy.shape == (6, 3)
    for i in range(6):
        single, _ = kaplan_allocation(**{k: v[i : i + 1] for k, v in params.items()})
        np.testing.assert_array_equal(single[0], values[i])


@pytest.mark.parametrize(
    "name, change", [("C", {"C": 0.0}), ("N_c", {"N_c": -1.0}), ("alpha_N", {"alpha_N": 1.0}), ("alpha_D", {"alpha_D": 0.0})]
)
def test_bad_input_names_the_argument(name, change):
    params = {k: v[:1] for k, v in _random(1, seed=4).items()}
    params.update({k: np.array([v]) for k, v in change.items()})
    with pytest.raises(ValueError, match=name):
        kaplan_allocation(**params)
