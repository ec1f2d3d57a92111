"""The per-theorem checks that are the same for every theorem, as one table each.

Each row holds exactly the theorem-specific data the per-theorem copy of the test used.
"""

import operator

import pytest

import transformer_proofs as tp
from checkers.attention.circuits import multihead_circuits
from checkers.attention.collapse import rank_collapse, rate_for_kept_fraction_theorem
from checkers.attention.complexity import attention_complexity
from checkers.attention.equivariance import permutation_equivariance
from checkers.attention.jl import jl_dimension_theorem
from checkers.attention.kernels import attention_kernel_smoother
from checkers.attention.rank import attention_rank
from checkers.attention.turing import turing_completeness
from checkers.circuits.fourier import modular_addition_fourier
from checkers.circuits.sae import sae_recovery
from checkers.circuits.superposition import superposition
from checkers.circuits.framework import circuits_framework
from checkers.circuits.induction import induction_head_detection, induction_two_layers
from checkers.circuits.induction_limit import induction_one_layer_limit
from checkers.circuits.lora import lora_rank
from checkers.circuits.moe import moe_routing
from checkers.engine import mutant_outcome, run_check
from checkers.icl.bayesian import icl_bayesian
from checkers.icl.linear_attention import MUTANTS as LINEAR_ATTENTION_MUTANTS
from checkers.icl.linear_attention import linear_attention_gd
from checkers.icl.multistep import MUTANTS as MULTISTEP_MUTANTS
from checkers.icl.multistep import lsa_multistep_gd
from checkers.icl.ridge import rls_attention
from checkers.icl.risk import lsa_trained_risk
from checkers.scaling import chinchilla_allocation
from checkers.scaling.fit import scaling_law_fit
from checkers.scaling.frontier import chinchilla_frontier
from checkers.scaling.inference import inference_optimal
from checkers.scaling.kaplan import kaplan_exponents
from checkers.scaling.manifold import manifold_exponent_theorem
from checkers.ssm.duality import ssd_duality
from checkers.ssm.scan import scan_associativity
from checkers.ssm.selective import selective_scan
from checkers.ssm.zoh import zoh_discretization
from checkers.worked import example_params

# One row per theorem: the parameter sets outside its domain.
OUT_OF_DOMAIN = [
    (attention_rank, [{"n_tokens": 0}, {"d_k": 5}, {"H": 0}, {"d_model": 17}, {"d_v": 2.5}]),
    (
        jl_dimension_theorem,
        [{"eps": 0.0}, {"eps": 0.005}, {"eps": 1.0}, {"eps": 1.5}, {"m": 1.0}, {"m": float("nan")}],
    ),
    (rate_for_kept_fraction_theorem, [{"layers": 0}, {"fraction": 1.5}, {"C": float("nan")}]),
    (rank_collapse, [{"layers": 9}, {"bound_ratio": 2.0}, {"n_tokens": 1}]),
    (
        turing_completeness,
        [{"states": 1}, {"states": 5}, {"symbols": 4}, {"steps": 0}, {"steps": 17}, {"machine": "busy-beaver"}],
    ),
    (attention_complexity, [{"T": 0}, {"T": 257}, {"d": 0}, {"bytes_per_element": 6}, {"d": 2.5}]),
    (
        attention_kernel_smoother,
        [{"tokens": 0}, {"tokens": 13}, {"d": 0}, {"temperature": 0.0}, {"key_norm": 3.0}, {"case": "worked"}],
    ),
    (
        permutation_equivariance,
        [{"permutation": 6}, {"permutation": -1}, {"d": 0}, {"d_head": 9}, {"d": 2.5}, {"case": "worked"}],
    ),
    (
        multihead_circuits,
        [{"n_tokens": 0}, {"d_model": 9}, {"H": 4}, {"d_head": 0}, {"H": 1.5}, {"case": "worked"}],
    ),
    (manifold_exponent_theorem, [{"d": 0}, {"d": 4}, {"d": 1.5}, {"extra_dims": -1}]),
    (
        scaling_law_fit,
        [{"diverged": 4}, {"A": 50.0}, {"alpha": 0.6}, {"resamples": -1}, {"E": float("nan")}],
    ),
    (kaplan_exponents, [{"alpha_N": 0.0}, {"alpha_D": 1.0}, {"alpha_N": -0.1}, {"C": 0.0}, {"N_c": -1.0}]),
    (inference_optimal, [{"D_inf": 0.0}, {"N_ref": -8e9}, {"alpha": 1.0}, {"beta": 0.0}]),
    (chinchilla_frontier, [{"C": 0.0}, {"C": -1e24}, {"tokens_per_param": 0.0}, {"C": float("nan")}]),
    (
        chinchilla_allocation,
        [{"C": 0.0}, {"C": -5.76e23}, {"A": -1.0}, {"alpha": 0.0}, {"beta": 1.0}, {"E": -0.1}, {"C": float("nan")}],
    ),
    (scan_associativity, [{"m": 0}, {"m": 11}, {"k": 4}, {"m": 2.5}]),
    (ssd_duality, [{"L": 0}, {"L": 7}, {"N": 4}]),
    (selective_scan, [{"L": 0}, {"L": 33}, {"N": 0}, {"N": 1.5}]),
    (
        icl_bayesian,
        [{"concepts": 1}, {"concepts": 5}, {"states": 0}, {"symbols": 1}, {"length": 3}, {"k": -1}, {"k": 33}, {"k": 2.5}],
    ),
    (modular_addition_fourier, [{"p": 2}, {"p": 4}, {"p": 111}, {"p": 115}, {"p": 1.5}]),
    (superposition, [{"r": 0.4}, {"r": 1.6}, {"b": 0.1}, {"b": -1.5}, {"r": float("nan")}]),
    (sae_recovery, [{"d": 12}, {"d": 24}, {"dictionary": 16}, {"dictionary": -1}, {"dictionary": 1.5}]),
    (circuits_framework, [{"n_tokens": 0}, {"n_vocab": 7}, {"H": 4}, {"d_head": 0}, {"d_model": 1.5}]),
    (lora_rank, [{"d": 0}, {"k": 9}, {"r": 5}, {"r": 0.5}]),
    (moe_routing, [{"E": 3}, {"k": 5}, {"n_tokens": 0}, {"d_ff": 4}, {"E": 9}]),
    (
        linear_attention_gd,
        [{"N": 0}, {"N": 13}, {"d": 6}, {"d_y": 0}, {"d_y": 4}, {"beta": 0.05}, {"beta": 11.0}, {"N": 2.5}],
    ),
    (
        lsa_multistep_gd,
        [{"N": 4}, {"N": 13}, {"K": 0}, {"K": 6}, {"d_x": 5}, {"eta": 0.0}, {"eta": 0.6}, {"gamma": -0.1}, {"K": 1.5}],
    ),
    (
        rls_attention,
        [{"n": 0}, {"n": 13}, {"d": 9}, {"m": 0}, {"d_v": 4}, {"alpha": 0.0}, {"alpha": 0.05}, {"alpha": 2000.0}, {"n": 2.5}],
    ),
    (lsa_trained_risk, [{"d": 0}, {"d": 13}, {"k": 0}, {"k": 49}, {"eta": -0.1}, {"eta": 1.5}, {"k": 2.5}]),
    (
        induction_two_layers,
        [{"d_vocab": 1}, {"d_vocab": 11}, {"n_ctx": 2}, {"n_ctx": 17}, {"scale": 1.0}, {"scale": 25.0}, {"scale": float("nan")}],
    ),
    (induction_head_detection, [{"period": 2}, {"period": 9}, {"period": 3.5}, {"scale": 0.0}, {"scale": 21.0}]),
    (
        induction_one_layer_limit,
        [{"d_model": 0}, {"d_model": 9}, {"d_head": 5}, {"d_head": 1.5}, {"sigma": 0.05}, {"sigma": 3.5}],
    ),
]


@pytest.mark.parametrize(
    "theorem, bad",
    [pytest.param(theorem, bad, id=f"{theorem.id}-{bad}") for theorem, bads in OUT_OF_DOMAIN for bad in bads],
)
def test_out_of_domain_parameters_are_bad_input(theorem, bad):
    with pytest.raises(ValueError):
        example_params(theorem, bad)


# One row per theorem: instances, seed, the steps (all proved), the custom steps, how max_error compares
# with what, and the anchors (None: not asserted; n: exactly n, every one agreeing).
EQ, LT = operator.eq, operator.lt
EVERY_STEP_PROVED = [
    (attention_rank, 300, 0, 12, 1, EQ, 0.0, None),
    (attention_complexity, 80, 0, 14, 0, EQ, 0, 2),
    (attention_kernel_smoother, 300, 0, 10, 1, LT, 0.5, None),
    (permutation_equivariance, 300, 0, 3, 2, LT, 0.5, None),
    (multihead_circuits, 300, 0, 11, 3, LT, 0.5, None),
    (kaplan_exponents, 300, 0, 23, 0, LT, 1, None),
    (inference_optimal, 200, 0, 17, 0, LT, 1, None),
    (chinchilla_frontier, 300, 0, 10, 0, LT, 1, None),
    (chinchilla_allocation, 300, 0, 16, 0, LT, 0.5, None),
    (ssd_duality, 150, 0, 7, 0, LT, 0.01, 1),
    (zoh_discretization, 200, 1, 12, 1, LT, 0.01, 2),
    (icl_bayesian, 60, 0, 17, 3, LT, 1, 3),
    (modular_addition_fourier, 111, 0, 12, 0, LT, 0.5, 3),  # 111 instances: every prime p <= 113
    (circuits_framework, 100, 0, 24, 8, LT, 0.5, 2),
    (moe_routing, 100, 0, 8, 0, LT, 0.5, 2),
    (linear_attention_gd, 80, 0, 38, 1, LT, 1, 2),
    (lsa_multistep_gd, 100, 0, 14, 0, LT, 1, 2),
    (rls_attention, 100, 0, 31, 0, LT, 0.5, 3),
    (lsa_trained_risk, 100, 0, 23, 0, LT, 1, 2),
    (induction_head_detection, 100, 0, 6, 0, LT, 0.5, 1),
    (induction_one_layer_limit, 100, 0, 6, 0, LT, 1, 1),
]


@pytest.mark.parametrize(
    "theorem, instances, seed, steps, custom, compare, bound, anchors",
    [pytest.param(*row, id=row[0].id) for row in EVERY_STEP_PROVED],
)
def test_it_verifies_with_every_step_proved(theorem, instances, seed, steps, custom, compare, bound, anchors):
    result = run_check(theorem, instances=instances, seed=seed)
    assert result.status == "verified", result.message
    assert result.symbolic == {"steps": steps, "proved": steps, "sampled": 0, "given": 0, "failed": 0, "custom": custom}
    assert compare(result.numeric.max_error, bound)
    if anchors is not None:
        assert len(result.numeric.anchors) == anchors and all(a.agrees for a in result.numeric.anchors)


# One row per theorem: instances, seed, and the written mutants expected (a count, or their names), every one refuted.
EVERY_MUTANT_REFUTED = [
    (jl_dimension_theorem, 200, 0, frozenset(jl_dimension_theorem.mutants)),
    (turing_completeness, 80, 0, 5),
    (attention_complexity, 150, 0, 5),
    (manifold_exponent_theorem, 150, 0, 3),
    (
        scaling_law_fit,
        30,
        0,
        frozenset(
            {
                "squared error on the raw loss",
                "no irreducible loss E",
                "N and D exchanged (exponents swapped)",
                "tokens as C/N (the 6 of C = 6ND dropped)",
            }
        ),
    ),
    (kaplan_exponents, 200, 0, 4),
    (inference_optimal, 200, 0, 3),
    (
        chinchilla_frontier,
        200,
        0,
        frozenset({"C = N D (the 6 forgotten)", "C = 2 N D (forward pass only)", "N and D exchanged"}),
    ),
    (chinchilla_allocation, 200, 0, frozenset({"swapped exponents", "C instead of C/6", "G inverted"})),
    (scan_associativity, 150, 0, 6),
    (ssd_duality, 150, 0, 4),
    (
        selective_scan,
        120,
        0,
        frozenset(
            {
                "deltaB = exp(delta) B",
                "missing D skip",
                "z gate without silu",
                "decay exp(A) without delta",
                "softplus before delta_bias",
            }
        ),
    ),
    (modular_addition_fourier, 40, 0, 4),
    (superposition, 60, 0, 4),
    (circuits_framework, 60, 0, 7),
    (lora_rank, 40, 0, 7),
    (moe_routing, 80, 0, 6),
    (linear_attention_gd, 80, 0, frozenset(LINEAR_ATTENTION_MUTANTS)),
    (lsa_multistep_gd, 100, 0, frozenset(MULTISTEP_MUTANTS)),
    (rls_attention, 60, 0, 5),
    (lsa_trained_risk, 60, 0, 5),
    (induction_two_layers, 100, 0, 3),
    (induction_head_detection, 80, 0, 5),
    (induction_one_layer_limit, 80, 0, 6),
]


@pytest.mark.parametrize(
    "theorem, instances, seed, expected", [pytest.param(*row, id=row[0].id) for row in EVERY_MUTANT_REFUTED]
)
def test_every_mutant_is_refuted(theorem, instances, seed, expected):
    outcome = mutant_outcome(theorem, instances=instances, seed=seed, generated=False)
    refuted = {m.name: m.refuted for m in outcome.mutants}
    if isinstance(expected, int):
        assert len(outcome.mutants) == expected and all(refuted.values()), outcome.mutants
    else:
        assert refuted == dict.fromkeys(expected, True), outcome.mutants


# One row per worked example: the strings its LaTeX holds, and those it does not.
WORKED_EXAMPLE_RENDERS = [
    ("turing-completeness", ["symbol read"], ["Not confirmed"]),
    ("attention-kernel-smoother", [r"\num{0.422128}", "hard attention"], ["Not confirmed"]),
    ("permutation-equivariance", [r"s = (2, 3, 1)", "A'_{ij} = A_{s(i) s(j)}"], ["Not confirmed"]),
    ("multihead-circuits", [r"\otimes"], ["Not confirmed"]),
    ("kaplan-exponents", [r"\num{0.575419}"], ["Not confirmed"]),
    ("chinchilla-frontier", [r"\num{1e+11}", r"\num{1.2e+26}"], ["Not"]),
    (
        "chinchilla-allocation",
        [r"\num{3.21899e+10}", r"\num{92.6474}", r"\frac{\beta}{\alpha + \beta}"],
        ["Not confirmed"],
    ),
    # The operator and the closed forms come from the derivation (lemma's combine_a, combine_b; the counts).
    (
        "scan-associativity",
        [r"\num{17}", r"\num{11}", r"(a_{2} a_{1},\ a_{2} b_{1} + b_{2})", r"2^{m} m - 2^{m} + 1"],
        ["disagree"],
    ),
    ("selective-scan", ["kernel form", "All agree"], []),
    ("icl-bayesian", [r"\num{6561}", r"from \num{5} examples on", r"\rho_\theta^k"], ["not confirmed"]),
    ("modular-addition-fourier", ["14, 35, 41, 42, 52", r"(a + b) \bmod p"], ["Not confirmed"]),
    ("superposition", [r"\cos 144^\circ", "a regular pentagon within 2 degrees"], ["Not confirmed", r"\textbf{not}"]),
    ("sae-recovery", ["MMCS with the planted features", "meets the bound"], ["Not confirmed"]),
    ("circuits-framework", [r"\otimes", r"C_{OV}^1", "the model run literally"], ["Not confirmed"]),
    ("lora-rank", [r"\frac{2 r}{d}", "alternating least squares", r"\num{24}"], ["Not confirmed"]),
    ("moe-routing", [r"\frac{k}{E}", r"\num{288}", r"\num{1152}"], ["Not confirmed"]),
    ("linear-attention-gd", [r"\num{0.180805}", "Nadaraya-Watson", r"\mathrm{KL}"], ["not confirmed"]),
    ("lsa-multistep-gd", [r"\num{0.2066}", r"\num{0.1816}", "preconditioned gradient descent"], ["not confirmed"]),
    ("rls-attention", [r"\num{392}", r"\num{955}", r"\num{432}", "push-through"], ["not confirmed"]),
    ("lsa-trained-risk", [r"\num{0.8}", r"\num{0.2}", r"\eta_{\mathrm{mix}}"], ["Not confirmed"]),
    ("induction-two-layers", [r"\lambda E E^{T} A_{1}^{T}", "Position 1."], ["A bound fails"]),
    ("induction-head-detection", ["prefix matching", "induction (1.0)"], ["disagree"]),
    ("induction-one-layer-limit", ["Two heads", r"\num{96}"], ["Not confirmed"]),
]


@pytest.mark.parametrize("name, present, absent", [pytest.param(*row, id=row[0]) for row in WORKED_EXAMPLE_RENDERS])
def test_the_worked_example_renders(name, present, absent):
    latex = tp.example(name).to_latex()
    for text in present:
        assert text in latex, text
    for text in absent:
        assert text not in latex, text
