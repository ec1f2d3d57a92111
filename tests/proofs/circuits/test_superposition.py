"""superposition derivations: the pentagon's overlaps, the ReLU integrals against quadrature, wrong steps rejected."""

import pytest
import sympy as sp
from scipy.integrate import quad

from proofs.circuits.superposition import (
    b,
    beta,
    g,
    negative_interference_cut,
    one_active_feature_loss,
    overlaps,
    pentagon_gram,
    r,
    relu_first_moment,
    relu_interference,
    s,
)
from proofs.derivation import DerivationError


def test_the_pentagon_overlaps_are_cos_72_and_cos_144():
    c1, c2 = overlaps()
    assert sp.simplify(c1 - (sp.sqrt(5) - 1) / 4) == 0 and sp.simplify(c2 + (sp.sqrt(5) + 1) / 4) == 0
    gram = pentagon_gram().result
    assert gram[0, 0] == r**2 and gram[1, 4] == gram[0, 2] and gram[4, 0] == gram[0, 1]
    assert sp.simplify(c1**2 + c2**2) == sp.Rational(3, 4)


def test_the_closed_form_at_unit_norm_without_bias():
    own, neighbours, others = one_active_feature_loss().result.subs({r: 1, b: 0})
    assert own == 0 and others == 0 and sp.simplify(neighbours - (3 - sp.sqrt(5)) / 12) == 0


@pytest.mark.parametrize("overlap, shift", [(0.3, 0.1), (0.3, 0.5), (1.4, 0.2), (2.0, 1.5)])
def test_the_relu_integrals_against_quadrature(overlap, shift):
    at = {g: overlap, s: overlap, beta: shift}
    interference = float(relu_interference().result.subs(at))
    moment = float(relu_first_moment().result.subs(at))
    kink = [min(1.0, shift / overlap)]
    assert interference == pytest.approx(quad(lambda x: max(0.0, overlap * x - shift) ** 2, 0, 1, points=kink)[0], abs=1e-12)
    assert moment == pytest.approx(quad(lambda x: x * max(0.0, overlap * x - shift), 0, 1, points=kink)[0], abs=1e-12)
    assert negative_interference_cut().result == 0


def test_a_wrong_case_formula_is_rejected():
    squared_not_cubed = relu_interference().with_step(2, stated=sp.Max(0, g - beta) ** 2 / (3 * g))
    with pytest.raises(DerivationError, match="step 2"):
        squared_not_cubed.check()
