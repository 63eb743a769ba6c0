"""Listeners' ratings reach the gallery: the rating sort, the card's badge and the API."""

import re

import pytest
from django.urls import reverse

from evaluation.survey.models import Listener, SurveyResponse
from evaluation.survey.services import new_token
from generator import selectors
from tests.evaluation.survey_builders import make_survey

pytestmark = pytest.mark.django_db


def _rate(survey, likings: dict[int, list[int]]) -> None:
    """likings: piece pk -> the overall-liking answers of successive listeners."""
    clips = {c.piece_id: c for c in survey.clips.filter(piece__isnull=False)}
    listeners = [
        Listener.objects.create(survey=survey, key=new_token())
        for _ in range(max(len(v) for v in likings.values()))
    ]
    for piece_pk, answers in likings.items():
        for listener, liking in zip(listeners, answers, strict=False):
            SurveyResponse.objects.create(
                survey=survey,
                listener=listener,
                clip=clips[piece_pk],
                origin="computer",
                confidence=3,
                liking=liking,
                coherence=3,
            )


def _card_titles_and_stars(html: str) -> list[str]:
    return re.findall(r"&#9733; ([\d.]+)|\u2605 ([\d.]+)", html)


def test_the_rating_sort_puts_the_best_liked_pieces_first_and_unrated_ones_last(client):
    survey = make_survey(tunes=3, pieces=3, render=False)
    low, high, unrated = (c.piece for c in survey.clips.filter(piece__isnull=False).order_by("pk"))
    _rate(survey, {low.pk: [2, 3], high.pk: [5, 4]})

    qs = selectors.piece_list(filters={"sort": "rating"})
    ordered = [p.pk for p in qs if p.pk in {low.pk, high.pk, unrated.pk}]
    assert ordered == [high.pk, low.pk, unrated.pk]
    means = {p.pk: p.mean_rating for p in qs}
    assert means[high.pk] == pytest.approx(4.5) and means[low.pk] == pytest.approx(2.5)
    assert means[unrated.pk] is None

    response = client.get(reverse("gallery"), {"sort": "rating"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "No ratings have been collected yet" not in html
    stars = [a or b for a, b in _card_titles_and_stars(html)]
    assert stars[:2] == ["4.5", "2.5"]


def test_the_api_gives_each_piece_its_mean_rating_and_sorts_by_it(client):
    survey = make_survey(tunes=3, pieces=2, render=False)
    first, second = (c.piece for c in survey.clips.filter(piece__isnull=False).order_by("pk"))
    _rate(survey, {first.pk: [1, 2, 2], second.pk: [4]})

    body = client.get("/api/v1/pieces/", {"sort": "rating"}).json()
    assert body["sort"] == "rating"
    rows = [(r["id"], r["rating"]) for r in body["results"]]
    assert rows[:2] == [(second.pk, 4.0), (first.pk, pytest.approx(5 / 3, abs=1e-3))]
    detail = client.get(f"/api/v1/pieces/{first.pk}/").json()
    assert detail["rating"] == pytest.approx(5 / 3, abs=1e-3)


def test_before_any_listener_rates_a_piece_the_rating_sort_says_it_falls_back(client):
    make_survey(tunes=2, pieces=2, render=False)
    assert selectors.rating_field() is None
    response = client.get(reverse("gallery"), {"sort": "rating"})
    assert "No ratings have been collected yet: showing the newest first" in (
        response.content.decode()
    )


def test_a_rated_pieces_api_detail_says_what_its_listeners_said(client):
    survey = make_survey(tunes=3, pieces=2, render=False)
    rated, unrated = (c.piece for c in survey.clips.filter(piece__isnull=False).order_by("pk"))
    _rate(survey, {rated.pk: [2, 4, 3]})

    body = client.get(f"/api/v1/pieces/{rated.pk}/").json()
    said = body["survey"]
    assert said["ratings"] == 3 and said["listeners"] == 3 and said["clips"] == 1
    assert said["liking"]["mean"] == pytest.approx(3.0)
    assert said["judged_human"]["k"] == 0 and said["judged_human"]["n"] == 3
    assert client.get(f"/api/v1/pieces/{unrated.pk}/").json()["survey"] is None
    # Lists stay one query whatever their length: the survey is in the detail only.
    listed = client.get("/api/v1/pieces/").json()["results"]
    assert listed and all("survey" not in row for row in listed)
