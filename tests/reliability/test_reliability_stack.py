"""The `make run` stack holds: scripts/supervise.py (what `make run` starts) runs the train,
sample and default workers and the beat on the test's PostgreSQL and Redis, in a temporary
var/ folder, through mixed work (an import, a training run, generations and their
evaluations) while each of its programs is killed once. Each comes back, nothing stays
queued without a consumer or running without a worker, and every piece gets its evaluation.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evaluation.models import EvaluationStatus
from generator.models import (
    ACTIVE_STATUSES,
    GenerationJob,
    ImportJob,
    JobStatus,
    Piece,
    TrainingRun,
)
from generator.services import (
    corpus_get_or_create,
    generation_job_create,
    import_job_create,
    training_run_create,
    training_run_start,
)
from generator.services.recovery import LOST_REASON
from tests.conftest import ARTIFACTS, ROOT, purge_queues, worker_env
from tests.factories import oneills_tunes

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PRIME = "M:6/8\nL:1/8\nK:G\n"
PROGRAMS = ("train", "sample", "default", "beat")


class Stack:
    """scripts/supervise.py in its own process group, with its var/ folder."""

    def __init__(self, var: Path, env: dict[str, str]) -> None:
        self.var = var
        self.log_path = var / "log" / "supervisor.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "supervise.py"), "--var", str(var)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def log(self, name: str = "supervisor") -> str:
        path = self.log_path if name == "supervisor" else self.var / "log" / f"celery-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{self.log(n)[-2500:]}" for n in ("supervisor", *PROGRAMS))

    def wait_for(self, predicate, *, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")

    def ready(self, name: str, since: int = 0) -> bool:
        text = self.log(name)[since:]
        if name == "beat":
            return "beat: Starting..." in text
        return re.search(rf"\b{name}@{re.escape(socket.gethostname())} ready\.", text) is not None

    def kill(self, name: str) -> None:
        """SIGKILL the program's whole process group (the worker and its pool), then wait
        until the supervisor has started it again and it is ready."""
        since = len(self.log(name))
        pid = int((self.var / "run" / f"celery-{name}.pid").read_text())
        os.killpg(pid, signal.SIGKILL)
        self.wait_for(
            lambda: self.ready(name, since), timeout=180, what=f"{name} to come back after a kill"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                pass
        for pidfile in (self.var / "run").glob("*.pid"):
            try:
                os.killpg(int(pidfile.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def stack(transactional_db, media_root, tmp_path, _kept_worker):
    if "worker" in _kept_worker:  # an all-queue test worker would take the stack's tasks
        _kept_worker.pop("worker").stop()
    purge_queues()
    env = worker_env(media_root)
    env.update(
        MUSICSITE_VAR_DIR=str(tmp_path),
        RECOVER_EVERY_S="5",  # the beat's sweeps, often enough for a short test
        JOB_LOST_AFTER_S="10",
        SAMPLE_CONCURRENCY="1",  # two cores, shared with the test and other tests
        CELERY_CONCURRENCY="1",
        # The test is about surviving deaths, not CPU priority: at nice 10 the training worker
        # would crawl beside the other tests of a `make test` run.
        TRAIN_NICE="0",
    )
    stack = Stack(tmp_path, env)
    try:
        for name in PROGRAMS:
            stack.wait_for(lambda n=name: stack.ready(n), timeout=180, what=f"{name} to start")
        yield stack
    finally:
        stack.stop()
        (ARTIFACTS / "stack").mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "stack" / "logs.txt").write_text(stack.logs())


def test_the_make_run_stack_survives_the_death_of_each_of_its_workers(stack):
    # An import on the default queue.
    corpus = corpus_get_or_create(name="stack tunes")
    tunes = "\n\n".join(oneills_tunes(24)).encode()
    imported = import_job_create(corpus=corpus, upload=SimpleUploadedFile("stack.abc", tunes))
    stack.wait_for(
        lambda: ImportJob.objects.filter(pk=imported.pk, status=JobStatus.SUCCEEDED).exists(),
        timeout=360, what="the import",
    )  # fmt: skip

    # A short training run (epoch samples each epoch); its worker dies after the first
    # epoch, and the restarted worker resumes it from its checkpoint.
    run = training_run_create(
        corpus=corpus, preset="tiny", epochs=3, config={"sample_every": 1, "samples_per_epoch": 1}
    )
    training_run_start(run=run)
    stack.wait_for(
        lambda: TrainingRun.objects.filter(pk=run.pk, epochs_done__gte=1).exists(),
        timeout=420, what="the first epoch",
    )  # fmt: skip
    stack.kill("train")
    stack.kill("beat")
    run = stack.wait_for(
        lambda: TrainingRun.objects.filter(pk=run.pk, status=JobStatus.SUCCEEDED).first(),
        timeout=300, what="the run to finish after its worker was killed",
    )  # fmt: skip

    # Generations on the sample queue; its worker dies with them queued or in flight.
    jobs = [
        generation_job_create(
            checkpoint=run.last_checkpoint, count=2, seed=s, max_length=200, prime=PRIME
        )
        for s in (1, 2, 3)
    ]
    stack.kill("sample")
    # Then the default worker dies while their evaluations are queued or running. (The job
    # the killed worker was executing, if any, fails with the reason: wait for one that
    # succeeded, not for a particular one.)
    mine = GenerationJob.objects.filter(pk__in=[j.pk for j in jobs])
    stack.wait_for(
        lambda: mine.filter(status=JobStatus.SUCCEEDED).exists(),
        timeout=180, what="a generation",
    )  # fmt: skip
    stack.kill("default")

    # Nothing stays queued without a consumer, or running without a worker.
    def settled() -> bool:
        return not any(
            model.objects.filter(status__in=ACTIVE_STATUSES).exists()
            for model in (TrainingRun, GenerationJob, ImportJob)
        )

    try:
        stack.wait_for(settled, timeout=180, what="every run and job to finish")
    except AssertionError as exc:  # say which rows stayed, with what the sweeps go by
        left = [
            (model.__name__, row)
            for model in (TrainingRun, GenerationJob, ImportJob)
            for row in model.objects.filter(status__in=ACTIVE_STATUSES).values()
        ]
        raise AssertionError(f"still active: {left}\n{exc}") from None
    for job in GenerationJob.objects.filter(pk__in=[j.pk for j in jobs]):
        # A job in flight when its worker died fails with the reason, and says to retry.
        assert job.status == JobStatus.SUCCEEDED or job.error == LOST_REASON, job.error
    assert GenerationJob.objects.filter(status=JobStatus.SUCCEEDED, is_epoch_sample=False).exists()

    # Every piece gets its evaluation.
    pieces = Piece.objects.filter(run=run)
    assert pieces.count() >= 3  # an epoch sample each epoch, and the generations'
    stack.wait_for(
        lambda: not pieces.exclude(
            evaluation__status__in=(EvaluationStatus.DONE, EvaluationStatus.FAILED)
        ).exists(),
        timeout=240, what="every piece's evaluation",
    )  # fmt: skip

    # Each program died once and was restarted, and the supervisor's log says so.
    log = stack.log()
    for name in PROGRAMS:
        assert re.search(rf"{name} \(pid \d+\) died \(killed by signal 9\)", log), name
        assert f"restarted {name} (pid" in log, name
