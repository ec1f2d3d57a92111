"""ssd-duality: verified, every mutant refuted, anchor, an edited mask fails, property test, the mask by hand, bad
input."""

import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from checkers.independence import independence
from checkers.sampling import single_instance
from checkers.worked import worked_example
from checkers.ssm.duality import ssd_duality


def test_the_oracle_runs_plain_recurrences_and_no_project_numerics():
    reached = independence(ssd_duality)
    assert not reached.shared and not any(name.startswith("numerics.") for name in reached.oracle)


def test_an_edited_mask_fails(edited):
    # L_21 = a_2 -> a_2^2: one entry of the statement's mask changed.
    from proofs.ssm.duality import a

    def square_one_entry(mask):
        changed = mask.as_mutable()
        changed[1, 0] = a[1] ** 2
        return changed

    assert run_check(edited(ssd_duality, square_one_entry), instances=20, seed=0).status == "failed"


@given(tp.strategies.parameters(ssd_duality))
@settings(max_examples=10, deadline=None)
def test_property_the_example_is_confirmed_anywhere_in_the_domain(params):
    example = worked_example(ssd_duality, seed=2, **params)
    assert example.verified, (params, example.message)
    mask = np.array(example.values["L"])
    assert np.allclose(np.triu(mask, 1), 0) and np.allclose(np.diag(mask), 1)


def test_worked_example_mask_by_hand():
    example = worked_example(ssd_duality)
    assert example.verified and example.params == {"L": 4, "N": 2}
    A = single_instance(ssd_duality, example.params, seed=0).inputs["A"][0, :, 0]
    a = np.exp(A)
    np.testing.assert_allclose(example.values["a"], a, rtol=1e-15)
    expected = np.zeros((4, 4))
    for i in range(4):
        for j in range(i + 1):
            expected[i, j] = np.prod(a[j + 1 : i + 1])  # a_(j+1) ... a_i, 1-based
    np.testing.assert_allclose(example.values["L"], expected, rtol=1e-14)


def test_the_worked_example_renders_the_matrix():
    latex = tp.example("ssd-duality").to_latex()
    assert r"\begin{pmatrix}" in latex and "agree with the recurrences" in latex
    assert "L_{31} = a_{2} a_{3}" in latex  # rendered from the derivation's labelled mask, not retyped
