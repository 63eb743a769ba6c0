"""Corpora and their tunes: lists, a tune's page, its audio and downloads."""

from __future__ import annotations

import logging

from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_safe

from common.http import bytes_response, stored_file_response
from generator import selectors, services
from generator.forms import (
    TuneFilterForm,
)
from generator.models import Corpus, Tune
from generator.presenters import capabilities, form_view, text_name, tune_downloads
from generator.services.files import FilePreparing, FileUnavailable, tune_midi_bytes
from generator.views.helpers import (
    AUDIO_TYPES,
    FORMATS,
    SCORE_REFRESH_S,
    download_links,
    filename,
    page_size,
    serves_file,
    stored_score,
    text_format,
)

log = logging.getLogger(__name__)


@require_GET
def corpus_list(request: HttpRequest) -> HttpResponse:
    return render(request, "generator/corpus_list.html", {"corpora": selectors.corpus_list()})


@require_GET
def corpus_detail(request: HttpRequest, pk: int) -> HttpResponse:
    corpus = get_object_or_404(Corpus, pk=pk)
    form = TuneFilterForm(request.GET or None, corpus=corpus)
    filters = form.filters() if request.GET else {}
    paginator = Paginator(selectors.tune_list(corpus=corpus, filters=filters), page_size(request))
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "generator/corpus_detail.html",
        {
            "corpus": corpus,
            "caps": capabilities(corpus.way),
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


@require_GET
def tune_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tune = _get_tune(pk)
    caps = capabilities(tune.corpus.way)
    # The page reads what the worker made and never engraves or renders itself: what is
    # missing is asked for (once) and the page says it is being prepared.
    pages, score_error, preparing = stored_score(
        caps, kind="tunes", pk=tune.pk, way=tune.corpus.way, text=tune.text
    )
    audio_ready, audio_preparing, audio_error = False, False, ""
    try:
        audio_ready = bool(services.tune_audio_get(tune=tune))
    except FilePreparing:  # asked for (once): the player appears when the worker has made it
        audio_preparing = True
    except FileUnavailable as exc:
        audio_error = str(exc)
    if preparing:
        services.tune_render_request(tune=tune)
    formats = tune_downloads(tune)
    files_preparing = services.tune_files_preparing(tune=tune, names=formats)
    return render(
        request,
        "generator/tune_detail.html",
        {
            "tune": tune,
            "corpus": tune.corpus,
            "caps": caps,
            "pages": pages,
            "score_error": score_error,
            "score_preparing": preparing,
            "refresh_s": SCORE_REFRESH_S,
            "audio_ready": audio_ready,
            "audio_preparing": audio_preparing,
            "audio_error": audio_error,
            "files_preparing": bool(files_preparing),
            "downloads": download_links(
                "tune_download", tune.pk, formats, caps, preparing=files_preparing
            ),
            "audio_url": reverse("tune_audio", args=[tune.pk]),
            "text_format": caps.text_format,
            "text_name": text_name(caps),
            "form_map": form_view(tune.text, caps),
        },
    )


def _tune_audio(tune: Tune) -> tuple[str, str]:
    """The storage name of the tune's sound and its extension: a recording's own FLAC, or
    the OGG the worker made from its MIDI (FilePreparing until it has)."""
    name = services.tune_audio_get(tune=tune)
    return name, "flac" if capabilities(tune.corpus.way).is_audio else "ogg"


@require_safe  # HEAD too: link checkers and players ask for the size first
@serves_file
def tune_audio(request: HttpRequest, pk: int) -> HttpResponse:
    tune = _get_tune(pk)
    name, ext = _tune_audio(tune)
    response = stored_file_response(
        request,
        name,
        content_type=AUDIO_TYPES[f".{ext}"],
        filename=filename(tune.title, f"tune-{tune.pk}", ext),
        attachment=False,
    )
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe  # HEAD too: the size and byte ranges without the bytes
@serves_file
def tune_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Unknown format.")
    tune = _get_tune(pk)
    ext, content_type, _ = FORMATS[fmt]
    name = filename(tune.title, f"tune-{tune.pk}", ext)
    if fmt in ("abc", "text"):
        if fmt != text_format(tune.corpus.way):
            raise Http404(f"This tune is not written as {FORMATS[fmt][2]}.")
        data = tune.text.encode("utf-8")
    elif fmt not in tune_downloads(tune):
        raise Http404(f"A tune of this corpus has no {FORMATS[fmt][2]} file.")
    elif fmt == "midi":  # quick (8-14 ms), so made here once and kept
        data = tune_midi_bytes(tune)
    else:  # made by the render task: a 202 until it has (serves_file)
        if fmt == "musicxml":
            stored = services.tune_musicxml_get(tune=tune)
        else:
            stored, ext = _tune_audio(tune)
            content_type = AUDIO_TYPES[f".{ext}"]
            name = filename(tune.title, f"tune-{tune.pk}", ext)
        return stored_file_response(
            request, stored, content_type=content_type, filename=name, attachment=True
        )
    return bytes_response(request, data, content_type=content_type, filename=name, attachment=True)
