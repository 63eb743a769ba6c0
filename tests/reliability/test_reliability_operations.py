"""Operations: /health/, JSON logs carrying the run or job id, the staff monitoring page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from generator.models import GenerationJob, JobStatus
from generator.services import generation_job_create
from tests.conftest import ARTIFACTS, ROOT, CeleryWorker, _slug
from tests.factories import make_trained_run, wait_for
from tests.web.builders import make_world

pytestmark = pytest.mark.django_db(transaction=True)
PRIME = "M:6/8\nL:1/8\nK:G\n"


def test_health_is_200_with_details_for_staff_when_database_broker_and_workers_answer(
    staff_client, celery_worker, settings
):
    # What is tested is the answer, not how fast a worker on a loaded machine pings back.
    settings.HEALTH_TIMEOUT_S = 5.0
    response = staff_client.get("/health/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["broker"]["ok"]
    for queue in ("train", "sample", "default"):
        assert body["checks"]["queues"][queue]["workers"] == [celery_worker.name]
        assert body["checks"]["queues"][queue]["backlog"] == 0
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_is_503_naming_what_is_down(staff_client, db):
    response = staff_client.get("/health/")  # no worker runs in this test
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    for check in body["checks"]["queues"].values():
        assert not check["ok"] and "no live worker consumes this queue" in check["error"]


def test_health_says_the_broker_is_down_quickly():
    code = (
        "import json; from django.test import Client; r = Client().get('/health/'); "
        "print(r.status_code, json.dumps(r.json()))"
    )
    env = {**os.environ, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    t0 = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "503", result.stderr
    checks = json.loads(body)["checks"]  # an anonymous caller: only ok or not
    assert checks["database"] == {"ok": True} and checks["broker"] == {"ok": False}
    assert checks["queues"]["default"] == {"ok": False}
    assert time.monotonic() - t0 < 60


@pytest.fixture
def json_worker(celery_worker, request):
    """The test worker restarted with LOG_FORMAT=json."""
    celery_worker.stop()
    log_path = ARTIFACTS / "celery" / f"{_slug(request.node.nodeid)}-json.log"
    log_path.unlink(missing_ok=True)
    worker = CeleryWorker({**celery_worker.env, "LOG_FORMAT": "json"}, log_path)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def test_json_logs_carry_the_task_and_the_job_id(in_process_import_corpus, json_worker):
    checkpoint = in_process_import_corpus
    job = generation_job_create(checkpoint=checkpoint, count=1, seed=4, prime=PRIME)
    wait_for(
        lambda: GenerationJob.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).exists(),
        timeout=120,
        what="the job",
        worker=json_worker,
    )
    time.sleep(1)
    entries = []
    for line in json_worker.log().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    assert entries, json_worker.log()[-2000:]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    mine = [e for e in entries if e.get("job_id") == job.pk]
    assert mine, entries[-5:]
    assert all(e["task"] == "generator.tasks.generation_job_task" and e["task_id"] for e in mine)


@pytest.fixture
def in_process_import_corpus(in_process_import):
    from tests.factories import make_tiny_corpus

    corpus = make_tiny_corpus(name="logs", tunes=20)
    return make_trained_run(corpus, epochs=1, sample_every=0).checkpoints.get()


def test_the_monitoring_page_shows_workers_queues_and_recent_failures(
    staff_client, celery_worker, settings
):
    world = make_world()
    GenerationJob.objects.filter(pk=world.job.pk).update(
        status=JobStatus.FAILED, error="The worker running this job stopped"
    )
    settings.HEALTH_TIMEOUT_S = 2.0  # the answer is tested, not a loaded machine's ping time
    response = staff_client.get("/ops/")
    assert response.status_code == 200
    html = response.content.decode()
    # The page answers without waiting for the workers' broadcast; its script asks for them.
    assert "Asking the workers" in html and 'data-poll="/ops/workers/"' in html
    workers = staff_client.get("/ops/workers/").json()["html"]["workers"]
    assert celery_worker.name in workers
    assert "train" in workers and "sample" in workers and "default" in workers
    inline = staff_client.get("/ops/", {"workers": "1"}).content.decode()  # without JavaScript
    assert celery_worker.name in inline
    assert "Messages waiting" in html
    assert (
        f"Generation job {world.job.pk}" in html and "The worker running this job stopped" in html
    )
