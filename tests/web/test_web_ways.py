"""Pages and API show what a piece's way has, and nothing it does not: a recording has no
parse badge, bars or notes, no score and no ABC or MusicXML download; the generate form
refuses, with the reason, a filled-in field the chosen model does not use, and ignores one
that only holds its default."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from generator.forms import DEFAULT_LENGTH
from generator.models import GenerationJob, JobStatus, Piece
from generator.services import corpus_get_or_create, corpus_import, piece_render
from generator.services.pieces import piece_title
from musiclib.audio.dsp import SAMPLE_RATE, wav_bytes
from musiclib.ways import get_way
from tests.ways_audio.conftest import melody
from tests.ways_midi.builders import ASCENT, make_midi_world
from tests.web.builders import make_audio_world

pytestmark = pytest.mark.django_db

BASE = "http://testserver"


@pytest.fixture
def audio():
    return make_audio_world()


def test_a_folk_tune_is_named_with_the_tune_type_its_meter_makes_it():
    assert piece_title(seed=3, meter="6/8", style="tune").endswith("(Jig)")
    assert piece_title(seed=3, meter="", style="tune").endswith("(Air)")
    plain = piece_title(seed=3, meter="", style="plain")
    assert "(" not in plain and piece_title(seed=3, meter="", style="tune").startswith(plain)


def test_a_midi_melody_is_named_a_melody_in_its_key_never_a_dance():
    title = piece_title(seed=3, meter="4/4", key="G minor", style="melody")
    assert title.startswith("Melody no. ") and title.endswith(" in G minor")
    assert not any(dance in title for dance in ("Reel", "Jig", "Air", "Waltz", "Polka"))
    assert piece_title(seed=3, meter="4/4", key="G minor", style="melody") == title  # the seed's
    assert " in " not in piece_title(seed=3, style="melody")  # no key, no key in the name


def test_a_recording_is_named_a_sketch_without_a_tune_type_or_key():
    title = piece_title(seed=3, meter="6/8", key="D major", style="recording")
    assert title.startswith("Sketch no. ") and "(" not in title and "major" not in title


def test_an_audio_piece_page_shows_no_bar_or_parse_measures(client, audio):
    _, _, piece = audio
    html = client.get(piece.get_absolute_url()).content.decode()
    assert "<dt>Plays</dt><dd>yes</dd>" in html and "<dt>Seconds</dt>" in html
    for absent in ("<dt>Parses</dt>", "Bars that add up", "<dt>Notes</dt>", "<dt>Grammar</dt>"):
        assert absent not in html, absent
    assert "badge-parses" not in html and "badge-valid" not in html and "badge-invalid" not in html
    assert "Engraved score" not in html and "spectrogram" in html
    assert "The tokens as text" in html and "notes as text" not in html.lower()


def test_an_audio_piece_card_shows_no_validity_badge_key_or_meter(client, audio):
    _, _, piece = audio
    html = client.get(reverse("gallery")).content.decode()
    card = html[html.index(f'data-key="{piece.pk}"') :].split("</article>")[0]
    assert "badge-parses" not in card and "<dt>Key</dt>" not in card
    assert "<dt>Way</dt><dd>Audio frames</dd>" in card


def test_an_audio_piece_offers_only_its_text_and_recording_in_the_api(client, audio):
    _, _, piece = audio
    downloads = APIClient().get(f"/api/v1/pieces/{piece.pk}/").json()["downloads"]
    assert downloads == {
        fmt: f"{BASE}/pieces/{piece.pk}/download/{fmt}/" for fmt in ("text", "wav", "ogg")
    }
    ogg = downloads["ogg"].removeprefix(BASE)
    assert client.get(ogg).status_code == 202  # encoded by the render task, not the request
    piece_render(piece=piece)  # what that task does
    for url in downloads.values():
        assert client.get(url.removeprefix(BASE)).status_code == 200, url
    for fmt in ("abc", "musicxml", "midi", "audio"):
        assert client.get(reverse("piece_download", args=[piece.pk, fmt])).status_code == 404


def test_a_midi_piece_offers_its_text_not_abc_in_the_api(client):
    midi = make_midi_world()
    job = GenerationJob.objects.create(checkpoint=midi.checkpoint, seed=1, max_length=64)
    piece = Piece.objects.create(
        job=job, checkpoint=midi.checkpoint, run=midi.run, way="midi", seed=1, text=ASCENT
    )
    downloads = APIClient().get(f"/api/v1/pieces/{piece.pk}/").json()["downloads"]
    assert list(downloads) == ["text", "midi", "musicxml", "audio"]
    text = client.get(downloads["text"].removeprefix(BASE))
    assert text.status_code == 200 and text.content.decode() == ASCENT


def test_a_recording_tune_shows_no_score_notes_or_text_and_offers_only_its_sound(client):
    corpus = corpus_get_or_create(name="One recording", way="audio")
    wav = wav_bytes(melody([60, 62, 64, 65], sr=SAMPLE_RATE))
    assert corpus_import(corpus=corpus, upload=("scale.wav", wav)).status == JobStatus.SUCCEEDED
    tune = corpus.tunes.get()
    html = client.get(tune.get_absolute_url()).content.decode()
    assert "human recording" in html and "<audio" in html
    for absent in ("Engraved score", "<dt>Notes</dt>", "<dt>Unit note</dt>", "as text</summary>"):
        assert absent not in html, absent
    downloads = APIClient().get(f"/api/v1/tunes/{tune.pk}/").json()["downloads"]
    assert downloads == {"audio": f"{BASE}/tunes/{tune.pk}/download/audio/"}
    flac = client.get(downloads["audio"].removeprefix(BASE))
    assert flac.status_code == 200 and b"".join(flac)[:4] == b"fLaC"
    page = client.get(corpus.get_absolute_url()).content.decode()
    assert "How its tunes borrow" not in page and "<dt>Key</dt>" not in page


def form(checkpoint, **fields) -> dict:
    return {
        "checkpoint": checkpoint.pk,
        "temperature": "1.0",
        "top_k": "0",
        "count": "1",
        "max_length": "800",
        "primer_bars": "4",
        "grammar": "on",
        **fields,
    }


def test_without_script_a_filled_in_field_the_model_does_not_use_is_refused(client, world, audio):
    _, checkpoint, _ = audio
    response = client.post(reverse("generate"), form(checkpoint, meter="6/8", key="D"))
    errors = response.context["form"].errors
    assert errors["meter"] == [
        f"A meter is for ABC runs; run {checkpoint.run_id} is Audio frames: it starts from a "
        "recording."
    ]
    assert "A key is for ABC runs" in errors["key"][0]
    response = client.post(reverse("generate"), form(world.checkpoint, seconds="3"))
    assert "A length in seconds is for audio runs" in response.context["form"].errors["seconds"][0]
    assert GenerationJob.objects.filter(requester_ip__isnull=False).count() == 0


def test_without_script_a_default_the_model_does_not_use_is_ignored(client, audio):
    _, checkpoint, _ = audio
    response = client.post(reverse("generate"), form(checkpoint, seconds="3"))
    assert response.status_code == 302
    job = GenerationJob.objects.latest("pk")
    assert job.grammar is False and job.max_length == get_way("audio").capabilities.tokens_for(3)


def test_an_audio_model_with_seconds_left_blank_writes_pieces_of_the_length_the_page_promises(
    client, audio
):
    """The page hides the length in symbols for audio models; blank seconds once reached the
    service as no length at all (a server error)."""
    _, checkpoint, _ = audio
    response = client.post(reverse("generate"), form(checkpoint, max_length="", seconds=""))
    assert response.status_code == 302
    job = GenerationJob.objects.latest("pk")
    assert job.max_length == DEFAULT_LENGTH
    page = client.get(reverse("generate")).content.decode()
    rate = get_way("audio").capabilities.tokens_per_second
    assert f"blank: about {DEFAULT_LENGTH / rate:.0f} s" in page


def test_the_generate_page_shows_only_the_fields_of_the_chosen_models_way(client, world, audio):
    """Each model carries the fields it uses; the fields only some ways use are marked, and
    without the page's script each says which runs use it."""
    _, checkpoint, _ = audio
    midi = make_midi_world()
    html = client.get(reverse("generate")).content.decode()

    def fields_of(ckpt) -> list[str]:
        start = html.index(f'<option value="{ckpt.pk}"')
        option = html[start : html.index(">", start)]
        return option.split('data-fields="')[1].split('"')[0].split()

    assert "meter" in fields_of(world.checkpoint) and "seconds" not in fields_of(world.checkpoint)
    assert "primer_tune" in fields_of(midi.checkpoint) and "meter" not in fields_of(midi.checkpoint)
    assert fields_of(checkpoint)[-2:] == ["seconds", "prime_audio"]
    assert "max_length" not in fields_of(checkpoint) and "grammar" not in fields_of(checkpoint)
    for name in ("meter", "key", "opening", "primer_tune", "seconds", "prime_audio", "grammar"):
        assert f'data-field="{name}"' in html, name
    assert '<span class="field-ways">ABC runs: </span>Blank lets the model choose.' in html
    assert '<span class="field-ways">Audio runs: </span>A WAV, FLAC or OGG file' in html
    assert '<span class="field-ways">ABC and MIDI runs: </span>At most' in html
    assert 'src="/static/js/generate.js"' in html


def test_the_api_refuses_a_field_the_runs_way_does_not_take_and_says_who_takes_it(audio):
    run, _, _ = audio
    midi = make_midi_world()
    api, jobs = APIClient(), GenerationJob.objects.count()
    body = {"run": run.pk, "primer_tune": midi.tunes[0].pk}
    error = api.post("/api/v1/generate/", body, format="json").json()["error"]
    assert error["fields"] == {
        "primer_tune": [
            f"A primer from a corpus piece is for MIDI runs; run {run.pk} is Audio frames: it "
            "starts from a recording."
        ]
    }
    body = {"run": midi.run.pk, "meter": "6/8", "key": "D"}
    error = api.post("/api/v1/generate/", body, format="json").json()["error"]
    starts = "it starts from its own text or a corpus piece or a MIDI file."
    assert error["fields"] == {
        "meter": [f"A meter is for ABC runs; run {midi.run.pk} is MIDI notes: {starts}"],
        "key": [f"A key is for ABC runs; run {midi.run.pk} is MIDI notes: {starts}"],
    }
    assert GenerationJob.objects.count() == jobs
