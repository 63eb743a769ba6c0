"""Melodies as flat note lists, read from ABC text (fast) or from music21 streams.

Every metric in this package works on `list[Note]`. Conventions shared by both readers:

* Rests are skipped: they advance the clock (so `offset` stays true) but produce no `Note`.
  Copy detection compares melodic contours, and a rest that an engraver writes as `z` in one
  source and as a longer note in another should not break a match. `Note.pitch == -1` is
  reserved for callers that build rest notes themselves; every metric drops such notes.
* Chords become their highest note (the melody in folk accompaniment chords is on top), with
  the chord's duration.
* Ties between two notes of the same pitch are merged into one note, so a tied note is one
  event, as it is heard.
* Grace notes are dropped: they have no duration of their own.
* Repeats are not expanded (music21 does not expand them either); the note list is the
  written order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

REST = -1


@dataclass(frozen=True, slots=True)
class Note:
    pitch: int  # MIDI number (60 = middle C), or REST (-1)
    duration: float  # quarterLength
    offset: float  # quarterLength from the start of the tune


# --- ABC ----------------------------------------------------------------------------------

_LETTER_SEMITONE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}
# Position on the circle of fifths of each major tonic and the shift each mode applies to it.
_TONIC_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}
_MODE_FIFTHS = {"maj": 0, "ion": 0, "": 0, "mix": -1, "dor": -2, "m": -3, "min": -3,
                "aeo": -3, "phr": -4, "loc": -5, "lyd": 1}  # fmt: skip
_SHARP_ORDER = "FCGDAEB"

# One alternation, tried left to right at each position; text that matches nothing (slurs,
# spaces, decoration letters such as ~ . H T u v, line continuations) is skipped by finditer.
# Each alternative is one outer named group, so `match.lastgroup` names the token kind.
_TOKEN = re.compile(
    r"""
    (?P<skip>"[^"\n]*"                               # chord symbol or annotation
      | ![^!\n]*! | \+[^+\n\s]*\+                     # !trill! +fermata+ decorations
      | \{[^}]*\})                                   # grace notes
  | (?P<note>(\^\^|\^|__|_|=)?([A-Ga-g])([',]*)(\d*/*\d*))   # accidental letter octave length
  | (?P<bar>:*\|[\]\|:]*(?:\[?\d)?|\[\||::|\[\d)    # bar line (with an ending's number)
  | (?P<field>\[([A-Za-z]):([^\]]*)\])              # inline field [K:Dm] [L:1/16]
  | (?P<tuplet>\((\d)(?::(\d*))?(?::(\d*))?)        # tuplet (3 or (p:q:r
  | (?P<chord>\[((?:[\^=_]*[A-Ga-g][',]*[\d/]*-?\s*)+)\](\d*/*\d*))   # chord [CEG]2
  | (?P<rest>[zx](\d*/*\d*))                        # rest (x = invisible rest)
  | (?P<mrest>Z(\d*))                               # multi-measure rest
  | (?P<broken>>{1,3}|<{1,3})                       # broken rhythm a>b, a<b
  | (?P<tie>-)
    """,
    re.VERBOSE,
)
# Numbers of the outer groups; each token's parts are the unnamed groups right after it.
_NOTE, _FIELD, _TUPLET, _CHORD, _REST, _MREST = (
    _TOKEN.groupindex[k] for k in ("note", "field", "tuplet", "chord", "rest", "mrest")
)
_CHORD_NOTE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([',]*)(\d*/*\d*)")
# "A:|" at the start of a body line is a note and a repeat, not an A: field.
_FIELD_LINE = re.compile(r"^([A-Za-z]):(?![|:])(.*)$")


@lru_cache(maxsize=512)
def _length(text: str) -> float:
    return float(_length_fraction(text))


@lru_cache(maxsize=64)
def _octave(marks: str) -> int:
    return 12 * (marks.count("'") - marks.count(","))


# Letter -> (the letter key signatures and accidentals refer to, MIDI number unaltered).
_LETTER = {
    **{k: (k, 60 + v) for k, v in _LETTER_SEMITONE.items()},
    **{k.lower(): (k, 72 + v) for k, v in _LETTER_SEMITONE.items()},
}


def _length_fraction(text: str) -> Fraction:
    """ABC length multiplier: '' 1, '2' 2, '/' 1/2, '//' 1/4, '/3' 1/3, '3/2' 3/2, '3/' 3/2."""
    if not text:
        return Fraction(1)
    num, slashes, den = re.fullmatch(r"(\d*)(/*)(\d*)", text).groups()
    value = Fraction(int(num) if num else 1)
    if den:
        return value / int(den) / (2 ** (len(slashes) - 1) if slashes else 1)
    return value / 2 ** len(slashes)


def _fraction(text: str, default: Fraction) -> Fraction:
    m = re.match(r"\s*(\d+)\s*/\s*(\d+)", text)
    return Fraction(int(m.group(1)), int(m.group(2))) if m else default


def _meter(text: str) -> tuple[int, int] | None:
    """M: as (beats, beat unit), unreduced (6/8 stays compound); None for free meter."""
    text = text.strip()
    if text.startswith("C"):
        return (2, 2) if text.startswith("C|") else (4, 4)
    m = re.match(r"(\d+(?:\+\d+)*)\s*/\s*(\d+)", text)
    if not m:
        return None  # "none" or free meter
    return sum(int(x) for x in m.group(1).split("+")), int(m.group(2))


@lru_cache(maxsize=256)
def _key_signature(text: str) -> dict[str, int]:
    """Alteration of each letter under K: text, e.g. 'Dmix' -> {'F': 1} (C natural)."""
    text = text.strip()
    alter: dict[str, int] = {}
    m = re.match(r"([A-G])([#b]?)\s*([A-Za-z]*)", text)
    if m and not text.startswith(("HP", "Hp", "none")):
        fifths = _TONIC_FIFTHS[m.group(1)] + {"#": 7, "b": -7, "": 0}[m.group(2)]
        word = m.group(3).lower()
        mode = "m" if word == "m" else word[:3]
        # Words after the tonic that are not modes ("clef=bass", "-8va") leave the key major.
        fifths += _MODE_FIFTHS.get(mode, 0)
        for letter in _SHARP_ORDER[: max(fifths, 0)]:
            alter[letter] = 1
        for letter in _SHARP_ORDER[::-1][: max(-fifths, 0)]:
            alter[letter] = -1
    elif text.startswith("Hp"):
        alter = {"F": 1, "C": 1}  # Highland pipes: F# C# G natural
    # Explicit accidentals after the key, e.g. "K:D =c ^g" (ABC 2.1 "exp"/added accidentals).
    for acc, letter in re.findall(r"(?:^|\s)(\^\^|\^|__|_|=)([A-Ga-g])", text):
        alter[letter.upper()] = _ACCIDENTAL[acc]
    return alter


def letter_semitones(key: str) -> tuple[int, ...]:
    """Semitones above C of each letter C D E F G A B under a K: field's signature (`K:D`:
    F# is 6, C# 1; a B# would be 12): the scale a tune's unmarked notes are written in."""
    alter = _key_signature(key)
    return tuple(_LETTER_SEMITONE[letter] + alter.get(letter, 0) for letter in "CDEFGAB")


def _tuplet_q(p: int, meter: tuple[int, int] | None) -> int:
    # ABC 2.1 defaults: (2 and (4 and (8 fit into 3; (3 and (6 into 2; the odd ones into 2 in
    # simple meters and 3 in compound ones.
    if p in (2, 4, 8):
        return 3
    if p in (3, 6):
        return 2
    compound = meter is not None and meter[0] % 3 == 0 and meter[0] > 3
    return 3 if compound else 2


@dataclass(frozen=True, slots=True)
class BarMark:
    """A bar line as read: where it falls and what it says, for measures of form."""

    time: float  # quarterLength from the start of the tune
    n_notes: int  # notes before it
    text: str  # as written: "|", ":|", "||", "|:", "::", "|]", "|1", ":|2", "[2"
    bar_length: float | None  # the meter's bar in quarterLength there (None: free meter)


@dataclass(frozen=True, slots=True)
class AbcReading:
    notes: list[Note]
    bars: list[BarMark]
    key: str  # the first K: field's text ("" when none)
    end: float  # quarterLength at the end of the tune
    meter: tuple[int, int] | None = None  # the first M: field's (beats, beat unit)


def notes_from_abc(*, abc: str) -> list[Note]:
    """The melody of one ABC tune (header and body) as notes; see the module docstring."""
    return read_abc(abc=abc).notes


def read_abc(*, abc: str) -> AbcReading:
    """The melody of one ABC tune (header and body) as notes, with its bar lines and key.

    A hand-written tokenizer rather than music21: music21 takes ~25 ms per tune, this
    ~0.2 ms (bench/novelty.py), which is what lets a whole corpus be read in seconds. Supported:
    K:/L:/M: fields (in the header, on body lines and inline), key-signature, explicit and
    bar-scoped accidentals (an accidental holds for that letter in every octave until the
    bar line, the ABC 2.1 default), octave marks, length multipliers, broken rhythm, tuplets,
    ties, chords (highest note), and it ignores chord symbols, annotations, decorations,
    grace notes, slurs and lyrics. With several voices, only the first voice is read.
    """
    unit: Fraction | None = None  # L: unit length, as a fraction of a whole note
    meter: tuple[int, int] | None = None
    key: dict[str, int] = {}
    in_body = False
    first_voice: str | None = None
    voice_ok = True
    pitches: list[int] = []
    durations: list[float] = []  # quarterLength of each emitted note
    onsets: list[float] = []
    t = 0.0  # running clock in quarterLength
    bar_acc: dict[str, int] = {}
    tuplet_left, tuplet_factor = 0, 1.0
    broken_next = 1.0  # factor for the note after a > or <
    tie_open = False
    last_ql, last_was_note = 0.0, False  # the event a following > or < stretches
    marks: list[BarMark] = []
    first_key: str | None = None
    first_meter: tuple[int, int] | None = None

    def set_field(name: str, value: str) -> None:
        nonlocal unit, meter, key, in_body, first_voice, voice_ok, first_key, first_meter
        if name == "L":
            unit = _fraction(value, Fraction(1, 8))
        elif name == "M":
            meter = _meter(value)
            first_meter = meter if first_meter is None else first_meter
        elif name == "K":
            key = _key_signature(value)
            in_body = True
            first_key = value.strip() if first_key is None else first_key
        elif name == "V":
            voice = value.split()[0] if value.split() else ""
            first_voice = voice if first_voice is None else first_voice
            voice_ok = voice == first_voice

    def unit_ql() -> float:
        if unit is not None:
            return float(unit) * 4
        # ABC default unit: 1/16 for meters below 3/4, else 1/8.
        return 0.25 if meter is not None and Fraction(*meter) < Fraction(3, 4) else 0.5

    def emit(pitch: int | None, ql: float) -> None:
        nonlocal t, tuplet_left, broken_next, tie_open, last_ql, last_was_note
        if broken_next != 1.0:
            ql *= broken_next
            broken_next = 1.0
        if tuplet_left:
            ql *= tuplet_factor
            tuplet_left -= 1
        if pitch is not None and tie_open and pitches and pitches[-1] == pitch:
            durations[-1] += ql  # tied continuation: one longer note
        elif pitch is not None:
            pitches.append(pitch)
            durations.append(ql)
            onsets.append(t)
        tie_open = False
        last_ql, last_was_note = ql, pitch is not None
        t += ql

    def pitch_of(acc: str | None, letter: str, octave: str) -> int:
        name, midi = _LETTER[letter]
        if acc:
            bar_acc[name] = _ACCIDENTAL[acc]
        alter = bar_acc[name] if name in bar_acc else key.get(name, 0)
        return midi + alter + (_octave(octave) if octave else 0)

    for raw in abc.splitlines():
        line = raw.split("%", 1)[0] if "%" in raw else raw
        field = _FIELD_LINE.match(line)
        if field:
            set_field(field.group(1), field.group(2))
            continue
        if not in_body or not line.strip() or not voice_ok:
            continue
        unit_length = unit_ql()
        for m in _TOKEN.finditer(line):
            kind = m.lastgroup
            if kind == "note":
                acc, letter, octave, length = m.group(_NOTE + 1, _NOTE + 2, _NOTE + 3, _NOTE + 4)
                emit(pitch_of(acc, letter, octave), unit_length * _length(length))
            elif kind == "skip":
                continue
            elif kind == "bar":
                bar_acc.clear()
                bar = 4.0 * meter[0] / meter[1] if meter else None
                marks.append(BarMark(t, len(pitches), m.group(kind), bar))
            elif kind == "chord":
                chord, length = m.group(_CHORD + 1, _CHORD + 2)
                notes = _CHORD_NOTE.findall(chord)
                top = max(pitch_of(a, letter, o) for a, letter, o, _ in notes)
                # The chord lasts as long as its first note times the outer multiplier.
                emit(top, unit_length * _length(notes[0][3]) * _length(length))
            elif kind == "rest":
                emit(None, unit_length * _length(m.group(_REST + 1)))
            elif kind == "mrest":
                bars = int(m.group(_MREST + 1) or 1)
                emit(None, bars * 4 * (meter[0] / meter[1] if meter else 1.0))
            elif kind == "broken":
                arrows = m.group(kind)
                if last_ql:
                    shorter = 0.5 ** len(arrows)
                    longer = 2 - shorter
                    if arrows[0] == "<":
                        longer, shorter = shorter, longer
                    # Stretch the previous event in place and shift the clock accordingly.
                    delta = last_ql * (longer - 1)
                    if last_was_note:
                        durations[-1] += delta
                    t += delta
                    broken_next = shorter
            elif kind == "tuplet":
                p, q, r = m.group(_TUPLET + 1, _TUPLET + 2, _TUPLET + 3)
                p = int(p)
                tuplet_left = int(r) if r else p
                tuplet_factor = (int(q) if q else _tuplet_q(p, meter)) / p
            elif kind == "tie":
                tie_open = True
            elif kind == "field":
                set_field(m.group(_FIELD + 1), m.group(_FIELD + 2))
                unit_length = unit_ql()
    notes = [Note(p, d, o) for p, d, o in zip(pitches, durations, onsets, strict=True)]
    return AbcReading(notes=notes, bars=marks, key=first_key or "", end=t, meter=first_meter)


def split_abc(*, text: str) -> list[str]:
    """Split a multi-tune ABC file into one string per tune (each starting at its X: line)."""
    parts = re.split(r"^(?=X:)", text, flags=re.MULTILINE)
    return [p for p in parts if p.startswith("X:")]


# --- music21 ------------------------------------------------------------------------------


def notes_from_music21(*, stream) -> list[Note]:
    """The melody of a music21 stream (e.g. a parsed MIDI file) as notes.

    The stream is flattened; notes sounding at the same onset (chords, or notes of several
    voices) collapse to the highest one, a skyline melody, so that MIDI pieces with
    accompaniment yield their tune. Rests, grace notes and tied continuations are handled as
    in `notes_from_abc`.
    """
    events: dict[float, tuple[int, float, bool]] = {}  # onset -> (pitch, duration, tied-in)
    for el in stream.flatten().notes:
        if el.duration.isGrace:
            continue
        pitch = max(p.midi for p in el.pitches)
        onset = float(el.offset)
        tied_in = el.tie is not None and el.tie.type in ("stop", "continue")
        if onset not in events or pitch > events[onset][0]:
            events[onset] = (pitch, float(el.duration.quarterLength), tied_in)
    notes: list[Note] = []
    for onset in sorted(events):
        pitch, duration, tied_in = events[onset]
        if tied_in and notes and notes[-1].pitch == pitch:
            last = notes[-1]
            notes[-1] = Note(pitch, last.duration + duration, last.offset)
        else:
            notes.append(Note(pitch, duration, onset))
    return notes
