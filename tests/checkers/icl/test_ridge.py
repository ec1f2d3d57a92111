"""rls-attention: the FLOP counts against a counted run, the errata, the O(1/alpha^2) remainder, a claim off by
one part in a million fails, and the worked example anywhere in the domain."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings

import transformer_proofs as tp
from checkers.engine import run_check
from checkers.icl.ridge import _ridge_column, rls_attention
from checkers.worked import worked_example
from numerics.icl.ridge import least_squares_layer
from proofs.icl.ridge import d, least_squares_costs, n

TALK = "the talk's Q [K K^T + alpha I]^{-1} K^T V"


@pytest.mark.parametrize("tokens, width", [(1, 1), (7, 3), (3, 8), (5, 5)])
def test_the_flop_counts_are_those_of_a_counted_run(tokens, width):
    """The cost lemma's three counts against the layer run operation by operation (products: torch's FlopCounterMode)."""
    rng = np.random.default_rng(tokens * 10 + width)
    Q, K, V = rng.standard_normal((3, tokens, width))
    counts = least_squares_costs().expression("counts").subs({n: tokens, d: width})
    measured = [least_squares_layer(Q, K, V, 0.5, form)[1] for form in ("layer", "push_through", "attention")]
    assert measured == [int(c) for c in counts]


def test_the_talks_formula_is_undefined_unless_n_equals_d_and_wrong_there():
    talk = rls_attention.mutants[TALK]
    undefined = talk(np.ones((1, 1, 2)), np.ones((1, 3, 2)), np.ones((1, 3, 1)), np.ones(1), 3, 2)
    assert np.isnan(undefined).all()
    rng = np.random.default_rng(4)
    Q, K, V = rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 3, 3)), rng.standard_normal((1, 3, 2))
    alpha = np.array([0.5])
    ridge, _ = _ridge_column(Q, K, V, alpha)
    assert np.abs(talk(Q, K, V, alpha, 3, 3) - ridge).max() > 1e-3
    # One key of width one: K K^T = K^T K, and the talk's formula is the ridge prediction.
    Q, K, V = rng.standard_normal((3, 1, 1, 1))
    assert np.allclose(talk(Q, K, V, alpha, 1, 1), _ridge_column(Q, K, V, alpha)[0], rtol=1e-12)


def test_the_errata_kinds():
    typed, cost = rls_attention.errata
    assert typed.kind == "false" and typed.refuted_by == TALK and "Q[KK^T + \\alpha I]^{-1}K^T V" in typed.stated
    assert cost.kind == "ambiguous" and len(cost.readings) == 2 and "exactly the same" in cost.stated


def test_alpha_times_the_layer_is_linear_attention_up_to_alpha_squared():
    """alpha Q W* = Q K^T V - Q K^T K K^T V / alpha + R with ||R|| <= ||Q|| ||K||^5 ||V|| / alpha^2 (filter factors)."""
    rng = np.random.default_rng(5)
    Q, K, V = rng.standard_normal((2, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    for alpha in (1.0, 10.0, 100.0, 1000.0):
        column = rls_attention.evaluate_claim(Q=Q[None], K=K[None], V=V[None], alpha=np.array([alpha]), n=6, d=3)[0]
        scaled = alpha * column[:2]
        remainder = scaled - Q @ K.T @ V + Q @ K.T @ K @ K.T @ V / alpha
        bound = np.linalg.norm(Q, 2) * np.linalg.norm(K, 2) ** 5 * np.linalg.norm(V, 2) / alpha**2
        assert np.linalg.norm(remainder, 2) <= bound * (1 + 1e-9)
        assert np.allclose(column[4:], scaled - Q @ K.T @ V, rtol=1e-9, atol=1e-12)


def test_a_claim_off_by_one_part_in_a_million_fails():
    """Break it on purpose: every block scaled by 1 + 1e-6; the float64 budget is far tighter."""
    scaled = replace(rls_attention, assemble=lambda closed_form, **kw: rls_attention.evaluate_claim(**kw) * (1 + 1e-6))
    result = run_check(scaled, instances=60, seed=0)
    assert result.status == "failed" and result.numeric.max_error > 1


@given(tp.strategies.parameters(rls_attention))
@settings(max_examples=10, deadline=None)
def test_property_the_example_is_confirmed_anywhere_in_the_domain(params):
    example = worked_example(rls_attention, seed=2, **params)
    assert example.verified, (params, example.message)
    v = example.values
    assert np.allclose(v["layer"], v["lstsq"], atol=1e-9) and v["gap_norm"] <= v["gap_scale"] * (1 + 1e-9)
