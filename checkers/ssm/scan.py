"""scan-associativity: the linear recurrence is a prefix scan; parallel scans' depth and work.

The derived operator ``(a1, b1) o (a2, b2) = (a2 a1, a2 b1 + b2)`` (compiled from
:func:`proofs.ssm.scan.affine_composition`) drives Blelloch's and Hillis-Steele's scans on
random matrix recurrences; their states must equal the plain recurrence
``h_t = a_t h_(t-1) + b_t``, and the derived depth and work counts (the result labelled
``counts`` of :func:`proofs.ssm.scan.scan_cost`) must equal the counts of an instrumented run
(seed 000, hours 9-10: "Parallel prefix scan algorithms (O(log L))": the depth).
"""

from __future__ import annotations

import functools

import numpy as np

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.theorem import Theorem
from checkers.results import Plot
from proofs.ssm.scan import BLELLOCH, HILLIS_STEELE, SYLLABUS, scan_cost

COUNT_NAMES = (
    "depth_sequential",
    "work_sequential",
    "depth_hillis_steele",
    "work_hillis_steele",
    "depth_blelloch",
    "work_blelloch",
)
MARTIN_CUNDY = "Martin and Cundy 2018, Parallelizing Linear Recurrent Neural Nets Over Sequence Length"


def _scan_inputs(rng: np.random.Generator, n: int, m: int, k: int) -> dict[str, np.ndarray]:
    """``L = 2^m`` random steps each: ``a_t`` of spectral norm in [0.5, 1] (bounded states), ``b_t`` Gaussian."""
    length = 2**m
    a = rng.standard_normal((n, length, k, k))
    a *= rng.uniform(0.5, 1.0, size=(n, length, 1, 1)) / np.linalg.norm(a, ord=2, axis=(-2, -1))[..., None, None]
    return {"a": a, "b": rng.standard_normal((n, length, k, 1))}


@functools.lru_cache(maxsize=None)
def derived_operator():
    """``op((a1, b1), (a2, b2))`` compiled from the lemma's labelled results ``combine_a``, ``combine_b``."""
    from checkers.closed_form import compile_closed_form

    lemma = scan_associativity.built_derivation().lemmas[0]
    combine_a = compile_closed_form(lemma.expression("combine_a"))
    combine_b = compile_closed_form(lemma.expression("combine_b"))

    def op(first, second):
        (a1, b1), (a2, b2) = first, second
        return combine_a(a_1=a1, a_2=a2), combine_b(a_2=a2, b_1=b1, b_2=b2)

    return op


def _scanned_states(op, a, b) -> np.ndarray:
    """States from Blelloch's and Hillis-Steele's scans under ``op``, as ``(n, 2 L k)``."""
    from numerics.ssm.scan import blelloch_scan, hillis_steele_scan

    a_t, b_t = np.swapaxes(a, 0, 1), np.swapaxes(b, 0, 1)  # time first
    states = [np.swapaxes(scan(a_t, b_t, op)[1], 0, 1) for scan in (blelloch_scan, hillis_steele_scan)]
    return np.concatenate([s.reshape(len(a), -1) for s in states], axis=1)


def _states_and_counts(m, a, b, op=None, counts=None):
    """Scanned states under ``op`` (default: the derived operator), then the derived counts (n, 6)."""
    derived = scan_associativity.closed_form("counts")(m=np.full(len(a), m))
    if counts is not None:
        derived = counts(derived, m)
    return np.concatenate([_scanned_states(op or derived_operator(), a, b), derived], axis=1)


def _claim(_limits, m, a, b):
    """The claim. The engine passes the derivation's last result (the works' limits); the claim is ``counts``."""
    return _states_and_counts(m, a, b)


def _recurrence_and_counts(m, k, a, b):
    """The oracle: the recurrence ``h_t = a_t h_(t-1) + b_t`` step by step, and the counts of instrumented scans."""
    from numerics.ssm.scan import Count, blelloch_scan, hillis_steele_scan, matrix_combine, sequential_scan

    h = np.zeros_like(b[:, 0])
    states = np.empty_like(b)
    for t in range(b.shape[1]):
        h = a[:, t] @ h + b[:, t]
        states[:, t] = h
    counted = []
    a_t, b_t = np.swapaxes(a, 0, 1), np.swapaxes(b, 0, 1)
    for scan in (sequential_scan, hillis_steele_scan, blelloch_scan):
        count = Count()
        scan(a_t, b_t, matrix_combine, count)
        counted += [count.depth, count.work]
    flat = states.reshape(len(a), -1)
    return np.concatenate([flat, flat, np.tile(np.array(counted, dtype=float), (len(a), 1))], axis=1)


def _wrong_operator(order_b: bool):
    """``(a1 a2, a1 b2 + b1)`` (both parts reversed) or ``(a1 a2, a2 b1 + b2)`` (only the product reversed)."""

    def op(first, second):
        (a1, b1), (a2, b2) = first, second
        return a1 @ a2, (a1 @ b2 + b1) if order_b else (a2 @ b1 + b2)

    def mutant(m, a, b):
        return _states_and_counts(m, a, b, op=op)

    return mutant


def _wrong_count(index: int, formula):
    """The derived counts with entry ``index`` replaced by ``formula(L, m)`` (a plausible wrong complexity)."""

    def change(counts, m):
        counts = counts.copy()
        counts[:, index] = formula(2**m, m)
        return counts

    def mutant(m, a, b):
        return _states_and_counts(m, a, b, counts=change)

    return mutant


def _scan_values(m, k, a, b):
    counts = scan_associativity.closed_form("counts")(m=np.array([m]))[0]
    values = {"L": 2**m, **{name: int(v) for name, v in zip(COUNT_NAMES, counts)}}
    states = _scanned_states(derived_operator(), a[None], b[None])[0]
    values["h_L"] = states[(2**m - 1) * k : 2**m * k].tolist()
    return values


def _cost_figure():
    """Depth and work for L = 2 .. 1024: the derived closed forms against instrumented runs."""
    from numerics.ssm.scan import cost_figure, counted_costs

    exponents = np.arange(1, 11)
    lengths = 2**exponents
    derived = scan_associativity.closed_form("counts")(m=exponents)
    formulas = {
        name: (derived[:, 2 * i], derived[:, 2 * i + 1])
        for i, name in enumerate(("sequential", "Hillis-Steele", "Blelloch"))
    }
    figure = cost_figure(lengths, counted_costs(lengths), formulas)
    caption = (
        r"Depth and work of three scans of $L = 2^m$ elements: lines are the derived counts, markers the counts of "
        r"an instrumented run. Blelloch's work stays below $2L$; Hillis--Steele's grows like $L \log_2 L$."
    )
    return [Plot(name="scan-costs", caption=caption, figure=figure)]


scan_associativity = Theorem(
    id="scan-associativity",
    title="The linear recurrence is an associative scan: depth and work of parallel scans",
    topic="ssm",
    statement=(
        r"For the linear recurrence $h_t = a_t h_{t-1} + b_t$ ($h_0 = 0$, $a_t$ a $k \times k$ matrix, $b_t \in "
        r"\mathbb{R}^k$) the operator $(a_1, b_1) \circ (a_2, b_2) = (a_2 a_1,\ a_2 b_1 + b_2)$ composes two steps and "
        r"is associative, so $h_t$ is the $b$ part of the inclusive prefix scan of the pairs $(a_t, b_t)$ and any "
        r"parallel prefix algorithm computes it. For $L = 2^m$: the sequential recurrence has depth and work "
        r"$L - 1$; Hillis--Steele's scan has depth $\log_2 L$ and work $L \log_2 L - L + 1$ (not work-efficient); "
        r"Blelloch's work-efficient scan (inclusive, Brent--Kung) has depth $2 \log_2 L - 1$ and work "
        r"$2L - \log_2 L - 2 < 2L$. Depth counts rounds of combines done at once, work counts pairs combined: the "
        r"$O(\log L)$ of parallel prefix scans is their depth, while their work stays at least the $L - 1$ of the "
        r"sequential recurrence (of order $L$ for Blelloch's, $L \log L$ for Hillis--Steele's)."
    ),
    assumptions=(
        r"the order of the product matters for matrices: $a_2 a_1$, the later step on the left",
        r"counts are proved for $L = 2^m$; the checker samples $m = 1, \dots, 10$ and $k = 1, 2, 3$",
        r"test recurrences: $a_t$ Gaussian rescaled to spectral norm in $[0.5, 1]$, $b_t \sim \mathcal{N}(0, I_k)$",
    ),
    sources=(f"{BLELLOCH}, sections 1.3-1.4", HILLIS_STEELE, MARTIN_CUNDY, f"{SYLLABUS}: Parallel Recurrence"),
    parameters={"m": Integer(1, 10, shape=True, default=3), "k": Integer(1, 3, shape=True, default=2)},
    inputs=_scan_inputs,
    derivation=scan_cost,
    assemble=_claim,
    oracle=_recurrence_and_counts,
    mutants={
        "operator order-swapped (a1 a2, a1 b2 + b1)": _wrong_operator(order_b=True),
        "matrix product reversed (a1 a2, a2 b1 + b2)": _wrong_operator(order_b=False),
        "Hillis-Steele work O(L): 2L - 2": _wrong_count(3, lambda L, m: 2 * L - 2),
        "Hillis-Steele work L log2 L": _wrong_count(3, lambda L, m: L * m),
        "Blelloch depth log2 L": _wrong_count(4, lambda L, m: m),
        "Blelloch work L - 1 (up-sweep only)": _wrong_count(5, lambda L, m: L - 1),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=1e-10,
        reason=(
            "states: each h_t = sum_s a_t ... a_(s+1) b_s with spectral norms <= 1, so |h_t| <= sum_s |b_s|; every "
            "algorithm forms each term through at most 2 log2 L + 1 matrix products of k <= 3 terms, so its rounding "
            "error is at most (2m + 2) k u sum_s |b_s|_1 <= 22 * 3 * 1.1e-16 * 1024 * 12 = 9e-11 for L <= 1024 "
            "(|b_s|_1 <= 12 with overwhelming probability); claim and oracle together stay within 1e-10 (observed "
            "errors are below 1e-13). Counts are integers, exact in float64; the mutants differ by at least 1"
        ),
    ),
    example={"m": 3, "k": 2},
    values=_scan_values,
    figures=_cost_figure,
)
