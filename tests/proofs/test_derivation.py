"""The step checker: proved, sampled and given steps; wrong and non-following steps rejected."""

import pytest
import sympy as sp

from proofs.derivation import (
    Derivation,
    DerivationError,
    differentiate,
    expand,
    given,
    identity,
    rewrite,
    substitute,
)

x, t = sp.symbols("x t")
n = sp.Symbol("n", integer=True, nonnegative=True)


def test_a_chain_of_true_steps_is_proved():
    d = (
        Derivation("square", (x + 1) ** 2)
        .then(expand(), x**2 + 2 * x + 1)
        .then(differentiate(x), 2 * x + 2)
        .then(substitute({x: 1}), 4)
    )
    assert [s.evidence for s in d.check()] == ["proved"] * 3
    assert d.counts() == {"steps": 3, "proved": 3, "sampled": 0, "given": 0, "failed": 0}
    assert d.result == 4


def test_a_wrong_step_names_its_number_and_both_sides():
    d = Derivation("square", (x + 1) ** 2).then(expand(), x**2 + 2 * x + 1).then(differentiate(x), 2 * x + 1)
    with pytest.raises(DerivationError) as error:
        d.check()
    message = str(error.value)
    assert "step 2" in message and "2*x + 2" in message and "2*x + 1" in message


def test_a_true_identity_that_does_not_follow_from_the_previous_step_is_rejected():
    # cos^2 + sin^2 = 1 is true, but it is not the derivative of the previous result.
    d = Derivation("chain", sp.sin(t) ** 2).then(differentiate(t), 2 * sp.sin(t) * sp.cos(t))
    d = d.then(rewrite(), sp.sin(t) ** 2 + sp.cos(t) ** 2)
    with pytest.raises(DerivationError, match="step 2"):
        d.check()


def test_a_step_sympy_cannot_decide_is_sampled_not_proved():
    f = sp.fibonacci
    d = Derivation("recurrence", f(n + 2) - f(n + 1)).then(identity("Fibonacci recurrence"), f(n))
    assert d.check()[0].evidence == "sampled"
    assert d.counts()["proved"] == 0


def test_sampling_still_rejects_a_false_step():
    f = sp.fibonacci
    with pytest.raises(DerivationError):
        Derivation("recurrence", f(n + 2) - f(n + 1)).then(identity("Fibonacci"), f(n) + 1).check()


def test_a_given_step_needs_a_source_and_is_marked_given():
    with pytest.raises(ValueError, match="source"):
        given("trust me", "")
    d = Derivation("lemma", x).then(given("a cited lemma", "Author 2020, Lemma 1"), x**2)
    assert d.check()[0].evidence == "given"


def test_a_step_can_start_from_a_labelled_earlier_result():
    d = (
        Derivation("moments", sp.exp(x * t))
        .then(differentiate(t), x * sp.exp(x * t), label="first")
        .then(substitute({t: 0}), x)
        .then(differentiate(t, 2), x**3 * sp.exp(x * t), on="first")
    )
    assert [s.evidence for s in d.check()] == ["proved"] * 3
    assert d.expression("first") == x * sp.exp(x * t)
    with pytest.raises(ValueError, match="labelled"):
        d.then(expand(), x, on="missing")


def test_matrix_expressions_with_symbolic_shapes():
    d_x, N = sp.symbols("d_x N", integer=True, positive=True)
    X = sp.MatrixSymbol("X", d_x, N)
    W = sp.MatrixSymbol("W", 1, d_x)
    Y = sp.MatrixSymbol("Y", 1, N)
    d = Derivation("gradient", (W * X - Y) * X.T).then(expand(), W * X * X.T - Y * X.T)
    assert d.check()[0].evidence == "proved"
    with pytest.raises(DerivationError):
        Derivation("gradient", (W * X - Y) * X.T).then(expand(), W * X * X.T + Y * X.T).check()


def test_explicit_matrices_are_compared_entrywise():
    d = Derivation("rotation", sp.Matrix([[sp.cos(x + t)], [sp.sin(x + t)]]))
    stated = sp.Matrix([[sp.cos(x) * sp.cos(t) - sp.sin(x) * sp.sin(t)], [sp.sin(x) * sp.cos(t) + sp.cos(x) * sp.sin(t)]])
    assert d.then(identity("angle addition"), stated).check()[0].evidence == "proved"
    with pytest.raises(DerivationError):
        d.then(identity("angle addition"), stated.T).check()
