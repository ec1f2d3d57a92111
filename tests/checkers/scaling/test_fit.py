"""scaling-law-fit: verified, every mutant refuted, gradient against the derivation, worked example, figures, bad input."""

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import mutant_outcome, run_check
from checkers.worked import example_params, theorem_figures, worked_example
from checkers.closed_form import compile_closed_form
from checkers.scaling.fit import CENTRE_START, scaling_law_fit
from numerics.scaling.fit import huber_minimiser_near, log_sum_exp_prediction, planted_runs
from proofs.scaling.fit import log_sum_exp_form

# Besiroglu et al. 2024's estimates (the theorem's default planted law).
REPLICATION = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}


def test_it_verifies():
    result = run_check(scaling_law_fit, instances=100, seed=0)
    assert result.status == "verified", result.message
    # claim= (the procedure); its lemma, the log-sum-exp form and its gradient, is checked and counted.
    assert result.symbolic == {"steps": 10, "proved": 10, "sampled": 0, "given": 0, "failed": 0}
    assert result.numeric.max_error < 1
    # The oracle's stated accuracy is what the comparison rests on: small, but not zero.
    assert 0 < result.numeric.oracle_accuracy < 1e-3


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(scaling_law_fit, instances=30, seed=0)
    refuted = {m.name: m.refuted for m in outcome.mutants}
    assert refuted == {
        "squared error on the raw loss": True,
        "no irreducible loss E": True,
        "N and D exchanged (exponents swapped)": True,
        "tokens as C/N (the 6 of C = 6ND dropped)": True,
    }


def test_the_log_sum_exp_form_is_the_theorem_s_lemma():
    assert [lemma.title for lemma in scaling_law_fit.lemma_derivations()] == [log_sum_exp_form().title]


def test_the_fitted_gradient_is_the_derivations():
    rng = np.random.default_rng(3)
    n_, d_ = rng.uniform(17, 24, 50), rng.uniform(19, 28, 50)
    theta = np.array([6.2, 7.6, 0.6, 0.35, 0.37])
    prediction, jacobian = log_sum_exp_prediction(theta, n_, d_)
    derivation = log_sum_exp_form()
    arguments = {"a": theta[0], "b": theta[1], "e": theta[2], "alpha": theta[3], "beta": theta[4], "n": n_, "d": d_}
    arguments = {k: np.broadcast_to(v, n_.shape) for k, v in arguments.items()}
    np.testing.assert_allclose(compile_closed_form(derivation.result)(**arguments), jacobian, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(compile_closed_form(derivation.expression("log_loss"))(**arguments), prediction, rtol=1e-14)


@given(tp.strategies.parameters(scaling_law_fit))
@settings(max_examples=15, deadline=None)
def test_property_the_single_start_fit_finds_the_minimiser_anywhere(params):
    planted = [params[k] for k in REPLICATION]
    N, D, L = planted_runs(*planted, diverged=params["diverged"])
    claim = scaling_law_fit.claim(N=N[None], D=D[None], L=L[None])[0]
    values, accuracy = huber_minimiser_near(*(np.array([p]) for p in planted), N[None], D[None], L[None])
    assert np.all(np.abs(claim - values[0]) <= 1e-12 * np.abs(values[0]) + accuracy[0]), (params, claim, values)


def test_exact_runs_recover_the_planted_law_to_the_optimiser_s_accuracy():
    planted = {"A": 250.0, "B": 900.0, "E": 2.0, "alpha": 0.3, "beta": 0.45}
    N, D, L = planted_runs(**planted)
    claim = scaling_law_fit.claim(N=N[None], D=D[None], L=L[None])[0]
    np.testing.assert_allclose(claim, list(planted.values()), rtol=1e-6)
    assert CENTRE_START.tolist() == pytest.approx([np.log(300), np.log(550), np.log(1.6), 0.35, 0.35])


def test_worked_example_on_synthetic_runs(monkeypatch):
    monkeypatch.delenv("TP_CHINCHILLA_DATA", raising=False)
    example = worked_example(scaling_law_fit, resamples=40, diverged=0)
    assert example.verified, example.message
    values = example.values
    assert values["source"].startswith("synthetic") and values["runs"] == 48
    # Exact runs: the fit is the planted law (Besiroglu et al.'s estimates by default).
    for name, planted in REPLICATION.items():
        assert values[name] == pytest.approx(planted, rel=1e-6), name
        assert values[f"{name}_low"] == pytest.approx(planted, rel=1e-6)  # every resample is exact too
    # The allocation by hand: N_opt = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta)).
    A, B, alpha, beta, C = 482.01, 2085.43, 0.3478, 0.3658, 5.76e23
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    assert values["N_opt"] == pytest.approx(G * (C / 6) ** (beta / (alpha + beta)), rel=1e-6)
    assert values["D_opt"] == pytest.approx(C / (6 * values["N_opt"]), rel=1e-12)
    assert 17 < values["tokens_per_param"] < 19


def test_worked_example_renders(monkeypatch):
    monkeypatch.delenv("TP_CHINCHILLA_DATA", raising=False)
    latex = tp.example("scaling-law-fit", resamples=20).to_latex()
    assert "synthetic design" in latex and r"\num{482.01}" in latex and "bootstrap interval" in latex
    assert "disagree" not in latex
    latex = tp.example("scaling-law-fit", resamples=0).to_latex()
    assert "bootstrap" not in latex


def test_figures(monkeypatch):
    monkeypatch.delenv("TP_CHINCHILLA_DATA", raising=False)
    plots = theorem_figures(scaling_law_fit, resamples=20)
    assert [p.name for p in plots] == ["iso-flop", "optimal-size-band"]
    assert "%" not in plots[1].caption.replace(r"\%", "")
    assert [p.name for p in theorem_figures(scaling_law_fit, resamples=0)] == ["iso-flop"]


def test_worked_example_on_the_published_runs():
    path = os.environ.get("TP_CHINCHILLA_DATA")
    if not path or not Path(path).is_file():
        pytest.skip("TP_CHINCHILLA_DATA does not name the published Chinchilla runs")
    example = worked_example(scaling_law_fit, data=path, resamples=100)
    values = example.values
    assert example.verified and values["source"].startswith("published") and values["runs"] == 240
    for name, tolerance in {"A": 0.05, "B": 0.05, "E": 0.005, "alpha": 0.005, "beta": 0.005}.items():
        assert abs(values[f"{name}_rel_diff"]) < tolerance, name
    # Near Chinchilla's 20 tokens per parameter at Gopher's budget, unlike the rounded published fit (about 93).
    assert 15 < values["tokens_per_param"] < 22
    assert values["N_opt_low"] < values["N_opt"] < values["N_opt_high"]


def test_a_missing_data_file_is_bad_input(tmp_path):
    with pytest.raises(ValueError, match="path: no such file"):
        worked_example(scaling_law_fit, data=str(tmp_path / "absent.csv"))


@pytest.mark.parametrize("bad", [{"diverged": 4}, {"A": 50.0}, {"alpha": 0.6}, {"resamples": -1}, {"E": float("nan")}])
def test_out_of_domain_parameters_are_bad_input(bad):
    with pytest.raises(ValueError):
        example_params(scaling_law_fit, bad)
