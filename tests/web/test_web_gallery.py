"""The gallery: cards, filters, search, sorts, pagination and a query count that stays put."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generator.models import Piece, valid_pieces
from tests.web.builders import bulk_pieces, make_piece, make_world

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    return [p.title for p in response.context["pieces"]]


def test_the_gallery_shows_every_piece_as_a_card_with_its_facts(client, world):
    piece = make_piece(world, title="The Foggy Heron (Reel)", key="Dmix", meter="4/4")
    response = client.get(reverse("gallery"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "The Foggy Heron (Reel)" in html
    assert piece.get_absolute_url() in html
    assert "D Mixolydian" in html and "4/4" in html  # the key as a musician says it
    assert "Text (ABC)" in html
    assert f"{world.run}" in html and f"epoch {world.checkpoint.epoch}" in html
    assert "badge-valid" in html
    assert reverse("piece_audio", args=[piece.pk]) in html


def test_the_validity_badge_says_valid_parses_or_invalid(client, world):
    make_piece(world, title="Good", valid=True, audio=False, midi=False)
    bad = make_piece(world, title="Bad", valid=False, audio=False, midi=False)
    half = make_piece(world, title="Half", audio=False, midi=False)
    Piece.objects.filter(pk=half.pk).update(bar_accuracy=0.5)
    html = client.get(reverse("gallery")).content.decode()
    assert html.count("badge-valid") == 1
    assert html.count("badge-parses") == 1
    assert html.count("badge-invalid") == 1
    assert bad.title in html


def test_a_card_without_audio_yet_says_rendering(client, world):
    make_piece(world, title="Waiting", audio=False, midi=True)
    html = client.get(reverse("gallery")).content.decode()
    assert "rendering…" in html
    assert "data-rendering" in html


def test_the_gallery_filters_by_way_corpus_run_key_meter_and_validity(client, world):
    other = make_world(name="Other corpus", run_name="Other run")
    make_piece(world, title="Reel in D", key="D", meter="4/4", audio=False, midi=False)
    make_piece(world, title="Jig in G", key="G", meter="6/8", audio=False, midi=False)
    make_piece(world, title="Broken", key="D", meter="4/4", valid=False, audio=False, midi=False)
    make_piece(other, title="Elsewhere", key="D", meter="4/4", audio=False, midi=False)
    url = reverse("gallery")
    assert set(titles(client.get(url, {"key": "G"}))) == {"Jig in G"}
    assert set(titles(client.get(url, {"meter": "4/4", "valid": "on"}))) == {
        "Reel in D",
        "Elsewhere",
    }
    assert set(titles(client.get(url, {"corpus": other.corpus.pk}))) == {"Elsewhere"}
    assert set(titles(client.get(url, {"run": world.run.pk, "key": "D"}))) == {
        "Reel in D",
        "Broken",
    }
    assert len(titles(client.get(url, {"way": "abc"}))) == 4
    assert titles(client.get(url, {"way": "midi"})) == []


def test_the_gallery_searches_titles(client, world):
    make_piece(world, title="The Lonesome Kettle (Jig)", audio=False, midi=False)
    make_piece(world, title="The Merry Mill (Reel)", audio=False, midi=False)
    response = client.get(reverse("gallery"), {"q": "kettle"})
    assert titles(response) == ["The Lonesome Kettle (Jig)"]
    assert "1 piece match" in response.content.decode()


def test_a_search_that_matches_nothing_says_so(client, world):
    make_piece(world, audio=False, midi=False)
    html = client.get(reverse("gallery"), {"q": "zzz"}).content.decode()
    assert "No pieces match" in html


def test_the_gallery_sorts_newest_or_oldest_first(client, world):
    for title in ("B piece", "A piece", "C piece"):
        make_piece(world, title=title, audio=False, midi=False)
    url = reverse("gallery")
    assert titles(client.get(url)) == ["C piece", "A piece", "B piece"]
    assert titles(client.get(url, {"sort": "oldest"})) == ["B piece", "A piece", "C piece"]
    assert titles(client.get(url, {"sort": "bogus"})) == ["C piece", "A piece", "B piece"]


def test_sorting_by_rating_before_any_ratings_falls_back_to_newest_and_says_so(client, world):
    from generator import selectors

    assert selectors.rating_field() is None  # no listener has rated a piece yet
    for title in ("First", "Second"):
        make_piece(world, title=title, audio=False, midi=False)
    response = client.get(reverse("gallery"), {"sort": "rating"})
    assert response.status_code == 200
    assert titles(response) == ["Second", "First"]
    assert "No ratings have been collected yet: showing the newest first" in (
        response.content.decode()
    )


def test_sorting_by_novelty_puts_the_most_novel_first_with_its_badge(client, world):
    from django.apps import apps

    from generator import selectors

    pieces = {t: make_piece(world, title=t, audio=False, midi=False) for t in "ABC"}
    response = client.get(reverse("gallery"), {"sort": "novelty"})
    if selectors.novelty_field() is None:  # before the evaluation app stores scores
        assert titles(response) == ["C", "B", "A"]
        assert "No novelty scores yet: showing the newest first" in response.content.decode()
        return
    evaluation = apps.get_model("evaluation", "PieceEvaluation")
    evaluation.objects.create(piece=pieces["A"], status="done", novelty=0.9)
    evaluation.objects.create(piece=pieces["B"], status="done", novelty=0.2, likely_copy=True)
    response = client.get(reverse("gallery"), {"sort": "novelty"})
    assert titles(response) == ["A", "B", "C"]  # not yet evaluated: last
    html = response.content.decode()
    assert "novelty 0.90" in html and "close to a corpus tune" in html
    assert "showing the newest first" not in html


def test_a_bad_filter_value_is_ignored_not_an_error(client, world):
    make_piece(world, audio=False, midi=False)
    response = client.get(reverse("gallery"), {"run": "abc", "corpus": "-1x", "page": "nope"})
    assert response.status_code == 200
    assert len(titles(response)) == 1


def test_the_gallery_paginates(client, world):
    bulk_pieces(world, 30)
    url = reverse("gallery")
    first = client.get(url)
    assert len(titles(first)) == 24
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(url, {"page": 2})
    assert len(titles(second)) == 6
    assert len(titles(client.get(url, {"per_page": 12, "page": 3}))) == 6


def test_the_query_count_of_the_gallery_does_not_grow_with_page_size(client, world):
    other = make_world(name="Second", run_name="Second run")
    bulk_pieces(world, 60)
    bulk_pieces(other, 60)
    url = reverse("gallery")
    client.get(url)  # warm the facet cache and the session

    def count(per_page: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, {"per_page": per_page, "sort": "oldest"})
        assert response.status_code == 200
        assert len(response.context["pieces"]) == per_page
        return len(ctx.captured_queries)

    small, large = count(12), count(96)
    assert small == large
    assert large <= 6


def test_titles_from_uploaded_data_are_escaped(client, world):
    make_piece(world, title='<script>alert("x")</script>', audio=False, midi=False)
    html = client.get(reverse("gallery")).content.decode()
    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;" in html


def test_the_cards_endpoint_returns_cards_of_the_asked_pieces(client, world):
    a = make_piece(world, title="With audio")
    b = make_piece(world, title="Without audio", audio=False)
    data = client.get(reverse("piece_cards"), {"ids": f"{a.pk},{b.pk},x"}).json()
    assert data["cards"][str(a.pk)]["audio"] is True
    assert data["cards"][str(b.pk)]["audio"] is False
    assert "With audio" in data["cards"][str(a.pk)]["html"]


def test_an_empty_gallery_invites_you_to_generate(client, db):
    html = client.get(reverse("gallery")).content.decode()
    assert "The gallery is still quiet" in html
    assert reverse("generate") in html


def _epoch_sample_job(world):
    from generator.models import GenerationJob

    return GenerationJob.objects.create(
        checkpoint=world.checkpoint, seed=77, is_epoch_sample=True, status="succeeded"
    )


def test_the_gallery_shows_pieces_made_on_request_and_keeps_epoch_samples_behind_show(
    client, world
):
    make_piece(world, title="Asked for", audio=False, midi=False)
    make_piece(
        world, title="Training draft", valid=False, job=_epoch_sample_job(world), audio=False
    )
    url = reverse("gallery")
    first = client.get(url)
    assert titles(first) == ["Asked for"]  # a new visitor's first gallery: no drafts
    assert "Training drafts only" in first.content.decode()  # the Show filter offers them
    assert titles(client.get(url, {"epoch_samples": "only"})) == ["Training draft"]
    assert set(titles(client.get(url, {"epoch_samples": "include"}))) == {
        "Asked for",
        "Training draft",
    }


def test_the_run_page_timeline_still_shows_its_epoch_samples(client, world):
    make_piece(world, title="Training draft", job=_epoch_sample_job(world), audio=False)
    assert "Training draft" in client.get(world.run.get_absolute_url()).content.decode()


def test_an_empty_gallery_points_a_newcomer_to_the_training_drafts(client, world):
    make_piece(world, title="Training draft", job=_epoch_sample_job(world), audio=False)
    html = client.get(reverse("gallery")).content.decode()
    assert "Nobody has asked a model for tunes yet" in html and "epoch_samples=only" in html


def test_valid_only_keeps_audible_recordings_and_drops_silent_ones(client, world):
    from tests.web.builders import make_audio_world

    _, _, recording = make_audio_world()
    _, _, silent = make_audio_world()
    Piece.objects.filter(pk=silent.pk).update(plays=False)
    make_piece(world, title="Good tune", audio=False, midi=False)
    make_piece(world, title="Broken tune", valid=False, audio=False, midi=False)
    valid = titles(client.get(reverse("gallery"), {"valid": "on"}))
    assert set(valid) == {"Good tune", recording.title}  # a recording has no bars to add up
    assert recording.is_valid and not Piece.objects.get(pk=silent.pk).is_valid
    assert Piece.objects.filter(valid_pieces(), pk=recording.pk).exists()


def test_a_piece_of_a_way_no_longer_registered_is_valid_by_parse_and_play_alone(world):
    piece = make_piece(world, title="Orphan", audio=False, midi=False)
    Piece.objects.filter(pk=piece.pk).update(way="gone", bar_accuracy=None)
    orphan = Piece.objects.get(pk=piece.pk)
    assert orphan.is_valid and Piece.objects.filter(valid_pieces(), pk=piece.pk).exists()
