"""Files made from pieces and tunes on demand (scores, MusicXML, MIDI, audio), made once and
kept in the site's storage (common.storage: MEDIA_ROOT or the object store), named by the
object and a hash of its text: a changed text gets a new file, and nothing from a request
ever reaches a name.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation

from common.storage import file_exists, file_read, file_write
from generator.models import Piece, Tune

log = logging.getLogger(__name__)


class FileUnavailable(LookupError):
    """The file cannot be had (missing, or it could not be made); the message says why,
    for people. Pages answer it with a 404."""


class FilePreparing(LookupError):
    """The worker has not made the file yet and was asked to (generator.services.renders):
    pages say it is being prepared, a file's URL answers 202 with Retry-After."""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def media_cache(kind: str, pk: int, text: str, ext: str) -> str:
    """A storage name made of the object and a hash of its text: a changed text gets a new
    file, and nothing from the request ever reaches the name."""
    return f"{kind}/{int(pk)}-{digest(text)}.{ext}"


def _cached(name: str) -> bytes | None:
    """The stored bytes of a made file, or None when it was not made yet."""
    try:
        return file_read(name)
    except FileNotFoundError:
        return None


def score_input(way_name: str, text: str) -> tuple[str, str]:
    """What verovio engraves: ABC as it is, any other way's notes as MusicXML."""
    from musiclib.ways import get_way

    way = get_way(way_name)
    if way.capabilities.text_format == "abc":
        return text, "abc"
    return way.to_musicxml(text).decode("utf-8"), "musicxml"


def score_name(*, kind: str, pk: int, way: str, text: str) -> str:
    """Where the engraved score of this object's text is kept."""
    return media_cache(f"scores/{kind}", pk, f"{way}\n{text}", "json")


def score_stored(*, kind: str, pk: int, way: str, text: str) -> tuple[list[str], str] | None:
    """The engraved score as it was kept: (pages, error message), or None when it has not
    been made yet (or its file is damaged: then it is made again). Reads, never engraves:
    this is what pages call, so no request waits on an engraving."""
    stored = _cached(score_name(kind=kind, pk=pk, way=way, text=text))
    if stored is None:
        return None
    try:
        data = json.loads(stored.decode("utf-8"))
    except ValueError:
        return None
    if isinstance(data, list):  # the pages themselves
        return [str(page) for page in data], ""
    if isinstance(data, dict):  # a score that could not be engraved, and why
        return [str(page) for page in data.get("pages") or []], str(data.get("error") or "")
    return None


def score_pages(*, kind: str, pk: int, way: str, text: str) -> tuple[list[str], str]:
    """Engraved score pages (sanitised SVG from the render module), computed once and kept.

    Returns (pages, error message). A text that cannot be engraved is kept as its reason (the
    same text fails the same way), so its page says why instead of waiting for a score.
    Called by the render tasks (generator.services.pieces.piece_render, tunes.tune_render)."""
    found = score_stored(kind=kind, pk=pk, way=way, text=text)
    if found is not None:
        return found
    try:
        from musiclib.render import score_svg

        data, fmt = score_input(way, text)
        pages, error = score_svg(data=data, fmt=fmt), ""
    except Exception as exc:  # RenderError, a missing way, a converter's own error
        log.info("no score for %s %s: %s", kind, pk, exc)
        pages, error = [], short_error(exc)
    kept = pages if not error else {"pages": [], "error": error}
    file_write(score_name(kind=kind, pk=pk, way=way, text=text), json.dumps(kept).encode("utf-8"))
    return pages, error


def piece_audio_error(piece: Piece) -> str:
    """Why the piece has no audio and will get none ("" when it has or may still get it)."""
    if piece.audio:
        return ""
    if not piece.midi:
        return "This piece has no MIDI, so it has no audio."
    error = (piece.validity_detail or {}).get("audio_error")
    return f"The audio could not be rendered: {error}" if error else ""


def piece_ogg_name(piece: Piece) -> str:
    """Where an audio-way piece's OGG (encoded from its WAV) is kept."""
    return media_cache("pieces/ogg", piece.pk, piece.text, "ogg")


def piece_audio_file(piece: Piece, fmt: str) -> bytes:
    """An audio-way piece as WAV (its stored file) or OGG (encoded once, then kept): for the
    render task (pieces.piece_render); pages read what it kept."""
    if not is_audio_way(piece.way) or not piece.audio:
        raise FileUnavailable(f"This piece has no {fmt.upper()} file.")
    wav = field_bytes(piece.audio)
    if fmt == "wav":
        return wav
    name = piece_ogg_name(piece)
    stored = _cached(name)
    if stored is not None:
        return stored
    from musiclib.render import RenderError, wav_to_ogg

    try:
        data = wav_to_ogg(wav=wav)
    except RenderError:
        raise FileUnavailable("The OGG file could not be encoded.") from None
    file_write(name, data)
    return data


def piece_audio_stored_name(piece: Piece, fmt: str = "audio") -> str | None:
    """The storage name of the piece's sound as it is kept, None when the worker has not
    made it yet. `audio`: its audio file (OGG rendered from its MIDI, or a recording's WAV);
    `wav`, `ogg`: a recording as WAV or OGG. Reads, never renders; FileUnavailable when the
    piece has no such sound and will get none."""
    if fmt in ("wav", "ogg") and not is_audio_way(piece.way):
        raise FileUnavailable(f"This piece has no {fmt.upper()} file.")
    error = piece_audio_error(piece)
    if error:
        raise FileUnavailable(error)
    if not piece.audio:
        return None
    if fmt == "ogg":
        name = piece_ogg_name(piece)
        return name if file_exists(name) else None
    return piece.audio.name


def piece_has_musicxml(piece: Piece) -> bool:
    """A piece is written as MusicXML unless it is known not to parse (then music21 cannot
    read it either): the one rule for its download link, its URL and its render task."""
    return piece.parses is not False


def musicxml_name(*, kind: str, pk: int, way: str, text: str) -> str:
    """Where the MusicXML of this object's text is kept."""
    return media_cache(f"musicxml/{kind}", pk, f"{way}\n{text}", "musicxml")


def musicxml_bytes(*, kind: str, pk: int, way: str, text: str) -> bytes:
    """The text as MusicXML (music21: 65-75 ms for a typical tune), made once and kept, or
    the reason it cannot be (kept too). For the render tasks; a download reads what they
    kept (renders.piece_musicxml_get)."""
    from musiclib.ways import get_way

    return made_once(
        musicxml_name(kind=kind, pk=pk, way=way, text=text),
        lambda: get_way(way).to_musicxml(text),
        failure="This piece cannot be written as MusicXML",
    )


def tune_midi_bytes(tune: Tune) -> bytes:
    name = media_cache("tunes/midi", tune.pk, tune.text, "mid")
    stored = _cached(name)
    if stored is not None:
        return stored
    from musiclib.ways import get_way

    try:
        data = get_way(tune.corpus.way).to_midi(tune.text)
    except Exception as exc:
        raise FileUnavailable(f"This tune cannot be turned into MIDI: {short_error(exc)}") from None
    file_write(name, data)
    return data


def tune_audio_name(tune: Tune) -> str:
    """Where a notes tune's audio (OGG made from its MIDI) is kept."""
    return media_cache("tunes/audio", tune.pk, tune.text, "ogg")


def tune_audio_error_name(tune: Tune) -> str:
    """Where the reason a notes tune's audio could not be made is kept (its page says it
    instead of waiting for audio that will not come)."""
    return media_cache("tunes/audio", tune.pk, tune.text, "error.txt")


def tune_audio_stored_name(tune: Tune) -> str | None:
    """The storage name of the tune's audio as it is kept (a recording's own file, or the
    OGG the worker made), None when it has not been made yet. Reads, never renders."""
    if is_audio_way(tune.corpus.way):  # a recording: its own file (FLAC) plays as it is
        if not tune.data:
            raise FileUnavailable("This recording's file is missing.")
        return tune.data.name
    name = tune_audio_name(tune)
    if file_exists(name):
        return name
    error = _cached(tune_audio_error_name(tune))
    if error is not None:
        raise FileUnavailable(error.decode("utf-8", "replace"))
    return None


def tune_audio_bytes(tune: Tune) -> bytes:
    """The tune's audio, rendered now (FluidSynth) when it was not made before: for the
    render task (renders.tune_render); a reason it cannot be made is kept beside it."""
    if is_audio_way(tune.corpus.way):
        if not tune.data:
            raise FileUnavailable("This recording's file is missing.")
        return field_bytes(tune.data)
    name = tune_audio_name(tune)
    stored = _cached(name)
    if stored is not None:
        return stored
    try:
        midi = tune_midi_bytes(tune)
        from musiclib.render import midi_to_audio

        data = midi_to_audio(midi=midi, fmt="ogg")
    except Exception as exc:
        log.warning("audio for tune %s failed: %s", tune.pk, exc)
        reason = exc if isinstance(exc, FileUnavailable) else None
        message = str(reason) if reason else f"The audio could not be rendered: {short_error(exc)}"
        file_write(tune_audio_error_name(tune), message.encode("utf-8"))
        raise FileUnavailable(message) from None
    file_write(name, data)
    return data


def is_audio_way(way_name: str) -> bool:
    """The way's pieces and tunes are recordings."""
    from musiclib.ways import get_way

    try:
        return get_way(way_name).capabilities.is_audio
    except ValueError:  # a way no longer registered
        return False


def field_bytes(field) -> bytes:
    # A stored name outside the storage's root (a tampered row) or a file that is gone is a
    # 404, never a 400/500 and never a read outside media storage (the storage refuses it).
    try:
        with field.open("rb") as fh:
            return fh.read()
    except (SuspiciousOperation, FileNotFoundError, IsADirectoryError):
        raise FileUnavailable("This file is not available.") from None


def short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def piece_spectrogram_name(piece: Piece) -> str:
    """Where an audio piece's spectrogram (a PNG) is kept."""
    return media_cache("pieces/spectrograms", piece.pk, piece.text, "png")


def piece_spectrogram_png(piece: Piece) -> bytes:
    """An audio piece's spectrogram as a PNG (60-95 ms warm for 10-30 s of sound, 0.7 s in a
    fresh process), drawn once by the render task and kept, or the reason it cannot be."""
    if not is_audio_way(piece.way) or not piece.audio:
        raise FileUnavailable("Only an audio piece has a spectrogram.")

    def draw() -> bytes:
        from musiclib.audio.dsp import read_wav_bytes
        from musiclib.audio.image import spectrogram_png

        return spectrogram_png(read_wav_bytes(field_bytes(piece.audio)))

    return made_once(
        piece_spectrogram_name(piece), draw, failure="The spectrogram could not be drawn"
    )


def _reason_name(name: str) -> str:
    return f"{name}.error.txt"


def made_once(name: str, make: Callable[[], bytes], *, failure: str) -> bytes:
    """The bytes kept under `name`, or made now by `make` and kept. When they cannot be made,
    the reason ("`failure`: why") is kept beside them, so a URL asking for them says why
    instead of waiting for a file that will not come; raises FileUnavailable with it."""
    stored = _cached(name)
    if stored is not None:
        return stored
    try:
        data = make()
    except Exception as exc:  # a converter's own error, a file that is gone
        message = str(exc) if isinstance(exc, FileUnavailable) else f"{failure}: {short_error(exc)}"
        log.info("could not make %s: %s", name, message)
        file_write(_reason_name(name), message.encode("utf-8"))
        raise FileUnavailable(message) from None
    file_write(name, data)
    return data


def made_name(name: str) -> str | None:
    """`name` when the worker made that file (made_once), None when it has not yet. Reads,
    never makes; FileUnavailable with the kept reason when it could not be made."""
    if file_exists(name):
        return name
    reason = _cached(_reason_name(name))
    if reason is not None:
        raise FileUnavailable(reason.decode("utf-8", "replace"))
    return None
