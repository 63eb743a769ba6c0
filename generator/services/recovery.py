"""Generation and import jobs whose worker was lost: fail them with a reason, never leave
them "running" forever.

Training runs beat a heartbeat and resume from a checkpoint (`training_runs_recover`).
Generation and import jobs are short, write their rows in one transaction at the end and have
no heartbeat, so a job marked running is alive exactly when a worker is executing its task.
`jobs_recover` asks the workers which tasks they are executing (Celery's `inspect active`)
and fails every running job that none of them holds; nothing of it was saved, and the same
request made again (the retry) starts from scratch. An epoch-sample job runs inside its
training task, so it counts as lost when it has been running longer than a run may go
without a heartbeat, or queued that long (its task died between making and running it).
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.tasks import send_now

from ..models import GenerationJob, ImportJob, JobStatus, TrainingRun
from ..task_names import GENERATION_TASK, IMPORT_TASK, RUN_TASK

log = logging.getLogger(__name__)

LOST_REASON = (
    "The worker running this job stopped (it was killed or restarted) before the job "
    "finished. Nothing of it was saved; start it again."
)


class WorkerTasks:
    """What the live workers hold, by task name: row ids `active` (executing) and `held`
    (executing or reserved). One `inspect` round answers both sweeps."""

    def __init__(self, active: dict[str, set[int]], held: dict[str, set[int]]):
        self.active, self.held = active, held

    def is_active(self, task: str, pk: int) -> bool:
        return pk in self.active.get(task, set())

    def is_held(self, task: str, pk: int) -> bool:
        return pk in self.held.get(task, set())


def worker_tasks(*, timeout: float | None = None) -> WorkerTasks | None:
    """Ask the workers (Celery `inspect`) what they execute and hold; None when the broker
    cannot be reached (then nothing can be concluded)."""
    timeout = settings.HEALTH_TIMEOUT_S if timeout is None else timeout
    try:
        inspect = current_app.control.inspect(timeout=timeout)
        active_replies, reserved_replies = inspect.active() or {}, inspect.reserved() or {}
    except Exception:  # broker down: do not touch jobs that may well be running
        log.warning("recovery: could not ask the workers; skipped", exc_info=True)
        return None

    def by_task(replies: dict) -> dict[str, set[int]]:
        rows: dict[str, set[int]] = {}
        for tasks in replies.values():
            for task in tasks or []:
                args = task.get("args") or []
                if args and isinstance(args[0], int):
                    rows.setdefault(task.get("name"), set()).add(args[0])
        return rows

    active = by_task(active_replies)
    held = by_task(reserved_replies)
    for name, ids in active.items():
        held.setdefault(name, set()).update(ids)
    return WorkerTasks(active, held)


def jobs_recover(*, tasks: WorkerTasks | None = None) -> list[tuple[str, int]]:
    """Fail the running generation and import jobs no live worker is executing, and the
    epoch-sample jobs their training task left queued or running (see the module's notes).

    Jobs started less than JOB_LOST_AFTER_S ago are left alone: their worker may have
    claimed the row a moment before `inspect` looked."""
    tasks = tasks or worker_tasks()
    if tasks is None:
        return []
    now = timezone.now()
    old_enough = now - timedelta(seconds=settings.JOB_LOST_AFTER_S)
    sample_lost = now - timedelta(seconds=settings.RUN_STALE_AFTER_S)
    failed: list[tuple[str, int]] = []

    def fail(kind: str, job) -> None:
        job.status, job.error, job.finished_at = JobStatus.FAILED, LOST_REASON, now
        job.save(update_fields=["status", "error", "finished_at"])
        failed.append((kind, job.pk))

    with transaction.atomic():
        jobs = GenerationJob.objects.select_for_update(skip_locked=True).filter(
            status=JobStatus.RUNNING, started_at__lt=old_enough
        )
        for job in jobs:
            lost = (
                job.started_at < sample_lost
                if job.is_epoch_sample
                else not tasks.is_active(GENERATION_TASK, job.pk)
            )
            if lost:
                fail("generation", job)
        # An epoch-sample job is created and run at once by its training task, never queued
        # for a worker: one still queued a run's stale time after it was made lost its worker
        # between the two (no message of it exists to be sent again).
        orphans = GenerationJob.objects.select_for_update(skip_locked=True).filter(
            status=JobStatus.QUEUED, is_epoch_sample=True, created_at__lt=sample_lost
        )
        for job in orphans:
            fail("generation", job)
        imports = ImportJob.objects.select_for_update(skip_locked=True).filter(
            status=JobStatus.RUNNING, started_at__lt=old_enough
        )
        for job in imports:
            if not tasks.is_active(IMPORT_TASK, job.pk):
                fail("import", job)
    if failed:
        log.warning("jobs_recover: failed jobs whose worker was lost: %s", failed)
    return failed


# --- queued work whose message was lost -------------------------------------------------------
# A broker restart without persistence (or a worker killed holding prefetched messages) loses
# the messages of queued runs and jobs: their rows would say "queued" forever. Both tasks
# claim their row (queued → running) in a transaction, so a second message for the same row
# is harmless; it is sent only when no message for the row is waiting or held by a worker.
_QUEUES = settings.WORK_QUEUES


def waiting_rows(task_names: tuple[str, ...]) -> dict[str, set[int]] | None:
    """Row ids (each message's first argument) of the messages of `task_names` waiting in
    the Redis queues, by task name; None when the broker is not Redis or cannot be read.

    Messages a worker took but has not acknowledged (Redis's `unacked` hash) are not
    counted: a live worker's are found by `inspect` (WorkerTasks.held), and a killed
    worker's would come back only after the broker's visibility timeout (an hour), so they
    count as lost. Sending such a row's task again is harmless: every task claims its row
    first, or (evaluation) computes the same result again."""
    found: dict[str, set[int]] = {name: set() for name in task_names}
    try:
        with current_app.connection_for_read() as conn:
            if conn.transport_cls not in ("redis", "rediss"):
                return None
            client = conn.default_channel.client
            keys = [k for q in _QUEUES for k in (q, *(f"{q}\x06\x16{p}" for p in (3, 6, 9)))]
            raw = [m for key in keys for m in client.lrange(key, 0, -1)]
    except Exception:
        log.warning("recovery: could not read the broker's queues", exc_info=True)
        return None
    for item in raw:
        try:
            message = json.loads(item)
            name = message["headers"]["task"]
            if name not in found:
                continue
            body = message["body"]
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args = json.loads(body)[0]
            found[name].add(int(args[0]))
        except (KeyError, ValueError, TypeError, IndexError):
            continue
    return found


def queued_recover(*, tasks: WorkerTasks | None = None) -> list[tuple[str, int]]:
    """Send again the message of every queued run or generation job that has none."""
    tasks = tasks or worker_tasks()
    waiting = waiting_rows((RUN_TASK, GENERATION_TASK))
    if waiting is None or tasks is None:
        return []
    settled_before = timezone.now() - timedelta(seconds=settings.JOB_LOST_AFTER_S)
    resent: list[tuple[str, int]] = []
    runs = TrainingRun.objects.filter(status=JobStatus.QUEUED, created_at__lt=settled_before)
    for pk in runs.values_list("pk", flat=True):
        if pk not in waiting[RUN_TASK] and not tasks.is_held(RUN_TASK, pk):
            send_now(RUN_TASK, pk)
            resent.append(("run", pk))
    jobs = GenerationJob.objects.filter(
        status=JobStatus.QUEUED, is_epoch_sample=False, created_at__lt=settled_before
    )
    for pk in jobs.values_list("pk", flat=True):
        if pk not in waiting[GENERATION_TASK] and not tasks.is_held(GENERATION_TASK, pk):
            send_now(GENERATION_TASK, pk)
            resent.append(("generation", pk))
    if resent:
        log.warning("queued_recover: sent the lost messages of %s again", resent)
    return resent


def lost_work_recover() -> None:
    """The beat's sweep: fail running jobs no worker holds and send again the lost messages
    of queued ones, asking the workers once (one round of `inspect` for both)."""
    tasks = worker_tasks()
    if tasks is not None:
        jobs_recover(tasks=tasks)
        queued_recover(tasks=tasks)
