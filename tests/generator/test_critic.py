"""Takes kept by likeness to the corpus: a run that ends fits a critic for its chosen
checkpoint (on pieces that checkpoint draws, against the run's training tunes) and stores it
beside the checkpoint; a job that asks for the corpus's choice keeps the take the critic
draws, the same seed gives the same piece; a checkpoint without a critic keeps the model's
choice and the job says so; every interface takes the option and refuses it where it cannot
apply."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from common.errors import ServiceError
from common.storage import file_exists, file_read
from generator.models import GenerationJob, JobStatus
from generator.selectors import run_split_texts
from generator.services import generation_job_create, generation_job_execute, piece_reproduce
from generator.services.critics import checkpoint_critic, critic_name
from tests.api.builders import make_job, make_piece, make_world
from tests.factories import make_trained_run
from tests.generator.pages import post_generate_form
from tests.web.builders import make_audio_world

pytestmark = [pytest.mark.django_db]
OPTIONS = dict(count=3, seed=21, max_length=700, grammar=True, folk_form=True, returns=True,
               memory=True, takes=3, enqueue=False)  # fmt: skip


def generate(checkpoint, **options):
    job = generation_job_create(checkpoint=checkpoint, **{**OPTIONS, **options})
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    return job, list(job.pieces.order_by("index"))


@pytest.mark.slow
def test_a_finished_run_fits_a_critic_and_jobs_that_ask_keep_the_takes_it_draws(tiny_corpus):
    run = make_trained_run(tiny_corpus, epochs=1, critic_pieces=24)
    checkpoint = run.chosen_checkpoint
    assert file_exists(critic_name(checkpoint))
    stored = json.loads(file_read(critic_name(checkpoint)))
    critic = checkpoint_critic(checkpoint)
    assert stored["n_machine"] == critic.n_machine == 24
    assert critic.n_human == len(run_split_texts(run=run)[0])  # the training tunes only
    job, kept = generate(checkpoint, takes_by="corpus")
    assert job.takes_by == "corpus"
    _, natural = generate(checkpoint, takes_by="model")
    assert [p.seed for p in kept] == [p.seed for p in natural]
    assert all(p.parses for p in kept)
    again = generation_job_execute(
        job_id=piece_reproduce(piece=kept[1], same_seed=True).pk
    ).pieces.get()
    assert again.text == kept[1].text and again.job.takes_by == "corpus"


@pytest.mark.slow
def test_without_a_critic_the_model_keeps_the_take_and_the_job_says_so(tiny_corpus):
    run = make_trained_run(tiny_corpus, epochs=1)  # the tiny preset fits none
    checkpoint = run.chosen_checkpoint
    assert checkpoint_critic(checkpoint) is None and not file_exists(critic_name(checkpoint))
    asked, pieces = generate(checkpoint, takes_by="corpus")
    assert asked.takes_by == "model"
    _, natural = generate(checkpoint, takes_by="model")
    assert [p.text for p in pieces] == [p.text for p in natural]


def test_a_way_without_melodies_refuses_the_corpus_choice_on_its_field():
    _, checkpoint, _ = make_audio_world()
    with pytest.raises(ServiceError) as refused:
        generation_job_create(checkpoint=checkpoint, takes=2, takes_by="corpus", enqueue=False)
    assert refused.value.field == "takes_by"
    assert "ABC" in str(refused.value) and "MIDI" in str(refused.value)
    with pytest.raises(ServiceError) as unknown:
        generation_job_create(checkpoint=checkpoint, takes_by="loudest", enqueue=False)
    assert unknown.value.field == "takes_by"


def test_the_generate_page_offers_the_models_choice_first_and_stores_what_it_is_given(client):
    world = make_world()
    page = client.get(reverse("generate")).content.decode()
    field = page.split('name="takes_by"')[1][:400]
    assert '<option value="model" selected>the most natural</option>' in field
    assert '<option value="corpus">most like the corpus</option>' in field
    posted = post_generate_form(client, world.checkpoint, takes=4, takes_by="corpus")
    assert posted.status_code == 302
    assert GenerationJob.objects.exclude(pk=world.job.pk).get().takes_by == "corpus"


def test_the_piece_page_says_how_its_take_was_kept(client):
    world = make_world()
    piece = make_piece(make_job(world.checkpoint, takes=4, takes_by="corpus"))
    page = client.get(piece.get_absolute_url()).content.decode()
    assert "<dd data-takes>of 4, the one most like the corpus kept</dd>" in page


def test_the_api_and_the_command_take_the_option_and_refuse_a_bad_one():
    world = make_world()
    client = APIClient()
    body = {"checkpoint": world.checkpoint.pk, "takes": 3, "takes_by": "corpus"}
    response = client.post("/api/v1/generate/", body, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["takes_by"] == "corpus"
    plain = client.post("/api/v1/generate/", {"checkpoint": world.checkpoint.pk}, format="json")
    assert plain.json()["takes_by"] == "model"
    bad = client.post("/api/v1/generate/", {**body, "takes_by": "best"}, format="json")
    assert bad.status_code == 400 and "takes_by" in bad.json()["error"]["fields"]
    before = GenerationJob.objects.count()
    with pytest.raises(CommandError):
        call_command("generate", checkpoint=world.checkpoint.pk, takes_by="best")
    assert GenerationJob.objects.count() == before
    call_command("generate", checkpoint=world.checkpoint.pk, takes=2, takes_by="corpus")
    assert GenerationJob.objects.latest("pk").takes_by == "corpus"


@pytest.mark.slow
def test_the_command_fits_a_critic_for_a_run_that_ended_without_one(tiny_corpus):
    run = make_trained_run(tiny_corpus, epochs=1)  # the tiny preset fits none
    with pytest.raises(CommandError, match="at least 10 pieces"):
        call_command("fit_critic", run=run.pk, pieces=3)
    with pytest.raises(CommandError, match="there is no run"):
        call_command("fit_critic", run=run.pk + 1000, pieces=20)
    assert checkpoint_critic(run.chosen_checkpoint) is None
    call_command("fit_critic", run=run.pk, pieces=20)
    assert checkpoint_critic(run.chosen_checkpoint).n_machine == 20
    _, audio, _ = make_audio_world()
    with pytest.raises(CommandError, match="no melody"):
        call_command("fit_critic", run=audio.run_id, pieces=20)
