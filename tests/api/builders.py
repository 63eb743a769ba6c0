"""Builders of API test data: hand-made corpora, tunes, runs, checkpoints, jobs and pieces
(no training, no music21 parsing: every test that does not train stays fast)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone

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

REEL = """X:1
T:The Test Reel
M:4/4
L:1/8
K:D
|:DFAF dFAF|GBdB AFEF|DFAF dFAF|GBAG FDD2:|
"""

JIG = """X:2
T:The Little Test Jig
M:6/8
L:1/8
K:G
|:GAG GBd|ede dBG|GAG GBd|cBA BGG:|
"""

VOCAB = ["<pad>", "<s>", "</s>", *sorted(set(REEL + JIG))]
FAKE_MIDI = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"
_seq = itertools.count(1)


@dataclass
class World:
    corpus: Corpus
    run: TrainingRun
    checkpoint: Checkpoint
    job: GenerationJob
    tunes: list[Tune] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)


def make_tune(corpus: Corpus, *, text: str = REEL, number: int = 1, title: str = "") -> Tune:
    from musiclib.ways.abc_text import parse_header
    from musiclib.ways.base import content_hash

    header = parse_header(text)
    return Tune.objects.create(
        corpus=corpus,
        number=number,
        title=title or header.get("T", ""),
        meter=header.get("M", ""),
        key=header.get("K", ""),
        unit_length=header.get("L", ""),
        text=text,
        source_file="tests.abc",
        content_hash=content_hash(f"{text}{number}{title}"),
        n_notes=32,
    )


def make_run(corpus: Corpus, *, epochs: int = 2, status: str = JobStatus.SUCCEEDED, **extra):
    run = TrainingRun.objects.create(
        corpus=corpus,
        name=extra.pop("name", f"API run {next(_seq)}"),
        preset="tiny",
        config={"units": [16], "embedding_dim": 8},
        epochs=epochs,
        status=status,
        epochs_done=epochs if status == JobStatus.SUCCEEDED else 0,
        progress=1.0 if status == JobStatus.SUCCEEDED else 0.0,
        vocab=VOCAB,
        history=[
            {"epoch": e, "loss": 3.0 / e, "val_loss": 3.3 / e, "seconds": 1.25}
            for e in range(1, (epochs if status == JobStatus.SUCCEEDED else 0) + 1)
        ],
        code_version="test",
        **extra,
    )
    return run


def make_checkpoint(run: TrainingRun, epoch: int) -> Checkpoint:
    return Checkpoint.objects.create(
        run=run,
        epoch=epoch,
        file=f"checkpoints/run_{run.pk}/epoch_{epoch:04d}.keras",
        size_bytes=1000 + epoch,
        loss=3.0 / epoch,
        val_loss=3.3 / epoch,
    )


def make_job(checkpoint: Checkpoint, **extra) -> GenerationJob:
    values = {
        "count": 1,
        "temperature": 0.9,
        "top_k": 0,
        "seed": 42,
        "max_length": 400,
        "prime": "",
        "status": JobStatus.SUCCEEDED,
        "code_version": "test",
    }
    values.update(extra)
    return GenerationJob.objects.create(checkpoint=checkpoint, **values)


def make_piece(
    job: GenerationJob,
    *,
    title: str | None = None,
    key: str = "D",
    meter: str = "4/4",
    valid: bool | None = True,
    midi: bool = False,
    index: int = 0,
    way: str = "abc",
    created_at=None,
) -> Piece:
    n = next(_seq)
    piece = Piece(
        job=job,
        checkpoint=job.checkpoint,
        run=job.checkpoint.run,
        way=way,
        index=index,
        seed=job.seed + index,
        title=title if title is not None else f"The API Reel {n}",
        meter=meter,
        key=key,
        text=REEL,
        n_notes=32,
        parses=None if valid is None else bool(valid),
        plays=None if valid is None else bool(valid),
        bar_accuracy=None if valid is None else (1.0 if valid else 0.2),
        validity_detail={"parses": bool(valid)},
    )
    if midi:
        piece.midi.save(f"api_test_{n}.mid", ContentFile(FAKE_MIDI), save=False)
    piece.save()
    if created_at is not None:
        Piece.objects.filter(pk=piece.pk).update(created_at=created_at)
        piece.refresh_from_db()
    return piece


def make_world(*, name: str = "API corpus", epochs: int = 2) -> World:
    corpus = Corpus.objects.create(name=f"{name} {next(_seq)}", source="tests")
    tunes = [
        make_tune(corpus, text=REEL, number=1),
        make_tune(corpus, text=JIG, number=2),
        make_tune(corpus, text=REEL, number=3, title="The Heron's Reel"),
    ]
    run = make_run(corpus, epochs=epochs)
    checkpoint = None
    for epoch in range(1, epochs + 1):
        checkpoint = make_checkpoint(run, epoch)
    job = make_job(checkpoint)
    return World(corpus, run, checkpoint, job, tunes)


def make_gallery(world: World) -> list[Piece]:
    """Pieces that differ in every way the gallery filters by, created a minute apart."""
    start = timezone.now() - timedelta(hours=2)
    other_corpus = Corpus.objects.create(name=f"Other corpus {next(_seq)}", source="tests")
    make_tune(other_corpus)
    other_run = make_run(other_corpus, epochs=1, name="Other run")
    other_ckpt = make_checkpoint(other_run, 1)
    other_job = make_job(other_ckpt)
    epoch_job = make_job(world.checkpoint, is_epoch_sample=True)
    specs = [
        (world.job, {"title": "The Foggy Heron (Reel)", "key": "D", "meter": "4/4"}),
        (world.job, {"title": "The Merry Kettle (Jig)", "key": "G", "meter": "6/8"}),
        (
            world.job,
            {"title": "The Stolen Heron (Jig)", "key": "G", "meter": "6/8", "valid": False},
        ),
        (
            world.job,
            {"title": "The Rusty Mill (Reel)", "key": "Ador", "meter": "4/4", "valid": None},
        ),
        (world.job, {"title": "The Green Loom (Waltz)", "key": "D", "meter": "3/4", "midi": True}),
        (other_job, {"title": "The Windy Shore (Reel)", "key": "D", "meter": "4/4"}),
        (other_job, {"title": "The Early Heron (Polka)", "key": "A", "meter": "2/4"}),
        (epoch_job, {"title": "The Lark's Bog (Jig)", "key": "G", "meter": "6/8"}),
        (world.job, {"title": "A midi piece", "key": "C", "meter": "4/4", "way": "midi"}),
    ]
    pieces = []
    for i, (job, spec) in enumerate(specs):
        pieces.append(make_piece(job, index=i, created_at=start + timedelta(minutes=i), **spec))
    world.pieces = pieces
    return pieces


def make_import(corpus: Corpus, **extra) -> ImportJob:
    values = {
        "source": "tests.abc",
        "status": JobStatus.SUCCEEDED,
        "imported": 3,
        "duplicates": 1,
        "failures": [{"file": "tests.abc", "tune": 9, "reason": "no K: (key) field"}],
    }
    values.update(extra)
    return ImportJob.objects.create(corpus=corpus, **values)
