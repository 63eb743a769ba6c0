"""The form of a tune: its parts, bars, repeats and endings, its key and how it ends.

A folk tune comes in parts of 8 bars (or 16), usually played twice (AABB), built from bars
and phrases that come back, and ends on its tonic. `shape_from_text` reads a tune (ABC text,
or the MIDI way's event text) into a `Shape`; `form_measures` turns a shape into numbers
that can be set beside the same numbers for human tunes.

Bars "counting section ends": a section (a part between repeat signs, double bars or the
tune's ends) often opens with a pickup, an incomplete bar, and closes on a bar short by
exactly that much, so that played round the repeat the two make one bar. The site's older
bar check left every section's first and last bar aside; `section_bar_counts` checks them
too, a pickup and its closing bar together as one bar, which is where generated tunes break.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .notes import Note, letter_semitones, read_abc

_EPS = 1e-6
_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MINOR_MODES = {"m", "min", "aeo"}
# Tonic pitch class of a key signature given as sharps (negative: flats), major and minor.
_MAJOR_OF_SHARPS = {s: (7 * s) % 12 for s in range(-7, 8)}


@dataclass(frozen=True)
class Bar:
    first: int  # index of its first note in Shape.notes
    stop: int  # one past its last note
    length: float  # quarterLength
    expected: float | None  # the meter's bar in quarterLength (None: free meter, unknown)
    left: str  # the bar line(s) before it, as written ("" for none)
    right: str  # the bar line(s) after it
    ending: int | None  # 1, 2…: the bar opens a first or second ending


@dataclass
class Shape:
    notes: list[Note]
    bars: list[Bar]
    tonic: int | None  # pitch class of the key's tonic (None: no key)
    minor: bool = False
    sections: list[list[int]] = field(default_factory=list)  # bar indexes per section
    in_later_ending: set[int] = field(default_factory=set)  # bars of a 2nd (3rd…) ending
    meter: tuple[int, int] | None = None  # the first M: field's (beats, beat unit)
    # Semitones above C of each letter C..B under the key signature (`notes.letter_semitones`);
    # empty where the text has none (the MIDI way's events)
    letters: tuple[int, ...] = ()


# --- reading -----------------------------------------------------------------------------


def key_tonic(text: str) -> tuple[int | None, bool]:
    """An ABC K: field → (tonic pitch class, minor?); (None, False) for none or pipes."""
    m = re.match(r"\s*([A-G])([#b]?)\s*([A-Za-z]*)", text or "")
    if not m:
        return None, False
    pc = (_LETTER[m.group(1)] + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12
    word = m.group(3).lower()
    return pc, (word == "m" or word[:3] in _MINOR_MODES)


def _is_section_mark(text: str) -> bool:
    return ":" in text or "||" in text or "|]" in text or "[|" in text


def _joined(left: str, text: str) -> str:
    """Two bar lines with nothing between them read as one: a plain `|` adds nothing to
    the other. O'Neill's tunes end a line with `|` and begin the next with `|` (one bar
    line, in the middle of a part as often as not), so reading the pair as a double bar
    split 8-bar parts into 4-bar halves: over his 2,009 tunes, parts of 8 or 16 bars were
    61 % read so and 85 % read as one line. `||` then `||`, `:|` then `|:` stay a section's
    end."""
    if text == "|":
        return left or text
    if left == "|":
        return text
    return left + text


def _ending(text: str) -> int | None:
    m = re.search(r"(\d)$", text)
    return int(m.group(1)) if m else None


def shape_from_abc(*, abc: str) -> Shape:
    reading = read_abc(abc=abc)
    tonic, minor = key_tonic(reading.key)
    notes = reading.notes
    bars: list[Bar] = []
    start_t, start_n, left, expected = 0.0, 0, "", None
    marks = [*reading.bars, None]  # None: the tune's end, closing a last bar without a line
    for mark in marks:
        t = reading.end if mark is None else mark.time
        n = len(notes) if mark is None else mark.n_notes
        text = "" if mark is None else mark.text
        if mark is not None:
            expected = mark.bar_length
        if t - start_t > _EPS:
            bars.append(Bar(start_n, n, t - start_t, expected, left, text, _ending(left)))
            start_t, start_n, left = t, n, text
        else:  # two lines in a row (":|" then "[2"), or a line at the very start
            left = _joined(left, text)
            start_t, start_n = t, n
    shape = Shape(
        notes=notes,
        bars=bars,
        tonic=tonic,
        minor=minor,
        meter=reading.meter,
        letters=letter_semitones(reading.key) if reading.key else (),
    )
    return _with_sections(shape)


def shape_from_events(*, text: str) -> Shape:
    """The MIDI way's event text: bars from its bar lines, the key from K: (sharps, `m`)."""
    from musiclib.ways.midi_notes import GRID, layout, parse_text

    parsed = parse_text(text)
    lay = layout(parsed)
    notes = [Note(max(p), u / GRID, s / GRID) for s, u, p in lay.notes]
    tonic, minor = None, False
    if parsed.key:
        sharps = int(parsed.key.rstrip("m"))
        minor = parsed.key.endswith("m")
        tonic = (_MAJOR_OF_SHARPS[max(-7, min(7, sharps))] - (3 if minor else 0)) % 12
    bars, t, k = [], 0, 0
    for meter, units in lay.bars:
        first = k
        while k < len(lay.notes) and lay.notes[k][0] < t + units:
            k += 1
        expected = None
        if meter:
            num, den = (int(x) for x in meter.split("/"))
            expected = 4.0 * num / den
        if units:
            bars.append(Bar(first, k, units / GRID, expected, "|" if bars else "", "|", None))
        t += units
    return _with_sections(Shape(notes=notes, bars=bars, tonic=tonic, minor=minor))


def shape_from_text(*, text: str, melody: str) -> Shape:
    """`melody` is the way's `capabilities.melody`: "abc" or "events"."""
    if melody == "events":
        return shape_from_events(text=text)
    return shape_from_abc(abc=text)


def shapes_from_texts(texts: Iterable[str], *, melody: str) -> list[Shape]:
    """Each text read as a melody (`shape_from_text`); a text that cannot be read counts as
    an empty tune (it has nothing a listener or critic could hear)."""
    out = []
    for text in texts:
        try:
            out.append(shape_from_text(text=text, melody=melody))
        except Exception:
            out.append(Shape(notes=[], bars=[], tonic=None))
    return out


def _with_sections(shape: Shape) -> Shape:
    """Sections: a new one starts at a bar whose left line is a repeat sign or a double bar,
    unless that bar opens a second (or later) ending, which belongs to the part it ends."""
    sections: list[list[int]] = []
    later: set[int] = set()
    current: list[int] = []
    in_later = False
    for i, bar in enumerate(shape.bars):
        ending = bar.ending
        lone_pickup = (
            len(current) == 1
            and (shape.bars[current[0]].expected or 0.0) > shape.bars[current[0]].length + _EPS
        )  # a pickup before "|:" opens the part after it
        if (
            current
            and _is_section_mark(bar.left)
            and not (ending and ending >= 2)
            and not lone_pickup
        ):
            sections.append(current)
            current, in_later = [], False
        if ending is not None:
            in_later = ending >= 2
        if in_later:
            later.add(i)
        current.append(i)
    if current:
        sections.append(current)
    shape.sections, shape.in_later_ending = sections, later
    return shape


# --- measures ----------------------------------------------------------------------------


def _full(length: float, expected: float) -> bool:
    return abs(length - expected) < _EPS


def section_bar_counts(shape: Shape) -> tuple[int, int]:
    """(bars of the right length, bars checked), every bar of every section checked.

    A bar passes when it is full. A section's short opening bar (a pickup) and a short
    closing bar (before a repeat sign, a double bar, an ending or the tune's end) pass when
    the two add up to one bar: the pickup with a closing bar of its own section (played
    round the repeat), with the last bar of the section before (the pickup into the next
    part), and the tune's opening pickup with its last bar (a tune is played through two
    or three times: round to the top). Bars under a free meter are not checked."""
    ok: dict[int, bool] = {}
    sections = [s for s in shape.sections if s]

    def short(i: int) -> bool:
        b = shape.bars[i]
        return b.expected is not None and b.length < b.expected - _EPS

    def complements(i: int, j: int) -> bool:
        a, b = shape.bars[i], shape.bars[j]
        return short(i) and short(j) and _full(a.length + b.length, a.expected or 0.0)

    for k, section in enumerate(sections):
        opening = section[0]
        closing = {section[-1]} | {
            i for i in section if _is_section_mark(shape.bars[i].right) and i != opening
        }
        for i in section:
            bar = shape.bars[i]
            if bar.expected is not None:
                ok[i] = ok.get(i, False) or _full(bar.length, bar.expected)
        pairs = [(opening, c) for c in closing if c != opening]
        if k:
            pairs.append((opening, sections[k - 1][-1]))
        if k == len(sections) - 1 and k:
            pairs.append((sections[0][0], section[-1]))  # round to the top, the tune again
        for a, b in pairs:
            if complements(a, b):
                ok[a] = ok[b] = True
    return sum(ok.values()), len(ok)


def part_lengths(shape: Shape) -> list[float]:
    """Each section's length in bars, played once through (a later ending left out, so a
    part with first and second endings counts its body and first ending); sections under
    two bars long (a lone pickup, a stray bar) are not parts."""
    out = []
    for section in shape.sections:
        bars = [shape.bars[i] for i in section if i not in shape.in_later_ending]
        expected = [b.expected for b in bars if b.expected]
        if not expected:
            continue
        n = sum(b.length for b in bars) / float(np.median(expected))
        if n >= 2 - _EPS:
            out.append(n)
    return out


def _bar_content(shape: Shape, bar: Bar) -> tuple:
    return tuple((n.pitch, round(n.duration, 4)) for n in shape.notes[bar.first : bar.stop])


def repeated_bar_share(shape: Shape) -> float:
    """Share of the bars after the first that repeat an earlier bar note for note (written
    out: a repeat sign does not count, it repeats nothing on paper)."""
    seen: set[tuple] = set()
    repeats = total = 0
    for bar in shape.bars:
        content = _bar_content(shape, bar)
        if not content:
            continue
        if seen:
            total += 1
            repeats += content in seen
        seen.add(content)
    return repeats / total if total else float("nan")


def restated_bars(shape: Shape) -> list[int]:
    """For each bar, the first earlier bar it repeats note for note (-1: none, or a bar
    without notes): the tune's plan of returns (`ml.returns`), as `repeated_bar_share`
    counts them."""
    first: dict[tuple, int] = {}
    out = []
    for j, bar in enumerate(shape.bars):
        content = _bar_content(shape, bar)
        if not content:
            out.append(-1)
            continue
        out.append(first.get(content, -1))
        first.setdefault(content, j)
    return out


# A sequence (a bar moved up or down the scale) has this many notes at least: a bar of one
# or two notes moved is no figure.
SEQUENCE_NOTES = 3


def _scale_steps(shape: Shape, bar: Bar) -> tuple[int, ...] | None:
    """A bar's notes as steps of the key's scale (letter, plus 7 an octave up), None when a
    note lies outside the key signature or the tune has none."""
    if not shape.letters:
        return None
    steps = []
    for note in shape.notes[bar.first : bar.stop]:
        for letter, base in enumerate(shape.letters):
            if (note.pitch - base) % 12 == 0:
                steps.append(letter + 7 * ((note.pitch - base) // 12))
                break
        else:
            return None
    return tuple(steps)


def restatements(shape: Shape, *, max_shift: int = 7) -> list[tuple[int, int]]:
    """For each bar, the earlier bar it restates and by how many steps of the scale it moves
    it: (bar, 0), note for note, the first such bar (`restated_bars`); else (bar, s), a
    sequence: the nearest earlier bar whose every note it moves by the same s steps (1 to
    `max_shift`, negative: down), in the same rhythm, with `SEQUENCE_NOTES` notes or more,
    all in the key; (-1, 0): none."""
    exact = restated_bars(shape)
    steps = [_scale_steps(shape, bar) for bar in shape.bars]
    rhythm = [
        tuple(round(n.duration, 4) for n in shape.notes[bar.first : bar.stop]) for bar in shape.bars
    ]
    out = []
    for j, i in enumerate(exact):
        found = (i, 0)
        if i < 0 and steps[j] is not None and len(steps[j]) >= SEQUENCE_NOTES:
            for k in range(j - 1, -1, -1):
                if rhythm[k] != rhythm[j] or steps[k] is None:
                    continue
                moved = {a - b for a, b in zip(steps[j], steps[k], strict=True)}
                if len(moved) == 1 and 0 < abs(s := moved.pop()) <= max_shift:
                    found = (k, s)
                    break
        out.append(found)
    return out


def sequence_share(shape: Shape) -> float:
    """Share of the bars after the first that move an earlier bar up or down the scale
    (`restatements`), not counting bars that repeat one note for note."""
    moved = [s != 0 for _, s in restatements(shape)[1:]]
    return sum(moved) / len(moved) if moved else float("nan")


@dataclass(frozen=True)
class BarCell:
    """One bar of a tune's form map (`form_map`)."""

    number: int  # 1-based, in the written order (a pickup counts as a bar)
    label: str  # "a", "b"…: the same letter for the same bar; a moved bar keeps its source's
    source: int | None  # the earlier bar it restates (1-based), None for new material
    steps: int  # steps of the scale it moves its source (0: note for note)


def form_map(shape: Shape) -> list[list[BarCell]]:
    """A tune's bars part by part (its sections), each labelled as a musician sketches a
    form: new material takes the next letter, a bar that comes back note for note takes its
    source's letter, and one that moves its source up or down the scale (a sequence,
    `restatements`) takes that letter with the steps. Bars without notes (a bar of rests)
    get "–"."""
    restated = restatements(shape)
    labels: list[str] = []
    cells: list[BarCell] = []
    fresh = 0
    for j, (i, steps) in enumerate(restated):
        has_notes = any(n.pitch >= 0 for n in shape.notes[shape.bars[j].first : shape.bars[j].stop])
        if i >= 0:
            label = labels[i]
        elif has_notes:
            label = _letters(fresh)
            fresh += 1
        else:
            label = "–"
        labels.append(label)
        cells.append(BarCell(j + 1, label, i + 1 if i >= 0 else None, steps))
    parts = shape.sections or [list(range(len(shape.bars)))]
    return [[cells[j] for j in part] for part in parts if part]


def _letters(k: int) -> str:
    """a, b, … z, aa, ab, …"""
    out = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def repeated_phrase_share(shape: Shape, *, bars: int = 2) -> float:
    """Share of the 2-bar phrases (starting at each bar after the first) that repeat an
    earlier one note for note."""
    contents = [_bar_content(shape, b) for b in shape.bars]
    phrases = [tuple(contents[i : i + bars]) for i in range(len(contents) - bars + 1)]
    seen: set[tuple] = set()
    repeats = total = 0
    for k, phrase in enumerate(phrases):
        if k:
            total += 1
            repeats += phrase in seen
        seen.add(phrase)
    return repeats / total if total else float("nan")


def distinct_pattern_share(notes: list[Note], *, intervals: int = 4) -> float:
    """Distinct 4-interval pitch patterns over all of them: 1.0 when no melodic figure ever
    comes back; human folk tunes, which repeat themselves, sit far lower."""
    pitch = [n.pitch for n in notes]
    steps = np.diff(pitch)
    windows = [tuple(steps[i : i + intervals]) for i in range(len(steps) - intervals + 1)]
    return len(set(windows)) / len(windows) if windows else float("nan")


INTERVAL_PLACES = ("entry", "exit", "other", "within")


def bar_line_intervals(shape: Shape) -> dict[str, list[int]]:
    """Each interval between two successive notes (semitones, unsigned), by where it falls:
    "entry", into a bar that repeats an earlier one note for note (`restated_bars`) from a
    bar that does not; "exit", out of such a bar into one that does not; "other", across
    any other bar line; "within", inside a bar. Where sampled tunes' lines differ from
    people's (`bench/bar_lines.py`): a bar restated where the plan says starts wherever the
    line stands."""
    out: dict[str, list[int]] = {place: [] for place in INTERVAL_PLACES}
    restated = [i >= 0 for i in restated_bars(shape)]
    last = None  # (pitch, bar) of the note before
    for k, bar in enumerate(shape.bars):
        for note in shape.notes[bar.first : bar.stop]:
            if note.pitch < 0:
                continue
            if last is not None:
                pitch, j = last
                if j == k:
                    place = "within"
                elif restated[k] and not restated[j]:
                    place = "entry"
                elif restated[j] and not restated[k]:
                    place = "exit"
                else:
                    place = "other"
                out[place].append(abs(note.pitch - pitch))
            last = (note.pitch, k)
    return out


def final_degree(shape: Shape) -> int | None:
    """Semitones of the last note above the tonic (0: the tonic), None without key or notes."""
    if shape.tonic is None or not shape.notes:
        return None
    return (shape.notes[-1].pitch - shape.tonic) % 12


def form_measures(shape: Shape) -> dict[str, float]:
    """The form of one tune as numbers (NaN where a measure does not apply)."""
    parts = part_lengths(shape)
    rounded = [round(p) for p in parts]
    good, checked = section_bar_counts(shape)
    degree = final_degree(shape)
    expected = [b.expected for b in shape.bars if b.expected]
    total = sum(b.length for b in shape.bars) / float(np.median(expected)) if expected else 0.0
    marks = [b.left for b in shape.bars] + ([shape.bars[-1].right] if shape.bars else [])
    nan = float("nan")
    return {
        "parts": float(len(parts)),
        "bars_per_part": float(np.mean(parts)) if parts else nan,
        "parts_8_16": float(np.mean([r in (8, 16) for r in rounded])) if parts else nan,
        "repeats": float(sum(m.count(":|") + m.count("::") for m in marks)),
        "has_repeat": float(any(":" in m for m in marks)),
        "endings": float(sum(b.ending is not None for b in shape.bars)),
        "bars": total,
        "bar_ok": good / checked if checked else nan,
        "repeated_bars": repeated_bar_share(shape),
        "repeated_phrases": repeated_phrase_share(shape),
        "distinct_patterns": distinct_pattern_share(shape.notes),
        "ends_on_tonic": nan if degree is None else float(degree == 0),
        "ends_on_fifth": nan if degree is None else float(degree == 7),
        "ends_on_third": nan if degree is None else float(degree in (3, 4)),
    }


# A tune's form as a row of small ints (`form_shape_row`): the last note's scale degree
# above the tonic (0..6, -1: no shape the form rules can follow), then each part's bars and
# whether it repeats (0 once, 1 a repeat sign, 2 first and second endings; plus
# `abc_grammar.WHOLE_CLOSE` where the part opens with a pickup and still closes on a whole
# bar), for up to SHAPE_PARTS parts (0, 0 past the last), then the last note's length in
# twelfths of a bar (rounded down, 1..12; 0: unknown), then its first meter's
# beats and beat unit (0, 0: none). Rows saved before hold 9 (no last note's length) or 10
# (no meter) numbers (`abc_text._form_shape` reads all three).
SHAPE_PARTS = 4
SHAPE_WIDTH = 2 + 2 * SHAPE_PARTS + 2
SHAPE_BARS = (2, 32)  # a part the form rules follow: 2 to 32 whole bars
# semitones above the tonic -> scale steps (the letter the tune ends on, as the grammar
# counts it: 0 the tonic, 2 the third, 4 the fifth)
_STEPS = {0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 4, 7: 4, 8: 5, 9: 5, 10: 6, 11: 6}


def _whole_after_pickup(opening: Bar, closing: Bar) -> bool:
    """Does a part open with a pickup (a short first bar) and close on a whole bar?"""
    if opening is closing or not opening.expected or not closing.expected:
        return False
    return opening.length < opening.expected - _EPS and _full(closing.length, closing.expected)


def form_shape_row(shape: Shape) -> list[int]:
    """The tune's shape for the folk form's rules (`abc_grammar.FormShape`): its parts as
    `part_lengths` reads them, each with whether it repeats (1: it closes on a repeat sign;
    2: it has first and second endings; + WHOLE_CLOSE: it opens with a pickup and closes
    on a whole bar, and its bars are counted without the pickup), its last note's scale
    degree, its last note's length in twelfths of a bar and its first meter. [-1, 0, ...]
    when the form rules could not follow it: no key or notes, more than SHAPE_PARTS parts,
    a part of fewer than 2 or more than 32 bars (rounded)."""
    width = SHAPE_WIDTH
    bad = [-1] + [0] * (width - 1)
    degree = final_degree(shape)
    if degree is None:
        return bad
    row = [_STEPS[degree]]
    for section in shape.sections:
        bars = [shape.bars[i] for i in section if i not in shape.in_later_ending]
        expected = [b.expected for b in bars if b.expected]
        if not expected:
            continue
        median_bar = float(np.median(expected))
        n = sum(b.length for b in bars) / median_bar
        if n < 2 - _EPS:
            continue  # (not a part: a lone pickup, a stray bar)
        last = shape.bars[section[-1]]
        closes = ":|" in last.right or "::" in last.right  # (|: opens the next part)
        endings = any(i in shape.in_later_ending for i in section)
        repeated = closes or endings
        code = 2 if endings else int(repeated)
        if not endings and _whole_after_pickup(bars[0], last):
            from musiclib.ways.abc_grammar import WHOLE_CLOSE

            code += WHOLE_CLOSE
            n -= bars[0].length / median_bar  # (its bars: the pickup aside)
        whole = round(n)  # (a first ending that writes the pickup again: 4 bars and a bit)
        if not SHAPE_BARS[0] <= whole <= SHAPE_BARS[1]:
            return bad
        row += [whole, code]
    if not 1 <= (len(row) - 1) // 2 <= SHAPE_PARTS:
        return bad
    last = 0
    bar = shape.bars[-1].expected if shape.bars else None
    if bar:
        last = min(12, max(1, int(12 * shape.notes[-1].duration / bar + _EPS)))
    beats, unit = shape.meter if shape.meter and shape.meter[0] <= 16 else (0, 0)
    return row + [0] * (width - 3 - len(row)) + [last, beats, unit]


def returns_library(*, way, vocab: list[str], pieces: list[np.ndarray]) -> dict:
    """A way's plans of returns (`ml.returns`) measured on its training pieces (ids, START
    first), as way arrays to save with a checkpoint: "way_returns", for each piece which
    earlier bar each bar repeats note for note or moves up or down the scale
    (`restatements`), by the bars the sampler counts (`way.returns_flags`);
    "way_returns_shift", how many steps each moves (0: note for note); "way_returns_8bar",
    1 for the pieces in the folk form's shape (one or two parts of 8 bars), whose plans the
    form draws from (its tunes are that long: a plan of a 32-bar tune would mostly fall
    past their end). A piece whose bars the two readings count differently (a bar of only
    a chord symbol, a stray bar line) is left out. "way_shapes" (int8 [pieces, 12]): each
    piece's `form_shape_row`, whose shape the folk form draws per piece with the same
    piece's plan; "way_shapes_piece"
    (int32): each plan's piece, its index in `pieces` (the grammar's tables are built
    ahead of time along each training tune in its own shape). About 0.6 s for
    Nottingham's 931 training tunes."""
    from musiclib.ml import returns as rt
    from musiclib.ways.abc_text import (
        RETURNS_FORM_STATE,
        RETURNS_SHIFT_STATE,
        RETURNS_STATE,
        SHAPES_PIECE_STATE,
        SHAPES_STATE,
    )

    flags = way.returns_flags(vocab=vocab)
    plans, shifts, fits, shapes, index = [], [], [], [], []
    for k, ids in enumerate(pieces):
        ids = np.asarray(ids, dtype=np.int64)
        spans = rt.bar_spans(ids, flags)
        try:
            shape = shape_from_abc(abc=way.decode(vocab=vocab, ids=ids))
        except Exception:  # a tune the note reader cannot read gives no plan
            continue
        if len(shape.bars) == len(spans):
            restated = restatements(shape, max_shift=rt.MAX_SHIFT)
            plans.append([i for i, _ in restated])
            shifts.append([s for _, s in restated])
            fits.append([round(n) for n in part_lengths(shape)] in ([8], [8, 8]))
            shapes.append(form_shape_row(shape))
            index.append(k)
    return {
        RETURNS_STATE: rt.plans_from_bars(plans),
        RETURNS_SHIFT_STATE: rt.shifts_from_bars(shifts),
        RETURNS_FORM_STATE: np.asarray(fits, dtype=np.int8),
        SHAPES_STATE: np.asarray(shapes, dtype=np.int8).reshape(-1, SHAPE_WIDTH),
        SHAPES_PIECE_STATE: np.asarray(index, dtype=np.int32),
    }


def pooled_bar_rate(shapes: Iterable[Shape]) -> float | None:
    """Bars of the right length over all bars checked, section ends counted, each bar once."""
    good = checked = 0
    for shape in shapes:
        g, c = section_bar_counts(shape)
        good, checked = good + g, checked + c
    return good / checked if checked else None
