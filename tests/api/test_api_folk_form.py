"""The generation API's folk_form option: stored with the job, refused on its field
without the grammar, and shown in the job."""

from __future__ import annotations

from generator.models import GenerationJob
from tests.api.conftest import assert_error


def test_the_api_stores_the_folk_tune_form_and_shows_it_in_the_job(anon, world, queued):
    body = {"run": world.run.pk, "grammar": True, "folk_form": True}
    response = anon.post("/api/v1/generate/", body, format="json", REMOTE_ADDR="10.9.8.1")
    assert response.status_code == 202
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.folk_form is True and response.json()["folk_form"] is True


def test_the_api_refuses_the_folk_tune_form_without_the_grammar(anon, world, queued):
    body = {"run": world.run.pk, "folk_form": True}
    response = anon.post("/api/v1/generate/", body, format="json", REMOTE_ADDR="10.9.8.2")
    error = assert_error(response, 400)
    assert "folk_form" in str(error)
    assert not GenerationJob.objects.filter(requester_ip="10.9.8.2").exists()
