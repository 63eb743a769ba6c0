"""A sampling grammar compiled into tables: one row of masks and successors per parser state.

A grammar written as an incremental parser (a state, a way to feed it one symbol, the mask
of what may come next) becomes a finite automaton over the model's vocabulary: states are
numbered by a hashable key of the parser state, `allowed[s]` is the mask in state `s`, and
a sampling loop moves every row by array look-ups per step instead of calling the parser
in Python.

Why lazily. The ABC grammar's states are the product of independent counters: where the
bar stands (in steps of the shortest note: 64 positions in a 4/4 bar), the characters on the
current line (the 150-character rule), the last note's pitch (a tie must repeat it), a chord
symbol's text (45,000 names abc2midi knows, with their prefixes), the meter and unit chosen
in the header (320 pairs), the repeat and ending context. Their product is far too large to
enumerate, and sampled tunes keep reaching new combinations. So the tables are built on
demand: a state gets its mask row when it is first reached, its successors are left
`UNBUILT` until a row samples that symbol there, and the compiled loop
(`fastloop.sample_registered_tables`) runs until a row needs a successor not built yet,
hands that row to `advance_one` (Python: the parser fed once), and resumes at the same
draw. The tables stay in memory for the process (a worker's later jobs find them built)
up to `max_bytes`, then start again (between pieces).

Registers: counters kept out of the key. Two counters made almost every state new (a
trained model's tunes reached a new full parser state at 0.8-0.9 of their symbols, even in
a warm process), and neither decides a mask most of the time, so the loop counts them per
row instead of the key holding them:
- the line register: the characters on the current line. Each symbol adds a fixed number
  of characters or starts a new line (`line_op`, read off by feeding the parser with the
  line far past its limit), so the loop updates it with one table look-up. It decides a
  mask only within `reach` characters of the limit (one for characters; for tokens the
  longest token times the tokens a mask looks at, 1 + VIABLE_DEPTH), so a state's key
  leaves it out (its *group*) and the tables keep one state per group and line bucket:
  one for every line shorter than `lo`, one per length from `lo` to the limit `hi`, one
  for all longer lines (`variant[group, bucket]`; the token grammar's own caches give
  those states their masks without a new computation wherever the rule decided nothing).
- the pitch register (the character grammar without form rules): the letter of the note
  being read or just read. No mask reads it until a tie names it (`-`), so the group keeps
  only the letter's case; a symbol that begins a note sets the register (`pitch_op`), and
  a successor whose key would hold the letter (a tie's pitch, `TIED` in `next_group`) is
  built in Python from the row's own letter.
- the notes register (the character grammar): the notes written so far, which the parser
  counts up to the minimum a tune needs before END. Only END reads it, and only in the
  state itself, so the group leaves it out, a symbol adds 0 or 1 to it (`notes_op`, read
  off by feeding the parser from one note) or resets it (START), and the tables keep one
  state per group, line bucket and notes bucket (below the minimum, or at it:
  `notes_window`, buckets as the line's).
- frames (the character grammar): a construct whose masks and inner successors depend on
  its own text alone, and whose closing symbol leaves the state its opening left (a chord
  symbol "…": `parser.frame_of(state)` gives the text, None outside). Every state inside
  one frame text shares a group keyed by the text alone (`_key`), whatever the context;
  the row keeps the group it opened in as a register (`enter[g, v]` marks the symbols
  that open a frame), and a closing symbol's successor is EXIT: the context group's
  successor (and register ops) for that symbol, built from `parser.frame_context(state)`
  (the text taken away).
- the shape register (the ABC folk form's drawn shapes, one per row): a group's key holds
  a row's shape only as far as the rules read it until the row's state changes what
  it reads (for the form grammar: until a part closes or the tonic is set), so rows of
  many shapes share groups. A successor the parser says reads more of the shape
  (`reads_shape`) is SHAPED in `next_group`, and built in Python per group, symbol and
  shape (`with_shape`: the representative in the row's own shape); the row keeps its
  shape's number (`begin` numbers the shapes it is given, for the process).
A group's successors are computed from one parser state of the group (its representative)
with the row's registers put in (`with_registers`); masks with the row's own
registers. So the key of a group must hold everything that decides every later mask and
successor, registers aside, and a register must decide masks only through its bucket.

What it gives, measured (`bench/sampler.py --grammar`, docs/benchmarks.md): see the
figures there; in a warm worker a third to a half of the symbols still build a successor
or a state in Python (the bar position, the repeat and ending context, the length suffix
being read and the rest still multiply), so grammar-aware sampling is still about half
as fast as plain sampling for characters, a tenth for tokens (whose new states each cost
a trie walk with look-ahead); with every state built (the same seeds again) the look-ups
alone cost about a tenth. The states a model reaches do converge: after some 400 pieces
a worker builds almost nothing more, and `replay` builds the tables ahead of time along
the model's training tunes (a second or two for a thousand character tunes; each in its
own shape for the form grammar), which its pieces follow: the generation task runs it in
the sample worker once per model and grammar, after the first job's pieces are stored
(`AbcWay.grammar_replay`), and then keeps the garbage collector off the tables
(`tables_settle`). `sampler.sample` takes a `LazyAutomaton`, and the generation service
passes the ABC grammar's. A `snapshot` is a
complete `fastloop.GrammarTables` only for a parser without registers once `build` has
reached every state.

Soundness: two parser states share a table row only when their keys (group, or frame
text, and register buckets) are equal. `tests/library` checks this by comparing table
masks with a fresh parse on thousands of prefixes (corpus tunes and random walks,
characters, tokens and the form grammar, the pieces the compiled loop samples, tables
built by `replay`), and the registers with the parser's own line length, letter and
notes counted.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from .fastloop import GrammarTables

UNBUILT = -2  # in next_group: the successor not built yet (see `advance`)
NOT_ALLOWED = -1
TIED = -3  # in next_group: the successor depends on the pitch register (a tie names it)
EXIT = -4  # in next_group: a frame closes; the successor is its context group's
SHAPED = -5  # in next_group: the successor reads more of the row's shape (the shape register)
NO_FRAME = -1  # the frame context register outside frames
NO_SHAPE = -1  # the shape register of a row without a shape
REGISTERS = 5  # a row's registers: line, pitch, notes, frame context, shape


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

    # A parser with a line register also has `line_window` = (lo, hi) and:
    #   group_key(state): as state_key, the line's length left out (and the notes counted,
    #   with a notes register);
    #   line_of(state) -> int; with_registers(state, line, pitch, notes=None) -> a copy
    #   with that line length (and, pitch > 0, holding that letter; notes not None, with
    #   that many notes counted).
    # With a notes register (`notes_window` = (lo, hi), not None): notes_of(state) -> int.
    # With a shape register (`shape_register` true; `fresh_shaped(shape)`): reads_shape(state,
    # after) -> whether the state after a symbol reads more of the shape than `state`'s
    # group key holds; with_shape(state, shape) -> a copy following that shape.
    # With a pitch register too (`pitch_register` true): pitch_of(state) -> a code (0: no
    # letter held), probe_pitches(state) -> two codes of the letter's case (0, 0 when it
    # holds none), holds_letter(state) -> whether any field holds a letter (a tie's too).


class LazyAutomaton:
    """The tables of one parser, built as sampling reaches their states."""

    def __init__(self, parser: Parser, *, max_bytes: int = 64 * 2**20) -> None:
        self.parser = parser
        self.size = int(parser.size)
        self.max_bytes = int(max_bytes)
        # The line register (see the module docstring): lengths below `lo` share one
        # bucket, those from `lo` up to `hi` have one each, those from `hi` on share one.
        window = getattr(parser, "line_window", None)
        self.registered = window is not None
        self.lo, self.hi = (int(window[0]), int(window[1])) if window is not None else (0, 0)
        self.buckets = self.hi - self.lo + 2 if self.registered else 1
        # The pitch register: the letter of the last note, out of the key until a tie names it.
        self.pitched = self.registered and bool(getattr(parser, "pitch_register", False))
        # The notes register: the notes written so far, which decide a mask only once they
        # reach the grammar's minimum (END); buckets as the line's, `nlo` to `nhi` (values
        # past `nhi` are `nhi`, as the parser caps them).
        window = getattr(parser, "notes_window", None) if self.registered else None
        self.counted = window is not None
        self.nlo, self.nhi = (int(window[0]), int(window[1])) if window is not None else (0, 0)
        self.notes_buckets = self.nhi - self.nlo + 2 if self.counted else 1
        self.line_buckets = self.buckets
        self.buckets = self.line_buckets * self.notes_buckets
        # Frames: constructs whose masks and inner successors depend on their own text
        # alone (the module docstring), with the group they opened in as a register.
        self.framed = self.registered and bool(getattr(parser, "frames", False))
        # The shape register: shapes numbered for the process (a row's register holds the
        # number; kept when the tables start again, so a row's number stays valid).
        self.shaped = self.registered and bool(getattr(parser, "shape_register", False))
        if self.shaped and self.pitched:
            raise ValueError("a parser with a shape register has no pitch register")
        self._shape_ids: dict[Hashable, int] = {}
        self._shapes: list[Hashable] = []
        self.resolved = 0  # successors built in Python (groups and states), for benchmarks
        # The `replay` keys these tables were built along, kept when they start again: a
        # replay that filled them would otherwise come back each time (see `replay`).
        self.replayed: set[Hashable] = set()
        self._clear()

    def _clear(self) -> None:
        self._ids: dict[Hashable, int] = {}  # (group key, line bucket) -> state
        self._group_ids: dict[Hashable, int] = {}  # group key -> group
        self._groups: list[Any] = []  # a parser state of each group (its registers aside)
        # (group, symbol, pitch, shape) -> group: successors built for a row's own pitch
        # (TIED) or shape (SHAPED) register
        self._per_row: dict[tuple[int, int, int, int], int] = {}
        self.n = 0
        self.n_groups = 0
        self._allowed = np.zeros((64, self.size), dtype=bool)
        self._group = np.zeros(64, dtype=np.int32)
        self._next = np.full((64, self.size), UNBUILT, dtype=np.int32)
        self._line_op = np.zeros((64, self.size), dtype=np.int16)
        self._pitch_op = np.full((64, self.size), KEEP, dtype=np.int8)
        self._notes_op = np.zeros((64, self.size), dtype=np.int16)
        self._enter = np.zeros((64, self.size), dtype=np.bool_)
        self._variant = np.full((64, self.buckets), UNBUILT, dtype=np.int32)

    # --- the tables ------------------------------------------------------------------------
    @property
    def allowed(self) -> np.ndarray:
        """bool [n_states, vocab] (a view: valid until the next state is added)."""
        return self._allowed[: self.n]

    @property
    def group(self) -> np.ndarray:
        """int32 [n_states]: each state's group (its parser state, the registers aside)."""
        return self._group[: self.n]

    @property
    def next_group(self) -> np.ndarray:
        """int32 [n_groups, vocab]: the group after each symbol; UNBUILT (see `advance`);
        TIED where it depends on the pitch register (a tie names the last note's pitch);
        EXIT where a frame closes; SHAPED where it depends on the row's shape."""
        return self._next[: self.n_groups]

    @property
    def line_op(self) -> np.ndarray:
        """int16 [n_groups, vocab]: what each symbol does to the line register: `op >= 0`
        adds op, `op < 0` sets it to `-op - 1` (a new line began inside the symbol)."""
        return self._line_op[: self.n_groups]

    @property
    def pitch_op(self) -> np.ndarray:
        """int8 [n_groups, vocab]: what each symbol does to the pitch register: KEEP, or
        the code it sets (the letter of a note the symbol begins)."""
        return self._pitch_op[: self.n_groups]

    @property
    def notes_op(self) -> np.ndarray:
        """int16 [n_groups, vocab]: what each symbol does to the notes register: `op >= 0`
        adds op (up to `nhi`), `op < 0` sets it to `-op - 1` (START)."""
        return self._notes_op[: self.n_groups]

    @property
    def variant(self) -> np.ndarray:
        """int32 [n_groups, buckets]: the state of each group in each bucket of its line
        and notes registers (`bucket`), or UNBUILT."""
        return self._variant[: self.n_groups]

    def bucket(self, line: int, notes: int = 0) -> int:
        """The bucket of the line and notes registers' values: the line's bucket (0 for
        every line when there is none) times the notes' buckets, plus the notes' bucket."""
        b = 0
        if self.registered and line >= self.lo:
            b = min(line, self.hi) - self.lo + 1
        n = 0
        if self.counted and notes >= self.nlo:
            n = min(notes, self.nhi) - self.nlo + 1
        return b * self.notes_buckets + n

    def snapshot(self, prime: Sequence[int] = ()) -> GrammarTables:
        """The tables built so far as `fastloop.GrammarTables` (a state per group: only for a
        parser without registers), with the state after `prime` as the start. Unbuilt
        successors read UNBUILT (-2), which the compiled loop does not take: only a fully
        built automaton's snapshot (`build` reached every state) is complete."""
        from .fastloop import GrammarTables

        if self.registered:
            raise ValueError("tables with a line register have no fixed next_state table")
        start = self.start(prime)
        nxt = self._next[self._group[: self.n]].copy()
        built = nxt >= 0
        nxt[built] = self._variant[nxt[built], 0]
        nxt[~self.allowed] = NOT_ALLOWED
        return GrammarTables(allowed=self.allowed.copy(), next_state=nxt, start=start)

    def begin(
        self, prime: Sequence[int], shape: Hashable = None, *, restart: bool = True
    ) -> tuple[int, np.ndarray]:
        """(state, registers) after the prime (which starts with START), built if new: the
        registers as `advance` takes them, [line, pitch, notes, frame context, shape]
        (`REGISTERS`). The prime is parsed symbol by symbol, as the parser reads it, whether
        or not it is allowed. `shape` (a parser with `fresh_shaped`: the ABC form grammar's
        per-piece shape) starts the row in it: its keys hold what the parser reads of the
        shape, and the shape register its number. Tables past `max_bytes` start again here,
        unless `restart` is false: the second and later rows of a batch, whose first row's
        state must stay valid."""
        if restart and self._bytes() > self.max_bytes:
            self._clear()  # between batches only: ids handed out during sampling stay valid
        state = self.parser.fresh() if shape is None else self.parser.fresh_shaped(shape)
        for symbol in prime:
            state = self.parser.fed(state, int(symbol))
        line = int(self.parser.line_of(state)) if self.registered else 0
        pitch = int(self.parser.pitch_of(state)) if self.pitched else 0
        notes = int(self.parser.notes_of(state)) if self.counted else 0
        ctx = NO_FRAME
        if self.framed and self.parser.frame_of(state) is not None:
            ctx = self._group_of(self.parser.frame_context(state))
        number = NO_SHAPE
        if shape is not None and self.shaped:
            number = self._shape_ids.get(shape, -1)
            if number < 0:
                number = self._shape_ids[shape] = len(self._shapes)
                self._shapes.append(shape)
        regs = np.array([line, pitch, notes, ctx, number], dtype=np.int64)
        return self._state(self._group_of(state), line, pitch, notes), regs

    def start(self, prime: Sequence[int]) -> int:
        """The state after the prime (see `begin`)."""
        return self.begin(prime)[0]

    def advance(
        self, states: np.ndarray, regs: np.ndarray, symbols: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(next states, next registers) of every row (`regs`: [rows, REGISTERS], each
        row's line, pitch, notes, frame context and shape registers), building in Python
        the successors not built yet."""
        out = np.empty(len(states), dtype=np.int64)
        new = np.array(regs, dtype=np.int64, copy=True).reshape(len(states), REGISTERS)
        pairs = zip(np.asarray(states).tolist(), np.asarray(symbols).tolist(), strict=True)
        for k, (s, v) in enumerate(pairs):
            out[k], new[k] = self.advance_one(s, new[k].tolist(), v)
        return out, new

    def advance_one(self, state: int, regs: list[int], symbol: int) -> tuple[int, list[int]]:
        """One row's state and registers ([line, pitch, notes, frame context, shape])
        after `symbol`, as the compiled loop moves it, building in Python what is not built
        yet."""
        line, pitch, notes, ctx, shape = regs
        g = src = int(self._group[state])
        child = int(self._next[g, symbol])
        if child == UNBUILT:
            child = self._resolve_group(g, symbol)
        if child == EXIT:  # (the frame closes: the successor is its context's)
            src = ctx
            child = int(self._next[src, symbol])
            if child == UNBUILT:
                child = self._resolve_group(src, symbol)
            ctx = NO_FRAME
        if child in (TIED, SHAPED):
            child = self._row_group(src, symbol, pitch, shape)
        if self._enter[g, symbol]:
            ctx = g
        op = int(self._line_op[src, symbol])
        line = line + op if op >= 0 else -op - 1
        op = int(self._pitch_op[src, symbol])
        pitch = pitch if op == KEEP else op
        op = int(self._notes_op[src, symbol])
        notes = min(notes + op, self.nhi) if op >= 0 else -op - 1
        found = int(self._variant[child, self.bucket(line, notes)])
        if found < 0:
            found = self._state(child, line, pitch, notes)
        return found, [line, pitch, notes, ctx, shape]

    def step(self, states: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """The next state of every row, for a parser without registers."""
        if self.registered:
            raise ValueError("these tables carry a line register: use advance()")
        return self.advance(states, np.zeros((len(states), REGISTERS), np.int64), symbols)[0]

    def replay(
        self,
        pieces: Iterable[Sequence[int]],
        *,
        prime: Sequence[int],
        seconds: float = 0.0,
        shapes: Sequence[Hashable] | None = None,
        max_bytes: int | None = None,
        key: Hashable = None,
    ) -> int:
        """Build the tables ahead of time along known pieces (the training tunes, as ids
        after `prime`): each is fed from the state after the prime up to its first symbol
        the grammar refuses there, building every successor and state it reaches, so that
        a model's own pieces, which follow those tunes, find most of theirs built.
        `shapes` (one per piece, as `begin` takes them): each piece fed in a row started
        in its own shape. `seconds` > 0: stop after that much CPU time. The replay stops
        before the tables hold `max_bytes` (default: half the automaton's `max_bytes`,
        leaving the rest to what sampling builds; past the cap `begin` starts the tables
        again). `key` (not None): remembered in `replayed`, even once the tables have
        started again, so that a caller replays the same pieces once per automaton (the
        states of shaped rows are seldom met again, and their replay fills half the cap:
        replayed at each restart, it would cost more than it gives). Returns the symbols
        fed.
        The masks are the same whatever was built before (a table is a cache of the
        parser)."""
        stop = time.process_time() + seconds if seconds > 0 else None
        cap = self.max_bytes // 2 if max_bytes is None else min(int(max_bytes), self.max_bytes)
        if key is not None:
            self.replayed.add(key)
        fed = 0
        for k, piece in enumerate(pieces):
            if self._bytes() >= cap:
                break
            s, regs = self.begin(prime, None if shapes is None else shapes[k])
            regs = regs.tolist()
            for v in piece:
                v = int(v)
                if not 0 <= v < self.size or not self._allowed[s, v]:
                    break
                s, regs = self.advance_one(s, regs, v)
                fed += 1
            if stop is not None and time.process_time() > stop:
                break
        return fed

    @property
    def nbytes(self) -> int:
        """The bytes the tables built so far take (`max_bytes` caps them)."""
        return self._bytes()

    def build(self, *, limit: int, prime: Sequence[int] = ()) -> int:
        """Breadth-first from the state after `prime`, until `limit` states exist (or every
        reachable one is built), each successor with the registers its parser state has.
        Returns the number of states."""
        start, regs = self.begin(prime)
        frontier = [(start, int(regs[3]))]  # (a state inside a frame, with its context)
        seen = set(frontier)
        while frontier and self.n < limit:
            nxt = []
            for s, ctx in frontier:
                g = int(self._group[s])
                rep = self._groups[g]
                line = int(self.parser.line_of(rep)) if self.registered else 0
                pitch = int(self.parser.pitch_of(rep)) if self.pitched else 0
                notes = int(self.parser.notes_of(rep)) if self.counted else 0
                for v in np.flatnonzero(self._allowed[s]).tolist():
                    t, after = self.advance_one(s, [line, pitch, notes, ctx, NO_SHAPE], v)
                    if (t, after[3]) not in seen:
                        seen.add((t, after[3]))
                        nxt.append((t, after[3]))
                if self.n >= limit:
                    break
            frontier = nxt
        return self.n

    # --- building --------------------------------------------------------------------------
    def _bytes(self) -> int:
        return self.n * (self.size + 4) + self.n_groups * (10 * self.size + 4 * self.buckets)

    def _key(self, state: Any) -> Hashable:
        """A parser state's group key: inside a frame, the frame's own (its text)."""
        if self.framed:
            local = self.parser.frame_of(state)
            if local is not None:
                return ("frame", local)
        return self.parser.group_key(state) if self.registered else self.parser.state_key(state)

    def _group_of(self, state: Any, key: Hashable | None = None) -> int:
        if key is None:
            key = self._key(state)
        found = self._group_ids.get(key)
        if found is not None:
            return found
        g = self.n_groups
        if g == len(self._next):
            self._next = _grown(self._next, UNBUILT)
            self._line_op = _grown(self._line_op, 0)
            self._pitch_op = _grown(self._pitch_op, KEEP)
            self._notes_op = _grown(self._notes_op, 0)
            self._enter = _grown(self._enter, False)
            self._variant = _grown(self._variant, UNBUILT)
        self._group_ids[key] = g
        self._groups.append(state)
        self.n_groups = g + 1
        return g

    def _resolve_group(self, g: int, symbol: int) -> int:
        """The group after `symbol` from group `g` (or TIED), and what the symbol does to
        the registers. The group's parser state is fed with the line far past its limit
        (what the symbol adds is read off), and, with a pitch register, with a letter of its
        case, and again with another when the successor holds a letter: a letter both give
        is the symbol's own (set), one that follows the probe is the row's (kept), and a
        successor whose key differs by it is TIED."""
        state = self._groups[g]
        if not self.registered:
            child = self._group_of(self.parser.fed(state, symbol))
            self._next[g, symbol] = child
            self.resolved += 1
            return child
        p1, p2 = self.parser.probe_pitches(state) if self.pitched else (0, 0)
        n1 = _NOTES_PROBE if self.counted else None
        probe = self.parser.with_registers(state, _PROBE, p1, n1)
        after = self.parser.fed(probe, symbol)
        line = int(self.parser.line_of(after))
        self._line_op[g, symbol] = line - _PROBE if line >= _PROBE else -line - 1
        if self.counted:  # (fed from one note: 0 means a reset, 1 nothing, 2 a note)
            notes = int(self.parser.notes_of(after))
            self._notes_op[g, symbol] = notes - _NOTES_PROBE if notes else -1
        key = self._key(after)
        if self.framed:
            inside = self.parser.frame_of(state) is not None
            if self.parser.frame_of(after) is not None:
                self._enter[g, symbol] = not inside
            elif inside:  # a frame that closes: its context's successor (`advance_one`)
                self._next[g, symbol] = EXIT
                self.resolved += 1
                return EXIT
        if self.shaped and self.parser.reads_shape(probe, after):
            # (no pitch register beside a shape register: the pitch op stays KEEP)
            self._next[g, symbol] = SHAPED
            self.resolved += 1
            return SHAPED
        if self.pitched:
            a = self.parser.pitch_of(after)
            if p1 and self.parser.holds_letter(after):
                other = self.parser.fed(self.parser.with_registers(state, _PROBE, p2, n1), symbol)
                if self._key(other) != key:
                    self._pitch_op[g, symbol] = KEEP
                    self._next[g, symbol] = TIED
                    self.resolved += 1
                    return TIED
                a = a if a == self.parser.pitch_of(other) else 0
            self._pitch_op[g, symbol] = a if a else KEEP
        child = self._group_of(after, key)
        self._next[g, symbol] = child
        self.resolved += 1
        return child

    def _row_group(self, g: int, symbol: int, pitch: int, shape: int) -> int:
        """The group after `symbol` from group `g` for a row whose pitch register is `pitch`
        and shape register `shape` (NO_SHAPE: none): a successor whose key depends on one of
        them (TIED: it names the pitch, as a tie does; SHAPED: it reads more of the shape).
        A parser has at most one of the two registers, so the other is the same for every
        row."""
        key = (g, symbol, pitch, shape)
        found = self._per_row.get(key)
        if found is None:
            state = self._groups[g]
            if shape != NO_SHAPE:
                state = self.parser.with_shape(state, self._shapes[shape])
            state = self.parser.with_registers(state, self.parser.line_of(state), pitch, None)
            found = self._per_row[key] = self._group_of(self.parser.fed(state, symbol))
            self.resolved += 1
        return found

    def _state(self, g: int, line: int, pitch: int, notes: int) -> int:
        """The state of group `g` with the registers at `line` and `notes` (built if new, its
        mask computed with the row's own line, pitch and notes)."""
        b = self.bucket(line, notes)
        found = int(self._variant[g, b])
        if found >= 0:
            return found
        state = self._groups[g]
        if self.registered:
            state = self.parser.with_registers(
                state, line, pitch if self.pitched else 0, notes if self.counted else None
            )
        i = self.n
        if i == len(self._allowed):
            self._allowed = _grown(self._allowed, False)
            self._group = _grown(self._group, 0)
        mask = self.parser.mask_of(state)
        self._allowed[i] = True if mask is None else mask
        self._group[i] = g
        self._variant[g, b] = i
        self.n = i + 1
        self.resolved += 1
        return i


_PROBE = 1 << 14  # a line register value far past any limit (what a symbol adds is read off)
_NOTES_PROBE = 1  # the notes register's value a successor is computed with (see notes_op)
KEEP = -1  # in pitch_op: the symbol leaves the pitch register as it is


def _grown(a: np.ndarray, fill) -> np.ndarray:
    """`a` with twice its rows, the new ones filled with `fill`."""
    return np.concatenate([a, np.full_like(a, fill)])


def tables_settle() -> int:
    """Collect the process's garbage once, then keep the cyclic collector off every object
    left (`gc.freeze`). Why: a sample worker's grammar tables and masks are long-lived,
    some 10^5 Python objects once a model's tables are built (a representative parser
    state per group, their keys), and a full collection walks all of them: 0.2 s for 32 MB
    of tables on the 2-core machine, falling at whatever point of a visitor's batch the
    collector's counters pick. Frozen, they are still freed by reference counting when the
    tables start again (they hold no cycles); garbage made later is collected as before.
    Call it where nobody waits (a worker, after a job's pieces are stored). Returns how
    many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
