"""The MIDI way: a note-level LSTM over MIDI that keeps rhythm.

The original write-up parsed piano MIDI with music21, made one token per note (its pitch name)
or chord (its pitch classes' normal order joined by "."), dropped every duration, rest and bar,
and wrote every generated note as an eighth note. This way keeps that as the `pitch_only`
tokenisation and adds `rhythm` (the default): one token per sounding event *with* its duration,
plus rests and bar lines, so a generated piece has the rhythm it was trained on.

Piece text (what a MIDI-way Tune or Piece stores): one line of space-separated tokens,

    T:"ashover1" M:3/4 K:1 r_2 n76_1 | n74_2 n71_1 | n69_3/2 n71_1/2 n72_1 | ...

    T:"…"        title (optional; never a training token)
    M:3/4        meter; first in the header, later only right after a bar line (a change)
    K:1 / K:-2m  key signature as sharps (negative = flats), `m` when the MIDI says minor
    n60_1/2      a note: MIDI pitch, duration in quarter notes
    c55.59.62_1  a chord: its MIDI pitches ascending joined by ".", one duration
    r_3/2        a rest
    ~            suffix of a note or chord tied into the next event (split at a bar line)
    |            bar line (between bars: none before the first bar or after the last)

Grid: onsets and durations are whole multiples of 1/12 of a quarter note (sixteenths, eighth
and sixteenth triplets; 32nd notes round to the grid). One event lasts at most 8 quarters:
longer ones are split at bar lines and then into tied pieces of 8, so nothing is clamped.

Polyphony: all the notes of the chosen parts are sliced into successive sonorities (as
music21's chordify does): a new event starts whenever any note starts or ends. Notes held
under a moving voice are therefore re-struck; everything else, including rests, is kept.
A pickup bar is padded with a leading rest so bar lines fall on the meter grid from time 0,
as abc2midi writes MIDI (Nottingham) and as a MIDI file read back from this text does.
"""

from __future__ import annotations

import copy
import os
import re
import struct
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from .base import END, SPECIALS, START, Capabilities, ImportRefused, Way
from .pool import cpu_count, map_processes

GRID = 12  # grid steps per quarter note
MAX_UNITS = 8 * GRID  # the longest event token: 8 quarters
EIGHTH = GRID // 2
DEFAULT_METER = "4/4"  # what the MIDI standard assumes when a file gives no time signature
MIDI_SUFFIXES = {".mid", ".midi"}
MAX_FILE_BYTES = 4 * 1024 * 1024  # a long piano piece is ~200 KB; more is not one piece
MAX_NOTES = 30_000  # notes per file: several times the longest piano piece
MAX_QUARTERS = 20_000  # ~3 hours at 120 bpm: a longer "piece" is a broken or hostile file
MIN_NOTES = 8  # a piece with fewer sounding events does not count as parsing
MAX_MESSAGES = 12
TOKENIZATIONS = ("rhythm", "pitch_only")
PARTS = ("all", "melody")
PITCH_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")  # music21's
MAJOR_KEYS = "C♭ G♭ D♭ A♭ E♭ B♭ F C G D A E B F♯ C♯".split()
MINOR_KEYS = "A♭ E♭ B♭ F C G D A E B F♯ C♯ G♯ D♯ A♯".split()

_DUR = r"\d+(?:/\d+)?"
_TOKEN = re.compile(
    r'T:"(?P<title>[^"]*)"'
    r"|M:(?P<meter>\d+/\d+)"
    r"|K:(?P<key>-?\d+m?)"
    r"|(?P<bar>\|)"
    rf"|(?P<kind>[nc])(?P<pitches>\d+(?:\.\d+)*)_(?P<dur>{_DUR})(?P<tie>~)?"
    rf"|r_(?P<rest>{_DUR})"
)
_PITCH_NAME = re.compile(r"^([A-G])([#-]*)(-?\d+)$")
_PITCH_CLASSES = re.compile(r"^\d+(?:\.\d+)*$")


class MidiError(ValueError):
    """A file or text that cannot be read; the message is the reason shown to the user."""


# --- events and piece text -------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A sounding or silent stretch: `pitches` ascending (empty = rest), length in grid steps."""

    pitches: tuple[int, ...]
    units: int
    tie: bool = False

    @property
    def token(self) -> str:
        dur = format_duration(units=self.units)
        if not self.pitches:
            return f"r_{dur}"
        tie = "~" if self.tie else ""
        if len(self.pitches) == 1:
            return f"n{self.pitches[0]}_{dur}{tie}"
        return f"c{'.'.join(map(str, self.pitches))}_{dur}{tie}"


Item = Event | str  # an event, "|" or an inline "M:x/y"


@dataclass
class ParsedText:
    title: str
    meter: str | None
    key: str | None
    items: list[Item]
    unknown: list[str]

    def header_tokens(self) -> list[str]:
        return [t for t in (self.meter and f"M:{self.meter}", self.key and f"K:{self.key}") if t]


def format_duration(*, units: int) -> str:
    f = Fraction(units, GRID)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def parse_duration(text: str) -> int:
    """A duration such as "3/2" → grid steps; off-grid or non-positive durations raise."""
    f = Fraction(text) * GRID
    if f.denominator != 1 or f <= 0:
        raise MidiError(f"duration {text} is not a positive multiple of 1/{GRID} quarter")
    return int(f)


def parse_text(text: str) -> ParsedText:
    """Event text → header and items. Unknown pieces of text are collected, not fatal.

    Tokens need not be separated by spaces (a prime and a continuation are glued together by
    the generation service), so each whitespace chunk is read token by token."""
    title, meter, key = "", None, None
    items: list[Item] = []
    unknown: list[str] = []
    started = False
    for title_match in re.finditer(r'T:"([^"]*)"', text):
        title = title or title_match.group(1)
    text = re.sub(r'T:"[^"]*"', " ", text)
    for chunk in text.split():
        pos = 0
        while pos < len(chunk):
            m = _TOKEN.match(chunk, pos)
            if m is None or m.end() == pos:
                unknown.append(chunk[pos:])
                break
            pos = m.end()
            if m.group("meter"):
                value = m.group("meter")
                if not _meter_ok(value):
                    unknown.append(m.group(0))
                elif not started and meter is None:
                    meter = value
                else:
                    items.append(f"M:{value}")
            elif m.group("key"):
                if not started and key is None:
                    key = m.group("key")
                # a later key change does not change MIDI pitches: kept out of the events
            elif m.group("bar"):
                started = True
                items.append("|")
            else:
                try:
                    if m.group("rest"):
                        ev = Event((), parse_duration(m.group("rest")))
                    else:
                        pitches = tuple(sorted({int(p) for p in m.group("pitches").split(".")}))
                        if any(p > 127 for p in pitches):
                            raise MidiError("pitch above 127")
                        ev = Event(pitches, parse_duration(m.group("dur")), bool(m.group("tie")))
                except (MidiError, ValueError, ZeroDivisionError):
                    unknown.append(m.group(0))
                    continue
                started = True
                items.append(ev)
    return ParsedText(title=title, meter=meter, key=key, items=items, unknown=unknown)


def render_text(*, parsed: ParsedText, title: str | None = None) -> str:
    """Header and items → canonical one-line text."""
    tokens = [] if not title else [f'T:"{_clean_title(title)}"']
    tokens += parsed.header_tokens()
    tokens += [it if isinstance(it, str) else it.token for it in parsed.items]
    return " ".join(tokens)


def _clean_title(title: str) -> str:
    return " ".join(title.replace('"', "'").split())[:200]


def _meter_ok(meter: str) -> bool:
    num, den = (int(x) for x in meter.split("/"))
    return 1 <= num <= 64 and den in (1, 2, 4, 8, 16) and bar_units(meter=meter) > 0


def bar_units(*, meter: str) -> int:
    num, den = (int(x) for x in meter.split("/"))
    return num * 4 * GRID // den


# --- MIDI files → notes ----------------------------------------------------------------------


@dataclass
class RawPiece:
    """Notes on the grid, before slicing: (start, end, pitch, part) and meter/key changes."""

    notes: list[tuple[int, int, int, int]]
    meters: list[tuple[int, str]]
    key: str | None
    title: str


def read_varlen(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if pos >= end:
            raise MidiError("it is truncated: the data ends inside an event")
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos
    raise MidiError("it is corrupt: a length field is longer than 4 bytes")


def read_midi(data: bytes, *, name: str) -> RawPiece:
    """A Standard MIDI File → notes on the grid. Every problem raises MidiError with a reason.

    A small reader of our own rather than music21's: it is ~30× faster (this is most of an
    import's time), tells truncated from corrupt, and quantises exactly once, to our grid."""
    if not data:
        raise MidiError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise MidiError(
            f"the file is {len(data) / 1e6:.1f} MB; MIDI files over "
            f"{MAX_FILE_BYTES / 1e6:.0f} MB are refused"
        )
    if data[:4] != b"MThd":
        head = data[:512]
        looks_text = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
        what = "it is text" if looks_text else "it has no MIDI header (MThd)"
        raise MidiError(f"not a MIDI file: {what}")
    if len(data) < 14:
        raise MidiError("it is truncated: the MIDI header is incomplete")
    header_len = int.from_bytes(data[4:8], "big")
    fmt, n_tracks, division = struct.unpack(">HHH", data[8:14])
    if header_len < 6:
        raise MidiError("it is corrupt: the MIDI header is too short")
    if fmt > 2:
        raise MidiError(f"it is corrupt: unknown MIDI format {fmt}")
    if fmt == 2:
        raise MidiError("format 2 MIDI (independent sequences) is not supported")
    if division & 0x8000:
        raise MidiError("it counts time in SMPTE frames, which is not supported")
    if division == 0:
        raise MidiError("it is corrupt: zero ticks per quarter note")
    pos = 8 + header_len
    notes: list[tuple[int, int, int, int]] = []
    meters: dict[int, str] = {}
    keys: dict[int, str] = {}
    names: list[str] = []
    found = 0
    while found < n_tracks:
        if pos + 8 > len(data):
            raise MidiError(
                f"it is truncated: the header announces {n_tracks} tracks, {found} are present"
            )
        chunk, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        pos += 8
        if pos + length > len(data):
            raise MidiError(
                f"it is truncated: track {found + 1} declares {length} bytes, "
                f"{len(data) - pos} remain"
            )
        if chunk == b"MTrk":
            names.append(_read_track(data, pos, pos + length, found, division, notes, meters, keys))
            found += 1
            if len(notes) > MAX_NOTES:
                raise MidiError(f"it has more than {MAX_NOTES:,} notes; longer files are refused")
        pos += length  # chunks of other types are skipped, as the standard asks
    if not notes:
        raise MidiError("it has no notes")
    title = next((n for n in names[:1] if n), "") or Path(name).stem
    first_key = keys[min(keys)] if keys else None
    return RawPiece(notes=notes, meters=sorted(meters.items()), key=first_key, title=title)


def _read_track(
    data: bytes,
    pos: int,
    end: int,
    track: int,
    division: int,
    notes: list,
    meters: dict,
    keys: dict,
) -> str:
    tick = 0
    status = 0
    name = ""
    # FIFO of start ticks per (channel, pitch): a note-off ends the oldest note of that pitch
    # that started *before* it, so "off then on" and "on then off" at one tick both re-strike.
    open_notes: dict[tuple[int, int], list[int]] = defaultdict(list)

    def grid(t: int) -> int:
        return (t * GRID * 2 + division) // (2 * division)  # round half up, exactly

    def close(chan: int, pitch: int, at: int) -> None:
        starts = open_notes.get((chan, pitch))
        if not starts:
            return
        idx = next((i for i, s in enumerate(starts) if s < at), None)
        if idx is None:
            starts.pop(0)  # on and off at the same tick: a zero-length note, dropped
            return
        start = starts.pop(idx)
        if chan != 9:  # channel 10 is percussion: no pitch
            a, b = grid(start), grid(at)
            notes.append((a, max(b, a + 1), pitch, track * 16 + chan))

    while pos < end:
        delta, pos = read_varlen(data, pos, end)
        tick += delta
        if pos >= end:
            raise MidiError("it is truncated: the data ends inside an event")
        b = data[pos]
        if b & 0x80:
            pos += 1
            if b < 0xF0:
                status = b
        elif status == 0:
            raise MidiError(f"it is corrupt: data byte without a status in track {track + 1}")
        else:
            b = status  # running status: this byte is the first data byte
        if b == 0xFF:
            if pos >= end:
                raise MidiError("it is truncated: the data ends inside an event")
            kind = data[pos]
            length, pos = read_varlen(data, pos + 1, end)
            body = data[pos : pos + length]
            if len(body) < length:
                raise MidiError("it is truncated: the data ends inside an event")
            pos += length
            if kind == 0x2F:
                break
            if kind == 0x03 and not name:
                name = body.decode("latin-1", "replace").strip()
            elif kind == 0x58 and length >= 2 and body[0] > 0 and body[1] <= 4:
                meter = f"{body[0]}/{2 ** body[1]}"
                if _meter_ok(meter):
                    meters[grid(tick)] = meter
            elif kind == 0x59 and length >= 2:
                sharps = struct.unpack("b", body[:1])[0]
                if -7 <= sharps <= 7:
                    keys.setdefault(grid(tick), f"{sharps}{'m' if body[1] == 1 else ''}")
            continue
        if b in (0xF0, 0xF7):
            length, pos = read_varlen(data, pos, end)
            pos += length
            continue
        if b >= 0xF0:
            raise MidiError(f"it is corrupt: unexpected status byte 0x{b:02X}")
        kind, chan = b & 0xF0, b & 0x0F
        size = 1 if kind in (0xC0, 0xD0) else 2
        if pos + size > end:
            raise MidiError("it is truncated: the data ends inside an event")
        args = data[pos : pos + size]
        if any(x & 0x80 for x in args):
            raise MidiError(f"it is corrupt: a status byte inside an event in track {track + 1}")
        pos += size
        if kind == 0x90 and args[1] > 0:
            open_notes[(chan, args[0])].append(tick)
        elif kind == 0x80 or kind == 0x90:
            close(chan, args[0], tick)
    for (chan, pitch), starts in open_notes.items():
        for _ in list(starts):
            close(chan, pitch, max(tick, starts[0] + 1))  # never ended: ends with its track
    return name


def score_to_raw(score, *, title: str) -> RawPiece:
    """A music21 score (e.g. a bundled chorale) → notes on the grid, one part per staff."""
    from music21 import key as m21key
    from music21 import meter as m21meter
    from music21 import stream as m21stream

    parts = list(score.parts) or [score]
    first = parts[0]
    measures = list(first.getElementsByClass(m21stream.Measure))
    pad = Fraction(0)
    if measures:
        m0 = measures[0]
        pad = Fraction(m0.paddingLeft or 0)
        if not pad and m0.number == 0:
            try:
                pad = Fraction(m0.barDuration.quarterLength) - Fraction(m0.duration.quarterLength)
            except Exception:  # no meter in force: nothing to pad to
                pad = Fraction(0)
        pad = max(pad, Fraction(0))

    shift = float(pad)

    def grid(q) -> int:
        return round((float(q) + shift) * GRID)  # floats: 1/12-grid values round exactly

    notes: list[tuple[int, int, int, int]] = []
    for index, part in enumerate(parts):
        # Tied notes are merged here rather than with music21's stripTies, which deep-copies
        # the part and was three quarters of a chorale's import time.
        tied: dict[int, int] = {}  # pitch → index in `notes` of a note tied onwards
        for n in part.flatten().notes:
            ql = Fraction(n.quarterLength)
            if ql <= 0:
                continue  # grace notes take no time
            a, b = grid(n.offset), grid(n.offset + n.quarterLength)
            for p in n.pitches:
                midi = int(p.midi)
                tie_obj = (n.getTie(p) if hasattr(n, "getTie") else None) or n.tie
                tie = tie_obj.type if tie_obj is not None else None
                prev = tied.pop(midi, None)
                if prev is not None and notes[prev][1] == a and tie in ("stop", "continue"):
                    notes[prev] = (notes[prev][0], max(b, a + 1), midi, index)
                    at = prev
                else:
                    notes.append((a, max(b, a + 1), midi, index))
                    at = len(notes) - 1
                if tie in ("start", "continue"):
                    tied[midi] = at
    meters: dict[int, str] = {}
    for ts in first.recurse().getElementsByClass(m21meter.TimeSignature):
        meter = ts.ratioString
        if _meter_ok(meter):
            at = grid(ts.getOffsetInHierarchy(first))
            meters[0 if at <= pad * GRID else at] = meter
    key = None
    for ks in first.recurse().getElementsByClass(m21key.KeySignature):
        minor = isinstance(ks, m21key.Key) and ks.mode == "minor"
        key = f"{ks.sharps}{'m' if minor else ''}"
        break
    return RawPiece(notes=notes, meters=sorted(meters.items()), key=key, title=title)


# --- notes → events ----------------------------------------------------------------------------


def raw_to_text(raw: RawPiece, *, parts: str = "all") -> tuple[str, int]:
    """Notes on the grid → canonical piece text and its number of sounding events."""
    notes = raw.notes if parts == "all" else _melody(raw.notes)
    if not notes:
        raise MidiError("it has no notes")
    meters = dict(raw.meters)
    meter0 = meters.get(0, DEFAULT_METER)
    meters[0] = meter0
    # Leading whole bars of silence carry nothing: drop them (bar lines stay on the grid).
    first = min(n[0] for n in notes)
    bar = bar_units(meter=meter0)
    shift = (first // bar) * bar
    if shift and all(t == 0 or t >= first for t in meters):
        notes = [(a - shift, b - shift, p, g) for a, b, p, g in notes]
        meters = {max(t - shift, 0) if t else 0: m for t, m in sorted(meters.items())}
        meters[0] = meter0
    end = max(n[1] for n in notes)
    if end > MAX_QUARTERS * GRID:
        raise MidiError(
            f"it lasts {end // GRID:,} quarter notes; pieces over {MAX_QUARTERS:,} are refused"
        )
    events = _slices(notes)
    items = _bars(events, meters)
    parsed = ParsedText(title="", meter=meter0, key=raw.key or "0", items=items, unknown=[])
    return render_text(parsed=parsed, title=raw.title), count_notes(items)


def count_notes(items: list[Item]) -> int:
    """Notes and chords struck: a tied continuation is part of the note before it."""
    count, tied = 0, None
    for it in items:
        if isinstance(it, Event) and it.pitches:
            count += tied != it.pitches
            tied = it.pitches if it.tie else None
    return count


def _melody(notes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The part with the highest mean pitch, reduced to its top line (one note at a time)."""
    by_part: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
    for n in notes:
        by_part[n[3]].append(n)
    part = max(by_part.values(), key=lambda ns: (sum(n[2] for n in ns) / len(ns), -ns[0][3]))
    top: dict[int, tuple[int, int, int, int]] = {}
    for n in part:
        if n[0] not in top or n[2] > top[n[0]][2]:
            top[n[0]] = n
    starts = sorted(top)
    line = []
    for i, s in enumerate(starts):
        a, b, p, g = top[s]
        if i + 1 < len(starts):
            b = min(b, starts[i + 1])
        line.append((a, b, p, g))
    return line


def _slices(notes: list[tuple[int, int, int, int]]) -> list[Event]:
    """Successive sonorities from time 0 to the last note's end (chordify, held merged)."""
    starts: dict[int, list[int]] = defaultdict(list)
    ends: dict[int, list[int]] = defaultdict(list)
    for a, b, p, _ in notes:
        starts[a].append(p)
        ends[b].append(p)
    points = sorted({0, *starts, *ends})
    active: Counter[int] = Counter()
    events: list[Event] = []
    prev: tuple[int, ...] | None = None
    for t, nxt in zip(points, points[1:], strict=False):
        for p in ends.get(t, ()):
            active[p] -= 1
            if active[p] <= 0:
                del active[p]
        for p in starts.get(t, ()):
            active[p] += 1
        sounding = tuple(sorted(active))
        if events and sounding == prev and not starts.get(t):
            last = events[-1]
            events[-1] = Event(last.pitches, last.units + nxt - t)
        else:
            events.append(Event(sounding, nxt - t))
        prev = sounding
    return events


def _bar_starts(meters: dict[int, str], end: int) -> list[tuple[int, str | None]]:
    """(start, new meter or None) of every bar after the first that starts before `end`.

    A meter change ends the bar it falls in (a short bar, as a score would write it); a
    "change" to the meter already in force is no change and ends nothing."""
    changes = sorted((t, m) for t, m in meters.items() if t > 0)
    out: list[tuple[int, str | None]] = []
    t, meter, i = 0, meters[0], 0
    while True:
        nxt, new = t + bar_units(meter=meter), meter
        while i < len(changes) and changes[i][0] <= nxt:
            at, m = changes[i]
            i += 1
            if m != meter:
                nxt, new = at, m
                break
        if nxt >= end:
            return out
        out.append((nxt, new if new != meter else None))
        t, meter = nxt, new


def _bars(events: list[Event], meters: dict[int, str]) -> list[Item]:
    """Split events at bar lines (tied) and into pieces of at most MAX_UNITS."""
    end = sum(e.units for e in events)
    boundaries = _bar_starts(meters, end)
    items: list[Item] = []
    t, bi = 0, 0
    for ev in events:
        start, remaining = t, ev.units
        while remaining > 0:
            while bi < len(boundaries) and boundaries[bi][0] <= start:
                items.append("|")
                if boundaries[bi][1]:
                    items.append(f"M:{boundaries[bi][1]}")
                bi += 1
            limit = boundaries[bi][0] - start if bi < len(boundaries) else remaining
            piece = min(remaining, limit, MAX_UNITS)
            remaining -= piece
            tie = bool(ev.pitches) and (remaining > 0 or ev.tie)
            items.append(Event(ev.pitches, piece, tie))
            start += piece
        t += ev.units
    return items


# --- text → music21 --------------------------------------------------------------------------


@dataclass
class Timeline:
    """A parsed text laid out in time: merged notes and the meter at each bar."""

    notes: list[tuple[int, int, tuple[int, ...]]]  # (start, units, pitches), ties merged
    rests: list[tuple[int, int]]
    meters: list[tuple[int, str]]
    bars: list[tuple[str | None, int]]  # (meter in force, length) per bar
    end: int
    messages: list[str]


def layout(parsed: ParsedText) -> Timeline:
    notes: list[tuple[int, int, tuple[int, ...]]] = []
    rests: list[tuple[int, int]] = []
    messages: list[str] = []
    meter = parsed.meter
    meters = [(0, parsed.meter)] if parsed.meter else []
    bars: list[tuple[str | None, int]] = []
    bar_start, t = 0, 0
    pending: Event | None = None  # a tied event waiting for its continuation
    pending_start = 0
    for it in parsed.items:
        if it == "|":
            bars.append((meter, t - bar_start))
            bar_start = t
            continue
        if isinstance(it, str):  # M:x/y
            meter = it[2:]
            meters.append((t, meter))
            continue
        if pending is not None:
            if it.pitches == pending.pitches:
                pending = Event(pending.pitches, pending.units + it.units, it.tie)
                t += it.units
                if not it.tie:
                    notes.append((pending_start, pending.units, pending.pitches))
                    pending = None
                continue
            notes.append((pending_start, pending.units, pending.pitches))
            if len(messages) < MAX_MESSAGES:
                messages.append(f"a tie at {_where(pending_start)} leads to different notes")
            pending = None
        if not it.pitches:
            rests.append((t, it.units))
        elif it.tie:
            pending, pending_start = it, t
        else:
            notes.append((t, it.units, it.pitches))
        t += it.units
    if pending is not None:
        notes.append((pending_start, pending.units, pending.pitches))
    if t > bar_start or not bars:
        bars.append((meter, t - bar_start))
    return Timeline(notes=notes, rests=rests, meters=meters, bars=bars, end=t, messages=messages)


def _where(units: int) -> str:
    return f"quarter {format_duration(units=units)}"


def to_stream(parsed: ParsedText, *, title: str = ""):
    """A music21 Part (flat: notes, chords, rests, meter and key at their offsets)."""
    from music21 import chord, note, pitch, stream
    from music21 import key as m21key
    from music21 import meter as m21meter

    lay = layout(parsed)
    part = stream.Part()
    if title:
        part.partName = title
    for t, meter in lay.meters:
        part.insert(Fraction(t, GRID), m21meter.TimeSignature(meter))
    if parsed.key:
        sharps = int(parsed.key.rstrip("m"))
        ks = m21key.KeySignature(sharps)
        part.insert(0, ks.asKey("minor") if parsed.key.endswith("m") else ks)
    for t, units, pitches in lay.notes:
        ql = Fraction(units, GRID)
        # Pitch objects, not ints: from ints music21 searches for the simplest spelling of
        # the chord, ~45 ms a chord.
        if len(pitches) == 1:
            obj = note.Note(pitches[0])
        else:
            obj = chord.Chord([pitch.Pitch(midi=p) for p in pitches])
        obj.quarterLength = ql
        part.insert(Fraction(t, GRID), obj)
    for t, units in lay.rests:
        part.insert(Fraction(t, GRID), note.Rest(quarterLength=Fraction(units, GRID)))
    return part, lay


def stream_to_midi(part) -> bytes:
    from music21 import midi

    return midi.translate.streamToMidiFile(part).writestr()


# --- tokenisation ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def normal_order(pitch_classes: frozenset[int]) -> str:
    """The original's chord token: music21's normal order of the pitch classes."""
    from music21 import chord, pitch

    notes = [pitch.Pitch(midi=60 + pc) for pc in sorted(pitch_classes)]
    return ".".join(str(pc) for pc in chord.Chord(notes).normalOrder)


def pitch_name(midi: int) -> str:
    return f"{PITCH_NAMES[midi % 12]}{midi // 12 - 1}"


def pitch_from_name(name: str) -> int | None:
    m = _PITCH_NAME.match(name)
    if not m:
        return None
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[m.group(1)]
    alter = m.group(2).count("#") - m.group(2).count("-")
    midi = base + alter + (int(m.group(3)) + 1) * 12
    return midi if 0 <= midi <= 127 else None


def pitch_only_tokens(parsed: ParsedText) -> list[str]:
    """What the original trained on: one token per note or chord, no rest, bar or duration.

    A note tied over a bar line is one note in the MIDI the original read: one token."""
    tokens: list[str] = []
    tied_from: tuple[int, ...] | None = None
    for it in parsed.items:
        if not isinstance(it, Event) or not it.pitches:
            continue
        if tied_from == it.pitches:
            tied_from = it.pitches if it.tie else None
            continue
        tied_from = it.pitches if it.tie else None
        if len(it.pitches) == 1:
            tokens.append(pitch_name(it.pitches[0]))
        else:
            tokens.append(normal_order(frozenset(p % 12 for p in it.pitches)))
    return tokens


def is_pitch_only_token(token: str) -> bool:
    return bool(_PITCH_CLASSES.match(token)) or pitch_from_name(token) is not None


def pitch_only_event(token: str) -> Event | None:
    """A pitch-only token → the eighth note (or chord in octave 4) the original wrote."""
    if _PITCH_CLASSES.match(token):
        pcs = {int(x) % 12 for x in token.split(".")}
        return Event(tuple(sorted(60 + pc for pc in pcs)), EIGHTH)
    midi = pitch_from_name(token)
    return None if midi is None else Event((midi,), EIGHTH)


# --- import ------------------------------------------------------------------------------------


@dataclass
class MidiItem:
    """One candidate piece for `corpus_import`: `failure` set means list it, do not import."""

    file: str
    number: int
    text: str
    n_notes: int = 0
    failure: str | None = None


def parse_midi_file(*, data: bytes, name: str, number: int, parts: str) -> MidiItem:
    try:
        raw = read_midi(data, name=name)
        text, n = raw_to_text(raw, parts=parts)
    except MidiError as exc:
        return MidiItem(file=name, number=number, text="", failure=str(exc))
    except (RecursionError, MemoryError, OverflowError) as exc:  # pathological files
        return MidiItem(file=name, number=number, text="", failure=f"it is corrupt ({exc})")
    return MidiItem(file=name, number=number, text=text, n_notes=n)


def _parse_path(job: tuple[str, str, int, str]) -> MidiItem:
    path, shown, number, parts = job
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise MidiError(
                f"the file is {size / 1e6:.1f} MB; MIDI files over "
                f"{MAX_FILE_BYTES / 1e6:.0f} MB are refused"
            )
        data = Path(path).read_bytes()
    except MidiError as exc:
        return MidiItem(file=shown, number=number, text="", failure=str(exc))
    except OSError as exc:
        return MidiItem(file=shown, number=number, text="", failure=f"cannot read it: {exc}")
    return parse_midi_file(data=data, name=shown, number=number, parts=parts)


def _parse_score(job: tuple[str, str, int, str]) -> MidiItem:
    path, shown, number, parts = job
    try:
        from music21 import converter

        score = converter.parse(path)
        text, n = raw_to_text(score_to_raw(score, title=Path(path).stem), parts=parts)
    except MidiError as exc:
        return MidiItem(file=shown, number=number, text="", failure=str(exc))
    except Exception as exc:  # music21 raises many kinds; any of them means "cannot read"
        reason = f"music21 cannot read it: {type(exc).__name__}: {str(exc)[:200]}"
        return MidiItem(file=shown, number=number, text="", failure=reason)
    return MidiItem(file=shown, number=number, text=text, n_notes=n)


def parse_all(
    jobs: list[tuple[str, str, int, str]],
    *,
    worker: Callable[[tuple[str, str, int, str]], MidiItem],
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[MidiItem]:
    """Run `worker` over `jobs` on every core (`pool.map_processes`)."""
    return map_processes(jobs, worker=worker, processes=processes, progress=progress)


def _cpu_count() -> int:
    return cpu_count()


def split_source(source: str) -> tuple[str, dict[str, str]]:
    """`path#parts=melody,limit=20` → (path, options). A `#` not followed by options stays."""
    base, sep, frag = source.rpartition("#")
    if sep and frag and all(re.fullmatch(r"(parts|limit)=[\w-]+", p) for p in frag.split(",")):
        return base, dict(p.split("=", 1) for p in frag.split(","))
    return source, {}


def bach_chorale_paths() -> list[Path]:
    """The 371 Riemenschneider chorales bundled with music21, as files."""
    from music21 import corpus

    paths = []
    for name in corpus.chorales.Iterator(returnType="filename"):
        found = corpus.getWork(name)
        found = found[0] if isinstance(found, list) and found else found
        if found:
            paths.append(Path(str(found)))
    return paths


# --- primers ----------------------------------------------------------------------------------

MAX_PRIMER_BARS = 32  # a primer is an opening, not a piece; 32 bars is a whole tune of most


def first_bars(text: str, *, bars: int) -> str:
    """The opening `bars` bars of a piece text, with its meter and key, as canonical text.

    When the piece goes on, the bar line after the last bar (and a meter change right after
    it) is kept, so the model continues with a new bar; a piece shorter than that is taken
    whole. Unreadable text or a piece without a sounding note raises MidiError."""
    if not 1 <= bars <= MAX_PRIMER_BARS:
        raise MidiError(f"a primer is 1..{MAX_PRIMER_BARS} bars (got {bars})")
    parsed = parse_text(text)
    if parsed.unknown:
        raise MidiError(f"its text has unreadable tokens: {parsed.unknown[:5]}")
    items: list[Item] = []
    count = 0
    cut = False
    for it in parsed.items:
        if cut:
            if isinstance(it, str) and it.startswith("M:"):
                items.append(it)  # the next bar's meter: the continuation is in it
                continue
            break
        items.append(it)
        if it == "|":
            count += 1
            cut = count >= bars
    if not any(isinstance(it, Event) and it.pitches for it in items):
        raise MidiError(f"its first {bars} bars have no notes")
    head = ParsedText(title="", meter=parsed.meter, key=parsed.key, items=items, unknown=[])
    return render_text(parsed=head)


def midi_primer_text(*, data: bytes, name: str, bars: int, parts: str) -> str:
    """An uploaded MIDI file → the event text of its first `bars` bars, read exactly as an
    import reads it (same reader, grid and slicing). Every problem raises MidiError."""
    if parts not in PARTS:
        raise MidiError(f"parts must be one of {', '.join(PARTS)} (got {parts!r})")
    try:
        raw = read_midi(data, name=name)
        text, _ = raw_to_text(raw, parts=parts)
    except (RecursionError, MemoryError, OverflowError) as exc:  # pathological files
        raise MidiError(f"it is corrupt ({exc})") from exc
    return first_bars(text, bars=bars)


def vocab_parts(vocab: Iterable[str]) -> str:
    """How to read an upload for a model: "all" parts when it has seen chords, else its
    corpus was melodies ("melody": the highest part's top line, as chorales are imported)."""
    for tok in vocab:
        if tok in SPECIALS:
            continue
        if tok.startswith("c") and "_" in tok:  # a rhythm chord: c55.59.62_1
            return "all"
        if "." in tok and _PITCH_CLASSES.match(tok):  # a pitch-only chord: 0.4.7
            return "all"
    return "melody"


def describe_token(token: str) -> str:
    """A token in words, for messages: "n61_1/3" → "note C#4 lasting 1/3 quarter"."""
    if is_pitch_only_token(token):
        if "." in token:
            return f"chord of pitch classes {token}"
        return f"note {token}"
    parsed = parse_text(token)
    if parsed.meter:
        return f"meter {parsed.meter}"
    if parsed.key:
        return f"key signature {key_name(parsed.key)}"
    if parsed.items == ["|"]:
        return "bar line"
    if parsed.items and isinstance(parsed.items[0], str):
        return f"meter change to {parsed.items[0][2:]}"
    if parsed.items and isinstance(parsed.items[0], Event):
        ev = parsed.items[0]
        quarters = format_duration(units=ev.units)
        unit = "quarter" if ev.units <= GRID else "quarters"
        tie = ", tied on" if ev.tie else ""
        if not ev.pitches:
            return f"rest lasting {quarters} {unit}"
        names = "-".join(pitch_name(p) for p in ev.pitches)
        what = "note" if len(ev.pitches) == 1 else "chord"
        return f"{what} {names} lasting {quarters} {unit}{tie}"
    return token


# --- the way -----------------------------------------------------------------------------------


class MidiWay(Way):
    name = "midi"
    label = "MIDI notes"
    short_label = "MIDI"
    capabilities = Capabilities(
        has_score=True,
        text_format="text",
        melody="events",
        checks_bars=True,
        title_style="melody",  # chorale melodies and the like: not jigs and reels
        openings=frozenset({"text", "tune", "midi_file"}),
        length="tokens",
        grammar=True,
        memory=True,
        warmup_corpus=True,
    )
    tokenization = "rhythm"  # set per call by `prepare` on a copy, never on the shared WAY
    presets = {
        # The original's network: LSTM(512)×3, 30% dropout, dense 256. It trained on windows
        # of 100 notes from a zero state; here whole pieces train from a zero state, as the
        # sampler generates them, so the model has seen state carried past 100 tokens
        # ("windows" stays available for comparison). 1,000 tokens hold 99% of the
        # Nottingham melodies and every chorale melody whole.
        "full": {
            "tokenization": "rhythm",
            "embedding_dim": 128,
            "units": [512, 512, 512],
            "dropout": 0.3,
            "dense": [256],
            "batch_size": 32,
            "learning_rate": 0.001,
            "seq_length": 100,
            "sequence_mode": "tunes",
            "max_tokens": 1000,
            "sample_max_tokens": 600,
        },
        # Minutes per epoch on a 2-core CPU for a corpus of a few hundred melodies.
        "quick": {
            "tokenization": "rhythm",
            "embedding_dim": 48,
            "units": [256],
            "dropout": 0.0,
            "batch_size": 32,
            "learning_rate": 0.003,
            "max_tokens": 600,
            "sample_max_tokens": 400,
        },
        # For tests: trains in seconds.
        "tiny": {
            "critic_pieces": 0,  # (a test that wants one asks for it)
            "tokenization": "rhythm",
            "embedding_dim": 16,
            "units": [48],
            "batch_size": 8,
            "learning_rate": 0.01,
            "max_tokens": 300,
            "samples_per_epoch": 1,
            "sample_max_tokens": 150,
            "val_fraction": 0.2,
        },
    }

    # --- configuration -----------------------------------------------------------------------
    def resolve_config(self, *, preset: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
        config = super().resolve_config(preset=preset, overrides=overrides)
        if config.get("tokenization") not in TOKENIZATIONS:
            raise ValueError(
                f"tokenization must be one of {', '.join(TOKENIZATIONS)} "
                f"(got {config.get('tokenization')!r})"
            )
        shift = config.get("transpose")
        if not (isinstance(shift, bool) or (isinstance(shift, int) and 0 <= shift <= 11)):
            raise ValueError(f"transpose must be true, false or 0..11 semitones (got {shift!r})")
        return config

    # --- tokens ------------------------------------------------------------------------------
    def prepare(self, *, texts: list[str], config: dict[str, Any], seed: int, warmup_texts=()):
        mode = config.get("tokenization", "rhythm")
        if mode not in TOKENIZATIONS:
            raise ValueError(f"tokenization must be one of {', '.join(TOKENIZATIONS)}")
        # `Way.tokenize` has no config argument: a copy tokenises this call's way, so two runs
        # preparing at once in one process cannot see each other's choice.
        view = copy.copy(self)
        view.tokenization = mode
        prepared = Way.prepare(
            view, texts=texts, config=config, seed=seed, warmup_texts=warmup_texts
        )
        prepared.stats["tokenization"] = mode
        return prepared

    def tokenize(self, text: str) -> list[str]:
        parsed = parse_text(text)
        if self.tokenization == "pitch_only":
            return pitch_only_tokens(parsed)
        return [
            *parsed.header_tokens(),
            *(i if isinstance(i, str) else i.token for i in parsed.items),
        ]

    def detokenize(self, tokens: list[str]) -> str:
        """Tokens of either tokenisation → event text; pitch-only tokens become eighth notes
        (no bar lines: the original had none, so such a piece has no bar accuracy)."""
        out: list[str] = []
        for tok in tokens:
            if tok in SPECIALS:
                continue
            ev = pitch_only_event(tok) if is_pitch_only_token(tok) else None
            out.append(ev.token if ev is not None else tok)
        return render_text(parsed=parse_text(" ".join(out)))

    def encode_prime(self, *, vocab: list[str], prime: str) -> list[int]:
        """Event text → ids after START, in the run's tokenisation (its vocabulary tells
        which). Symbols the model never saw raise, named in words: they are not mapped to a
        "nearest" pitch or duration, which would put notes in the primer it does not have."""
        view = copy.copy(self)
        view.tokenization = _vocab_tokenization(vocab)
        index = {tok: i for i, tok in enumerate(vocab)}
        tokens = view.tokenize(prime) if prime else []
        missing = sorted({t for t in tokens if t not in index}, key=tokens.index)
        if missing:
            shown = "; ".join(f"{t} ({describe_token(t)})" for t in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            raise ValueError(
                f"the opening uses {len(missing)} symbol{'s' if len(missing) > 1 else ''} "
                f"the model never saw: {shown}{more}"
            )
        return [SPECIALS.index(START), *(index[t] for t in tokens)]

    def normalise(self, text: str) -> str:
        return render_text(parsed=parse_text(text))

    def augment(self, text: str, config: dict[str, Any]) -> list[str]:
        """Transposed copies: every other key (±6 semitones) for `true`, ±n for n."""
        shift = config.get("transpose")
        span = 6 if shift is True else int(shift or 0)
        if span <= 0:
            return []
        parsed = parse_text(text)
        pitches = [p for it in parsed.items if isinstance(it, Event) for p in it.pitches]
        if not pitches:
            return []
        low, high = min(pitches), max(pitches)
        out = []
        for t in range(-min(span, 5) if span == 6 else -span, span + 1):
            if t == 0 or low + t < 0 or high + t > 127:
                continue
            out.append(render_text(parsed=transpose(parsed, semitones=t)))
        return out

    # --- pieces ------------------------------------------------------------------------------
    def describe(self, text: str) -> dict[str, Any]:
        parsed = parse_text(text)
        return {
            "title": parsed.title,
            "meter": parsed.meter or "",
            "key": key_name(parsed.key) if parsed.key else "",
            "unit_length": "",
        }

    def finish(self, text: str, *, title: str) -> str:
        return render_text(parsed=parse_text(text), title=title)

    def validate(self, text: str) -> dict[str, Any]:
        parsed = parse_text(text)
        messages: list[str] = []
        if parsed.unknown:
            messages.append(f"{len(parsed.unknown)} unreadable tokens: {parsed.unknown[:5]}")
        n_notes = count_notes(parsed.items)
        parses, plays, midi = False, False, b""
        try:
            part, lay = to_stream(parsed)
            messages.extend(lay.messages)
            parses = not parsed.unknown and len(lay.notes) >= MIN_NOTES
            if len(lay.notes) < MIN_NOTES:
                messages.append(f"only {len(lay.notes)} notes; a piece needs {MIN_NOTES}")
            midi = stream_to_midi(part)
        except Exception as exc:  # music21 raises many kinds; each means "does not parse"
            messages.append(f"music21 cannot build it: {type(exc).__name__}: {exc}"[:300])
            lay = None
        if midi:
            try:
                from music21 import midi as m21midi

                mf = m21midi.MidiFile()
                mf.readstr(midi)
                back = m21midi.translate.midiFileToStream(mf)
                plays = len(back.recurse().notes) > 0
                if not plays:
                    messages.append("its MIDI has no notes")
            except Exception as exc:
                messages.append(f"its MIDI does not read back: {type(exc).__name__}: {exc}"[:300])
        accuracy = bar_accuracy(lay) if lay is not None else None
        return {
            "parses": parses,
            "plays": plays,
            "bar_accuracy": accuracy,
            "n_notes": n_notes,
            "messages": messages[:MAX_MESSAGES],
        }

    def to_midi(self, text: str) -> bytes:
        parsed = parse_text(text)
        try:
            part, lay = to_stream(parsed, title=parsed.title)
            if not lay.notes:
                raise MidiError("the piece has no notes to play")
            return stream_to_midi(part)
        except MidiError:
            raise
        except Exception as exc:
            raise ValueError(f"cannot write MIDI: {type(exc).__name__}: {exc}") from exc

    def to_musicxml(self, text: str) -> bytes:
        from music21 import metadata, meter, stream
        from music21.musicxml.m21ToXml import GeneralObjectExporter

        parsed = parse_text(text)
        try:
            part, lay = to_stream(parsed)
            if not lay.meters:
                part.insert(0, meter.TimeSignature(DEFAULT_METER))  # notation needs one
            score = stream.Score()
            score.metadata = metadata.Metadata(title=parsed.title or "")
            score.insert(0, part.makeNotation())
            return GeneralObjectExporter(score).parse()
        except Exception as exc:
            raise ValueError(f"cannot write MusicXML: {type(exc).__name__}: {exc}") from exc

    def grammar(self, *, vocab: list[str]) -> Callable[[int, list[int]], Any] | None:
        """A sampling constraint (see `ml.sampler.Constraint`) that keeps bars whole.

        A rhythm-tokenised piece starts with its meter; then an event is allowed only where
        it fits in what is left of the bar *and* leaves a rest of the bar that the
        vocabulary's durations can still fill; a bar line only when the bar is full; a meter
        change and the end only where a bar is complete. None for pitch-only runs, which have
        no bars. (Not yet used by the generation service: see `GenerationJob.grammar`.)"""
        import numpy as np

        if _vocab_tokenization(vocab) != "rhythm":
            return None
        size = len(vocab)
        units = np.zeros(size, dtype=np.int64)  # event length in grid steps, 0 = not an event
        meter_of: dict[int, str] = {}
        bar_ids: list[int] = []
        key_ids: list[int] = []
        for i, tok in enumerate(vocab):
            parsed = parse_text(tok) if tok not in SPECIALS else None
            if parsed is None or parsed.unknown:
                continue
            if parsed.meter:
                meter_of[i] = parsed.meter
            elif parsed.key:
                key_ids.append(i)
            elif parsed.items == ["|"]:
                bar_ids.append(i)
            elif parsed.items and isinstance(parsed.items[0], Event):
                units[i] = parsed.items[0].units
        if not meter_of or not bar_ids:
            return None
        end_id = SPECIALS.index(END)
        lengths = sorted({int(u) for u in units if u})
        longest = max(bar_units(meter=m) for m in meter_of.values())
        # fillable[r]: some sum of the vocabulary's durations is exactly r.
        fillable = np.zeros(longest + 1, dtype=bool)
        fillable[0] = True
        for r in range(1, longest + 1):
            fillable[r] = any(fillable[r - u] for u in lengths if u <= r)

        def mask_of(ids: list[int]) -> np.ndarray:
            m = np.zeros(size, dtype=bool)
            m[ids] = True
            return m

        meters, keys = mask_of(list(meter_of)), mask_of(key_ids)
        full = mask_of([*bar_ids, end_id])
        bars = set(bar_ids)
        cache: dict[tuple[int, bool], np.ndarray] = {}

        def in_bar(left: int, bar_start: bool) -> np.ndarray:
            if (left, bar_start) not in cache:
                ok = (units > 0) & (units <= left)
                ok[ok] = fillable[left - units[ok]]
                ok[end_id] = bar_start  # a piece ends with a whole bar
                cache[(left, bar_start)] = ok | meters if bar_start else ok
            return cache[(left, bar_start)]

        @dataclass
        class Row:
            read: int = 0  # ids already folded into this state
            meter: str | None = None
            pos: int = 0  # grid steps into the current bar
            bar_start: bool = False  # the last token was a bar line
            started: bool = False  # an event or bar has come (no key signature after that)

        rows: dict[int, Row] = {}

        def constraint(row: int, ids: list[int]) -> np.ndarray | None:
            st = rows.setdefault(row, Row())
            for i in ids[st.read :]:
                st.bar_start = i in bars
                if i in meter_of:
                    st.meter, st.pos = meter_of[i], 0
                elif units[i]:
                    st.pos += int(units[i])
                    st.started = True
                elif st.bar_start:
                    st.pos, st.started = 0, True
            st.read = len(ids)
            if st.meter is None:
                return meters
            left = bar_units(meter=st.meter) - st.pos
            if left <= 0:
                return full
            allowed = in_bar(left, st.bar_start)
            return allowed if st.started else allowed | keys

        return constraint

    # --- import ------------------------------------------------------------------------------
    def import_items(
        self,
        *,
        source: str,
        upload: tuple[str, bytes] | None,
        parts: str | None = None,
        limit: int | None = None,
        processes: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[MidiItem]:
        """MIDI files or bundled chorales → one item per piece, failures included.

        `source`: a folder (every .mid/.midi below it), one .mid file, or `music21:bach`
        (music21's 371 Riemenschneider chorales); `upload`: (file name, bytes) instead.
        Options ride on the source after `#`, e.g. `music21:bach#parts=all,limit=50`:
        `parts=all` slices every part into sonorities (the default for files: a MIDI file is
        taken as it is), `parts=melody` keeps the highest part's top line (the default for
        chorales: the soprano; four parts as chords give thousands of near-unique tokens).
        Returns MidiItems in source order; an item with `failure` set is a file that was
        skipped, with the reason. Raises ImportRefused when the source as a whole is.
        """
        base, options = split_source(source or "")
        parts = parts or options.get("parts")
        if parts is not None and parts not in PARTS:
            raise _refused(f"parts must be one of {', '.join(PARTS)} (got {parts!r})")
        if limit is None and "limit" in options:
            if not options["limit"].isdigit() or int(options["limit"]) < 1:
                raise _refused(f"limit must be a positive number (got {options['limit']})")
            limit = int(options["limit"])
        if upload is not None:
            name, data = upload
            return [parse_midi_file(data=data, name=name, number=1, parts=parts or "all")]
        if base.startswith("music21:"):
            collection = base.split(":", 1)[1]
            if collection != "bach":
                raise _refused(
                    f"the MIDI way imports music21:bach (the chorales), not {collection!r}"
                )
            paths = bach_chorale_paths()[:limit]
            jobs = [(str(p), p.name, i + 1, parts or "melody") for i, p in enumerate(paths)]
            return parse_all(jobs, worker=_parse_score, processes=processes, progress=progress)
        path = Path(base)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file()
            )
            if not files:
                raise _refused(f"{base} holds no .mid or .midi files")
            jobs = [
                (str(p), str(p.relative_to(path)), i + 1, parts or "all")
                for i, p in enumerate(files[:limit])
            ]
        elif path.is_file():
            jobs = [(str(path), path.name, 1, parts or "all")]
        else:
            raise _refused(f"{base} does not exist")
        return parse_all(jobs, worker=_parse_path, processes=processes, progress=progress)


def _refused(message: str) -> ValueError:
    return ImportRefused(message)


def _vocab_tokenization(vocab: Iterable[str]) -> str:
    for tok in vocab:
        if tok in SPECIALS:
            continue
        return "pitch_only" if is_pitch_only_token(tok) else "rhythm"
    return "rhythm"


def transpose(parsed: ParsedText, *, semitones: int) -> ParsedText:
    items: list[Item] = [
        Event(tuple(p + semitones for p in it.pitches), it.units, it.tie)
        if isinstance(it, Event)
        else it
        for it in parsed.items
    ]
    key = parsed.key
    if key is not None:
        sharps = (int(key.rstrip("m")) + 7 * semitones) % 12
        key = f"{sharps - 12 if sharps > 6 else sharps}{'m' if key.endswith('m') else ''}"
    return ParsedText(
        title=parsed.title, meter=parsed.meter, key=key, items=items, unknown=parsed.unknown
    )


def key_name(key: str) -> str:
    """A key token's value → its name: "1" → "G major", "-1m" → "D minor"."""
    sharps = int(key.rstrip("m"))
    if not -7 <= sharps <= 7:
        return key
    if key.endswith("m"):
        return f"{MINOR_KEYS[sharps + 7]} minor"
    return f"{MAJOR_KEYS[sharps + 7]} major"


def bar_accuracy(lay: Timeline) -> float | None:
    """Share of bars, first and last aside, lasting exactly what their meter asks.

    None when there is nothing to measure: no meter, or fewer than three bars (pitch-only
    pieces have no bar lines)."""
    inner = lay.bars[1:-1]
    if not inner or all(m is None for m, _ in inner):
        return None
    good = sum(1 for m, length in inner if m is not None and length == bar_units(meter=m))
    return good / len(inner)


WAY = MidiWay()
