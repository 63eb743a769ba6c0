"""Training runs executed in this process: checkpoints, samples, cancel, resume, errors."""

from pathlib import Path

import pytest
from django.conf import settings

from generator.models import Checkpoint, JobStatus, Piece, TrainingRun
from generator.services import (
    corpus_get_or_create,
    generation_job_create,
    generation_job_execute,
    training_run_cancel,
    training_run_create,
    training_run_execute,
    training_run_resume,
)
from musiclib.ml.trainer import load_model
from tests.factories import make_run

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_a_run_writes_a_checkpoint_and_a_sample_every_epoch(tiny_corpus):
    run = training_run_execute(run_id=make_run(tiny_corpus, epochs=2).pk, worker="here")
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert [h["epoch"] for h in run.history] == [1, 2]
    assert all(h["loss"] > 0 and h["val_loss"] > 0 for h in run.history)
    assert run.device.startswith(("CPU", "GPU")) and run.code_version
    checkpoints = list(run.checkpoints.order_by("epoch"))
    assert [c.epoch for c in checkpoints] == [1, 2]
    for ckpt in checkpoints:
        path = Path(settings.MEDIA_ROOT) / ckpt.file.name
        assert path.exists() and ckpt.size_bytes == path.stat().st_size
        assert path.with_suffix(".npz").exists()
    assert load_model(str(Path(settings.MEDIA_ROOT) / checkpoints[-1].file.name)) is not None
    samples = Piece.objects.filter(run=run, job__is_epoch_sample=True)
    assert sorted({p.checkpoint.epoch for p in samples}) == [1, 2]
    piece = samples.first()
    assert piece.text.startswith("X:1\nT:") and piece.parses is not None
    # No temporary checkpoint files are left behind.
    assert not list((Path(settings.MEDIA_ROOT) / "checkpoints").rglob("*.tmp*"))


def test_a_resumed_run_continues_from_its_last_checkpoint(tiny_corpus):
    run = training_run_execute(run_id=make_run(tiny_corpus, epochs=1).pk, worker="here")
    first = Checkpoint.objects.get(run=run, epoch=1)
    run = training_run_resume(run=run, epochs=3)
    run = training_run_execute(run_id=run.pk, worker="here")
    assert run.status == JobStatus.SUCCEEDED
    assert [h["epoch"] for h in run.history] == [1, 2, 3]
    assert Checkpoint.objects.get(run=run, epoch=1).pk == first.pk  # not retrained
    assert run.attempts == 2


def test_cancelling_a_queued_run_cancels_it_at_once(tiny_corpus):
    run = training_run_cancel(run=make_run(tiny_corpus))
    assert run.status == JobStatus.CANCELLED
    assert training_run_execute(run_id=run.pk, worker="here") is None  # nothing to claim


def test_a_cancel_request_stops_a_run_after_the_current_epoch(tiny_corpus):
    run = make_run(tiny_corpus, epochs=5)
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run = training_run_execute(run_id=run.pk, worker="here")
    assert run.status == JobStatus.CANCELLED and run.epochs_done <= 1


def test_training_on_an_empty_corpus_is_refused():
    empty = corpus_get_or_create(name="empty")
    with pytest.raises(ValueError, match="empty"):
        training_run_create(corpus=empty, preset="tiny")


def test_generation_stores_pieces_with_validity_and_midi(tiny_corpus):
    run = training_run_execute(run_id=make_run(tiny_corpus, epochs=1).pk, worker="here")
    job = generation_job_create(
        checkpoint=run.last_checkpoint,
        count=3,
        seed=42,
        prime="M:6/8\nL:1/8\nK:G\n",
        max_length=300,
        enqueue=False,
    )
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    pieces = list(job.pieces.order_by("index"))
    assert [p.seed for p in pieces] == [42, 43, 44]
    for piece in pieces:
        assert "M:6/8\nL:1/8\nK:G\n" in piece.text and piece.meter == "6/8"
        assert piece.parses is not None and piece.plays is not None
    # The same checkpoint, seed, temperature and prime give the identical piece.
    again = generation_job_execute(
        job_id=generation_job_create(
            checkpoint=run.last_checkpoint,
            count=1,
            seed=43,
            prime="M:6/8\nL:1/8\nK:G\n",
            max_length=300,
            enqueue=False,
        ).pk
    )
    assert again.pieces.get().text == pieces[1].text


def test_generation_refuses_bad_parameters(tiny_corpus):
    run = training_run_execute(run_id=make_run(tiny_corpus, epochs=1).pk, worker="here")
    ckpt = run.last_checkpoint
    with pytest.raises(ValueError, match="temperature"):
        generation_job_create(checkpoint=ckpt, temperature=0)
    with pytest.raises(ValueError, match="temperature"):
        generation_job_create(checkpoint=ckpt, temperature=-1)
    with pytest.raises(ValueError, match="never saw"):
        generation_job_create(checkpoint=ckpt, prime="M:6/8\n\u00e9\u00e9\u00e9")


def test_a_corrupt_checkpoint_fails_the_job_with_a_clear_error(tiny_corpus):
    run = training_run_execute(run_id=make_run(tiny_corpus, epochs=1).pk, worker="here")
    ckpt = run.last_checkpoint
    (Path(settings.MEDIA_ROOT) / ckpt.file.name).with_suffix(".npz").write_bytes(b"garbage")
    from generator.services.pieces import _cached_net

    _cached_net.cache_clear()
    job = generation_job_create(checkpoint=ckpt, count=2, enqueue=False)
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.FAILED and "corrupt" in job.error
    assert not job.pieces.exists()


def test_only_runs_whose_worker_went_silent_are_put_back_on_the_queue(tiny_corpus, settings):
    from datetime import timedelta

    from django.utils import timezone

    from generator.services import training_runs_recover

    settings.RUN_STALE_AFTER_S = 60
    now = timezone.now()
    silent = make_run(tiny_corpus)
    alive = make_run(tiny_corpus)
    restarted = make_run(tiny_corpus)
    TrainingRun.objects.filter(pk=silent.pk).update(
        status=JobStatus.RUNNING, worker="a@x", heartbeat_at=now - timedelta(seconds=300)
    )
    TrainingRun.objects.filter(pk=alive.pk).update(
        status=JobStatus.RUNNING, worker="b@x", heartbeat_at=now
    )
    TrainingRun.objects.filter(pk=restarted.pk).update(
        status=JobStatus.RUNNING, worker="c@x", heartbeat_at=now
    )
    assert sorted(training_runs_recover(dead_worker="c@x")) == sorted([silent.pk, restarted.pk])
    statuses = dict(TrainingRun.objects.values_list("pk", "status"))
    assert statuses[silent.pk] == statuses[restarted.pk] == JobStatus.QUEUED
    assert statuses[alive.pk] == JobStatus.RUNNING
