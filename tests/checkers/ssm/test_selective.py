"""selective-scan: verified, every mutant refuted, anchor, an edited kernel fails, property test, worked example
against a hand loop, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from checkers.independence import independence
from checkers.sampling import single_instance
from checkers.worked import worked_example
from checkers.ssm.selective import DIM, GROUPS, selective_scan


def test_it_verifies_with_every_step_proved():
    result = run_check(selective_scan, instances=120, seed=0)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 8, "proved": 8, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    # The tolerance is the oracle's per-instance worst-case rounding bound; observed errors are a few percent of it.
    assert result.numeric.max_error < 0.25 and 0 < result.numeric.oracle_accuracy < 1e-10
    assert len(result.numeric.anchors) == 1 and result.numeric.anchors[0].agrees


def test_the_oracle_reaches_no_function_of_the_claim():
    reached = independence(selective_scan)
    assert not reached.shared
    assert not any(name.startswith("numerics.") for name in reached.oracle)  # the loop is written out in the oracle


def test_an_edited_kernel_fails(edited):
    # The kernel C e^(A Lambda) delta B without its delta (the input step dropped): the check must fail.
    import sympy as sp

    from proofs.ssm.selective import delta

    result = run_check(edited(selective_scan, lambda kernel: kernel.subs(delta, sp.Integer(1))), instances=20, seed=0)
    assert result.status == "failed"


def test_the_compiled_kernel_is_c_exp_a_lambda_delta_b():
    kernel = selective_scan.closed_form()
    values = dict(
        A=np.array([-0.5]), Lambda=np.array([2.0]), delta=np.array([0.3]), B=np.array([1.5]), C=np.array([-2.0])
    )
    assert kernel(**values)[0] == pytest.approx(-2.0 * math.exp(-1.0) * 0.3 * 1.5, rel=1e-15)


@given(tp.strategies.parameters(selective_scan))
@settings(max_examples=8, deadline=None)
def test_property_the_example_is_confirmed_anywhere_in_the_domain(params):
    example = worked_example(selective_scan, seed=1, **params)
    assert example.verified, (params, example.message)
    assert max(v for k, v in example.values.items() if k.startswith("relative_error")) < 1e-13


def hand_loop(u, delta, A, B, C, D, z, delta_bias):
    """Mamba's recurrence for channel 0 of one instance, one scalar at a time."""
    group = 0 // (DIM // GROUPS)
    h = [0.0] * A.shape[1]
    out = []
    for t in range(u.shape[1]):
        step = math.log1p(math.exp(delta[0, t] + delta_bias[0]))
        y = 0.0
        for n in range(A.shape[1]):
            h[n] = math.exp(step * A[0, n]) * h[n] + step * B[group, n, t] * u[0, t]
            y += C[group, n, t] * h[n]
        y += D[0] * u[0, t]
        out.append(y * z[0, t] / (1 + math.exp(-z[0, t])))
    return out


def test_worked_example_against_a_hand_loop():
    example = worked_example(selective_scan)
    assert example.verified and example.params == {"L": 6, "N": 2}
    inputs = {k: v[0] for k, v in single_instance(selective_scan, example.params, seed=0).inputs.items()}
    np.testing.assert_allclose(example.values["out_sequential_first_channel"], hand_loop(**inputs), rtol=1e-13)


def test_the_rounding_bound_is_a_bound_and_grows_with_the_magnitudes():
    """Claim minus oracle stays inside the stated accuracy; scaling u scales the bound (it is absolute)."""
    from checkers.ssm.selective import _claim, _recurrence

    inputs = single_instance(selective_scan, {"L": 32, "N": 3}, seed=3).inputs
    values, accuracy = _recurrence(**inputs)
    claim = _claim(selective_scan.closed_form(), **inputs)
    assert np.abs(claim - values).max() <= accuracy[0] < 1e-10
    _, doubled = _recurrence(**{**inputs, "u": 2 * inputs["u"]})
    np.testing.assert_allclose(doubled, 2 * accuracy, rtol=1e-12)


def test_the_real_parameter_limit_is_stated():
    assert any("complex" in assumption for assumption in selective_scan.assumptions)
