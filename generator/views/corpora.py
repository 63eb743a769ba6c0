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
from django.views.decorators.http import require_GET

from common.http import bytes_response
from generator import selectors
from generator.forms import (
    TuneFilterForm,
)
from generator.models import Corpus, Tune
from generator.services.files import musicxml_bytes, score_pages, tune_audio_bytes, tune_midi_bytes
from generator.views.helpers import (
    AUDIO_TYPES,
    FORMATS,
    file_or_404,
    filename,
    page_size,
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
    if tune.corpus.way == "audio":  # a recording: no score, and no notes to download
        pages, score_error, formats = [], "", ("audio",)
    else:
        pages, score_error = score_pages(
            kind="tunes", pk=tune.pk, way=tune.corpus.way, text=tune.text
        )
        formats = (text_format(tune.corpus.way), "midi", "musicxml", "audio")
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
            "text_format": text_format(tune.corpus.way),
        },
    )


@require_GET
@file_or_404()
def tune_audio(request: HttpRequest, pk: int) -> HttpResponse:
    tune = _get_tune(pk)
    ext = "flac" if tune.corpus.way == "audio" else "ogg"
    response = bytes_response(
        request,
        tune_audio_bytes(tune),
        content_type=AUDIO_TYPES[f".{ext}"],
        filename=filename(tune.title, f"tune-{tune.pk}", ext),
        attachment=False,
    )
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
@file_or_404()
def tune_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Unknown format.")
    tune = _get_tune(pk)
    ext, content_type, _ = FORMATS[fmt]
    if fmt in ("abc", "text"):
        if fmt != text_format(tune.corpus.way):
            raise Http404(f"This tune is not written as {FORMATS[fmt][2]}.")
        data = tune.text.encode("utf-8")
    elif fmt == "midi":
        data = tune_midi_bytes(tune)
    elif fmt == "musicxml":
        data = musicxml_bytes(kind="tunes", pk=tune.pk, way=tune.corpus.way, text=tune.text)
    else:
        data = tune_audio_bytes(tune)
        if tune.corpus.way == "audio":
            ext, content_type = "flac", AUDIO_TYPES[".flac"]
    return bytes_response(
        request,
        data,
        content_type=content_type,
        filename=filename(tune.title, f"tune-{tune.pk}", ext),
        attachment=True,
    )
