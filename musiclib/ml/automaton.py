"""A sampling grammar compiled into tables: one row of masks and successors per parser state.

A grammar written as an incremental parser (a state, a way to feed it one symbol, the mask
of what may come next) becomes a finite automaton over the model's vocabulary: states are
numbered by a hashable key of the parser state, `allowed[s]` is the mask in state `s` and
`next_state[s, v]` the state after symbol `v`. A sampling loop then moves every row by two
array look-ups per step instead of calling the parser in Python.

Why lazily. The ABC grammar's states are the product of independent counters: where the
bar stands (in steps of the shortest note: 64 positions in a 4/4 bar), the characters on the
current line (the 150-character rule), the last note's pitch (a tie must repeat it), a chord
symbol's text (45,000 names abc2midi knows, with their prefixes), the meter and unit chosen
in the header (320 pairs), the repeat and ending context. Their product is far too large to
enumerate (chord-symbol prefixes times bar positions alone come to millions), and sampled
tunes keep reaching new states (a trained model's 64 tunes: over 10,000 states, still
growing by thousands per 16 tunes). So the tables are built on
demand: a state gets its mask row when it is first reached, and its successors are left
`UNBUILT` until a row samples that symbol there; the sampling loop hands the unbuilt
(state, symbol) pairs of a step to `resolve`, one Python call for the batch, and carries on
with array look-ups. The tables stay in memory for the process (a worker's later jobs find
them built) up to `max_bytes`, then start again (between pieces).

What it gives, measured (`bench/sampler.py --grammar`, docs/benchmarks.md): sampled tunes
rarely revisit a full parser state (the line's length, the bar position, the last pitch
and the repeat context together are new most steps), so most steps still build a
successor in Python (0.9-1.0 per symbol drawn, even in a warm process); on CPU time the
tables ran at 0.34× plain sampling for characters and 0.12× for tokens (a trained model,
warm), a little faster than the parser asked per row per step. The tables pay only once
the grammar's counters leave its state (see docs/benchmarks.md). `sampler.sample` takes a
`LazyAutomaton` (masks looked up between compiled steps, `fastloop`), and the generation
service passes the ABC grammar's. A `snapshot` is a complete `fastloop.GrammarTables` only
once `build` has reached every state, which this grammar's state space does not allow.

Soundness: two parser states share a table row only when their keys are equal, and a key
must hold everything that decides every later mask (not only the next one), so that the
automaton allows exactly what the parser would on every path. `tests/library` checks this
by comparing table masks with a fresh parse on thousands of prefixes.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from .fastloop import GrammarTables

UNBUILT = -2  # in next_state: allowed, the successor not built yet (see `resolve`)
NOT_ALLOWED = -1


class Parser(Protocol):
    """What a grammar provides to be compiled."""

    size: int  # the vocabulary's size

    def fresh(self) -> Any:
        """The state before START."""

    def fed(self, state: Any, symbol: int) -> Any:
        """The state after one more symbol (a new object; `state` is left as it was)."""

    def mask_of(self, state: Any) -> np.ndarray | None:
        """The allowed next symbols (None: anything)."""

    def state_key(self, state: Any) -> Hashable:
        """Equal keys ⇒ equal masks after every continuation."""


class LazyAutomaton:
    """The tables of one parser, built as sampling reaches their states."""

    def __init__(self, parser: Parser, *, max_bytes: int = 64 * 2**20) -> None:
        self.parser = parser
        self.size = int(parser.size)
        self.max_bytes = int(max_bytes)
        self.resolved = 0  # (state, symbol) pairs built, for benchmarks
        self._clear()

    def _clear(self) -> None:
        self._ids: dict[Hashable, int] = {}
        self._states: list[Any] = []
        self.n = 0
        self._allowed = np.zeros((64, self.size), dtype=bool)
        self._next = np.full((64, self.size), NOT_ALLOWED, dtype=np.int32)

    # --- the tables ------------------------------------------------------------------------
    @property
    def allowed(self) -> np.ndarray:
        """bool [n_states, vocab] (a view: valid until the next state is added)."""
        return self._allowed[: self.n]

    @property
    def next_state(self) -> np.ndarray:
        """int32 [n_states, vocab]: a state id, NOT_ALLOWED, or UNBUILT (see `resolve`)."""
        return self._next[: self.n]

    def snapshot(self, prime: Sequence[int] = ()) -> GrammarTables:
        """The tables built so far, as `fastloop.GrammarTables`, with the state after
        `prime` as the start. Their unbuilt successors read UNBUILT (-2), which the compiled
        loop does not take: only a fully built automaton's snapshot (`build` reached every
        state) is complete."""
        from .fastloop import GrammarTables

        start = self.start(prime)
        return GrammarTables(
            allowed=self.allowed.copy(), next_state=self.next_state.copy(), start=start
        )

    def start(self, prime: Sequence[int]) -> int:
        """The state after the prime (which starts with START), built if new. The prime is
        parsed symbol by symbol, as the parser reads it, whether or not it is allowed."""
        if self.n * self.size * 5 > self.max_bytes:
            self._clear()  # between pieces only: ids handed out during sampling stay valid
        state = self.parser.fresh()
        for symbol in prime:
            state = self.parser.fed(state, int(symbol))
        return self._add(state)

    def resolve(self, states: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """The successor of each (state, symbol) pair, building the ones not built yet."""
        out = np.empty(len(states), dtype=np.int32)
        for k, (s, v) in enumerate(zip(states.tolist(), symbols.tolist(), strict=True)):
            nxt = int(self._next[s, v])
            if nxt < 0:
                nxt = self._add(self.parser.fed(self._states[s], v))
                self._next[s, v] = nxt
                self.resolved += 1
            out[k] = nxt
        return out

    def step(self, states: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """The next state of every row: look-ups, with the unbuilt ones resolved."""
        nxt = self._next[states, symbols]
        missing = nxt < 0
        if missing.any():
            nxt[missing] = self.resolve(states[missing], symbols[missing])
        return nxt

    def build(self, *, limit: int, prime: Sequence[int] = ()) -> int:
        """Breadth-first from the state after `prime`, until `limit` states exist (or every
        reachable one is built). Returns the number of states."""
        frontier = [self.start(prime)]
        seen = set(frontier)
        while frontier and self.n < limit:
            nxt = []
            for s in frontier:
                symbols = np.flatnonzero(self._next[s] == UNBUILT)
                for t in self.resolve(np.full(len(symbols), s), symbols).tolist():
                    if t not in seen:
                        seen.add(t)
                        nxt.append(t)
                if self.n >= limit:
                    break
            frontier = nxt
        return self.n

    def _add(self, state: Any) -> int:
        key = self.parser.state_key(state)
        found = self._ids.get(key)
        if found is not None:
            return found
        i = self.n
        if i == len(self._allowed):
            self._allowed = np.concatenate([self._allowed, np.zeros_like(self._allowed)])
            self._next = np.concatenate([self._next, np.full_like(self._next, NOT_ALLOWED)])
        mask = self.parser.mask_of(state)
        if mask is None:
            mask = np.ones(self.size, dtype=bool)
        self._allowed[i] = mask
        self._next[i] = np.where(mask, UNBUILT, NOT_ALLOWED)
        self._ids[key] = i
        self._states.append(state)
        self.n = i + 1
        return i
