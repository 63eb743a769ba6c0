"""Import jobs: one rule for what may be imported, for the API, the admin and the commands.

A job imports either an uploaded file or a source: `music21:<name>` (a collection bundled
with music21) or a folder or file on the server. People on the web (staff, through the API
or the admin) may name only folders inside settings.API_IMPORT_ROOTS; the server's own
commands (`import_corpus`, `bootstrap`) may name any. What the import itself would refuse
at once (a binary file or one without a tune, a source that is not there) is refused here,
before a job exists; the rest (each tune's faults) is the import's report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from common.errors import ServiceError
from common.tasks import send_on_commit
from musiclib.ways import get_way
from musiclib.ways.base import ImportRefused

from ..models import Corpus, ImportJob
from ..task_names import IMPORT_TASK
from .uploads import UploadedFile, upload_read


def import_roots() -> list[Path]:
    """The folders on the server people on the web may import from (API_IMPORT_ROOTS;
    by default the Nottingham dataset's folder)."""
    roots = getattr(settings, "API_IMPORT_ROOTS", None)
    if roots is None:
        roots = [settings.NOTTINGHAM_DIR]
    return [Path(r).resolve() for r in roots]


def _source_check(*, corpus: Corpus, source: str, anywhere: bool) -> None:
    if not source.startswith("music21:") and not anywhere:
        path = Path(source).resolve()
        if not any(path.is_relative_to(root) for root in import_roots()):
            raise ServiceError(
                "give music21:<name> (e.g. music21:oneills1850), upload a file, or a path "
                "inside the server's import folders (settings.API_IMPORT_ROOTS).",
                field="source",
            )
    try:
        get_way(corpus.way).check_import(source=source)
    except Exception as exc:  # ImportRefused, and music21's own CorpusException
        message = str(exc).split(";")[0] or type(exc).__name__
        raise ServiceError(message, field="source") from None


def import_job_check(
    *,
    corpus: Corpus,
    source: str = "",
    upload: UploadedFile | None = None,
    user: Any = None,
    way: str | None = None,
) -> None:
    """Refuse now what an import of `source` or `upload` into `corpus` would refuse.

    `user` None is the server itself (a management command), which may name any folder;
    anyone else names music21:<name> or a folder inside `import_roots()`. `way`, when
    given, is the way the caller means the corpus to hold. Raises ServiceError naming
    `source`, `upload`, `corpus` or `way` (UploadTooLarge for an upload over
    settings.MAX_UPLOAD_BYTES)."""
    source = (source or "").strip()
    if bool(source) == (upload is not None):
        raise ServiceError(
            "give either a source or a file to upload, not both and not neither", field="source"
        )
    if way is not None and corpus.way != way:
        raise ServiceError(f"corpus {corpus} holds {corpus.way} pieces, not {way}", field="way")
    try:
        get_way(corpus.way)
    except (ValueError, ImportError, KeyError):
        raise ServiceError(
            f"importing is not available for the {corpus.way} way here", field="corpus"
        ) from None
    if upload is None:
        _source_check(corpus=corpus, source=source, anywhere=user is None)
        return
    name, raw = upload_read(upload, field="upload")
    upload.seek(0)
    try:
        get_way(corpus.way).check_import(upload=(name, raw))
    except ImportRefused as exc:
        raise ServiceError(str(exc), field="upload") from None


def import_job_create(
    *,
    corpus: Corpus,
    source: str = "",
    upload: UploadedFile | None = None,
    user: Any = None,
    way: str | None = None,
    enqueue: bool = True,
) -> ImportJob:
    """Check an import (`import_job_check`), store it as a queued job with its upload, and
    queue it once the transaction commits (`enqueue` False: the caller runs it itself, as
    `import_corpus` does with `corpus_import(job=...)`)."""
    import_job_check(corpus=corpus, source=source, upload=upload, user=user, way=way)
    source = (source or "").strip()
    with transaction.atomic():
        job = ImportJob(
            corpus=corpus,
            source=(upload.name if upload is not None else source)[:500],
            code_version=settings.CODE_VERSION,
        )
        if upload is not None:
            job.upload = upload
        job.save()
        if enqueue:
            send_on_commit(IMPORT_TASK, job.pk)
    return job
