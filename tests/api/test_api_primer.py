"""The generation request's MIDI primer: `primer_tune` + `primer_bars` or a multipart
`primer_midi` upload for MIDI runs; every bad primer is a 400 naming its field, and nothing
is written."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generator.models import GenerationJob
from generator.services import prime_split
from musiclib.ways.midi_notes import WAY, first_bars
from tests.api.conftest import assert_error
from tests.ways_midi.builders import ASCENT, WALTZ, make_midi_world, midi_file_of


@pytest.fixture
def midi(db):
    return make_midi_world()


def test_a_corpus_tune_primes_a_midi_run(anon, midi, queued, django_capture_on_commit_callbacks):
    body = {"run": midi.run.pk, "primer_tune": midi.tunes[1].pk, "primer_bars": 2, "seed": 3}
    with django_capture_on_commit_callbacks(execute=True):
        response = anon.post("/api/v1/generate/", body, format="json")
    assert response.status_code == 202, response.json()
    data = response.json()
    job = GenerationJob.objects.get(pk=data["id"])
    text = first_bars(WALTZ, bars=2)
    assert prime_split(job.prime)[1] == text
    assert data["prime"] == text  # the source line stays out of `prime`
    assert data["primer"] == {
        "kind": "tune",
        "tune": midi.tunes[1].pk,
        "title": "melody 2",
        "file": None,
        "parts": None,
        "bars": 2,
        "tokens": len(WAY.tokenize(text)),
    }
    assert queued == [("generation_job_task", (job.pk,))]


def test_an_uploaded_midi_file_primes_a_midi_run(anon, midi, queued):
    upload = SimpleUploadedFile("ascent.mid", midi_file_of(ASCENT), content_type="audio/midi")
    body = {"checkpoint": midi.checkpoint.pk, "primer_midi": upload, "primer_bars": "3"}
    response = anon.post("/api/v1/generate/", body, format="multipart")
    assert response.status_code == 202, response.json()
    data = response.json()
    assert data["prime"] == first_bars(ASCENT, bars=3)
    assert (data["primer"]["kind"], data["primer"]["file"]) == ("midi", "ascent.mid")
    assert data["primer"]["parts"] == "melody" and data["primer"]["bars"] == 3


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.mid", b"X:1\nT:Not MIDI\nK:D\nDFA|\n", "not a MIDI file: it is text"),
        ("picture.mid", b"\x89PNG\r\n\x1a\n" + bytes(64), "it has no MIDI header"),
        ("empty.mid", b"", "The MIDI file is empty."),
    ],
)
def test_a_file_that_is_not_midi_or_is_empty_is_a_400_on_its_field(anon, midi, name, data, message):
    upload = SimpleUploadedFile(name, data, content_type="audio/midi")
    body = {"run": midi.run.pk, "primer_midi": upload}
    error = assert_error(anon.post("/api/v1/generate/", body, format="multipart"), 400, "invalid")
    assert list(error["fields"]) == ["primer_midi"]
    assert message in error["fields"]["primer_midi"][0]
    assert not GenerationJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"primer_tune": "1"}, "primer_tune", "Give a whole number."),
        ({"primer_tune": 10**9}, "primer_tune", "There is no tune 1000000000 in"),
        ({"primer_tune": 0}, "primer_tune", "greater than or equal to 1"),
        ({"primer_bars": 3}, "primer_bars", "Give primer_tune or primer_midi"),
        ({"primer_tune": "TUNE", "primer_bars": 40}, "primer_bars", "less than or equal to 32"),
        ({"primer_midi": "not a file"}, "primer_midi", "Upload a MIDI file"),
        ({"primer_tune": "TUNE", "meter": "6/8"}, "primer_tune", "not both"),
        ({"prime": "%primer {}\nM:4/4 K:0 n60_1"}, "prime", "may not start with %primer"),
    ],
)
def test_a_bad_primer_field_is_a_400_naming_it(anon, midi, body, field, message):
    body = {k: midi.tunes[0].pk if v == "TUNE" else v for k, v in body.items()}
    response = anon.post("/api/v1/generate/", {"run": midi.run.pk, **body}, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"], error
    assert message in error["fields"][field][0]
    assert not GenerationJob.objects.exists()


def test_a_primer_for_an_abc_run_is_a_400(anon, world, midi):
    body = {"run": world.run.pk, "primer_tune": midi.tunes[0].pk}
    error = assert_error(anon.post("/api/v1/generate/", body, format="json"), 400, "invalid")
    assert "for MIDI runs" in error["fields"]["primer_tune"][0]


def test_a_tune_with_symbols_the_model_never_saw_is_a_400_naming_them(anon):
    small = make_midi_world(texts=(ASCENT,))
    upload = SimpleUploadedFile("waltz.mid", midi_file_of(WALTZ), content_type="audio/midi")
    body = {"run": small.run.pk, "primer_midi": upload, "primer_bars": "2"}
    error = assert_error(anon.post("/api/v1/generate/", body, format="multipart"), 400, "invalid")
    assert "never saw" in error["fields"]["primer_midi"][0]
    assert "n74_1 (note D5 lasting 1 quarter)" in error["fields"]["primer_midi"][0]
    assert not GenerationJob.objects.exists()


def test_an_upload_over_the_limit_is_a_413(anon, midi, settings):
    settings.MAX_UPLOAD_BYTES = 100
    upload = SimpleUploadedFile("ascent.mid", midi_file_of(ASCENT), content_type="audio/midi")
    body = {"run": midi.run.pk, "primer_midi": upload}
    response = anon.post("/api/v1/generate/", body, format="multipart")
    assert_error(response, 413, "payload_too_large")
    assert not GenerationJob.objects.exists()


def test_the_piece_and_the_job_say_where_the_primer_came_from(anon, midi, queued):
    from generator.models import JobStatus, Piece

    body = {"run": midi.run.pk, "primer_tune": midi.tunes[0].pk, "primer_bars": 1}
    job_id = anon.post("/api/v1/generate/", body, format="json").json()["id"]
    job = GenerationJob.objects.get(pk=job_id)
    GenerationJob.objects.filter(pk=job_id).update(status=JobStatus.SUCCEEDED)
    piece = Piece.objects.create(
        job=job, checkpoint=midi.checkpoint, run=midi.run, way="midi", seed=1, text=ASCENT
    )
    data = anon.get(f"/api/v1/pieces/{piece.pk}/").json()
    assert data["primer"]["kind"] == "tune" and data["primer"]["tune"] == midi.tunes[0].pk
    assert anon.get(f"/api/v1/jobs/{job_id}/").json()["primer"]["bars"] == 1


def test_the_schema_describes_the_primer_fields(anon):
    schema = anon.get("/api/schema/?format=json").json()
    request = schema["components"]["schemas"]["GenerationRequestRequest"]["properties"]
    assert {"primer_tune", "primer_bars", "primer_midi"} <= set(request)
    assert request["primer_midi"]["format"] == "binary"
    content = schema["paths"]["/api/v1/generate/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in content
    job = schema["components"]["schemas"]["GenerationJob"]["properties"]
    assert "primer" in job
