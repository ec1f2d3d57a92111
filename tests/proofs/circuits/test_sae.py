"""sae-recovery lemmas: every step proved, the sparse code against a direct minimisation, a wrong step rejected."""

import pytest
import sympy as sp
from scipy.optimize import minimize_scalar

from proofs.circuits.sae import a, h, lam, orthonormal_separation, soft_threshold_code
from proofs.derivation import DerivationError


def test_every_lemma_step_is_proved():
    assert orthonormal_separation().counts()["proved"] == 1
    assert soft_threshold_code().counts() == {"steps": 4, "proved": 4, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    assert soft_threshold_code().result == sp.Max(0, a - lam / 2)


@pytest.mark.parametrize("projection, penalty", [(1.0, 0.3), (0.1, 0.3), (-0.5, 1.0), (2.0, 4.0)])
def test_the_sparse_code_minimises_one_latents_objective(projection, penalty):
    code = float(soft_threshold_code().result.subs({a: projection, lam: penalty}))
    direct = minimize_scalar(lambda u: (projection - u) ** 2 + penalty * u, bounds=(0, 10), method="bounded", options={"xatol": 1e-10})
    assert code == pytest.approx(direct.x, abs=1e-6)


def test_a_threshold_of_lambda_instead_of_lambda_over_two_is_rejected():
    with pytest.raises(DerivationError, match="step 2"):
        soft_threshold_code().with_step(2, stated=a - lam).check()
    assert h in soft_threshold_code().start.free_symbols
