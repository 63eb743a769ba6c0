"""What programs read: corpora and tunes, imports, runs with progress and loss history,
checkpoints, pieces with absolute download links and scores, and generation jobs."""

from __future__ import annotations

from generator.models import JobStatus, Piece
from tests.api.builders import make_import, make_job, make_piece
from tests.api.conftest import assert_error

BASE = "http://testserver"


def test_the_root_lists_every_entry_point_as_absolute_urls(anon, db):
    endpoints = anon.get("/api/v1/").json()["endpoints"]
    for name in ("corpora", "tunes", "imports", "runs", "checkpoints", "pieces", "jobs"):
        assert endpoints[name] == f"{BASE}/api/v1/{name}/"
    assert endpoints["generate"] == f"{BASE}/api/v1/generate/"
    assert endpoints["schema"] == f"{BASE}/api/schema/"
    assert endpoints["docs"] == f"{BASE}/api/docs/"


def test_a_corpus_shows_its_counts_and_where_its_tunes_and_imports_are(anon, world):
    body = anon.get(f"/api/v1/corpora/{world.corpus.pk}/").json()
    assert body["name"] == world.corpus.name
    assert body["n_tunes"] == 3 and body["n_runs"] == 1
    assert body["url"] == f"{BASE}/api/v1/corpora/{world.corpus.pk}/"
    assert body["web_url"] == f"{BASE}/corpora/{world.corpus.pk}/"
    assert body["tunes_url"] == f"{BASE}/api/v1/corpora/{world.corpus.pk}/tunes/"
    assert body["imports_url"] == f"{BASE}/api/v1/corpora/{world.corpus.pk}/imports/"
    listed = anon.get("/api/v1/corpora/").json()["results"]
    assert [c["id"] for c in listed] == [world.corpus.pk]


def test_a_corpus_lists_its_tunes_and_filters_them_as_the_corpus_page_does(anon, world):
    from generator import selectors

    url = f"/api/v1/corpora/{world.corpus.pk}/tunes/"
    tunes = anon.get(url).json()["results"]
    assert [t["id"] for t in tunes] == [t.pk for t in selectors.tune_list(corpus=world.corpus)]
    for query in ({"q": "heron"}, {"meter": "6/8"}, {"key": "D"}, {"key": "D", "q": "test"}):
        got = [t["id"] for t in anon.get(url, query).json()["results"]]
        want = [t.pk for t in selectors.tune_list(corpus=world.corpus, filters=query)]
        assert got == want, query
    assert [t["title"] for t in anon.get(url, {"q": "HERON"}).json()["results"]] == [
        "The Heron's Reel"
    ]


def test_a_tune_has_its_text_and_download_links_for_every_format(anon, world):
    tune = world.tunes[1]
    body = anon.get(f"/api/v1/tunes/{tune.pk}/").json()
    assert body["text"] == tune.text and body["meter"] == "6/8" and body["key"] == "G"
    assert body["downloads"] == {
        fmt: f"{BASE}/tunes/{tune.pk}/download/{fmt}/"
        for fmt in ("abc", "midi", "musicxml", "audio")
    }
    assert "text" not in anon.get("/api/v1/tunes/").json()["results"][0]


def test_an_import_shows_its_report(anon, world):
    job = make_import(world.corpus)
    body = anon.get(f"/api/v1/imports/{job.pk}/").json()
    assert body["status"] == "succeeded" and body["done"] is True
    assert body["imported"] == 3 and body["duplicates"] == 1
    assert body["failures"] == [{"file": "tests.abc", "tune": 9, "reason": "no K: (key) field"}]
    listed = anon.get(f"/api/v1/corpora/{world.corpus.pk}/imports/").json()["results"]
    assert [i["id"] for i in listed] == [job.pk]


def test_a_run_shows_progress_loss_history_and_checkpoints(anon, world):
    body = anon.get(f"/api/v1/runs/{world.run.pk}/").json()
    assert body["status"] == "succeeded" and body["done"] is True
    assert body["progress"] == 1.0 and body["epochs_done"] == 2 and body["epochs"] == 2
    assert body["history"] == [
        {"epoch": 1, "loss": 3.0, "val_loss": 3.3, "seconds": 1.25},
        {"epoch": 2, "loss": 1.5, "val_loss": 1.65, "seconds": 1.25},
    ]
    assert body["best_val_loss"] == 1.65
    assert [c["epoch"] for c in body["checkpoints"]] == [1, 2]
    assert body["checkpoints"][1]["url"] == f"{BASE}/api/v1/checkpoints/{world.checkpoint.pk}/"
    assert body["web_url"] == f"{BASE}/runs/{world.run.pk}/"
    assert body["pieces_url"] == f"{BASE}/api/v1/pieces/?run={world.run.pk}"
    assert "vocab" not in body
    listed = anon.get("/api/v1/runs/").json()["results"][0]
    assert listed["history"] == body["history"] and listed["n_checkpoints"] == 2
    by_run = anon.get(f"/api/v1/runs/{world.run.pk}/checkpoints/").json()["results"]
    assert [c["epoch"] for c in by_run] == [1, 2]
    filtered = anon.get("/api/v1/checkpoints/", {"run": world.run.pk}).json()["results"]
    assert {c["id"] for c in filtered} == {c["id"] for c in by_run}


def test_a_piece_links_every_format_absolutely_and_leaves_out_what_it_lacks(anon, world):
    with_midi = make_piece(world.job, midi=True)
    without = make_piece(world.job, valid=False)
    body = anon.get(f"/api/v1/pieces/{with_midi.pk}/").json()
    assert body["downloads"] == {
        fmt: f"{BASE}/pieces/{with_midi.pk}/download/{fmt}/"
        for fmt in ("abc", "midi", "musicxml", "audio")
    }
    assert body["has_midi"] is True and body["has_audio"] is False
    assert body["text"] == with_midi.text and body["valid"] is True
    assert body["run"] == world.run.pk and body["corpus"] == world.corpus.pk
    assert body["epoch"] == world.checkpoint.epoch
    assert body["job_url"] == f"{BASE}/api/v1/jobs/{world.job.pk}/"
    assert body["web_url"] == f"{BASE}/pieces/{with_midi.pk}/"
    other = anon.get(f"/api/v1/pieces/{without.pk}/").json()["downloads"]
    assert other["abc"] and other["midi"] is None and other["musicxml"] is None
    assert other["audio"] is None


def test_a_piece_the_list_leaves_out_by_default_still_answers_at_its_own_address(anon, world):
    sample = make_piece(make_job(world.checkpoint, is_epoch_sample=True))
    listed = [p["id"] for p in anon.get("/api/v1/pieces/").json()["results"]]
    assert sample.pk not in listed  # epoch samples are listed only when asked for
    body = anon.get(f"/api/v1/pieces/{sample.pk}/").json()
    assert body["id"] == sample.pk and body["text"] == sample.text


def test_the_download_links_serve_the_files(anon, world):
    piece = make_piece(world.job, midi=True)
    downloads = anon.get(f"/api/v1/pieces/{piece.pk}/").json()["downloads"]
    midi = anon.get(downloads["midi"].removeprefix(BASE))
    assert midi.status_code == 200 and b"".join(midi).startswith(b"MThd")  # streamed
    abc = anon.get(downloads["abc"].removeprefix(BASE))
    assert abc.status_code == 200 and abc.content.decode() == piece.text


def test_scores_and_survey_are_null_until_the_piece_is_evaluated_or_rated(anon, world, monkeypatch):
    from generator import sections

    piece = make_piece(world.job)
    body = anon.get(f"/api/v1/pieces/{piece.pk}/").json()
    assert body["evaluation"] is None and body["novelty"] is None and body["rating"] is None
    assert body["survey"] is None
    monkeypatch.setitem(sections.PIECE_SECTIONS, "survey", lambda p: {"votes": p.pk % 7})
    body = anon.get(f"/api/v1/pieces/{piece.pk}/").json()
    assert body["survey"] == {"votes": piece.pk % 7}


def test_a_registered_section_must_be_declared_first():
    import pytest

    from generator.sections import register_piece_section

    with pytest.raises(ValueError, match="unknown piece section"):
        register_piece_section("horoscope", lambda piece: None)


def test_a_job_shows_its_status_and_once_done_its_pieces(anon, world):
    pieces = [make_piece(world.job, index=i) for i in range(2)]
    body = anon.get(f"/api/v1/jobs/{world.job.pk}/").json()
    assert body["status"] == "succeeded" and body["done"] is True
    assert [p["id"] for p in body["pieces"]] == [p.pk for p in pieces]
    assert body["run"] == world.run.pk and body["epoch"] == world.checkpoint.epoch
    assert "requester_ip" not in body and "requested_by" not in body
    queued = make_job(world.checkpoint, status=JobStatus.QUEUED)
    body = anon.get(f"/api/v1/jobs/{queued.pk}/").json()
    assert body["done"] is False and body["pieces"] == []
    listed = anon.get("/api/v1/jobs/", {"status": "queued"}).json()["results"]
    assert [j["id"] for j in listed] == [queued.pk] and "pieces" not in listed[0]


def test_a_list_of_pieces_is_a_fixed_number_of_queries(anon, world, django_assert_max_num_queries):
    for i in range(30):
        make_piece(world.job, index=i, midi=i % 2 == 0)
    with django_assert_max_num_queries(2):  # ids, then rows: whatever the page size
        body = anon.get("/api/v1/pieces/", {"per_page": 30}).json()
    assert len(body["results"]) == 30
    assert Piece.objects.count() == 30


def test_unknown_ids_are_404s_in_the_error_format(anon, world):
    for path in (
        "/api/v1/pieces/999999/",
        "/api/v1/runs/999999/",
        "/api/v1/corpora/999999/",
        "/api/v1/corpora/999999/tunes/",
        "/api/v1/tunes/999999/",
        "/api/v1/jobs/999999/",
        "/api/v1/imports/999999/",
        "/api/v1/checkpoints/999999/",
        "/api/v1/pieces/abc/",
        "/api/v1/pieces/-1/",
        "/api/v1/pieces/99999999999999999999999/",
        "/api/v1/runs/1e9/",
        "/api/v1/nothing-here/",
        "/api/v2/pieces/",
    ):
        error = assert_error(anon.get(path), 404, "not_found")
        assert "id" in error["message"] or "endpoint" in error["message"], (path, error)
    error = assert_error(anon.get("/api/v1/runs/999999/"), 404)
    assert error["message"] == "There is no training run with that id."
