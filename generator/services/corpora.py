"""Corpus import: folders, uploads and music21's bundled collections, tune by tune.

A malformed tune never aborts an import: it is listed in the report with its file, tune
number and reason. Tunes are stored in one transaction at the end, so an import that dies
leaves nothing half-written, and re-importing adds nothing (content hash per corpus).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from musiclib.ways import get_way
from musiclib.ways.abc_text import check_abc_tune, split_tunes
from musiclib.ways.base import ImportRefused, content_hash
from musiclib.ways.pool import cpu_count, map_processes

from ..models import Corpus, ImportJob, JobStatus, Tune, Way

log = logging.getLogger(__name__)

ABC_SUFFIXES = {".abc", ".txt"}
MAX_TUNES_PER_IMPORT = 200_000
Progress = Callable[[int, int], None]


@dataclass
class Item:
    """One candidate tune: where it came from and its text."""

    file: str
    number: int
    text: str


def corpus_get_or_create(*, name: str, way: str = Way.ABC, source: str = "") -> Corpus:
    corpus, _ = Corpus.objects.get_or_create(name=name, defaults={"way": way, "source": source})
    return corpus


def abc_file_text(*, name: str, raw: bytes) -> str:
    """The text of an ABC file; ImportRefused when it is binary."""
    if b"\x00" in raw[:4096]:
        raise ImportRefused(f"{name} is not an ABC file: it is binary")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # older ABC collections are Latin-1


def abc_upload_items(*, name: str, raw: bytes) -> list[Item]:
    """The tunes of an uploaded ABC file; ImportRefused when it is binary or has none."""
    return _abc_items_from_text(abc_file_text(name=name, raw=raw), file=name)


def _abc_items_from_text(text: str, *, file: str) -> list[Item]:
    tunes = split_tunes(text)
    if not tunes:
        raise ImportRefused(f"{file} is not an ABC file: no tune starts with an X: line")
    return [Item(file=file, number=n, text=t) for n, t in tunes]


def abc_source_files(source: str) -> list[Path]:
    """A folder, a file or `music21:<name>` → the ABC files it names."""
    if source.startswith("music21:"):
        from music21 import corpus as m21corpus

        name = source.split(":", 1)[1]
        try:
            found = m21corpus.getWork(name)
        except Exception as exc:  # music21's CorpusException: no such work
            raise ImportRefused(f"music21's corpus has no collection named {name!r}") from exc
        found = [found] if isinstance(found, (str, Path)) else list(found or [])
        paths = [Path(str(p)) for p in found]
        paths = [p for p in paths if p.suffix.lower() == ".abc"]
        if not paths:
            raise ImportRefused(f"music21's corpus has no ABC collection named {name!r}")
        return sorted(paths)
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in ABC_SUFFIXES)
        if not files:
            raise ImportRefused(f"{source} holds no .abc files")
        return files
    if path.is_file():
        return [path]
    raise ImportRefused(f"{source} does not exist")


def _check_all(texts: list[str], progress: Progress | None) -> list[tuple[str | None, int]]:
    # music21 parsing is CPU bound: every core, from a process pool that is safe to start here.
    return map_processes(
        texts, worker=check_abc_tune, processes=min(4, cpu_count()), progress=progress
    )


def _items_for(corpus: Corpus, source: str, upload: tuple[str, bytes] | None) -> list[Item]:
    if upload is not None and len(upload[1]) > settings.MAX_UPLOAD_BYTES:
        raise ImportRefused(f"{upload[0]} is larger than {settings.MAX_UPLOAD_BYTES} bytes")
    if corpus.way != Way.ABC:
        reader = getattr(get_way(corpus.way), "import_items", None)
        if reader is None:
            raise ImportRefused(f"importing is not available for the {corpus.way} way yet")
        return reader(source=source, upload=upload)
    if upload is not None:
        return abc_upload_items(name=upload[0], raw=upload[1])
    items: list[Item] = []
    for path in abc_source_files(source):
        text = abc_file_text(name=path.name, raw=path.read_bytes())
        items.extend(_abc_items_from_text(text, file=path.name))
    return items


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
        items = _items_for(corpus, source, upload)
        if len(items) > MAX_TUNES_PER_IMPORT:
            raise ImportRefused(f"more than {MAX_TUNES_PER_IMPORT} tunes in one import")
    except ImportRefused as exc:
        return _finish(job, status=JobStatus.FAILED, error=str(exc))
    way = get_way(corpus.way)
    failures: list[dict] = []
    if corpus.way == Way.ABC:
        checks = _check_all([it.text for it in items], progress)
    else:
        checks = [(getattr(it, "failure", None), getattr(it, "n_notes", 0)) for it in items]
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
    with transaction.atomic():
        Tune.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
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
