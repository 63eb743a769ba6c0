"""The generation API's returns option: stored with the job and shown in it, refused on its
field without the folk form."""

from __future__ import annotations

from generator.models import GenerationJob
from tests.api.conftest import assert_error


def test_the_api_stores_returns_and_shows_them_in_the_job(anon, world, queued):
    body = {"run": world.run.pk, "grammar": True, "folk_form": True, "returns": True}
    response = anon.post("/api/v1/generate/", body, format="json", REMOTE_ADDR="10.9.9.1")
    assert response.status_code == 202
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.returns is True and response.json()["returns"] is True


def test_the_api_refuses_returns_without_the_folk_form(anon, world, queued):
    body = {"run": world.run.pk, "grammar": True, "returns": True}
    response = anon.post("/api/v1/generate/", body, format="json", REMOTE_ADDR="10.9.9.2")
    error = assert_error(response, 400)
    assert "returns" in str(error)
    assert not GenerationJob.objects.filter(requester_ip="10.9.9.2").exists()
