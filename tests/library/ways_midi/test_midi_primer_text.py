"""MIDI-way primers in the library: the opening bars of a piece or of an uploaded MIDI file, as
the model's own tokens (no database; the service and pages: tests/ways_midi/test_midi_primer.py)."""

from __future__ import annotations

import pytest

from musiclib.ways.midi_notes import (
    WAY,
    MidiError,
    describe_token,
    first_bars,
    midi_primer_text,
    vocab_parts,
)
from tests.library.ways_midi.midi_texts import ASCENT, WALTZ, midi_file_of

# --- the way's primer functions (no database) -------------------------------------------------


def test_first_bars_keeps_the_header_and_the_bar_line_after_the_last_bar():
    assert first_bars(ASCENT, bars=2) == "M:4/4 K:0 n60_1 n62_1 n64_1 n65_1 | n67_2 n65_1 n64_1 |"


def test_first_bars_keeps_a_meter_change_that_starts_the_next_bar():
    text = "M:4/4 K:0 n60_4 | M:3/4 n62_3 | n64_3"
    assert first_bars(text, bars=1) == "M:4/4 K:0 n60_4 | M:3/4"


def test_a_piece_shorter_than_the_bars_asked_for_is_taken_whole():
    assert first_bars(WALTZ, bars=32) == WALTZ


@pytest.mark.parametrize("bars", [0, 33])
def test_first_bars_refuses_a_number_of_bars_out_of_range(bars):
    with pytest.raises(MidiError, match="1..32 bars"):
        first_bars(ASCENT, bars=bars)


def test_a_midi_file_written_from_a_piece_gives_back_its_first_bars():
    data = midi_file_of(WALTZ)
    assert midi_primer_text(data=data, name="waltz.mid", bars=2, parts="melody") == first_bars(
        WALTZ, bars=2
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"X:1\nT:A tune\nK:D\nDFA|\n", "not a MIDI file: it is text"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "not a MIDI file: it has no MIDI header"),
        (midi_file_of(ASCENT)[:30], "it is truncated"),
    ],
)
def test_a_file_that_is_not_a_whole_midi_file_is_refused_with_its_reason(data, reason):
    with pytest.raises(MidiError, match=reason):
        midi_primer_text(data=data, name="upload.mid", bars=4, parts="all")


def test_tokens_the_model_never_saw_are_named_in_words():
    vocab = ["<pad>", "<s>", "</s>", *sorted(set(WAY.tokenize(ASCENT)))]
    with pytest.raises(ValueError) as info:
        WAY.encode_prime(vocab=vocab, prime=first_bars(WALTZ, bars=2))
    message = str(info.value)
    assert "never saw" in message
    assert "M:3/4 (meter 3/4)" in message
    assert "K:1 (key signature G major)" in message
    assert "r_2 (rest lasting 2 quarters)" in message
    assert "n74_1 (note D5 lasting 1 quarter)" in message


def test_describe_token_reads_notes_chords_rests_and_ties():
    assert describe_token("n61_1/3") == "note C#4 lasting 1/3 quarter"
    assert describe_token("c60.64.67_2~") == "chord C4-E4-G4 lasting 2 quarters, tied on"
    assert describe_token("r_3/2") == "rest lasting 3/2 quarters"
    assert describe_token("|") == "bar line"
    assert describe_token("0.4.7") == "chord of pitch classes 0.4.7"


def test_an_upload_is_read_as_melody_unless_the_model_has_seen_chords():
    assert vocab_parts(["<pad>", "<s>", "</s>", "M:4/4", "n60_1", "|"]) == "melody"
    assert vocab_parts(["<pad>", "<s>", "</s>", "c60.64_1", "n60_1"]) == "all"
    assert vocab_parts(["<pad>", "<s>", "</s>", "0.4.7", "C4"]) == "all"
