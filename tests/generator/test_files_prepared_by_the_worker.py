"""MusicXML and a recording's spectrogram are made by the render task, never inside a request
(music21 takes 65-75 ms a piece, a spectrogram 60-95 ms and 0.7 s in a fresh process): their
URLs answer 202 with Retry-After and ask for the render once, their pages say they are being
prepared, and once the worker has made them they are streamed like the audio. Every file URL
answers HEAD with its size and byte ranges, without the bytes."""

from __future__ import annotations

import pytest
from celery import current_app
from django.core.cache import cache
from django.urls import reverse

from common.storage import file_exists
from generator.models import Corpus, Piece
from generator.services import piece_render, tune_render
from generator.services.files import musicxml_name, piece_spectrogram_name
from generator.services.renders import AUDIO_RETRY_AFTER_S
from generator.task_names import RENDER_TASK, TUNE_RENDER_TASK
from tests.web.builders import REEL, make_audio_world, make_piece, make_tune, make_world

pytestmark = pytest.mark.django_db


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
def no_making_here(monkeypatch):
    """Writing MusicXML or drawing a spectrogram in this process (the request's) fails."""

    def refuse(*args, **kwargs):
        raise AssertionError("the request made a file the worker makes")

    for way in ("abc", "midi"):
        from musiclib.ways import get_way

        monkeypatch.setattr(type(get_way(way)), "to_musicxml", refuse)
    monkeypatch.setattr("musiclib.audio.image.spectrogram_png", refuse)


def _body(response) -> bytes:
    return b"".join(response) if response.streaming else response.content


def _preparing(response, what: str) -> None:
    assert response.status_code == 202, response.status_code
    assert response["Retry-After"] == str(AUDIO_RETRY_AFTER_S)
    assert response["Cache-Control"] == "no-store"
    assert _body(response).decode().startswith(f"{what} is being prepared.")


def test_a_piece_musicxml_asked_for_before_the_worker_wrote_it_answers_202_and_asks_once(
    client, queued, no_making_here, django_capture_on_commit_callbacks
):
    piece = make_piece(make_world(), title="Not yet written out")
    url = reverse("piece_download", args=[piece.pk, "musicxml"])
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):  # a program asking again after Retry-After
            _preparing(client.get(url), "The MusicXML file")
    assert queued == [(RENDER_TASK, (piece.pk,))]
    assert not file_exists(musicxml_name(kind="pieces", pk=piece.pk, way="abc", text=piece.text))


def test_a_piece_page_says_its_musicxml_is_being_prepared_then_links_it(
    client, queued, no_making_here, monkeypatch, django_capture_on_commit_callbacks
):
    piece = make_piece(make_world(), title="Written out later")
    url = reverse("piece_download", args=[piece.pk, "musicxml"])
    with django_capture_on_commit_callbacks(execute=True):
        html = client.get(piece.get_absolute_url()).content.decode()
    assert "MusicXML: being prepared" in html and 'data-file-state="preparing"' in html
    assert f'href="{url}"' not in html  # no link to a 202 yet
    assert '<meta http-equiv="refresh" content="3">' in html
    assert f'href="{reverse("piece_download", args=[piece.pk, "midi"])}"' in html  # stored
    assert queued == [(RENDER_TASK, (piece.pk,))]
    monkeypatch.undo()  # the worker may write it
    piece_render(piece=Piece.objects.get(pk=piece.pk))  # what the queued task does
    html = client.get(piece.get_absolute_url()).content.decode()
    assert f'href="{url}"' in html and "being prepared" not in html
    assert 'http-equiv="refresh"' not in html
    response = client.get(url)
    assert response.status_code == 200 and response.streaming
    assert _body(response).startswith(b"<?xml")


def test_a_piece_that_cannot_be_written_as_musicxml_says_why_instead_of_waiting_for_ever(
    client, queued, monkeypatch, django_capture_on_commit_callbacks
):
    from musiclib.ways import get_way

    def fail(self, text):
        raise ValueError("music21 found no measures")

    monkeypatch.setattr(type(get_way("abc")), "to_musicxml", fail)
    piece = make_piece(make_world(), title="Beyond notation")
    piece_render(piece=piece)  # the task keeps the reason beside the file it could not make
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("piece_download", args=[piece.pk, "musicxml"]))
        html = client.get(piece.get_absolute_url()).content.decode()
    assert response.status_code == 404
    assert "This piece cannot be written as MusicXML: music21 found no measures" in (
        response.content.decode()
    )
    assert "being prepared" not in html and queued == []


def test_a_tune_page_and_its_musicxml_url_wait_for_the_worker_then_serve_what_it_made(
    client, queued, no_making_here, monkeypatch, django_capture_on_commit_callbacks
):
    tune = make_tune(Corpus.objects.create(name="Tunes written later", source="tests"), text=REEL)
    url = reverse("tune_download", args=[tune.pk, "musicxml"])
    with django_capture_on_commit_callbacks(execute=True):
        html = client.get(tune.get_absolute_url()).content.decode()
        _preparing(client.get(url), "The MusicXML file")
    assert "MusicXML: being prepared" in html and f'href="{url}"' not in html
    # A tune's MIDI is quick (abc2midi, 8 ms) and made when it is asked for.
    midi = client.get(reverse("tune_download", args=[tune.pk, "midi"]))
    assert midi.status_code == 200 and _body(midi).startswith(b"MThd")
    assert queued == [(TUNE_RENDER_TASK, (tune.pk,))]
    monkeypatch.undo()
    tune_render(tune=tune)
    html = client.get(tune.get_absolute_url()).content.decode()
    assert f'href="{url}"' in html and "being prepared" not in html
    response = client.get(url)
    assert response.status_code == 200 and _body(response).startswith(b"<?xml")


def test_a_recording_spectrogram_is_drawn_by_the_worker_and_its_page_waits_for_it(
    client, queued, no_making_here, monkeypatch, django_capture_on_commit_callbacks
):
    _, _, piece = make_audio_world()
    url = reverse("piece_spectrogram", args=[piece.pk])
    with django_capture_on_commit_callbacks(execute=True):
        html = client.get(piece.get_absolute_url()).content.decode()
        _preparing(client.get(url), "The spectrogram")
    assert "The spectrogram is being prepared" in html and f'src="{url}"' not in html
    assert '<meta http-equiv="refresh" content="3">' in html
    assert queued == [(RENDER_TASK, (piece.pk,))]
    monkeypatch.undo()
    piece_render(piece=Piece.objects.get(pk=piece.pk))
    assert file_exists(piece_spectrogram_name(piece))
    html = client.get(piece.get_absolute_url()).content.decode()
    assert f'src="{url}"' in html and "being prepared" not in html
    png = client.get(url)
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert _body(png).startswith(b"\x89PNG")


def _head_like_get(client, url: str) -> None:
    got = client.get(url)
    assert got.status_code == 200, (url, got.status_code)
    body = _body(got)
    head = client.head(url)
    assert head.status_code == 200, (url, head.status_code)
    assert head["Content-Length"] == str(len(body)) == got["Content-Length"], url
    assert head["Content-Type"] == got["Content-Type"] and head["Accept-Ranges"] == "bytes"
    assert head["Content-Disposition"] == got["Content-Disposition"]
    assert _body(head) == b"", url
    part = client.head(url, HTTP_RANGE="bytes=0-9")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 0-9/{len(body)}"
    assert part["Content-Length"] == "10" and _body(part) == b""


def test_every_download_url_answers_head_with_its_size_and_ranges_without_the_bytes(client):
    piece = make_piece(make_world(), title="Asked for its size")
    piece_render(piece=piece)
    for fmt in ("abc", "midi", "musicxml", "audio"):
        _head_like_get(client, reverse("piece_download", args=[piece.pk, fmt]))
    tune = make_tune(Corpus.objects.create(name="Sized tunes", source="tests"), text=REEL)
    tune_render(tune=tune)
    for fmt in ("abc", "midi", "musicxml", "audio"):
        _head_like_get(client, reverse("tune_download", args=[tune.pk, fmt]))
    _, _, recording = make_audio_world()
    piece_render(piece=recording)
    _head_like_get(client, reverse("piece_spectrogram", args=[recording.pk]))
    for fmt in ("wav", "ogg"):
        _head_like_get(client, reverse("piece_download", args=[recording.pk, fmt]))


def test_head_on_a_file_being_prepared_or_missing_answers_as_get_does(client, queued):
    piece = make_piece(make_world(), title="Asked too early")
    head = client.head(reverse("piece_download", args=[piece.pk, "musicxml"]))
    assert head.status_code == 202 and head["Retry-After"] == str(AUDIO_RETRY_AFTER_S)
    assert client.head(reverse("piece_download", args=[piece.pk, "flac"])).status_code == 404
    assert client.head(reverse("piece_download", args=[999_999, "abc"])).status_code == 404
    assert client.post(reverse("piece_download", args=[piece.pk, "abc"])).status_code == 405


def test_a_piece_that_does_not_parse_has_no_musicxml_and_waits_for_none(client, queued):
    piece = make_piece(make_world(), title="Unreadable", valid=False)
    piece_render(piece=piece)  # the task writes no MusicXML for it
    response = client.get(reverse("piece_download", args=[piece.pk, "musicxml"]))
    assert response.status_code == 404
    assert "does not parse, so it has no MusicXML file" in response.content.decode()
    html = client.get(piece.get_absolute_url()).content.decode()
    assert 'data-format="musicxml"' not in html and "being prepared" not in html
