"""The trust rules, walked over every built-in theorem: one table, one row per theorem.

Each rule is DESIGN.md's "Trust rules": the oracle reaches no project function the claim
reaches; every theorem has an anchor the oracle did not compute; every generated constant
mutant that survives has a one-line reason; every step has a rule and custom steps stay under
a quarter of all steps; every erratum has its kind.
"""

import pytest

from checkers.engine import blind_spots
from checkers.independence import independence
from checkers.registry import REGISTRY
from checkers.results import ERRATUM_KINDS

THEOREMS = REGISTRY.theorems()
IDS = [t.id for t in THEOREMS]


@pytest.mark.parametrize("theorem", THEOREMS, ids=IDS)
def test_the_oracle_reaches_no_project_function_the_claim_reaches(theorem):
    reached = independence(theorem)
    assert reached.oracle, "the trace saw no oracle code: the check of independence itself is broken"
    assert not reached.shared, f"claim and oracle both reach {sorted(reached.shared)}"


@pytest.mark.parametrize("theorem", THEOREMS, ids=IDS)
def test_every_theorem_has_an_anchor_the_oracle_did_not_compute(theorem):
    assert theorem.anchors, "give at least one tp.Anchor: a value printed in the source, or a case worked by hand"


@pytest.mark.parametrize("theorem", THEOREMS, ids=IDS)
def test_every_surviving_constant_mutant_has_a_reason(theorem):
    spots, _ = blind_spots(theorem)
    unexplained = [s.name for s in spots if not s.reason]
    assert not unexplained, f"give blind_spots= a one-line reason for {unexplained}"
    stale = set(theorem.blind_spots) - {s.name for s in spots}
    assert not stale, f"blind_spots= explains mutants that are refuted or undefined now: {sorted(stale)}"


def test_custom_steps_stay_under_a_quarter_of_all_steps():
    steps = [step for t in THEOREMS for d in _derivations(t) for step in d.steps]
    assert all(step.operation.rule for step in steps)
    custom = sum(step.operation.is_custom for step in steps)
    assert custom < len(steps) / 4, f"{custom} custom steps of {len(steps)}"


def test_every_erratum_has_a_kind_and_an_ambiguous_one_both_readings():
    errata = [e for t in THEOREMS for e in t.errata]
    assert errata
    for erratum in errata:
        assert erratum.kind in ERRATUM_KINDS
        assert erratum.kind != "ambiguous" or len(erratum.readings) >= 2


def _derivations(theorem):
    main = theorem.built_derivation()
    return [*theorem.lemma_derivations(), *([main] if main else [])]
