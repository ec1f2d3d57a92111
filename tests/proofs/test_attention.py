"""The attention derivations: every step proved for symbolic sizes; wrong steps rejected by number."""


import pytest
import sympy as sp

from proofs.attention import (
    d,
    dot_product_moments,
    k,
    l,
    pos,
    positional_rotation_block,
    rotation_block,
    sigma_k,
    sigma_q,
    t,
    w,
)
from proofs.derivation import DerivationError

s2 = sigma_q**2 * sigma_k**2




# --- softmax-variance -----------------------------------------------------------------------


def test_every_moment_step_is_proved_for_symbolic_d_but_independence_which_is_given():
    derivation = dot_product_moments()
    evidence = {s.label or s.operation.text: s.evidence for s in derivation.check()}
    assert evidence.pop("mgf") == "given" and set(evidence.values()) == {"proved"}
    assert derivation.counts() == {"steps": 15, "proved": 14, "sampled": 0, "given": 1, "failed": 0, "custom": 1}
    assert d in derivation.result.free_symbols and d.is_integer and not d.is_number


def test_the_moments_are_the_catalogs():
    derivation = dot_product_moments()
    assert derivation.expression("mgf") == (1 - s2 * t**2) ** (-d / 2)
    expected = {"mean": 0, "variance": d * s2, "scaled": s2, "fourth": 3 * d * (d + 2) * s2**2}
    for label, value in expected.items():
        assert sp.simplify(derivation.expression(label) - value) == 0, label
    assert derivation.result == sp.ImmutableMatrix([0, d * s2, s2, 3 * d * (d + 2) * s2**2])


def test_the_mgf_gives_the_same_moments_without_the_taylor_polynomial():
    mgf = dot_product_moments().expression("mgf")
    fourth = sp.diff(mgf, t, 4).subs(t, 0)
    assert sp.simplify(fourth - 3 * d * (d + 2) * s2**2) == 0
    assert sp.simplify(sp.diff(mgf, t, 3).subs(t, 0)) == 0


def test_a_wrong_variance_is_rejected_by_step_number():
    derivation = dot_product_moments()
    number = derivation.step_number("variance")
    wrong = derivation.with_step(number, stated=d**2 * s2)
    with pytest.raises(DerivationError, match=rf"step {number} \("):
        wrong.check()


def test_forgetting_to_square_the_scale_is_rejected():
    # Var(X / sqrt d) = Var(X) / sqrt(d) is the slip behind "scaling by 1/d gives unit variance".
    derivation = dot_product_moments()
    number = derivation.step_number("scaled")
    wrong = derivation.with_step(number, stated=sp.sqrt(d) * s2)
    with pytest.raises(DerivationError) as error:
        wrong.check()
    assert f"step {number}" in str(error.value) and "sqrt(d)" in str(error.value)


def test_a_step_that_does_not_follow_from_the_previous_is_rejected():
    # Step 2's substitution applied to the start (not to step 1's result) does not give step 2.
    derivation = dot_product_moments()
    detached = derivation.with_step(2, on="start")
    with pytest.raises(DerivationError, match="step 2"):
        detached.check()


# --- pe-rotation ----------------------------------------------------------------------------


def test_every_rotation_step_is_proved_for_symbolic_pos_k_w():
    derivation = positional_rotation_block()
    assert [s.evidence for s in derivation.check()] == ["proved"] * len(derivation.steps)
    assert derivation.counts() == {"steps": 9, "proved": 9, "sampled": 0, "given": 0, "failed": 0, "custom": 0}


def test_the_result_is_the_catalogs_block_and_does_not_involve_pos():
    derivation = positional_rotation_block()
    expected = sp.ImmutableMatrix([[sp.cos(k * w), sp.sin(k * w)], [-sp.sin(k * w), sp.cos(k * w)]])
    assert derivation.result == expected == derivation.expression("block")
    assert derivation.result.free_symbols == {k, w}
    assert derivation.expression("score") == sp.cos(k * w)


def test_the_block_is_a_one_parameter_group():
    r = rotation_block(k * w)
    assert sp.simplify(r.T * r - sp.eye(2)) == sp.zeros(2)
    assert sp.simplify(sp.expand_trig(rotation_block(l * w) * r - rotation_block((k + l) * w))) == sp.zeros(2)
    assert sp.simplify(r.subs(k, 0)) == sp.eye(2)


def test_the_transposed_block_is_rejected_by_step_number():
    derivation = positional_rotation_block()
    number = derivation.step_number("block")
    wrong = derivation.with_step(number, stated=sp.ImmutableMatrix(rotation_block(k * w).T))
    with pytest.raises(DerivationError, match=rf"step {number} \("):
        wrong.check()


def test_a_block_that_depends_on_pos_is_rejected():
    derivation = positional_rotation_block()
    number = derivation.step_number("block")
    wrong = derivation.with_step(number, stated=sp.ImmutableMatrix(rotation_block((pos + k) * w)))
    with pytest.raises(DerivationError, match=f"step {number}"):
        wrong.check()


def test_a_score_that_depends_on_pos_is_rejected():
    derivation = positional_rotation_block()
    number = derivation.step_number("score")
    wrong = derivation.with_step(number, stated=sp.cos(k * w) + sp.sin(pos * w) ** 2 - sp.sin(pos * w) ** 2 / 2)
    with pytest.raises(DerivationError, match=f"step {number}"):
        wrong.check()
