"""MIDI-way primers: the opening bars of a corpus tune or of an uploaded MIDI file, as the
model's own tokens, and pieces that start with them."""

from __future__ import annotations

import pytest

from generator.models import GenerationJob, JobStatus, Piece
from generator.services import (
    PrimerError,
    generation_job_create,
    generation_job_execute,
    prime_split,
    primer_build,
)
from musiclib.ways.midi_notes import WAY, first_bars
from tests.ways_midi.builders import (
    ASCENT,
    WALTZ,
    make_midi_world,
    make_trained_midi_run,
    midi_file_of,
)

# --- the service, against a hand-made run (no sampling) --------------------------------------


@pytest.mark.django_db
def test_a_primer_from_a_corpus_tune_records_its_source_on_the_job():
    world = make_midi_world()
    job = generation_job_create(
        checkpoint=world.checkpoint, primer_tune=world.tunes[1].pk, primer_bars=2, enqueue=False
    )
    source, text = prime_split(job.prime)
    assert text == first_bars(WALTZ, bars=2)
    assert source == {
        "kind": "tune",
        "tune": world.tunes[1].pk,
        "title": "melody 2",
        "bars": 2,
        "tokens": len(WAY.tokenize(text)),
    }


@pytest.mark.django_db
def test_a_primer_from_an_uploaded_midi_file_records_the_file_name():
    world = make_midi_world()
    job = generation_job_create(
        checkpoint=world.checkpoint,
        primer_midi=("../../etc/ascent.mid", midi_file_of(ASCENT)),
        primer_bars=3,
        enqueue=False,
    )
    source, text = prime_split(job.prime)
    assert text == first_bars(ASCENT, bars=3)
    assert source["kind"] == "midi" and source["file"] == "ascent.mid"
    assert source["parts"] == "melody" and source["bars"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            ("notes.txt", b"just some text\n"),
            "the file notes.txt cannot be a primer: not a MIDI file",
        ),
        (("empty.mid", b""), "the file empty.mid cannot be a primer: the file is empty"),
    ],
)
def test_a_bad_upload_is_refused_and_nothing_is_written(upload, message):
    world = make_midi_world()
    with pytest.raises(PrimerError, match=message) as info:
        generation_job_create(checkpoint=world.checkpoint, primer_midi=upload, enqueue=False)
    assert info.value.field == "primer_midi"
    assert not GenerationJob.objects.exists()


@pytest.mark.django_db
def test_an_upload_over_the_size_limit_is_refused(settings):
    settings.MAX_UPLOAD_BYTES = 100
    world = make_midi_world()
    with pytest.raises(PrimerError, match="larger than 100 bytes"):
        primer_build(run=world.run, upload=("big.mid", midi_file_of(ASCENT)), bars=2)


@pytest.mark.django_db
def test_a_tune_of_another_corpus_or_no_tune_is_refused():
    world, other = make_midi_world(), make_midi_world()
    for tune_id in (other.tunes[0].pk, 10**9):
        with pytest.raises(PrimerError, match=f"no tune {tune_id} in") as info:
            primer_build(run=world.run, tune_id=tune_id, bars=2)
        assert info.value.field == "primer_tune"


@pytest.mark.django_db
def test_an_upload_with_notes_the_model_never_saw_is_refused_naming_them():
    world = make_midi_world(texts=(ASCENT,))
    with pytest.raises(
        PrimerError, match=r"the file waltz.mid cannot open this model's pieces: .*n74_1"
    ):
        primer_build(run=world.run, upload=("waltz.mid", midi_file_of(WALTZ)), bars=2)


@pytest.mark.django_db
def test_primer_bars_alone_or_a_prime_and_a_primer_together_are_refused():
    world = make_midi_world()
    with pytest.raises(PrimerError, match="goes with a primer") as info:
        generation_job_create(checkpoint=world.checkpoint, primer_bars=2, enqueue=False)
    assert info.value.field == "primer_bars"
    with pytest.raises(PrimerError, match="not both"):
        generation_job_create(
            checkpoint=world.checkpoint,
            prime="M:4/4 K:0 n60_1",
            primer_tune=world.tunes[0].pk,
            enqueue=False,
        )


@pytest.mark.django_db
def test_an_abc_run_refuses_a_midi_primer():
    from tests.api.builders import make_world

    world = make_world()
    with pytest.raises(PrimerError, match="for MIDI-way runs"):
        primer_build(run=world.run, upload=("a.mid", midi_file_of(ASCENT)), bars=2)


# --- real pieces from a tiny trained model ---------------------------------------------------


def _first_tokens(text: str, n: int) -> list[str]:
    return WAY.tokenize(text)[:n]


@pytest.mark.slow
@pytest.mark.django_db
def test_pieces_start_with_the_primer_and_the_same_seed_and_primer_give_the_same_piece():
    run = make_trained_midi_run()
    checkpoint = run.checkpoints.order_by("-epoch").first()
    tune = run.corpus.tunes.order_by("number").first()
    primer = WAY.tokenize(first_bars(tune.text, bars=3))

    def generate(**primer_fields):
        job = generation_job_create(
            checkpoint=checkpoint, count=2, seed=7, max_length=120, enqueue=False, **primer_fields
        )
        job = generation_job_execute(job_id=job.pk)
        assert job.status == JobStatus.SUCCEEDED, job.error
        return list(Piece.objects.filter(job=job).order_by("index"))

    from_tune = generate(primer_tune=tune.pk, primer_bars=3)
    for piece in from_tune:
        assert _first_tokens(piece.text, len(primer)) == primer
        assert len(WAY.tokenize(piece.text)) > len(primer)  # the model went on
        assert piece.midi  # the primer is in the audible file too
    again = generate(primer_tune=tune.pk, primer_bars=3)
    assert [p.text for p in again] == [p.text for p in from_tune]

    # The same bars as a real MIDI file written by music21: the same primer, the same pieces.
    upload = generate(primer_midi=("chorale.mid", midi_file_of(tune.text)), primer_bars=3)
    for piece in upload:
        assert _first_tokens(piece.text, len(primer)) == primer
    assert [p.text for p in upload] == [p.text for p in from_tune]
