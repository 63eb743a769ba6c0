"""Two little melodies in the MIDI way's event text (what a MIDI corpus tune stores), and real
MIDI files of piece text. No Django: the site's tests import them through
tests/ways_midi/builders.py."""

from __future__ import annotations

from musiclib.ways.midi_notes import WAY

ASCENT = "M:4/4 K:0 n60_1 n62_1 n64_1 n65_1 | n67_2 n65_1 n64_1 | n62_1 n60_1 n62_2 | n60_4"
WALTZ = "M:3/4 K:1 r_2 n67_1 | n67_2 n74_1 | n71_3/2 n69_1/2 n67_1 | n67_3"


def midi_file_of(text: str) -> bytes:
    """A real Standard MIDI File of a piece text, written by music21."""
    return WAY.to_midi(text)
