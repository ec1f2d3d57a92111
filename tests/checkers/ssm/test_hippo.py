"""hippo-legt, hippo-lagt: verified, mutants refuted, anchors, edited closed forms fail, properties, worked examples by
hand, exactness, figure, input."""

import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.engine import mutant_outcome, run_check
from checkers.sampling import draw_instances
from checkers.worked import example_params, theorem_figures, worked_example
from checkers.ssm.hippo import FIGURE_HORIZON, FIGURE_SIZES, hippo_lagt, hippo_legt as theorem
from numerics.ssm.hippo import integrate_window_memory, laguerre_projection, window_projection
from numerics.ssm.legs import fourier_signal
from proofs.ssm import c, f, t
from proofs.ssm.hippo import LAGT_N_MAX, LEGT_N_MAX
from proofs.ssm.hippo import theta as window_length
from transformer_proofs.render import example_latex

MUTANTS = {
    "(-1)^(n-k) on the lower triangle instead of the upper",
    "B_n = 1",
    "no 1/theta",
    "leaving value ignored: A = D (no e e^T)",
}


def legt_by_hand(N):
    """Gu et al.'s normalised LegT matrices, typed from the paper's appendix D.1 for this test only."""
    n, k = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    scale = np.sqrt(2 * n + 1) * np.sqrt(2 * k + 1)
    return scale * np.where(k <= n, 1.0, (-1.0) ** (n - k)), np.sqrt(2 * np.arange(N) + 1.0)


def test_it_verifies_with_every_step_proved():
    result = run_check(theorem, instances=300, seed=1)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 2}
    assert result.numeric.max_error < 0.5
    assert result.numeric.anchors and all(a.agrees for a in result.numeric.anchors)


def test_an_edited_window_start_value_fails(edited):
    # e_1 = -sqrt(3) -> +sqrt(3) in the closed form's last column: the statement's e, nothing else, changed.
    wrong = edited(theorem, lambda R: _scale_entry(R, 1, R.shape[1] - 1, -1))
    assert run_check(wrong, instances=30, seed=0).status == "failed"


def test_an_edited_lagt_entry_fails(edited):
    # A_10 = 1 -> 1.001 (the entry -1 of -A at row 1, column 0).
    wrong = edited(hippo_lagt, lambda R: _scale_entry(R, 1, 0, 1.001))
    assert run_check(wrong, instances=30, seed=0).status == "failed"


def _scale_entry(R, row, column, factor):
    changed = R.as_mutable()
    changed[row, column] *= factor
    return changed


def test_every_mutant_is_refuted():
    outcome = mutant_outcome(theorem, instances=100, seed=2, generated=False)
    refuted = {m.name: m.refuted for m in outcome.mutants}
    assert set(refuted) == MUTANTS and all(refuted.values()), refuted


def test_only_sizes_the_derivation_covers_are_sampled():
    assert {g.params["N"] for g in draw_instances(theorem, 300, seed=0)} == set(range(1, LEGT_N_MAX + 1))
    for bad in ({"N": LEGT_N_MAX + 1}, {"theta": 0.1}):
        with pytest.raises(ValueError):
            example_params(theorem, bad)


@given(st.integers(1, LEGT_N_MAX), st.floats(0.5, 2.0), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_worked_examples_verify_over_the_parameter_space(N, theta, seed):
    assert worked_example(theorem, seed=seed, N=N, theta=theta).verified


def test_worked_example_values_by_hand():
    example = worked_example(theorem, seed=0)
    assert example.params == {"N": 4, "theta": 1.0} and example.verified
    A, B = legt_by_hand(4)
    np.testing.assert_allclose(theorem.anchors[0].value, np.concatenate(
        [-legt_by_hand(3)[0], legt_by_hand(3)[1][:, None], [[1.0], [-np.sqrt(3)], [np.sqrt(5)]]], axis=1))
    np.testing.assert_allclose(example.values["A"], A, rtol=1e-15)
    assert isinstance(example.values["B"], list)
    np.testing.assert_allclose(example.values["B"], B, rtol=1e-15)
    assert example.values["A"][0][1] == pytest.approx(-np.sqrt(3), rel=1e-15)


def test_the_lmu_is_the_same_memory_in_rescaled_coordinates():
    # Voelker et al. 2019: A_nk = (2n+1) (-1 if n < k else (-1)^(n-k+1)), B_n = (2n+1) (-1)^n, for d' = A d + B f.
    # With d = Lambda c, Lambda = diag((-1)^n sqrt(2n+1)), LegT becomes d' = -Lambda A Lambda^-1 d + Lambda B f.
    example = worked_example(theorem, seed=0, N=6)
    A, B = np.asarray(example.values["A"]), np.asarray(example.values["B"])
    n, k = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
    lmu_A = (2 * n + 1) * np.where(n < k, -1.0, (-1.0) ** (n - k + 1))
    lmu_B = (2 * np.arange(6) + 1) * (-1.0) ** np.arange(6)
    scale = (-1.0) ** np.arange(6) * np.sqrt(2 * np.arange(6) + 1)
    np.testing.assert_allclose(-(scale[:, None] * A / scale[None, :]), lmu_A, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(scale * B, lmu_B, rtol=1e-14)


@pytest.mark.parametrize("N", [3, 6])
def test_the_plain_legt_memory_is_exact_for_polynomials_of_degree_below_n(N):
    # Then the reconstruction is f itself on the window, so the dropped term e (e^T c - f(t - theta)) vanishes.
    A, B = legt_by_hand(N)
    rng = np.random.default_rng(N)
    coefficients = rng.standard_normal(N)

    def polynomial(times):
        return np.polynomial.polynomial.polyval(np.asarray(times, dtype=float) / 3, coefficients)

    T, theta = np.array([1.0, 2.5, 4.0]), np.array([0.5, 1.0, 2.0])
    start = window_projection(polynomial, np.zeros(3), theta, N)
    memory = integrate_window_memory(A, B, polynomial, T, theta, start, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(memory, window_projection(polynomial, T, theta, N), atol=1e-8)


def test_the_plain_legt_memory_is_only_approximate_for_a_cosine():
    A, B = legt_by_hand(4)
    signal = functools.partial(fourier_signal, amplitude=[[1.0]], frequency=[[2.0]], phase=[[0.0]])
    start = window_projection(signal, np.zeros(1), np.ones(1), 4)
    memory = integrate_window_memory(A, B, signal, np.array([3.0]), np.ones(1), start)
    assert np.abs(memory - window_projection(signal, np.array([3.0]), np.ones(1), 4)).max() > 1e-4


def test_the_figure_reconstructs_the_window_better_as_n_grows():
    (plot,) = theorem_figures(theorem, seed=0)
    assert plot.name == "online-reconstruction"
    legt, legs = plot.figure.axes
    times, values = legt.lines[0].get_data()
    errors = []
    for line in legt.lines[1:]:
        window, curve = line.get_data()
        errors.append(np.abs(curve - np.interp(window, times, values)).max())
    assert len(errors) == len(FIGURE_SIZES) and errors[-1] < errors[0] / 10 and errors[-1] < 0.05
    assert legs.lines[1].get_data()[0][-1] == pytest.approx(FIGURE_HORIZON)


# --- hippo-lagt ---------------------------------------------------------------------------------

LAGT_MUTANTS = {
    "diagonal 1/2 (the tilted Laguerre functions' A)",
    "A transposed (ones on and above the diagonal)",
    "B_n = sqrt(2n + 1) (LegS's B)",
}


def test_lagt_verifies_with_every_step_proved():
    result = run_check(hippo_lagt, instances=300, seed=1)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": 7, "proved": 7, "sampled": 0, "given": 0, "failed": 0, "custom": 2}
    assert result.numeric.max_error < 0.5
    assert result.numeric.anchors and all(a.agrees for a in result.numeric.anchors)


def test_lagt_every_mutant_is_refuted():
    outcome = mutant_outcome(hippo_lagt, instances=100, seed=2, generated=False)
    refuted = {m.name: m.refuted for m in outcome.mutants}
    assert set(refuted) == LAGT_MUTANTS and all(refuted.values()), refuted


@given(st.integers(1, LAGT_N_MAX), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_lagt_worked_examples_verify_over_the_parameter_space(N, seed):
    assert worked_example(hippo_lagt, seed=seed, N=N).verified


def test_lagt_worked_example_values_by_hand():
    example = worked_example(hippo_lagt, seed=0)
    assert example.params == {"N": 4} and example.verified
    np.testing.assert_array_equal(example.values["A"], np.tril(np.ones((4, 4))))
    assert example.values["B"] == [1.0] * 4


def test_the_lagt_memory_integrated_from_the_past_matches_the_quadrature_coefficients():
    # An independent route to the same ODE: c(T) = exp(-A T) c(0) + int_0^T exp(-A (T - s)) B f(s) ds, by quadrature.
    from scipy.integrate import quad_vec
    from scipy.linalg import expm

    A, B = np.tril(np.ones((5, 5))), np.ones(5)
    coefficients = {
        "amplitude": np.array([[0.8, -1.1]]),
        "frequency": np.array([[0.6, 1.7]]),
        "phase": np.array([[0.2, 1.0]]),
    }
    signal = functools.partial(fourier_signal, **coefficients)
    T = 2.5
    start = laguerre_projection(signal, np.zeros(1), 5)[0]
    forced, _ = quad_vec(lambda s: expm(-A * (T - s)) @ B * signal(np.array([[s]]))[0, 0], 0.0, T, epsabs=1e-13)
    expected = laguerre_projection(signal, np.array([T]), 5)[0]
    np.testing.assert_allclose(expm(-A * T) @ start + forced, expected, atol=1e-10)


def test_lagt_size_outside_the_domain_is_bad_input():
    with pytest.raises(ValueError, match=f"N={LAGT_N_MAX + 1}"):
        example_params(hippo_lagt, {"N": LAGT_N_MAX + 1})


def lagt_by_hand(N):
    """Gu et al.'s untilted LagT matrices (appendix D.2): ones on and below the diagonal, B_n = 1."""
    return np.tril(np.ones((N, N))), np.ones(N)


def test_the_lagt_anchor_is_the_papers_matrix():
    A, B = lagt_by_hand(4)
    np.testing.assert_array_equal(hippo_lagt.anchors[0].value, np.concatenate([-A, B[:, None]], axis=1))


def _rendered_rows(subject, label, hand_rows, N):
    """The worked example's LaTeX shows the derivation's rows ``n < N`` (equal to ``hand_rows``) and no others."""
    latex = example_latex(worked_example(subject, seed=0))
    rows = subject.built_derivation().expression(label)
    for n, hand in enumerate(hand_rows):
        assert sp.simplify(rows[n] - hand) == 0
    assert all(sp.latex(rows[n]) in latex for n in range(N)) and sp.latex(rows[N]) not in latex
    return latex


def test_the_legt_worked_example_renders_the_derived_exact_rows():
    # By hand from e_n = (-1)^n sqrt(2n+1), D_10 = 2 sqrt(3): c_0' = (f(t) - f(t - theta))/theta,
    # c_1' = sqrt(3) (f(t) + f(t - theta) - 2 c_0)/theta.
    w = window_length
    hand = [(f(t) - f(t - w)) / w, sp.sqrt(3) * (f(t) + f(t - w) - 2 * c(0, t)) / w]
    latex = _rendered_rows(theorem, "exact", hand, N=4)
    assert r"\frac{1}{\theta} A" not in latex


def test_the_lagt_worked_example_renders_the_derived_rows():
    hand = [f(t) - c(0, t), f(t) - c(0, t) - c(1, t)]
    _rendered_rows(hippo_lagt, "ode", hand, N=4)


def test_times_are_drawn_from_the_horizon():
    # LegT and LagT allow T in [0, 5] (a window may reach below 0).
    for subject in (theorem, hippo_lagt):
        T = subject.inputs(rng=np.random.default_rng(0), n=2000)["T"]
        assert 0.0 <= T.min() < 0.01 and 4.99 < T.max() <= 5.0
