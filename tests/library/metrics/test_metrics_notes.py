"""notes_from_abc: a fast ABC melody reader that agrees with music21."""

from __future__ import annotations

import re

import pytest
from metrics_corpus import bundled_abc
from music21 import chord, converter, note, stream, tie

from musiclib.metrics.notes import Note, notes_from_abc, notes_from_music21, split_abc


def tune(body: str, header: str = "M:4/4\nL:1/8\nK:C") -> str:
    return f"X:1\nT:t\n{header}\n{body}\n"


def pitches(abc: str) -> list[int]:
    return [n.pitch for n in notes_from_abc(abc=abc)]


def test_a_simple_tune_gives_midi_pitches_quarter_lengths_and_offsets():
    notes = notes_from_abc(abc=tune("GAB c2 d/e/ | z2 G4", header="M:4/4\nL:1/8\nK:G"))
    assert notes == [
        Note(67, 0.5, 0.0), Note(69, 0.5, 0.5), Note(71, 0.5, 1.0), Note(72, 1.0, 1.5),
        Note(74, 0.25, 2.5), Note(76, 0.25, 2.75), Note(67, 2.0, 4.0),
    ]  # fmt: skip


def test_octave_marks_move_a_note_by_twelve_semitones():
    assert pitches(tune("C,, C, C c c' c''")) == [36, 48, 60, 72, 84, 96]


def test_key_signatures_apply_to_every_octave_and_know_the_modes():
    assert pitches(tune("F f C c", header="K:D")) == [66, 78, 61, 73]
    assert pitches(tune("F c", header="K:Ador")) == [66, 72]  # A dorian: F sharp only
    assert pitches(tune("B E A", header="K:Bb")) == [70, 63, 69]
    assert pitches(tune("F B e", header="K:Em")) == [66, 71, 76]
    assert pitches(tune("c f", header="K:Dmix")) == [72, 78]
    assert pitches(tune("F c g", header="K:D =c ^g")) == [66, 72, 80]  # explicit accidentals


def test_accidentals_last_until_the_bar_line_in_every_octave():
    assert pitches(tune("=F F f | F ^G g | g", header="K:D")) == [65, 65, 77, 66, 68, 80, 79]
    assert pitches(tune("_B2 B ^^C __D")) == [70, 70, 62, 60]


def test_length_multipliers_broken_rhythm_tuplets_and_ties():
    ql = [n.duration for n in notes_from_abc(abc=tune("A3/2 B/ c// d3/ A>B c<d (3ABc A2-A"))]
    assert ql == [0.75, 0.25, 0.125, 0.75, 0.75, 0.25, 0.25, 0.75, 1 / 3, 1 / 3, 1 / 3, 1.5]


def test_chords_give_their_top_note_and_symbols_decorations_and_grace_notes_are_ignored():
    abc = tune('"Am"[A,CE]2 {ga}!trill!~B .c +fermata+d | [K:F] B "^text"z B')
    notes = notes_from_abc(abc=abc)
    assert [n.pitch for n in notes] == [64, 71, 72, 74, 70, 70]
    assert notes[0].duration == 1.0 and notes[-1].offset == 3.5  # the rest still takes time


def test_the_unit_length_defaults_from_the_meter():
    assert notes_from_abc(abc=tune("A B", header="M:2/4\nK:C"))[0].duration == 0.25
    assert notes_from_abc(abc=tune("A B", header="M:6/8\nK:C"))[0].duration == 0.5
    assert notes_from_abc(abc=tune("A [L:1/4] B", header="K:C"))[1].duration == 1.0


def test_split_abc_cuts_a_file_at_its_x_lines():
    text = "%abc\n\nX:1\nT:a\nK:C\nABC\n\nX:2\nT:b\nK:G\nGAB\n"
    tunes = split_abc(text=text)
    assert len(tunes) == 2 and tunes[1].startswith("X:2")
    assert pitches(tunes[1]) == [67, 69, 71]


# music21 drops notes after an H (fermata) decoration or a '">"' annotation, and loses
# broken rhythm when a tie or decoration sits next to the > or <; tunes using those are not
# fit to compare (notes_from_abc reads them as the ABC standard says).
MUSIC21_QUIRKS = re.compile(r'H[\^_=]?[A-Ga-g]|"[<>]"|[<>][-.~uv(]|-[<>]')


def real_tunes() -> list[str]:
    tunes = bundled_abc("oneills1850", "0001-0050.abc")[:14]
    tunes += bundled_abc("essenFolksong", "altdeu10.abc")[:8]
    tunes += bundled_abc("ryansMammoth", "AcaciaReel.abc")
    return [t for t in tunes if not MUSIC21_QUIRKS.search(t)]


@pytest.mark.parametrize("abc", real_tunes(), ids=lambda t: t.split("\n")[1][:30])
def test_notes_from_abc_agrees_with_music21_on_real_tunes(abc):
    # "%abc-2.1" makes music21 carry accidentals through the bar as the standard says.
    theirs = notes_from_music21(stream=converter.parse("%abc-2.1\n" + abc, format="abc"))
    mine = notes_from_abc(abc=abc)
    assert [n.pitch for n in mine] == [n.pitch for n in theirs]
    assert [n.duration for n in mine] == pytest.approx([n.duration for n in theirs])
    assert [n.offset for n in mine] == pytest.approx([n.offset for n in theirs])


def test_notes_from_music21_takes_chord_tops_merges_ties_and_skips_rests():
    first, second = note.Note("C4", quarterLength=1), note.Note("C4", quarterLength=1)
    first.tie, second.tie = tie.Tie("start"), tie.Tie("stop")
    s = stream.Stream()
    for el in (first, second, chord.Chord(["C4", "E4", "G4"], quarterLength=2), note.Rest(),
               note.Note("A4")):  # fmt: skip
        s.append(el)
    assert notes_from_music21(stream=s) == [
        Note(60, 2.0, 0.0), Note(67, 2.0, 2.0), Note(69, 1.0, 5.0)
    ]  # fmt: skip
