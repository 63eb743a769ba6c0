"""MIDI to audio with FluidSynth: real length, real sound, tempo, trimming, bad input."""

import pytest

from musiclib.render import RenderError, abc_to_midi, audio_duration, audio_rms, midi_to_audio
from tests.library.render.tunes import SHORT_REEL

MUSIC_SECONDS = 16.0  # SHORT_REEL: 16 bars of 4 quarters at 240 quarters a minute
TAIL_SECONDS = 4.0  # FluidSynth renders on until the last notes have died away (about 2.6 s)
NOT_SILENT = 0.02  # RMS of a normalised melody is about 0.11; silence is 0.0


@pytest.fixture(scope="module")
def midi() -> bytes:
    return abc_to_midi(abc=SHORT_REEL)


@pytest.fixture(scope="module")
def ogg(midi: bytes) -> bytes:
    return midi_to_audio(midi=midi)


def test_it_renders_ogg_vorbis_of_the_tunes_real_length(ogg: bytes):
    assert ogg.startswith(b"OggS")
    assert MUSIC_SECONDS <= audio_duration(data=ogg) <= MUSIC_SECONDS + TAIL_SECONDS


def test_it_renders_audio_that_is_not_silent(ogg: bytes):
    assert audio_rms(data=ogg) > NOT_SILENT


@pytest.mark.parametrize("fmt, magic", [("mp3", (b"ID3", b"\xff\xfb")), ("wav", (b"RIFF",))])
def test_it_also_renders_mp3_and_wav(midi: bytes, fmt: str, magic: tuple[bytes, ...]):
    audio = midi_to_audio(midi=midi, fmt=fmt)

    assert audio.startswith(magic)
    assert MUSIC_SECONDS <= audio_duration(data=audio) <= MUSIC_SECONDS + TAIL_SECONDS
    assert audio_rms(data=audio) > NOT_SILENT


def test_it_plays_twice_as_fast_at_tempo_two(midi: bytes, ogg: bytes):
    fast = midi_to_audio(midi=midi, tempo=2.0)

    half = MUSIC_SECONDS / 2
    assert half <= audio_duration(data=fast) <= half + TAIL_SECONDS
    assert audio_duration(data=fast) < 0.65 * audio_duration(data=ogg)


def test_it_cuts_the_audio_at_max_seconds_with_a_fade(midi: bytes):
    audio = midi_to_audio(midi=midi, fmt="wav", max_seconds=5.0, fade_seconds=1.0)

    assert audio_duration(data=audio) == pytest.approx(5.0, abs=0.05)
    assert audio_rms(data=audio) > NOT_SILENT


def test_it_refuses_bytes_that_are_not_midi():
    with pytest.raises(RenderError, match="not a Standard MIDI File"):
        midi_to_audio(midi=b"ID3\x03\x00 definitely an mp3, not a MIDI file")


def test_it_refuses_a_midi_header_without_tracks():
    with pytest.raises(RenderError, match="no tracks"):
        midi_to_audio(midi=b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0")


@pytest.mark.parametrize(
    "options",
    [{"fmt": "flac"}, {"tempo": 0.0}, {"tempo": float("nan")}, {"max_seconds": -1.0}],
)
def test_it_refuses_options_it_cannot_honour(midi: bytes, options: dict):
    with pytest.raises(RenderError):
        midi_to_audio(midi=midi, **options)


def test_it_refuses_to_measure_empty_or_undecodable_audio():
    with pytest.raises(RenderError):
        audio_duration(data=b"")
    with pytest.raises(RenderError):
        audio_rms(data=b"this is not audio")
