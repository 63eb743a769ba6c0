"""Queues by kind of work, with one real worker per queue as a deployment's roles run them:
a visitor's generation does not wait behind training, the sampler never loads TensorFlow,
and /health/ tells which queue has lost its workers."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from generator.models import GenerationJob, JobStatus, TrainingRun
from generator.services import (
    generation_job_create,
    training_run_cancel,
    training_run_create,
    training_run_start,
)
from generator.task_names import GENERATION_TASK
from musicsite.celery import app
from tests.factories import make_tiny_corpus, make_trained_run, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PRIME = "M:6/8\nL:1/8\nK:G\n"


@pytest.fixture
def trained_run(transactional_db):
    """A tiny ABC run trained for one epoch in this process: a checkpoint to sample from."""
    return make_trained_run(make_tiny_corpus(name="tiny queues", tunes=20), epochs=1)


def _maps_tensorflow(worker) -> bool:
    """Whether any process of the worker (the main process and its pool) has TensorFlow's
    native library mapped: what importing `tensorflow` leaves in a process."""
    pgid = worker.proc.pid
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) != pgid:
                continue
            if "tensorflow" in (proc / "maps").read_text():
                return True
        except (OSError, ProcessLookupError):
            continue
    return False


def test_a_generation_finishes_while_a_training_task_holds_the_training_worker(
    queue_workers, trained_run
):
    train = queue_workers("train", ("train",))
    sample = queue_workers("sample", ("sample",))
    # A run far longer than the test: it holds the only training process throughout.
    long_run = training_run_create(
        corpus=trained_run.corpus, preset="tiny", epochs=5000, config={"sample_every": 0}
    )
    training_run_start(run=long_run)
    training = TrainingRun.objects.filter(pk=long_run.pk, status=JobStatus.RUNNING)
    wait_for(
        lambda: training.filter(epochs_done__gte=1).exists(),
        timeout=240, what="the long run to train its first epoch", worker=train,
    )  # fmt: skip

    job = generation_job_create(
        checkpoint=trained_run.last_checkpoint, count=4, seed=11, max_length=200, prime=PRIME
    )
    done = wait_for(
        lambda: GenerationJob.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).first(),
        timeout=120, what="the generation to finish beside the training run", worker=sample,
    )  # fmt: skip
    assert done.pieces.count() == 4
    long_run.refresh_from_db()
    assert long_run.status == JobStatus.RUNNING, "the training run was still training"

    # The sampler process never imported TensorFlow; the training worker did (so the probe
    # can see it).
    assert not _maps_tensorflow(sample), "the sample worker loaded TensorFlow"
    assert _maps_tensorflow(train)
    training_run_cancel(run=long_run)


def test_health_names_the_queue_without_a_consumer_and_its_backlog_to_staff_only(
    client, staff_client, queue_workers, settings
):
    settings.HEALTH_TIMEOUT_S = 3.0  # a worker on a loaded machine answers in time
    queue_workers("train", ("train",))
    queue_workers("default", ("default",))
    app.tasks[GENERATION_TASK].delay(10**9)  # waits: nothing consumes `sample`

    anonymous = client.get("/health/")
    assert anonymous.status_code == 503
    body = anonymous.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["queues"] == {
        "train": {"ok": True},
        "sample": {"ok": False},
        "default": {"ok": True},
    }
    assert body["checks"]["database"] == {"ok": True}
    assert socket.gethostname() not in anonymous.content.decode()
    assert "backlog" not in anonymous.content.decode()

    staff = staff_client.get("/health/").json()["checks"]["queues"]
    host = socket.gethostname()
    assert staff["train"]["workers"] == [f"train@{host}"]
    assert staff["default"]["workers"] == [f"default@{host}"]
    assert staff["sample"]["workers"] == [] and "no live worker" in staff["sample"]["error"]
    assert staff["sample"]["backlog"] == 1

    queue_workers("sample", ("sample",))  # takes the waiting message (a job long deleted)
    wait_for(
        lambda: staff_client.get("/health/").json()["checks"]["queues"]["sample"]["backlog"] == 0,
        timeout=60, what="the sample worker to take its backlog",
    )  # fmt: skip
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["checks"]["queues"]["sample"] == {"ok": True}
