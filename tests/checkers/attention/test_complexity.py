"""attention-complexity: verified, mutants refuted, property, worked example against hand counts, erratum, bad input."""


from dataclasses import replace

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.attention.complexity import COST_VALUES, attention_complexity
from checkers.engine import run_check
from checkers.worked import theorem_figures, worked_example
from numerics.attention.complexity import measure_costs
from proofs.attention.complexity import T, attention_costs, b, d
from proofs.derivation import Derivation


def test_seed_001_erratum_is_a_loose_bound_with_its_tight_form():
    (erratum,) = attention_complexity.errata
    assert erratum.source == "seed 001" and "T^2 d" in erratum.stated
    assert erratum.kind == "loose" and erratum.refuted_by is None
    assert r"\Theta(T^2 + T d)" in erratum.corrected and r"\Theta(T^2 d + T d^2)" in erratum.corrected


@given(tp.strategies.parameters(attention_complexity))
@settings(max_examples=30, deadline=None)
def test_property_the_course_bound_holds_but_is_not_tight(params):
    """O(T^2 d) space holds (M <= 8 b T^2 d) and time O(T^2 d) holds for T >= d; memory / (b T^2 d) <= 3/d + 5/T."""
    T, d, b = params["T"], params["d"], params["bytes_per_element"]
    flops, memory = attention_complexity.evaluate_claim(T=T, d=d, bytes_per_element=np.array([b]))[0, :2]
    assert memory <= 8 * b * T**2 * d and memory / (b * T**2 * d) <= (3 / d + 5 / T) * (1 + 1e-12)
    assert T < d or flops <= 12 * T**2 * d


def _counts_with(edited_row, replacement):
    """The derivation's closed form with one row of the counts replaced (a derivation of no steps)."""
    result = attention_costs().result
    rows = [replacement if i == edited_row else entry for i, entry in enumerate(result)]
    return lambda: Derivation("edited", sp.ImmutableMatrix(rows))


def test_an_edited_count_fails():
    """3 T^2 -> 2 T^2 bytes: two T x T tensors instead of S, S / sqrt(d) and P; torch's allocations refute it."""
    edited = replace(attention_complexity, derivation=_counts_with(1, 2 * b * T**2 + 5 * b * T * d))
    result = run_check(edited, instances=30, seed=0)
    assert result.status == "failed" and result.numeric.max_error > 1


@given(tp.strategies.parameters(attention_complexity))
@settings(max_examples=20, deadline=None)
def test_property_the_counts_are_confirmed_anywhere_in_the_domain(params):
    example = worked_example(attention_complexity, **params)
    assert example.verified, (params, example.message)
    v = example.values
    T, d = params["T"], params["d"]
    # Linear attention is cheaper exactly when T > d, and the softmax memory is never T^2 d-sized.
    assert (v["flops_linear"] < v["flops_softmax"]) == (T > d)
    assert v["bytes_softmax"] <= 5 * params["bytes_per_element"] * (T * T + T * d)


def test_worked_example_is_the_comparison_table_at_T51_d11():
    example = worked_example(attention_complexity)
    assert example.verified
    assert example.params == {"T": 51, "d": 11, "bytes_per_element": 4}
    v = example.values
    assert set(COST_VALUES) <= set(v)
    # By hand: 8*51*11^2 + 4*51^2*11 = 49368 + 114444; 12*51*121; 4*(3*51^2 + 5*51*11); 4*(5*51*11 + 11^2).
    assert v["flops_softmax"] == 163812 and v["flops_linear"] == 74052
    assert v["bytes_softmax"] == 42432 and v["bytes_linear"] == 11704
    assert v["crossover_T"] == 11
    # The L = 6 row against six stacked layers run on CPU (not six times the closed form).
    assert (v["flops_deep"], v["bytes_deep"]) == measure_costs("softmax", 51, 11, bytes_per_element=4, layers=6)


def test_the_worked_example_renders_and_the_figure_is_drawn():
    latex = tp.example("attention-complexity").to_latex()
    assert r"\num{163812}" in latex and r"\num{74052}" in latex and "Not confirmed" not in latex
    (plot,) = theorem_figures(attention_complexity)
    assert plot.name == "flops-versus-length" and len(plot.figure.axes[0].lines) == 5
