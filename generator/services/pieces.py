"""Generation jobs and pieces: sample from a checkpoint, store, validate, render audio."""

from __future__ import annotations

import json
import logging
import random
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from musiclib.ml import sampler
from musiclib.ways import get_way, ways_taking
from musiclib.ways.base import START_ID

from ..models import Checkpoint, GenerationJob, JobStatus, Piece, TrainingRun, Tune

log = logging.getLogger(__name__)

MAX_PIECES_PER_JOB = 64
MAX_TOKENS_LIMIT = 5000
DEFAULT_PRIMER_BARS = 4
# A job's `prime` holds the primer's event text; where it came from rides on a first line
# `%primer {json}` (the model never sees it), so the job row needs no new column and a
# reproduced piece keeps its provenance with its prime.
PRIMER_TAG = "%primer "
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


def piece_title(*, seed: int, meter: str, style: str = "tune") -> str:
    """A name fixed by the seed, so a reproduced piece keeps its name. In the "tune" style
    (ways that write tunes) it ends with the tune type its meter makes it, "(Jig)", or
    "(Air)"; in the "plain" style (a recording has no meter) it does not
    (`Capabilities.title_style`)."""
    rng = random.Random(seed)
    name = f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    if style != "tune":
        return name
    return f"{name} ({TUNE_TYPES.get(meter.strip(), 'Air')})"


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


class PrimerError(ValueError):
    """A primer that cannot open a piece; `field` is the request field it is about."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


def primer_build(
    *,
    run: TrainingRun,
    tune_id: int | None = None,
    upload: tuple[str, bytes] | None = None,
    bars: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """A MIDI-way primer: the first `bars` bars of a tune of the run's corpus, or of an
    uploaded MIDI file, as event text the run's model knows every symbol of.

    Returns (event text, its source for the job). The upload is read in memory and never
    stored. Raises PrimerError naming the field (`primer_tune`, `primer_midi`,
    `primer_bars`); nothing is written either way."""
    from musiclib.ways import midi_notes

    field = "primer_midi" if upload is not None else "primer_tune"
    if (tune_id is None) == (upload is None):
        raise PrimerError("give a corpus piece or a MIDI file as the primer, not both", field=field)
    caps = get_way(run.way).capabilities
    if ("midi_file" if upload is not None else "tune") not in caps.openings:
        takers = " and ".join(w.noun for w in ways_taking(field))
        raise PrimerError(
            f"a primer from a corpus piece or a MIDI file is for {takers}-way runs; {run} is "
            f"{run.get_way_display()}: {caps.starts_from()}",
            field=field,
        )
    bars = DEFAULT_PRIMER_BARS if bars is None else int(bars)
    if not 1 <= bars <= midi_notes.MAX_PRIMER_BARS:
        raise PrimerError(
            f"primer_bars must be 1..{midi_notes.MAX_PRIMER_BARS} (got {bars})", field="primer_bars"
        )
    if tune_id is not None:
        tune = (
            Tune.objects.filter(pk=tune_id, corpus_id=run.corpus_id)
            .only("pk", "title", "number", "text", "corpus_id")
            .first()
        )
        if tune is None:
            raise PrimerError(
                f"there is no tune {tune_id} in {run.corpus}, the corpus run {run.pk} learned",
                field=field,
            )
        what = f"tune {tune.pk} ({tune.title or f'No. {tune.number}'})"
        try:
            text = midi_notes.first_bars(tune.text, bars=bars)
        except midi_notes.MidiError as exc:
            raise PrimerError(f"{what} cannot be a primer: {exc}", field=field) from exc
        source: dict[str, Any] = {"kind": "tune", "tune": tune.pk, "title": tune.title}
    else:
        name, data = upload
        name = Path(name or "upload.mid").name[:200]
        limit = int(settings.MAX_UPLOAD_BYTES)
        if len(data) > limit:
            raise PrimerError(
                f"the file {name} is larger than {limit} bytes (settings.MAX_UPLOAD_BYTES)",
                field=field,
            )
        what = f"the file {name}"
        parts = midi_notes.vocab_parts(run.vocab)
        try:
            text = midi_notes.midi_primer_text(data=data, name=name, bars=bars, parts=parts)
        except midi_notes.MidiError as exc:
            raise PrimerError(f"{what} cannot be a primer: {exc}", field=field) from exc
        source = {"kind": "midi", "file": name, "parts": parts}
    try:
        ids = get_way(run.way).encode_prime(vocab=run.vocab, prime=text)
    except ValueError as exc:
        raise PrimerError(f"{what} cannot open this model's pieces: {exc}", field=field) from exc
    items = midi_notes.parse_text(text).items
    source["bars"] = items.count("|") + (0 if _ends_bar(items) else 1)
    source["tokens"] = len(ids) - 1
    return text, source


def _ends_bar(items: list) -> bool:
    """The primer ends with a bar line followed only by a meter change."""
    rest = [it for it in reversed(items) if not (isinstance(it, str) and it.startswith("M:"))]
    return bool(rest) and rest[0] == "|"


def prime_compose(*, text: str, source: dict[str, Any] | None) -> str:
    """What a job stores: the source line (when there is one) and the primer's text."""
    if not source:
        return text
    return f"{PRIMER_TAG}{json.dumps(source, sort_keys=True, ensure_ascii=False)}\n{text}"


def prime_split(prime: str) -> tuple[dict[str, Any] | None, str]:
    """A stored prime → (its source or None, the text the model is primed with)."""
    if not (prime or "").startswith(PRIMER_TAG):
        return None, prime or ""
    line, _, body = prime.partition("\n")
    try:
        source = json.loads(line[len(PRIMER_TAG) :])
    except ValueError:
        raise ValueError("the prime's %primer line is not valid JSON") from None
    if not isinstance(source, dict):
        raise ValueError("the prime's %primer line is not a JSON object")
    return source, body


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
    if "recording" not in way.capabilities.openings:
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
    primer_tune: int | None = None,
    primer_midi: tuple[str, bytes] | None = None,
    primer_bars: int | None = None,
    grammar: bool = False,
    is_epoch_sample: bool = False,
    user=None,
    ip: str | None = None,
    enqueue: bool = True,
) -> GenerationJob:
    """Validate a generation request, store it as a job and queue it after commit.

    The opening is `prime` (the way's text, e.g. ABC header fields and notes), or for a
    MIDI-way run a primer: `primer_tune` (a tune id of the run's corpus) or `primer_midi`
    (file name, bytes), cut to `primer_bars` bars (see `primer_build`)."""
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
    if primer_tune is not None or primer_midi is not None:
        if prime:
            field = "primer_tune" if primer_tune is not None else "primer_midi"
            raise PrimerError("give a prime or a primer, not both", field=field)
        text, source = primer_build(
            run=run, tune_id=primer_tune, upload=primer_midi, bars=primer_bars
        )
        prime = prime_compose(text=text, source=source)
    elif primer_bars is not None:
        raise PrimerError(
            "primer_bars goes with a primer: primer_tune or primer_midi", field="primer_bars"
        )
    _, body = prime_split(prime)
    get_way(run.way).encode_prime(vocab=run.vocab, prime=body)  # raises on unknown symbols
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
    source, body = prime_split(job.prime)
    prime_ids = way.encode_prime(vocab=run.vocab, prime=body)
    # A primer's event text and the continuation are separate tokens: keep a space between.
    glue = " " if source else ""
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
        # A way whose END closes a phrase, not the piece (audio): restart from START.
        restart_id=START_ID if getattr(way, "restarts_phrases", False) else None,
    )
    seconds = time.perf_counter() - t0
    pieces = [
        _make_piece(
            job=job,
            way=way,
            index=i,
            seed=s,
            text=body + glue + way.decode(vocab=run.vocab, ids=ids),
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
    title = piece_title(seed=seed, meter=meta.get("meter", ""), style=way.capabilities.title_style)
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
    if way.capabilities.is_audio:
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
    if not way.capabilities.has_score:  # tokens without notes: there is no MIDI to write
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
    from musiclib.render import midi_to_audio

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
