"""Faults injected into a real worker, PostgreSQL and Redis while work is in flight.

Killing the worker during training is in tests/generator/test_worker_integration.py (the run
resumes from its last checkpoint). Here: the worker SIGKILLed during generation and during an
import, PostgreSQL and Redis restarted during a training run. Each time: nothing stays
"running" forever, no row points at a half-written file, the work resumes or fails with a
reason, and a retry succeeds. The worker runs the recovery sweeps every 2 s (embedded beat).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection

from generator.models import Corpus, GenerationJob, ImportJob, JobStatus, Piece, TrainingRun
from generator.services import generation_job_create, training_run_create, training_run_start
from generator.services.recovery import LOST_REASON
from generator.tasks import corpus_import_task
from musiclib.ml.trainer import load_model
from tests.factories import make_tiny_corpus, make_trained_run, oneills_tunes, wait_for
from tests.reliability.conftest import restart_postgres, restart_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
DONE = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
PRIME = "M:6/8\nL:1/8\nK:G\n"


@pytest.fixture
def corpus(in_process_import):
    return make_tiny_corpus(name="faults", tunes=20)


@pytest.fixture
def checkpoint(corpus):
    """A checkpoint trained in this process before the worker starts (a worker's sweep would
    take a run training here, with no heartbeat in its database, for a lost one)."""
    return make_trained_run(corpus, epochs=1, sample_every=0).checkpoints.get()


def _finished(model, pk):
    return lambda: model.objects.filter(pk=pk, status__in=DONE).first()


def _assert_pieces_whole(job: GenerationJob) -> None:
    for piece in Piece.objects.filter(job=job):
        if piece.midi:
            assert (Path(settings.MEDIA_ROOT) / piece.midi.name).stat().st_size > 0


def test_a_generation_job_whose_worker_is_killed_fails_with_a_reason_and_a_retry_succeeds(
    checkpoint, beat_worker
):
    job = generation_job_create(
        checkpoint=checkpoint, count=16, seed=3, max_length=5000, grammar=True, prime=PRIME
    )
    wait_for(
        lambda: GenerationJob.objects.exclude(pk=job.pk, status=JobStatus.QUEUED).exists(),
        timeout=60,
        what="the job to start",
        worker=beat_worker,
    )
    time.sleep(0.5)
    beat_worker.kill()  # SIGKILL, mid-generation
    assert GenerationJob.objects.get(pk=job.pk).status == JobStatus.RUNNING  # as the crash left it
    beat_worker.restart()
    job = wait_for(_finished(GenerationJob, job.pk), timeout=60, what="the lost job to fail")
    assert job.status == JobStatus.FAILED and job.error == LOST_REASON
    assert not Piece.objects.filter(job=job).exists()  # nothing half-stored

    retry = generation_job_create(
        checkpoint=checkpoint, count=4, seed=3, max_length=400, grammar=True, prime=PRIME
    )
    retry = wait_for(_finished(GenerationJob, retry.pk), timeout=120, what="the retry")
    assert retry.status == JobStatus.SUCCEEDED, retry.error
    assert Piece.objects.filter(job=retry).count() == 4
    _assert_pieces_whole(retry)


def _queue_import(corpus: Corpus, raw: bytes) -> ImportJob:
    job = ImportJob(corpus=corpus, source="faults.abc", code_version="test")
    job.upload.save("faults.abc", ContentFile(raw), save=False)
    job.save()
    corpus_import_task.delay(job.pk)
    return job


def test_an_import_whose_worker_is_killed_fails_with_a_reason_stores_no_tune_and_a_retry_succeeds(
    beat_worker,
):
    corpus = Corpus.objects.create(name="killed import", source="tests")
    raw = "\n\n".join(oneills_tunes(300)).encode()
    job = _queue_import(corpus, raw)
    wait_for(
        lambda: ImportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists(),
        timeout=60,
        what="the import to start",
        worker=beat_worker,
    )
    time.sleep(1.0)
    beat_worker.kill()  # SIGKILL, while the tunes are being parsed
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.RUNNING
    beat_worker.restart()
    job = wait_for(_finished(ImportJob, job.pk), timeout=60, what="the lost import to fail")
    assert job.status == JobStatus.FAILED and job.error == LOST_REASON
    assert corpus.tunes.count() == 0  # all or nothing

    retry = _queue_import(corpus, raw)
    retry = wait_for(_finished(ImportJob, retry.pk), timeout=300, what="the retried import")
    assert retry.status == JobStatus.SUCCEEDED, retry.error
    assert corpus.tunes.count() == retry.imported > 250


def _train_through(fault, corpus, worker) -> TrainingRun:
    run = training_run_create(
        corpus=corpus, preset="tiny", epochs=4, seed=2, config={"sample_every": 0}
    )
    training_run_start(run=run)
    wait_for(
        lambda: TrainingRun.objects.filter(pk=run.pk, epochs_done__gte=1).exists(),
        timeout=180,
        what="the first checkpoint",
        worker=worker,
    )
    fault()
    connection.close()  # this process's connection was cut as well
    done = wait_for(
        _finished(TrainingRun, run.pk), timeout=300, what="the run to finish", worker=worker
    )
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert list(done.checkpoints.order_by("epoch").values_list("epoch", flat=True)) == [1, 2, 3, 4]
    assert [h["epoch"] for h in done.history] == [1, 2, 3, 4]
    for checkpoint in done.checkpoints.all():
        assert load_model(str(Path(settings.MEDIA_ROOT) / checkpoint.file.name)) is not None
    return done


@pytest.mark.serial
def test_a_run_survives_a_postgresql_restart_and_finishes_from_its_checkpoints(corpus, beat_worker):
    done = _train_through(restart_postgres, corpus, beat_worker)
    assert done.attempts >= 1
    # The site works again: a generation job goes through the same worker and database.
    job = generation_job_create(
        checkpoint=done.checkpoints.order_by("-epoch").first(), count=2, seed=1, prime=PRIME
    )
    job = wait_for(_finished(GenerationJob, job.pk), timeout=120, what="a job after the restart")
    assert job.status == JobStatus.SUCCEEDED, job.error


@pytest.mark.serial
def test_a_run_survives_a_redis_restart_and_lost_queued_jobs_are_sent_again(
    corpus, checkpoint, beat_worker
):
    lost: list[GenerationJob] = []

    def restart_with_jobs_waiting():
        # Two jobs queued behind the training run (one may sit prefetched in the worker);
        # Redis keeps no data, so the restart loses what is still in its queue.
        lost.extend(
            generation_job_create(checkpoint=checkpoint, count=1, seed=s, prime=PRIME)
            for s in (11, 12)
        )
        restart_redis()

    _train_through(restart_with_jobs_waiting, corpus, beat_worker)
    for job in lost:
        job = wait_for(
            _finished(GenerationJob, job.pk),
            timeout=120,
            what="a job queued before the restart",
            worker=beat_worker,
        )
        assert job.status == JobStatus.SUCCEEDED, job.error
        assert Piece.objects.filter(job=job).count() == 1
