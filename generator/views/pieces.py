"""One piece: its page, audio, downloads and spectrogram."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_safe

from common.http import bytes_response, client_ip, stored_file_response
from generator import selectors, services
from generator.models import GenerationJob, Piece
from generator.presenters import capabilities, piece_downloads, text_name
from generator.services.files import (
    FilePreparing,
    FileUnavailable,
    musicxml_bytes,
    piece_spectrogram_png,
)
from generator.views.helpers import (
    AUDIO_TYPES,
    FORMATS,
    SCORE_REFRESH_S,
    decorate,
    download_links,
    file_or_404,
    filename,
    serves_file,
    stored_score,
    text_format,
)
from musiclib.ways.base import Capabilities

log = logging.getLogger(__name__)


def get_piece(pk: int) -> Piece:
    try:
        return selectors.piece_get(pk=pk)
    except Piece.DoesNotExist:
        raise Http404("No piece with that number.") from None


# Rows the validity panel shows itself (those of notation only where the way checks bars),
# or as messages: left out of the rows read from validity_detail.
SHOWN_APART = {
    "messages", "errors", "warnings", "midi_error", "parses", "plays", "bar_accuracy", "n_notes",
}  # fmt: skip


# The checkers' keys in words a musician reads; a key not here is shown as it is named.
DETAIL_LABELS = {
    "n_bars_checked": "Bars checked",
    "tokens": "Length (symbols)",
    "decoder": "Decoded with",
    "seconds": "Seconds",
    "rms": "Loudness (RMS)",
    "spectral_flatness": "Noisiness (0 a pure tone, 1 noise)",
}


def _detail_items(detail: dict[str, Any], caps: Capabilities) -> list[tuple[str, str]]:
    """validity_detail as readable (label, value) rows; messages are listed separately, and
    the notation measures (parses, bars, notes) only where the way has them."""
    rows = []
    for key, value in (detail or {}).items():
        if key in SHOWN_APART:
            continue
        label = DETAIL_LABELS.get(key) or key.replace("_", " ").capitalize()
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, float):
            if "accuracy" in key or "share" in key:
                value = f"{value:.0%}"
            else:  # 1e-05 is no way to write a measure for people
                value = "< 0.001" if 0 < abs(value) < 0.001 else f"{value:.3g}"
        elif isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)[:300]
        rows.append((label, str(value)))
    return rows


def _detail_messages(detail: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in ("messages", "errors", "warnings"):
        value = (detail or {}).get(key)
        if isinstance(value, list):
            out.extend(str(v) for v in value[:30])
        elif value:
            out.append(str(value))
    return out


def primer_context(job: GenerationJob) -> dict[str, Any]:
    """The text a job primed its model with and, for a MIDI primer, where it came from."""
    try:
        source, text = services.prime_split(job.prime)
    except ValueError:
        source, text = None, job.prime
    tune_url = ""
    if source and source.get("kind") == "tune" and str(source.get("tune", "")).isdigit():
        tune_url = reverse("tune_detail", args=[int(source["tune"])])
    return {"primer": source, "prime_text": text, "primer_tune_url": tune_url}


@require_GET
def piece_detail(request: HttpRequest, pk: int) -> HttpResponse:
    piece = get_piece(pk)
    decorate([piece])
    job = piece.job
    caps = capabilities(piece.way)
    # The render task engraves a piece's score when the piece is stored; until it has, the
    # page says the score is being prepared (and asks again, in case that task was lost).
    # No notes, no score (a recording shows its spectrogram instead).
    pages, score_error, preparing = stored_score(
        caps, kind="pieces", pk=piece.pk, way=piece.way, text=piece.text
    )
    if preparing:
        services.piece_render_request(piece=piece)
    # The audio likewise: rendered by the worker; until then the page says it is being
    # prepared (and reloads), and the player appears once there is something to play.
    audio_preparing = False
    try:
        has_audio = bool(services.piece_audio_get(piece=piece))
    except FilePreparing:
        has_audio, audio_preparing = False, True
    except FileUnavailable:  # the page says why from the piece's own reasons
        has_audio = False
    offered = [fmt for fmt, has in piece_downloads(piece).items() if has]
    remaining = services.generation_allowance(user=request.user, ip=client_ip(request)).remaining
    return render(
        request,
        "generator/piece_detail.html",
        {
            "piece": piece,
            "job": job,
            "run": piece.run,
            "checkpoint": piece.checkpoint,
            "caps": caps,
            "pages": pages,
            "score_error": score_error,
            "score_preparing": preparing,
            "audio_preparing": audio_preparing,
            "refresh_s": SCORE_REFRESH_S,
            "downloads": download_links("piece_download", piece.pk, offered, caps),
            "audio_url": reverse("piece_audio", args=[piece.pk]) if has_audio else "",
            "midi_error": (piece.validity_detail or {}).get("midi_error", "")
            or (piece.validity_detail or {}).get("audio_error", ""),
            "spectrogram_url": reverse("piece_spectrogram", args=[piece.pk])
            if caps.is_audio and piece.audio
            else "",
            "text_format": caps.text_format,
            "text_name": text_name(caps),
            "detail_rows": _detail_items(piece.validity_detail, caps),
            "detail_messages": _detail_messages(piece.validity_detail),
            "can_generate": remaining is None or remaining > 0,
            **primer_context(job),
        },
    )


PIECE_AUDIO_FIELDS = ("pk", "title", "way", "text", "midi", "audio", "validity_detail")


@require_safe  # HEAD too: link checkers and players ask for the size first
@serves_file
def piece_audio(request: HttpRequest, pk: int) -> HttpResponse:
    piece = get_object_or_404(Piece.objects.only(*PIECE_AUDIO_FIELDS), pk=pk)
    name = services.piece_audio_get(piece=piece)
    ext = Path(name).suffix.lower()
    response = stored_file_response(
        request,
        name,
        content_type=AUDIO_TYPES.get(ext, "application/octet-stream"),
        filename=filename(piece.title, f"piece-{piece.pk}", ext.lstrip(".") or "ogg"),
        attachment=False,
    )
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
@serves_file
def piece_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Unknown format.")
    piece = get_object_or_404(Piece, pk=pk)
    fallback = f"piece-{piece.pk}"
    ext, content_type, _ = FORMATS[fmt]
    stored = ""  # a stored file's name: streamed (by ranges too) instead of read here
    if fmt in ("abc", "text"):
        if fmt != text_format(piece.way):
            raise Http404(f"This piece is not written as {FORMATS[fmt][2]}.")
        data = piece.text.encode("utf-8")
    elif fmt not in piece_downloads(piece):
        raise Http404(f"A piece of this way has no {FORMATS[fmt][2]} file.")
    elif fmt == "midi":
        if not piece.midi:
            raise Http404("This piece has no MIDI file.")
        stored = piece.midi.name
    elif fmt == "musicxml":
        data = musicxml_bytes(kind="pieces", pk=piece.pk, way=piece.way, text=piece.text)
    else:  # its sound: as the worker made it, or 202 while it does
        stored = services.piece_audio_get(piece=piece, fmt=fmt)
        if fmt == "audio":
            ext = Path(stored).suffix.lstrip(".").lower() or "ogg"
            content_type = AUDIO_TYPES.get(f".{ext}", content_type)
    if stored:
        return stored_file_response(
            request,
            stored,
            content_type=content_type,
            filename=filename(piece.title, fallback, ext),
            attachment=True,
        )
    return bytes_response(
        request,
        data,
        content_type=content_type,
        filename=filename(piece.title, fallback, ext),
        attachment=True,
    )


@require_GET
def piece_spectrogram(request: HttpRequest, pk: int) -> HttpResponse:
    """An audio piece's spectrogram as a PNG, drawn once on the server and cached."""
    piece = get_object_or_404(Piece.objects.only("pk", "way", "text", "audio"), pk=pk)
    if not capabilities(piece.way).is_audio or not piece.audio:
        raise Http404("Only an audio piece has a spectrogram.")
    with file_or_404():
        png = piece_spectrogram_png(piece)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response
