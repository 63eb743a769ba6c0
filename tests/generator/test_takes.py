"""Takes: a generation may draw each piece several times and keep the take the model
finds least surprising. The generate page offers an ABC model four (its way's default),
the API and the service one; every interface stores the number on the job and refuses one
outside 1..8 on its field without writing anything; the piece and job pages say how many
were weighed; a reproduced piece keeps them, and the same seed gives the same piece."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from common.errors import ServiceError
from generator import services
from generator.forms import DEFAULT_TAKES
from generator.models import GenerationJob, JobStatus
from musiclib.ways import get_way
from tests.api.builders import make_job, make_piece, make_world
from tests.generator.pages import post_generate_form

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def new_jobs(world):
    return GenerationJob.objects.exclude(pk=world.job.pk)


def test_the_generate_page_offers_an_abc_model_four_takes_and_stores_what_it_is_given(client):
    world = make_world()
    page = client.get(reverse("generate")).content.decode()
    assert get_way("abc").capabilities.default_takes == 4 and DEFAULT_TAKES == 1
    assert 'name="takes"' in page and 'value="4"' in page.split('name="takes"')[1][:200]
    assert f'value="{world.checkpoint.pk}" selected data-way="abc"' in page
    assert 'data-takes="4"' in page
    assert post_generate_form(client, world.checkpoint, takes=6).status_code == 302
    assert new_jobs(world).get().takes == 6


def test_a_blank_takes_field_means_one_draw(client):
    world = make_world()
    assert post_generate_form(client, world.checkpoint, takes="").status_code == 302
    assert new_jobs(world).get().takes == 1


@pytest.mark.parametrize("value", ["0", "9", "many"])
def test_the_generate_page_refuses_takes_outside_1_to_8_on_its_field(client, value):
    world = make_world()
    response = post_generate_form(client, world.checkpoint, takes=value)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["takes"]
    assert not new_jobs(world).exists()


def test_the_api_stores_takes_and_returns_them_with_the_job():
    world = make_world()
    client = APIClient()
    response = client.post(
        "/api/v1/generate/", {"checkpoint": world.checkpoint.pk, "takes": 3}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json()["takes"] == 3
    plain = client.post("/api/v1/generate/", {"checkpoint": world.checkpoint.pk}, format="json")
    assert plain.json()["takes"] == 1


@pytest.mark.parametrize("value", [0, 9, 2.5, "two", None])
def test_the_api_refuses_bad_takes_as_a_400_naming_them(value):
    world = make_world()
    response = APIClient().post(
        "/api/v1/generate/", {"checkpoint": world.checkpoint.pk, "takes": value}, format="json"
    )
    assert response.status_code == 400
    assert "takes" in response.json()["error"]["fields"]
    assert not new_jobs(world).exists()


@pytest.mark.parametrize("value", [0, 9])
def test_the_service_refuses_takes_out_of_range_by_their_field(value):
    world = make_world()
    with pytest.raises(ServiceError) as refused:
        services.generation_job_create(checkpoint=world.checkpoint, takes=value, enqueue=False)
    assert refused.value.field == "takes"
    assert not new_jobs(world).exists()


def test_a_reproduced_piece_keeps_its_jobs_takes():
    world = make_world()
    piece = make_piece(make_job(world.checkpoint, takes=5))
    assert services.piece_reproduce(piece=piece, same_seed=True, ip="10.0.0.1").takes == 5


def test_the_piece_and_job_pages_say_how_many_takes_were_weighed(client):
    world = make_world()
    weighed = make_piece(make_job(world.checkpoint, takes=4))
    one = make_piece(world.job)
    page = client.get(weighed.get_absolute_url()).content.decode()
    assert "<dd data-takes>the most natural of 4 kept</dd>" in page
    assert "<dd data-takes>one</dd>" in client.get(one.get_absolute_url()).content.decode()
    job_page = client.get(weighed.job.get_absolute_url()).content.decode()
    assert "<dt>Takes</dt><dd>the most natural of 4 kept</dd>" in job_page


@pytest.mark.slow
def test_a_job_with_takes_writes_valid_tunes_and_the_same_seed_gives_them_again(tiny_corpus):
    from tests.factories import make_trained_run

    checkpoint = make_trained_run(tiny_corpus, epochs=1).last_checkpoint
    options = dict(count=4, seed=11, max_length=900, grammar=True, folk_form=True,
                   returns=True, memory=True, enqueue=False)  # fmt: skip

    def pieces(takes):
        job = services.generation_job_create(checkpoint=checkpoint, takes=takes, **options)
        job = services.generation_job_execute(job_id=job.pk)
        assert job.status == JobStatus.SUCCEEDED, job.error
        return list(job.pieces.order_by("index"))

    weighed, first = pieces(3), pieces(1)
    assert [p.seed for p in weighed] == [p.seed for p in first]
    assert any(a.text != b.text for a, b in zip(weighed, first, strict=True))
    assert all(p.parses for p in weighed)
    again = services.generation_job_execute(
        job_id=services.piece_reproduce(piece=weighed[1], same_seed=True).pk
    ).pieces.get()
    assert again.text == weighed[1].text and again.job.takes == 3


def test_staff_ask_for_takes_in_the_admin_and_an_out_of_range_number_is_refused(staff_client):
    world = make_world()
    url = reverse("admin:generator_generationjob_add")
    form = {"checkpoint": world.checkpoint.pk, "count": 2, "temperature": 0.9, "top_k": 0,
            "top_p": 1.0, "seed": "", "max_length": 400, "prime": ""}  # fmt: skip
    refused = staff_client.post(url, {**form, "takes": 0})
    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["takes"]
    assert not new_jobs(world).exists()
    assert staff_client.post(url, {**form, "takes": 3}).status_code == 302
    assert new_jobs(world).get().takes == 3


def test_the_command_stores_takes_and_refuses_them_out_of_range():
    from django.core.management import CommandError, call_command

    world = make_world()
    with pytest.raises(CommandError, match="^--takes: Takes must be 1..8"):
        call_command("generate", checkpoint=world.checkpoint.pk, takes=9)
    assert not new_jobs(world).exists()
    call_command("generate", checkpoint=world.checkpoint.pk, takes=2)
    assert new_jobs(world).get().takes == 2


def ticked(page: str, name: str) -> bool:
    """Whether the page's checkbox `name` is ticked."""
    before, after = page.split(f'name="{name}"', 1)
    return "checked" in before.rsplit("<input", 1)[1] + after.split(">", 1)[0]


def test_the_generate_page_offers_a_model_that_looks_back_without_bars_brought_back(client):
    plain, looking = make_world(), make_world()
    looking.run.config = {**looking.run.config, "look_back_heads": 4}
    looking.run.save(update_fields=["config"])
    url = reverse("generate")
    page = client.get(f"{url}?checkpoint={looking.checkpoint.pk}").content.decode()
    option = page.split(f'value="{looking.checkpoint.pk}"', 1)[1].split(">", 1)[0]
    assert "selected" in option and 'data-repeats="off"' in option
    assert ticked(page, "folk_form")
    assert not ticked(page, "returns") and not ticked(page, "memory")
    page = client.get(f"{url}?run={plain.run.pk}").content.decode()
    option = page.split(f'value="{plain.checkpoint.pk}"', 1)[1].split(">", 1)[0]
    assert "selected" in option and 'data-repeats="on"' in option
    assert ticked(page, "returns") and ticked(page, "memory")
