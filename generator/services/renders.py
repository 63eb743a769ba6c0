"""What a piece's or a tune's page shows, made by a task, never inside the request.

Engraving a score (verovio; music21 first for a MIDI way's notes) takes seconds, and
rendering audio (FluidSynth) as long. A page reads what was made (`files.score_stored`) and,
when nothing was made yet, shows that the score is being prepared and asks for it here:
`*_render_request` queues the render task on the `default` queue, once per object and text
within RENDER_REQUEST_TTL_S, however many visitors (or page reloads) ask meanwhile.

A piece's render task is queued when the piece is stored (pieces.generation_job_execute); a
corpus's tunes are engraved after their import commits, a batch per task, each task queueing
the next (`corpus_tunes_render`), so a long corpus never holds the queue from other work.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable

from django.core.cache import cache

from common.tasks import send_on_commit
from musiclib.ways import get_way

from ..models import Corpus, JobStatus, Piece, TrainingRun, Tune
from ..task_names import CORPUS_RENDER_TASK, RENDER_TASK, TUNE_RENDER_TASK
from .files import (
    FilePreparing,
    FileUnavailable,
    digest,
    is_audio_way,
    made_name,
    musicxml_bytes,
    musicxml_name,
    piece_audio_stored_name,
    piece_has_musicxml,
    piece_spectrogram_name,
    score_pages,
    tune_audio_bytes,
    tune_audio_stored_name,
)

log = logging.getLogger(__name__)

# Seconds a queued render is trusted to be on its way: a page asking again within this time
# queues nothing more (2-3600; longer than a busy `default` queue's wait, short enough that a
# render lost with its worker is asked for again by the next visit).
RENDER_REQUEST_TTL_S = 300
# Seconds of engraving one task does after an import before it queues the rest (1-600):
# other `default` work queued meanwhile (evaluations, a piece's render) waits at most this.
RENDER_TASK_BUDGET_S = 5.0
# While a run trains on this machine, the corpus's next turn of engraving waits this many
# times as long as the last turn took (0-20; 0: no wait), so engraving takes a fifth of a
# core at most. Why: the training worker runs at a lower CPU priority than the `default`
# worker, so on `make run`'s first start, engraving the bundled corpora (2,355 scores,
# about 7 minutes of CPU) held both cores and the first run's first epoch, 13 s of work,
# ended 5 min 18 s after the start. Engraving is ahead-of-time work: a tune's page asks
# for its own score if it has none yet.
RENDER_YIELD_WHILE_TRAINING = 4.0
# Tunes read at a time by the corpus's engraving task (1..1000): a task engraves a few
# dozen in its budget.
RENDER_PAGE = 20
# Seconds a file's URL asks a player or a program to wait before asking again for a file the
# worker is making (its Retry-After; 1-60: a piece's audio takes a second or two to render,
# its MusicXML and a recording's spectrogram a tenth of a second each).
AUDIO_RETRY_AFTER_S = 3
# A piece's sound, as its downloads name it (files.piece_audio_stored_name).
AUDIO_FORMATS = ("audio", "wav", "ogg")


def _has_score(way_name: str) -> bool:
    try:
        return get_way(way_name).capabilities.has_score
    except ValueError:  # a way no longer registered: nothing to engrave
        return False


def tune_render(*, tune: Tune, audio: bool = True) -> Tune:
    """Make what a tune's page shows: its engraved score and, with `audio`, its audio (OGG
    from its MIDI; a recording plays its own file) and its downloads (MIDI, MusicXML). Kept
    in storage; made once per text."""
    way = tune.corpus.way
    if _has_score(way):
        score_pages(kind="tunes", pk=tune.pk, way=way, text=tune.text)
    if audio:
        makers = [lambda: tune_audio_bytes(tune)]  # and its MIDI, the audio's source
        if "musicxml" in get_way(way).capabilities.tune_downloads:
            makers.append(lambda: musicxml_bytes(kind="tunes", pk=tune.pk, way=way, text=tune.text))
        for make in makers:
            try:
                make()
            except FileUnavailable as exc:  # the player or the download says why when asked
                log.info("tune %s: %s", tune.pk, exc)
    return tune


def corpus_tunes_render(*, corpus: Corpus, after: int = 0) -> int:
    """Engrave the scores of `corpus`'s tunes numbered after `after` (by id), in order, for
    about RENDER_TASK_BUDGET_S seconds, then queue a task for the rest (to start after a
    wait while a run trains on this machine: RENDER_YIELD_WHILE_TRAINING). Returns the last
    tune id engraved (0: none).

    Audio is left to a tune's first view (tune_render_request): a corpus of a thousand tunes
    would otherwise keep hours of audio nobody may play."""
    if not _has_score(corpus.way):
        return 0
    started, last = time.monotonic(), 0
    tunes = Tune.objects.select_related("corpus").filter(corpus=corpus).order_by("pk")
    while True:
        # A short list at a time, not one cursor held open for the whole budget: an open
        # read keeps a transaction's snapshot (PostgreSQL) or, in SQLite's default journal,
        # holds off every other process's commit until it closes.
        page = list(tunes.filter(pk__gt=last or after)[:RENDER_PAGE])
        if not page:
            return last
        for tune in page:
            took = time.monotonic() - started
            if last and took > RENDER_TASK_BUDGET_S:
                wait = took * RENDER_YIELD_WHILE_TRAINING if _training_here() else 0.0
                send_on_commit(CORPUS_RENDER_TASK, corpus.pk, last, countdown=wait)
                return last
            tune_render(tune=tune, audio=False)
            last = tune.pk


def _training_here() -> bool:
    """Whether a run is training on this machine: its worker's name (`train@<host>`, as
    Celery names it) ends with this machine's host name."""
    host = socket.gethostname()
    workers = TrainingRun.objects.filter(status=JobStatus.RUNNING).values_list("worker", flat=True)
    return any(worker.rpartition("@")[2] == host for worker in workers)


def corpus_tunes_render_queue(*, corpus: Corpus, after: int) -> None:
    """Queue the engraving of `corpus`'s tunes numbered after `after` once the current
    transaction (an import's) commits."""
    if _has_score(corpus.way):
        send_on_commit(CORPUS_RENDER_TASK, corpus.pk, after)


def _request_once(key: str, task: str, pk: int) -> bool:
    # cache.add is atomic in Redis and the file cache: one of many simultaneous visitors
    # queues the task.
    if not cache.add(key, 1, timeout=RENDER_REQUEST_TTL_S):
        return False
    send_on_commit(task, pk)
    return True


def tune_render_request(*, tune: Tune) -> bool:
    """Ask the worker for the tune's score and audio (a page found them missing). True when a
    task was queued, False when one was asked for within RENDER_REQUEST_TTL_S."""
    return _request_once(f"render:tune:{tune.pk}:{digest(tune.text)}", TUNE_RENDER_TASK, tune.pk)


def piece_render_request(*, piece: Piece) -> bool:
    """Ask the worker again for a piece's audio and score (its page found the score missing:
    the render queued when it was stored has not run yet, or was lost)."""
    return _request_once(f"render:piece:{piece.pk}:{digest(piece.text)}", RENDER_TASK, piece.pk)


def piece_audio_get(*, piece: Piece, fmt: str = "audio") -> str:
    """The storage name of the piece's sound (`audio`, or a recording's `wav` or `ogg`; see
    files.piece_audio_stored_name). When the worker has not made it yet, asks for it (once
    within RENDER_REQUEST_TTL_S) and raises FilePreparing: no request renders audio.
    FileUnavailable when the piece has no such sound and will get none."""
    name = piece_audio_stored_name(piece, fmt)
    if name is None:
        piece_render_request(piece=piece)
        raise FilePreparing("The audio is being prepared.")
    return name


def tune_audio_get(*, tune: Tune) -> str:
    """The storage name of the tune's sound (a recording's own file, or the OGG made from its
    MIDI). When the worker has not made it yet, asks for it and raises FilePreparing;
    FileUnavailable (with the reason the worker kept) when it cannot be made."""
    name = tune_audio_stored_name(tune)
    if name is None:
        tune_render_request(tune=tune)
        raise FilePreparing("The audio is being prepared.")
    return name


def _made_or_asked(name: str, *, ask: Callable[[], bool], what: str) -> str:
    found = made_name(name)
    if found is None:
        ask()
        raise FilePreparing(f"{what} is being prepared.")
    return found


def piece_musicxml_get(*, piece: Piece) -> str:
    """The storage name of the piece's MusicXML as the render task kept it (music21 takes
    65-75 ms a piece: too long for a request). FilePreparing (and the render asked for) until
    it has; FileUnavailable with the reason when the piece cannot be written so."""
    if "musicxml" not in get_way(piece.way).capabilities.piece_downloads:
        raise FileUnavailable("A piece of this way has no MusicXML file.")
    if not piece_has_musicxml(piece):
        raise FileUnavailable("This piece does not parse, so it has no MusicXML file.")
    name = musicxml_name(kind="pieces", pk=piece.pk, way=piece.way, text=piece.text)
    return _made_or_asked(
        name, ask=lambda: piece_render_request(piece=piece), what="The MusicXML file"
    )


def tune_musicxml_get(*, tune: Tune) -> str:
    """The storage name of the tune's MusicXML as its render task kept it; FilePreparing
    (and the render asked for) until it has."""
    way = tune.corpus.way
    if "musicxml" not in get_way(way).capabilities.tune_downloads:
        raise FileUnavailable("A tune of this corpus has no MusicXML file.")
    name = musicxml_name(kind="tunes", pk=tune.pk, way=way, text=tune.text)
    return _made_or_asked(
        name, ask=lambda: tune_render_request(tune=tune), what="The MusicXML file"
    )


def piece_spectrogram_get(*, piece: Piece) -> str:
    """The storage name of an audio piece's spectrogram (PNG) as the render task drew it
    (60-95 ms, 0.7 s in a fresh process); FilePreparing (and the render asked for) until
    it has."""
    if not is_audio_way(piece.way) or not piece.audio:
        raise FileUnavailable("Only an audio piece has a spectrogram.")
    return _made_or_asked(
        piece_spectrogram_name(piece),
        ask=lambda: piece_render_request(piece=piece),
        what="The spectrogram",
    )


def _preparing(getters: dict[str, Callable[[], str]], wanted: Iterable[str]) -> frozenset[str]:
    preparing = set()
    for name in wanted:
        get = getters.get(name)
        if get is None:  # made in the request (its text, a stored MIDI file, a tune's MIDI)
            continue
        try:
            get()
        except FilePreparing:
            preparing.add(name)
        except FileUnavailable:  # its URL says why when it is asked for
            pass
    return frozenset(preparing)


def piece_files_preparing(*, piece: Piece, names: Iterable[str]) -> frozenset[str]:
    """Which of the piece's files in `names` (download formats, "spectrogram") the worker has
    not made yet: its page says they are being prepared (their render is asked for, once).

    A piece's text and MIDI file are served as they are stored: nothing to prepare."""
    getters: dict[str, Callable[[], str]] = {
        "musicxml": lambda: piece_musicxml_get(piece=piece),
        "spectrogram": lambda: piece_spectrogram_get(piece=piece),
        **{fmt: (lambda f=fmt: piece_audio_get(piece=piece, fmt=f)) for fmt in AUDIO_FORMATS},
    }
    return _preparing(getters, names)


def tune_files_preparing(*, tune: Tune, names: Iterable[str]) -> frozenset[str]:
    """Which of the tune's download formats in `names` the worker has not made yet.

    A tune's MIDI is made in the request that asks for it (abc2midi 8 ms, the MIDI way's
    14 ms for a typical tune) and then kept: quick enough not to wait for a worker."""
    getters: dict[str, Callable[[], str]] = {
        "musicxml": lambda: tune_musicxml_get(tune=tune),
        "audio": lambda: tune_audio_get(tune=tune),
    }
    return _preparing(getters, names)
