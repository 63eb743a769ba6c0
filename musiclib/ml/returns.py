"""Returns: bars that come back, as they do in people's tunes.

A folk tune restates itself: in Nottingham's tunes 29 % of bars repeat an earlier bar note
for note and 14 % of 2-bar phrases come back (a phrase answered by itself with a new
ending, a second part whose cadence echoes the first's). A model sampled symbol by symbol
almost never does (0–1 %), and that is what gives its tunes away to the blind listener.

A *plan* says, for each bar of a tune (counted from the first bar of the body), which
earlier bar it restates (-1: none). Plans are measured on the corpus's own tunes
(`plans_from_bars`, fed by the way: the ABC way compares bars note for note with
`metrics.form`), one per tune, and each sampled piece draws one of them by its seed
(`draw_plans`), so the tunes restate themselves as often, and in the same places, as the
corpus's do. The sampling loop (`fastloop`) reads the bars of each piece as it writes them
(`fastloop._returns_track`: a bar runs from the first symbol after a bar line to the last
before the next; `flags` tell the loop which symbols are bar lines, which join a bar line,
where the header ends) and, where the plan says bar j restates bar i, feeds bar i's symbols
again, one per step, through the LSTM (its state carries on from them), each still under the
grammar's mask; a symbol the grammar refuses ends the restatement and the rest of the bar is
drawn freely.

A bar may also come back moved up or down the scale, a *sequence*: a figure answered a step,
a third or a fifth away, in the same rhythm (6 % of Nottingham's bars; almost none of a
sampled tune's). `shifts_from_bars` keeps, beside each plan, how many steps of the scale
each restated bar moves (0: note for note), and the way gives a map per shift of what each
symbol becomes (`Returns.maps`; the ABC way moves a note's letter within the key signature,
with its octave marks, leaves accidentals unmoved, `STOP`, and lets the model write its own
chord symbol, `CHORD`). A shift the maps cannot make ends that restatement there.

The same seed draws the same plan, so a piece is still reproduced by its seed alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .fastloop import (
    _FORCED,
    _REFUSED,
    _REPLAYED,
    R_BAR,
    R_CHORD,
    R_JOIN,
    R_KEY,
    R_MAX_SHIFT,
    R_N_MAPS,
    R_NEWLINE,
    R_OCTAVE_ROW,
    R_PLAN_BARS,
    R_STEP_ROW,
    R_STOP,
    R_TRAIL,
    bar_spans,
)

__all__ = [
    "BAR",
    "CHORD",
    "JOIN",
    "KEY",
    "NEWLINE",
    "TRAIL",
    "MAX_BARS",
    "MAX_SHIFT",
    "N_MAPS",
    "Returns",
    "OCTAVE_ROW",
    "STEP_ROW",
    "STOP",
    "bar_spans",
    "draw_index",
    "draw_plans",
    "plans_from_bars",
    "shift_code",
    "shifts_from_bars",
]

# Symbol flags (one int8 per vocabulary id, or'ed):
BAR = R_BAR  # a bar line, or a token holding one ("|", ":|", "|1")
JOIN = R_JOIN  # continues a bar line it directly follows (":" of "|:", "1" of "|1", "\n")
TRAIL = R_TRAIL  # belongs to the bar line that follows it (":" of ":|"), never a bar's content
KEY = R_KEY  # at the start of a line, opens the key field: the body starts after that line
NEWLINE = R_NEWLINE  # ends a line (START counts as one: the first line starts after it)

# Bars a plan covers (a tune's later bars restate nothing); the loop keeps each row's bar
# spans for this many bars. Nottingham's tunes: median 17 bars, 95th percentile 41.
MAX_BARS = R_PLAN_BARS

# What a map makes of a symbol besides another symbol (`Returns.maps`).
STOP = R_STOP  # it cannot be moved: the restatement ends before the symbol ahead of it
CHORD = R_CHORD  # the model writes its own, from this symbol to the next of the same

# Sequences move a bar up to an octave either way, in steps of the scale; each shift's map
# has a code (`shift_code`), 0 for none.
MAX_SHIFT = R_MAX_SHIFT  # 7
N_MAPS = R_N_MAPS
# Where a vocabulary writes a note as a letter and octave marks, symbol by symbol, two rows
# follow the maps (`fastloop.R_STEP_ROW`): each letter's step of the scale and each mark's
# octave, and the loop moves a note with its marks as one.
STEP_ROW, OCTAVE_ROW = R_STEP_ROW, R_OCTAVE_ROW

# Seeds of plans are drawn apart from the seeds' uniform numbers (a second stream).
_PLAN_STREAM = 0x5EED


def shift_code(shift: int) -> int:
    """The code of the map that moves a bar `shift` steps up the scale (negative: down)."""
    if not -MAX_SHIFT <= shift <= MAX_SHIFT:
        raise ValueError(f"a shift of {shift} steps is past an octave")
    return shift % N_MAPS


class Returns:
    """What the sampler needs to restate bars: `flags` over the vocabulary, one plan per
    sampled row (int32 [rows, MAX_BARS]: bar j restates bar `plans[r, j] % MAX_BARS`
    through map `plans[r, j] // MAX_BARS`, -1: none) and the maps (int32 [codes, vocabulary]:
    what each symbol becomes, `STOP` or `CHORD`; None: only code 0, symbols as written).
    After sampling, `state` holds each row's bookkeeping (`restated`, `refused`, `forced`)."""

    def __init__(
        self, *, flags: np.ndarray, plans: np.ndarray, maps: np.ndarray | None = None
    ) -> None:
        self.flags = np.asarray(flags, dtype=np.int8)
        self.plans = np.asarray(plans, dtype=np.int32)
        if maps is None:
            maps = np.arange(len(self.flags), dtype=np.int32)[None, :]
        self.maps = np.asarray(maps, dtype=np.int32)
        self.state: np.ndarray | None = None

    def _column(self, k: int) -> list[int]:
        if self.state is None:
            return [0] * len(self.plans)
        return [int(v) for v in self.state[:, k]]

    @property
    def restated(self) -> list[int]:
        """Per row, the bars whose restatement began (its first symbol allowed)."""
        return self._column(_REPLAYED)

    @property
    def refused(self) -> list[int]:
        """Per row, restatements the grammar cut short (or never let begin)."""
        return self._column(_REFUSED)

    @property
    def forced(self) -> list[int]:
        """Per row, the symbols fed from an earlier bar instead of drawn."""
        return self._column(_FORCED)


def plans_from_bars(bars_of_tunes: Iterable[Sequence[int]]) -> np.ndarray:
    """A library of plans, one row per tune (int8 [tunes, MAX_BARS], -1 padded), from each
    tune's restatements: for each bar, the earlier bar it repeats (-1: none). Tunes that
    restate nothing are kept (they are part of the corpus's statistics)."""
    rows = []
    for plan in bars_of_tunes:
        row = np.full(MAX_BARS, -1, dtype=np.int8)
        plan = [int(i) for i in plan][:MAX_BARS]
        for j, i in enumerate(plan):
            if 0 <= i < j:
                row[j] = i
        rows.append(row)
    if not rows:
        return np.full((0, MAX_BARS), -1, dtype=np.int8)
    return np.stack(rows)


def shifts_from_bars(shifts_of_tunes: Iterable[Sequence[int]]) -> np.ndarray:
    """Beside `plans_from_bars`' library, the steps of the scale each restated bar moves
    (int8 [tunes, MAX_BARS], 0: note for note or none), one row per tune in the same order."""
    rows = []
    for shifts in shifts_of_tunes:
        row = np.zeros(MAX_BARS, dtype=np.int8)
        for j, s in enumerate([int(s) for s in shifts][:MAX_BARS]):
            row[j] = s if -MAX_SHIFT <= s <= MAX_SHIFT else 0
        rows.append(row)
    if not rows:
        return np.zeros((0, MAX_BARS), dtype=np.int8)
    return np.stack(rows)


def draw_plans(
    library: np.ndarray, seeds: Sequence[int], shifts: np.ndarray | None = None
) -> np.ndarray:
    """One plan per seed, drawn from the library by the seed alone (so a piece keeps its
    plan whatever batch it is sampled in), with its tune's `shifts` where given (a library
    saved before sequences had none: every bar then comes back as written). An empty
    library gives plans that restate nothing."""
    library = np.asarray(library)
    out = np.full((len(seeds), MAX_BARS), -1, dtype=np.int32)
    if library.ndim != 2 or not len(library):
        return out
    width = min(MAX_BARS, library.shape[1])
    if shifts is not None and np.shape(shifts) != np.shape(library):
        raise ValueError("the shifts do not fit the plans")
    for r, seed in enumerate(seeds):
        k = draw_index(len(library), seed)
        out[r, :width] = library[k, :width]
        if shifts is not None:
            codes = np.asarray(shifts[k, :width], dtype=np.int32) % N_MAPS
            out[r, :width] += np.where(out[r, :width] >= 0, MAX_BARS * codes, 0)
    return out


def draw_index(n: int, seed: int) -> int:
    """The corpus tune (of `n`) a piece of this seed takes its plan from, and, with the
    folk form, its shape (`AbcWay.form_shapes_for`): the same tune for both."""
    return int(np.random.default_rng([_PLAN_STREAM, int(seed)]).integers(n))
