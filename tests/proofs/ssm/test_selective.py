"""The selective-scan kernel derivation: every step proved; a kernel with the wrong input discretisation rejected."""

import pytest
import sympy as sp

from proofs.derivation import DerivationError
from proofs.ssm.selective import A, B, C, Lambda, delta, selective_kernel


def test_every_step_is_proved():
    assert selective_kernel().counts() == {"steps": 8, "proved": 8, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_the_selective_kernel():
    kernel = selective_kernel().result
    assert sp.simplify(kernel - C * sp.exp(A * Lambda) * delta * B) == 0


def test_a_kernel_with_exp_delta_for_b_is_rejected():
    derivation = selective_kernel()
    last = len(derivation.steps)
    with pytest.raises(DerivationError, match=f"step {last} "):
        derivation.with_step(last, stated=C * sp.exp(A * Lambda) * sp.exp(delta) * B).check()


def test_the_real_parameter_limit_is_an_assumption():
    assert any("complex" in assumption for assumption in selective_kernel().assumptions)
