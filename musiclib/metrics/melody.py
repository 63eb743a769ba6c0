"""Piece and tune texts as melodies (`list[Note]`), whatever way they were written in.

A way's `capabilities.melody` names how its text is read:

* "abc" (the ABC way): the text is ABC; `notes_from_abc` reads it (~0.2 ms a tune).
* "events" (the MIDI way): the text is the event text of musiclib/ways/midi_notes.py.
  `layout` (the first half of that module's `to_stream`) already merges ties and places
  every event in time, so the melody is read from it directly: each note or chord becomes
  one Note with the chord's highest pitch, rests are skipped. That is exactly what
  `notes_from_music21(stream=to_stream(parsed)[0])` gives (a test checks it), without
  building a music21 stream, which costs milliseconds per note.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .notes import Note, notes_from_abc

if TYPE_CHECKING:
    from musiclib.ways.base import Way

NOTE_NAMES = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")


class UnreadableText(ValueError):
    """The text cannot be read as a melody; the message says why, for people."""


def notes_from_event_text(*, text: str) -> list[Note]:
    """A MIDI-way event text → its melody (chord tops, ties merged, rests skipped)."""
    from musiclib.ways.midi_notes import GRID, layout, parse_text

    lay = layout(parse_text(text))
    return [Note(max(pitches), units / GRID, start / GRID) for start, units, pitches in lay.notes]


def notes_from_text(*, text: str, way: Way | str) -> list[Note]:
    """The melody of a piece or tune text of the given way (or way name), rests dropped.

    The way's `capabilities.melody` says how its text is read. Raises UnreadableText when
    the text cannot be read at all (a malformed field, a way without notes); an empty list
    means it reads but holds no notes."""
    if isinstance(way, str):
        from musiclib.ways import get_way

        try:
            way = get_way(way)
        except ValueError as exc:
            raise UnreadableText(str(exc)) from None
    read = READERS.get(way.capabilities.melody)
    if read is None:
        raise UnreadableText(
            f"pieces of the {way.name!r} way cannot be evaluated: they have no notes to compare"
        )
    try:
        notes = read(text=text)
    except UnreadableText:
        raise
    except Exception as exc:  # a malformed L: or K: field and the like
        raise UnreadableText(
            f"its text cannot be read as music: {type(exc).__name__}: {exc}"
        ) from exc
    return [n for n in notes if n.pitch >= 0]


def _notes_from_abc(*, text: str) -> list[Note]:
    return notes_from_abc(abc=text)


# `Capabilities.melody` → how a text of that kind is read as a melody.
READERS: dict[str, Callable[..., list[Note]]] = {
    "abc": _notes_from_abc,
    "events": notes_from_event_text,
}


def note_name(pitch: int) -> str:
    """MIDI number → a readable name with octave, e.g. 66 → F♯4."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"
