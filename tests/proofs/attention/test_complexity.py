"""The attention cost derivation: every step proved, the counts are the textbook sums, wrong steps rejected."""

import pytest
import sympy as sp

from proofs.attention.complexity import (
    LINEAR_PROGRAM,
    SOFTMAX_PROGRAM,
    T,
    attention_costs,
    b,
    d,
)
from proofs.derivation import DerivationError, expand


def test_every_step_is_proved():
    derivation = attention_costs()
    assert [s.evidence for s in derivation.check()] == ["proved"] * len(derivation.steps)
    assert derivation.counts() == {"steps": 14, "proved": 14, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_the_programs_list_every_product_and_tensor():
    # Softmax: 4 projections, Q K^T and P V are products; the scaling and the softmax allocate only.
    assert sum(product is not None for _, product, _ in SOFTMAX_PROGRAM) == 6
    assert len(SOFTMAX_PROGRAM) == 8
    # Linear: 4 projections, K^T V and Q (K^T V).
    assert sum(product is not None for _, product, _ in LINEAR_PROGRAM) == 6
    assert all(product is not None for _, product, _ in LINEAR_PROGRAM)


def test_the_labelled_counts_are_the_hand_sums():
    derivation = attention_costs()
    projections = 4 * 2 * T * d * d  # four (T x d)(d x d) products
    expected = {
        "F_softmax": projections + 2 * T * d * T + 2 * T * T * d,
        "M_softmax": b * (5 * T * d + 3 * T * T),
        "F_linear": projections + 2 * d * T * d + 2 * T * d * d,
        "M_linear": b * (5 * T * d + d * d),
        "crossover_T": d,
    }
    for label, value in expected.items():
        assert sp.expand(derivation.expression(label) - value) == 0, label
    column = derivation.result
    assert column.shape == (4, 1) and column.free_symbols == {T, d, b}


def test_the_orders():
    derivation = attention_costs()
    F = derivation.expression("F_softmax")
    M = derivation.expression("M_softmax")
    assert sp.limit(F / (T**2 * d), T, sp.oo) == 4
    assert sp.limit(M / (b * T**2 * d), T, sp.oo) == 3 / d  # -> 0 as d grows: not Theta(T^2 d)
    assert sp.limit(derivation.expression("F_linear") / T, T, sp.oo) == 12 * d**2  # linear in T


def test_a_missing_factor_two_is_rejected():
    derivation = attention_costs()
    number = derivation.step_number("F_softmax")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=2 * T * d * (T + 2 * d)).check()


def test_memory_T2d_is_rejected_at_the_collecting_step():
    derivation = attention_costs()
    counts = derivation.expression("counts")
    wrong = sp.ImmutableMatrix([counts[0], b * (3 * T**2 * d + 5 * T * d), counts[2], counts[3]])
    with pytest.raises(DerivationError, match="step 1 "):
        derivation.with_step(1, stated=wrong).check()


def test_a_step_that_does_not_follow_is_rejected():
    # Expanding the column does not give F_softmax factored.
    derivation = attention_costs()
    number = derivation.step_number("F_softmax")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, operation=expand()).check()
