"""Queues by kind of work: where each task goes, and what a queued job says it waits for."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from evaluation import task_names as evaluation_tasks
from generator import task_names as generator_tasks
from generator.models import GenerationJob, JobStatus
from musicsite.celery import app
from tests.web.builders import make_world

# Every task of the site and the queue it must go to: training on `train` (TensorFlow, one
# model at a time), a visitor's generations on `sample` (numpy), everything else on `default`.
EXPECTED_QUEUE = {
    generator_tasks.RUN_TASK: "train",
    generator_tasks.GENERATION_TASK: "sample",
    generator_tasks.RENDER_TASK: "default",
    generator_tasks.TUNE_RENDER_TASK: "default",
    generator_tasks.CORPUS_RENDER_TASK: "default",
    generator_tasks.IMPORT_TASK: "default",
    generator_tasks.RUNS_RECOVER_TASK: "default",
    generator_tasks.JOBS_RECOVER_TASK: "default",
    generator_tasks.FILE_CACHE_PRUNE_TASK: "default",
    generator_tasks.REQUESTERS_PRUNE_TASK: "default",
    evaluation_tasks.PIECE_EVALUATE_TASK: "default",
    evaluation_tasks.JOB_EVALUATE_TASK: "default",
    evaluation_tasks.SURVEY_BUILD_TASK: "default",
    evaluation_tasks.EVALUATIONS_RECOVER_TASK: "default",
    evaluation_tasks.RUN_REPORT_TASK: "default",
    evaluation_tasks.CORPUS_CALIBRATE_TASK: "default",
}


def _site_tasks() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def _queue_of(name: str) -> str:
    route = app.amqp.router.route({}, name, args=(1,), kwargs={})
    return route["queue"].name


def test_every_task_of_the_site_has_a_queue_chosen_for_it():
    # A new task fails here until someone decides which kind of work it is.
    assert _site_tasks() == set(EXPECTED_QUEUE)


@pytest.mark.parametrize("name", sorted(EXPECTED_QUEUE))
def test_each_task_is_routed_to_the_queue_of_its_kind_of_work(name):
    assert _queue_of(name) == EXPECTED_QUEUE[name]
    assert _queue_of(name) in settings.WORK_QUEUES


def test_the_beat_sweeps_run_on_the_default_queue():
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert _queue_of(entry["task"]) == "default"


def test_each_worker_reserves_one_message_per_process():
    # Prefetch 1: a sampler process never holds a second visitor's job it cannot start yet,
    # while another process of the same worker sits idle.
    assert app.conf.worker_prefetch_multiplier == 1


# --- a queued job's place --------------------------------------------------------------------
@pytest.fixture
def queued_jobs(db):
    world = make_world()
    running = GenerationJob.objects.create(
        checkpoint=world.checkpoint, seed=1, status=JobStatus.RUNNING
    )
    first = GenerationJob.objects.create(checkpoint=world.checkpoint, seed=2)
    second = GenerationJob.objects.create(checkpoint=world.checkpoint, seed=3)
    # An epoch sample is drawn inside the training worker: it never waits on the queue.
    GenerationJob.objects.create(checkpoint=world.checkpoint, seed=4, is_epoch_sample=True)
    mine = GenerationJob.objects.create(checkpoint=world.checkpoint, seed=5)
    return {"running": running, "first": first, "second": second, "mine": mine}


def test_a_queued_job_page_says_how_many_generations_are_ahead_not_that_the_model_writes(
    client, queued_jobs
):
    mine = queued_jobs["mine"]
    page = client.get(mine.get_absolute_url()).content.decode()
    assert "Waiting: 2 generations ahead of yours." in page
    assert "writing" not in page
    status = client.get(reverse("job_status", args=[mine.pk])).json()
    assert status["text"]["waiting"] == "Waiting: 2 generations ahead of yours."


def test_the_first_queued_job_is_next_in_line_and_a_running_one_is_writing(client, queued_jobs):
    first = client.get(reverse("job_status", args=[queued_jobs["first"].pk])).json()
    assert first["text"]["waiting"] == "Waiting: yours is next in line."
    running = client.get(reverse("job_status", args=[queued_jobs["running"].pk])).json()
    assert running["text"]["waiting"].startswith("The model is writing")


def test_the_place_moves_up_as_jobs_ahead_start(client, queued_jobs):
    GenerationJob.objects.filter(pk=queued_jobs["first"].pk).update(status=JobStatus.RUNNING)
    status = client.get(reverse("job_status", args=[queued_jobs["mine"].pk])).json()
    assert status["text"]["waiting"] == "Waiting: 1 generation ahead of yours."


def test_the_api_gives_a_queued_job_its_place_and_none_once_it_runs(client, queued_jobs):
    body = client.get(f"/api/v1/jobs/{queued_jobs['mine'].pk}/").json()
    assert body["queue_place"] == 2
    assert body["waiting"] == "Waiting: 2 generations ahead of yours."
    body = client.get(f"/api/v1/jobs/{queued_jobs['running'].pk}/").json()
    assert body["queue_place"] is None
    assert body["waiting"].startswith("The model is writing")
    listed = {j["id"]: j for j in client.get("/api/v1/jobs/").json()["results"]}
    assert listed[queued_jobs["second"].pk]["queue_place"] == 1
