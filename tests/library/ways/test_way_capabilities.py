"""Ways declare what they can do (`Capabilities`), and the registry lists them: the library
alone, no Django."""

from __future__ import annotations

import pytest

from musiclib.metrics.melody import UnreadableText, notes_from_text
from musiclib.ways import get_way, register, unregister, way_choices, way_for_source, ways_taking
from musiclib.ways.base import Capabilities, Way


class Toy(Way):
    name, label = "toy-lib", "Toy"
    capabilities = Capabilities(openings=frozenset({"text"}))


def test_each_built_in_way_says_what_its_pieces_are():
    abc, midi, audio = (get_way(n).capabilities for n in ("abc", "midi", "audio"))
    assert (abc.has_score, abc.is_audio, abc.text_format, abc.melody) == (True, False, "abc", "abc")
    assert (midi.has_score, midi.text_format, midi.melody) == (True, "text", "events")
    assert (audio.has_score, audio.is_audio, audio.has_melody, audio.checks_bars) == (
        False,
        True,
        False,
        False,
    )
    assert (abc.title_style, midi.title_style, audio.title_style) == (
        "tune",
        "melody",
        "recording",
    )


def test_the_generation_fields_follow_from_openings_length_melody_and_grammar():
    abc, midi, audio = (get_way(n).capabilities for n in ("abc", "midi", "audio"))
    assert abc.generation_fields == (
        "count", "temperature", "seed", "top_k", "top_p", "takes", "takes_by", "max_length",
        "grammar", "folk_form", "returns", "memory", "moves", "prime", "meter", "key",
        "opening",
    )  # fmt: skip
    # a critic hears melodies: the take kept by likeness to the corpus is theirs
    assert "takes_by" in midi.generation_fields and "takes_by" not in audio.generation_fields
    assert "folk_form" not in midi.generation_fields  # the form is a folk tune's
    assert "returns" not in midi.generation_fields
    assert "memory" in midi.generation_fields and "memory" not in audio.generation_fields
    # the moves are read from ABC pitches
    assert "moves" not in midi.generation_fields and "moves" not in audio.generation_fields
    assert {"primer_tune", "primer_midi", "primer_bars"} <= set(midi.generation_fields)
    assert "meter" not in midi.generation_fields
    assert audio.generation_fields == (
        "count",
        "temperature",
        "seed",
        "top_k",
        "top_p",
        "takes",
        "seconds",
        "prime_audio",
    )
    assert audio.tokens_for(2.0) == round(2.0 * audio.tokens_per_second)


def test_each_way_offers_the_downloads_its_pieces_and_tunes_can_have():
    assert get_way("abc").capabilities.piece_downloads == ("abc", "midi", "musicxml", "audio")
    assert get_way("midi").capabilities.piece_downloads == ("text", "midi", "musicxml", "audio")
    assert get_way("audio").capabilities.piece_downloads == ("text", "wav", "ogg")
    assert get_way("audio").capabilities.tune_downloads == ("audio",)
    assert Toy.capabilities.piece_downloads == Toy.capabilities.tune_downloads == ("text",)


def test_a_capability_that_means_nothing_is_refused_when_the_way_is_written():
    with pytest.raises(ValueError, match="unknown openings"):
        Capabilities(openings=frozenset({"hum"}))
    with pytest.raises(ValueError, match="tokens_per_second"):
        Capabilities(length="seconds")


def test_a_registered_way_is_listed_everywhere_until_it_is_removed():
    register(Toy())
    try:
        assert ("toy-lib", "Toy") in way_choices() and get_way("toy-lib").name == "toy-lib"
        assert [w.name for w in ways_taking("prime")] == ["abc", "midi", "toy-lib"]
        with pytest.raises(ValueError, match="new name"):
            register(Toy())
    finally:
        unregister("toy-lib")
    assert "toy-lib" not in dict(way_choices())
    with pytest.raises(ValueError, match="built in"):
        unregister("abc")


def test_a_source_only_one_way_reads_names_that_way():
    assert way_for_source("music21:bach-audio#limit=3") == "audio"
    assert way_for_source("music21:oneills1850") == "abc"


def test_a_way_without_notes_has_no_melody_to_read():
    with pytest.raises(UnreadableText, match="no notes"):
        notes_from_text(text="a1 a2 a3", way="audio")
    assert [n.pitch for n in notes_from_text(text="X:1\nK:C\nCDE|", way="abc")] == [60, 62, 64]
