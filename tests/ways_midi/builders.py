"""MIDI-way test data for primers: a hand-made MIDI corpus and run (no training, for the
form and API checks that stop before sampling), a real tiny trained one (for pieces), and
real MIDI files written by music21 from piece text."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from generator.models import Checkpoint, Corpus, JobStatus, TrainingRun, Tune, Way
from musiclib.ways.base import SPECIALS, content_hash
from musiclib.ways.midi_notes import WAY
from tests.library.ways_midi.midi_texts import ASCENT, WALTZ, midi_file_of

__all__ = ["ASCENT", "WALTZ", "midi_file_of"]  # re-exported for the site's tests

_seq = itertools.count(1)


@dataclass
class MidiWorld:
    corpus: Corpus
    tunes: list[Tune]
    run: TrainingRun
    checkpoint: Checkpoint


def make_midi_tune(corpus: Corpus, *, text: str, number: int, title: str) -> Tune:
    meta = WAY.describe(text)
    return Tune.objects.create(
        corpus=corpus,
        number=number,
        title=title,
        meter=meta["meter"],
        key=meta["key"],
        text=text,
        source_file=f"{title}.mid",
        content_hash=content_hash(text),
        n_notes=12,
    )


def make_midi_world(*, texts: tuple[str, ...] = (ASCENT, WALTZ)) -> MidiWorld:
    """A MIDI corpus of `texts`, a finished run whose vocabulary is their tokens, and one
    checkpoint row (no weights: generation can be queued, not run)."""
    n = next(_seq)
    corpus = Corpus.objects.create(name=f"MIDI primers {n}", way=Way.MIDI, source="tests")
    tunes = [
        make_midi_tune(corpus, text=t, number=i + 1, title=f"melody {i + 1}")
        for i, t in enumerate(texts)
    ]
    vocab = [*SPECIALS, *sorted({tok for t in texts for tok in WAY.tokenize(t)})]
    run = TrainingRun.objects.create(
        corpus=corpus,
        name=f"MIDI primer run {n}",
        way=Way.MIDI,
        preset="tiny",
        config={"tokenization": "rhythm"},
        epochs=1,
        epochs_done=1,
        progress=1.0,
        status=JobStatus.SUCCEEDED,
        vocab=vocab,
        code_version="test",
    )
    checkpoint = Checkpoint.objects.create(
        run=run, epoch=1, file=f"checkpoints/run_{run.pk}/epoch_0001.keras", size_bytes=1
    )
    return MidiWorld(corpus, tunes, run, checkpoint)


def make_trained_midi_run(*, chorales: int = 10, **config) -> TrainingRun:
    """A real MIDI corpus (the first bundled Bach chorales, melodies) and a tiny run trained
    for one epoch in this process: a checkpoint with a sampler file."""
    from generator.services import corpus_get_or_create, corpus_import
    from tests.factories import make_trained_run

    corpus = corpus_get_or_create(name=f"chorale primers {next(_seq)}", way=Way.MIDI)
    job = corpus_import(corpus=corpus, source=f"music21:bach#limit={chorales}")
    assert job.status == JobStatus.SUCCEEDED, job.error
    return make_trained_run(Corpus.objects.get(pk=corpus.pk), epochs=1, **config)
