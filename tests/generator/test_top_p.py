"""Nucleus (top-p) sampling is a setting beside top-k: the generate page and the API store it
on the job, refuse a value outside 0 < p <= 1 on its field without writing anything, and the
piece and job pages show it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from common.errors import ServiceError
from generator import services
from generator.models import GenerationJob
from tests.api.builders import make_job, make_piece, make_world
from tests.generator.pages import post_generate_form

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def new_jobs(world):
    return GenerationJob.objects.exclude(pk=world.job.pk)


def test_the_generate_page_stores_the_top_p_it_is_given(client):
    world = make_world()
    response = post_generate_form(client, world.checkpoint, top_p="0.9")
    assert response.status_code == 302
    assert new_jobs(world).get().top_p == pytest.approx(0.9)


def test_a_blank_top_p_on_the_generate_page_means_off(client):
    world = make_world()
    assert post_generate_form(client, world.checkpoint, top_p="").status_code == 302
    assert new_jobs(world).get().top_p == 1.0


@pytest.mark.parametrize(
    "value,words", [("0", "more than 0"), ("1.5", "at most 1"), ("lots", "number")]
)
def test_the_generate_page_refuses_a_top_p_outside_0_to_1_on_its_field(client, value, words):
    world = make_world()
    response = post_generate_form(client, world.checkpoint, top_p=value)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["top_p"]
    assert words in errors["top_p"][0]
    assert not new_jobs(world).exists()


def test_the_api_stores_top_p_and_returns_it_with_the_job():
    world = make_world()
    response = APIClient().post(
        "/api/v1/generate/", {"checkpoint": world.checkpoint.pk, "top_p": 0.8}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json()["top_p"] == pytest.approx(0.8)
    assert new_jobs(world).get().top_p == pytest.approx(0.8)


@pytest.mark.parametrize("value", [0, -0.5, 1.01, "most", None])
def test_the_api_refuses_a_bad_top_p_as_a_400_naming_it(value):
    world = make_world()
    response = APIClient().post(
        "/api/v1/generate/", {"checkpoint": world.checkpoint.pk, "top_p": value}, format="json"
    )
    assert response.status_code == 400
    assert "top_p" in response.json()["error"]["fields"]
    assert not new_jobs(world).exists()


@pytest.mark.parametrize("value", [0.0, 1.5, float("nan")])
def test_the_service_refuses_a_bad_top_p_by_its_field(value):
    world = make_world()
    with pytest.raises(ServiceError) as refused:
        services.generation_job_create(checkpoint=world.checkpoint, top_p=value, enqueue=False)
    assert refused.value.field == "top_p"
    assert not new_jobs(world).exists()


def test_a_reproduced_piece_keeps_its_jobs_top_p():
    world = make_world()
    piece = make_piece(make_job(world.checkpoint, top_p=0.7))
    job = services.piece_reproduce(piece=piece, same_seed=True, ip="10.0.0.1")
    assert job.top_p == pytest.approx(0.7)


def test_the_piece_and_job_pages_show_top_p(client):
    world = make_world()
    nucleus = make_piece(make_job(world.checkpoint, top_p=0.85))
    plain = make_piece(world.job)
    page = client.get(nucleus.get_absolute_url()).content.decode()
    assert "Top-p" in page and "0.85" in page
    assert "Top-p</dt><dd data-top-p>off" in client.get(plain.get_absolute_url()).content.decode()
    job_page = client.get(nucleus.job.get_absolute_url()).content.decode()
    assert "<dt>Top-p</dt><dd>0.85</dd>" in job_page
