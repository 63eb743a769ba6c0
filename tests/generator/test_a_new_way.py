"""A new way is one module and its registration: a toy fourth way (all of it in
tests/generator/toy_way.py), registered for each test and removed after it, appears in the
admin, on the generate page (with only the fields it takes) and in the API (its `way`
choices, the schema, a piece's downloads), and travels the shared spine (import, training,
sampling) with nothing else written for it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from generator.models import GenerationJob, JobStatus
from musiclib.ways import register, unregister
from tests.generator.toy_way import WORDS, ToyWay
from tests.web.builders import make_toy_world

pytestmark = pytest.mark.django_db

BASE = "http://testserver"


@pytest.fixture
def toy():
    way = register(ToyWay())
    yield way
    unregister(way.name)


@pytest.fixture
def toy_world(toy):
    return make_toy_world()


def test_the_admin_offers_a_registered_way_for_corpora_and_runs(staff_client, toy):
    for model in ("corpus", "trainingrun"):
        html = staff_client.get(f"/admin/generator/{model}/add/").content.decode()
        assert '<option value="toy">Toy words</option>' in html, model


def test_the_generate_page_shows_only_the_fields_of_a_new_ways_model(client, toy_world):
    _, checkpoint, _ = toy_world
    html = client.get(reverse("generate")).content.decode()
    option = re.search(rf'<option value="{checkpoint.pk}"[^>]*>', html).group(0)
    assert 'data-way="toy"' in option
    assert 'data-fields="count temperature seed top_k top_p takes max_length prime"' in option
    data = {"checkpoint": checkpoint.pk, "temperature": "1", "max_length": "24", "top_k": "0"}
    refused = client.post(reverse("generate"), {**data, "count": "1", "meter": "6/8"})
    assert refused.context["form"].errors["meter"] == [
        f"A meter is for ABC runs; run {checkpoint.run_id} is Toy words: it starts from its "
        "own text."
    ]
    # The grammar box is ticked by default: a way without grammar ignores it.
    made = client.post(reverse("generate"), {**data, "count": "1", "grammar": "on"})
    assert made.status_code == 302
    assert GenerationJob.objects.latest("pk").grammar is False


def test_the_api_takes_a_new_way_in_its_choices_schema_and_filters(toy_world):
    run, _, piece = toy_world
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user("toy-staff", is_staff=True, is_superuser=True)
    api = APIClient()
    api.force_authenticate(staff)
    created = api.post("/api/v1/corpora/", {"name": "More toys", "way": "toy"}, format="json")
    assert created.status_code == 201 and created.json()["way"] == "toy"
    assert api.get(f"/api/v1/runs/{run.pk}/").json()["way"] == "toy"
    assert [r["id"] for r in api.get("/api/v1/runs/", {"way": "toy"}).json()["results"]] == [run.pk]
    assert [p["id"] for p in api.get("/api/v1/pieces/", {"way": "toy"}).json()["results"]] == [
        piece.pk
    ]
    schema = api.get("/api/schema/", {"format": "json"}).json()
    assert "toy" in schema["components"]["schemas"]["WayEnum"]["enum"]
    [param] = [
        p for p in schema["paths"]["/api/v1/pieces/"]["get"]["parameters"] if p["name"] == "way"
    ]
    assert "toy" in param["schema"]["enum"]


def test_a_new_ways_piece_offers_only_its_text_and_shows_no_notation(client, toy_world):
    _, _, piece = toy_world
    body = APIClient().get(f"/api/v1/pieces/{piece.pk}/").json()
    assert body["downloads"] == {"text": f"{BASE}/pieces/{piece.pk}/download/text/"}
    assert client.get(body["downloads"]["text"].removeprefix(BASE)).content == b"do re mi"
    html = client.get(piece.get_absolute_url()).content.decode()
    assert "Tokens as text" in html and "<dt>Parses</dt>" not in html
    assert "badge-parses" not in html and "badge-valid" not in html


@pytest.mark.slow
def test_a_new_way_imports_trains_and_generates_through_the_shared_spine(toy):
    from generator.services import (
        corpus_get_or_create,
        corpus_import,
        generation_job_create,
        generation_job_execute,
    )
    from tests.factories import make_trained_run

    corpus = corpus_get_or_create(name="Toy songs", way="toy")
    lines = [" ".join(WORDS[(i * k) % 5] for k in range(1, 9)) for i in range(12)]
    job = corpus_import(corpus=corpus, upload=("songs.txt", "\n".join(lines).encode()))
    assert job.status == JobStatus.SUCCEEDED and job.imported == len(set(lines))
    run = make_trained_run(corpus, epochs=1)
    assert run.way == "toy" and set(WORDS) <= set(run.vocab)
    job = generation_job_create(checkpoint=run.last_checkpoint, count=2, seed=5, enqueue=False)
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    for piece in job.pieces.all():
        assert piece.way == "toy" and not piece.midi and not piece.audio
        assert set(piece.text.split()) <= set(WORDS) and "(" not in piece.title


def test_a_way_registered_after_the_schema_was_made_is_in_the_next_one(db):
    """Serializers made once (those of `extend_schema`) read the registry again."""
    api = APIClient()
    api.get("/api/schema/", {"format": "json"})
    register(ToyWay())
    try:
        schema = api.get("/api/schema/", {"format": "json"}).json()
    finally:
        unregister("toy")
    enums = {k: v["enum"] for k, v in schema["components"]["schemas"].items() if "Way" in k}
    assert enums == {"WayEnum": ["abc", "midi", "audio", "toy"]}
