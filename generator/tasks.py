"""Thin Celery tasks: load the row id, call one service."""

from __future__ import annotations

import socket

from celery import shared_task


@shared_task(name="generator.tasks.training_run_task", acks_late=False)
def training_run_task(run_id: int) -> None:
    # Acked on receipt: a run whose worker dies is put back by `training_runs_recover`
    # from its stale heartbeat, not redelivered by the broker while it may still run.
    from celery import current_task

    from .services import training_run_execute

    hostname = getattr(current_task.request, "hostname", None) or socket.gethostname()
    training_run_execute(run_id=run_id, worker=hostname)


@shared_task(name="generator.tasks.generation_job_task")
def generation_job_task(job_id: int) -> None:
    from .services import generation_job_execute

    generation_job_execute(job_id=job_id)


@shared_task(name="generator.tasks.piece_render_task")
def piece_render_task(piece_id: int) -> None:
    from .models import Piece
    from .services import piece_render_audio

    piece = Piece.objects.filter(pk=piece_id).first()
    if piece is not None:
        piece_render_audio(piece=piece)


@shared_task(name="generator.tasks.corpus_import_task")
def corpus_import_task(job_id: int) -> None:
    from .models import ImportJob
    from .services import corpus_import

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


@shared_task(name="generator.tasks.training_runs_recover_task")
def training_runs_recover_task() -> None:
    from .services import training_runs_recover

    training_runs_recover()


@shared_task(name="generator.tasks.jobs_recover_task")
def jobs_recover_task() -> None:
    from .services import jobs_recover, queued_recover
    from .services.recovery import worker_tasks

    tasks = worker_tasks()  # one round of `inspect` for both sweeps
    if tasks is not None:
        jobs_recover(tasks=tasks)
        queued_recover(tasks=tasks)
