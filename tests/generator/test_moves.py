"""Leaps and turns as the corpus's: a run that ends fits its chosen checkpoint's moves (the
weights of each note's move, `musiclib.ml.line`) on pieces it draws, against its training
tunes, and stores them beside the checkpoint; a job that asks leans its notes on them, and
the same seed gives the same piece; a checkpoint without them samples without and the job
says so; every interface takes the option and refuses it where it cannot apply; the run page
shows how its tunes move."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from common.errors import ServiceError
from common.storage import file_exists, file_read, file_write
from generator.models import GenerationJob, JobStatus
from generator.services import (
    checkpoint_moves,
    generation_job_create,
    generation_job_execute,
    piece_reproduce,
)
from generator.services.checkpoint_files import load_checkpoint_state
from generator.services.moves import moves_name, moves_store
from musiclib.ml import line as ln
from tests.api.builders import make_job, make_piece, make_world
from tests.factories import make_trained_run
from tests.generator.pages import post_generate_form
from tests.web.builders import make_audio_world

pytestmark = [pytest.mark.django_db]
OPTIONS = dict(count=4, seed=5, max_length=600, grammar=True, enqueue=False)


def generate(checkpoint, **options):
    job = generation_job_create(checkpoint=checkpoint, **{**OPTIONS, **options})
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    return job, list(job.pieces.order_by("index"))


def moves_of(pieces) -> dict[str, float]:
    return ln.line_shares(ln.text_counts(p.text for p in pieces))


@pytest.mark.slow
def test_a_finished_run_fits_its_moves_and_a_job_that_asks_uses_them(tiny_corpus):
    run = make_trained_run(tiny_corpus, epochs=2, moves_pieces=10, moves_rounds=2)
    checkpoint = run.chosen_checkpoint
    assert file_exists(moves_name(checkpoint))
    stored = json.loads(file_read(moves_name(checkpoint)))
    fit = checkpoint_moves(checkpoint)
    assert stored["pieces"] == fit.pieces == 10
    assert np.allclose(np.asarray(stored["theta"]), fit.theta, atol=1e-4)
    assert fit.theta.shape == (ln.CONTEXTS, ln.MOVES)
    assert set(fit.target) == set(fit.before) == set(fit.after) >= {"turns", "steps", "wider"}
    # ... and the phrase lean's, stored with them; the training tunes' phrases are saved
    # with each checkpoint, so a sampling machine needs no corpus for them
    assert fit.phi.shape == (ln.PHRASE + 1,) and len(stored["phi"]) == ln.PHRASE + 1
    assert {"phrases_4", "phrases_8"} <= set(fit.target)
    assert 0 <= fit.target["phrases_8"] <= fit.target["phrases_4"] <= 1
    assert fit.target["phrases_4"] > 0
    assert len(load_checkpoint_state(checkpoint)[ln.PHRASES_STATE]) > 100
    job, pieces = generate(checkpoint, moves=True)
    assert job.moves
    again = generation_job_execute(
        job_id=piece_reproduce(piece=pieces[1], same_seed=True).pk
    ).pieces.get()
    assert again.text == pieces[1].text and again.job.moves


@pytest.mark.slow
def test_a_job_leans_its_notes_on_the_checkpoints_moves_and_without_them_says_so(
    tiny_corpus,
):
    run = make_trained_run(tiny_corpus, epochs=2)  # the tiny preset fits none
    checkpoint = run.chosen_checkpoint
    assert checkpoint_moves(checkpoint) is None and not file_exists(moves_name(checkpoint))
    asked, unfitted = generate(checkpoint, moves=True)
    assert not asked.moves
    _, free = generate(checkpoint)
    assert [p.text for p in unfitted] == [p.text for p in free]
    # A stored document this code does not read (weights of another shape): none, as above.
    file_write(moves_name(checkpoint), json.dumps({"theta": [[0.0]], "pieces": 1}).encode())
    assert checkpoint_moves(checkpoint) is None
    asked, unread = generate(checkpoint, moves=True)
    assert not asked.moves and [p.text for p in unread] == [p.text for p in free]
    # Weights for every move but a step or a repeat far below theirs: the notes step.
    steps_only = np.full((ln.CONTEXTS, ln.MOVES), -3.0, dtype=np.float32)
    steps_only[:, ln.SPAN - 1 : ln.SPAN + 2] = 3.0
    shares = ln.line_shares(ln.text_counts(p.text for p in free))
    moves_store(checkpoint, ln.LineFit(steps_only, shares, shares, shares, 10))
    job, leaned = generate(checkpoint, moves=True)
    assert job.moves
    assert [p.seed for p in leaned] == [p.seed for p in free]
    leaned_moves = ln.line_shares(ln.text_counts(p.text for p in leaned))
    assert leaned_moves["steps"] + leaned_moves["repeats"] > 0.9
    assert leaned_moves["steps"] > shares["steps"] + 0.1


def test_a_way_without_notes_to_weigh_refuses_moves_on_its_field():
    _, checkpoint, _ = make_audio_world()
    with pytest.raises(ServiceError) as refused:
        generation_job_create(checkpoint=checkpoint, moves=True, enqueue=False)
    assert refused.value.field == "moves"
    assert "ABC" in str(refused.value)


def test_the_generate_page_offers_moves_ticked_and_stores_what_it_is_given(client):
    world = make_world()
    page = client.get(reverse("generate")).content.decode()
    field = page.split('name="moves"')[0][-300:] + page.split('name="moves"')[1][:200]
    assert "checked" in field and "Leap and turn as the corpus does" in page
    posted = post_generate_form(client, world.checkpoint, moves="on")
    assert posted.status_code == 302
    assert GenerationJob.objects.exclude(pk=world.job.pk).get().moves
    post_generate_form(client, world.checkpoint)  # (a box left unticked)
    assert not GenerationJob.objects.latest("pk").moves


def test_the_piece_and_job_pages_say_the_moves_were_weighed(client):
    world = make_world()
    job = make_job(world.checkpoint, moves=True)
    piece = make_piece(job)
    for url in (piece.get_absolute_url(), job.get_absolute_url()):
        page = client.get(url).content.decode()
        assert "data-moves>leaps and turns as in the corpus<" in page
    plain = client.get(make_piece(world.job).get_absolute_url()).content.decode()
    assert "data-moves>" not in plain


def test_the_pages_name_the_phrases_where_the_fitted_moves_weigh_them(client):
    world = make_world()
    job = make_job(world.checkpoint, moves=True)
    piece = make_piece(job)
    fit = ln.LineFit(
        theta=np.zeros((ln.CONTEXTS, ln.MOVES)),
        target={},
        before={},
        after={},
        pieces=1,
        phi=np.zeros(ln.PHRASE + 1),
    )
    moves_store(world.checkpoint, fit)
    for url in (piece.get_absolute_url(), job.get_absolute_url()):
        page = client.get(url).content.decode()
        assert "data-moves>leaps, turns and phrases as in the corpus<" in page


def test_the_api_and_the_command_take_the_option_and_refuse_a_bad_one():
    world = make_world()
    client = APIClient()
    body = {"checkpoint": world.checkpoint.pk, "moves": True}
    response = client.post("/api/v1/generate/", body, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["moves"] is True
    plain = client.post("/api/v1/generate/", {"checkpoint": world.checkpoint.pk}, format="json")
    assert plain.json()["moves"] is False
    bad = client.post("/api/v1/generate/", {**body, "moves": "lots"}, format="json")
    assert bad.status_code == 400 and "moves" in bad.json()["error"]["fields"]
    call_command("generate", checkpoint=world.checkpoint.pk, moves=True)
    assert GenerationJob.objects.latest("pk").moves


@pytest.mark.slow
def test_the_command_fits_moves_for_a_run_that_ended_without_and_the_run_page_shows_them(
    tiny_corpus, client
):
    run = make_trained_run(tiny_corpus, epochs=1)  # the tiny preset fits none
    with pytest.raises(CommandError, match="there is no run"):
        call_command("fit_moves", run=run.pk + 1000)
    with pytest.raises(CommandError, match="--rounds"):
        call_command("fit_moves", run=run.pk, rounds=0)
    assert "How its tunes move" not in client.get(run.get_absolute_url()).content.decode()
    call_command("fit_moves", run=run.pk, pieces=6, rounds=1)
    fit = checkpoint_moves(run.chosen_checkpoint)
    assert fit.pieces == 6
    page = client.get(run.get_absolute_url()).content.decode()
    table = page.split("data-moves-fit")[1].split("</table>")[0]
    assert "How its tunes move" in table and "The tunes it learnt from" in table
    assert "Its tunes, moves weighed" in table
    assert f"{fit.target['turns']:.0%}" in table and ">On the tonic</th>" in table
    assert f'<td class="num">{fit.target["tonic"]:.0%}</td>' in table
    assert ">Ending an 8-note phrase the corpus has</th>" in table
    assert f'<td class="num">{fit.after["phrases_8"]:.0%}</td>' in table
    # moves fitted before the degrees and the phrases were read show a dash there
    old = {k: v for k, v in fit.target.items() if k in ("turns", "steps", "thirds", "wider")}
    old["fourths_fifths"] = fit.target["fourths_fifths"]
    moves_store(run.chosen_checkpoint, ln.LineFit(fit.theta, old, old, old, 6))
    page = client.get(run.get_absolute_url()).content.decode()
    table = page.split("data-moves-fit")[1].split("</table>")[0]
    assert table.count('<td class="num">—</td>') == 12 and f"{old['turns']:.0%}" in table
    _, audio, _ = make_audio_world()
    with pytest.raises(CommandError, match="no notes"):
        call_command("fit_moves", run=audio.run_id)
