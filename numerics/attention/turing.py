"""A hard-attention transformer that simulates a Turing machine, in exact rational arithmetic.

The construction follows the decoder of Pérez, Barceló, Marinković 2021 (JMLR, "Attention is
Turing complete", section 4), simplified. The machine has one two-way infinite tape, states
``0..Q-1`` (start ``0``), symbols ``0..S-1`` (``0`` the blank), moves ``-1, 0, +1`` and no
halting state; it starts on a blank tape at cell 0. Its transition table ``delta`` has shape
``(Q, S, 3)``: ``delta[q, s] = (next state, symbol written, move)``.

Token ``y_t`` (the decoder's ``t``-th output, fed back as its next input) records the
configuration after ``t`` steps: the state one-hot, the head position ``h_t``, and the write of
step ``t``: the cell ``a_t = h_(t-1)`` and the symbol written there. Token 0 records a write of
the blank at cell 0, which a blank tape already holds. The tape is never stored: it is the
history of writes. The positional encoding adds ``p_t = 1 / (2 (t + 1))`` (a ``1/i`` term as
in Pérez et al.'s ``pos(i) = (i, 1/i, 1/i^2)``) and a constant 1.

One decoder step at position ``t`` (only matrix products, ReLU and hard attention):

1. attention, one head: query ``(h_t, 1, 1)``, keys ``(1, -a_j, p_j)``, so
   ``<q, k_j> = h_t - a_j + 1/(2 (j + 1))``; Pérez et al.'s score ``-|<q, k_j>|``; hard attention
   returns the value ``(a_j, symbol_j)`` of the maximal score (ties averaged). The maximum is
   unique, and it is the most recent write to cell ``h_t`` if there is one (the 1/i term breaks
   ties towards the latest write; proved in proofs.attention.turing);
2. a ReLU layer ``e(x) = relu(x + 1) - 2 relu(x) + relu(x - 1)`` on ``x = h_t - a_j``: 1 if the
   attended write is at the head's cell, 0 for any other integer;
3. a ReLU layer ``relu(symbol_j[s] + e - 1)``: the symbol read, blank if no write matched;
4. a ReLU layer with one unit per ``(q, s)``, ``relu(state[q] + read[s] - 1)``, and a linear map
   that writes ``delta[q, s]``: the next state, the symbol written, the move;
5. the output layer: the next token's state and symbol, head ``h_t + move``, write cell ``h_t``.

The pieces the proofs are about (the query and key maps, the positional term, the detector's
units and the AND unit of steps 3-4) are not written here: they come in a :class:`Construction`,
which the checker reads off the derivations. Every number is exact: the decoder's stream holds
integer numerators over one common denominator ``D``, the least common multiple of the positional
terms' denominators (``D x`` in place of ``x``; every layer is positively homogeneous, so the run on
``D x`` is ``D`` times the run on ``x``, with the same attention choices), and the values read off
the stream are divided by ``D`` exactly (ints, or ``fractions.Fraction`` where they are not
integers). So the arithmetic is on Python ints, free of Fraction objects, unless hard attention
averages a tie; no floating point anywhere. The keywords ``selection``, ``query`` and
``mask`` select plausible wiring mistakes the checker must refute; ``mask="strict"`` hides the
current token from its own attention, which matters when the head stays on the cell it just
wrote (a move 0). The direct simulator (:func:`simulate_machine`, :func:`direct_configurations`)
shares no code with the transformer.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

MOVES = (-1, 0, 1)


# --- the direct simulator ---------------------------------------------------------------------


def simulate_machine(delta: np.ndarray, steps: int):
    """Run the machine directly for ``steps`` steps: states, head positions, symbols under the head, final tape.

    Returns ``(states, heads, reads, tape)``: lists of length ``steps + 1`` (the configuration
    after each step, the start included) and the final tape as a dict ``cell -> symbol``
    (cells never written are blank). Raises ``ValueError`` naming ``delta`` or ``steps`` when
    they do not describe a machine of the class or a number of steps.
    """
    table = np.asarray(delta)
    if table.ndim != 3 or table.shape[2] != 3 or 0 in table.shape:
        raise ValueError(f"simulate_machine: delta must have shape (states, symbols, 3), got {table.shape}")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"simulate_machine: steps must be a non-negative integer, got {steps!r}")
    transitions = {(q, s): tuple(int(x) for x in table[q, s]) for q in range(table.shape[0]) for s in range(table.shape[1])}
    for next_state, written, move in transitions.values():
        if not (0 <= next_state < table.shape[0] and 0 <= written < table.shape[1] and move in (-1, 0, 1)):
            raise ValueError("simulate_machine: delta must hold next states < states, symbols < symbols and moves in {-1, 0, 1}")
    tape, state, head = {}, 0, 0
    states, heads, reads = [0], [0], [0]
    for _ in range(int(steps)):
        state, symbol, move = transitions[state, tape.get(head, 0)]
        tape[head] = symbol
        head += move
        states.append(state)
        heads.append(head)
        reads.append(tape.get(head, 0))
    return states, heads, reads, tape


def direct_configurations(delta: np.ndarray, steps: int) -> np.ndarray:
    """The direct simulator's configurations for a batch of tables ``(n, Q, S, 3)``; a loop over machines.

    Each row is ``(state, head, read)`` after every step, then the final tape on cells
    ``-steps .. steps``: the layout of the transformer's configuration vector, built here on its own.
    """
    rows = []
    for table in np.asarray(delta):
        states, heads, reads, tape = simulate_machine(table, steps)
        trace = [value for step in zip(states, heads, reads) for value in step]
        rows.append(trace + [tape.get(cell, 0) for cell in range(-steps, steps + 1)])
    return np.array(rows, dtype=float)


def random_machines(rng: np.random.Generator, n: int, states: int, symbols: int) -> np.ndarray:
    """``n`` transition tables ``(n, Q, S, 3)`` drawn uniformly: next state, symbol written, move in {-1, 0, 1}."""
    return np.stack(
        [
            rng.integers(0, states, size=(n, states, symbols)),
            rng.integers(0, symbols, size=(n, states, symbols)),
            rng.choice(np.array(MOVES), size=(n, states, symbols)),
        ],
        axis=-1,
    )


def busy_beaver(n: int, states: int, symbols: int) -> np.ndarray:
    """``n`` copies of the 2-state busy beaver (Radó 1962) as a ``(states, symbols)`` table, ``(n, Q, S, 3)``.

    States ``A = 0``, ``B = 1``: ``A0 -> 1RB``, ``A1 -> 1LB``, ``B0 -> 1LA``; its halting transition
    ``B1 -> 1RH`` is taken at step 6, and as these machines do not halt it is replaced by ``B1 -> 1RB``
    (write 1, move right, stay in B). Every other entry (unreachable) is ``(0, 0, 0)``. Its first
    5 steps, traced by hand (the theorem's anchor), write four 1s on cells -2..1 and end in B on cell -1.
    """
    table = np.zeros((states, symbols, 3), dtype=int)
    table[0, 0], table[0, 1], table[1, 0], table[1, 1] = (1, 1, 1), (1, 1, -1), (0, 1, -1), (1, 1, 1)
    return np.broadcast_to(table, (n, states, symbols, 3)).copy()


def _checked_table(delta) -> np.ndarray:
    delta = np.asarray(delta)
    if delta.ndim != 3 or delta.shape[2] != 3 or min(delta.shape[:2]) < 1:
        raise ValueError(f"delta must have shape (states, symbols, 3), got {delta.shape}")
    Q, S = delta.shape[:2]
    if not (np.all((0 <= delta[..., 0]) & (delta[..., 0] < Q)) and np.all((0 <= delta[..., 1]) & (delta[..., 1] < S))
            and np.all(np.isin(delta[..., 2], MOVES))):
        raise ValueError("delta must hold next states < states, symbols < symbols and moves in {-1, 0, 1}")
    return delta


def _check_steps(steps) -> None:
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")


# --- the transformer --------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Coordinates of the token and of the residual stream for ``Q`` states and ``S`` symbols.

    Token: ``state[Q] | symbol[S] | h | a | p | one``. The stream appends scratch space that
    the layers write: the attended write ``(a*, symbol*[S])``, the match bit ``e``, the symbol
    read ``read[S]``, and the transition's output ``next[Q] | written[S] | move``.
    """

    Q: int
    S: int

    @functools.cached_property
    def state(self):
        return range(0, self.Q)

    @functools.cached_property
    def symbol(self):
        return range(self.Q, self.Q + self.S)

    @functools.cached_property
    def h(self):
        return self.Q + self.S

    @functools.cached_property
    def a(self):
        return self.h + 1

    @functools.cached_property
    def p(self):
        return self.h + 2

    @functools.cached_property
    def one(self):
        return self.h + 3

    @functools.cached_property
    def token_width(self):
        return self.Q + self.S + 4

    @functools.cached_property
    def attended(self):  # a*, then symbol*[S]
        return range(self.token_width, self.token_width + 1 + self.S)

    @functools.cached_property
    def match(self):
        return self.token_width + 1 + self.S

    @functools.cached_property
    def read(self):
        return range(self.match + 1, self.match + 1 + self.S)

    @functools.cached_property
    def next_state(self):
        return range(self.read.stop, self.read.stop + self.Q)

    @functools.cached_property
    def written(self):
        return range(self.next_state.stop, self.next_state.stop + self.S)

    @functools.cached_property
    def move(self):
        return self.written.stop

    @functools.cached_property
    def width(self):
        return self.move + 1


def _zeros(rows: int, cols: int) -> list[list[int]]:
    return [[0] * cols for _ in range(rows)]


def _sparse_matvec(W, x):
    """The exact product ``W x``, ``W`` given as ``(height, nonzero rows)`` (each ``(row, ((column, weight), ...))``).

    ``x`` holds ints (and Fractions after an averaged tie), so the product is exact; rows of ``W``
    that are all zero give 0 without a sum.
    """
    height, rows = W
    y = [0] * height
    for r, row in rows:
        y[r] = sum([w * x[c] for c, w in row])
    return y


def _residual(x, W, y):
    """``x + W y`` (``W`` sparse): the stream after a layer writes ``W y`` into it; only ``W``'s nonzero rows change it."""
    x = list(x)
    for r, row in W[1]:
        x[r] += sum([w * y[c] for c, w in row])
    return x


def _nonzero(M):
    """``M`` as ``(height, nonzero rows)``, the form :func:`_sparse_matvec` multiplies by."""
    rows = ((r, tuple((c, w) for c, w in enumerate(row) if w)) for r, row in enumerate(M))
    return len(M), tuple((r, row) for r, row in rows if row)


def _sparse(W: "Weights") -> "Weights":
    """The same matrices stored by their nonzero entries (the decoder's loop multiplies by them thousands of times)."""
    return Weights(W.layout, *(_nonzero(getattr(W, f)) for f in _MATRICES))


def relu(x):
    return [v if v > 0 else 0 for v in x]


@dataclass(frozen=True)
class Weights:
    """The transformer's matrices (all integer, rows as tuples) for one transition table."""

    layout: Layout
    embed: tuple  # token -> stream
    W_Q: tuple
    W_K: tuple
    W_V: tuple
    W_O: tuple  # attention output -> stream
    match_in: tuple  # stream -> 3 hidden units
    match_out: tuple  # 3 hidden -> stream
    read_in: tuple
    read_out: tuple
    step_in: tuple
    step_out: tuple
    output: tuple  # stream -> next token (positional term added afterwards)


_MATRICES = ("embed", "W_Q", "W_K", "W_V", "W_O", "match_in", "match_out", "read_in", "read_out", "step_in",
             "step_out", "output")


@dataclass(frozen=True)
class Construction:
    """The pieces of the decoder that the proofs are about, on the abstract coordinates ``(cell, a, p, 1)``.

    ``query`` and ``key`` (``3 x 4`` integers) map a token's ``(cell, a, p, 1)`` to its query and
    key (``cell`` is the head's cell, ``a`` the cell of the token's write, ``p`` its positional
    term); ``positional[t]`` is the positional term of position ``t`` (exact); ``detector`` lists
    the units ``(shift c, weight w)`` of ``e(x) = sum_units w relu(x + c)``; ``conjunction`` is
    ``(c_u, c_v, c_0)`` of the AND unit ``relu(c_u u + c_v v + c_0)``.
    """

    query: tuple[tuple[int, ...], ...]
    key: tuple[tuple[int, ...], ...]
    positional: tuple[Fraction, ...]
    detector: tuple[tuple[int, int], ...]
    conjunction: tuple[int, int, int]


def transformer_weights(delta: np.ndarray, construction: Construction, *, query: str = "head") -> Weights:
    """The matrices of the construction for transition table ``delta`` (shape ``(Q, S, 3)``).

    ``query="previous"`` wires the cell of the last write, not the head's cell, into the query and
    the detector (a plausible mistake). Only ``step_out`` holds the table; the other matrices
    depend on ``(Q, S)``, the construction and ``query`` alone, and are built once for them.
    """
    delta = _checked_table(delta)
    if query not in ("head", "previous"):
        raise ValueError(f"query must be 'head' or 'previous', got {query!r}")
    Q, S = delta.shape[:2]
    table_free = _table_free_weights(Q, S, construction, query)
    return replace(table_free, step_out=_transition_out(delta, table_free.layout))


def _transition_out(delta: np.ndarray, L: Layout) -> tuple[tuple[int, ...], ...]:
    """``step_out``: unit ``(q, s)`` writes ``delta[q, s]``, the next state and symbol one-hot and the move."""
    Q, S = L.Q, L.S
    step_out = _zeros(L.width, Q * S)
    for q in range(Q):
        for s in range(S):
            unit = q * S + s
            next_state, written, move = (int(x) for x in delta[q, s])
            step_out[L.next_state[next_state]][unit] = 1
            step_out[L.written[written]][unit] = 1
            step_out[L.move][unit] = move
    return tuple(map(tuple, step_out))


@functools.lru_cache(maxsize=None)
def _table_free_weights(Q: int, S: int, construction: Construction, query: str) -> Weights:
    """Every matrix but ``step_out`` (left empty), as tuples: shared by all machines with ``Q`` states and ``S`` symbols."""
    L = Layout(Q, S)
    cell = L.h if query == "head" else L.a
    coordinates = (cell, L.a, L.p, L.one)  # where (cell, a, p, 1) sit in the stream
    embed = _zeros(L.width, L.token_width)
    for i in range(L.token_width):
        embed[i][i] = 1
    W_Q, W_K = _zeros(len(construction.query), L.width), _zeros(len(construction.key), L.width)
    for matrix, rows in ((W_Q, construction.query), (W_K, construction.key)):
        for row, coefficients in zip(matrix, rows):
            for column, coefficient in zip(coordinates, coefficients):
                row[column] += coefficient
    W_V = _zeros(1 + S, L.width)
    W_V[0][L.a] = 1
    for s in range(S):
        W_V[1 + s][L.symbol[s]] = 1
    W_O = _zeros(L.width, 1 + S)
    for i, row in enumerate(L.attended):
        W_O[row][i] = 1
    # e(x) = sum w relu(x + c) at x = cell - a*.
    match_in = _zeros(len(construction.detector), L.width)
    match_out = _zeros(L.width, len(construction.detector))
    for unit, (shift, weight) in enumerate(construction.detector):
        match_in[unit][cell] = 1
        match_in[unit][L.attended[0]] = -1
        match_in[unit][L.one] = shift
        match_out[L.match][unit] = weight
    c_u, c_v, c_0 = construction.conjunction
    # Units: u_0 = relu(1) copies the constant, u_s = relu(c_u symbol*[s] + c_v e + c_0) for s >= 1;
    # read[s] = u_s and read[0] = u_0 - sum of the others (the blank when no write matched).
    read_in = _zeros(S, L.width)
    read_out = _zeros(L.width, S)
    read_in[0][L.one] = 1
    read_out[L.read[0]][0] = 1
    for s in range(1, S):
        read_in[s][L.attended[1 + s]] = c_u
        read_in[s][L.match] = c_v
        read_in[s][L.one] = c_0
        read_out[L.read[s]][s] = 1
        read_out[L.read[0]][s] = -1
    # One unit per (q, s): relu(c_u state[q] + c_v read[s] + c_0) fires exactly for the current pair.
    step_in = _zeros(Q * S, L.width)
    for q in range(Q):
        for s in range(S):
            unit = q * S + s
            step_in[unit][L.state[q]] = c_u
            step_in[unit][L.read[s]] = c_v
            step_in[unit][L.one] = c_0
    output = _zeros(L.token_width, L.width)
    for q in range(Q):
        output[L.state[q]][L.next_state[q]] = 1
    for s in range(S):
        output[L.symbol[s]][L.written[s]] = 1
    output[L.h][L.h] = output[L.h][L.move] = 1
    output[L.a][L.h] = 1
    output[L.one][L.one] = 1
    matrices = (embed, W_Q, W_K, W_V, W_O, match_in, match_out, read_in, read_out, step_in, (), output)
    return Weights(L, *(tuple(map(tuple, M)) for M in matrices))


@functools.lru_cache(maxsize=None)
def _sparse_table_free(Q: int, S: int, construction: Construction, query: str) -> Weights:
    return _sparse(_table_free_weights(Q, S, construction, query))


def _sparse_weights(delta, construction: Construction, query: str) -> Weights:
    """:func:`transformer_weights` stored by nonzero entries; only ``step_out`` is converted per machine."""
    W = transformer_weights(delta, construction, query=query)
    return replace(_sparse_table_free(W.layout.Q, W.layout.S, construction, query), step_out=_nonzero(W.step_out))


def hard_attention(query, keys, values, selection: str = "hard"):
    """Pérez et al.'s hard attention: scores ``-|<q, k_j>|``, the maximal ones averaged; exact.

    ``selection="average"`` averages every value instead (uniform attention, a plausible mistake).
    """
    if selection == "average":
        chosen = range(len(keys))
    elif selection == "hard":
        scores = [-abs(sum([q * k for q, k in zip(query, key)])) for key in keys]
        best = max(scores)
        chosen = [j for j, score in enumerate(scores) if score == best]
    else:
        raise ValueError(f"selection must be 'hard' or 'average', got {selection!r}")
    if len(chosen) == 1:  # the average of one value is that value (kept as ints where it has them)
        return list(values[chosen[0]])
    return [Fraction(sum(values[j][i] for j in chosen), len(chosen)) for i in range(len(values[0]))]


def _read_layers(W: Weights, x, keys, values, selection):
    """Attention and the two ReLU layers that turn the attended write into the symbol read (``W`` sparse).

    With no token to attend to (only under the strict mask, at position 0) the attention adds nothing.
    """
    if keys:
        x = _residual(x, W.W_O, hard_attention(_sparse_matvec(W.W_Q, x), keys, values, selection))
    x = _residual(x, W.match_out, relu(_sparse_matvec(W.match_in, x)))
    return _residual(x, W.read_out, relu(_sparse_matvec(W.read_in, x)))


def _common_denominator(construction: Construction) -> int:
    """``D``: the least common multiple of the positional terms' denominators, so ``D p_t`` is an integer."""
    return math.lcm(*(p.denominator for p in construction.positional))


def _scaled_positional(construction: Construction, t: int, D: int) -> int:
    """``D p_t``, an integer as ``D`` is a multiple of ``p_t``'s denominator."""
    p = construction.positional[t]
    return D // p.denominator * p.numerator


def _unscaled(value, D: int):
    """``value / D`` exactly: an int when ``D`` divides it, else a Fraction."""
    quotient, remainder = divmod(value, D)
    return quotient if remainder == 0 else Fraction(value, D)


def _decode(delta, steps, construction, selection, query, mask):
    """Decode ``steps`` tokens: the sparse weights, ``D``, every token's key and value, and the trace read off the stream.

    The stream is ``D`` times the decoder's (see the module docstring): the token's constant and
    positional coordinates are ``D`` and ``D p_t``, so every entry is an integer until an averaged
    tie, and the trace is divided by ``D`` when it is read off.
    """
    _check_steps(steps)
    if mask not in ("inclusive", "strict"):
        raise ValueError(f"mask must be 'inclusive' or 'strict', got {mask!r}")
    if len(construction.positional) <= steps:
        raise ValueError(f"steps: the construction's positional terms cover {len(construction.positional)} positions, not {steps + 1}")
    W = _sparse_weights(delta, construction, query)
    L = W.layout
    D = _common_denominator(construction)
    token = [0] * L.token_width
    token[L.state[0]] = token[L.symbol[0]] = token[L.one] = D
    token[L.p] = _scaled_positional(construction, 0, D)
    keys, values = [], []
    states, heads, reads = [], [], []
    for t in range(steps + 1):
        x = _sparse_matvec(W.embed, token)
        keys.append(_sparse_matvec(W.W_K, x))
        values.append(_sparse_matvec(W.W_V, x))
        visible = len(keys) if mask == "inclusive" else len(keys) - 1  # the causal mask: j <= t, or j < t
        x = _read_layers(W, x, keys[:visible], values[:visible], selection)
        states.append(_unscaled(sum(q * x[i] for q, i in enumerate(L.state)), D))
        heads.append(_unscaled(x[L.h], D))
        reads.append(_unscaled(sum(s * x[i] for s, i in enumerate(L.read)), D))
        if t < steps:
            x = _residual(x, W.step_out, relu(_sparse_matvec(W.step_in, x)))
            token = _sparse_matvec(W.output, x)
            token[L.p] = _scaled_positional(construction, t + 1, D)  # the positional encoding of the next position
    return W, D, keys, values, (states, heads, reads)


def _read_tape(W: Weights, D: int, keys, values, cells, selection):
    """The symbol on each cell, read by the attention and ReLU layers with a probe query at that cell (stream scaled by ``D``)."""
    L = W.layout
    symbols = []
    for cell in cells:
        probe = [0] * L.token_width
        probe[L.h] = probe[L.a] = D * cell
        probe[L.one] = D
        x = _read_layers(W, _sparse_matvec(W.embed, probe), keys, values, selection)
        symbols.append(_unscaled(sum(s * x[i] for s, i in enumerate(L.read)), D))
    return symbols


def transformer_run(delta: np.ndarray, steps: int, construction: Construction, *, selection: str = "hard",
                    query: str = "head", mask: str = "inclusive"):
    """Decode ``steps`` tokens; return ``(states, heads, reads, tape_window)`` read off the stream.

    The state is read linearly as ``sum_q q state[q]``, the symbol read as ``sum_s s read[s]``,
    the head from its coordinate, all after each step; the final tape on cells ``-steps..steps``
    is read by the same attention and ReLU layers with a probe query at each cell (the decoder's
    read at a hypothetical head position) over all tokens. Keys and values of earlier tokens are
    kept (their layer-1 keys and values depend on their own token only), as a decoder's cache.
    Values are ints and Fractions; the keyword arguments select the plausible wiring mistakes.
    """
    W, D, keys, values, trace = _decode(delta, steps, construction, selection, query, mask)
    return (*trace, _read_tape(W, D, keys, values, range(-steps, steps + 1), selection))


def transformer_tape_history(delta: np.ndarray, steps: int, construction: Construction) -> list[list]:
    """The tape on cells ``-steps..steps`` after each step ``t``, read by probes over tokens ``0..t`` only."""
    W, D, keys, values, _ = _decode(delta, steps, construction, "hard", "head", "inclusive")
    cells = range(-steps, steps + 1)
    return [_read_tape(W, D, keys[: t + 1], values[: t + 1], cells, "hard") for t in range(steps + 1)]


def configuration_vector(states, heads, reads, tape_window) -> np.ndarray:
    """The compared configuration: ``(state, head, read)`` after every step, then the final tape on the window."""
    trace = np.array([states, heads, reads], dtype=float).T.ravel()
    return np.concatenate([trace, np.asarray(tape_window, dtype=float)])


def transformer_configurations(delta: np.ndarray, steps: int, construction: Construction, **variant) -> np.ndarray:
    """The transformer's configuration vectors for a batch of tables ``(n, Q, S, 3)``; a loop over machines.

    No vectorised form exists: the arithmetic is exact (Python ints over a common denominator,
    unbounded), so each machine is decoded on its own; the exact values are converted to float64 only at the end.
    """
    return np.array(
        [configuration_vector(*transformer_run(table, steps, construction, **variant)) for table in np.asarray(delta)]
    )
