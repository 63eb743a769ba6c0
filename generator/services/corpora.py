"""Corpus import: folders, uploads and music21's bundled collections, tune by tune.

A malformed tune never aborts an import: it is listed in the report with its file, tune
number and reason. Tunes are stored in one transaction at the end, so an import that dies
leaves nothing half-written, and re-importing adds nothing (content hash per corpus).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from musiclib.ways import DEFAULT_WAY, get_way
from musiclib.ways.base import ImportRefused, content_hash
from musiclib.ways.pool import cpu_count

from ..models import Corpus, ImportJob, JobStatus, Tune
from .renders import corpus_tunes_render_queue

log = logging.getLogger(__name__)

MAX_TUNES_PER_IMPORT = 200_000
Progress = Callable[[int, int], None]


def corpus_get_or_create(*, name: str, way: str = DEFAULT_WAY, source: str = "") -> Corpus:
    corpus, _ = Corpus.objects.get_or_create(name=name, defaults={"way": way, "source": source})
    return corpus


def _items_for(
    corpus: Corpus,
    source: str,
    upload: tuple[str, bytes] | None,
    progress: Progress | None,
) -> list:
    """The way's candidate pieces of the source, each with its check (`Way.import_items`)."""
    if upload is not None and len(upload[1]) > settings.MAX_UPLOAD_BYTES:
        raise ImportRefused(f"{upload[0]} is larger than {settings.MAX_UPLOAD_BYTES} bytes")
    # Parsing is CPU bound: every core, from a process pool that is safe to start here.
    return get_way(corpus.way).import_items(
        source=source, upload=upload, progress=progress, processes=cpu_count()
    )


def corpus_import(
    *,
    corpus: Corpus,
    source: str = "",
    upload: tuple[str, bytes] | None = None,
    job: ImportJob | None = None,
    progress: Progress | None = None,
) -> ImportJob:
    """Import tunes into `corpus` and return the finished ImportJob with its report.

    A refused source (not ABC, missing, too large) ends the job as failed with the reason.
    """
    if job is None:
        job = ImportJob.objects.create(
            corpus=corpus,
            source=source or (upload[0] if upload else ""),
            code_version=settings.CODE_VERSION,
        )
    job.status, job.started_at = JobStatus.RUNNING, timezone.now()
    job.save(update_fields=["status", "started_at"])
    try:
        items = _items_for(corpus, source, upload, progress)
        if len(items) > MAX_TUNES_PER_IMPORT:
            raise ImportRefused(f"more than {MAX_TUNES_PER_IMPORT} tunes in one import")
    except ImportRefused as exc:
        return _finish(job, status=JobStatus.FAILED, error=str(exc))
    way = get_way(corpus.way)
    failures: list[dict] = []
    checks = [(it.failure, it.n_notes) for it in items]
    existing = set(corpus.tunes.values_list("content_hash", flat=True))
    new: list[Tune] = []
    duplicates = 0
    for item, (reason, n_notes) in zip(items, checks, strict=True):
        if reason:
            failures.append({"file": item.file, "tune": item.number, "reason": reason})
            continue
        digest = content_hash(way.normalise(item.text))
        if digest in existing:
            duplicates += 1
            continue
        existing.add(digest)
        meta = way.describe(item.text)
        new.append(
            Tune(
                corpus=corpus,
                number=item.number,
                title=(meta.get("title") or "")[:300],
                meter=(meta.get("meter") or "")[:20],
                key=(meta.get("key") or "")[:40],
                unit_length=(meta.get("unit_length") or "")[:20],
                text=item.text,
                source_file=item.file[:500],
                content_hash=digest,
                n_notes=n_notes,
                data=getattr(item, "data_name", ""),  # the audio way's recording
            )
        )
    last_before = corpus.tunes.order_by("-pk").values_list("pk", flat=True).first() or 0
    with transaction.atomic():
        Tune.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
        if new:  # their scores are engraved by the worker, before anyone opens their pages
            corpus_tunes_render_queue(corpus=corpus, after=last_before)
        job.imported, job.duplicates, job.failures = len(new), duplicates, failures
        status = JobStatus.SUCCEEDED if new or duplicates else JobStatus.FAILED
        error = "" if status == JobStatus.SUCCEEDED else "no tune in the source could be imported"
        return _finish(job, status=status, error=error)


def _finish(job: ImportJob, *, status: str, error: str = "") -> ImportJob:
    job.status, job.error, job.finished_at = status, error, timezone.now()
    job.save()
    log.info(
        "import %s into %s: %s (%s imported, %s duplicates, %s failures) %s",
        job.pk,
        job.corpus_id,
        status,
        job.imported,
        job.duplicates,
        len(job.failures),
        error,
    )
    return job


def iter_corpus_texts(corpus: Corpus, *, tune_id_max: int | None = None) -> Iterable[str]:
    qs = corpus.tunes.order_by("pk")
    if tune_id_max is not None:
        qs = qs.filter(pk__lte=tune_id_max)
    return qs.values_list("text", flat=True).iterator(chunk_size=2000)


def run_prepare(way, *, texts: list[str], run, **extra):
    """The way's `prepare` of a run's corpus texts (split as the run's seed and config say),
    with the training tunes' plans of returns (`metrics.form.returns_library`) among the
    way arrays saved with every checkpoint where the way offers returns. With a warm-up
    corpus, its tunes (up to the run's `warmup_tune_id_max`) are in the vocabulary and in
    `Prepared.warmup`, wherever the run's data is prepared again. Where the way offers the
    moves' lean and the tracker reads its notes in semitones, the training tunes' phrases
    too (`ml.line.phrase_state`)."""
    if run.warmup_corpus_id:
        extra["warmup_texts"] = list(
            iter_corpus_texts(run.warmup_corpus, tune_id_max=run.warmup_tune_id_max)
        )
    prepared = way.prepare(texts=texts, config=run.config, seed=run.seed, **extra)
    if way.capabilities.returns:
        from musiclib.metrics.form import returns_library

        prepared.state.update(returns_library(way=way, vocab=prepared.vocab, pieces=prepared.train))
    if way.capabilities.moves:
        from musiclib.ml.line import phrase_state, phrases_readable

        if phrases_readable(prepared.vocab):
            prepared.state.update(phrase_state(vocab=prepared.vocab, pieces=prepared.train))
    return prepared
