"""Builders of test data for the site's pages: hand-made corpora, runs, checkpoints, jobs and
pieces with real MIDI and audio (rendered once per session)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

from django.core.files.base import ContentFile

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
from generator.services.pieces import piece_title
from musiclib.audio.dsp import SAMPLE_RATE, wav_bytes
from musiclib.ways import get_way
from musiclib.ways.base import SPECIALS

REEL = """X:1
T:The Test Reel
M:4/4
L:1/8
K:D
|:DFAF dFAF|GBdB AFEF|DFAF dFAF|GBAG FDD2:|
|:fdfa fdfa|gbag fdec|dfaf gbag|fdec d2d2:|
"""

JIG = """X:2
T:The Little Test Jig
M:6/8
L:1/8
K:G
|:GAG GBd|ede dBG|GAG GBd|cBA BGG:|
"""

VOCAB = ["<pad>", "<s>", "</s>", *sorted(set(REEL + JIG))]
_seq = itertools.count(1)


@cache
def midi_bytes(text: str = REEL) -> bytes:
    from musiclib.render import abc_to_midi

    return abc_to_midi(abc=text)


@cache
def ogg_bytes(text: str = REEL) -> bytes:
    from musiclib.render import midi_to_audio

    return midi_to_audio(midi=midi_bytes(text), fmt="ogg")


@dataclass
class World:
    corpus: Corpus
    run: TrainingRun
    checkpoint: Checkpoint
    job: GenerationJob


def make_world(*, name: str = "Test corpus", run_name: str = "Test run", epochs: int = 3) -> World:
    corpus = Corpus.objects.create(name=f"{name} {next(_seq)}", source="tests")
    run = TrainingRun.objects.create(
        corpus=corpus,
        name=run_name,
        preset="tiny",
        config={"units": [16], "embedding_dim": 8, "samples_per_epoch": 1},
        epochs=epochs,
        status=JobStatus.SUCCEEDED,
        epochs_done=epochs,
        progress=1.0,
        vocab=VOCAB,
        history=[
            {"epoch": e, "loss": 3.0 / e, "val_loss": 3.2 / e, "seconds": 1.5}
            for e in range(1, epochs + 1)
        ],
        device="CPU",
        worker="test@host",
        attempts=1,
        code_version="abc1234",
    )
    checkpoint = None
    for epoch in range(1, epochs + 1):
        checkpoint = Checkpoint.objects.create(
            run=run,
            epoch=epoch,
            file=f"checkpoints/run_{run.pk}/epoch_{epoch:04d}.keras",
            size_bytes=123_456,
            loss=3.0 / epoch,
            val_loss=3.2 / epoch,
        )
    job = GenerationJob.objects.create(
        checkpoint=checkpoint,
        count=1,
        temperature=0.8,
        top_k=5,
        seed=1234,
        max_length=600,
        prime="M:4/4\nL:1/8\nK:D\n",
        status=JobStatus.SUCCEEDED,
        code_version="abc1234",
    )
    return World(corpus, run, checkpoint, job)


def make_piece(
    world: World,
    *,
    title: str | None = None,
    text: str = REEL,
    key: str = "D",
    meter: str = "4/4",
    valid: bool | None = True,
    audio: bool = True,
    midi: bool = True,
    job: GenerationJob | None = None,
    index: int = 0,
    seed: int | None = None,
    way: str = "abc",
) -> Piece:
    job = job or world.job
    n = next(_seq)
    piece = Piece(
        job=job,
        checkpoint=job.checkpoint,
        run=job.checkpoint.run,
        way=way,
        index=index,
        seed=seed if seed is not None else job.seed + index,
        title=title if title is not None else f"The Test Reel {n}",
        meter=meter,
        key=key,
        text=text,
        n_notes=64,
        parses=None if valid is None else (True if valid else False),
        plays=None if valid is None else bool(valid),
        bar_accuracy=None if valid is None else (1.0 if valid else 0.2),
        validity_detail={"parses": bool(valid), "messages": ["a test message"]},
    )
    if midi:
        piece.midi.save(f"test_{n}.mid", ContentFile(midi_bytes(text)), save=False)
    if audio:
        piece.audio.save(f"test_{n}.ogg", ContentFile(ogg_bytes(text)), save=False)
    piece.save()
    return piece


def bulk_pieces(world: World, n: int, **fields) -> list[Piece]:
    """Many pieces quickly, without files (their cards say "rendering…")."""
    return Piece.objects.bulk_create(
        [
            Piece(
                job=world.job,
                checkpoint=world.checkpoint,
                run=world.run,
                way="abc",
                index=i,
                seed=i,
                title=f"Bulk piece {i}",
                meter="6/8",
                key="G",
                text=JIG,
                parses=True,
                plays=True,
                bar_accuracy=1.0,
                **fields,
            )
            for i in range(n)
        ]
    )


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
        content_hash=content_hash(text + str(number)),
        n_notes=64,
    )


def make_import(corpus: Corpus) -> ImportJob:
    return ImportJob.objects.create(
        corpus=corpus,
        source="tests.abc",
        status=JobStatus.SUCCEEDED,
        imported=2,
        duplicates=1,
        failures=[{"file": "broken.abc", "tune": 7, "reason": "no K: (key) field"}],
    )


def make_audio_world() -> tuple[TrainingRun, Checkpoint, Piece]:
    """An audio run (no weights) and one of its pieces with a real WAV recording."""
    n = next(_seq)
    corpus = Corpus.objects.create(name=f"Recordings {n}", way="audio", source="tests")
    run = TrainingRun.objects.create(
        corpus=corpus,
        name=f"Audio run {n}",
        way="audio",
        preset="tiny",
        status=JobStatus.SUCCEEDED,
        vocab=[*SPECIALS, *(f"a{i}" for i in range(32))],
        epochs=1,
        epochs_done=1,
    )
    checkpoint = Checkpoint.objects.create(run=run, epoch=1, file=f"checkpoints/audio{n}.keras")
    job = GenerationJob.objects.create(
        checkpoint=checkpoint, seed=7, max_length=86, status=JobStatus.SUCCEEDED
    )
    text = "a1 a2 a3 a3 a5"
    piece = Piece(
        job=job,
        checkpoint=checkpoint,
        run=run,
        way="audio",
        seed=7,
        title=piece_title(seed=7, meter="", style=get_way("audio").capabilities.title_style),
        text=text,
        parses=True,
        plays=True,
        validity_detail={
            **get_way("audio").validate(text),
            "plays": True,
            "seconds": 1.2,
            "rms": 0.1,
        },
    )
    from tests.ways_audio.conftest import melody

    wav = wav_bytes(melody([60, 64, 67], sr=SAMPLE_RATE))
    piece.audio.save(f"audio_{n}.wav", ContentFile(wav))
    return run, checkpoint, piece


def make_toy_world() -> tuple[TrainingRun, Checkpoint, Piece]:
    """A corpus of the toy way (tests/generator/toy_way.py, registered by the caller) with a
    finished run, a checkpoint and a piece, made by hand."""
    from tests.generator.toy_way import WORDS

    corpus = Corpus.objects.create(name="Toy corpus", way="toy")
    run = TrainingRun.objects.create(
        corpus=corpus,
        way="toy",
        preset="tiny",
        status=JobStatus.SUCCEEDED,
        vocab=[*SPECIALS, *WORDS],
        epochs=1,
        epochs_done=1,
    )
    checkpoint = Checkpoint.objects.create(run=run, epoch=1, file="checkpoints/toy.keras")
    job = GenerationJob.objects.create(
        checkpoint=checkpoint, seed=1, max_length=24, status=JobStatus.SUCCEEDED
    )
    piece = Piece.objects.create(
        job=job,
        checkpoint=checkpoint,
        run=run,
        way="toy",
        seed=1,
        title="The Foggy Heron",
        text="do re mi",
        parses=True,
    )
    return run, checkpoint, piece
