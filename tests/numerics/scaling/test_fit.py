"""The Chinchilla fitting procedure: planted recovery, bad input, CSV reading, bootstrap determinism, real data."""

import os
from pathlib import Path

import numpy as np
import pytest

from numerics.scaling.fit import (
    HOFFMANN_GRID,
    ScalingFit,
    drop_highest_losses,
    fit_chinchilla,
    huber,
    huber_gradient_and_hessian,
    huber_minimiser_near,
    huber_objective,
    load_runs,
    log_sum_exp_prediction,
    natural_parameters,
    newton_polish,
    one_blas_thread,
    planted_runs,
)
from numerics.scaling import fit as fit_module

PLANTED = {"A": 406.4, "B": 410.7, "E": 1.69, "alpha": 0.34, "beta": 0.28}
# Besiroglu et al. 2024, their estimates from the same 240 runs.
REPLICATION = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}


def _published_runs() -> Path:
    path = os.environ.get("TP_CHINCHILLA_DATA")
    if not path:
        pytest.skip("TP_CHINCHILLA_DATA is not set: the published Chinchilla runs are not available")
    if not Path(path).is_file():
        pytest.skip(f"TP_CHINCHILLA_DATA={path} does not name a file")
    return Path(path)


def test_huber_by_hand():
    # Quadratic inside delta, linear outside, continuous at the joint: 0.5 * 1e-6 = 1e-3 * (1e-3 - 5e-4).
    assert huber(np.array([0.0, 5e-4, 1e-3, -3e-3]), 1e-3) == pytest.approx([0.0, 1.25e-7, 5e-7, 2.5e-6], rel=1e-12)


def test_the_jacobian_matches_central_differences():
    rng = np.random.default_rng(0)
    log_N, log_D = rng.uniform(17, 24, 30), rng.uniform(19, 27, 30)
    theta = np.array([6.0, 7.5, 0.6, 0.34, 0.37])
    _, jacobian = log_sum_exp_prediction(theta, log_N, log_D)
    step = 1e-6
    for k in range(5):
        shift = np.zeros(5)
        shift[k] = step
        up, _ = log_sum_exp_prediction(theta + shift, log_N, log_D)
        down, _ = log_sum_exp_prediction(theta - shift, log_N, log_D)
        # Central differences are accurate to O(step^2) plus rounding u/step: 1e-9 here.
        np.testing.assert_allclose(jacobian[:, k], (up - down) / (2 * step), atol=1e-8)


def test_the_prediction_is_the_log_of_the_loss():
    N, D = np.array([1e8, 3e9]), np.array([2e9, 6e10])
    theta = np.log([PLANTED["A"], PLANTED["B"], PLANTED["E"]]).tolist() + [PLANTED["alpha"], PLANTED["beta"]]
    prediction, _ = log_sum_exp_prediction(np.array(theta), np.log(N), np.log(D))
    by_hand = 1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28
    np.testing.assert_allclose(np.exp(prediction), by_hand, rtol=1e-14)


def test_hoffmanns_grid_has_4500_starts():
    assert HOFFMANN_GRID.shape == (4500, 5)
    assert set(HOFFMANN_GRID[:, 0]) == {0.0, 5.0, 10.0, 15.0, 20.0, 25.0}
    assert set(HOFFMANN_GRID[:, 3]) == {0.0, 0.5, 1.0, 1.5, 2.0}


def test_exact_runs_give_back_the_planted_law():
    N, D, L = planted_runs(**PLANTED)
    fit = fit_chinchilla(N, D, L)
    assert isinstance(fit, ScalingFit) and fit.intervals == {}
    assert fit.objective < 1e-20
    # The parameters are determined to about 1e-8 relative on these 48 exact runs (see the theorem's accuracy).
    np.testing.assert_allclose(fit.parameters(), list(PLANTED.values()), rtol=1e-6)


def test_diverged_runs_pull_squares_but_barely_move_the_huber_fit_s_losses():
    N, D, L = planted_runs(**PLANTED, diverged=3)
    fit = fit_chinchilla(N, D, L)
    clean = np.setdiff1d(np.arange(48), [3, 11, 19])
    truth = 1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28
    # The fitted losses on the 45 clean runs stay within 0.1 % of the truth ...
    assert np.max(np.abs(fit.loss(N[clean], D[clean]) / truth[clean] - 1)) < 1e-3
    # ... and the objective is about 3 delta |ln 1.5| (three runs in the linear zone).
    assert fit.objective == pytest.approx(3 * 1e-3 * np.log(1.5), rel=0.01)


def test_the_independent_minimiser_returns_the_planted_law_on_exact_runs():
    N, D, L = planted_runs(**PLANTED)
    values, accuracy = huber_minimiser_near(*(np.array([v]) for v in PLANTED.values()), N[None], D[None], L[None])
    np.testing.assert_allclose(values[0], list(PLANTED.values()), rtol=1e-12)
    # Only the rounding of its gradient remains: about 1e-9 relative, per parameter.
    assert np.all(accuracy < 1e-8 * values)


def test_the_hessian_matches_central_differences_of_the_gradient():
    N, D, L = planted_runs(**PLANTED, diverged=2)
    logs = np.log(N), np.log(D), np.log(L)
    counts = np.ones(48)
    theta = np.concatenate([np.log([PLANTED["A"], PLANTED["B"], PLANTED["E"]]), [PLANTED["alpha"], PLANTED["beta"]]])
    gradient, hessian = huber_gradient_and_hessian(theta, *logs, counts)
    np.testing.assert_allclose(gradient, huber_objective(theta, *logs, counts)[1], rtol=1e-14, atol=1e-18)
    # Both Huber zones in use: 46 exact runs inside |r| <= delta, the 2 diverged ones beyond (curvature of the LSE only).
    assert np.sum(np.abs(log_sum_exp_prediction(theta, logs[0], logs[1])[0] - logs[2]) <= 1e-3) == 46
    step = 1e-7
    gradient_at = lambda point: huber_objective(point, *logs, counts)[1]  # noqa: E731
    differences = np.array([(gradient_at(theta + step * e) - gradient_at(theta - step * e)) / (2 * step) for e in np.eye(5)])
    np.testing.assert_allclose(hessian, differences, atol=1e-7 * np.abs(hessian).max())


def test_newton_polish_resolves_what_l_bfgs_leaves():
    # Along the flat valley where A and alpha trade off, a point 1e-7 from the minimiser (in the centred coordinates
    # the fit works in) has an objective that differs from the minimum by less than the objective's own rounding:
    # L-BFGS, which accepts a step only if the objective decreases, cannot get closer. Its parameters are still
    # 1e-7 off, beyond scaling-law-fit's rtol (2e-8). Newton on the gradient takes it to the minimiser (the oracle's).
    planted = (300.0, 3000.0, 1.0, 0.4, 0.2)
    N, D, L = planted_runs(*planted, diverged=2)
    shift = np.array([np.log(N).mean(), np.log(D).mean()])
    logs, counts = (np.log(N) - shift[0], np.log(D) - shift[1], np.log(L)), np.ones(48)
    oracle, accuracy = huber_minimiser_near(*(np.array([p]) for p in planted), N[None], D[None], L[None])

    def centred(natural):
        theta = np.concatenate([np.log(natural[:3]), natural[3:]])
        theta[:2] -= theta[3:] * shift
        return theta

    def uncentred(theta):
        theta = theta.copy()
        theta[:2] += theta[3:] * shift
        return natural_parameters(theta)

    minimiser = centred(oracle[0])
    eigenvalues, eigenvectors = np.linalg.eigh(huber_gradient_and_hessian(minimiser, *logs, counts)[1])
    off = minimiser + 1e-7 * eigenvectors[:, 0]
    minimum = huber_objective(minimiser, *logs, counts)[0]
    eps = np.finfo(float).eps
    # The objective rises by lambda_min (1e-7)^2 / 2 there, less than one rounding of it; the computed values (sums of
    # 48 terms, each rounded) differ by a few roundings either way, as at any two points that close.
    assert eigenvalues[0] * 1e-14 / 2 < eps * minimum
    assert abs(huber_objective(off, *logs, counts)[0] - minimum) < 4 * eps * minimum
    assert np.max(np.abs(uncentred(off) - oracle[0]) / np.abs(oracle[0])) > 5e-8
    polished = uncentred(newton_polish(off, *logs, counts))
    assert np.max(np.abs(polished - oracle[0]) / np.abs(oracle[0])) < 1e-10
    assert np.all(np.abs(polished - oracle[0]) <= accuracy[0])


def test_newton_polish_stays_put_where_there_is_no_minimum_to_polish():
    # Far from any optimum every run is in Huber's linear zone and the Hessian is indefinite: nothing to polish.
    N, D, L = planted_runs(**PLANTED)
    logs = np.log(N), np.log(D), np.log(L)
    theta = np.array([0.0, 0.0, -1.0, 0.0, 0.0])
    assert np.min(np.linalg.eigvalsh(huber_gradient_and_hessian(theta, *logs, np.ones(48))[1])) < 0
    np.testing.assert_array_equal(newton_polish(theta, *logs, np.ones(48)), theta)


def test_the_oracle_shares_no_code_with_the_fit(monkeypatch):
    # The oracle writes the law in its original form and differentiates it itself: breaking the fit's functions
    # leaves it unchanged.
    N, D, L = planted_runs(**PLANTED, diverged=3)
    arguments = (*(np.array([v]) for v in PLANTED.values()), N[None], D[None], L[None])
    before = huber_minimiser_near(*arguments)

    def broken(*args, **kwargs):
        raise AssertionError("the oracle called the fit's code")

    fit_functions = ("log_sum_exp_prediction", "huber_objective", "huber_gradient_and_hessian", "newton_polish")
    for name in (*fit_functions, "huber", "natural_parameters"):
        monkeypatch.setattr(fit_module, name, broken)
    after = huber_minimiser_near(*arguments)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])


def test_bootstrap_is_determined_by_the_seed():
    N, D, L = planted_runs(**PLANTED, diverged=2)
    first = fit_chinchilla(N, D, L, resamples=30, seed=7)
    again = fit_chinchilla(N, D, L, resamples=30, seed=7)
    other = fit_chinchilla(N, D, L, resamples=30, seed=8)
    assert first.samples.shape == (30, 5)
    np.testing.assert_array_equal(first.samples, again.samples)
    assert first.intervals == again.intervals
    assert not np.array_equal(first.samples, other.samples)
    for name, (low, high) in first.intervals.items():
        assert low <= high, name


def test_the_bootstrap_interval_is_the_percentile_interval():
    N, D, L = planted_runs(**PLANTED, diverged=2)
    fit = fit_chinchilla(N, D, L, resamples=40, level=0.9, seed=1)
    column = np.sort(fit.samples[:, 3])
    # numpy's linear percentile at 5 % of 40 sorted values: position 0.05 * 39 = 1.95.
    assert fit.intervals["alpha"][0] == pytest.approx(column[1] + 0.95 * (column[2] - column[1]), rel=1e-12)


def test_one_blas_thread_restores_the_thread_counts():
    from threadpoolctl import threadpool_info

    before = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    with one_blas_thread():
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    assert [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"] == before


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ((np.ones(6), np.ones(6), np.ones(5)), "same length"),
        ((np.ones(6), np.ones(6), np.array([1, 2, np.nan, 1, 1, 1.0])), "L holds NaN"),
        ((np.array([1, 2, 0, 1, 1, 1.0]), np.ones(6), np.ones(6)), "N must be positive"),
        ((np.ones(6), -np.ones(6), np.ones(6)), "D must be positive"),
        ((np.ones(3), np.ones(3), np.ones(3)), "N: at least 5 runs"),
        ((np.ones((2, 3)), np.ones(6), np.ones(6)), "N must be a non-empty one-dimensional"),
    ],
)
def test_bad_runs_are_rejected_naming_the_argument(arguments, name):
    with pytest.raises(ValueError, match=name):
        fit_chinchilla(*arguments)


def test_bad_options_are_rejected():
    N, D, L = planted_runs(**PLANTED)
    for options, name in [({"level": 1.0}, "level"), ({"resamples": -1}, "resamples"), ({"polish": 0}, "polish"), ({"starts": np.ones(4)}, "starts")]:
        with pytest.raises(ValueError, match=name):
            fit_chinchilla(N, D, L, **options)


def test_load_runs_reads_tokens_or_compute(tmp_path):
    with_tokens = tmp_path / "tokens.csv"
    with_tokens.write_text("N,D,loss,note\n1e8,2e9,3.1,a\n2e8,4e9,2.9,b\n")
    runs = load_runs(with_tokens)
    np.testing.assert_array_equal(runs["N"], [1e8, 2e8])
    np.testing.assert_array_equal(runs["D"], [2e9, 4e9])
    np.testing.assert_array_equal(runs["L"], [3.1, 2.9])
    with_compute = tmp_path / "compute.csv"
    with_compute.write_text("Model Size,Training FLOP,loss\n1e8,1.2e18,3.1\n")
    # D = C / (6 N) = 1.2e18 / 6e8 = 2e9.
    assert load_runs(with_compute)["D"] == pytest.approx([2e9], rel=1e-15)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("N,loss\n1,2\n", "lacks the column\\(s\\) D or C"),
        ("D,loss\n1,2\n", "lacks the column\\(s\\) N"),
        ("N,D\n1,2\n", "lacks the column\\(s\\) loss"),
        ("N,D,loss\n", "holds no runs"),
        ("N,D,loss\n1,x,2\n", "row 2, column 'D': 'x' is not a number"),
        ("N,D,loss\n1,2,3\n1,,2\n", "row 3, column 'D': the cell is empty"),
        ("N,D,loss\n1,2,nan\n", "row 2, column 'loss': nan is not a finite positive number"),
        ("N,D,loss\n-1e8,2,3\n", "row 2, column 'N': -1e8 is not a finite positive number"),
    ],
)
def test_load_runs_rejects_bad_files(tmp_path, text, message):
    path = tmp_path / "runs.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_runs(path)


def test_load_runs_rejects_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_runs(tmp_path / "absent.csv")


def test_load_runs_accepts_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffN,D,loss\n1e8,2e9,3.1\n".encode("utf-8"))
    assert load_runs(path)["N"].tolist() == [1e8]


def test_too_few_runs_to_fit_are_refused():
    runs = {"N": np.ones(9), "D": np.ones(9), "L": np.arange(9.0)}
    with pytest.raises(ValueError, match="9 runs: the fit needs at least 10"):
        drop_highest_losses(runs)


def test_drop_highest_losses_keeps_those_below_the_fifth_highest():
    losses = [3.0, 9.0, 1.0, 8.0, 7.0, 2.0, 6.0, 5.0, 0.5, 0.25]
    runs = {"N": np.arange(10.0), "D": np.arange(10.0), "L": np.array(losses)}
    kept = drop_highest_losses(runs)
    assert kept["L"].tolist() == [3.0, 1.0, 2.0, 0.5, 0.25]
    assert kept["N"].tolist() == [0.0, 2.0, 5.0, 8.0, 9.0]


def test_the_published_runs_refit_close_to_the_replication():
    runs = drop_highest_losses(load_runs(_published_runs()))
    assert len(runs["L"]) == 240
    fit = fit_chinchilla(runs["N"], runs["D"], runs["L"], resamples=100, seed=0)
    # E and the exponents agree with Besiroglu et al.'s to < 0.5 %, A and B (a flat valley) to < 5 %.
    for name, tolerance in {"A": 0.05, "B": 0.05, "E": 0.005, "alpha": 0.005, "beta": 0.005}.items():
        assert getattr(fit, name) == pytest.approx(REPLICATION[name], rel=tolerance), name
        low, high = fit.intervals[name]
        assert low < REPLICATION[name] < high, name
    # Our optimum is at least as low as the objective at their (rounded) estimates.
    theta = np.array([np.log(REPLICATION["A"]), np.log(REPLICATION["B"]), np.log(REPLICATION["E"]), 0.3478, 0.3658])
    theirs, _ = huber_objective(theta, np.log(runs["N"]), np.log(runs["D"]), np.log(runs["L"]), np.ones(240))
    assert fit.objective <= theirs
