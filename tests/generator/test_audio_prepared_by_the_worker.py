"""A piece's or a tune's audio is rendered by a task, never inside a request: its URL answers
202 with Retry-After and queues the render (once), its page says the audio is being prepared
and shows the player once the worker has made it."""

from __future__ import annotations

import pytest
from celery import current_app
from django.core.cache import cache
from django.urls import reverse

from common.storage import file_exists
from generator.models import Corpus, Piece
from generator.services import piece_render, tune_render
from generator.services.files import tune_audio_error_name, tune_audio_name
from generator.services.renders import AUDIO_RETRY_AFTER_S
from generator.task_names import RENDER_TASK, TUNE_RENDER_TASK
from tests.factories import wait_for
from tests.web.builders import REEL, make_piece, make_tune, make_world


@pytest.fixture
def queued(monkeypatch):
    """The render tasks' messages, recorded instead of sent: [(task name, args)]."""
    sent: list[tuple[str, tuple]] = []
    for name in (RENDER_TASK, TUNE_RENDER_TASK):
        task = current_app.tasks[name]
        monkeypatch.setattr(task, "delay", lambda *args, _n=name: sent.append((_n, args)))
    cache.clear()  # the "asked for within the last minutes" marks of earlier tests
    return sent


@pytest.fixture
def no_rendering_here(monkeypatch):
    """Rendering audio in this process (the web request's) fails the test."""

    def refuse(**kwargs):
        raise AssertionError("the request rendered audio")

    monkeypatch.setattr("musiclib.render.midi_to_audio", refuse)
    monkeypatch.setattr("musiclib.render.wav_to_ogg", refuse)


def _preparing(response) -> None:
    assert response.status_code == 202, response.status_code
    assert response["Retry-After"] == str(AUDIO_RETRY_AFTER_S)
    assert response["Cache-Control"] == "no-store"
    assert response.content.decode().startswith("The audio is being prepared.")


@pytest.mark.django_db
def test_audio_asked_for_before_the_worker_made_it_answers_202_and_queues_the_render_once(
    client, queued, no_rendering_here, django_capture_on_commit_callbacks
):
    piece = make_piece(make_world(), title="Not yet heard", audio=False)
    url = reverse("piece_audio", args=[piece.pk])
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):  # a player and a program asking again and again
            _preparing(client.get(url))
        _preparing(client.get(reverse("piece_download", args=[piece.pk, "audio"])))
    assert queued == [(RENDER_TASK, (piece.pk,))]
    piece.refresh_from_db()
    assert not piece.audio  # nothing was rendered here


@pytest.mark.django_db
def test_a_piece_page_says_its_audio_is_being_prepared_then_shows_the_player(
    client, queued, no_rendering_here, monkeypatch, django_capture_on_commit_callbacks
):
    piece = make_piece(make_world(), title="Heard later", audio=False)
    with django_capture_on_commit_callbacks(execute=True):
        html = client.get(piece.get_absolute_url()).content.decode()
    assert "The audio is being prepared" in html and 'data-audio-state="preparing"' in html
    assert '<meta http-equiv="refresh" content="3">' in html
    assert reverse("piece_audio", args=[piece.pk]) not in html  # no player to fail yet
    assert queued == [(RENDER_TASK, (piece.pk,))]
    monkeypatch.undo()  # the worker may render
    piece_render(piece=Piece.objects.get(pk=piece.pk))  # what the queued task does
    html = client.get(piece.get_absolute_url()).content.decode()
    assert reverse("piece_audio", args=[piece.pk]) in html and 'preload="metadata"' in html
    assert "being prepared" not in html and 'http-equiv="refresh"' not in html
    audio = client.get(reverse("piece_audio", args=[piece.pk]))
    assert audio.status_code == 200 and b"".join(audio)[:4] == b"OggS"


@pytest.mark.django_db
def test_a_piece_whose_audio_could_not_be_rendered_says_why_and_waits_for_nothing(
    client, queued, django_capture_on_commit_callbacks
):
    piece = make_piece(make_world(), title="Silent", audio=False)
    Piece.objects.filter(pk=piece.pk).update(
        validity_detail={"audio_error": "FluidSynth found no notes to play"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("piece_audio", args=[piece.pk]))
        html = client.get(piece.get_absolute_url()).content.decode()
    assert response.status_code == 404
    assert "FluidSynth found no notes to play" in response.content.decode()
    assert "No audio" in html and "FluidSynth found no notes to play" in html
    assert "The audio is being prepared" not in html
    assert queued == [(RENDER_TASK, (piece.pk,))]  # for its score only: the audio is settled


@pytest.fixture
def tune(db):
    return make_tune(Corpus.objects.create(name="Tunes heard later", source="tests"), text=REEL)


@pytest.mark.django_db
def test_a_tune_page_and_its_audio_url_wait_for_the_worker_then_serve_what_it_made(
    client, tune, queued, monkeypatch, no_rendering_here, django_capture_on_commit_callbacks
):
    url = reverse("tune_audio", args=[tune.pk])
    with django_capture_on_commit_callbacks(execute=True):
        html = client.get(tune.get_absolute_url()).content.decode()
        _preparing(client.get(url))
        _preparing(client.get(reverse("tune_download", args=[tune.pk, "audio"])))
    assert "The audio is being prepared" in html and url not in html
    assert '<meta http-equiv="refresh" content="3">' in html
    assert queued == [(TUNE_RENDER_TASK, (tune.pk,))]
    assert not file_exists(tune_audio_name(tune))
    monkeypatch.undo()
    tune_render(tune=tune)
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response)[:4] == b"OggS"
    html = client.get(tune.get_absolute_url()).content.decode()
    assert url in html and "being prepared" not in html


@pytest.mark.django_db
def test_a_tune_whose_audio_cannot_be_made_says_why_instead_of_waiting_for_ever(
    client, tune, queued, monkeypatch, django_capture_on_commit_callbacks
):
    from musiclib.render import RenderError

    def fail(**kwargs):
        raise RenderError("the synthesiser has no piano")

    monkeypatch.setattr("musiclib.render.midi_to_audio", fail)
    tune_render(tune=tune)  # the task keeps the reason beside the audio it could not make
    assert file_exists(tune_audio_error_name(tune))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("tune_audio", args=[tune.pk]))
        html = client.get(tune.get_absolute_url()).content.decode()
    assert response.status_code == 404 and "the synthesiser has no piano" in (
        response.content.decode()
    )
    assert "No audio: The audio could not be rendered: the synthesiser has no piano" in html
    assert "being prepared" not in html and 'http-equiv="refresh"' not in html
    assert queued == []  # its score was engraved by that task: nothing more to ask for


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_worker_renders_the_audio_a_url_asked_for_and_the_url_then_serves_it(
    celery_worker, client
):
    cache.clear()
    piece = make_piece(make_world(), title="Rendered by the worker", audio=False)
    url = reverse("piece_audio", args=[piece.pk])
    _preparing(client.get(url))  # and the render is on its way to the worker
    response = wait_for(
        lambda: (r := client.get(url)).status_code == 200 and r,
        timeout=120,
        what="the worker to render the piece's audio",
        worker=celery_worker,
    )
    assert b"".join(response)[:4] == b"OggS"
    assert Piece.objects.get(pk=piece.pk).audio
