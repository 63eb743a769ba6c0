"""Bad input is a 4xx in the error format, and nothing is half-written: wrong field types,
unknown ids, oversized uploads, temperature ≤ 0, unknown presets, refused services."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generator.models import (
    Checkpoint,
    Corpus,
    GenerationJob,
    ImportJob,
    JobStatus,
    Piece,
    TrainingRun,
    Tune,
)
from tests.api.builders import REEL, make_run
from tests.api.conftest import assert_error

MODELS = (Corpus, Tune, ImportJob, TrainingRun, Checkpoint, GenerationJob, Piece)


def counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in MODELS)


@pytest.fixture
def unchanged(world):
    """Asserts after the test that no row was added or removed anywhere."""
    before = counts()
    yield
    assert counts() == before


# --- generation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,field",
    [
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1.5}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": 11}, "temperature"),
        ({"count": 0}, "count"),
        ({"count": 65}, "count"),
        ({"count": "four"}, "count"),
        ({"count": 2.5}, "count"),
        ({"count": [1]}, "count"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**70}, "seed"),
        ({"top_k": -1}, "top_k"),
        ({"max_length": 5}, "max_length"),
        ({"max_length": 10**9}, "max_length"),
        ({"grammar": "perhaps"}, "grammar"),
        ({"prime": "x" * 3000}, "prime"),
        ({"key": "D"}, "key"),
        ({"meter": "6/8", "opening": "abc"}, "opening"),
        ({"meter": "K:6/8"}, "meter"),
        ({"prime": "M:6/8\n", "meter": "6/8"}, "prime"),
    ],
)
def test_a_bad_generation_field_is_a_400_naming_it(anon, world, unchanged, body, field):
    response = anon.post("/api/v1/generate/", {"run": world.run.pk, **body}, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"], error


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "checkpoint"),
        ({"checkpoint": 999999}, "checkpoint"),
        ({"checkpoint": "first"}, "checkpoint"),
        ({"checkpoint": 2**64}, "checkpoint"),
        ({"run": 999999}, "run"),
        ({"run": None, "checkpoint": None}, "checkpoint"),
    ],
)
def test_generating_from_an_unknown_checkpoint_or_run_is_a_400(anon, world, unchanged, body, field):
    error = assert_error(anon.post("/api/v1/generate/", body, format="json"), 400, "invalid")
    assert field in error["fields"]


def test_a_checkpoint_of_another_run_is_refused(anon, world):
    other = make_run(world.corpus)
    before = counts()
    body = {"run": other.pk, "checkpoint": world.checkpoint.pk}
    error = assert_error(anon.post("/api/v1/generate/", body, format="json"), 400)
    assert error["fields"]["run"] == [
        f"Checkpoint {world.checkpoint.pk} belongs to run {world.run.pk}."
    ]
    assert counts() == before


def test_a_run_without_checkpoints_cannot_generate_yet(anon, world):
    run = make_run(world.corpus, status=JobStatus.QUEUED)
    before = counts()
    error = assert_error(anon.post("/api/v1/generate/", {"run": run.pk}, format="json"), 400)
    assert "no checkpoint yet" in error["fields"]["run"][0]
    assert counts() == before


def test_an_opening_the_model_never_saw_is_the_services_message(anon, world, unchanged):
    body = {"run": world.run.pk, "prime": "M:4/4\nK:D\n|:Ω€"}
    error = assert_error(anon.post("/api/v1/generate/", body, format="json"), 400, "invalid")
    assert "never saw" in error["message"] and error["fields"] == {"prime": [error["message"]]}


def test_a_body_that_is_not_json_is_a_400(anon, world, unchanged):
    response = anon.post("/api/v1/generate/", "{not json", content_type="application/json")
    error = assert_error(response, 400, "parse_error")
    assert "JSON" in error["message"]


def test_a_body_of_an_unknown_type_is_a_415(anon, world, unchanged):
    response = anon.post("/api/v1/generate/", "count=1", content_type="text/csv")
    assert_error(response, 415, "unsupported_media_type")


def test_a_body_that_is_a_list_is_a_400(anon, world, unchanged):
    assert_error(anon.post("/api/v1/generate/", [1, 2], format="json"), 400, "invalid")


def test_a_huge_json_body_is_a_413(anon, world, unchanged, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"run": world.run.pk, "prime": "a" * 2000}
    assert_error(anon.post("/api/v1/generate/", body, format="json"), 413, "payload_too_large")


def test_an_unsupported_method_is_a_405(anon, staff_api, world, unchanged):
    assert_error(staff_api.delete(f"/api/v1/runs/{world.run.pk}/"), 405, "method_not_allowed")
    assert_error(anon.put("/api/v1/generate/", {}, format="json"), 405, "method_not_allowed")


# --- runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,field",
    [
        ({"preset": "enormous"}, "preset"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 10001}, "epochs"),
        ({"epochs": "ten"}, "epochs"),
        ({"seed": -5}, "seed"),
        ({"config": "big"}, "config"),
        ({"config": {"units": "many"}}, "config"),
        ({"config": {"dropout": [1]}}, "config"),
        ({"config": {"colour": "blue"}}, "config"),
        ({"config": {"learning_rate": 5}}, "config"),
        ({"config": {"vocabulary": "words"}}, "config"),
        ({"corpus": 999999}, "corpus"),
        ({"corpus": "tiny"}, "corpus"),
        ({"corpus": None}, "corpus"),
        ({"start": "soon"}, "start"),
        ({"name": "x" * 201}, "name"),
    ],
)
def test_a_bad_run_is_a_400_naming_the_field_and_no_run_is_made(
    staff_api, world, unchanged, queued, body, field
):
    payload = {"corpus": world.corpus.pk, "preset": "tiny", "epochs": 1, **body}
    error = assert_error(staff_api.post("/api/v1/runs/", payload, format="json"), 400, "invalid")
    assert field in error["fields"], error
    assert queued == []


def test_a_bad_setting_is_refused_by_its_own_name(staff_api, world, unchanged, queued):
    body = {"corpus": world.corpus.pk, "preset": "full", "config": {"page_top_p": 2}}
    error = assert_error(staff_api.post("/api/v1/runs/", body, format="json"), 400, "invalid")
    assert error["fields"] == {"config": ["page_top_p must be a number in (0, 1] (got 2)"]}
    assert queued == []


def test_an_unknown_preset_names_the_presets_there_are(staff_api, world, unchanged):
    body = {"corpus": world.corpus.pk, "preset": "enormous"}
    error = assert_error(staff_api.post("/api/v1/runs/", body, format="json"), 400)
    assert error["message"] == "Unknown preset 'enormous'; choose one of quick, full, large, tiny"
    assert error["fields"] == {"preset": [error["message"]]}


def test_training_on_an_empty_corpus_is_refused(staff_api, world):
    empty = Corpus.objects.create(name="Empty")
    before = counts()
    error = assert_error(
        staff_api.post("/api/v1/runs/", {"corpus": empty.pk, "preset": "tiny"}, format="json"), 400
    )
    assert "empty" in error["message"] and "corpus" in error["fields"]
    assert counts() == before


def test_a_run_of_a_way_this_server_lacks_is_refused_not_a_500(staff_api, world):
    # Every way of the form's choices exists now; a row can still name one that does not
    # (written by a newer version of the site, say).
    corpus = Corpus.objects.create(name="Video corpus", way="video")
    Tune.objects.create(corpus=corpus, text="frames", content_hash="x")
    before = counts()
    response = staff_api.post(
        "/api/v1/runs/", {"corpus": corpus.pk, "preset": "tiny"}, format="json"
    )
    assert_error(response, 400, "invalid")
    assert counts() == before


@pytest.mark.parametrize(
    "verb,status,expected",
    [
        ("start", JobStatus.SUCCEEDED, "only a draft run can be started"),
        ("cancel", JobStatus.SUCCEEDED, "cannot be cancelled"),
        ("resume", JobStatus.QUEUED, "cannot be resumed"),
        ("resume", JobStatus.SUCCEEDED, "finished all its epochs"),
    ],
)
def test_a_run_action_the_run_cannot_take_is_the_services_message(
    staff_api, world, verb, status, expected
):
    run = make_run(world.corpus, status=status)
    before = (run.status, run.epochs, run.cancel_requested)
    error = assert_error(staff_api.post(f"/api/v1/runs/{run.pk}/{verb}/", {}, format="json"), 400)
    assert expected in error["message"].lower()
    run.refresh_from_db()
    assert (run.status, run.epochs, run.cancel_requested) == before


@pytest.mark.parametrize("epochs", [0, -1, "many", 10**6])
def test_resume_refuses_a_bad_epoch_count(staff_api, world, epochs):
    error = assert_error(
        staff_api.post(f"/api/v1/runs/{world.run.pk}/resume/", {"epochs": epochs}, format="json"),
        400,
    )
    assert "epochs" in error["fields"]
    world.run.refresh_from_db()
    assert world.run.status == JobStatus.SUCCEEDED and world.run.epochs == 2


@pytest.mark.parametrize("verb", ["start", "cancel", "resume"])
def test_acting_on_an_unknown_run_is_a_404(staff_api, db, verb):
    assert_error(
        staff_api.post(f"/api/v1/runs/424242/{verb}/", {}, format="json"), 404, "not_found"
    )


# --- corpora and imports ---------------------------------------------------------------------


def test_a_corpus_name_is_unique(staff_api, world, unchanged):
    error = assert_error(
        staff_api.post("/api/v1/corpora/", {"name": world.corpus.name}, format="json"), 400
    )
    assert "exists" in error["fields"]["name"][0]


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "source"),
        ({"source": ""}, "source"),
        ({"source": "music21:no-such-collection"}, "source"),
        ({"source": "/etc/passwd"}, "source"),
        ({"source": "../../../etc"}, "source"),
        ({"source": 12}, "source"),
        ({"source": "x" * 600}, "source"),
    ],
)
def test_a_bad_import_source_is_a_400_and_no_import_is_made(
    staff_api, world, unchanged, queued, body, field
):
    url = f"/api/v1/corpora/{world.corpus.pk}/imports/"
    error = assert_error(staff_api.post(url, body, format="json"), 400, "invalid")
    assert field in error["fields"], error
    assert queued == []


def test_an_upload_and_a_source_together_are_refused(staff_api, world, unchanged):
    upload = SimpleUploadedFile("tunes.abc", REEL.encode(), content_type="text/plain")
    response = staff_api.post(
        f"/api/v1/corpora/{world.corpus.pk}/imports/",
        {"file": upload, "source": "music21:oneills1850"},
        format="multipart",
    )
    assert_error(response, 400, "invalid")


@pytest.mark.parametrize(
    "content,reason",
    [(b"\x00\x01\x02binary", "binary"), (b"just some words\nno tunes here\n", "X: line")],
)
def test_an_upload_that_is_not_abc_is_refused_at_once(staff_api, world, unchanged, content, reason):
    upload = SimpleUploadedFile("tunes.abc", content, content_type="text/plain")
    response = staff_api.post(
        f"/api/v1/corpora/{world.corpus.pk}/imports/", {"file": upload}, format="multipart"
    )
    error = assert_error(response, 400, "invalid")
    assert reason in error["fields"]["file"][0]


def test_an_upload_larger_than_the_limit_is_a_413(staff_api, world, unchanged, settings):
    settings.MAX_UPLOAD_BYTES = 2000
    big = (REEL * 40).encode()
    assert len(big) > 2000
    upload = SimpleUploadedFile("big.abc", big, content_type="text/plain")
    response = staff_api.post(
        f"/api/v1/corpora/{world.corpus.pk}/imports/", {"file": upload}, format="multipart"
    )
    error = assert_error(response, 413, "payload_too_large")
    assert "2000 bytes" in error["message"]


def test_an_upload_far_over_the_limit_is_refused_before_it_is_read(
    staff_api, world, unchanged, settings
):
    settings.MAX_UPLOAD_BYTES = 1000
    upload = SimpleUploadedFile("huge.abc", b"X:1\n" + b"a" * 200_000, content_type="text/plain")
    response = staff_api.post(
        f"/api/v1/corpora/{world.corpus.pk}/imports/", {"file": upload}, format="multipart"
    )
    assert_error(response, 413, "payload_too_large")


def test_importing_into_an_unknown_corpus_is_a_404(staff_api, db):
    response = staff_api.post(
        "/api/v1/corpora/999999/imports/", {"source": "music21:oneills1850"}, format="json"
    )
    assert_error(response, 404, "not_found")
    assert ImportJob.objects.count() == 0


# --- never a 500 ------------------------------------------------------------------------------


def test_an_unexpected_fault_is_a_500_in_the_error_format_and_logged(
    anon, world, monkeypatch, caplog
):
    from generator import selectors

    def broken(**kwargs):
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr(selectors, "run_checkpoints", broken)
    response = anon.get(f"/api/v1/runs/{world.run.pk}/")
    error = assert_error(response, 500, "server_error")
    assert "fire" not in error["message"]
    assert "the database caught fire" in caplog.text


@pytest.mark.parametrize(
    "body,field",
    [
        ({"count": "4"}, "count"),
        ({"temperature": "0.8"}, "temperature"),
        ({"grammar": "true"}, "grammar"),
        ({"grammar": 1}, "grammar"),
        ({"count": True}, "count"),
        ({"prime": 7}, "prime"),
    ],
)
def test_a_json_body_must_use_json_types(anon, world, unchanged, body, field):
    response = anon.post("/api/v1/generate/", {"run": world.run.pk, **body}, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"]


def test_a_form_body_is_all_strings_and_is_accepted(anon, world, queued):
    response = anon.post(
        "/api/v1/generate/",
        {"run": str(world.run.pk), "count": "2", "temperature": "0.8", "grammar": "false"},
    )
    assert response.status_code == 202, response.json()
    assert response.json()["count"] == 2
