"""One-step risk derivations: the Gaussian moments, the Wishart moment, every step proved, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.icl.risk import d, eta, gaussian_moment, h, k, one_step_risk, wishart_second_moment

PROVED = {"sampled": 0, "given": 0, "failed": 0, "custom": 0}


@pytest.mark.parametrize("power, value", [(2, 1), (4, 3)])
def test_gaussian_moments(power, value):
    assert gaussian_moment(power).result == value


def test_the_wishart_moment():
    derivation = wishart_second_moment()
    assert sp.expand(derivation.result - d * k * (k + d + 1)) == 0
    assert derivation.counts() == {"steps": 5, "proved": 5, **PROVED}


def test_every_step_is_proved_and_the_closed_forms():
    derivation = one_step_risk()
    assert derivation.counts() == {"steps": 23, "proved": 23, **PROVED}
    assert derivation.expression("optimal_step") == k / (k + d + 1)
    assert sp.simplify(derivation.expression("nmse_star") - (d + 1) / (k + d + 1)) == 0
    assert derivation.expression("curriculum_step") == 1 / ((d + 1) * h + 1)
    assert sp.simplify(derivation.expression("curriculum_step").subs(h, 1 / k) - k / (k + d + 1)) == 0


def test_a_wishart_moment_without_the_plus_one_is_rejected():
    wrong = wishart_second_moment().with_step(3, stated=d * k * (k + d))
    with pytest.raises(DerivationError, match="step 3"):
        wrong.check()


def test_the_step_k_over_k_plus_d_is_not_the_solution():
    wrong = one_step_risk().with_step(5, stated=k / (k + d))
    with pytest.raises(DerivationError, match="step 5"):
        wrong.check()


def test_the_completed_square_is_the_curve():
    derivation = one_step_risk()
    curve = derivation.expression("nmse")
    assert sp.simplify(derivation.result - curve) == 0
    assert sp.simplify(curve.subs({d: 1, k: 1}) - (1 - 2 * eta + 3 * eta**2)) == 0
