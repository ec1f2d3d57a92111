"""modular-addition-fourier: the exhaustive argmax, a broken closed form fails, the worked example, the caveat."""

import dataclasses
import functools

import numpy as np
import sympy as sp

from checkers.circuits.fourier import modular_addition_fourier
from checkers.closed_form import compile_closed_form
from checkers.engine import run_check
from checkers.sampling import edge_coverage, single_instance
from checkers.theorem import call_with
from checkers.worked import worked_example
from proofs.circuits.fourier import trig_logits


def test_from_111_instances_on_every_prime_up_to_113_is_checked():
    # test_every_theorem.py verifies it at 111 instances; the default 1000 covers them too.
    for instances in (111, 1000):
        coverage = edge_coverage(modular_addition_fourier.parameters, instances)["p"]
        assert coverage["covered"] == coverage["of"] == 29 and coverage["special"][-1] == 113


def test_the_claim_holds_every_pair_and_the_drawn_row():
    params = {"p": 11}
    group = single_instance(modular_addition_fourier, params, seed=4)
    claim = modular_addition_fourier.evaluate_claim(**params, **group.inputs)[0]
    tokens = np.arange(11)
    assert np.array_equal(claim[:121].reshape(11, 11), (tokens[:, None] + tokens[None, :]) % 11)
    frequencies = np.flatnonzero(group.inputs["key_frequencies"][0]) + 1
    b = group.inputs["b"][0]
    expected = sum(np.cos(2 * np.pi * k * (tokens[:, None] + b - tokens[None, :]) / 11) for k in frequencies)
    np.testing.assert_allclose(claim[121:].reshape(11, 11), expected, atol=1e-12)


def test_a_closed_form_with_half_the_frequency_fails_the_check():
    halved = compile_closed_form(trig_logits().result.subs(sp.pi, sp.pi / 2))
    edited = dataclasses.replace(
        modular_addition_fourier,
        assemble=lambda _, **kw: call_with(functools.partial(modular_addition_fourier.assemble, halved), kw),
    )
    failed = run_check(edited, instances=10, seed=0)
    assert failed.status == "failed" and failed.numeric.counterexample is not None


def test_the_worked_example():
    example = worked_example(modular_addition_fourier)
    assert example.verified and example.params == {"p": 113}
    v = example.values
    assert v["pairs_correct"] == v["pairs"] == 113**2
    assert v["answer"] == (v["a"] + v["b"]) % 113 and v["logit_answer"] == len(v["key_frequencies"])
    assert v["margin"] >= 1 - np.cos(2 * np.pi / 113)
    assert v["nanda_frequencies"] == [14, 35, 41, 42, 52] and 2 < v["nanda_margin"] < 5
    assert (v["composite_maximizers"], v["composite_maximizers_with_3"]) == (5, 1)


def test_the_composite_caveat_is_recorded_in_context():
    (erratum,) = modular_addition_fourier.errata
    assert erratum.kind == "context" and "gcd" in erratum.corrected
