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
from generator.presenters import (
    capabilities,
    form_view,
    job_moves_text,
    piece_downloads,
    text_name,
)
from generator.services.files import FilePreparing, FileUnavailable
from generator.views.helpers import (
    AUDIO_TYPES,
    FORMATS,
    SCORE_REFRESH_S,
    decorate,
    download_links,
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
    # Files the worker makes (MusicXML, a recording's spectrogram): "being prepared" until then.
    spectrogram = caps.is_audio and bool(piece.audio)
    files_preparing = services.piece_files_preparing(
        piece=piece, names=[*offered, *(["spectrogram"] if spectrogram else [])]
    )
    remaining = services.generation_allowance(user=request.user, ip=client_ip(request)).remaining
    return render(
        request,
        "generator/piece_detail.html",
        {
            "piece": piece,
            "job": job,
            "moves_text": job_moves_text(job),
            "run": piece.run,
            "checkpoint": piece.checkpoint,
            "caps": caps,
            "pages": pages,
            "score_error": score_error,
            "score_preparing": preparing,
            "audio_preparing": audio_preparing,
            "files_preparing": bool(files_preparing),
            "refresh_s": SCORE_REFRESH_S,
            "downloads": download_links(
                "piece_download", piece.pk, offered, caps, preparing=files_preparing
            ),
            "audio_url": reverse("piece_audio", args=[piece.pk]) if has_audio else "",
            "midi_error": (piece.validity_detail or {}).get("midi_error", "")
            or (piece.validity_detail or {}).get("audio_error", ""),
            "spectrogram_url": reverse("piece_spectrogram", args=[piece.pk]) if spectrogram else "",
            "spectrogram_preparing": "spectrogram" in files_preparing,
            "text_format": caps.text_format,
            "text_name": text_name(caps),
            "detail_rows": _detail_items(piece.validity_detail, caps),
            "form_map": form_view(piece.text, caps),
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


@require_safe  # HEAD too: the size and byte ranges without the bytes
@serves_file
def piece_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Unknown format.")
    piece = get_object_or_404(Piece, pk=pk)
    fallback = f"piece-{piece.pk}"
    ext, content_type, _ = FORMATS[fmt]
    if fmt in ("abc", "text"):
        if fmt != text_format(piece.way):
            raise Http404(f"This piece is not written as {FORMATS[fmt][2]}.")
        return bytes_response(
            request,
            piece.text.encode("utf-8"),
            content_type=content_type,
            filename=filename(piece.title, fallback, ext),
            attachment=True,
        )
    # Every other file is stored (its MIDI when written, the rest by the render task) and
    # streamed, by ranges too; a file the worker is still making is a 202 (serves_file).
    if fmt not in piece_downloads(piece):
        raise Http404(f"A piece of this way has no {FORMATS[fmt][2]} file.")
    if fmt == "midi":
        if not piece.midi:
            raise Http404("This piece has no MIDI file.")
        stored = piece.midi.name
    elif fmt == "musicxml":
        stored = services.piece_musicxml_get(piece=piece)
    else:  # its sound
        stored = services.piece_audio_get(piece=piece, fmt=fmt)
        if fmt == "audio":
            ext = Path(stored).suffix.lstrip(".").lower() or "ogg"
            content_type = AUDIO_TYPES.get(f".{ext}", content_type)
    return stored_file_response(
        request,
        stored,
        content_type=content_type,
        filename=filename(piece.title, fallback, ext),
        attachment=True,
    )


@require_safe  # HEAD too
@serves_file
def piece_spectrogram(request: HttpRequest, pk: int) -> HttpResponse:
    """An audio piece's spectrogram as a PNG, drawn once by the render task (a 202 until)."""
    piece = get_object_or_404(Piece.objects.only("pk", "title", "way", "text", "audio"), pk=pk)
    response = stored_file_response(
        request,
        services.piece_spectrogram_get(piece=piece),
        content_type="image/png",
        filename=filename(piece.title, f"piece-{piece.pk}", "png"),
        attachment=False,
    )
    response["Cache-Control"] = "public, max-age=86400"
    return response
