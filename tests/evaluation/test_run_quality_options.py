"""Issue 11's training options of the ABC way: transposition augmentation, checked against
music21's reading of real O'Neill tunes."""

from __future__ import annotations

import pytest

from musiclib.metrics.notes import notes_from_abc
from musiclib.ways.abc_text import WAY, NotTransposable, parse_header, transpose_abc
from tests.factories import oneills_tunes


@pytest.fixture(scope="module")
def tunes():
    return [WAY.normalise(text) for text in oneills_tunes(60)]


def pitches(text: str) -> list[int]:
    return [n.pitch for n in notes_from_abc(abc="X:1\n" + text)]


@pytest.mark.parametrize(("steps", "semitones"), [(1, 2), (-1, -2)])
def test_a_transposed_tune_sounds_a_major_second_away(tunes, steps, semitones):
    moved = 0
    for text in tunes:
        try:
            other = transpose_abc(text, steps=steps, semitones=semitones)
        except NotTransposable:
            continue
        before, after = pitches(text), pitches(other)
        assert len(before) == len(after) > 0
        assert [b + semitones for b in before] == after, text
        moved += 1
    assert moved >= 50  # nearly all of them: the transposer is not skipping its way to green


def test_the_key_and_the_chord_symbols_move_with_the_notes():
    text = 'M:6/8\nL:1/8\nK:Edor\n"Em"EFG "D"A2B|"Bm/F#"=c^cd "Em"e3|\n'
    up = transpose_abc(text, steps=1, semitones=2)
    assert parse_header(up)["K"] == "F#dor"
    assert '"F#m"' in up and '"E"' in up and '"C#m/G#"' in up
    assert pitches(up) == [p + 2 for p in pitches(text)]


def test_far_keys_and_inline_key_changes_are_left_alone():
    with pytest.raises(NotTransposable):  # A major up a tone: B, five sharps
        transpose_abc("M:4/4\nL:1/8\nK:A\nABcd efga|\n", steps=1, semitones=2)
    with pytest.raises(NotTransposable):
        transpose_abc("M:4/4\nL:1/8\nK:G\nGABc [K:D] defg|\n", steps=1, semitones=2)


def test_transpose_adds_training_tunes_but_never_validation_tunes(tunes):
    plain = WAY.resolve_config(preset="tiny", overrides={})
    augmented = WAY.resolve_config(preset="tiny", overrides={"transpose": True})
    a = WAY.prepare(texts=tunes, config=plain, seed=1)
    b = WAY.prepare(texts=tunes, config=augmented, seed=1)
    assert len(b.val) == len(a.val)
    assert [v.tolist() for v in b.val] == [v.tolist() for v in a.val]
    assert len(a.train) < len(b.train) <= 3 * len(a.train)


def test_transpose_on_the_abc_way_is_true_or_false():
    with pytest.raises(ValueError, match="transpose must be true or false"):
        WAY.resolve_config(preset="tiny", overrides={"transpose": 3})
