"""What several of the site's pages share: page sizes, download formats, card badges."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify

from generator import selectors
from generator.models import Piece
from generator.presenters import capabilities
from generator.services.files import FilePreparing, FileUnavailable, score_stored
from generator.services.renders import AUDIO_RETRY_AFTER_S
from musiclib.ways.base import Capabilities

log = logging.getLogger(__name__)

# Seconds between reloads of a page whose score is being prepared by the worker (2-60).
SCORE_REFRESH_S = 3
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


def stored_score(
    caps: Capabilities, *, kind: str, pk: int, way: str, text: str
) -> tuple[list[str], str, bool]:
    """What a piece's or tune's page shows of its score: (pages, error, preparing). Reads
    what the worker made and never engraves; `preparing` when the way has a score and the
    worker has not made it yet (the caller asks for it). A way without notes reads nothing."""
    if not caps.has_score:
        return [], "", False
    score = score_stored(kind=kind, pk=pk, way=way, text=text)
    if score is None:
        return [], "", True
    pages, error = score
    return pages, error, False


def page_size(request: HttpRequest) -> int:
    try:
        size = int(request.GET.get("per_page", DEFAULT_PAGE_SIZE))
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def text_format(way: str) -> str:
    """How a piece's own text downloads, as its way says: "abc" or "text" (tokens)."""
    return capabilities(way).text_format


def download_links(
    url_name: str,
    pk: int,
    formats: Iterable[str],
    caps: Capabilities,
    *,
    preparing: Iterable[str] = (),
) -> list[tuple[str, str, str, bool]]:
    """(url, label, format, being prepared) of each download a page lists; `preparing`: the
    formats the worker has not made yet (the page says so instead of linking a 202)."""
    waiting = set(preparing)
    return [
        (reverse(url_name, args=[pk, fmt]), format_label(fmt, caps), fmt, fmt in waiting)
        for fmt in formats
    ]


def format_label(fmt: str, caps: Capabilities) -> str:
    """A download's label; a text of tokens is not "notes" when the way has no score, and a
    recording's own sound is its FLAC file."""
    if fmt == "text" and not caps.has_score:
        return "Tokens as text"
    if fmt == "audio" and caps.is_audio:
        return "Recording (FLAC)"
    return FORMATS[fmt][2]


def filename(title: str, fallback: str, ext: str) -> str:
    return f"{slugify(title)[:80] or fallback}.{ext}"


def validity_badge(piece: Piece) -> dict[str, str] | None:
    """valid / parses / invalid / checking, with a sentence saying why; None for a way whose
    validity is not notation's (a recording neither parses nor has bars)."""
    if not capabilities(piece.way).checks_bars:
        return None
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
    """The evaluation app's novelty score of the piece, None until it is evaluated."""
    if selectors.evaluation_relation() is None:
        return None
    value = getattr(getattr(piece, "evaluation", None), "novelty", None)
    return float(value) if isinstance(value, (int, float)) else None


def likely_copy(piece: Piece) -> bool:
    """The evaluation's verdict that the piece borrows too much from its corpus."""
    if selectors.evaluation_relation() is None:
        return False
    return getattr(getattr(piece, "evaluation", None), "likely_copy", None) is True


def decorate(pieces) -> list[Piece]:
    """Attach what a card shows and the model cannot say by itself; no queries."""
    pieces = list(pieces)
    for piece in pieces:
        piece.caps = capabilities(piece.way)
        piece.badge = validity_badge(piece)
        piece.novelty = novelty_of(piece)
        piece.likely_copy = likely_copy(piece)
    return pieces


def card_html(request: HttpRequest, piece: Piece) -> str:
    return render_to_string("generator/_piece_card.html", {"piece": piece}, request=request)


@contextmanager
def file_or_404() -> Iterator[None]:
    """A file the services cannot give (missing, or it could not be made) is a 404 page
    with the reason, never a 500. Use it as a `with` block or as a view decorator."""
    try:
        yield
    except FileUnavailable as exc:
        raise Http404(str(exc)) from None


def preparing_response(message: str) -> HttpResponse:
    """A file the worker is still making: 202 Accepted, a sentence saying so, and when to ask
    again (Retry-After, seconds). Never cached: the next answer is the file."""
    response = HttpResponse(
        f"{message} Please try again in a few seconds.\n",
        status=202,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(AUDIO_RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response


def serves_file(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view that answers with a stored file: a file the worker is still making is a 202
    with Retry-After (`preparing_response`), one that cannot be had a 404 with the reason;
    never a 500, and never a render inside the request."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            with file_or_404():
                return view(request, *args, **kwargs)
        except FilePreparing as exc:
            return preparing_response(str(exc))

    return wrapped
