"""Generation jobs and pieces: sample from a checkpoint, store, validate, render audio."""

from __future__ import annotations

import logging
import random
import time
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from ..ml import sampler
from ..models import Checkpoint, GenerationJob, JobStatus, Piece
from ..ways import get_way

log = logging.getLogger(__name__)

MAX_PIECES_PER_JOB = 64
MAX_TOKENS_LIMIT = 5000
TUNE_TYPES = {
    "6/8": "Jig",
    "9/8": "Slip Jig",
    "12/8": "Slide",
    "2/4": "Polka",
    "3/4": "Waltz",
    "4/4": "Reel",
    "C": "Reel",
    "C|": "Reel",
    "3/2": "Hornpipe",
}
ADJECTIVES = [
    "Foggy",
    "Silver",
    "Crooked",
    "Merry",
    "Lonesome",
    "Wandering",
    "Copper",
    "Windy",
    "Hidden",
    "Humours of the",
    "Green",
    "Drunken",
    "Brambly",
    "Moonlit",
    "Salted",
    "Early",
    "Tangled",
    "Stolen",
    "Restless",
    "Golden",
    "Lark's",
    "Rusty",
    "Rainy",
]
NOUNS = [
    "Fiddler",
    "Harbour",
    "Kettle",
    "Meadow",
    "Ferryman",
    "Lantern",
    "Hillside",
    "Weaver",
    "Mill",
    "Ploughboy",
    "Orchard",
    "Bridge",
    "Causeway",
    "Tinker",
    "Heron",
    "Bog",
    "Piper",
    "Cobbler",
    "Shore",
    "Hedgerow",
    "Crossroads",
    "Loom",
]


def piece_title(*, seed: int, meter: str) -> str:
    """A tune-like name, fixed by the seed, so a reproduced piece keeps its name."""
    rng = random.Random(seed)
    kind = TUNE_TYPES.get(meter.strip(), "Air")
    return f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} ({kind})"


def checkpoint_sampler_path(checkpoint: Checkpoint) -> Path:
    return (Path(settings.MEDIA_ROOT) / checkpoint.file.name).with_suffix(".npz")


@lru_cache(maxsize=8)
def _cached_net(path: str, mtime: float) -> sampler.Net:
    return sampler.load_net(path)


def load_checkpoint_net(checkpoint: Checkpoint) -> sampler.Net:
    path = checkpoint_sampler_path(checkpoint)
    if not path.exists():
        raise ValueError(f"checkpoint {checkpoint.pk} has no sampler file at {path.name}")
    return _cached_net(str(path), path.stat().st_mtime)


def load_checkpoint_state(checkpoint: Checkpoint) -> dict:
    """The way's arrays saved with the checkpoint (the audio way's codebook)."""
    path = checkpoint_sampler_path(checkpoint)
    return _cached_state(str(path), path.stat().st_mtime if path.exists() else 0.0)


@lru_cache(maxsize=8)
def _cached_state(path: str, mtime: float) -> dict:
    return sampler.load_extra(path)


def audio_prime_encode(*, checkpoint: Checkpoint, name: str, data: bytes) -> str:
    """An uploaded recording → the token text an audio model continues (its prime)."""
    way = get_way(checkpoint.run.way)
    if not hasattr(way, "encode_audio_prime"):
        raise ValueError("only an audio model continues a recording")
    return way.encode_audio_prime(state=load_checkpoint_state(checkpoint), data=data, name=name)


def generation_job_create(
    *,
    checkpoint: Checkpoint,
    count: int = 1,
    temperature: float = 1.0,
    seed: int | None = None,
    top_k: int = 0,
    max_length: int = 1000,
    prime: str = "",
    grammar: bool = False,
    is_epoch_sample: bool = False,
    user=None,
    ip: str | None = None,
    enqueue: bool = True,
) -> GenerationJob:
    """Validate a generation request, store it as a job and queue it after commit."""
    if not (temperature > 0):
        raise ValueError("temperature must be a positive number")
    if not (1 <= int(count) <= MAX_PIECES_PER_JOB):
        raise ValueError(f"count must be 1..{MAX_PIECES_PER_JOB}")
    if not (16 <= int(max_length) <= MAX_TOKENS_LIMIT):
        raise ValueError(f"max_length must be 16..{MAX_TOKENS_LIMIT}")
    if int(top_k) < 0:
        raise ValueError("top_k must be 0 (off) or positive")
    run = checkpoint.run
    if not run.vocab:
        raise ValueError("the checkpoint's run has no vocabulary")
    get_way(run.way).encode_prime(vocab=run.vocab, prime=prime)  # raises on unknown symbols
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    with transaction.atomic():
        job = GenerationJob.objects.create(
            checkpoint=checkpoint,
            count=int(count),
            temperature=float(temperature),
            top_k=int(top_k),
            seed=int(seed),
            max_length=int(max_length),
            prime=prime,
            grammar=grammar,
            is_epoch_sample=is_epoch_sample,
            code_version=settings.CODE_VERSION,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
            requester_ip=ip,
        )
        if enqueue:
            from ..tasks import generation_job_task

            transaction.on_commit(lambda: generation_job_task.delay(job.pk))
    return job


def _claim(job_id: int) -> GenerationJob | None:
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != JobStatus.QUEUED:
            return None
        job.status, job.started_at = JobStatus.RUNNING, timezone.now()
        job.save(update_fields=["status", "started_at"])
        return job


def generation_job_execute(*, job_id: int) -> GenerationJob | None:
    job = _claim(job_id)
    if job is None:
        return None
    try:
        _generate(job)
    except Exception as exc:
        log.exception("generation job %s failed", job.pk)
        GenerationJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    return job


def _generate(job: GenerationJob) -> None:
    checkpoint = job.checkpoint
    run = checkpoint.run
    way = get_way(run.way)
    net = load_checkpoint_net(checkpoint)
    prime_ids = way.encode_prime(vocab=run.vocab, prime=job.prime)
    seeds = [job.seed + i for i in range(job.count)]
    constraint = None
    if (job.grammar or getattr(way, "always_grammar", False)) and hasattr(way, "grammar"):
        constraint = way.grammar(vocab=run.vocab)
    t0 = time.perf_counter()
    outs = sampler.sample(
        net,
        prime=prime_ids,
        seeds=seeds,
        temperature=job.temperature,
        top_k=job.top_k,
        max_tokens=job.max_length,
        constraint=constraint,
    )
    seconds = time.perf_counter() - t0
    pieces = [
        _make_piece(
            job=job,
            way=way,
            index=i,
            seed=s,
            text=job.prime + way.decode(vocab=run.vocab, ids=ids),
        )
        for i, (s, ids) in enumerate(zip(seeds, outs, strict=True))
    ]
    with transaction.atomic():
        for piece in pieces:
            piece.save()
        job.status, job.finished_at, job.seconds = (
            JobStatus.SUCCEEDED,
            timezone.now(),
            seconds,
        )
        job.save(update_fields=["status", "finished_at", "seconds"])
        from ..tasks import piece_render_task

        for piece in pieces:
            transaction.on_commit(lambda pk=piece.pk: piece_render_task.delay(pk))
        # Novelty, idiom and features against the corpus, on the default queue.
        from evaluation.tasks import job_evaluate_task

        transaction.on_commit(lambda: job_evaluate_task.delay(job.pk))


def _make_piece(*, job: GenerationJob, way, index: int, seed: int, text: str) -> Piece:
    """Build (unsaved) a piece with its validity and MIDI file written to storage."""
    checkpoint = job.checkpoint
    meta = way.describe(text)
    title = piece_title(seed=seed, meter=meta.get("meter", ""))
    full = way.finish(text, title=title)
    piece = Piece(
        job=job,
        checkpoint=checkpoint,
        run=checkpoint.run,
        way=checkpoint.run.way,
        index=index,
        seed=seed,
        title=title,
        meter=(meta.get("meter") or "")[:20],
        key=(meta.get("key") or "")[:40],
        text=full,
    )
    checks = way.validate(full)
    piece.parses, piece.plays = checks.get("parses"), checks.get("plays")
    piece.bar_accuracy, piece.n_notes = (
        checks.get("bar_accuracy"),
        checks.get("n_notes", 0),
    )
    piece.validity_detail = checks
    if getattr(way, "renders_audio", False):
        # The audio way decodes its tokens to audio here (a second or two for 10 s): its
        # pieces have no MIDI, and their audio needs the checkpoint's codebook.
        try:
            wav, audio_checks = way.render(
                text=full, state=load_checkpoint_state(checkpoint), seed=seed
            )
        except ValueError as exc:
            piece.plays = False
            piece.validity_detail["audio_error"] = str(exc)
            return piece
        piece.plays = audio_checks["plays"]
        piece.validity_detail.update(audio_checks)
        piece.audio.save(f"piece_{job.pk}_{index}.wav", ContentFile(wav), save=False)
        return piece
    try:
        midi = way.to_midi(full)
        piece.midi.save(f"piece_{job.pk}_{index}.mid", ContentFile(midi), save=False)
    except ValueError as exc:  # RenderError is a ValueError: the piece stays, without MIDI
        piece.validity_detail["midi_error"] = str(exc)
    return piece


def epoch_sample(*, checkpoint: Checkpoint) -> GenerationJob:
    """The pieces a run makes at the end of an epoch, so you can hear the model learn.

    Runs inside the training worker, synchronously: it takes a fraction of a second."""
    run = checkpoint.run
    count = int(run.config.get("samples_per_epoch") or 1)
    job = generation_job_create(
        checkpoint=checkpoint,
        count=count,
        temperature=float(run.config.get("sample_temperature") or 1.0),
        # Pieces take seeds seed..seed+count-1: epochs step by count so none repeat.
        seed=run.seed * 100_000 + checkpoint.epoch * count,
        max_length=int(run.config.get("sample_max_tokens") or 800),
        is_epoch_sample=True,
        enqueue=False,
    )
    return generation_job_execute(job_id=job.pk)


def piece_render_audio(*, piece: Piece, fmt: str = "ogg") -> Piece:
    """Render the piece's MIDI to audio with FluidSynth and store it as the piece's file."""
    from ..render import midi_to_audio

    if piece.audio or not piece.midi:
        return piece
    with piece.midi.open("rb") as fh:
        midi = fh.read()
    try:
        audio = midi_to_audio(midi=midi, fmt=fmt)
    except ValueError as exc:  # RenderError: an unplayable piece says why, once
        piece.validity_detail = {**piece.validity_detail, "audio_error": str(exc)}
        Piece.objects.filter(pk=piece.pk).update(validity_detail=piece.validity_detail)
        return piece
    piece.audio.save(f"piece_{piece.pk}.{fmt}", ContentFile(audio), save=False)
    Piece.objects.filter(pk=piece.pk).update(audio=piece.audio.name)
    return piece
