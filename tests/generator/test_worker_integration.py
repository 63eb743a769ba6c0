"""Runs and generation through a real Celery worker on Redis and PostgreSQL."""

import time
from pathlib import Path

import pytest
from django.conf import settings

from generator.ml.trainer import load_model
from generator.models import Checkpoint, JobStatus, TrainingRun
from generator.services import generation_job_create, training_run_create, training_run_start

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, *, timeout: float, what: str, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    log = worker.log()[-4000:] if worker else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def test_a_run_survives_its_worker_being_killed_and_resumes_from_the_last_checkpoint(
    tiny_corpus, celery_worker
):
    run = training_run_create(
        corpus=tiny_corpus, preset="tiny", epochs=6, seed=2, config={"sample_every": 0}
    )
    training_run_start(run=run)
    wait_for(
        lambda: Checkpoint.objects.filter(run=run, epoch__gte=2).exists(),
        timeout=180,
        what="two checkpoints",
        worker=celery_worker,
    )
    celery_worker.kill()  # SIGKILL, mid-epoch
    killed_at = TrainingRun.objects.get(pk=run.pk).epochs_done
    assert TrainingRun.objects.get(pk=run.pk).status == JobStatus.RUNNING  # as the crash left it
    celery_worker.restart()
    done = wait_for(
        lambda: TrainingRun.objects.filter(
            pk=run.pk, status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]
        ).first(),
        timeout=240,
        what="the run to finish after the restart",
        worker=celery_worker,
    )
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts >= 2
    assert [h["epoch"] for h in done.history] == [1, 2, 3, 4, 5, 6]
    epochs = list(done.checkpoints.order_by("epoch").values_list("epoch", flat=True))
    assert epochs == [1, 2, 3, 4, 5, 6]
    # At most the epoch in progress was lost: the checkpoints before the kill were kept.
    assert killed_at >= 2
    final = done.checkpoints.order_by("-epoch").first()
    assert load_model(str(Path(settings.MEDIA_ROOT) / final.file.name)) is not None


def test_generation_through_the_worker_stores_pieces_and_renders_audio(tiny_corpus, celery_worker):
    run = training_run_create(
        corpus=tiny_corpus, preset="tiny", epochs=1, seed=2, config={"sample_every": 0}
    )
    training_run_start(run=run)
    wait_for(
        lambda: TrainingRun.objects.filter(pk=run.pk, status=JobStatus.SUCCEEDED).exists(),
        timeout=180,
        what="the run",
        worker=celery_worker,
    )
    checkpoint = Checkpoint.objects.select_related("run").get(run_id=run.pk)
    job = generation_job_create(checkpoint=checkpoint, count=2, seed=7, max_length=300)
    wait_for(
        lambda: job.__class__.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).exists(),
        timeout=60,
        what="the generation job",
        worker=celery_worker,
    )
    pieces = list(job.pieces.all())
    assert len(pieces) == 2 and all(p.midi for p in pieces)
    wait_for(
        lambda: all(p.__class__.objects.get(pk=p.pk).audio for p in pieces),
        timeout=60,
        what="the audio",
        worker=celery_worker,
    )
