"""The generate form, its limits, and the job page that waits for the pieces."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from generator.models import Corpus, GenerationJob, JobStatus, TrainingRun
from tests.web.builders import make_piece

pytestmark = pytest.mark.django_db


def form_data(world, **overrides):
    data = {
        "checkpoint": world.checkpoint.pk,
        "temperature": "1.0",
        "seed": "",
        "meter": "",
        "key": "",
        "opening": "",
        "max_length": "400",
        "top_k": "0",
        "count": "2",
    }
    data.update(overrides)
    return data


def test_the_generate_page_offers_every_run_and_checkpoint(client, world):
    response = client.get(reverse("generate"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{world.run} · latest, epoch 3" in html and "· chosen" in html
    assert f"{world.run} · epoch 1" in html
    assert 'name="temperature"' in html and 'value="0.9"' in html
    assert "<label" in html and 'for="id_opening"' in html
    assert "12 pieces an hour" in html or "pieces an hour" in html


def test_a_run_link_preselects_its_chosen_checkpoint(client, world):
    html = client.get(reverse("generate"), {"run": world.run.pk}).content.decode()
    assert f'value="{world.checkpoint.pk}" selected' in html


def test_without_any_trained_model_the_page_says_so(client, db):
    html = client.get(reverse("generate")).content.decode()
    assert "No trained model yet" in html
    assert "data-training-runs" not in html  # (nothing training either)


def test_without_a_trained_model_the_page_names_the_runs_that_will_bring_one(client, db):
    corpus = Corpus.objects.create(name="Reels", source="tests")
    waiting = TrainingRun.objects.create(
        corpus=corpus, name="Second run", preset="tiny", epochs=4, status=JobStatus.QUEUED
    )
    training = TrainingRun.objects.create(
        corpus=corpus, name="First run", preset="quick", epochs=10, status=JobStatus.RUNNING
    )
    TrainingRun.objects.filter(pk=waiting.pk).update(created_at=timezone.now())  # (started after)
    html = client.get(reverse("generate")).content.decode()
    assert "No trained model yet" in html
    listed = html.split("data-training-runs")[1].split("</ul>")[0]
    assert listed.index("First run") < listed.index("Second run")
    assert f'href="{training.get_absolute_url()}"' in listed
    assert "First run</a> is training: 0 of 10 epochs done" in listed
    assert "Second run</a> is waiting for a training worker" in listed


def test_generating_queues_a_job_and_redirects_to_its_page(client, world):
    response = client.post(
        reverse("generate"),
        form_data(world, seed="99", meter="6/8", key="G", opening="GAG"),
        REMOTE_ADDR="10.0.0.1",
    )
    job = GenerationJob.objects.get(requester_ip="10.0.0.1")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert (job.seed, job.count, job.max_length, job.temperature) == (99, 2, 400, 1.0)
    assert job.prime == "M:6/8\nL:1/8\nK:G\nGAG"
    assert job.status == JobStatus.QUEUED


def test_grammar_aware_sampling_is_offered_checked_and_stored_as_chosen(client, world):
    page = client.get(reverse("generate")).content.decode()
    assert re.search(r'<input type="checkbox" name="grammar"[^>]*checked', page)
    client.post(reverse("generate"), form_data(world, grammar="on"), REMOTE_ADDR="10.0.0.2")
    client.post(reverse("generate"), form_data(world), REMOTE_ADDR="10.0.0.3")
    on = GenerationJob.objects.get(requester_ip="10.0.0.2")
    off = GenerationJob.objects.get(requester_ip="10.0.0.3")
    assert (on.grammar, off.grammar) == (True, False)
    assert "<dt>Grammar</dt><dd>on</dd>" in client.get(on.get_absolute_url()).content.decode()


def test_a_blank_seed_is_chosen_at_random_and_shown_on_the_job_page(client, world):
    client.post(reverse("generate"), form_data(world))
    job = GenerationJob.objects.latest("pk")
    assert job.seed > 0
    assert f"<code>{job.seed}</code>" in client.get(job.get_absolute_url()).content.decode()


def test_an_opening_with_symbols_the_model_never_saw_is_refused_next_to_the_field(client, world):
    response = client.post(
        reverse("generate"), form_data(world, meter="6/8", key="G", opening="GAG ~@€")
    )
    assert response.status_code == 200
    assert "symbols the model never saw" in response.context["form"].errors["opening"][0]
    html = response.content.decode()
    assert 'class="field has-error"' in html
    assert GenerationJob.objects.count() == 1  # only the world's own job


def test_a_key_without_a_meter_and_an_opening_without_a_key_are_refused(client, world):
    response = client.post(reverse("generate"), form_data(world, key="D", opening="DEF"))
    errors = response.context["form"].errors
    assert "meter" in errors["key"][0]
    assert "key" in errors["opening"][0]


@pytest.mark.parametrize(
    "field, value",
    [("temperature", "0"), ("temperature", "3.5"), ("count", "17"), ("count", "0"),
     ("max_length", "5"), ("checkpoint", "999999"), ("seed", "-1")],
)  # fmt: skip
def test_values_out_of_range_are_refused_with_a_message(client, world, field, value):
    response = client.post(reverse("generate"), form_data(world, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert GenerationJob.objects.count() == 1  # only the world's own job


def test_anonymous_visitors_may_generate_a_limited_number_per_hour(client, world, settings):
    settings.ANON_GENERATIONS_PER_HOUR = 3
    url = reverse("generate")
    assert client.post(url, form_data(world, count="2"), REMOTE_ADDR="10.1.1.1").status_code == 302
    over = client.post(url, form_data(world, count="2"), REMOTE_ADDR="10.1.1.1")
    assert over.status_code == 429
    assert "3 pieces an hour" in over.content.decode()
    assert client.post(url, form_data(world, count="1"), REMOTE_ADDR="10.1.1.1").status_code == 302
    full = client.get(url, REMOTE_ADDR="10.1.1.1").content.decode()
    assert "Please come back a little later" in full
    # another address has its own allowance; an hour later the first has it back
    assert client.post(url, form_data(world, count="3"), REMOTE_ADDR="10.2.2.2").status_code == 302
    GenerationJob.objects.filter(requester_ip="10.1.1.1").update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    assert client.post(url, form_data(world, count="3"), REMOTE_ADDR="10.1.1.1").status_code == 302


def test_epoch_samples_do_not_count_against_the_limit(client, world, settings):
    settings.ANON_GENERATIONS_PER_HOUR = 2
    GenerationJob.objects.create(
        checkpoint=world.checkpoint, count=10, seed=1, is_epoch_sample=True, requester_ip="10.3.3.3"
    )
    response = client.post(reverse("generate"), form_data(world), REMOTE_ADDR="10.3.3.3")
    assert response.status_code == 302


def test_reproduce_past_the_limit_is_a_429_page(client, world, settings):
    settings.ANON_GENERATIONS_PER_HOUR = 1
    piece = make_piece(world, audio=False, midi=False)
    client.post(reverse("generate"), form_data(world, count="1"), REMOTE_ADDR="10.4.4.4")
    response = client.post(reverse("piece_reproduce", args=[piece.pk]), REMOTE_ADDR="10.4.4.4")
    assert response.status_code == 429
    assert "Time for a breather" in response.content.decode()


def test_staff_generate_without_a_limit(staff_client, world, settings):
    settings.ANON_GENERATIONS_PER_HOUR = 1
    for _ in range(3):
        response = staff_client.post(reverse("generate"), form_data(world, count="16"))
        assert response.status_code == 302
    assert "no hourly limit" in staff_client.get(reverse("generate")).content.decode()


def test_the_job_page_polls_its_status_and_shows_the_pieces_as_cards(client, world):
    job = GenerationJob.objects.create(
        checkpoint=world.checkpoint, count=2, seed=5, status=JobStatus.RUNNING
    )
    page = client.get(job.get_absolute_url()).content.decode()
    assert f'data-poll="/jobs/{job.pk}/status.json"' in page
    assert "The model is writing" in page  # running: a sampler has started on it
    status = client.get(reverse("job_status", args=[job.pk])).json()
    assert status["status"] == "running" and status["done"] is False
    make_piece(world, job=job, title="First out", index=0)
    make_piece(world, job=job, title="Second out", index=1)
    GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, seconds=0.42)
    status = client.get(reverse("job_status", args=[job.pk])).json()
    assert status["done"] is True
    assert status["text"]["status"] == "Succeeded"
    assert "First out" in status["html"]["pieces"] and "Second out" in status["html"]["pieces"]


def test_a_failed_job_shows_its_error(client, world):
    job = GenerationJob.objects.create(
        checkpoint=world.checkpoint, seed=5, status=JobStatus.FAILED, error="ValueError: <boom>"
    )
    html = client.get(job.get_absolute_url()).content.decode()
    assert "ValueError: &lt;boom&gt;" in html
    assert client.get(reverse("job_status", args=[job.pk])).json()["done"] is True


def test_a_missing_job_is_a_404(client, db):
    assert client.get(reverse("job_detail", args=[424242])).status_code == 404
    assert client.get(reverse("job_status", args=[424242])).status_code == 404


def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_address(client, world, settings):
    settings.ANON_GENERATIONS_PER_HOUR = 2
    settings.TRUSTED_PROXY_COUNT = 1
    url = reverse("generate")
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    first = client.post(url, form_data(world), HTTP_X_FORWARDED_FOR="spoof, 10.9.9.1", **proxy)
    assert first.status_code == 302
    assert GenerationJob.objects.filter(requester_ip="10.9.9.1").exists()
    other = client.post(url, form_data(world), HTTP_X_FORWARDED_FOR="10.9.9.2", **proxy)
    assert other.status_code == 302  # a different visitor behind the same proxy
    again = client.post(url, form_data(world), HTTP_X_FORWARDED_FOR="10.9.9.1", **proxy)
    assert again.status_code == 429
