"""scan-associativity: the linear recurrence is a prefix scan; parallel scans' depth and work.

The claim is what the derivation says: the states are the ``b`` parts of the inclusive prefixes
of the pairs ``(a_t, b_t)`` under the derived operator ``(a1, b1) o (a2, b2) = (a2 a1, a2 b1 + b2)``
(compiled from the lemma :func:`proofs.ssm.scan.affine_composition`, composed in blocks with
``itertools.accumulate``, a regrouping that associativity allows), for each of the three scans,
and the derived depth and work counts (the closed form of :func:`proofs.ssm.scan.scan_cost`).
The oracle runs the project's instrumented scans (sequential recurrence, Hillis-Steele, Blelloch:
:mod:`numerics.ssm.scan`) with their own operator and reports the states each computes and the
rounds and pairs each counted (seed 000, hours 9-10: "Parallel prefix scan algorithms (O(log L))":
the depth).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from checkers.domains import Integer
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
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
SCANS = 3
"""The claim's states are listed once per scan the oracle runs (sequential, Hillis-Steele, Blelloch)."""
MARTIN_CUNDY = "Martin and Cundy 2018, Parallelizing Linear Recurrent Neural Nets Over Sequence Length"


def _scan_inputs(rng: np.random.Generator, n: int, m: int, k: int) -> dict[str, np.ndarray]:
    """``L = 2^m`` random steps each: ``a_t`` of spectral norm in [0.5, 1] (bounded states), ``b_t`` Gaussian."""
    length = 2**m
    a = rng.standard_normal((n, length, k, k))
    a *= rng.uniform(0.5, 1.0, size=(n, length, 1, 1)) / np.linalg.norm(a, ord=2, axis=(-2, -1))[..., None, None]
    return {"a": a, "b": rng.standard_normal((n, length, k, 1))}


def _geometric_inputs(m: int, k: int) -> dict[str, np.ndarray]:
    """An anchor's hand-built recurrence: ``a_t = I/2``, ``b_t = (1, ..., 1)`` for ``L = 2^m`` steps."""
    return {"a": np.broadcast_to(np.eye(k) / 2, (2**m, k, k)), "b": np.ones((2**m, k, 1))}


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


def _prefix_states(op, a, b) -> np.ndarray:
    """The ``b`` parts of the inclusive prefixes of the pairs ``(a_t, b_t)`` under ``op``, regrouped: ``(n, L k)``.

    Associativity allows any grouping; this one folds left inside blocks of about ``sqrt(L)`` steps,
    takes the prefixes of the blocks' totals, and composes each block's local prefixes after the
    total of the blocks before it. (A left fold alone would never use the ``a`` part of a
    composed pair: ``(A, h) o (a_t, b_t)`` reads ``A`` only to form the next ``A``.)
    """
    steps = list(zip(np.swapaxes(a, 0, 1), np.swapaxes(b, 0, 1)))  # time first
    size = max(1, round(len(steps) ** 0.5))
    blocks = [list(itertools.accumulate(steps[start : start + size], op)) for start in range(0, len(steps), size)]
    carries = itertools.accumulate([block[-1] for block in blocks], op)
    prefixes = blocks[0] + [op(carry, local) for carry, block in zip(carries, blocks[1:]) for local in block]
    return np.stack([state for _, state in prefixes], axis=1).reshape(len(a), -1)


def _states_and_counts(closed_form, m, a, b, op=None):
    """The prefix states under ``op`` (default: the derived operator), once per scan, then the counts (n, 6)."""
    states = _prefix_states(op or derived_operator(), a, b)
    counts = closed_form(m=np.full(len(a), m))
    return np.concatenate([states] * SCANS + [counts], axis=1)


def _claim(closed_form, m, a, b):
    """The claim: the prefix under the derived operator (for each scan) and the derived counts ``closed_form``."""
    return _states_and_counts(closed_form, m, a, b)


def _rounding_bound(a, b) -> np.ndarray:
    """Per instance: a first-order float64 bound on |claim - oracle| for every state, from the instance's norms.

    ``h_t = sum_s P_ts b_s`` with ``P_ts = a_t ... a_(s+1)``. Every algorithm here (the claim's left
    fold, the sequential, Hillis-Steele and Blelloch scans) forms each term through at most ``L``
    applications of the operator, and one application (``k x k`` products and a sum) has a
    norm-wise relative error of at most ``(k^2 + 1) u`` (``||fl(XY) - XY|| <= k u ||X||_F ||Y||_F
    <= k^2 u ||X|| ||Y||``). So each side is within ``L (k^2 + 1) u N_t`` of ``h_t``, where
    ``N_t = ||a_t|| N_(t-1) + ||b_t||`` bounds ``sum_s ||P_ts|| ||b_s||``: twice that for both sides.
    Spectral norms are at most 1, so ``N_t`` stays a few times ``max ||b_t||`` here; the bound is a
    few 1e-11 at ``L = 1024``, against observed errors below 1e-13.
    """
    n, length, k = a.shape[:3]
    norms_a = np.linalg.norm(a, ord=2, axis=(-2, -1))
    norms_b = np.linalg.norm(b[..., 0], axis=-1)
    total, largest = np.zeros(n), np.zeros(n)
    for t in range(length):
        total = norms_a[:, t] * total + norms_b[:, t]
        largest = np.maximum(largest, total)
    return 2 * length * (k**2 + 1) * np.finfo(float).eps / 2 * largest


def _instrumented_scans(a, b):
    """The oracle: the project's three scans, each with its own operator and a :class:`~numerics.ssm.scan.Count`.

    Returns each scan's states and then each scan's counted (depth, work): what the algorithms
    compute and what they cost, never a closed form; and the accuracy per instance
    (:func:`_rounding_bound`; counts are exact integers).
    """
    from numerics.ssm.scan import Count, blelloch_scan, hillis_steele_scan, matrix_combine, sequential_scan

    a_t, b_t = np.swapaxes(a, 0, 1), np.swapaxes(b, 0, 1)
    states, counted = [], []
    for scan in (sequential_scan, hillis_steele_scan, blelloch_scan):
        count = Count()
        states.append(np.swapaxes(scan(a_t, b_t, matrix_combine, count)[1], 0, 1).reshape(len(a), -1))
        counted += [count.depth, count.work]
    values = np.concatenate(states + [np.tile(np.array(counted, dtype=float), (len(a), 1))], axis=1)
    return values, _rounding_bound(a, b)


def _wrong_operator(order_b: bool):
    """``(a1 a2, a1 b2 + b1)`` (both parts reversed) or ``(a1 a2, a2 b1 + b2)`` (only the product reversed)."""

    def op(first, second):
        (a1, b1), (a2, b2) = first, second
        return a1 @ a2, (a1 @ b2 + b1) if order_b else (a2 @ b1 + b2)

    def mutant(m, a, b):
        return _states_and_counts(scan_associativity.closed_form(), m, a, b, op=op)

    return mutant


def _wrong_count(index: int, formula):
    """The derived counts with entry ``index`` replaced by ``formula(L, m)`` (a plausible wrong complexity)."""

    def mutant(m, a, b):
        claimed = _claim(scan_associativity.closed_form(), m, a, b)
        claimed[:, index - len(COUNT_NAMES)] = formula(2**m, m)
        return claimed

    return mutant


def _scan_values(m, k, a, b):
    counts = scan_associativity.closed_form()(m=np.array([m]))[0]
    values = {"L": 2**m, **{name: int(v) for name, v in zip(COUNT_NAMES, counts)}}
    states = _prefix_states(derived_operator(), a[None], b[None])[0]
    values["h_L"] = states[(2**m - 1) * k : 2**m * k].tolist()
    return values


def _cost_figure():
    """Depth and work for L = 2 .. 1024: the derived closed forms against instrumented runs."""
    from numerics.ssm.scan import cost_figure, counted_costs

    exponents = np.arange(1, 11)
    lengths = 2**exponents
    derived = scan_associativity.closed_form()(m=exponents)
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


def _worked_anchor_value(m: int, k: int) -> np.ndarray:
    """By hand at ``a_t = I/2``, ``b_t = 1``: ``h_t = sum_(s <= t) 2^-(t-s) = 2 - 2^(1-t)`` in every component, for
    each scan, then the counts at ``L = 2^m`` read off round by round (``m = 3``: Hillis-Steele's rounds combine 7, 6
    and 4 pairs, 17 in all; Blelloch's up-sweep 4, 2, 1 and down-sweep 1, 3, 11 in all, in 5 rounds)."""
    steps = np.arange(1, 2**m + 1)
    states = np.repeat(2 - 2.0 ** (1 - steps), k)
    counts = {3: [7, 7, 3, 17, 5, 11], 1: [1, 1, 1, 1, 1, 1]}[m]
    return np.concatenate([states] * SCANS + [counts])


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
    oracle=_instrumented_scans,
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
        atol=0.0,
        reason=(
            "the oracle states its accuracy per instance (checkers.ssm.scan._rounding_bound): every algorithm forms "
            "each term of h_t through at most L operator applications of relative error (k^2 + 1) u each, so claim "
            "and oracle are each within L (k^2 + 1) u N_t of h_t, N_t = ||a_t|| N_(t-1) + ||b_t||; a few 1e-11 at "
            "L = 1024 against observed errors below 1e-13. Counts are integers, exact in float64; the mutants "
            "differ by at least 1"
        ),
    ),
    example={"m": 3, "k": 2},
    anchors=(
        Anchor(
            {"m": 3, "k": 1},
            _worked_anchor_value(3, 1),
            "by hand (see _worked_anchor_value): h_t = 2 - 2^(1-t) for a_t = 1/2, b_t = 1, L = 8; the counts of "
            "Blelloch 1990's and Hillis and Steele 1986's rounds at L = 8",
            atol=1e-15,
            inputs=_geometric_inputs(3, 1),
        ),
        Anchor(
            {"m": 1, "k": 2},
            _worked_anchor_value(1, 2),
            "by hand: h_1 = (1, 1), h_2 = (3/2, 3/2) for a_t = I/2, b_t = (1, 1); at L = 2 every scan does one round "
            "of one pair",
            atol=1e-15,
            inputs=_geometric_inputs(1, 2),
        ),
    ),
    values=_scan_values,
    figures=_cost_figure,
)
