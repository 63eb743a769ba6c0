"""The generate form's MIDI primer: a corpus piece or an uploaded MIDI file for MIDI runs,
meter/key/opening for ABC runs, and the piece page that says where the primer came from."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generator.models import GenerationJob, JobStatus, Piece
from generator.services import generation_job_create, prime_split
from musiclib.ways.midi_notes import first_bars
from tests.ways_midi.builders import ASCENT, WALTZ, make_midi_tune, make_midi_world, midi_file_of

pytestmark = pytest.mark.django_db


def form_data(checkpoint, **overrides):
    data = {
        "checkpoint": checkpoint.pk,
        "temperature": "1.0",
        "seed": "5",
        "meter": "",
        "key": "",
        "opening": "",
        "primer_tune": "",
        "primer_bars": "4",
        "max_length": "200",
        "top_k": "0",
        "count": "1",
    }
    data.update(overrides)
    return data


def test_the_page_offers_a_midi_runs_corpus_pieces_and_a_file_input(client, world):
    midi = make_midi_world()
    html = client.get(reverse("generate")).content.decode()
    assert 'enctype="multipart/form-data"' in html
    chosen = "(?: selected)?"
    way_and_corpus = f'data-way="midi" data-corpus="{midi.corpus.pk}"'
    assert re.search(rf'value="{midi.checkpoint.pk}"{chosen} {way_and_corpus}', html)
    assert re.search(rf'value="{world.checkpoint.pk}"{chosen} data-way="abc"', html)
    assert f'<optgroup label="{midi.corpus}">' in html
    assert f'value="{midi.tunes[1].pk}" data-corpus="{midi.corpus.pk}">2. melody 2</option>' in html
    assert 'type="file" name="primer_midi"' in html and 'accept=".mid,.midi' in html
    # Each model names the fields it uses (its way's capabilities); the page marks the fields
    # only some ways use, and its script shows those of the chosen model.
    assert re.search(rf'value="{midi.checkpoint.pk}"[^>]* data-fields="[^"]*primer_tune', html)
    assert re.search(rf'value="{world.checkpoint.pk}"[^>]* data-fields="[^"]*meter', html)
    assert 'data-field="meter"' in html and 'data-field="primer_tune"' in html


def test_a_corpus_piece_primes_a_midi_run(client):
    midi = make_midi_world()
    response = client.post(
        reverse("generate"),
        form_data(midi.checkpoint, primer_tune=str(midi.tunes[1].pk), primer_bars="2"),
    )
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    source, text = prime_split(job.prime)
    assert text == first_bars(WALTZ, bars=2)
    assert (source["kind"], source["tune"], source["bars"]) == ("tune", midi.tunes[1].pk, 2)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "the first 2 bars of" in page and "melody 2" in page
    assert "%primer" not in page


def test_an_uploaded_midi_file_primes_a_midi_run(client):
    midi = make_midi_world()
    upload = SimpleUploadedFile("ascent.mid", midi_file_of(ASCENT), content_type="audio/midi")
    response = client.post(
        reverse("generate"), {**form_data(midi.checkpoint, primer_bars="3"), "primer_midi": upload}
    )
    assert response.status_code == 302
    source, text = prime_split(GenerationJob.objects.get().prime)
    assert text == first_bars(ASCENT, bars=3)
    assert (source["kind"], source["file"]) == ("midi", "ascent.mid")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "notes.mid",
            b"X:1\nT:Not MIDI\nK:D\nDFA|\n",
            "The file notes.mid cannot be a primer: not a MIDI file: it is text",
        ),
        ("empty.mid", b"", "The MIDI file is empty."),
    ],
)
def test_a_file_that_is_not_midi_or_is_empty_is_refused_next_to_the_field(
    client, name, data, message
):
    midi = make_midi_world()
    upload = SimpleUploadedFile(name, data, content_type="audio/midi")
    response = client.post(
        reverse("generate"), {**form_data(midi.checkpoint), "primer_midi": upload}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["primer_midi"]
    assert errors[0].startswith(message)
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not GenerationJob.objects.exists()


def test_a_primer_is_refused_for_an_abc_run_and_meter_for_a_midi_run(client, world):
    midi = make_midi_world()
    response = client.post(
        reverse("generate"), form_data(world.checkpoint, primer_tune=str(midi.tunes[0].pk))
    )
    assert "for MIDI runs" in response.context["form"].errors["primer_tune"][0]
    response = client.post(reverse("generate"), form_data(midi.checkpoint, meter="6/8"))
    assert "for ABC runs" in response.context["form"].errors["meter"][0]
    assert GenerationJob.objects.count() == 1  # only the ABC world's own job


def test_a_tune_with_symbols_the_model_never_saw_is_refused_with_them_named(client):
    midi = make_midi_world(texts=(ASCENT,))
    # A tune added to the corpus after the run learned it: its 3/4 bars are new to the model.
    late = make_midi_tune(midi.corpus, text=WALTZ, number=9, title="late waltz")
    response = client.post(
        reverse("generate"), form_data(midi.checkpoint, primer_tune=str(late.pk))
    )
    error = response.context["form"].errors["primer_tune"][0]
    assert "never saw" in error and "M:3/4 (meter 3/4)" in error
    assert not GenerationJob.objects.exists()


def test_the_piece_page_shows_where_its_primer_came_from(client):
    midi = make_midi_world()
    job = generation_job_create(
        checkpoint=midi.checkpoint, primer_tune=midi.tunes[0].pk, primer_bars=2, enqueue=False
    )
    _, text = prime_split(job.prime)
    GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    piece = Piece.objects.create(
        job=job,
        checkpoint=midi.checkpoint,
        run=midi.run,
        way="midi",
        seed=job.seed,
        title="The Primed Heron (Reel)",
        text=f'T:"The Primed Heron (Reel)" {text} n60_4',
    )
    html = client.get(piece.get_absolute_url()).content.decode()
    assert "the first 2 bars of" in html
    assert f'href="{reverse("tune_detail", args=[midi.tunes[0].pk])}">melody 1</a>' in html
    assert "%primer" not in html and text in html
