"""Generating from an audio-way run through the API: `seconds` sets the length, a
`prime_audio` recording is continued, and either field on another way is a 400."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generator.models import GenerationJob, JobStatus, Way
from generator.services import corpus_get_or_create, corpus_import, training_run_execute
from musiclib.audio.dsp import FRAME_RATE
from tests.api.conftest import assert_error
from tests.factories import make_run
from tests.ways_audio.conftest import write_melodies


@pytest.fixture
def audio_run(db, tmp_path: Path):
    folder = tmp_path / "melodies"
    write_melodies(folder, count=4, seconds=4.0)
    corpus = corpus_get_or_create(name="api sine melodies", way=Way.AUDIO)
    assert corpus_import(corpus=corpus, source=str(folder)).status == JobStatus.SUCCEEDED
    run = training_run_execute(run_id=make_run(corpus, epochs=1, seed=1).pk, worker="here")
    assert run.status == JobStatus.SUCCEEDED, run.error
    run.recording = sorted(folder.glob("*.wav"))[0].read_bytes()
    return run


def test_seconds_set_the_length_of_an_audio_piece(anon, audio_run, queued):
    body = {"run": audio_run.pk, "seconds": 3.0, "seed": 4, "count": 1}
    response = anon.post("/api/v1/generate/", body, format="json")
    assert response.status_code == 202, response.json()
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.max_length == round(3.0 * FRAME_RATE) and job.prime == ""


def test_an_uploaded_recording_primes_an_audio_run(anon, audio_run, queued):
    upload = SimpleUploadedFile("opening.wav", audio_run.recording, content_type="audio/wav")
    body = {"run": audio_run.pk, "prime_audio": upload, "count": "1"}
    response = anon.post("/api/v1/generate/", body, format="multipart")
    assert response.status_code == 202, response.json()
    prime = GenerationJob.objects.get(pk=response.json()["id"]).prime.split()
    assert len(prime) > 10 and all(token.startswith("a") for token in prime)


def test_a_file_that_is_not_audio_is_a_400_on_prime_audio_and_writes_nothing(anon, audio_run):
    upload = SimpleUploadedFile("noise.wav", b"not a recording" * 20, content_type="audio/wav")
    body = {"run": audio_run.pk, "prime_audio": upload}
    jobs = GenerationJob.objects.count()  # the run's own epoch samples
    error = assert_error(anon.post("/api/v1/generate/", body, format="multipart"), 400)
    assert list(error["fields"]) == ["prime_audio"]
    assert "not audio" in error["fields"]["prime_audio"][0]
    assert GenerationJob.objects.count() == jobs


def test_an_abc_prime_on_an_audio_run_is_a_400(anon, audio_run):
    body = {"run": audio_run.pk, "meter": "6/8", "key": "D"}
    error = assert_error(anon.post("/api/v1/generate/", body, format="json"), 400)
    assert "it starts from a recording" in error["fields"]["meter"][0]


def test_seconds_on_an_abc_run_is_a_400(anon, world):
    body = {"run": world.run.pk, "seconds": 5}
    error = assert_error(anon.post("/api/v1/generate/", body, format="json"), 400)
    assert list(error["fields"]) == ["seconds"]
    assert "for audio runs" in error["fields"]["seconds"][0]
