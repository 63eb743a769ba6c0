"""Generation and import jobs whose worker was lost: fail them with a reason, never leave
them "running" forever.

Training runs beat a heartbeat and resume from a checkpoint (`training_runs_recover`).
Generation and import jobs are short, write their rows in one transaction at the end and have
no heartbeat, so a job marked running is alive exactly when a worker is executing its task.
`jobs_recover` asks the workers which tasks they are executing (Celery's `inspect active`)
and fails every running job that none of them holds; nothing of it was saved, and the same
request made again (the retry) starts from scratch. An epoch-sample job runs inside its
training task, so it counts as lost when it has been running longer than a run may go
without a heartbeat.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import GenerationJob, ImportJob, JobStatus

log = logging.getLogger(__name__)

LOST_REASON = (
    "The worker running this job stopped (it was killed or restarted) before the job "
    "finished. Nothing of it was saved; start it again."
)
_TASKS = {
    "generator.tasks.generation_job_task": GenerationJob,
    "generator.tasks.corpus_import_task": ImportJob,
}


def active_task_rows(*, timeout: float = 1.0) -> dict[type, set[int]] | None:
    """Row ids of the generation and import tasks the live workers are executing, or None
    when the broker cannot be reached (then nothing can be concluded)."""
    from musicsite.celery import app

    try:
        replies = app.control.inspect(timeout=timeout).active() or {}
    except Exception:  # broker down: do not fail jobs that may well be running
        log.warning("jobs_recover: could not ask the workers; skipped", exc_info=True)
        return None
    held: dict[type, set[int]] = {model: set() for model in _TASKS.values()}
    for tasks in replies.values():
        for task in tasks or []:
            model = _TASKS.get(task.get("name"))
            args = task.get("args") or []
            if model is not None and args:
                held[model].add(int(args[0]))
    return held


def jobs_recover(*, exclude_task_id: str | None = None) -> list[tuple[str, int]]:
    """Fail the running generation and import jobs no live worker is executing.

    Jobs started less than JOB_LOST_AFTER_S ago are left alone: their worker may have
    claimed the row a moment before `inspect` looked."""
    held = active_task_rows(timeout=settings.HEALTH_TIMEOUT_S)
    if held is None:
        return []
    now = timezone.now()
    old_enough = now - timedelta(seconds=settings.JOB_LOST_AFTER_S)
    sample_lost = now - timedelta(seconds=settings.RUN_STALE_AFTER_S)
    failed: list[tuple[str, int]] = []
    with transaction.atomic():
        jobs = GenerationJob.objects.select_for_update(skip_locked=True).filter(
            status=JobStatus.RUNNING, started_at__lt=old_enough
        )
        for job in jobs:
            lost = (
                job.started_at < sample_lost
                if job.is_epoch_sample
                else job.pk not in held[GenerationJob]
            )
            if lost:
                job.status, job.error, job.finished_at = JobStatus.FAILED, LOST_REASON, now
                job.save(update_fields=["status", "error", "finished_at"])
                failed.append(("generation", job.pk))
        imports = ImportJob.objects.select_for_update(skip_locked=True).filter(
            status=JobStatus.RUNNING, started_at__lt=old_enough
        )
        for job in imports:
            if job.pk not in held[ImportJob]:
                job.status, job.error, job.finished_at = JobStatus.FAILED, LOST_REASON, now
                job.save(update_fields=["status", "error", "finished_at"])
                failed.append(("import", job.pk))
    if failed:
        log.warning("jobs_recover: failed jobs whose worker was lost: %s", failed)
    return failed
