"""Corpus pages and human tunes, rendered the way generated pieces are."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from generator.models import Corpus
from tests.web.builders import JIG, REEL, make_import, make_tune

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(db):
    corpus = Corpus.objects.create(name="Session tunes", source="tests", description="A few tunes.")
    make_tune(corpus, text=REEL, number=1)
    make_tune(corpus, text=JIG, number=2)
    make_import(corpus)
    return corpus


def test_the_corpus_list_shows_each_corpus_with_its_tune_count(client, corpus):
    html = client.get(reverse("corpus_list")).content.decode()
    assert "Session tunes" in html and corpus.get_absolute_url() in html
    assert "<dt>Tunes</dt><dd>2</dd>" in html


def test_the_corpus_page_shows_the_last_import_report_with_each_failure(client, corpus):
    html = client.get(corpus.get_absolute_url()).content.decode()
    assert "2 tunes" in html
    assert "broken.abc" in html and ">7<" in html and "no K: (key) field" in html
    assert "The Test Reel" in html and "The Little Test Jig" in html
    assert reverse("tune_audio", args=[corpus.tunes.first().pk]) in html


def test_the_corpus_page_searches_and_filters_tunes(client, corpus):
    response = client.get(corpus.get_absolute_url(), {"q": "jig"})
    assert [t.title for t in response.context["tunes"]] == ["The Little Test Jig"]
    response = client.get(corpus.get_absolute_url(), {"meter": "4/4"})
    assert [t.title for t in response.context["tunes"]] == ["The Test Reel"]


def test_the_corpus_page_paginates(client, corpus):
    for n in range(3, 40):
        make_tune(corpus, text=REEL.replace("X:1", f"X:{n}"), number=n, title=f"Tune {n}")
    response = client.get(corpus.get_absolute_url())
    assert len(response.context["tunes"]) == 24
    assert "Page 1 of 2" in response.content.decode()


def test_a_tune_page_shows_score_player_and_downloads_like_a_piece(client, corpus):
    from generator.services import tune_render

    tune = corpus.tunes.get(number=1)
    tune_render(tune=tune)  # what the worker does after the import (score) and on first view
    html = client.get(tune.get_absolute_url()).content.decode()
    assert "<h1>The Test Reel</h1>" in html
    assert "<svg" in html and "Engraved score of The Test Reel" in html
    assert reverse("tune_audio", args=[tune.pk]) in html
    for fmt in ("abc", "midi", "musicxml", "audio"):
        assert reverse("tune_download", args=[tune.pk, fmt]) in html


def test_a_tune_in_common_time_says_so_in_words_not_as_a_c_beside_its_key(client, corpus):
    # "M:C" once read "C in D major" on the tune's page, as if C were its key.
    tune = make_tune(corpus, text=REEL.replace("M:4/4", "M:C"), number=3)
    html = client.get(tune.get_absolute_url()).content.decode()
    assert "4/4 (common time) in D major" in html and "C in D major" not in html
    listed = client.get(corpus.get_absolute_url()).content.decode()
    assert "4/4 (common time)" in listed


def test_tune_audio_is_rendered_once_and_cached_under_media_root_tunes(client, corpus, monkeypatch):
    from generator.services import tune_render
    from musiclib.render import audio_duration

    tune = corpus.tunes.get(number=1)
    tune_render(tune=tune)  # what the task a page or the audio's URL asks for does
    response = client.get(reverse("tune_audio", args=[tune.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "audio/ogg"
    body = b"".join(response)
    assert audio_duration(data=body) > 1.0
    cached = list((Path(settings.MEDIA_ROOT) / "tunes" / "audio").glob(f"{tune.pk}-*.ogg"))
    assert len(cached) == 1

    def fail(**kwargs):
        raise AssertionError("rendered twice")

    monkeypatch.setattr("musiclib.render.midi_to_audio", fail)
    assert b"".join(client.get(reverse("tune_audio", args=[tune.pk]))) == body


@pytest.mark.parametrize(
    "fmt, content_type, ext",
    [("abc", "text/vnd.abc; charset=utf-8", "abc"), ("midi", "audio/midi", "mid"),
     ("musicxml", "application/vnd.recordare.musicxml+xml", "musicxml"),
     ("audio", "audio/ogg", "ogg")],
)  # fmt: skip
def test_tune_downloads_have_their_content_type_and_filename(
    client, corpus, fmt, content_type, ext
):
    from generator.services import tune_render

    tune = corpus.tunes.get(number=2)
    tune_render(tune=tune)  # the audio is made by the worker, never by the request
    response = client.get(reverse("tune_download", args=[tune.pk, fmt]))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="the-little-test-jig.{ext}"'


def test_missing_corpora_and_tunes_are_404_pages(client, db):
    for url in (
        reverse("corpus_detail", args=[999]),
        reverse("tune_detail", args=[999]),
        reverse("tune_audio", args=[999]),
        reverse("tune_download", args=[999, "abc"]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
    assert "not in the book" in client.get(reverse("tune_detail", args=[999])).content.decode()
