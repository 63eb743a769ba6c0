"""The audio way through the service layer: import, a run, pieces, the piece page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from generator.models import JobStatus, Piece, Tune, Way
from generator.services import (
    corpus_get_or_create,
    corpus_import,
    generation_job_create,
    generation_job_execute,
    piece_render,
    training_run_execute,
    training_run_resume,
)
from musiclib.audio.dsp import read_wav_bytes
from musiclib.metrics.audio import clip_metrics
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def audio_files() -> set[Path]:
    folder = Path(settings.MEDIA_ROOT) / "corpora" / "audio"
    return set(folder.iterdir()) if folder.exists() else set()


def test_it_imports_a_folder_of_wav_and_flac_recordings(melody_folder):
    corpus = corpus_get_or_create(name="melodies", way=Way.AUDIO)
    job = corpus_import(corpus=corpus, source=str(melody_folder))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.imported == 6 and job.failures == []
    tune = corpus.tunes.first()
    assert tune.data.name.endswith(".flac") and tune.title.startswith("melody_")
    assert (Path(settings.MEDIA_ROOT) / tune.data.name).is_file()
    again = corpus_import(corpus=corpus, source=str(melody_folder))
    assert again.imported == 0 and again.duplicates == 6


def test_bad_files_in_a_folder_are_listed_and_the_good_ones_imported(melody_folder):
    (melody_folder / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    (melody_folder / "empty.ogg").write_bytes(b"")
    corpus = corpus_get_or_create(name="mixed", way=Way.AUDIO)
    job = corpus_import(corpus=corpus, source=str(melody_folder))
    assert job.status == JobStatus.SUCCEEDED and job.imported == 6
    reasons = {f["file"]: f["reason"] for f in job.failures}
    assert "not audio that can be read" in reasons["broken.wav"]
    assert "empty" in reasons["empty.ogg"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("tune.wav", b"X:1\nK:D\nabc|\n", "not audio that can be read"),
        ("tune.wav", b"", "empty"),
        ("tune.mp3", b"ID3" + bytes(100), "not a WAV, FLAC or OGG file"),
    ],
)
def test_a_bad_upload_fails_the_import_with_the_reason_and_writes_nothing(name, data, message):
    corpus = corpus_get_or_create(name="uploads", way=Way.AUDIO)
    before = audio_files()
    job = corpus_import(corpus=corpus, upload=(name, data))
    assert job.status == JobStatus.FAILED and message in job.error
    assert not Tune.objects.filter(corpus=corpus).exists()
    assert audio_files() == before


def test_an_upload_at_an_unsupported_sample_rate_is_refused(tmp_path):
    import soundfile as sf

    path = tmp_path / "odd.wav"
    sf.write(path, np.ones(4000, dtype=np.float32) * 0.1, 12345)
    corpus = corpus_get_or_create(name="odd", way=Way.AUDIO)
    job = corpus_import(corpus=corpus, upload=("odd.wav", path.read_bytes()))
    assert job.status == JobStatus.FAILED and "12345 Hz" in job.error


@pytest.mark.slow
def test_an_audio_run_trains_resumes_and_its_pieces_are_pitched_tones(melody_folder, client):
    corpus = corpus_get_or_create(name="sines", way=Way.AUDIO)
    assert corpus_import(corpus=corpus, source=str(melody_folder)).status == JobStatus.SUCCEEDED
    run = make_run(corpus, epochs=6, seed=2, val_fraction=0.2)
    run = training_run_execute(run_id=run.pk, worker="test-process")
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.vocab[3:6] == ["a0", "a1", "a2"] and run.data_stats["codebook_size"] == 32
    assert run.history[-1]["loss"] < run.history[0]["loss"]
    samples = Piece.objects.filter(run=run, job__is_epoch_sample=True)
    assert samples.count() == 6 and all(p.audio.name.endswith(".wav") for p in samples)
    # Resume: two more epochs from the last checkpoint with the same codebook.
    training_run_resume(run=run, epochs=8)
    run = training_run_execute(run_id=run.pk, worker="test-process")
    assert run.status == JobStatus.SUCCEEDED, run.error and run.epochs_done == 8

    job = generation_job_create(
        checkpoint=run.last_checkpoint,
        count=4,
        seed=5,
        temperature=0.7,
        max_length=216,  # 5 s
        enqueue=False,
    )
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    pieces = list(job.pieces.order_by("index"))
    assert [p.midi.name for p in pieces] == ["", "", "", ""]
    assert all(p.title.startswith("Sketch no. ") for p in pieces)  # a recording, not an air
    stable = []
    for piece in pieces:
        with piece.audio.open("rb") as fh:
            y = read_wav_bytes(fh.read())
        assert y.size == 215 * 512
        m = clip_metrics(y)
        assert not m["silent"] and not m["noise"], m
        stable.append(m["stable_fraction"])
    noise = clip_metrics(
        0.3 * np.random.default_rng(0).standard_normal(5 * 22050).astype(np.float32)
    )
    assert np.mean(stable) > 0.5 > 10 * noise["stable_fraction"], (stable, noise)

    # The piece page: a player, a spectrogram, downloads; no score, no MIDI.
    piece = pieces[0]
    page = client.get(reverse("piece_detail", args=[piece.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<audio" in html
    assert reverse("piece_download", args=[piece.pk, "wav"]) in html
    assert 'data-format="ogg" data-file-state="preparing"' in html  # encoded by the worker
    assert reverse("piece_download", args=[piece.pk, "midi"]) not in html
    assert "The spectrogram is being prepared" in html  # drawn by the render task
    assert client.get(reverse("piece_spectrogram", args=[piece.pk])).status_code == 202
    assert client.get(reverse("piece_download", args=[piece.pk, "ogg"])).status_code == 202
    piece_render(piece=piece)  # the render task they asked for: it encodes the OGG, draws
    png = client.get(reverse("piece_spectrogram", args=[piece.pk]))
    assert png.status_code == 200 and b"".join(png).startswith(b"\x89PNG")
    ogg = client.get(reverse("piece_download", args=[piece.pk, "ogg"]))
    assert ogg.status_code == 200 and b"".join(ogg)[:4] == b"OggS"
    html = client.get(reverse("piece_detail", args=[piece.pk])).content.decode()
    assert reverse("piece_download", args=[piece.pk, "ogg"]) in html and "prepared" not in html
    assert client.get(reverse("piece_download", args=[piece.pk, "midi"])).status_code == 404
    gallery = client.get(reverse("gallery"))
    assert gallery.status_code == 200 and reverse("piece_audio", args=[piece.pk]) in (
        gallery.content.decode()
    )

    # The corpus, a recording, the run and its report render for an audio run too.
    assert client.get(reverse("corpus_detail", args=[corpus.pk])).status_code == 200
    tune = corpus.tunes.first()
    assert client.get(reverse("tune_detail", args=[tune.pk])).status_code == 200
    assert b"".join(client.get(reverse("tune_audio", args=[tune.pk])))[:4] == b"fLaC"
    assert client.get(reverse("run_detail", args=[run.pk])).status_code == 200
    from evaluation.services import run_report

    data = run_report(run=run)  # measured here, as the report task does
    report = client.get(reverse("evaluation_run_report", args=[run.pk]))
    assert report.status_code == 200
    for name in ("generated", "corpus", "oracle", "control"):
        assert f'data-set="{name}"' in report.content.decode()
    # The decoder table: the run's phase-coherent decoder beside Griffin-Lim.
    assert 'data-decoder="phase + 8 Griffin-Lim"' in report.content.decode()
    assert 'data-decoder="griffinlim"' in report.content.decode()
    assert data["decoder"] == "phase" and [c["used"] for c in data["codec"]] == [True, False]
    assert all(0 <= c["spectral_convergence"] < 1 for c in data["codec"])
    assert {p.validity_detail["decoder"] for p in pieces} == {"phase"}
    sets = {s["name"]: s for s in data["sets"]}
    assert sets["generated"]["noise"] == 0 and sets["generated"]["silent"] == 0
    assert sets["oracle"]["stable_fraction"]["mean"] > 0.5

    # An audio prime: the pieces continue the uploaded recording.
    from generator.services import audio_prime_encode

    with open(sorted(melody_folder.glob("*.wav"))[0], "rb") as fh:
        prime = audio_prime_encode(checkpoint=run.last_checkpoint, name="p.wav", data=fh.read())
    primed = generation_job_execute(
        job_id=generation_job_create(
            checkpoint=run.last_checkpoint,
            count=1,
            seed=9,
            max_length=43,
            prime=prime,
            enqueue=False,
        ).pk
    )
    text = primed.pieces.get().text
    assert primed.status == JobStatus.SUCCEEDED and text.startswith(prime)
    assert len(text.split()) == len(prime.split()) + 43
    with pytest.raises(ValueError, match="not audio that can be read"):
        audio_prime_encode(checkpoint=run.last_checkpoint, name="x.wav", data=b"nonsense" * 9)


@pytest.mark.slow
def test_the_import_command_renders_bach_chorales_into_an_audio_corpus():
    from io import StringIO

    from django.core.management import call_command

    from generator.models import Corpus

    out = StringIO()
    call_command("import_corpus", "music21:bach-audio#limit=2", stdout=out)
    corpus = Corpus.objects.get(name="bach-audio")
    assert corpus.way == Way.AUDIO and "imported 2" in out.getvalue()
    for tune in corpus.tunes.all():
        path = Path(settings.MEDIA_ROOT) / tune.data.name
        assert path.is_file() and tune.title
        m = clip_metrics(read_wav_bytes(path.read_bytes())[: 10 * 22050])
        assert m["flatness"] < 0.005 and m["stable_fraction"] > 0.5, m
