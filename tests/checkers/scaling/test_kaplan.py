"""kaplan-exponents: verified, mutants refuted, property test, Kaplan's numbers, seed 001's erratum, bad input."""


import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import mutant_outcome, run_check
from checkers.worked import example_params, worked_example
from checkers.scaling.kaplan import kaplan_exponents


def test_it_verifies_with_every_step_proved():
    result = run_check(kaplan_exponents, instances=300, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 22, "proved": 22, "sampled": 0, "given": 0, "failed": 0, "custom": 1}
    assert result.numeric.max_error < 1


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(kaplan_exponents, instances=200, seed=0, generated=False)
    assert len(outcome.mutants) == 4 and all(m.refuted for m in outcome.mutants), outcome.mutants


@given(tp.strategies.parameters(kaplan_exponents))
@settings(max_examples=40, deadline=None)
def test_property_the_optimum_spends_the_budget(params):
    example = worked_example(kaplan_exponents, **params)
    assert example.verified
    values = example.values
    assert 6 * values["N_opt"] * values["D_opt"] == pytest.approx(params["C"], rel=1e-12)
    assert values["a"] + values["b"] == pytest.approx(1.0, rel=1e-15)


def test_kaplans_published_exponents():
    example = worked_example(kaplan_exponents)
    assert example.verified
    assert example.params == {"alpha_N": 0.076, "alpha_D": 0.095, "N_c": 8.8e13, "D_c": 5.4e13, "C": 5.76e23}
    v = example.values
    # By hand: 10^-0.076 = 0.8395, 10^-0.095 = 0.8035; a = 0.095/0.171 = 5/9; alpha_C = 0.076*0.095/0.171 = 0.04222.
    assert v["gain_N"] == pytest.approx(0.83946, rel=1e-4)
    assert v["gain_D"] == pytest.approx(0.80353, rel=1e-4)
    assert v["a"] == pytest.approx(5 / 9, rel=1e-14) and v["b"] == pytest.approx(4 / 9, rel=1e-14)
    assert v["alpha_C_joint"] == pytest.approx(0.076 * 0.095 / 0.171, rel=1e-14)
    # N_opt = N_c^(4/9) (0.8 C / (6 D_c))^(5/9), by hand in logs: ln N = (4/9) 32.108 + (5/9) 14.170 = 26.079.
    assert v["N_opt"] == pytest.approx(1.9166e11, rel=1e-4)
    assert v["N_ridge_exponent"] == pytest.approx(0.8)
    # Chinchilla's approach-3 exponent beta/(alpha + beta) = 0.28/0.62, far below Kaplan's published 0.73.
    assert v["a_chinchilla"] == pytest.approx(0.28 / 0.62) and v["a_kaplan_published"] == 0.73


def test_seed_001s_rounded_exponents_and_the_erratum():
    v = worked_example(kaplan_exponents).values
    assert v["a_seed"] == pytest.approx(0.10 / 0.17) and v["gain_N_seed"] == pytest.approx(10**-0.07)
    (erratum,) = kaplan_exponents.errata
    assert erratum.source == "seed 001" and erratum.refuted_by is None and erratum.evidence
    # The corrected text quotes the numbers this theorem computes.
    for number in (f"{v['gain_N']:.3f}", f"{v['gain_N_seed']:.3f}", f"{v['a']:.3f}", f"{v['a_seed']:.3f}"):
        assert number in erratum.corrected


def test_the_worked_example_renders():
    latex = tp.example("kaplan-exponents").to_latex()
    assert r"\num{0.555556}" in latex and "Not confirmed" not in latex


@pytest.mark.parametrize("bad", [{"alpha_N": 0.0}, {"alpha_D": 1.0}, {"alpha_N": -0.1}, {"C": 0.0}, {"N_c": -1.0}])
def test_out_of_domain_parameters_are_bad_input(bad):
    with pytest.raises(ValueError):
        example_params(kaplan_exponents, bad)
