"""Johnson-Lindenstrauss dimension derivation: every step proved, both formulas, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.attention.jl import PAIR_TAIL, eps, jl_dimension, m
from proofs.derivation import DerivationError


def test_every_step_is_proved():
    assert jl_dimension().counts() == {"steps": 5, "proved": 5, "sampled": 0, "given": 0, "failed": 0, "custom": 1}


def test_both_dimensions():
    derivation = jl_dimension()
    assert sp.simplify(derivation.expression("d_min") - 8 * sp.log(m) / eps**2) == 0
    assert sp.simplify(derivation.expression("d_dasgupta_gupta") - 24 * sp.log(m) / (3 * eps**2 - 2 * eps**3)) == 0


def test_the_exercise_dimension_is_below_dasgupta_gupta_on_the_whole_range():
    derivation = jl_dimension()
    ratio = sp.simplify(derivation.expression("d_min") / derivation.expression("d_dasgupta_gupta"))
    assert sp.simplify(ratio - (1 - sp.Rational(2, 3) * eps)) == 0  # < 1 for every 0 < eps < 1


def test_a_wrong_solution_is_rejected():
    wrong = jl_dimension().with_step(3, stated=8 * sp.log(m) / eps**2)
    with pytest.raises(DerivationError, match="step 3"):
        wrong.check()


def test_the_pair_tail_names_the_projection_the_numerics_use():
    # f(u) = G u / sqrt(d) (chi^2_d / d), not Dasgupta-Gupta's sqrt(D/d) scaling of a random subspace.
    assert r"f(u) = G u / \sqrt{d}" in PAIR_TAIL and r"\chi^2_d / d" in PAIR_TAIL
    assert r"f(u) = \sqrt{D/d}" not in PAIR_TAIL
