"""The MIDI way through the same spine as the ABC way: import, run on the worker, pieces."""

import pytest

from generator.models import Corpus, JobStatus, Piece, TrainingRun, Way
from generator.services import (
    corpus_get_or_create,
    corpus_import,
    generation_job_create,
    training_run_create,
    training_run_start,
)
from musiclib.ways import get_way
from tests.factories import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_midi_run_trains_on_the_worker_and_its_pieces_keep_rhythm(celery_worker):
    corpus = corpus_get_or_create(name="chorales", way=Way.MIDI)
    job = corpus_import(corpus=corpus, source="music21:bach#limit=24")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert corpus.tunes.count() >= 20
    run = training_run_create(
        corpus=Corpus.objects.get(pk=corpus.pk),
        preset="tiny",
        epochs=4,
        seed=5,
        config={"samples_per_epoch": 1, "critic_pieces": 16},
    )
    training_run_start(run=run)
    run = wait_for(
        lambda: TrainingRun.objects.filter(
            pk=run.pk, status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]
        ).first(),
        timeout=300,
        what="the MIDI run",
        worker=celery_worker,
    )
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert [h["epoch"] for h in run.history] == [1, 2, 3, 4]
    assert Piece.objects.filter(run=run, job__is_epoch_sample=True).count() == 4
    # the training worker fits the chosen checkpoint's critic once the run is done (its
    # melodies against the chorales), and the sampling worker reads it from the storage
    critic = wait_for(lambda: _critic_of(run), timeout=120, what="the critic",
                      worker=celery_worker)  # fmt: skip
    assert critic.n_machine == 16
    gen = generation_job_create(
        checkpoint=run.chosen_checkpoint,
        count=4,
        seed=11,
        temperature=1.0,
        top_k=0,
        max_length=200,
        takes=2,
        takes_by="corpus",
    )
    wait_for(
        lambda: gen.__class__.objects.filter(pk=gen.pk, status=JobStatus.SUCCEEDED).exists(),
        timeout=120,
        what="the MIDI generation",
        worker=celery_worker,
    )
    pieces = list(Piece.objects.filter(job=gen))
    assert len(pieces) == 4 and all(p.way == Way.MIDI for p in pieces)
    assert pieces[0].job.takes_by == "corpus"  # the critic kept each piece's take
    assert all(p.title.startswith("Melody no. ") for p in pieces)  # a chorale tune is no reel
    tokens = [t for p in pieces for t in get_way("midi").tokenize(p.text)]
    pitches = {t.split("_")[0] for t in tokens if t.startswith(("n", "c"))}
    durations = {t.rsplit("_", 1)[1] for t in tokens if "_" in t}
    assert len(pitches) >= 4 and len(durations) >= 2  # no collapse to one repeated note
    assert any(p.midi for p in pieces)


def _critic_of(run):
    from generator.services.critics import checkpoint_critic

    return checkpoint_critic(TrainingRun.objects.get(pk=run.pk).chosen_checkpoint)
