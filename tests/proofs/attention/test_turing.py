"""The selection lemma and the match detector of the Turing-machine construction: proved, and wrong steps rejected."""

import pytest
import sympy as sp

from proofs.attention.turing import W_K, W_Q, a, h, j, m, match_detector, most_recent_write, one_hot_conjunction, u, v
from proofs.derivation import DerivationError


def test_every_step_is_proved():
    for derivation, steps in ((most_recent_write(), 16), (match_detector(), 3), (one_hot_conjunction(), 5)):
        assert [s.evidence for s in derivation.check()] == ["proved"] * steps
        assert derivation.counts()["proved"] == steps


def test_the_score_argument_and_the_scores():
    derivation = most_recent_write()
    p = sp.Rational(1, 2) / (j + 1)
    assert sp.simplify(derivation.expression("score_argument") - (h - a + p)) == 0
    assert sp.simplify(derivation.expression("match_score") + p) == 0
    assert sp.simplify(derivation.expression("mismatch_score") - (p - 1)) == 0


def test_the_lemma_on_a_concrete_history():
    # Writes (cell a_j) at tokens j = 0..5; the head is at cell 2, written at tokens 1 and 4.
    cells = [0, 2, 1, 3, 2, 1]
    argument = most_recent_write().expression("score_argument")
    scores = [-abs(argument.subs({h: 2, a: c, j: jj})) for jj, c in enumerate(cells)]
    assert max(range(6), key=lambda jj: scores[jj]) == 4
    assert sorted(scores)[-1] > sorted(scores)[-2]  # strict: no tie to average


def test_the_maps_are_the_stated_query_and_key():
    token = sp.Matrix(sp.symbols("h a p one"))
    assert list(W_Q * token) == [token[0], token[3], token[3]]
    assert list(W_K * token) == [token[3], -token[1], token[2]]


def test_a_score_without_the_tie_break_is_rejected():
    derivation = most_recent_write()
    number = derivation.step_number("score_argument")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=h - a).check()


def test_a_wrong_margin_is_rejected():
    derivation = most_recent_write()
    number = derivation.step_number("margin")
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=sp.Integer(1)).check()


def test_the_mismatch_bound_is_derived_in_both_directions():
    # The two cases delta = 1 + m and delta = -1 - m each end in min(0, excess) = 0.
    derivation = most_recent_write()
    texts = [s.operation.text for s in derivation.steps]
    assert sum("min(0" in t for t in texts) == 2
    assert all(s.evidence == "proved" for s in derivation.check())


def test_a_bound_stronger_than_1_minus_p_is_rejected():
    # A wrong excess for delta <= -1 is rejected, and min(0, .) of an expression that can be negative
    # (m - 1 at m = 0) does not reduce to 0, so the sign step proves only what holds.
    derivation = most_recent_write()
    number = next(i for i, s in enumerate(derivation.steps, 1) if "common denominator" in s.operation.text)
    with pytest.raises(DerivationError, match=rf"step {number} "):
        derivation.with_step(number, stated=m - 1).check()
    assert sp.Min(0, m - 1) != 0


def test_the_detector_is_not_one_off_zero():
    derivation = match_detector()
    with pytest.raises(DerivationError, match="step 2 "):
        derivation.with_step(2, stated=1).check()


def test_the_selection_lemma_starts_from_the_maps_the_construction_reads():
    query_token, W_Q_transposed, W_K_start, key_token = most_recent_write().start.args
    assert W_Q_transposed.T == W_Q and W_K_start == W_K
    assert sp.simplify(key_token[2] - sp.Rational(1, 2) / (j + 1)) == 0


def test_the_and_unit_by_hand():
    conjunction = one_hot_conjunction()
    assert conjunction.start == sp.Max(0, u + v - 1)
    assert list(conjunction.result) == [0, 0, 0, 1]


def test_a_wrong_and_case_is_rejected():
    derivation = one_hot_conjunction()
    with pytest.raises(DerivationError, match="step 4 "):
        derivation.with_step(4, stated=sp.Integer(0)).check()
