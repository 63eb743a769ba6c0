"""A piece's page: score, player, downloads, parameters, validity, Reproduce and More like this."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from generator import services
from generator.models import GenerationJob, Piece
from tests.web.builders import make_piece

pytestmark = pytest.mark.django_db


def test_the_piece_page_shows_score_player_parameters_and_validity(client, piece):
    services.piece_render(piece=piece)  # what the render task does once the piece is stored
    response = client.get(piece.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>The Foggy Heron (Reel)</h1>" in html
    assert "<svg" in html and 'aria-label="Engraved score of The Foggy Heron (Reel)' in html
    assert reverse("piece_audio", args=[piece.pk]) in html and "data-tempo" in html
    job = piece.job
    for text in (
        "Temperature",
        "0.8",
        "Top-k",
        ">5<",
        f"<code>{piece.seed}</code>",
        "600 tokens",
        "K:D",
        f"epoch {piece.checkpoint.epoch}",
        "abc1234",
        str(piece.run),
        "a test message",
        "Bars that add up",
    ):
        assert text in html, text
    assert f'action="{reverse("piece_reproduce", args=[piece.pk])}"' in html
    assert f'action="{reverse("piece_more_like", args=[piece.pk])}"' in html
    assert "csrfmiddlewaretoken" in html
    assert job.get_absolute_url() in html


def test_the_score_is_engraved_once_and_kept_under_media_root(client, piece, monkeypatch):
    services.piece_render(piece=piece)
    cached = list((Path(settings.MEDIA_ROOT) / "scores" / "pieces").glob(f"{piece.pk}-*.json"))
    assert len(cached) == 1

    def fail(**kwargs):
        raise AssertionError("the score was engraved a second time")

    monkeypatch.setattr("musiclib.render.score_svg", fail)
    response = client.get(piece.get_absolute_url())
    assert response.status_code == 200 and "<svg" in response.content.decode()


def test_a_piece_whose_score_cannot_be_engraved_still_has_a_page(client, world):
    piece = make_piece(world, text="X:1\nT:Noise\nK:D\n", midi=False, audio=False, valid=False)
    response = client.get(piece.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "No audio" in html
    assert reverse("piece_download", args=[piece.pk, "midi"]) not in html


def test_a_missing_piece_is_a_404_page_not_a_500(client, db):
    response = client.get(reverse("piece_detail", args=[999999]))
    assert response.status_code == 404
    assert "not in the book" in response.content.decode()
    for name in ("piece_audio",):
        assert client.get(reverse(name, args=[999999])).status_code == 404
    assert client.get(reverse("piece_download", args=[999999, "abc"])).status_code == 404


def test_an_unknown_download_format_is_a_404(client, piece):
    assert client.get(reverse("piece_download", args=[piece.pk, "exe"])).status_code == 404
    assert client.get(f"/pieces/{piece.pk}/download/..%2F..%2Fsettings.py/").status_code == 404


def download(client, piece, fmt):
    response = client.get(reverse("piece_download", args=[piece.pk, fmt]))
    assert response.status_code == 200, response.content[:300]
    return response, b"".join(response) if response.streaming else response.content


def test_the_abc_download_is_the_piece_text(client, piece):
    response, body = download(client, piece, "abc")
    assert response["Content-Type"].startswith("text/vnd.abc")
    assert response["Content-Disposition"] == 'attachment; filename="the-foggy-heron-reel.abc"'
    assert body.decode() == piece.text


def test_the_midi_download_is_a_midi_file_music21_reads(client, piece):
    from music21 import converter

    response, body = download(client, piece, "midi")
    assert response["Content-Type"] == "audio/midi"
    assert response["Content-Disposition"].endswith('filename="the-foggy-heron-reel.mid"')
    assert body.startswith(b"MThd")
    score = converter.parseData(body, format="midi")
    assert len(score.recurse().notes) > 10


def test_the_musicxml_download_is_musicxml_music21_reads(client, piece):
    from music21 import converter

    services.piece_render(piece=piece)  # the render task writes it (music21 is too slow here)
    response, body = download(client, piece, "musicxml")
    assert response["Content-Type"] == "application/vnd.recordare.musicxml+xml"
    assert response["Content-Disposition"].endswith('filename="the-foggy-heron-reel.musicxml"')
    score = converter.parseData(body.decode("utf-8"), format="musicxml")
    assert len(score.recurse().notes) > 10


def test_the_audio_download_is_an_ogg_with_a_duration(client, piece):
    from musiclib.render import audio_duration

    response, body = download(client, piece, "audio")
    assert response["Content-Type"] == "audio/ogg"
    assert response["Content-Disposition"].endswith('filename="the-foggy-heron-reel.ogg"')
    assert body.startswith(b"OggS")
    assert audio_duration(data=body) > 1.0


def test_a_piece_without_midi_has_no_audio_download(client, world):
    piece = make_piece(world, midi=False, audio=False)
    assert client.get(reverse("piece_download", args=[piece.pk, "midi"])).status_code == 404
    assert client.get(reverse("piece_audio", args=[piece.pk])).status_code == 404


def test_the_text_of_a_piece_is_escaped(client, world):
    piece = make_piece(
        world, title="<b>bold</b>", text="X:1\nT:<img src=x onerror=alert(1)>\nK:D\nDEF|\n"
    )
    html = client.get(piece.get_absolute_url()).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>bold</b>" not in html


def test_reproduce_queues_a_job_with_the_same_checkpoint_seed_and_settings(client, world):
    piece = make_piece(world, index=2, seed=777)
    response = client.post(reverse("piece_reproduce", args=[piece.pk]))
    job = GenerationJob.objects.latest("pk")
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.checkpoint_id == piece.checkpoint_id
    assert (job.seed, job.count) == (777, 1)
    assert (job.temperature, job.top_k, job.max_length, job.prime) == (
        0.8,
        5,
        600,
        "M:4/4\nL:1/8\nK:D\n",
    )


def test_reproduce_keeps_grammar_aware_sampling_on_when_the_piece_used_it(client, world):
    piece = make_piece(world, index=3, seed=778)
    GenerationJob.objects.filter(pk=piece.job_id).update(grammar=True)
    assert "<dt>Grammar</dt><dd>on</dd>" in client.get(piece.get_absolute_url()).content.decode()
    client.post(reverse("piece_reproduce", args=[piece.pk]))
    job = GenerationJob.objects.latest("pk")
    assert (job.seed, job.grammar) == (778, True)


def test_more_like_this_queues_a_job_with_the_same_settings_and_a_new_seed(client, piece):
    response = client.post(reverse("piece_more_like", args=[piece.pk]))
    job = GenerationJob.objects.latest("pk")
    assert response.status_code == 302
    assert job.checkpoint_id == piece.checkpoint_id and job.count == 1
    assert job.seed != piece.seed
    assert job.temperature == 0.8


def test_reproduce_and_more_like_this_need_a_post(client, piece):
    assert client.get(reverse("piece_reproduce", args=[piece.pk])).status_code == 405
    assert client.get(reverse("piece_more_like", args=[piece.pk])).status_code == 405


def test_reproduce_needs_the_csrf_token(piece):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("piece_reproduce", args=[piece.pk])).status_code == 403


def test_reproducing_a_piece_writes_the_same_notes(client, trained_run):
    from generator.services import generation_job_execute

    original = Piece.objects.filter(run=trained_run).order_by("pk").first()
    assert original is not None, "the tiny run made no epoch sample"
    client.post(reverse("piece_reproduce", args=[original.pk]))
    job = GenerationJob.objects.latest("pk")
    generation_job_execute(job_id=job.pk)
    again = job.pieces.get()
    assert again.text == original.text
    assert again.title == original.title


def test_a_piece_of_another_way_downloads_its_text_as_plain_text(client, world):
    piece = make_piece(world, title="Token piece", way="midi", midi=False, audio=False)
    assert client.get(reverse("piece_download", args=[piece.pk, "abc"])).status_code == 404
    response = client.get(reverse("piece_download", args=[piece.pk, "text"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="token-piece.txt"'
    page = client.get(piece.get_absolute_url())
    assert page.status_code == 200
    assert "The notes as text" in page.content.decode()
