"""The disk cache of checked derivations: warm runs skip SymPy, and nothing stale is ever trusted."""

import json

import pytest
import sympy as sp

from checkers import derivation_cache
from checkers.derivation_cache import CACHE_VARIABLE, with_evidence
from proofs import derivation as derivation_module
from proofs.derivation import Derivation, differentiate, expand, given, lemma

x = sp.Symbol("x")


def square_rule():
    """A derivation with a lemma and a given step, built afresh on each call (as a theorem's builder is)."""
    inner = Derivation("inner", x * (x + 1)).then(expand(), x**2 + x)
    return (
        Derivation("square", (x + 1) ** 2, lemmas=(inner,))
        .then(expand(), x**2 + 2 * x + 1)
        .then(differentiate(x), 2 * x + 2)
        .then(given("a cited bound", source="a textbook"), 2 * x + 2)
    )


def wrong_rule():
    return Derivation("wrong", (x + 1) ** 2).then(expand(), x**2 + 1)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _evidence(derivation):
    return [s.evidence for s in derivation.check()], [s.evidence for s in derivation.lemmas[0].check()]


def _sympy_must_not_run(monkeypatch):
    def refuse(derivation):
        raise AssertionError(f"{derivation.title} was re-checked although its verdict is in the cache")

    monkeypatch.setattr(derivation_module, "_check_steps", refuse)


def test_a_warm_run_restores_every_verdict_without_sympy(folder, monkeypatch):
    cold = _evidence(with_evidence(square_rule, square_rule()))
    assert cold == (["proved", "proved", "given"], ["proved"])
    assert len(list(folder.glob("*.json"))) == 1
    _sympy_must_not_run(monkeypatch)
    assert _evidence(with_evidence(square_rule, square_rule())) == cold


def test_an_edited_statement_is_checked_again(folder, monkeypatch):
    with_evidence(square_rule, square_rule())
    edited = square_rule().with_step(2, stated=2 * x + 3)  # the same rules, a different (false) statement
    with_evidence(square_rule, edited)
    with pytest.raises(derivation_module.DerivationError, match="does not hold"):
        edited.check()


def test_a_derivation_that_does_not_check_is_never_written(folder):
    derivation = with_evidence(wrong_rule, wrong_rule())
    assert not folder.exists() or not list(folder.glob("*.json"))
    with pytest.raises(derivation_module.DerivationError):
        derivation.check()


def test_a_record_that_does_not_fit_is_ignored(folder):
    with_evidence(square_rule, square_rule())
    (entry,) = folder.glob("*.json")
    record = json.loads(entry.read_text())
    record["evidence"] = ["proved", "proved", "proved"]  # a given step claimed as proved
    entry.write_text(json.dumps(record))
    assert _evidence(with_evidence(square_rule, square_rule()))[0] == ["proved", "proved", "given"]
    entry.write_text("not json")
    assert _evidence(with_evidence(square_rule, square_rule()))[0] == ["proved", "proved", "given"]


def test_the_key_follows_the_package_and_sympy_versions(folder, monkeypatch):
    with_evidence(square_rule, square_rule())
    monkeypatch.setattr(derivation_cache, "package_version", lambda: "99.0")
    with_evidence(square_rule, square_rule())
    assert len(list(folder.glob("*.json"))) == 2


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_VARIABLE, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _evidence(with_evidence(square_rule, square_rule()))[0] == ["proved", "proved", "given"]
    assert not list(tmp_path.rglob("*.json"))

