"""Rendering of pieces: ABC checks and conversion, MIDI to audio, and sheet music as SVG.

Pure functions over bytes and strings (no models), calling abc2midi, FluidSynth, ffmpeg,
music21 and verovio. Every failure is a RenderError with a message fit to show.
"""

from .abc import Validity, abc_count_notes, abc_header, abc_to_midi, abc_to_musicxml, abc_validity
from .audio import audio_duration, audio_rms, midi_to_audio, wav_to_ogg
from .errors import RenderError
from .score import score_svg

__all__ = [
    "RenderError",
    "Validity",
    "abc_count_notes",
    "abc_header",
    "abc_to_midi",
    "abc_to_musicxml",
    "abc_validity",
    "audio_duration",
    "audio_rms",
    "midi_to_audio",
    "score_svg",
    "wav_to_ogg",
]
