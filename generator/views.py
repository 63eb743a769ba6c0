"""The site's pages: gallery, pieces, generation, runs, corpora and tunes.

Views read through `selectors` and change things only through `services`. Scores and tune
audio are rendered once and kept under MEDIA_ROOT; piece audio is rendered on demand by the
audio URL itself when the worker has not done it yet, so no page waits for FluidSynth.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, SuspiciousFileOperation
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services
from .forms import (
    COMMON_KEYS,
    COMMON_METERS,
    GalleryFilterForm,
    GenerateForm,
    ResumeForm,
    TuneFilterForm,
)
from .models import Corpus, GenerationJob, JobStatus, Piece, TrainingRun, Tune

log = logging.getLogger(__name__)

PAGE_SIZES = (12, 24, 48, 96)
DEFAULT_PAGE_SIZE = 24
FORMATS = {
    # fmt: (extension, content type, label)
    "abc": ("abc", "text/vnd.abc; charset=utf-8", "ABC"),
    "text": ("txt", "text/plain; charset=utf-8", "Notes as text"),
    "midi": ("mid", "audio/midi", "MIDI"),
    "musicxml": ("musicxml", "application/vnd.recordare.musicxml+xml", "MusicXML"),
    "audio": ("ogg", "audio/ogg", "Audio (OGG)"),
    "wav": ("wav", "audio/wav", "Audio (WAV)"),
    "ogg": ("ogg", "audio/ogg", "Audio (OGG)"),
}
AUDIO_TYPES = {
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
}


# --- small helpers ---------------------------------------------------------------------------


def _client_ip(request: HttpRequest) -> str | None:
    """The visitor's address, for the hourly limit. Behind N trusted reverse proxies
    (settings.TRUSTED_PROXY_COUNT, 0 by default) it is the N-th address from the right of
    X-Forwarded-For: the one the nearest trusted proxy saw; anything left of it is whatever
    the client chose to send."""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            try:
                return str(ipaddress.ip_address(forwarded[-proxies]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR") or None


def _page_size(request: HttpRequest) -> int:
    try:
        size = int(request.GET.get("per_page", DEFAULT_PAGE_SIZE))
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def _text_format(way: str) -> str:
    """How a piece's own text downloads: ABC for the ABC way, plain text (tokens) otherwise."""
    return "abc" if way == "abc" else "text"


def _filename(title: str, fallback: str, ext: str) -> str:
    return f"{slugify(title)[:80] or fallback}.{ext}"


def validity_badge(piece: Piece) -> dict[str, str]:
    """valid / parses / invalid / checking, with a sentence saying why."""
    acc = piece.bar_accuracy
    acc_text = f"{acc:.0%} of bars add up" if acc is not None else "bars not checked"
    if piece.parses is None:
        return {"kind": "pending", "label": "checking", "title": "Not checked yet"}
    if piece.is_valid:
        return {"kind": "valid", "label": "valid", "title": f"Parses, plays; {acc_text}"}
    if piece.parses:
        plays = "plays" if piece.plays else "does not play"
        return {"kind": "parses", "label": "parses", "title": f"Parses, {plays}; {acc_text}"}
    return {"kind": "invalid", "label": "invalid", "title": "Does not parse as a tune"}


def novelty_of(piece: Piece) -> float | None:
    """The evaluation app's novelty score, once it exists (getattr: it may not yet)."""
    if selectors.evaluation_relation() is None:
        return None
    evaluation = getattr(piece, "evaluation", None)
    if evaluation is None:
        return None
    for name in ("novelty", "novelty_index", "novelty_score"):
        value = getattr(evaluation, name, None)
        if isinstance(value, (int, float)):
            return float(value)
    return None


def likely_copy(piece: Piece) -> bool:
    """The evaluation's verdict that the piece borrows too much from its corpus."""
    if selectors.evaluation_relation() is None:
        return False
    return getattr(getattr(piece, "evaluation", None), "likely_copy", None) is True


def _decorate(pieces) -> list[Piece]:
    """Attach what a card shows and the model cannot say by itself; no queries."""
    pieces = list(pieces)
    for piece in pieces:
        piece.badge = validity_badge(piece)
        piece.novelty = novelty_of(piece)
        piece.likely_copy = likely_copy(piece)
    return pieces


def _card_html(request: HttpRequest, piece: Piece) -> str:
    return render_to_string("generator/_piece_card.html", {"piece": piece}, request=request)


# --- files: ranges, caches -------------------------------------------------------------------

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _bytes_response(
    request: HttpRequest,
    data: bytes,
    *,
    content_type: str,
    filename: str,
    attachment: bool,
) -> HttpResponse:
    """The bytes, or the byte range the browser asked for (audio seeking needs ranges)."""
    size = len(data)
    status, body, headers = 200, data, {}
    match = RANGE.match(request.headers.get("Range", "").strip())
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first:
            start, end = int(first), int(last) if last else size - 1
        else:  # the last N bytes
            start, end = max(size - int(last), 0), size - 1
        end = min(end, size - 1)
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        status, body = 206, data[start : end + 1]
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    response = HttpResponse(body, status=status, content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    response["Accept-Ranges"] = "bytes"
    response["Content-Length"] = str(len(body))
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def _read_field(field) -> bytes:
    # A stored name outside MEDIA_ROOT (a tampered row) or a file that is gone is a 404,
    # never a 400/500 and never a read outside media storage (storage.path refuses it).
    try:
        with field.open("rb") as fh:
            return fh.read()
    except (SuspiciousFileOperation, FileNotFoundError, IsADirectoryError):
        raise Http404("This file is not available.") from None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _media_cache(kind: str, pk: int, text: str, ext: str) -> Path:
    """A file under MEDIA_ROOT named by the object and a hash of its text: a changed text
    gets a new file, and nothing from the request ever reaches the path."""
    return Path(settings.MEDIA_ROOT) / kind / f"{int(pk)}-{_digest(text)}.{ext}"


def _score_input(way_name: str, text: str) -> tuple[str, str]:
    if way_name == "abc":
        return text, "abc"
    from musiclib.ways import get_way

    return get_way(way_name).to_musicxml(text).decode("utf-8"), "musicxml"


def score_pages(*, kind: str, pk: int, way: str, text: str) -> tuple[list[str], str]:
    """Engraved score pages (sanitised SVG from the render module), computed once.

    Returns (pages, error message)."""
    path = _media_cache(f"scores/{kind}", pk, f"{way}\n{text}", "json")
    if path.exists():
        try:
            return json.loads(path.read_text(encoding="utf-8")), ""
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    try:
        from musiclib.render import score_svg

        data, fmt = _score_input(way, text)
        pages = score_svg(data=data, fmt=fmt)
    except Exception as exc:  # RenderError, a missing way, a converter's own error
        log.info("no score for %s %s: %s", kind, pk, exc)
        return [], _short_error(exc)
    _write_atomic(path, json.dumps(pages).encode("utf-8"))
    return pages, ""


def _short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


# --- gallery ---------------------------------------------------------------------------------


class CappedPaginator(Paginator):
    """Counts at most `cap` rows. Counting every piece of a large gallery costs more than the
    page itself, and nobody pages 100 pages deep: beyond the cap the page says "more than"
    and asks for a filter or a sort (oldest first reaches the other end)."""

    cap = 2400

    @cached_property
    def count(self) -> int:
        n = self.object_list.order_by().values("pk")[: self.cap + 1].count()
        self.capped = n > self.cap
        return min(n, self.cap)


@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    form = GalleryFilterForm(request.GET or None)
    filters = form.filters() if request.GET else {}
    ordering = selectors.piece_ordering(filters.get("sort"))
    paginator = CappedPaginator(selectors.piece_list(filters=filters), _page_size(request))
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = _decorate(selectors.piece_page_rows(page.object_list))
    active = {k: v for k, v in filters.items() if k != "sort"}
    return render(
        request,
        "generator/gallery.html",
        {
            "form": form,
            "page": page,
            "pieces": page.object_list,
            "ordering": ordering,
            "asked_sort": filters.get("sort", "newest"),
            "filtered": bool(active),
            "page_sizes": PAGE_SIZES,
            "per_page": paginator.per_page,
        },
    )


@require_GET
def piece_cards(request: HttpRequest) -> JsonResponse:
    """Cards of the given pieces, for pages that wait for audio to be rendered."""
    ids = [int(x) for x in request.GET.get("ids", "").split(",") if x.strip().isdigit()]
    pieces = _decorate(selectors.pieces_by_ids(ids=ids))
    return JsonResponse(
        {
            "cards": {
                str(p.pk): {"audio": bool(p.audio), "html": _card_html(request, p)} for p in pieces
            }
        }
    )


# --- one piece -------------------------------------------------------------------------------


def _get_piece(pk: int) -> Piece:
    try:
        return selectors.piece_get(pk=pk)
    except Piece.DoesNotExist:
        raise Http404("No piece with that number.") from None


def _detail_items(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """validity_detail as readable (label, value) rows; messages are listed separately."""
    rows = []
    for key, value in (detail or {}).items():
        if key in ("messages", "errors", "warnings"):
            continue
        label = key.replace("_", " ").capitalize()
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, float):
            value = f"{value:.0%}" if "accuracy" in key or "share" in key else f"{value:.3g}"
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


def _primer_context(job: GenerationJob) -> dict[str, Any]:
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
    piece = _get_piece(pk)
    _decorate([piece])
    job = piece.job
    downloads = [(_text_format(piece.way), FORMATS[_text_format(piece.way)][2])]
    if piece.way == "audio":
        # An audio piece has no notes: no score, MIDI or MusicXML; a spectrogram instead.
        pages, score_error = [], ""
        if piece.audio:
            downloads += [("wav", FORMATS["wav"][2]), ("ogg", FORMATS["ogg"][2])]
    else:
        pages, score_error = score_pages(kind="pieces", pk=piece.pk, way=piece.way, text=piece.text)
        if piece.midi:
            downloads.append(("midi", FORMATS["midi"][2]))
        if piece.parses is not False:
            downloads.append(("musicxml", FORMATS["musicxml"][2]))
        if piece.audio or piece.midi:
            downloads.append(("audio", FORMATS["audio"][2]))
    remaining = _allowance(request)[0]
    return render(
        request,
        "generator/piece_detail.html",
        {
            "piece": piece,
            "job": job,
            "run": piece.run,
            "checkpoint": piece.checkpoint,
            "pages": pages,
            "score_error": score_error,
            "downloads": [
                (reverse("piece_download", args=[piece.pk, fmt]), label, fmt)
                for fmt, label in downloads
            ],
            "audio_url": reverse("piece_audio", args=[piece.pk])
            if (piece.audio or piece.midi)
            else "",
            "midi_error": (piece.validity_detail or {}).get("midi_error", "")
            or (piece.validity_detail or {}).get("audio_error", ""),
            "spectrogram_url": reverse("piece_spectrogram", args=[piece.pk])
            if piece.way == "audio" and piece.audio
            else "",
            "text_format": _text_format(piece.way),
            "detail_rows": _detail_items(piece.validity_detail),
            "detail_messages": _detail_messages(piece.validity_detail),
            "can_generate": remaining is None or remaining > 0,
            **_primer_context(job),
        },
    )


def _piece_audio_bytes(piece: Piece) -> bytes:
    """The piece's audio file, rendered now with FluidSynth when the worker has not yet."""
    if not piece.audio:
        if not piece.midi:
            raise Http404("This piece has no MIDI, so it has no audio.")
        try:
            services.piece_render_audio(piece=piece)
        except Exception as exc:
            log.warning("audio for piece %s failed: %s", piece.pk, exc)
            raise Http404(f"The audio could not be rendered: {_short_error(exc)}") from None
    return _read_field(piece.audio)


@require_GET
def piece_audio(request: HttpRequest, pk: int) -> HttpResponse:
    piece = get_object_or_404(Piece.objects.only("pk", "title", "midi", "audio"), pk=pk)
    data = _piece_audio_bytes(piece)
    ext = Path(piece.audio.name).suffix.lower()
    response = _bytes_response(
        request,
        data,
        content_type=AUDIO_TYPES.get(ext, "application/octet-stream"),
        filename=_filename(piece.title, f"piece-{piece.pk}", ext.lstrip(".") or "ogg"),
        attachment=False,
    )
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
def piece_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Unknown format.")
    piece = get_object_or_404(Piece, pk=pk)
    fallback = f"piece-{piece.pk}"
    ext, content_type, _ = FORMATS[fmt]
    if fmt in ("abc", "text"):
        if fmt != _text_format(piece.way):
            raise Http404(f"This piece is not written as {FORMATS[fmt][2]}.")
        data = piece.text.encode("utf-8")
    elif fmt == "midi":
        if not piece.midi:
            raise Http404("This piece has no MIDI file.")
        data = _read_field(piece.midi)
    elif fmt == "musicxml":
        data = _musicxml(kind="pieces", pk=piece.pk, way=piece.way, text=piece.text)
    elif fmt in ("wav", "ogg"):
        data = _audio_piece_file(piece, fmt)
    else:
        data = _piece_audio_bytes(piece)
        ext = Path(piece.audio.name).suffix.lstrip(".").lower() or "ogg"
        content_type = AUDIO_TYPES.get(f".{ext}", content_type)
    return _bytes_response(
        request,
        data,
        content_type=content_type,
        filename=_filename(piece.title, fallback, ext),
        attachment=True,
    )


def _audio_piece_file(piece: Piece, fmt: str) -> bytes:
    """An audio-way piece as WAV (its stored file) or OGG (encoded once, then cached)."""
    if piece.way != "audio" or not piece.audio:
        raise Http404(f"This piece has no {fmt.upper()} file.")
    wav = _read_field(piece.audio)
    if fmt == "wav":
        return wav
    path = _media_cache("pieces/ogg", piece.pk, piece.text, "ogg")
    if path.exists():
        return path.read_bytes()
    from musiclib.render._proc import run

    with tempfile.TemporaryDirectory(prefix="piece-ogg-") as tmp:
        Path(tmp, "in.wav").write_bytes(wav)
        proc = run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", "in.wav"]
            + ["-c:a", "libvorbis", "-q:a", "4", "out.ogg"],
            cwd=Path(tmp),
        )
        out = Path(tmp, "out.ogg")
        if proc.returncode != 0 or not out.is_file():
            raise Http404("The OGG file could not be encoded.")
        data = out.read_bytes()
    _write_atomic(path, data)
    return data


@require_GET
def piece_spectrogram(request: HttpRequest, pk: int) -> HttpResponse:
    """An audio piece's spectrogram as a PNG, drawn once on the server and cached."""
    piece = get_object_or_404(Piece.objects.only("pk", "way", "text", "audio"), pk=pk)
    if piece.way != "audio" or not piece.audio:
        raise Http404("Only an audio piece has a spectrogram.")
    path = _media_cache("pieces/spectrograms", piece.pk, piece.text, "png")
    if not path.exists():
        from musiclib.audio.dsp import read_wav_bytes
        from musiclib.audio.image import spectrogram_png

        _write_atomic(path, spectrogram_png(read_wav_bytes(_read_field(piece.audio))))
    response = HttpResponse(path.read_bytes(), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _musicxml(*, kind: str, pk: int, way: str, text: str) -> bytes:
    path = _media_cache(f"musicxml/{kind}", pk, f"{way}\n{text}", "musicxml")
    if path.exists():
        return path.read_bytes()
    from musiclib.ways import get_way

    try:
        data = get_way(way).to_musicxml(text)
    except Exception as exc:
        raise Http404(f"This piece cannot be written as MusicXML: {_short_error(exc)}") from None
    _write_atomic(path, data)
    return data


# --- generation ------------------------------------------------------------------------------


def _allowance(request: HttpRequest) -> tuple[int | None, int]:
    """(pieces this visitor may still generate this hour or None for no limit, the limit)."""
    limit = int(settings.ANON_GENERATIONS_PER_HOUR)
    if request.user.is_authenticated and request.user.is_staff:
        return None, limit
    used = selectors.generations_in_last_hour(
        ip=_client_ip(request), since=timezone.now() - timedelta(hours=1)
    )
    return max(limit - used, 0), limit


def _limit_message(remaining: int, limit: int, asked: int) -> str:
    if remaining <= 0:
        return (
            f"You have generated the {limit} pieces visitors may make in an hour. "
            "Please come back a little later, or sign in as staff."
        )
    return (
        f"Visitors may generate {limit} pieces an hour: {remaining} left for now, "
        f"and you asked for {asked}."
    )


def _create_job(request: HttpRequest, **params) -> GenerationJob:
    return services.generation_job_create(user=request.user, ip=_client_ip(request), **params)


def generate(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    remaining, limit = _allowance(request)
    status = 200
    if request.method == "POST":
        form = GenerateForm(request.POST, request.FILES)
        if form.is_valid():
            count = form.cleaned_data["count"]
            if remaining is not None and count > remaining:
                form.add_error(None, _limit_message(remaining, limit, count))
                status = 429
            else:
                job = _try_create(request, form)
                if job is not None:
                    return redirect(job)
    else:
        initial = {}
        if ckpt := request.GET.get("checkpoint", "").strip():
            initial["checkpoint"] = ckpt
        elif run_id := request.GET.get("run", "").strip():
            run = TrainingRun.objects.filter(pk=run_id).first() if run_id.isdigit() else None
            last = run.last_checkpoint if run else None
            if last is not None:
                initial["checkpoint"] = last.pk
        form = GenerateForm(initial=initial)
    return render(
        request,
        "generator/generate.html",
        {
            "form": form,
            "remaining": remaining,
            "limit": limit,
            "limit_hit": remaining is not None and remaining <= 0,
            "meters": COMMON_METERS,
            "keys": COMMON_KEYS,
            "has_models": bool(form.fields["checkpoint"].choices),
        },
        status=status,
    )


def _try_create(request: HttpRequest, form: GenerateForm) -> GenerationJob | None:
    data = form.cleaned_data
    checkpoint = form.checkpoint_object()
    if checkpoint is None:
        form.add_error("checkpoint", "Choose a model.")
        return None
    max_length, prime = data["max_length"], form.prime()
    if checkpoint.run.way == "audio":
        # Audio models count seconds and continue a recording, not ABC headers.
        from musiclib.audio import FRAME_RATE

        if data.get("seconds"):
            max_length = min(int(round(data["seconds"] * FRAME_RATE)), 5000)
        prime = ""
        if upload := data.get("prime_audio"):
            try:
                prime = services.audio_prime_encode(
                    checkpoint=checkpoint, name=upload.name, data=upload.read()
                )
            except ValueError as exc:
                form.add_error("prime_audio", str(exc))
                return None
    try:
        return _create_job(
            request,
            checkpoint=checkpoint,
            count=data["count"],
            temperature=data["temperature"],
            seed=data["seed"],
            top_k=data["top_k"],
            max_length=max_length,
            prime=prime,
            grammar=bool(data.get("grammar")),
            **form.primer(),
        )
    except services.PrimerError as exc:  # nothing was written: the message goes by its field
        message = str(exc)
        form.add_error(exc.field, message[:1].upper() + message[1:])
        return None
    except ValueError as exc:
        message = str(exc)
        field = None
        lowered = message.lower()
        for name in ("temperature", "count", "max_length", "top_k", "seed"):
            if lowered.startswith(name):
                field = name
        if field is None and ("opening" in lowered or "symbol" in lowered):
            field = "opening" if data.get("opening") else ("key" if data.get("key") else "meter")
        form.add_error(field, message[:1].upper() + message[1:])
        return None


def _again(request: HttpRequest, pk: int, *, same_seed: bool) -> HttpResponse:
    piece = _get_piece(pk)
    remaining, limit = _allowance(request)
    if remaining is not None and remaining < 1:
        return render(
            request,
            "429.html",
            {"message": _limit_message(remaining, limit, 1), "limit": limit},
            status=429,
        )
    job = piece.job
    try:
        new = _create_job(
            request,
            checkpoint=piece.checkpoint,
            count=1,
            temperature=job.temperature,
            seed=piece.seed if same_seed else None,
            top_k=job.top_k,
            max_length=job.max_length,
            prime=job.prime,
            grammar=job.grammar,
        )
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect(piece)
    return redirect(new)


@require_POST
def piece_reproduce(request: HttpRequest, pk: int) -> HttpResponse:
    return _again(request, pk, same_seed=True)


@require_POST
def piece_more_like(request: HttpRequest, pk: int) -> HttpResponse:
    return _again(request, pk, same_seed=False)


def _job_context(request: HttpRequest, job: GenerationJob) -> dict[str, Any]:
    pieces = _decorate(selectors.job_pieces(job=job))
    done = job.status not in (JobStatus.QUEUED, JobStatus.RUNNING)
    rendering = any(not p.audio and p.midi for p in pieces)
    return {
        "job": job,
        "pieces": pieces,
        "done": done,
        "poll_done": done and not rendering,
        **_primer_context(job),
    }


def _get_job(pk: int) -> GenerationJob:
    try:
        return selectors.job_get(pk=pk)
    except GenerationJob.DoesNotExist:
        raise Http404("No generation job with that number.") from None


@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job(pk)
    return render(request, "generator/job_detail.html", _job_context(request, job))


@require_GET
def job_status(request: HttpRequest, pk: int) -> JsonResponse:
    job = _get_job(pk)
    ctx = _job_context(request, job)
    pieces = ctx["pieces"]
    return JsonResponse(
        {
            "status": job.status,
            "text": {
                "status": job.get_status_display(),
                "pieces-count": str(len(pieces)),
                "seconds": f"{job.seconds:.2f} s" if job.seconds is not None else "—",
            },
            "state": job.status,
            "error": job.error,
            "html": {
                "pieces": render_to_string(
                    "generator/_piece_cards.html", {"pieces": pieces}, request=request
                ),
                "error": render_to_string(
                    "generator/_job_error.html", {"job": job}, request=request
                ),
            },
            # keep polling while audio is still being rendered for the new cards
            "done": ctx["poll_done"],
        }
    )


# --- runs ------------------------------------------------------------------------------------


def _get_run(pk: int) -> TrainingRun:
    try:
        return selectors.run_get(pk=pk)
    except TrainingRun.DoesNotExist:
        raise Http404("No training run with that number.") from None


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1.0
    import math

    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.5 and len(ticks) < 12:
        ticks.append(round(value, 10))
        value += step
    return ticks


def loss_chart(history: list[dict[str, Any]], *, epochs: int) -> dict[str, Any] | None:
    """The training and validation loss by epoch as SVG coordinates (drawn server-side)."""
    points = [h for h in history or [] if h.get("loss") is not None]
    if not points:
        return None
    width, height = 640, 260
    left, right, top, bottom = 52, 16, 14, 34
    values = [h["loss"] for h in points] + [
        h["val_loss"] for h in points if h.get("val_loss") is not None
    ]
    ticks = _nice_ticks(min(values) * 0.95, max(values) * 1.02)
    y0, y1 = ticks[0], ticks[-1]
    last_epoch = max(max(h["epoch"] for h in points), epochs or 1)
    first_epoch = 1

    def x(epoch: float) -> float:
        span = max(last_epoch - first_epoch, 1)
        return round(left + (epoch - first_epoch) / span * (width - left - right), 1)

    def y(value: float) -> float:
        return round(top + (y1 - value) / (y1 - y0) * (height - top - bottom), 1)

    def series(key: str) -> dict[str, Any]:
        pts = [
            (x(h["epoch"]), y(h[key]), h["epoch"], h[key]) for h in points if h.get(key) is not None
        ]
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{px},{py}" for i, (px, py, _, _) in enumerate(pts)
        )
        return {
            "path": path,
            "points": [{"x": px, "y": py, "epoch": e, "value": f"{v:.4f}"} for px, py, e, v in pts],
        }

    step = max(1, round((last_epoch - first_epoch + 1) / 10))
    x_ticks = [
        {"x": x(e), "label": e}
        for e in range(first_epoch, last_epoch + 1)
        if (e - first_epoch) % step == 0 or e == last_epoch
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "y_ticks": [{"y": y(t), "label": f"{t:g}"} for t in ticks],
        "x_ticks": x_ticks,
        "loss": series("loss"),
        "val_loss": series("val_loss"),
        "has_val": any(h.get("val_loss") is not None for h in points),
        "label_y": (height - bottom) + 28,
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _shown_config(run: TrainingRun) -> dict:
    """The run's hyperparameters as the page lists them. An ABC run stored before the
    `vocabulary` option existed trained on characters: its vocabulary is shown all the same,
    read from its symbol list."""
    config = dict(run.config or {})
    if run.way == "abc" and "vocabulary" not in config:
        from musiclib.ways.abc_tokens import vocabulary_of

        config["vocabulary"] = vocabulary_of(run.vocab or [])
    return config


def _run_timing(run: TrainingRun) -> dict[str, str]:
    epoch_seconds = [h.get("seconds") or 0 for h in run.history or []]
    training = sum(epoch_seconds)
    wall = None
    if run.started_at:
        wall = ((run.finished_at or timezone.now()) - run.started_at).total_seconds()
    eta = None
    if run.is_active and epoch_seconds:
        eta = (training / len(epoch_seconds)) * max(run.epochs - run.epochs_done, 0)
    return {
        "wall": _duration(wall),
        "training": _duration(training) if epoch_seconds else "—",
        "per_epoch": _duration(training / len(epoch_seconds)) if epoch_seconds else "—",
        "eta": _duration(eta) if eta is not None else "",
    }


def _run_context(request: HttpRequest, run: TrainingRun) -> dict[str, Any]:
    samples = [(epoch, _decorate(pieces)) for epoch, pieces in selectors.run_epoch_samples(run=run)]
    history = run.history or []
    best = min(
        (h for h in history if h.get("val_loss") is not None),
        key=lambda h: h["val_loss"],
        default=None,
    )
    rendering = any(not p.audio and p.midi for _, pieces in samples for p in pieces)
    return {
        "run": run,
        "poll_done": not run.is_active and not rendering,
        "chart": loss_chart(history, epochs=run.epochs),
        "history": history,
        "best": best,
        "samples": samples,
        "checkpoints": selectors.run_checkpoints(run=run),
        "timing": _run_timing(run),
        "progress_pct": round((run.progress or 0) * 100, 1),
        "config_rows": [
            (key, value if isinstance(value, str) else json.dumps(value))
            for key, value in sorted(_shown_config(run).items())
        ],
        "stats_rows": [
            (key.replace("_", " ").capitalize(), value)
            for key, value in sorted((run.data_stats or {}).items())
        ],
        "can_cancel": run.status in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DRAFT)
        and not run.cancel_requested,
        "can_resume": run.status in (JobStatus.CANCELLED, JobStatus.FAILED, JobStatus.SUCCEEDED),
        "resume_form": ResumeForm(initial={"epochs": max(run.epochs, run.epochs_done + 1)}),
    }


@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.run_list(), 50)
    page = paginator.get_page(request.GET.get("page"))
    runs = list(page.object_list)
    for run in runs:
        vals = [h["val_loss"] for h in run.history or [] if h.get("val_loss") is not None]
        run.best_val = min(vals) if vals else None
        run.progress_pct = round((run.progress or 0) * 100)
    page.object_list = runs
    return render(request, "generator/run_list.html", {"page": page, "runs": runs})


@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run(pk)
    return render(request, "generator/run_detail.html", _run_context(request, run))


@require_GET
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = _get_run(pk)
    ctx = _run_context(request, run)
    timing = ctx["timing"]
    return JsonResponse(
        {
            "status": run.status,
            "state": run.status,
            "progress": run.progress,
            "epochs_done": run.epochs_done,
            "epochs": run.epochs,
            "done": ctx["poll_done"],
            "text": {
                "status": run.get_status_display()
                + (" (stopping after this epoch)" if run.cancel_requested else ""),
                "epochs-done": str(run.epochs_done),
                "epochs": str(run.epochs),
                "progress": f"{ctx['progress_pct']:g}%",
                "wall": timing["wall"],
                "training": timing["training"],
                "per-epoch": timing["per_epoch"],
                "eta": timing["eta"] or "—",
                "device": run.device or "—",
                "worker": run.worker or "—",
                "attempts": str(run.attempts),
                "heartbeat": timezone.localtime(run.heartbeat_at).strftime("%H:%M:%S")
                if run.heartbeat_at
                else "—",
            },
            "html": {
                name: render_to_string(template, ctx, request=request)
                for name, template in (
                    ("chart", "generator/_loss_chart.html"),
                    ("samples", "generator/_epoch_samples.html"),
                    ("checkpoints", "generator/_checkpoints.html"),
                    ("error", "generator/_run_error.html"),
                    ("actions", "generator/_run_actions.html"),
                    ("provenance", "generator/_run_provenance.html"),
                    ("generate", "generator/_run_generate_link.html"),
                )
            },
        }
    )


def _staff_only(request: HttpRequest) -> None:
    if not (request.user.is_authenticated and request.user.is_staff):
        raise PermissionDenied("Only staff may cancel or resume runs.")


@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    _staff_only(request)
    run = _get_run(pk)
    try:
        run = services.training_run_cancel(run=run)
    except ValueError as exc:
        messages.error(request, f"Could not cancel: {exc}")
    else:
        if run.status == JobStatus.CANCELLED:
            messages.success(request, "The run is cancelled.")
        else:
            messages.success(request, "The run will stop at the end of this epoch.")
    return redirect(run)


@require_POST
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    _staff_only(request)
    run = _get_run(pk)
    form = ResumeForm(request.POST)
    epochs = form.cleaned_data.get("epochs") if form.is_valid() else None
    if not form.is_valid():
        messages.error(
            request,
            "Could not resume: " + " ".join(str(e) for errs in form.errors.values() for e in errs),
        )
        return redirect(run)
    try:
        services.training_run_resume(run=run, epochs=epochs)
    except ValueError as exc:
        messages.error(request, f"Could not resume: {exc}")
    else:
        messages.success(request, "The run is queued again; it continues from its last checkpoint.")
    return redirect(run)


# --- corpora and tunes -----------------------------------------------------------------------


@require_GET
def corpus_list(request: HttpRequest) -> HttpResponse:
    return render(request, "generator/corpus_list.html", {"corpora": selectors.corpus_list()})


@require_GET
def corpus_detail(request: HttpRequest, pk: int) -> HttpResponse:
    corpus = get_object_or_404(Corpus, pk=pk)
    form = TuneFilterForm(request.GET or None, corpus=corpus)
    filters = form.filters() if request.GET else {}
    paginator = Paginator(selectors.tune_list(corpus=corpus, filters=filters), _page_size(request))
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "generator/corpus_detail.html",
        {
            "corpus": corpus,
            "form": form,
            "page": page,
            "tunes": page.object_list,
            "n_tunes": corpus.tunes.count(),
            "last_import": selectors.corpus_last_import(corpus=corpus),
            "runs": corpus.runs.defer("vocab", "data_stats").order_by("-created_at")[:10],
            "filtered": bool(filters),
        },
    )


def _get_tune(pk: int) -> Tune:
    try:
        return Tune.objects.select_related("corpus").get(pk=pk)
    except Tune.DoesNotExist:
        raise Http404("No tune with that number.") from None


def _tune_midi(tune: Tune) -> bytes:
    path = _media_cache("tunes/midi", tune.pk, tune.text, "mid")
    if path.exists():
        return path.read_bytes()
    from musiclib.ways import get_way

    try:
        data = get_way(tune.corpus.way).to_midi(tune.text)
    except Exception as exc:
        raise Http404(f"This tune cannot be turned into MIDI: {_short_error(exc)}") from None
    _write_atomic(path, data)
    return data


def _tune_audio(tune: Tune) -> bytes:
    if tune.corpus.way == "audio":  # a recording: its own file (FLAC) plays as it is
        if not tune.data:
            raise Http404("This recording's file is missing.")
        return _read_field(tune.data)
    path = _media_cache("tunes/audio", tune.pk, tune.text, "ogg")
    if path.exists():
        return path.read_bytes()
    midi = _tune_midi(tune)
    try:
        from musiclib.render import midi_to_audio

        data = midi_to_audio(midi=midi, fmt="ogg")
    except Exception as exc:
        log.warning("audio for tune %s failed: %s", tune.pk, exc)
        raise Http404(f"The audio could not be rendered: {_short_error(exc)}") from None
    _write_atomic(path, data)
    return data


@require_GET
def tune_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tune = _get_tune(pk)
    if tune.corpus.way == "audio":  # a recording: no score, and no notes to download
        pages, score_error, formats = [], "", ("audio",)
    else:
        pages, score_error = score_pages(
            kind="tunes", pk=tune.pk, way=tune.corpus.way, text=tune.text
        )
        formats = (_text_format(tune.corpus.way), "midi", "musicxml", "audio")
    downloads = [
        (reverse("tune_download", args=[tune.pk, fmt]), FORMATS[fmt][2], fmt) for fmt in formats
    ]
    return render(
        request,
        "generator/tune_detail.html",
        {
            "tune": tune,
            "corpus": tune.corpus,
            "pages": pages,
            "score_error": score_error,
            "downloads": downloads,
            "audio_url": reverse("tune_audio", args=[tune.pk]),
            "text_format": _text_format(tune.corpus.way),
        },
    )


@require_GET
def tune_audio(request: HttpRequest, pk: int) -> HttpResponse:
    tune = _get_tune(pk)
    ext = "flac" if tune.corpus.way == "audio" else "ogg"
    response = _bytes_response(
        request,
        _tune_audio(tune),
        content_type=AUDIO_TYPES[f".{ext}"],
        filename=_filename(tune.title, f"tune-{tune.pk}", ext),
        attachment=False,
    )
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
def tune_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Unknown format.")
    tune = _get_tune(pk)
    ext, content_type, _ = FORMATS[fmt]
    if fmt in ("abc", "text"):
        if fmt != _text_format(tune.corpus.way):
            raise Http404(f"This tune is not written as {FORMATS[fmt][2]}.")
        data = tune.text.encode("utf-8")
    elif fmt == "midi":
        data = _tune_midi(tune)
    elif fmt == "musicxml":
        data = _musicxml(kind="tunes", pk=tune.pk, way=tune.corpus.way, text=tune.text)
    else:
        data = _tune_audio(tune)
        if tune.corpus.way == "audio":
            ext, content_type = "flac", AUDIO_TYPES[".flac"]
    return _bytes_response(
        request,
        data,
        content_type=content_type,
        filename=_filename(tune.title, f"tune-{tune.pk}", ext),
        attachment=True,
    )


# --- accounts --------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    next_page = "gallery"


class LogoutView(auth_views.LogoutView):
    next_page = "gallery"
