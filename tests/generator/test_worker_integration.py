"""Runs and generation through a real Celery worker on Redis and PostgreSQL."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile

from generator.models import Checkpoint, JobStatus, Piece, TrainingRun
from generator.services import generation_job_create, training_run_create, training_run_start
from generator.tasks import piece_render_task
from musiclib.ml.trainer import load_model
from musiclib.render import abc_to_midi, audio_duration
from tests.factories import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


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
    job = generation_job_create(
        checkpoint=checkpoint, count=2, seed=7, max_length=300, prime="M:6/8\nL:1/8\nK:G\n"
    )
    wait_for(
        lambda: job.__class__.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).exists(),
        timeout=60,
        what="the generation job",
        worker=celery_worker,
    )
    pieces = Piece.objects.filter(job=job)
    assert pieces.count() == 2

    def rendered():
        # A one-epoch model writes poor ABC: each piece ends with audio or why it has none.
        return all(
            p.audio or {"audio_error", "midi_error"} & set(p.validity_detail)
            for p in Piece.objects.filter(job=job)
        )

    wait_for(rendered, timeout=60, what="the generated pieces' audio", worker=celery_worker)
    # A well-formed piece (a real tune's text) gets real audio from the worker.
    tune = tiny_corpus.tunes.order_by("pk").first()
    good = Piece.objects.create(
        job=job, checkpoint=checkpoint, run=checkpoint.run, index=9, seed=1, text=tune.text
    )
    good.midi.save("good.mid", ContentFile(abc_to_midi(abc=tune.text)))
    piece_render_task.delay(good.pk)
    good = wait_for(
        lambda: Piece.objects.filter(pk=good.pk).exclude(audio="").first(),
        timeout=60,
        what="a real tune's audio",
        worker=celery_worker,
    )
    with good.audio.open("rb") as fh:
        assert audio_duration(data=fh.read()) > 5
