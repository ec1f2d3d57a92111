"""The direct minimisation behind inference-optimal: hand cases, an independent minimiser, accuracy, bad input."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from numerics.scaling.inference import increasing_root, inference_figure, inference_optimal_allocation, reducible_loss

HOFFMANN = {"A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def _batch(**params):
    return {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in params.items()}


def test_little_demand_gives_chinchillas_split_of_the_reducible_loss():
    # D_inf -> 0: the optimum is Chinchilla's, where alpha A N^-alpha = beta B D^-beta, i.e. the model-size
    # term carries beta/(alpha + beta) of the reducible loss R.
    values, _ = inference_optimal_allocation(**_batch(**HOFFMANN, N_ref=8e9, D_ref=15e12, D_inf=1e-3))
    N, D, _ = values[0]
    R = reducible_loss(8e9, 15e12, 406.4, 410.7, 0.34, 0.28)
    assert 406.4 * N**-0.34 == pytest.approx(R * 0.28 / 0.62, rel=1e-12)
    assert 410.7 * D**-0.28 == pytest.approx(R * 0.34 / 0.62, rel=1e-12)


def test_an_independent_minimiser_agrees():
    """Brent's method on the cost over ln N, with D from the loss constraint solved directly."""
    rng = np.random.default_rng(0)
    for _ in range(6):
        p = {**HOFFMANN, "N_ref": np.exp(rng.uniform(np.log(1e8), np.log(1e13))),
             "D_ref": np.exp(rng.uniform(np.log(1e9), np.log(1e15))), "D_inf": np.exp(rng.uniform(np.log(1e6), np.log(1e16)))}
        values, _ = inference_optimal_allocation(**_batch(**p))
        R = p["A"] * p["N_ref"] ** -p["alpha"] + p["B"] * p["D_ref"] ** -p["beta"]
        smallest = np.log(p["A"] / R) / p["alpha"]

        def cost(u):
            N = np.exp(u)
            D = (p["B"] / (R - p["A"] * N ** -p["alpha"])) ** (1 / p["beta"])
            return np.log(6 * N * D + 2 * N * p["D_inf"])

        best = minimize_scalar(cost, bounds=(smallest + 1e-9, smallest + 60), method="bounded", options={"xatol": 1e-10})
        assert np.exp(best.fun) == pytest.approx(values[0, 2], rel=1e-9)
        assert np.exp(best.x) == pytest.approx(values[0, 0], rel=1e-3)


def test_the_optimum_reaches_the_reference_loss_and_beats_its_neighbours():
    rng = np.random.default_rng(1)
    n = 50
    p = _batch(**{k: np.full(n, v) for k, v in HOFFMANN.items()}, N_ref=np.exp(rng.uniform(18, 30, n)),
               D_ref=np.exp(rng.uniform(21, 34, n)), D_inf=np.exp(rng.uniform(14, 36, n)))
    values, accuracy = inference_optimal_allocation(**p)
    N, D, cost = values.T
    R = reducible_loss(p["N_ref"], p["D_ref"], p["A"], p["B"], p["alpha"], p["beta"])
    np.testing.assert_allclose(reducible_loss(N, D, p["A"], p["B"], p["alpha"], p["beta"]), R, rtol=1e-12)
    assert np.all(accuracy >= 0) and np.all(accuracy < 1e-9 * values)
    for scale in (1.001, 1 / 1.001):
        N2 = N * scale
        D2 = (p["B"] / (R - p["A"] * N2 ** -p["alpha"])) ** (1 / p["beta"])
        assert np.all(6 * N2 * D2 + 2 * N2 * p["D_inf"] > cost)


def test_increasing_root_by_hand_and_nan_where_there_is_none():
    # ln x - c rises in ln x: root x = e^c, here 5; ln x - c + 10 + tanh(ln x)^2 ... has none when shifted above 0.
    x = increasing_root(lambda log_x, c: log_x - c, np.array([1.0, 100.0]), args=(np.log([5.0, 5.0]),))
    np.testing.assert_allclose(x, [5.0, 5.0], rtol=1e-14)
    x = increasing_root(lambda log_x, c: np.tanh(log_x) + c, np.array([1.0, 1.0]), args=(np.array([0.5, 2.0]),))
    assert x[0] == pytest.approx(np.exp(np.arctanh(-0.5)), rel=1e-14) and np.isnan(x[1])


@pytest.mark.parametrize("name", ["A", "N_ref", "D_inf"])
def test_bad_input_names_the_argument(name):
    params = _batch(**HOFFMANN, N_ref=8e9, D_ref=15e12, D_inf=1e13)
    params[name] = np.array([0.0])
    with pytest.raises(ValueError, match=name):
        inference_optimal_allocation(**params)


def test_an_exponent_outside_0_1_is_bad_input():
    with pytest.raises(ValueError, match="beta"):
        inference_optimal_allocation(**_batch(**{**HOFFMANN, "beta": 1.2}, N_ref=8e9, D_ref=15e12, D_inf=1e13))


def test_the_figure():
    figure = inference_figure(np.array([1e10, 1e12]), np.array([2e10, 1e10]), np.array([2e12, 4e12]), 8e9, 15e12)
    assert len(figure.axes) == 2


def test_the_stated_accuracy_covers_a_40_digit_solution():
    import mpmath

    rng = np.random.default_rng(7)
    n = 12
    log_uniform = lambda low, high: np.exp(rng.uniform(np.log(low), np.log(high), n))
    p = {"A": log_uniform(10, 1e4), "B": log_uniform(10, 1e4), "alpha": rng.uniform(0.05, 0.95, n),
         "beta": rng.uniform(0.05, 0.95, n), "N_ref": log_uniform(1e8, 1e13), "D_ref": log_uniform(1e9, 1e15),
         "D_inf": log_uniform(1e6, 1e16)}
    values, accuracy = inference_optimal_allocation(**p)
    with mpmath.workdps(40):
        for i in range(n):
            A, B, alpha, beta, N_ref, D_ref, D_inf = (mpmath.mpf(float(p[k][i])) for k in p)
            R = A * N_ref**-alpha + B * D_ref**-beta
            # The first-order condition solved at 40 digits (a check of the oracle, which never uses it).
            h = lambda log_D: alpha * R - (alpha + beta) * B * mpmath.exp(-beta * log_D) - beta / 3 * B * D_inf * mpmath.exp(
                -(beta + 1) * log_D
            )
            D = mpmath.exp(mpmath.findroot(h, mpmath.log(mpmath.mpf(float(values[i, 1])))))
            N = (A / (R - B * D**-beta)) ** (1 / alpha)
            exact = (N, D, 6 * N * D + 2 * N * D_inf)
            errors = [float(abs(mpmath.mpf(float(v)) - e)) for v, e in zip(values[i], exact)]
            assert np.all(np.array(errors) <= accuracy[i])
