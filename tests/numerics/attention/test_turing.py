"""The Turing-machine transformer and the direct simulator: hand traces, exactness, hard attention, bad input."""

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from numerics.attention.turing import (
    Construction,
    busy_beaver,
    direct_configurations,
    hard_attention,
    random_machines,
    simulate_machine,
    transformer_configurations,
    transformer_run,
    transformer_weights,
)

# Perez et al.'s pieces, typed here by hand (the checker reads them off the lemmas instead): query (h, 1, 1),
# key (1, -a, p), p_t = 1/(2(t + 1)), e(x) = relu(x) * -2 + relu(x + 1) + relu(x - 1), AND = relu(u + v - 1).
PEREZ = Construction(
    query=((1, 0, 0, 0), (0, 0, 0, 1), (0, 0, 0, 1)),
    key=((0, 0, 0, 1), (0, -1, 0, 0), (0, 0, 1, 0)),
    positional=tuple(Fraction(1, 2 * (t + 1)) for t in range(17)),
    detector=((1, 1), (0, -2), (-1, 1)),
    conjunction=(1, 1, -1),
)

# Two states, three symbols; from a blank tape it writes 1, 2, 0 into cell 0 (staying), then steps right and back.
REWRITER = np.array(
    [
        [[1, 1, 0], [0, 0, 1], [1, 0, 1]],
        [[1, 0, -1], [0, 2, 0], [0, 0, 0]],
    ]
)
# Traced by hand: (state, head, symbol under the head) after each of 5 steps.
REWRITER_STATES = [0, 1, 0, 1, 1, 1]
REWRITER_HEADS = [0, 0, 0, 1, 0, -1]
REWRITER_READS = [0, 1, 2, 0, 0, 0]


def test_the_simulator_on_a_right_moving_writer():
    # One state: write 1, move right, forever.
    states, heads, reads, tape = simulate_machine(np.array([[[0, 1, 1], [0, 1, 1]]]), 3)
    assert states == [0, 0, 0, 0] and heads == [0, 1, 2, 3] and reads == [0, 0, 0, 0]
    assert tape == {0: 1, 1: 1, 2: 1}


def test_the_simulator_and_the_transformer_on_the_hand_trace():
    expected = (REWRITER_STATES, REWRITER_HEADS, REWRITER_READS)
    assert simulate_machine(REWRITER, 5)[:3] == expected
    states, heads, reads, tape = transformer_run(REWRITER, 5, PEREZ)
    assert (states, heads, reads) == expected
    assert tape == [0] * 11


def test_without_the_tie_break_the_rewritten_cell_reads_an_average():
    # After step 1 the head is still on cell 0, written blank by token 0 and 1 by token 1: the tie averages to 1/2,
    # and the machine goes astray from there (its state becomes a fraction too).
    no_tie_break = replace(PEREZ, key=((0, 0, 0, 1), (0, -1, 0, 0), (0, 0, 0, 0)))
    states, _, reads, _ = transformer_run(REWRITER, 5, no_tie_break)
    assert reads[1] == Fraction(1, 2) and states[2] == Fraction(1, 2)


def test_a_strict_mask_misses_the_write_just_made():
    # Step 1 writes 1 into cell 0 and stays: only token 1 itself records that write.
    reads = transformer_run(REWRITER, 2, PEREZ, mask="strict")[2]
    assert reads[1] == 0 and REWRITER_READS[1] == 1


def test_everything_is_exact():
    weights = transformer_weights(REWRITER, PEREZ)
    for name in ("embed", "W_Q", "W_K", "W_V", "W_O", "step_in", "step_out", "output"):
        assert all(type(w) is int for row in getattr(weights, name) for w in row), name
    for values in transformer_run(REWRITER, 5, PEREZ, selection="average"):
        assert all(isinstance(v, (int, Fraction)) for v in values)


def test_hard_attention_averages_ties_exactly():
    # Scores -|q.k|: -1, -1, -2: the first two tie.
    assert hard_attention([1], [[1], [-1], [2]], [[10, 1], [20, 0], [30, 0]]) == [15, Fraction(1, 2)]
    assert hard_attention([1], [[1], [0]], [[10], [20]]) == [20]
    assert hard_attention([1], [[1], [0]], [[10], [21]], selection="average") == [Fraction(31, 2)]


@pytest.mark.parametrize("states, symbols", [(2, 2), (3, 3), (4, 2)])
def test_random_machines_agree_exactly(states, symbols):
    delta = random_machines(np.random.default_rng(states * 10 + symbols), 30, states, symbols)
    assert np.array_equal(transformer_configurations(delta, 10, PEREZ), direct_configurations(delta, 10))


def test_the_busy_beaver_by_hand():
    # A0 -> 1RB, A1 -> 1LB, B0 -> 1LA: five steps leave four 1s on cells -2..1, B on cell -1 reading 1.
    (table,) = busy_beaver(1, 2, 2)
    states, heads, reads, tape = simulate_machine(table, 5)
    assert (states, heads, reads) == ([0, 1, 0, 1, 0, 1], [0, 1, 0, -1, -2, -1], [0, 0, 1, 0, 0, 1])
    assert tape == {0: 1, 1: 1, -1: 1, -2: 1}
    assert transformer_run(table, 5, PEREZ)[:3] == (states, heads, reads)


def test_a_detector_that_is_not_zero_away_from_the_match_breaks_the_simulation():
    # relu(x + 1) - relu(x) is 1 at every x >= 0: a write to the left of the head would be read as under it.
    wrong = replace(PEREZ, detector=((1, 1), (0, -1)))
    delta = random_machines(np.random.default_rng(5), 20, 3, 3)
    assert not np.array_equal(transformer_configurations(delta, 10, wrong), direct_configurations(delta, 10))


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"delta": np.zeros((2, 2))}, "delta"),
        ({"delta": np.array([[[0, 0, 2]]])}, "delta"),
        ({"delta": np.array([[[1, 0, 1]]])}, "delta"),
        ({"steps": -1}, "steps"),
        ({"steps": 17}, "steps"),
        ({"selection": "soft"}, "selection"),
        ({"query": "next"}, "query"),
        ({"mask": "none"}, "mask"),
    ],
)
def test_bad_input_names_the_argument(bad, match):
    arguments = {"delta": REWRITER, "steps": 3, **bad}
    with pytest.raises(ValueError, match=match):
        transformer_run(arguments.pop("delta"), arguments.pop("steps"), PEREZ, **arguments)


@pytest.mark.parametrize(
    "bad, match",
    [({"delta": np.zeros((2, 2))}, "delta"), ({"delta": np.array([[[1, 0, 1]]])}, "delta"), ({"steps": 1.5}, "steps")],
)
def test_the_simulator_checks_its_input_on_its_own(bad, match):
    arguments = {"delta": REWRITER, "steps": 3, **bad}
    with pytest.raises(ValueError, match=f"simulate_machine: {match}"):
        simulate_machine(arguments["delta"], arguments["steps"])
