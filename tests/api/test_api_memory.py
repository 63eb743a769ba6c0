"""The generation API's memory option: stored with the job and shown in it."""

from __future__ import annotations

from generator.models import GenerationJob
from tests.api.conftest import assert_error


def test_the_api_stores_the_memory_option_and_shows_it_in_the_job(anon, world, queued):
    body = {"run": world.run.pk, "grammar": True, "memory": True}
    response = anon.post("/api/v1/generate/", body, format="json", REMOTE_ADDR="10.9.8.1")
    assert response.status_code == 202
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.memory is True and response.json()["memory"] is True


def test_the_api_refuses_a_memory_that_is_not_a_boolean(anon, world, queued):
    body = {"run": world.run.pk, "memory": "sometimes"}
    response = anon.post("/api/v1/generate/", body, format="json", REMOTE_ADDR="10.9.8.2")
    assert "memory" in str(assert_error(response, 400))
    assert not GenerationJob.objects.filter(requester_ip="10.9.8.2").exists()


def test_a_runs_history_gives_the_held_out_loss_with_the_memory_where_it_was_measured(anon, world):
    run = world.run
    history = [dict(h) for h in run.history]
    history[-1]["val_loss_memory"] = 0.75
    type(run).objects.filter(pk=run.pk).update(history=history)
    body = anon.get(f"/api/v1/runs/{run.pk}/").json()
    assert body["history"][-1]["val_loss_memory"] == 0.75
    assert "val_loss_memory" not in body["history"][0]  # an epoch measured before it existed
