"""moe-routing derivations: the closed forms, the gates, wrong steps rejected.

Every step proved, lemmas included: tests/checkers/test_every_theorem.py.
"""

import numpy as np
import pytest
import sympy as sp

from proofs.circuits.moe import E, F, G, S, expert_flops, h, k, keep_top_k_gates, top_k_as_masked_mixture
from proofs.derivation import DerivationError


def test_the_closed_forms():
    assert top_k_as_masked_mixture().result == F.T * G
    gates = keep_top_k_gates()
    assert gates.expression("kept") == sp.exp(h) / S and gates.expression("dropped") == 0
    assert expert_flops().result == k / E


def test_the_gates_are_numpys_masked_softmax():
    logits = np.array([0.3, -1.2, 2.0, 0.7])
    kept = np.array([True, False, True, False])
    total = np.exp(logits[kept]).sum()
    gates = keep_top_k_gates()
    kept_gate = float(gates.expression("kept").subs({h: logits[2], S: total}))
    np.testing.assert_allclose(kept_gate, np.exp(2.0) / total, rtol=1e-15)


def test_softmax_over_all_logits_and_a_wrong_fraction_are_rejected():
    gates = keep_top_k_gates()
    number = gates.step_number("kept")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        gates.with_step(number, stated=sp.exp(h) / (S + (E - k))).check()
    flops = expert_flops()
    number = flops.step_number("fraction")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        flops.with_step(number, stated=1 / E).check()
