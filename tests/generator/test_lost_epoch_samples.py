"""Epoch-sample jobs run inside their training task, never on a worker's queue: the sweep
fails those a dead training task left behind, queued or running, with the reason, once a
run's stale time has passed, and leaves young ones and visitors' queued jobs alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from generator.models import Checkpoint, GenerationJob, JobStatus
from generator.services.recovery import LOST_REASON, WorkerTasks, jobs_recover
from tests.factories import make_run, make_tiny_corpus

pytestmark = pytest.mark.django_db


def test_epoch_samples_a_dead_training_task_left_fail_with_the_reason(settings):
    settings.RUN_STALE_AFTER_S = 120
    run = make_run(make_tiny_corpus(name="lost samples", tunes=4))
    checkpoint = Checkpoint.objects.create(run=run, epoch=1, file="")
    old = timezone.now() - timedelta(seconds=300)

    def job(status, *, epoch_sample=True, at=old):
        made = GenerationJob.objects.create(
            checkpoint=checkpoint, seed=1, status=status, is_epoch_sample=epoch_sample
        )
        GenerationJob.objects.filter(pk=made.pk).update(created_at=at, started_at=at)
        return made.pk

    left_queued, left_running = job(JobStatus.QUEUED), job(JobStatus.RUNNING)
    young = job(JobStatus.QUEUED, at=timezone.now())
    visitors = job(JobStatus.QUEUED, epoch_sample=False)  # (its message is sent again)

    failed = jobs_recover(tasks=WorkerTasks({}, {}))

    assert sorted(failed) == [("generation", left_queued), ("generation", left_running)]
    rows = {j.pk: j for j in GenerationJob.objects.all()}
    for pk in (left_queued, left_running):
        assert rows[pk].status == JobStatus.FAILED and rows[pk].error == LOST_REASON
    assert rows[young].status == rows[visitors].status == JobStatus.QUEUED
