"""MIDI to audio with FluidSynth and ffmpeg, plus the measurements tests and checks need."""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

import numpy as np

from ..config import DEFAULT_SOUNDFONT  # noqa: F401  (re-exported for callers)
from ._proc import output_tail, run
from .errors import RenderError

SAMPLE_RATE = 44100
# Peak level of the output. FluidSynth's default gain leaves a solo melody near -40 dBFS RMS,
# too quiet next to other audio; it renders in float (no clipping) and the peak is set here.
PEAK_DBFS = -1.0
MAX_BOOST_DB = 40.0  # near-silent renders (a lone quiet note) stay quiet rather than hiss

# ffmpeg encoder arguments per output format. VBR quality 4 is about 128 kbit/s: plenty for a
# General MIDI soundfont, small enough to stream from a web page.
_ENCODERS: dict[str, list[str]] = {
    "ogg": ["-c:a", "libvorbis", "-q:a", "4"],
    "mp3": ["-c:a", "libmp3lame", "-q:a", "4"],
    "wav": ["-c:a", "pcm_s16le"],
}


def soundfont_path() -> Path:
    """The site's SOUNDFONT_PATH setting, or Debian's FluidR3 GM font outside the site."""
    from .. import config

    return config.soundfont_path()


def midi_to_audio(
    *,
    midi: bytes,
    fmt: str = "ogg",
    tempo: float = 1.0,
    max_seconds: float | None = None,
    fade_seconds: float = 0.0,
) -> bytes:
    """Render a Standard MIDI File to ogg (Vorbis), mp3 or wav bytes.

    tempo: speed factor (2.0 plays twice as fast, pitch unchanged). max_seconds: cut the audio
    there. fade_seconds: fade out over the last seconds of the (possibly cut) audio.
    """
    if fmt not in _ENCODERS:
        raise RenderError(f"unknown audio format {fmt!r}; use one of {', '.join(_ENCODERS)}")
    if not (math.isfinite(tempo) and tempo > 0):
        raise RenderError(f"tempo must be a positive number, not {tempo!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise RenderError(f"max_seconds must be positive, not {max_seconds!r}")
    if not fade_seconds >= 0:
        raise RenderError(f"fade_seconds must be zero or more, not {fade_seconds!r}")
    midi = _scale_tempo(_checked_midi(midi), tempo)
    soundfont = soundfont_path()
    if not soundfont.is_file():
        raise RenderError(f"soundfont {soundfont} does not exist (the SOUNDFONT_PATH setting)")

    with tempfile.TemporaryDirectory(prefix="render-audio-") as tmp:
        workdir = Path(tmp)
        (workdir / "in.mid").write_bytes(midi)
        proc = run(
            ["fluidsynth", "-ni", "-q", "-O", "float", "-F", "synth.wav", "-r", str(SAMPLE_RATE)]
            + [str(soundfont), "in.mid"],
            cwd=workdir,
        )
        wav = workdir / "synth.wav"
        if proc.returncode != 0 or not wav.is_file() or wav.stat().st_size <= 44:
            raise RenderError(f"fluidsynth could not render the MIDI: {output_tail(proc)}")

        filters = [f"volume={_normalising_gain_db(wav):.2f}dB"]
        if fade_seconds > 0:
            end = _probe_seconds(wav)
            if max_seconds is not None:
                end = min(end, max_seconds)
            start = max(0.0, end - fade_seconds)
            filters.append(f"afade=t=out:st={start:.3f}:d={end - start:.3f}")
        args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", wav.name]
        if max_seconds is not None:
            args += ["-t", f"{max_seconds:.3f}"]
        out = workdir / f"out.{fmt}"
        args += ["-af", ",".join(filters), *_ENCODERS[fmt], out.name]
        proc = run(args, cwd=workdir)
        if proc.returncode != 0 or not out.is_file():
            raise RenderError(f"ffmpeg could not encode {fmt}: {output_tail(proc)}")
        return out.read_bytes()


def wav_to_ogg(*, wav: bytes, seconds: float | None = None, bare: bool = False) -> bytes:
    """Encode WAV bytes as Ogg Vorbis (quality 4, as `midi_to_audio` does).

    seconds: pad with silence or cut to exactly this long. bare: no metadata tags and no
    encoder version in the stream, so the bytes say nothing but the sound (survey clips).
    Raises RenderError when ffmpeg cannot encode it.
    """
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", "in.wav"]
    if seconds is not None:
        # apad + -t: audio that stops early is padded with silence to the exact length.
        args += ["-af", "apad", "-t", f"{seconds:.3f}"]
    if bare:
        args += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
    with tempfile.TemporaryDirectory(prefix="render-ogg-") as tmp:
        Path(tmp, "in.wav").write_bytes(wav)
        proc = run([*args, *_ENCODERS["ogg"], "out.ogg"], cwd=tmp)
        out = Path(tmp, "out.ogg")
        if proc.returncode != 0 or not out.is_file():
            raise RenderError(f"ffmpeg could not encode the audio as OGG: {output_tail(proc)}")
        return out.read_bytes()


def audio_duration(*, data: bytes) -> float:
    """Length in seconds of encoded audio (any format ffmpeg reads), from ffprobe."""
    with tempfile.TemporaryDirectory(prefix="render-probe-") as tmp:
        path = Path(tmp, "audio")
        path.write_bytes(_checked_audio(data))
        return _probe_seconds(path)


def audio_rms(*, data: bytes) -> float:
    """Root-mean-square level of the audio, 0.0 (silence) to 1.0 (full-scale square wave)."""
    with tempfile.TemporaryDirectory(prefix="render-rms-") as tmp:
        path = Path(tmp, "audio")
        path.write_bytes(_checked_audio(data))
        # Mono 16-bit at 22.05 kHz is plenty for a loudness figure and halves the work.
        proc = run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", path.name]
            + ["-f", "s16le", "-ac", "1", "-ar", "22050", "-"],
            cwd=tmp,
        )
    if proc.returncode != 0:
        raise RenderError(f"ffmpeg could not decode the audio: {output_tail(proc)}")
    samples = np.frombuffer(proc.stdout, dtype="<i2").astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def _checked_midi(midi: bytes) -> bytes:
    """`midi` if it is a well-formed Standard MIDI File with at least one track.

    FluidSynth says little about bad input: non-MIDI bytes get a terse message, and a MIDI
    header with broken tracks renders silence with exit status 0. Walking the chunks (a cheap
    check; events are not parsed) turns both into a clear error.
    """
    if len(midi) < 14 or not midi.startswith(b"MThd"):
        raise RenderError("not a Standard MIDI File (no MThd header)")
    position = 8 + int.from_bytes(midi[4:8], "big")
    tracks = 0
    while position + 8 <= len(midi):
        size = int.from_bytes(midi[position + 4 : position + 8], "big")
        if position + 8 + size > len(midi):
            raise RenderError("the MIDI file is truncated")
        tracks += midi[position : position + 4] == b"MTrk"
        position += 8 + size
    if tracks == 0:
        raise RenderError("the MIDI file has no tracks")
    return midi


def _checked_audio(data: bytes) -> bytes:
    if not data:
        raise RenderError("no audio data")
    return data


def _scale_tempo(midi: bytes, tempo: float) -> bytes:
    """Play `tempo` times as fast by scaling the header's ticks per quarter note.

    Every event time and every tempo change is counted in ticks, so multiplying the division
    scales them all at once, with no need to parse the tracks (mido is not installed). The
    rounding error is at most 0.5 tick per quarter (0.1 % for abc2midi's 480).
    """
    if tempo == 1.0:
        return midi
    division = int.from_bytes(midi[12:14], "big")
    if division & 0x8000:
        raise RenderError("cannot change the tempo of a MIDI file timed in SMPTE frames")
    scaled = round(division * tempo)
    if not 1 <= scaled <= 0x7FFF:
        raise RenderError(f"tempo {tempo:g} is out of range for this MIDI file")
    return midi[:12] + scaled.to_bytes(2, "big") + midi[14:]


def _normalising_gain_db(wav: Path) -> float:
    """The gain that brings the rendered audio's peak to PEAK_DBFS (ffmpeg's volumedetect)."""
    proc = run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(wav), "-af", "volumedetect"]
        + ["-f", "null", "-"]
    )
    match = re.search(rb"max_volume: (-?[\d.]+|-inf) dB", proc.stderr)
    if proc.returncode != 0 or match is None:
        raise RenderError(f"ffmpeg could not measure the audio level: {output_tail(proc)}")
    peak = float(match.group(1))
    return min(PEAK_DBFS - peak, MAX_BOOST_DB) if math.isfinite(peak) else 0.0


def _probe_seconds(path: Path) -> float:
    proc = run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
        + [str(path)]
    )
    try:
        return float(proc.stdout.decode().strip())
    except ValueError:
        raise RenderError(f"ffprobe cannot read the audio: {output_tail(proc)}") from None
