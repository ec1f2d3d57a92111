"""The one-layer certificate: proved, its prompts and pairs, the two-head model exact, and a wrong step rejected."""

from collections import Counter

import pytest
import sympy as sp

from proofs.circuits.induction_limit import (
    CERTIFICATE,
    SIGNS,
    additive_gap,
    c,
    certificate,
    logit_gap,
    normaliser,
    two_head_model,
    two_heads,
)
from proofs.derivation import DerivationError


def test_every_step_is_proved():
    assert certificate().counts() == {"steps": 6, "proved": 6, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    assert certificate().result == 0
    for lemma in (additive_gap(), two_heads(), two_head_model()):
        assert lemma.counts()["proved"] == lemma.counts()["steps"] == 1


def test_the_prompts_are_a_certificate():
    pairs = [Counter(enumerate(p)) for p in CERTIFICATE]
    assert pairs[0] + pairs[1] == pairs[2] + pairs[3]
    # The previous-occurrence rule: the token after the earlier A.
    targets = [p[p.index("A") + 1] for p in CERTIFICATE]
    assert targets == ["B", "B", "C", "C"] and SIGNS == (1, 1, -1, -1)
    assert all(p[-1] == "A" and p.count("A") == 2 for p in CERTIFICATE)


def test_the_two_head_model_is_right_on_all_four_exactly():
    gaps = two_head_model().result
    assert all(g.is_Rational for g in gaps)
    assert [sp.sign(g) for g in gaps] == list(SIGNS)


def test_a_wrong_cancellation_is_rejected():
    derivation = certificate()
    wrong = sp.ImmutableMatrix([c + 1, 0, 0, 0])
    with pytest.raises(DerivationError, match="step 2 "):
        derivation.with_step(2, stated=wrong).check()


def test_the_additive_form_is_one_term_per_position():
    result = additive_gap().result
    assert len(sp.Add.make_args(result)) == 10  # c e^(s_j) and w_j e^(s_j) for five positions
    assert sp.expand(result - sp.cancel(normaliser("AAAAA") * logit_gap("AAAAA"))) == 0
