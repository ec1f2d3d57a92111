"""The step checker: named rules and custom code; proved, sampled and given steps; inequalities; integral conditions."""

import io

import pytest
import sympy as sp
from rich.console import Console

import proofs.derivation as derivation_module
from proofs.derivation import (
    SAMPLE_POINTS,
    Derivation,
    DerivationError,
    apply_map,
    column,
    custom,
    differentiate,
    expand,
    given,
    identity,
    integrate,
    lemma,
    limit,
    rewrite,
    series,
    substitute,
)
from transformer_proofs.display import _derivation_json, _print_derivation

x, t = sp.symbols("x t")
n = sp.Symbol("n", integer=True, nonnegative=True)
p = sp.Symbol("p", positive=True)
f = sp.fibonacci


def test_a_chain_of_true_steps_is_proved():
    d = (
        Derivation("square", (x + 1) ** 2)
        .then(expand(), x**2 + 2 * x + 1)
        .then(differentiate(x), 2 * x + 2)
        .then(substitute({x: 1}), 4)
    )
    assert [s.evidence for s in d.check()] == ["proved"] * 3
    assert d.counts() == {"steps": 3, "proved": 3, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    assert d.result == 4 and d.relation == "="


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
    d = Derivation("recurrence", f(n + 2) - f(n + 1)).then(identity("Fibonacci recurrence"), f(n))
    assert d.check()[0].evidence == "sampled"
    assert d.counts()["proved"] == 0


def test_sampling_still_rejects_a_false_step():
    with pytest.raises(DerivationError):
        Derivation("recurrence", f(n + 2) - f(n + 1)).then(identity("Fibonacci"), f(n) + 1).check()


def test_each_sampled_step_draws_its_own_points_and_enough_of_them(monkeypatch):
    drawn = []

    def recording(symbols, seed):
        points = []
        drawn.append(points)
        for point in real_points(symbols, seed):
            points.append(tuple(sorted(point.items(), key=str)))
            yield point

    real_points = derivation_module._points
    monkeypatch.setattr(derivation_module, "_points", recording)
    d = (
        Derivation("two sampled steps (fresh points)", f(n + 2) - f(n + 1))
        .then(identity("Fibonacci recurrence"), f(n), label="first")
        .then(identity("Fibonacci recurrence, twice"), f(n + 3) - f(n + 2) - f(n + 1) + f(n), on="start")
    )
    assert [s.evidence for s in d.check()] == ["sampled", "sampled"]
    assert len(drawn) == 2
    assert all(len(points) >= SAMPLE_POINTS >= 10 for points in drawn)
    assert drawn[0] != drawn[1]


def test_symbolic_sizes_are_sampled_too(monkeypatch):
    sizes = []

    def recording(value):
        explicit = real_explicit(value)
        sizes.append(value.atoms(sp.MatrixBase).pop().shape if value.atoms(sp.MatrixBase) else None)
        return explicit

    real_explicit = derivation_module._explicit_value
    monkeypatch.setattr(derivation_module, "_explicit_value", recording)
    k = sp.Symbol("k", integer=True, positive=True)
    A, B = sp.MatrixSymbol("A", k, k), sp.MatrixSymbol("B", k, k)
    # trace(AB) = trace(BA): SymPy does not show it for symbolic k, so shapes and entries are sampled.
    assert Derivation("cyclic trace", sp.Trace(A * B)).then(rewrite(), sp.Trace(B * A)).check()[0].evidence == "sampled"
    assert len(sizes) >= 2 * SAMPLE_POINTS and len(set(sizes)) >= 2
    with pytest.raises(DerivationError, match="step 1"):
        Derivation("not cyclic", sp.Trace(A * B)).then(rewrite(), sp.Trace(A * B * B)).check()


def test_a_difference_of_1e_45_is_not_zero():
    # The old checker accepted |difference| < 1e-40 after evaluation to 50 digits; exact zero is required now.
    tiny = sp.Rational(1, 10**45)
    with pytest.raises(DerivationError, match="step 1"):
        Derivation("tiny offset", f(n + 2) - f(n + 1)).then(identity("Fibonacci"), f(n) + tiny).check()
    with pytest.raises(DerivationError, match="step 1"):
        Derivation("tiny constant", x).then(rewrite(), x + sp.exp(-110)).check()


def test_a_given_step_needs_a_source_and_is_marked_given():
    with pytest.raises(ValueError, match="source"):
        given("trust me", "")
    d = Derivation("lemma", x).then(given("a cited lemma", "Author 2020, Lemma 1"), x**2)
    assert d.check()[0].evidence == "given" and d.check()[0].operation.rule == "given"


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


# --- named rules and custom code ------------------------------------------------------------


def test_named_operations_say_what_they_do_from_their_arguments():
    tau = sp.Symbol("tau", positive=True)
    assert limit(tau, 0, "+").text == r"let $\tau \to 0^+$"
    assert limit(t, sp.oo, scale=1 / t**2).text == r"divide by $t^{2}$ and let $t \to \infty$"
    assert substitute({x: 1}).text == "substitute $x = 1$"
    assert substitute({x: 1}, why="at the boundary").text == "at the boundary: substitute $x = 1$"
    assert series(t, 0, 3).text == r"expand in powers of $t$, dropping $O\left(t^{3}\right)$"
    assert apply_map(lambda v: 2 * v).text == r"apply $v \mapsto 2 v$"
    assert [op.rule for op in (limit(t, 0), series(t, 0, 3), apply_map(lambda v: v), expand())] == [
        "limit", "series", "map", "expand"
    ]


def test_a_map_checks_the_formula_it_shows():
    d = Derivation("map", x + 1).then(apply_map(lambda v: v**2), (x + 1) ** 2)
    assert d.check()[0].evidence == "proved"
    with pytest.raises(DerivationError):
        Derivation("map", x + 1).then(apply_map(lambda v: v**2), x**2 + 1).check()


def test_a_column_reads_labelled_results_in_order():
    d = (
        Derivation("column", x**3)
        .then(differentiate(x), 3 * x**2, label="first")
        .then(differentiate(x), 6 * x, label="second")
        .then(column("second", "first"), sp.Matrix([6 * x, 3 * x**2]))
    )
    assert d.check()[-1].evidence == "proved"
    with pytest.raises(ValueError, match="labelled"):
        d.then(column("first", "third"), sp.Matrix([0, 0]))


def test_a_checked_lemma_replaces_its_start_by_its_result():
    a, b = sp.symbols("a b")
    square = Derivation("square of a sum", (a + b) ** 2).then(expand(), a**2 + 2 * a * b + b**2)
    d = Derivation("uses the lemma", sp.sin((x + 1) ** 2))
    step = lemma(square, {a: x, b: 1})
    assert step.rule == "lemma" and "square of a sum" in step.text
    assert d.then(step, sp.sin(x**2 + 2 * x + 1)).check()[0].evidence == "proved"
    with pytest.raises(DerivationError, match="does not occur"):
        Derivation("no match", sp.sin(x)).then(step, sp.sin(x)).check()


def test_a_custom_step_keeps_its_code_and_counts_apart():
    d = Derivation("custom", x + 1).then(custom("square by hand", lambda e: e**2), (x + 1) ** 2)
    (step,) = d.check()
    assert step.operation.rule == "custom" and step.operation.code == "lambda e: e**2"
    assert d.counts() == {"steps": 1, "proved": 1, "sampled": 0, "given": 0, "failed": 0, "custom": 1}


def _shown(derivation: Derivation) -> str:
    console = Console(file=io.StringIO(), width=100)
    _print_derivation(derivation, console, "Derivation")
    return console.file.getvalue()


def test_show_and_json_give_every_step_its_rule_and_a_custom_step_its_code():
    def halve(e):
        return e / 2

    d = Derivation("shown", 4 * x).then(custom("halve", halve), 2 * x).then(differentiate(x), 2)
    steps = _derivation_json(d)["steps"]
    assert [s["rule"] for s in steps] == ["custom", "differentiate"]
    assert steps[0]["code"] == "def halve(e):\n    return e / 2" and "code" not in steps[1]
    shown = _shown(d)
    assert "[proved, custom] halve" in shown and "    def halve(e):" in shown
    assert "differentiate: differentiate with respect to x" in shown


# --- inequalities ---------------------------------------------------------------------------


def test_a_true_inequality_is_proved_and_printed_with_its_relation():
    # p^2 + 1 >= 2p: the gap (p - 1)^2 is a square.
    d = Derivation("AM-GM", p**2 + 1).then(rewrite(), 2 * p, relation=">=")
    assert d.check()[0].evidence == "proved" and d.relation == ">="
    assert _derivation_json(d)["steps"][0]["relation"] == ">=" and _derivation_json(d)["relation"] == ">="
    assert "≥ 2⋅p" in _shown(d)


def test_a_true_inequality_sympy_cannot_prove_is_sampled():
    # cosh(x) >= 1 + x^2/2 for real x, which SymPy's sign rules do not see.
    r = sp.Symbol("r", real=True)
    d = Derivation("cosh", sp.cosh(r)).then(rewrite(), 1 + r**2 / 2, relation=">=")
    assert d.check()[0].evidence in ("proved", "sampled")


def test_a_false_inequality_is_rejected():
    with pytest.raises(DerivationError, match="step 1"):
        Derivation("reversed AM-GM", p**2 + 1).then(rewrite(), 2 * p, relation="<").check()
    with pytest.raises(DerivationError, match="step 1"):
        # true for p >= 2 only: the sampled points (or the sign rules) find p < 2
        Derivation("too strong", p**2).then(rewrite(), 2 * p, relation=">=").check()


def test_relations_compose_and_may_not_mix():
    chain = Derivation("chain", p).then(rewrite(), p + 1, relation="<").then(rewrite(), p + 2, relation="<=")
    assert chain.relation == "<="
    assert chain.then(rewrite(), p + 3, relation="<").with_step(2, relation="<").relation == "<"
    with pytest.raises(ValueError, match="mixes"):
        chain.then(rewrite(), p, relation=">=")
    # a branch from the start does not inherit the bound
    assert chain.then(differentiate(p), 1, on="start").relation == "="


# --- integration keeps its conditions -------------------------------------------------------


def test_an_integral_whose_condition_does_not_follow_from_the_assumptions_fails():
    a = sp.Symbol("a", real=True)
    with pytest.raises(DerivationError, match=r"arg\(a\)"):
        Derivation("decay", sp.exp(-a * t)).then(integrate(t, 0, sp.oo), 1 / a).check()


def test_an_integral_whose_condition_follows_from_the_assumptions_holds():
    a = sp.Symbol("a", positive=True)
    assert Derivation("decay", sp.exp(-a * t)).then(integrate(t, 0, sp.oo), 1 / a).check()[0].evidence == "proved"


# --- symbols ----------------------------------------------------------------------------------


def test_every_symbol_is_listed_with_its_assumptions_lemmas_included():
    k = sp.Symbol("k", integer=True, positive=True)
    M = sp.MatrixSymbol("M", k, 2)
    inner = Derivation("inner", p * x).then(differentiate(x), p)
    d = Derivation("outer", k * t, lemmas=(inner,)).then(substitute({t: M[0, 0]}), k * M[0, 0])
    symbols = _derivation_json(d)["symbols"]
    assert symbols == {"M": ["matrix (k, 2)"], "k": ["integer", "positive"], "p": ["positive"], "t": [], "x": []}
