"""Pieces are filtered and sorted exactly as the gallery filters and sorts them, and every
list pages with a cursor."""

from __future__ import annotations

import pytest

from generator import selectors
from tests.api.builders import make_piece
from tests.api.conftest import assert_error


def _all_ids(client, url, query=None, per_page=100):
    """Every id of a list, following `next` links; asserts each page's size."""
    ids, query = [], {**(query or {}), "per_page": per_page}
    body = client.get(url, query).json()
    while True:
        ids.extend(item["id"] for item in body["results"])
        assert len(body["results"]) <= per_page
        if not body["next"]:
            return ids
        body = client.get(body["next"].removeprefix("http://testserver")).json()


GALLERY_QUERIES = [
    {},
    {"way": "abc"},
    {"way": "midi"},
    {"key": "G"},
    {"meter": "6/8"},
    {"key": "D", "meter": "4/4"},
    {"valid": True},
    {"q": "heron"},
    {"q": "HERON", "valid": True},
    {"epoch_samples": "only"},
    {"epoch_samples": "include", "key": "G"},
    {"sort": "oldest"},
    {"sort": "newest", "meter": "6/8"},
    {"sort": "rating"},
    {"sort": "novelty", "key": "G"},
]


@pytest.mark.parametrize("query", GALLERY_QUERIES, ids=lambda q: repr(q))
def test_pieces_are_filtered_and_sorted_exactly_as_the_gallery_does(anon, gallery, query):
    want = [p.pk for p in selectors.piece_list(filters=query)]
    api_query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()}
    assert _all_ids(anon, "/api/v1/pieces/", api_query, per_page=2) == want
    assert want  # every query finds something, or it proves little


def test_corpus_and_run_filters_match_the_gallery(anon, world, gallery):
    other_run = gallery[5].run
    for query in (
        {"corpus": world.corpus.pk},
        {"corpus": other_run.corpus_id},
        {"run": world.run.pk},
        {"run": other_run.pk, "key": "D"},
    ):
        want = [p.pk for p in selectors.piece_list(filters=query)]
        assert _all_ids(anon, "/api/v1/pieces/", query) == want and want


def test_a_gallery_query_string_works_on_the_api_unchanged(anon, gallery):
    from django.http import QueryDict

    from generator.forms import GalleryFilterForm

    query = "q=heron&key=G&meter=6%2F8&valid=on&sort=oldest"
    filters = GalleryFilterForm(QueryDict(query)).filters()
    want = [p.pk for p in selectors.piece_list(filters=filters)]
    got = [
        p["id"]
        for p in anon.get(f"/api/v1/pieces/?{query.replace('=on', '=true')}").json()["results"]
    ]
    assert got == want


def test_valid_false_lists_the_pieces_the_valid_filter_leaves_out(anon, gallery):
    every = {"epoch_samples": "include"}
    valid = set(_all_ids(anon, "/api/v1/pieces/", {**every, "valid": "true"}))
    invalid = set(_all_ids(anon, "/api/v1/pieces/", {**every, "valid": "false"}))
    assert valid and invalid and not valid & invalid
    assert valid | invalid == {p.pk for p in gallery}
    assert all(not p.is_valid for p in gallery if p.pk in invalid)


def test_the_response_says_which_sort_was_used(anon, gallery):
    assert anon.get("/api/v1/pieces/").json()["sort"] == "newest"
    assert anon.get("/api/v1/pieces/", {"sort": "oldest"}).json()["sort"] == "oldest"
    # No evaluation app yet: the gallery falls back to newest, and says so.
    assert anon.get("/api/v1/pieces/", {"sort": "rating"}).json()["sort"] == "newest"


def test_a_score_sort_pages_best_first_with_missing_scores_last(anon, world, monkeypatch):
    """Once a score exists the sort orders by it, NULLS LAST, through every page. Stood in
    for by bar_accuracy, a nullable float on the piece itself."""
    monkeypatch.setattr(selectors, "rating_field", lambda: "bar_accuracy")
    pieces = [make_piece(world.job, index=i) for i in range(7)]
    for piece, score in zip(pieces, (0.5, None, 0.9, 0.5, None, 0.1, 0.7), strict=True):
        type(piece).objects.filter(pk=piece.pk).update(bar_accuracy=score)
    want = [p.pk for p in selectors.piece_list(filters={"sort": "rating"})]
    assert _all_ids(anon, "/api/v1/pieces/", {"sort": "rating"}, per_page=2) == want
    assert anon.get("/api/v1/pieces/", {"sort": "rating"}).json()["sort"] == "rating"


def test_cursor_pages_walk_forward_and_back_without_gaps_or_repeats(anon, world):
    pieces = [make_piece(world.job, index=i) for i in range(11)]
    first = anon.get("/api/v1/pieces/", {"per_page": 4}).json()
    assert first["previous"] is None and "cursor=" in first["next"]
    forward = _all_ids(anon, "/api/v1/pieces/", per_page=4)
    assert forward == [p.pk for p in selectors.piece_list()] and len(forward) == 11
    assert sorted(forward) == sorted(p.pk for p in pieces)
    second = anon.get(first["next"].removeprefix("http://testserver")).json()
    back = anon.get(second["previous"].removeprefix("http://testserver")).json()
    assert [p["id"] for p in back["results"]] == [p["id"] for p in first["results"]]


def test_a_new_piece_does_not_shift_the_next_page(anon, world):
    for i in range(6):
        make_piece(world.job, index=i)
    first = anon.get("/api/v1/pieces/", {"per_page": 3}).json()
    make_piece(world.job, index=99)  # newest: lands before the first page
    second = anon.get(first["next"].removeprefix("http://testserver")).json()
    seen = [p["id"] for p in first["results"]] + [p["id"] for p in second["results"]]
    assert len(set(seen)) == 6


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/corpora/",
        "/api/v1/tunes/",
        "/api/v1/runs/",
        "/api/v1/checkpoints/",
        "/api/v1/jobs/",
        "/api/v1/imports/",
    ],
)
def test_every_list_pages_with_a_cursor(anon, world, url):
    body = anon.get(url, {"per_page": 1}).json()
    assert set(body) == {"next", "previous", "results"}
    assert len(body["results"]) <= 1


@pytest.mark.parametrize("per_page", ["0", "101", "x", "-1", "2.5"])
def test_a_page_size_outside_1_to_100_is_a_400(anon, world, per_page):
    error = assert_error(anon.get("/api/v1/pieces/", {"per_page": per_page}), 400, "invalid")
    assert list(error["fields"]) == ["per_page"]


@pytest.mark.parametrize(
    "query,field",
    [
        ({"way": "violin"}, "way"),
        ({"corpus": "abc"}, "corpus"),
        ({"corpus": "1.5"}, "corpus"),
        ({"run": str(2**70)}, "run"),
        ({"run": "-3"}, "run"),
        ({"valid": "maybe"}, "valid"),
        ({"sort": "loudest"}, "sort"),
        ({"q": "x" * 101}, "q"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_the_field(anon, gallery, query, field):
    error = assert_error(anon.get("/api/v1/pieces/", query), 400, "invalid")
    assert list(error["fields"]) == [field]


@pytest.mark.parametrize("cursor", ["garbage", "cD0yMDI0", "bz0xJnA9bm90LWEtZGF0ZQ==", "bz14"])
def test_a_cursor_that_does_not_decode_is_a_404(anon, gallery, cursor):
    assert_error(anon.get("/api/v1/pieces/", {"cursor": cursor}), 404, "not_found")


def test_tunes_and_runs_filter_by_their_own_fields(anon, world):
    tunes = anon.get("/api/v1/tunes/", {"corpus": world.corpus.pk, "meter": "6/8"}).json()
    assert [t["id"] for t in tunes["results"]] == [world.tunes[1].pk]
    runs = anon.get("/api/v1/runs/", {"status": "succeeded", "corpus": world.corpus.pk}).json()
    assert [r["id"] for r in runs["results"]] == [world.run.pk]
    assert anon.get("/api/v1/runs/", {"status": "failed"}).json()["results"] == []


def test_once_pieces_are_evaluated_they_show_their_scores_and_sort_by_novelty(anon, world):
    relation = selectors.evaluation_relation()
    assert relation == "evaluation" and selectors.novelty_field() == "evaluation__novelty"
    from generator.models import Piece

    Evaluation = Piece._meta.get_field(relation).related_model
    pieces = [make_piece(world.job, index=i) for i in range(5)]
    for piece, novelty in zip(pieces, (0.2, None, 0.9, 0.5, None), strict=True):
        if novelty is not None:
            Evaluation.objects.create(piece=piece, novelty=novelty)
    body = anon.get(f"/api/v1/pieces/{pieces[2].pk}/").json()
    assert body["novelty"] == 0.9 and body["evaluation"]["novelty"] == 0.9
    assert anon.get(f"/api/v1/pieces/{pieces[1].pk}/").json()["evaluation"] is None
    listed = {p["id"]: p for p in anon.get("/api/v1/pieces/").json()["results"]}
    assert listed[pieces[2].pk]["novelty"] == 0.9
    nested = {k for k, v in body["evaluation"].items() if isinstance(v, (dict, list))}
    assert not nested & set(listed[pieces[2].pk]["evaluation"])  # scores only in lists
    want = [p.pk for p in selectors.piece_list(filters={"sort": "novelty"})]
    assert _all_ids(anon, "/api/v1/pieces/", {"sort": "novelty"}, per_page=2) == want
    assert want[:3] == [pieces[2].pk, pieces[3].pk, pieces[0].pk]
    assert anon.get("/api/v1/pieces/", {"sort": "novelty"}).json()["sort"] == "novelty"
