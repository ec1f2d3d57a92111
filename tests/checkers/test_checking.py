"""The numeric checker: domains, sampling, policies, counterexamples, mutants, errors, registry."""

import dataclasses

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.domains import Choice, Integer, Real
from checkers.engine import check, mutant_outcome, run_check
from checkers.policies import Deterministic, Statistical
from checkers.registry import Registry, UnknownTheorem
from checkers.results import TheoremDefinitionError
from checkers.sampling import draw_instances
from checkers.theorem import Theorem
from checkers.worked import worked_example
from checkers.closed_form import compile_closed_form
from checkers.results import TheoremError, TheoremFailed
from proofs.derivation import Derivation, expand

TABLE = np.cumsum(np.arange(1, 10_001))


def triangular(**changes):
    fields = dict(
        id="triangular-sum",
        title="Sum of the first n integers",
        topic="user",
        statement=r"\sum_{k=1}^n k = n(n+1)/2",
        parameters={"n": Integer(1, 10_000)},
        claim=lambda n: n * (n + 1) / 2,
        oracle=lambda n: TABLE[n - 1],
        mutants={"n^2/2": lambda n: n**2 / 2, "n(n-1)/2": lambda n: n * (n - 1) / 2},
    )
    fields.update(changes)
    return Theorem(**fields)


# --- domains --------------------------------------------------------------------------------


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_samples_respect_their_domains(seed):
    rng = np.random.default_rng(seed)
    even = Integer(2, 512, step=2).sample(rng, 200)
    assert even.min() >= 2 and even.max() <= 512 and np.all(even % 2 == 0)
    logs = Real(1e-3, 1e3, log=True).sample(rng, 200)
    assert logs.min() >= 1e-3 and logs.max() <= 1e3
    primes = Integer(2, 50, where=lambda p: all(p % q for q in range(2, p))).sample(rng, 50)
    assert all(all(p % q for q in range(2, p)) for p in primes)
    assert set(Choice(("a", "b")).sample(rng, 20)) <= {"a", "b"}


def test_parsing_rejects_values_outside_the_domain_with_a_clear_message():
    even = Integer(2, 512, step=2)
    assert even.parse("d_model", "8") == 8
    with pytest.raises(ValueError, match="d_model=7 is outside its domain integers 2..512 in steps of 2"):
        even.parse("d_model", "7")
    with pytest.raises(ValueError, match="not an integer"):
        even.parse("d_model", "nan")
    with pytest.raises(ValueError, match="not a number"):
        Real(0, 1).parse("eta", "abc")
    with pytest.raises(ValueError, match="finite"):
        Real(0, 1).parse("eta", "inf")
    with pytest.raises(ValueError, match="outside"):
        Real(1e18, 1e26, log=True).parse("C", "-5")
    assert Choice((1, 2)).parse("k", "2") == 2


def test_describe_gives_type_bounds_and_default():
    assert Integer(1, 6, default=4).describe() == {"type": "integer", "low": 1, "high": 6, "default": 4, "step": 1}
    described = Real(0.5, 2.0, default=1.0).describe()
    assert (described["type"], described["low"], described["high"], described["default"]) == ("real", 0.5, 2.0, 1.0)


# --- theorem definitions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"id": "Bad Id"}, "kebab-case"),
        ({"derivation": lambda: None}, "exactly one"),
        ({"oracle": None}, "oracle"),
        ({"parameters": {"n": Integer(1, 5, default=9)}}, "default"),
        ({"mutants": {"m": 3}}, "not callable"),
        ({"example": {"m": 1}}, "unknown parameter"),
    ],
)
def test_a_malformed_theorem_is_rejected_with_its_id_and_the_problem(changes, problem):
    with pytest.raises(TheoremDefinitionError, match=problem):
        triangular(**changes)


# --- checking -------------------------------------------------------------------------------


def test_a_true_theorem_is_verified_and_its_mutants_refuted():
    result = check(triangular(), instances=300, seed=1)
    assert result.status == "verified" and result.numeric.max_error == 0
    assert {m.name: m.refuted for m in result.mutants} == {"n^2/2": True, "n(n-1)/2": True}


def test_a_false_claim_fails_with_a_shrunk_counterexample_and_a_replay_line():
    wrong = triangular(claim=lambda n: n * (n + 1) / 2 + (n > 37))
    result = run_check(wrong, instances=300, seed=3)
    assert result.status == "failed" and result.numeric.max_error > 1
    counterexample = result.numeric.counterexample
    assert counterexample.params["n"] <= 100, "shrinking should find a small failing n"
    assert counterexample.claim == counterexample.oracle + 1
    with pytest.raises(TheoremFailed, match=r"replay: tp.check\('triangular-sum', seed=3\)"):
        check(wrong, instances=300, seed=3)


def test_a_surviving_mutant_fails_the_check():
    lenient = triangular(mutants={"off by 1e-12": lambda n: n * (n + 1) / 2 * (1 + 1e-12)})
    with pytest.raises(TheoremFailed, match="mutant 'off by 1e-12' survived"):
        check(lenient, instances=100)


def test_a_mutant_is_never_refuted_by_nan_or_by_raising():
    # NaN where the claim is right refutes nothing: only a finite disagreement does.
    partly_nan = triangular(mutants={"nan at odd n": lambda n: np.where(n % 2 == 1, np.nan, n * (n + 1) / 2)})
    (result,) = mutant_outcome(partly_nan, instances=50, generated=False).mutants
    assert not result.refuted
    # A mutant that raises, or is NaN everywhere, is a fault of the theorem's code: an error, not a survivor.
    for broken, reason in (({"raises": lambda n: 1 / 0}, "ZeroDivisionError"), ({"nan": lambda n: np.full(len(n), np.nan)}, "NaN")):
        outcome = mutant_outcome(triangular(mutants=broken), instances=50, generated=False)
        assert outcome.status == "error" and reason in outcome.message


@pytest.mark.parametrize(
    "claim, message",
    [
        (lambda n: np.full(len(n), np.nan), "NaN"),
        (lambda n: np.zeros((len(n), 2)), "shape"),
        (lambda n: 1.0, "shape"),
        (lambda n: {}[n], "raised"),
    ],
)
def test_broken_theorem_code_is_an_error_not_a_pass(claim, message):
    result = run_check(triangular(claim=claim), instances=20)
    assert result.status == "error" and message in result.message


def test_the_oracle_may_state_its_own_accuracy():
    noisy = np.random.default_rng(0)

    def oracle(x):
        return x + noisy.uniform(-1e-7, 1e-7, len(x)), np.full(len(x), 1e-7)

    theorem = Theorem("identity-map", "x = x", "user", "x = x", parameters={"x": Real(1, 2)}, claim=lambda x: x, oracle=oracle)
    assert run_check(theorem, instances=200).status == "verified"
    strict = dataclasses.replace(theorem, oracle=lambda x: oracle(x)[0])
    assert run_check(strict, instances=200).status == "failed"


def test_shape_parameters_group_instances_and_arrive_as_ints():
    seen = []

    def claim(d, x):
        seen.append(d)
        assert isinstance(d, int) and x.shape[1] == d
        return x.sum(axis=1)

    theorem = Theorem(
        "row-sum",
        "sum",
        "user",
        "s",
        parameters={"d": Integer(1, 5, shape=True)},
        inputs=lambda rng, n, d: {"x": rng.standard_normal((n, d))},
        claim=claim,
        oracle=lambda x: np.array([sum(row) for row in x]),
        tolerance=Deterministic(rtol=1e-12, atol=1e-12, reason="sums of 5 terms"),
    )
    groups = draw_instances(theorem, 100, seed=0)
    assert sum(g.size for g in groups) == 100 and len({g.params["d"] for g in groups}) == len(groups)
    assert run_check(theorem, instances=100).status == "verified"
    assert sorted(seen) == sorted(g.params["d"] for g in groups), "one claim call per shape group"


def test_the_same_seed_gives_the_same_instances():
    a = draw_instances(triangular(), 50, seed=7)[0].params["n"]
    b = draw_instances(triangular(), 50, seed=7)[0].params["n"]
    c = draw_instances(triangular(), 50, seed=8)[0].params["n"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# --- derivation-backed claims ---------------------------------------------------------------

a_sym, b_sym = sp.symbols("a b")


def square_derivation():
    return Derivation("square of a sum", (a_sym + b_sym) ** 2).then(expand(), a_sym**2 + 2 * a_sym * b_sym + b_sym**2)


def test_the_claim_is_the_compiled_closed_form_of_the_derivation():
    theorem = Theorem(
        "square-of-sum",
        "(a+b)^2",
        "user",
        "(a+b)^2 = a^2 + 2ab + b^2",
        parameters={"a": Real(-3, 3), "b": Real(-3, 3)},
        derivation=square_derivation,
        oracle=lambda a, b: (a + b) * (a + b),
        mutants={"no cross term": lambda a, b: a**2 + b**2},
        tolerance=Deterministic(rtol=1e-14, atol=1e-13, reason="three roundings of O(10) numbers"),
    )
    result = check(theorem, instances=200)
    assert result.symbolic == {"steps": 1, "proved": 1, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    assert result.mutants[0].refuted


def test_compiled_closed_forms_are_batched():
    x, y = sp.symbols("x y")
    scalar = compile_closed_form(x * y + 1)
    assert np.allclose(scalar(x=np.array([1.0, 2.0]), y=np.array([3.0, 4.0])), [4.0, 9.0])
    explicit = compile_closed_form(sp.Matrix([[x, 0], [1, y]]))
    assert explicit(x=np.array([1.0, 2.0]), y=np.array([3.0, 4.0])).shape == (2, 2, 2)
    k, m = sp.symbols("k m", integer=True, positive=True)
    A, B = sp.MatrixSymbol("A", k, m), sp.MatrixSymbol("B", k, m)
    product = compile_closed_form(x * A.T * B)
    rng = np.random.default_rng(0)
    a, b, s = rng.standard_normal((5, 3, 2)), rng.standard_normal((5, 3, 2)), rng.standard_normal(5)
    want = np.stack([s[i] * a[i].T @ b[i] for i in range(5)])
    assert np.allclose(product(A=a, B=b, x=s), want)


# --- statistical policy ---------------------------------------------------------------------


def mean_of_uniform(false_alarm=1e-9):
    def oracle(low, width, draws, rng):
        u = rng.uniform(size=(len(low), draws))
        return (low[:, None] + width[:, None] * u)[..., None]

    return Theorem(
        "uniform-mean",
        "Mean of a uniform variable",
        "user",
        r"E[U(a, a+w)] = a + w/2",
        parameters={"low": Real(-1, 1), "width": Real(0.5, 2)},
        claim=lambda low, width: (low + width / 2)[:, None],
        oracle=oracle,
        mutants={"a + w/3": lambda low, width: (low + width / 3)[:, None]},
        tolerance=Statistical(false_alarm=false_alarm, batches=30, draws=3000),
    )


def test_a_monte_carlo_claim_reports_its_false_alarm_and_refutation_probability():
    result = check(mean_of_uniform(), instances=100)
    assert result.numeric.policy == "statistical" and result.numeric.tolerance["false_alarm"] == 1e-9
    (mutant,) = result.mutants
    assert mutant.refuted and mutant.power >= 1 - 1e-6


def test_a_mutant_infinite_at_a_few_instances_still_meets_the_pooled_test():
    """A 1% bias (about 4 standard errors per instance, under the threshold) is caught only by the pooled
    mean test; a mutant infinite (overflowed) where ``low > 1.9`` must not switch that test off."""
    theorem = mean_of_uniform()
    shifted = dataclasses.replace(
        theorem,
        parameters={"low": Real(1, 2), "width": Real(0.5, 2)},
        mutants={"1.01 (a + w/2), infinite for a > 1.9": lambda low, width: np.where(low > 1.9, np.inf, 1.01 * (low + width / 2))[:, None]},
    )
    (mutant,) = check(shifted, instances=100).mutants
    assert mutant.refuted and "pooled mean test" in mutant.evidence


def test_the_refutation_probability_is_a_probability_or_an_error():
    policy = Statistical()
    tests = 100
    threshold = policy.threshold(tests)
    assert policy.refutation_probability(threshold, tests) == pytest.approx(0.5, abs=0.05)
    # scipy's noncentral t is NaN beyond about 3e9 standard errors (an exact oracle's floor puts a mutant at 1e13)
    for separation in (1e10, 1e13, np.inf):
        assert policy.refutation_probability(separation, tests) == 1.0
    with pytest.raises(ValueError, match="NaN"):
        policy.refutation_probability(np.nan, tests)


def test_a_claim_of_exactly_zero_passes_against_the_oracle_s_rounding_residue():
    """The oracle's second component is ``(a + w)^2 - (a^2 + 2aw + w^2)``: 0, computed with a rounding
    residue of about 1e-16 that is the same in every draw (no spread). 1e-9 there is still refuted."""

    def oracle(low, width, draws, rng):
        u = rng.uniform(size=(len(low), draws))
        residue = (low + width) ** 2 - (low**2 + 2 * low * width + width**2)
        return np.stack([low[:, None] + width[:, None] * u, np.broadcast_to(residue[:, None], u.shape)], axis=-1)

    def claim(low, width, offset=0.0):
        return np.stack([low + width / 2, np.full(len(low), offset)], axis=-1)

    theorem = dataclasses.replace(
        mean_of_uniform(),
        oracle=oracle,
        claim=claim,
        mutants={"a nonzero second part, 1e-9": lambda low, width: claim(low, width, 1e-9)},
    )
    (group,) = draw_instances(theorem, 100, seed=0)
    low, width = group.params["low"], group.params["width"]
    assert np.any((low + width) ** 2 - (low**2 + 2 * low * width + width**2) != 0)
    result = check(theorem, instances=100, seed=0)
    assert result.status == "verified" and result.mutants[0].refuted
    # a closed form's own rounding (1e-20 for 0) is left out of the pooled tests' relative residuals, too
    assert check(dataclasses.replace(theorem, claim=lambda low, width: claim(low, width, 1e-20)), instances=100).ok


def test_an_exact_oracle_s_rounding_bias_does_not_grow_into_a_pooled_false_alarm():
    """An exact oracle (no spread) off the claim by a rounding-sized relative bias of one sign: the
    pooled square test's products are all positive, so without a rounding floor its z grows like the
    square root of the instances (about 90 at 1000) and a long enough check would fail a true claim."""

    def oracle(low, width, draws, rng):
        bias = 1 + rng.uniform(5e-16, 1e-15, size=len(low))  # one per instance, the same in every draw
        value = (low + width / 2) * bias
        return np.broadcast_to(value[:, None, None], (len(low), draws, 1))

    theorem = dataclasses.replace(mean_of_uniform(), oracle=oracle, parameters={"low": Real(1, 2), "width": Real(0.5, 2)})
    result = run_check(theorem, instances=1000, seed=0)
    assert result.status == "verified", result.message


def test_statistical_false_alarm_rate_is_calibrated():
    """At alpha = 1e-2 the true claim fails in about 1% of independent runs (never far more)."""
    theorem = mean_of_uniform(false_alarm=1e-2)
    runs = 400
    failures = sum(run_check(theorem, instances=5, seed=s).status == "failed" for s in range(runs))
    print(f"{failures} false alarms in {runs} runs at alpha = 0.01")
    # Binomial(400, 0.01): mean 4; P(X >= 14) < 1e-4. Bonferroni makes the rate at most alpha, not below it by much.
    assert 1 <= failures <= 13


# --- registry -------------------------------------------------------------------------------


def test_registry_rejects_unknown_ids_and_duplicates(tmp_path, monkeypatch):
    registry = Registry()
    with pytest.raises(UnknownTheorem, match="unknown theorem id 'nope'"):
        registry.get("nope")
    assert isinstance(UnknownTheorem("x"), KeyError)
    (tmp_path / "user_a.py").write_text(
        "import numpy as np, transformer_proofs as tp\n"
        "t = tp.Theorem('twice', 'x', 'user', 's', parameters={'x': tp.Real(0, 1)},"
        " claim=lambda x: 2 * x, oracle=lambda x: x + x)\n"
    )
    (tmp_path / "user_b.py").write_text((tmp_path / "user_a.py").read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [t.id for t in registry.load_module("user_a")] == ["twice"]
    with pytest.raises(ValueError, match="duplicate theorem id 'twice'"):
        registry.load_module("user_b")
    with pytest.raises(ValueError, match="cannot import theorem module 'no_such_module'"):
        registry.load_module("no_such_module")


def test_worked_example_validates_parameters_and_confirms_with_the_oracle():
    example = worked_example(triangular(), seed=0, n=10)
    assert example.verified and example.values == {"claim": 55.0, "oracle": 55.0}
    with pytest.raises(ValueError, match="outside its domain"):
        worked_example(triangular(), n=0)
    with pytest.raises(ValueError, match="no parameter 'm'"):
        worked_example(triangular(), m=3)


def _square_lemma() -> Derivation:
    x = sp.Symbol("x")
    return Derivation("a square expanded", (x + 1) ** 2).then(expand(), x**2 + 2 * x + 1)


def _wrong_square_lemma() -> Derivation:
    x = sp.Symbol("x")
    return Derivation("a square expanded wrongly", (x + 1) ** 2).then(expand(), x**2 + 1)


def _claim_theorem(**changes) -> Theorem:
    fields = dict(
        id="lemma-backed",
        title="t",
        topic="user",
        statement="x",
        parameters={"x": Real(0, 1)},
        claim=lambda x: (x + 1) ** 2,
        oracle=lambda x: x**2 + 2 * x + 1,
        mutants={"x^2 + 1": lambda x: x**2 + 1},
        lemmas=(_square_lemma,),
    )
    return Theorem(**{**fields, **changes})


def test_a_claim_theorem_counts_and_shows_its_lemmas():
    theorem = _claim_theorem()
    result = check(theorem, instances=50)
    assert result.symbolic == {"steps": 1, "proved": 1, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    assert [d.title for d in theorem.lemma_derivations()] == ["a square expanded"]


def test_a_wrong_lemma_fails_the_theorem():
    result = run_check(_claim_theorem(lemmas=(_wrong_square_lemma,)), instances=20)
    assert result.status == "failed" and "step 1" in result.message.lower()


def test_lemmas_belong_to_claim_theorems():
    with pytest.raises(TheoremDefinitionError, match="lemmas="):
        _claim_theorem(claim=None, derivation=_square_lemma)


def test_an_erratum_must_name_one_of_the_mutants_or_give_evidence():
    from checkers.results import Erratum

    stated = dict(source="notes", section="1", stated="a", corrected="b")
    with pytest.raises(TheoremDefinitionError, match="not one of the mutants"):
        _claim_theorem(errata=(Erratum(**stated, refuted_by="no such mutant"),))
    with pytest.raises(TheoremDefinitionError, match="evidence="):
        _claim_theorem(errata=(Erratum(**stated),))
    assert _claim_theorem(errata=(Erratum(**stated, refuted_by="x^2 + 1"),)).errata[0].refuted_by == "x^2 + 1"


def test_variants_must_name_parameters():
    with pytest.raises(TheoremDefinitionError, match="variants="):
        _claim_theorem(variants={"y": Real(0, 1)})


def test_a_value_rejected_by_where_names_the_condition():
    domain = Real(0.0, 1.0, where=lambda eps: 0 < eps < 1, condition="0 < eps < 1")
    with pytest.raises(ValueError, match=r"eps=1.0 is in reals in \[0, 1\] but fails 0 < eps < 1"):
        domain.check_value("eps", 1.0)
    with pytest.raises(ValueError, match="outside its domain"):
        domain.check_value("eps", 2.0)
