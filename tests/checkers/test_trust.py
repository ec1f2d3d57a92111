"""The engine never says "verified" for a false claim: each failure of issue 13, reproduced and now caught.

Every false theorem here verified on the engine before the issue; every true one beside it
must still verify with its mutants refuted.
"""

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

import transformer_proofs as tp
from checkers.engine import mutant_outcome, run_check
from checkers.policies import Bound, Deterministic, Statistical
from checkers.results import CheckResult
from checkers import sampling
from checkers.sampling import draw_instances, edge_coverage
from transformer_proofs.cli import main


def user_theorem(claim, oracle, parameters, **fields):
    return tp.Theorem("user-claim", "A user's claim", "user", "s", parameters=parameters, claim=claim, oracle=oracle, **fields)


# --- 1. the oracle's stated accuracy --------------------------------------------------------


@pytest.mark.parametrize(
    "accuracy, rule",
    [
        (lambda x: np.full(len(x), np.inf), "must be finite"),
        (lambda x: 0.6 * np.abs(x), "above the cap 1e-06"),
        (lambda x: np.full(len(x), -1e-9), "must be non-negative"),
        (lambda x: np.zeros((len(x), 3)), "not broadcastable"),
    ],
    ids=["infinite", "60-percent", "negative", "wrong-shape"],
)
def test_an_oracle_cannot_widen_the_tolerance_with_its_stated_accuracy(accuracy, rule):
    twice = user_theorem(lambda x: 2 * x, lambda x: (x, accuracy(x)), {"x": tp.Real(1, 2)})
    result = run_check(twice, instances=50)
    assert result.status == "error" and "user-claim" in result.message and rule in result.message


def test_a_stated_accuracy_within_the_cap_is_reported(capsys):
    exact = user_theorem(lambda x: x, lambda x: (x, 1e-9 * np.abs(x)), {"x": tp.Real(1, 2)})
    result = run_check(exact, instances=50)
    assert result.status == "verified" and result.numeric.oracle_accuracy == pytest.approx(1e-9)
    assert "oracle accuracy 1e-09 relative" in result.stamp()


# --- 2. edges first -------------------------------------------------------------------------


def test_a_claim_wrong_only_at_the_upper_bound_fails_there():
    wrong_at_top = user_theorem(
        lambda n: n * (n + 1) / 2 + (n == 2048), lambda n: np.cumsum(np.arange(1, 2049))[n - 1], {"n": tp.Integer(1, 2048)}
    )
    result = run_check(wrong_at_top, instances=1000)
    assert result.status == "failed" and result.numeric.counterexample.params == {"n": 2048}


def test_a_claim_wrong_only_at_one_small_value_fails_there():
    wrong_at_seven = user_theorem(lambda n: n**2 + (n == 7), lambda n: n * n, {"n": tp.Integer(1, 2048)})
    result = run_check(wrong_at_seven, instances=1000)
    assert result.status == "failed" and result.numeric.counterexample.params == {"n": 7}


def test_a_real_claim_wrong_only_at_the_bound_fails_there():
    wrong_at_one = user_theorem(lambda x: np.where(x == 1.0, 2.0, x), lambda x: x, {"x": tp.Real(0, 1)})
    result = run_check(wrong_at_one, instances=1000)
    assert result.status == "failed" and result.numeric.counterexample.params == {"x": 1.0}


def test_small_domains_are_enumerated_and_choices_cycle():
    theorem = user_theorem(
        lambda k, c: k, lambda k, c: k, {"k": tp.Integer(3, 40), "c": tp.Choice(("a", "b", "c"))}
    )
    (group,) = draw_instances(theorem, 50, seed=0)
    assert set(group.params["k"][:38]) == set(range(3, 41)) and set(group.params["c"][:3]) == {"a", "b", "c"}
    coverage = edge_coverage(theorem.parameters, 50)
    assert coverage["k"]["covered"] == coverage["k"]["of"] == 38 and coverage["c"]["covered"] == 3


def test_shape_parameters_take_few_tuples_edges_first_with_many_instances_each():
    """Issue 18: a thousand instances are a few dozen batched calls, not one per instance; every edge of every
    shape parameter is still drawn, the other parameters are drawn afresh at every instance, and the same
    seed gives the same groups."""
    parameters = {"T": tp.Integer(1, 256, shape=True), "d": tp.Integer(1, 8, shape=True), "x": tp.Real(0, 1)}
    theorem = user_theorem(lambda T, d, x: x, lambda T, d, x: x, parameters)
    groups = draw_instances(theorem, 1000, seed=3)
    # T's edges: its bounds, 1..16 and the powers of two (20 values, not the 256 of an enumeration); d's 8 values.
    edges = {name: values["special"] for name, values in edge_coverage(parameters, 1000).items()}
    assert len(edges["T"]) == 20 and edges["d"] == list(range(1, 9))
    assert len(groups) <= len(edges["T"]) + sampling.RANDOM_SHAPES
    assert sum(g.size for g in groups) == 1000 and min(g.size for g in groups) >= 10
    assert set(edges["T"]) <= {g.params["T"] for g in groups} and set(edges["d"]) <= {g.params["d"] for g in groups}
    # x cycles through its 6 edges in the leading block of 20 points, then is drawn afresh at every point.
    assert len(np.unique(np.concatenate([g.params["x"] for g in groups]))) == 1000 - 20 + 6
    again = draw_instances(theorem, 1000, seed=3)
    assert [(g.params["T"], g.params["d"], g.index.tolist()) for g in groups] == [
        (g.params["T"], g.params["d"], g.index.tolist()) for g in again
    ]
    assert all(np.array_equal(g.params["x"], h.params["x"]) for g, h in zip(groups, again))
    coverage = edge_coverage(parameters, 1000)
    assert all(c["covered"] == c["of"] for c in coverage.values())
    # Up to SHAPE_ENUMERATION values a shape parameter is still enumerated.
    small = {"L": tp.Integer(1, sampling.SHAPE_ENUMERATION, shape=True)}
    assert edge_coverage(small, 1000)["L"]["of"] == sampling.SHAPE_ENUMERATION


def test_coverage_is_in_the_json_report():
    result = run_check(tp.get("chinchilla-allocation"), instances=30)
    coverage = result.to_json()["numeric"]["coverage"]
    low = tp.get("chinchilla-allocation").parameters["alpha"].low
    assert coverage["alpha"]["covered"] == coverage["alpha"]["of"] and low in coverage["alpha"]["special"]


# --- 3. statistical claims with a stated resolution -----------------------------------------


def second_moment(bias=0.0, false_alarm=1e-9):
    """E[(s z)^2] = s^2 for a standard normal z; ``bias`` makes the claim (1 + bias) s^2."""

    def oracle(s, draws, rng):
        return (s[:, None] * rng.standard_normal((len(s), draws))) ** 2

    return user_theorem(
        lambda s: (1 + bias) * s**2,
        oracle,
        {"s": tp.Real(0.5, 2)},
        mutants={"E[z^2] = 2 s^2": lambda s: 2 * s**2},
        tolerance=Statistical(false_alarm=false_alarm),
    )


def test_a_three_percent_bias_on_a_second_moment_fails_at_1000_instances():
    result = run_check(second_moment(bias=0.03), instances=1000)
    assert result.status == "failed" and "pooled mean test" in result.message
    assert result.numeric.extras["resolution"] < 0.03


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_unbiased_monte_carlo_moment_verifies_with_its_mutant_refuted(seed):
    result = tp.check(second_moment(), instances=300, seed=seed)
    assert result.to_json()["numeric"]["resolution"] > 0
    assert all(m.refuted for m in result.mutants)


def test_the_pooled_tests_keep_the_stated_false_alarm_rate():
    # 200 runs at alpha = 1e-2 with 40 instances each (so the pooled square test runs too):
    # alarms at most the 1e-6 upper quantile of Binomial(200, 0.01).
    theorem = second_moment(false_alarm=1e-2)
    alarms = sum(run_check(theorem, instances=40, seed=s).status == "failed" for s in range(200))
    assert alarms <= stats.binom.isf(1e-6, 200, 0.01), alarms


# --- 4. bounds are a policy -----------------------------------------------------------------


def vectors(rng, n, **params):
    size = params["size"]
    return {"a": rng.standard_normal((n, size)), "b": rng.standard_normal((n, size))}


def cauchy_schwarz_theorem(bound=None):
    norms = bound or (lambda a, b: np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return tp.Theorem(
        "cauchy-schwarz",
        "Cauchy-Schwarz",
        "user",
        r"|\langle a, b\rangle| \le \|a\| \|b\|",
        parameters={"size": tp.Integer(1, 64, shape=True)},
        inputs=vectors,
        claim=norms,
        oracle=lambda a, b: np.abs(np.einsum("ij,ij->i", a, b)),
        mutants={"bound / 10": lambda a, b: norms(a, b) / 10, "bound squared / 100": lambda a, b: norms(a, b) ** 2 / 100},
        tolerance=Bound("upper", rtol=1e-12),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_tight_bound_verifies_with_tightness_one_and_its_mutants_refuted(seed):
    result = tp.check(cauchy_schwarz_theorem(), instances=300, seed=seed)
    assert result.numeric.policy == "bound" and result.numeric.extras["tightness"] == pytest.approx(1.0, rel=1e-12)
    assert result.to_json()["numeric"]["tightness"] == pytest.approx(1.0, rel=1e-12)


def test_a_false_bound_fails():
    half = cauchy_schwarz_theorem(lambda a, b: 0.5 * np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    result = run_check(half, instances=100)
    assert result.status == "failed" and result.numeric.counterexample.params == {"size": 1}


def test_a_lower_bound_passes_on_its_side_only():
    positive = {"x": tp.Real(0.1, 10)}
    lower = user_theorem(lambda x: np.log1p(x), lambda x: x, positive, tolerance=Bound("lower"))
    assert run_check(lower, instances=100).status == "verified"
    upper = user_theorem(lambda x: np.log1p(x), lambda x: x, positive, tolerance=Bound("upper"))
    assert run_check(upper, instances=100).status == "failed"


# --- 7. anchors -----------------------------------------------------------------------------


def test_an_oracle_that_repeats_the_claim_is_caught_by_an_anchor():
    wrong = lambda n: n**2 / 2  # noqa: E731  (the same wrong formula as claim and as oracle)
    anchor = tp.Anchor({"n": 4}, 10, "by hand: 1 + 2 + 3 + 4")
    repeated = user_theorem(wrong, wrong, {"n": tp.Integer(1, 100)}, anchors=[anchor])
    result = run_check(repeated, instances=50)
    assert result.status == "failed" and "anchor n=4: 10 (by hand: 1 + 2 + 3 + 4)" in result.message
    assert "the claim gives 8" in result.message and "the oracle gives 8" in result.message
    honest = user_theorem(lambda n: n * (n + 1) / 2, lambda n: np.cumsum(np.arange(1, 101))[n - 1], {"n": tp.Integer(1, 100)}, anchors=[anchor])
    result = run_check(honest, instances=50)
    assert result.status == "verified" and result.to_json()["numeric"]["anchors"][0]["agrees"] is True


def test_an_anchor_outside_the_domain_is_a_definition_error():
    with pytest.raises(tp.TheoremDefinitionError, match="anchor value n=0"):
        user_theorem(lambda n: n, lambda n: n, {"n": tp.Integer(1, 9)}, anchors=[tp.Anchor({"n": 0}, 0, "by hand")])


# --- 8. generated mutants and 9. basis ------------------------------------------------------


def test_generated_mutants_are_run_and_survivors_listed_as_blind_spots():
    outcome = mutant_outcome(tp.get("chinchilla-allocation"))
    assert outcome.ok and all(b.constant for b in outcome.blind_spots)
    assert "blind_spots" in outcome.to_json()
    # 1/6 -> -1/6 puts a negative base under a fractional power: NaN everywhere, counted apart, not a blind spot.
    assert outcome.generated["undefined"] >= 1 and "1/6 -> -1/6" not in {b.name for b in outcome.blind_spots}


def test_every_result_states_its_basis(capsys):
    with pytest.raises(SystemExit) as status:
        main(["verify", "chinchilla-allocation", "turing-completeness", "--instances", "20", "--json", "-"])
    assert status.value.code == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["basis"] for r in results] == ["derived", "supported"]
    user = user_theorem(lambda x: x, lambda x: x, {"x": tp.Real(1, 2)})
    assert run_check(user, instances=5).basis == "numerical"


# --- 10. no false alarm, measured -----------------------------------------------------------


def test_the_sweep_counts_false_alarms_per_theorem(tmp_path, monkeypatch, capsys, user_modules):
    (tmp_path / "sometimes.py").write_text(
        "import numpy as np, transformer_proofs as tp\n"
        "odd = tp.Theorem('odd-alarm', 'wrong at the top', 'user', 's', parameters={'n': tp.Integer(1, 10**6)},\n"
        "    claim=lambda n: n + (n == 10**6), oracle=lambda n: n * 1.0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SystemExit) as status:
        main(["sweep", "chinchilla-allocation", "odd-alarm", "--module", "sometimes", "--seeds", "3", "--instances", "20", "--workers", "1", "--json", "-"])
    report = json.loads(capsys.readouterr().out)
    assert status.value.code == 1 and report["false_alarms"] == 3
    by_id = {r["id"]: r for r in report["results"]}
    assert by_id["chinchilla-allocation"]["false_alarms"] == 0 and by_id["odd-alarm"]["alarm_seeds"] == [0, 1, 2]


def exponential_bound(tolerance):
    """1 + x <= e^x, derived as an inequality step and checked as a bound."""
    import sympy as sp

    from proofs.derivation import Derivation, rewrite

    x = sp.Symbol("x", positive=True)
    derivation = Derivation("1 + x <= e^x", 1 + x).then(rewrite("the exponential's series has positive terms"), sp.exp(x), relation="<=")
    return tp.Theorem(
        "exp-above-tangent", "e^x above its tangent", "user", r"$1 + x \le e^x$", parameters={"x": tp.Real(0.01, 5)},
        derivation=lambda: derivation, oracle=lambda x: 1 + x, tolerance=tolerance,
    )


def test_a_derived_bound_must_be_checked_as_a_bound_on_its_side():
    assert run_check(exponential_bound(Bound("upper", rtol=1e-12)), instances=50).status == "verified"
    for wrong in (Deterministic(), Bound("lower")):
        result = run_check(exponential_bound(wrong), instances=50)
        assert result.status == "error" and "Bound('upper', ...)" in result.message


def test_a_supported_stamp_claims_no_more_than_every_supported_theorem_does():
    """sae-recovery's claim is a threshold on a measured MMCS: its lemmas explain the encoder, nothing of them is
    compiled into the claim; turing-completeness's claim is assembled from its lemmas. The stamp fits both."""
    assert tp.get("sae-recovery").basis == tp.get("turing-completeness").basis == "supported"
    stamp = CheckResult("sae-recovery", "verified", "", None, None, 0.0, basis="supported").stamp()
    assert "compiled into" not in stamp and "built from" not in stamp
    assert stamp.startswith("claim given as code (claim=), not compiled from a derivation; checked lemmas support it")


def test_show_lists_anchors_basis_and_the_tolerance_with_its_accuracy_cap():
    from transformer_proofs.display import theorem_json

    anchor = tp.Anchor({"n": 4}, 10, "by hand: 1 + 2 + 3 + 4")
    theorem = user_theorem(lambda n: n * (n + 1) / 2, lambda n: n * (n + 1) / 2, {"n": tp.Integer(1, 100)}, anchors=[anchor])
    shown = theorem_json(theorem)
    assert shown["anchors"] == [{"params": {"n": 4}, "value": 10.0, "source": "by hand: 1 + 2 + 3 + 4", "rtol": 1e-9, "atol": 0.0, "of": "both", "inputs": {}}]
    assert shown["basis"] == "numerical" and shown["tolerance"]["accuracy_cap"] == 1e-6


def test_an_anchor_may_give_its_own_inputs():
    inputs = lambda rng, n: {"x": rng.normal(size=(n, 3))}
    by_hand = tp.Anchor({}, 14.0, "by hand: 1 + 4 + 9", inputs={"x": [1.0, 2.0, 3.0]})
    square_norm = user_theorem(lambda x: (x**2).sum(-1), lambda x: np.einsum("ni,ni->n", x, x), {}, inputs=inputs, anchors=[by_hand])
    assert run_check(square_norm, instances=20).status == "verified"
    wrong = replace(square_norm, anchors=(replace(by_hand, value=15.0),))
    result = run_check(wrong, instances=20)
    assert result.status == "failed" and "x=[1. 2. 3.]" in result.message
    with pytest.raises(tp.TheoremDefinitionError, match="draws no inputs"):
        user_theorem(lambda n: n, lambda n: n, {"n": tp.Integer(1, 3)}, anchors=[by_hand])
