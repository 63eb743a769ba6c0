"""Thin Celery tasks: load the row id, call one service.

Tasks are an interface, like views: they import the services, never the reverse. A service
that queues one of these tasks names it (task_names.py) and sends it through
`common.tasks.send_on_commit`, which finds it in Celery's registry.
"""

from __future__ import annotations

import socket

from celery import current_task, shared_task

from common.storage import file_cache_prune

from .models import Corpus, ImportJob, Piece, Tune
from .services import (
    corpus_import,
    corpus_tunes_render,
    generation_job_execute,
    generation_requesters_prune,
    generation_tables_replay,
    generation_worker_settle,
    lost_work_recover,
    piece_render,
    training_run_execute,
    training_runs_recover,
    tune_render,
)
from .task_names import (
    CORPUS_RENDER_TASK,
    FILE_CACHE_PRUNE_TASK,
    GENERATION_TASK,
    IMPORT_TASK,
    JOBS_RECOVER_TASK,
    RENDER_TASK,
    REQUESTERS_PRUNE_TASK,
    RUN_TASK,
    RUNS_RECOVER_TASK,
    TUNE_RENDER_TASK,
)


@shared_task(name=RUN_TASK, acks_late=False)
def training_run_task(run_id: int) -> None:
    # Acked on receipt: a run whose worker dies is put back by `training_runs_recover`
    # from its stale heartbeat, not redelivered by the broker while it may still run.
    hostname = getattr(current_task.request, "hostname", None) or socket.gethostname()
    training_run_execute(run_id=run_id, worker=hostname)


@shared_task(name=GENERATION_TASK)
def generation_job_task(job_id: int) -> None:
    job = generation_job_execute(job_id=job_id)
    # A worker process lives on: once the job's pieces are stored, its grammar tables are
    # built ahead of time for the model's later jobs (once per model; a command would not),
    # and what the process keeps is put out of the garbage collector's way.
    if job is not None:
        generation_tables_replay(job=job)
    generation_worker_settle()


@shared_task(name=RENDER_TASK)
def piece_render_task(piece_id: int) -> None:
    piece = Piece.objects.filter(pk=piece_id).first()
    if piece is not None:
        piece_render(piece=piece)


@shared_task(name=TUNE_RENDER_TASK)
def tune_render_task(tune_id: int) -> None:
    tune = Tune.objects.select_related("corpus").filter(pk=tune_id).first()
    if tune is not None:
        tune_render(tune=tune)


@shared_task(name=CORPUS_RENDER_TASK)
def corpus_tunes_render_task(corpus_id: int, after: int) -> None:
    corpus = Corpus.objects.filter(pk=corpus_id).first()
    if corpus is not None:
        corpus_tunes_render(corpus=corpus, after=after)


@shared_task(name=IMPORT_TASK)
def corpus_import_task(job_id: int) -> None:
    job = ImportJob.objects.select_related("corpus").filter(pk=job_id).first()
    if job is None:
        return
    upload = None
    if job.upload:
        with job.upload.open("rb") as fh:
            upload = (job.upload.name.rsplit("/", 1)[-1], fh.read())
    corpus_import(
        corpus=job.corpus,
        source=job.source if upload is None else "",
        upload=upload,
        job=job,
    )


@shared_task(name=RUNS_RECOVER_TASK)
def training_runs_recover_task() -> None:
    training_runs_recover()


@shared_task(name=JOBS_RECOVER_TASK)
def jobs_recover_task() -> None:
    lost_work_recover()


@shared_task(name=FILE_CACHE_PRUNE_TASK)
def file_cache_prune_task() -> None:
    # The beat's: this machine's local copies of stored files within FILE_CACHE_MAX_MB.
    file_cache_prune()


@shared_task(name=REQUESTERS_PRUNE_TASK)
def generation_requesters_prune_task() -> None:
    # The beat's, hourly: visitors' allowance lock rows older than the allowance's hour.
    generation_requesters_prune()
