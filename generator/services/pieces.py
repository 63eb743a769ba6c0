"""Generation jobs and pieces: sample from a checkpoint, store, validate, render audio."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from threadpoolctl import threadpool_limits

from common.errors import ServiceError
from common.tasks import send_on_commit
from musiclib.metrics.critic import critic_chooser
from musiclib.ml import sampler
from musiclib.ml.automaton import tables_settle
from musiclib.ml.line import PHRASES_STATE, Line, LineWeights
from musiclib.ways import get_way, ways_taking
from musiclib.ways.base import COMMON_DEFAULTS, END_ID, START_ID

from .. import signals
from ..models import TAKES_BY_CHOICES, Checkpoint, GenerationJob, JobStatus, Piece, TrainingRun
from ..task_names import GENERATION_TASK, RENDER_TASK
from .allowance import generation_allowance_take
from .checkpoint_files import (  # noqa: F401  (the loaders' old home; tests clear the cache)
    _cached_net,
    checkpoint_sampler_path,
    load_checkpoint_net,
    load_checkpoint_state,
)
from .corpora import iter_corpus_texts, run_prepare
from .critics import checkpoint_critic
from .moves import checkpoint_moves
from .primes import MIN_TOKENS, Upload, generation_prime_build, prime_split

log = logging.getLogger(__name__)

MAX_PIECES_PER_JOB = 64
MAX_TAKES = sampler.MAX_TAKES  # takes of each piece a job may ask for
# How the kept take is chosen (`GenerationJob.takes_by`): "model", the least surprising to
# the model; "corpus", drawn by the checkpoint's critic (`critics`), the model's view where
# it has none.
TAKES_BY = tuple(value for value, _ in TAKES_BY_CHOICES)
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


def piece_title(*, seed: int, meter: str = "", key: str = "", style: str = "tune") -> str:
    """A name fixed by the seed, so a reproduced piece keeps its name, in the style of its
    way's corpus (`Capabilities.title_style`):

    - "tune" (folk tunes): a folk name and the tune type its meter makes it, "The Foggy
      Heron (Jig)", or "(Air)" for a meter no dance is in;
    - "melody" (melodies such as chorale tunes, not dances): "Melody no. 214 in G minor";
    - "recording" (sound, which has no meter or key): "Sketch no. 214";
    - "plain": the folk name alone, "The Foggy Heron".
    """
    rng = random.Random(seed)
    name = f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    number = rng.randint(1, 999)
    if style == "tune":
        return f"{name} ({TUNE_TYPES.get(meter.strip(), 'Air')})"
    if style == "melody":
        return f"Melody no. {number}" + (f" in {key.strip()}" if key.strip() else "")
    if style == "recording":
        return f"Sketch no. {number}"
    return name


def generation_job_check(
    *,
    checkpoint: Checkpoint,
    count: int = 1,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    max_length: int = 1000,
    prime: str | None = None,
    grammar: bool = False,
    folk_form: bool = False,
    returns: bool = False,
    memory: bool = False,
    moves: bool = False,
    takes: int = 1,
    takes_by: str = "model",
) -> None:
    """The rules a generation request must meet, for every interface (the generate page, the
    API, the admin's form, `manage.py generate`): raises ServiceError naming its field, as
    `generation_job_create` (which calls it) does. `prime`: the opening as a job stores it,
    checked against the model's symbols (None: not checked here)."""
    if not (temperature > 0):
        raise ServiceError("temperature must be a positive number", field="temperature")
    if not (1 <= int(count) <= MAX_PIECES_PER_JOB):
        raise ServiceError(f"count must be 1..{MAX_PIECES_PER_JOB}", field="count")
    if not (MIN_TOKENS <= int(max_length) <= MAX_TOKENS_LIMIT):
        raise ServiceError(
            f"max_length must be {MIN_TOKENS}..{MAX_TOKENS_LIMIT}", field="max_length"
        )
    if int(top_k) < 0:
        raise ServiceError("top_k must be 0 (off) or positive", field="top_k")
    if not (1 <= int(takes) <= MAX_TAKES):
        raise ServiceError(f"takes must be 1..{MAX_TAKES}", field="takes")
    if takes_by not in TAKES_BY:
        raise ServiceError(f"takes_by must be {' or '.join(TAKES_BY)}", field="takes_by")
    if not (0 < float(top_p) <= 1):
        raise ServiceError("top_p must be more than 0 and at most 1 (1 is off)", field="top_p")
    run = checkpoint.run
    if not run.vocab:
        raise ServiceError("the checkpoint's run has no vocabulary", field="checkpoint")
    for field, asked in (
        ("folk_form", folk_form),
        ("returns", returns),
        ("memory", memory),
        ("moves", moves),
        ("takes_by", takes_by == "corpus"),
    ):
        if asked:
            _offered_or_refused(run, field)
    if folk_form and not grammar:
        raise ServiceError(
            "the folk-tune form is kept by grammar-aware sampling: switch it on too",
            field="folk_form",
        )
    if returns and not folk_form:
        raise ServiceError(
            "bars come back within a folk tune's shape: switch on the folk tune's shape too",
            field="returns",
        )
    if prime is not None:
        _prime_check(run, prime)


def _prime_check(run: TrainingRun, prime: str) -> None:
    _, body = prime_split(prime)
    try:
        get_way(run.way).encode_prime(vocab=run.vocab, prime=body)
    except ValueError as exc:  # a symbol the model never saw
        raise ServiceError(str(exc), field="prime") from exc


def generation_job_create(
    *,
    checkpoint: Checkpoint,
    count: int = 1,
    temperature: float = 1.0,
    seed: int | None = None,
    top_k: int = 0,
    top_p: float = 1.0,
    max_length: int = 1000,
    prime: str = "",
    primer_tune: int | None = None,
    primer_midi: Upload | None = None,
    primer_bars: int | None = None,
    grammar: bool = False,
    folk_form: bool = False,
    returns: bool = False,
    memory: bool = False,
    moves: bool = False,
    takes: int = 1,
    takes_by: str = "model",
    is_epoch_sample: bool = False,
    user=None,
    ip: str | None = None,
    enqueue: bool = True,
) -> GenerationJob:
    """Validate a generation request, store it as a job and queue it after commit.

    The opening is `prime`, as a job stores it (the way's text, e.g. ABC header fields and
    notes, or what `generation_prime_build` made), or for a MIDI-way run a primer:
    `primer_tune` (a tune id of the run's corpus) or `primer_midi` (file name, bytes), cut
    to `primer_bars` bars, built here by `generation_prime_build`. Raises ServiceError
    naming its field (`temperature`, `count`, `max_length`, `top_k`, `top_p`, `checkpoint`,
    `prime`, the primer's fields, `folk_form`: the tune's form is shaped by the grammar, so
    it needs `grammar`, and a way that offers it; `returns`: bars that come back where the
    corpus's tunes bring them back, within that form, so it needs `folk_form`; `memory`:
    each draw also looks back over the piece itself, and `moves`: each note weighed by its
    move from the last as the checkpoint's fitted moves say, each for a way that offers it
    (a checkpoint without fitted moves samples without, and the job says so); `takes`:
    1..MAX_TAKES draws of each piece, the least surprising to the model kept, or with
    `takes_by` "corpus" the one the checkpoint's critic draws as most like the corpus)."""
    generation_job_check(
        checkpoint=checkpoint,
        count=count,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        max_length=max_length,
        grammar=grammar,
        folk_form=folk_form,
        returns=returns,
        memory=memory,
        moves=moves,
        takes=takes,
        takes_by=takes_by,
    )
    if primer_tune is not None or primer_midi is not None or primer_bars is not None:
        prime = generation_prime_build(
            checkpoint=checkpoint,
            prime=prime,
            primer_tune=primer_tune,
            primer_midi=primer_midi,
            primer_bars=primer_bars,
        ).prime
    else:
        _prime_check(checkpoint.run, prime)
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    with transaction.atomic():
        if not is_epoch_sample:  # a visitor's pieces: counted and created in one step
            generation_allowance_take(user=user, ip=ip, asked=int(count))
        job = GenerationJob.objects.create(
            checkpoint=checkpoint,
            count=int(count),
            temperature=float(temperature),
            top_k=int(top_k),
            top_p=float(top_p),
            seed=int(seed),
            max_length=int(max_length),
            prime=prime,
            grammar=grammar,
            folk_form=folk_form,
            returns=returns,
            memory=memory,
            moves=moves,
            takes=int(takes),
            takes_by=takes_by,
            is_epoch_sample=is_epoch_sample,
            code_version=settings.CODE_VERSION,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
            requester_ip=ip,
        )
        if enqueue:
            send_on_commit(GENERATION_TASK, job.pk)
    return job


# A sampling option's name in the words of a refusal, for the options only some ways offer.
OPTION_WORDS = {
    "folk_form": "the folk-tune form is",
    "returns": "bars that come back are",
    "memory": "looking back over the piece is",
    "moves": "moves weighed as the corpus's are",
    "takes_by": "takes kept by likeness to the corpus are",
}


def _offered_or_refused(run: TrainingRun, field: str) -> None:
    """Refuse, on its field, an option the run's way does not offer, naming the ways that do."""
    if field not in get_way(run.way).capabilities.generation_fields:
        takers = " and ".join(w.noun for w in ways_taking(field))
        raise ServiceError(
            f"{OPTION_WORDS[field]} for {takers} runs; run {run.pk} is {run.get_way_display()}",
            field=field,
        )


def piece_reproduce(
    *, piece: Piece, same_seed: bool, user: Any = None, ip: str | None = None
) -> GenerationJob:
    """One more piece from the checkpoint and settings that made `piece`: the same piece
    again from its seed (`same_seed`), or one like it from a new seed.

    It counts one piece against the visitor's hourly allowance, as any request does
    (`generation_job_create`): AllowanceExceeded when none is left. Other refusals are
    ServiceErrors."""
    job = piece.job
    return generation_job_create(
        checkpoint=piece.checkpoint,
        count=1,
        temperature=job.temperature,
        seed=piece.seed if same_seed else None,
        top_k=job.top_k,
        top_p=job.top_p,
        max_length=job.max_length,
        prime=job.prime,
        grammar=job.grammar,
        folk_form=job.folk_form,
        returns=job.returns,
        memory=job.memory,
        moves=job.moves,
        takes=job.takes,
        takes_by=job.takes_by,
        user=user,
        ip=ip,
    )


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


def generation_tables_replay(*, job: GenerationJob) -> None:
    """After a visitor's job that succeeded with a grammar's tables (`generation_job_execute`
    has stored its pieces: no visitor waits for this): build those tables ahead of time
    along the run's training tunes in this process (`way.grammar_replay`), once per run and
    grammar in this process, within settings.GRAMMAR_REPLAY_CPU_S, so that the run's
    later pieces in this process find most table states built. For a long-lived worker
    (the generation task), not a one-off command; epoch samples are left alone."""
    run = job.checkpoint.run
    way = get_way(run.way)
    seconds = float(settings.GRAMMAR_REPLAY_CPU_S)
    if job.status != JobStatus.SUCCEEDED or job.is_epoch_sample or seconds <= 0:
        return
    # Not for the folk form: its rows carry a shape each, so a replay builds states that a
    # visitor's pieces seldom meet again (docs/benchmarks.md: no gain after 4-10 s of CPU
    # that the worker would spend before its next job).
    if job.folk_form or not hasattr(way, "grammar_replay"):
        return
    tables = _constraint(way, run, grammar=job.grammar, folk_form=False)
    if not hasattr(tables, "replayed") or run.pk in tables.replayed:
        return
    try:
        prepared = _prepared(run.pk)  # (the training split, as the run's; cached per run)
        t0 = time.process_time()
        fed = way.grammar_replay(tables=tables, pieces=prepared.train, state=prepared.state,
                                 form=False, seconds=seconds, key=run.pk)  # fmt: skip
    except Exception:  # (the tables only make later jobs faster: the job has succeeded)
        log.exception("run %s: building the grammar tables ahead of time failed", run.pk)
        return
    log.info("run %s: grammar tables built along its training tunes, %d symbols, %.1f s CPU, "
             "%.1f MB", run.pk, fed, time.process_time() - t0, tables.nbytes / 2**20)  # fmt: skip


def generation_worker_settle() -> None:
    """After a job in a long-lived sample worker (its pieces stored, its tables replayed):
    keep the cyclic garbage collector off the grammar tables and masks the process keeps
    (`automaton.tables_settle`), so that a full collection walking them does not fall in a
    later visitor's batch. Off with settings.GENERATION_GC_FREEZE false."""
    if settings.GENERATION_GC_FREEZE:
        frozen = tables_settle()
        log.debug("generation worker: %d objects kept off the garbage collector", frozen)


def _constraint(way, run, *, grammar: bool, folk_form: bool):
    """The grammar the sampler keeps to (None: none), as a job with these options asks."""
    if not ((grammar or getattr(way, "always_grammar", False)) and hasattr(way, "grammar")):
        return None
    # (only a way whose capabilities offer folk_form is given a job that asks for it)
    form = {"form": True} if folk_form else {}
    constraint = way.grammar(vocab=run.vocab, **form)
    # A grammar whose rules are compiled (`musiclib.ml.abc_machine`: the ABC characters)
    # works its masks out inside the compiled loop; one that compiles into tables is looked
    # up in them (the tables built for earlier jobs of this model in this worker are
    # reused). The same masks either way.
    if getattr(constraint, "machine_ready", False):
        return constraint.machine()
    if hasattr(constraint, "automaton"):
        constraint = constraint.automaton()
    return constraint


def _returns(way, checkpoint: Checkpoint, *, seeds: list[int], form: bool):
    """What the sampler needs to bring bars back (`musiclib.ml.returns`): one plan per seed
    from the training tunes' plans saved with the checkpoint (those of tunes in the folk
    form's shape, with the `form`), or, for a run trained before they were saved, made
    again from its corpus."""
    vocab = checkpoint.run.vocab
    return _saved_or_remade(
        checkpoint,
        lambda state: way.returns_for(vocab=vocab, state=state, seeds=seeds, form=form),
    )


def _form_shapes(way, checkpoint: Checkpoint, *, seeds: list[int], prime: str):
    """The folk form's shape of each piece (`musiclib.ways.abc_grammar.FormShape`: parts,
    bars per part, repeat signs, the last note's degree and length, the meter), drawn by
    its seed from the training tunes' shapes saved with the checkpoint (the tune its plan
    of returns comes from), or, for a run trained before they were saved, from its corpus.
    None where the way draws none (the grammar's own form then: parts of 8 bars ending on
    the tonic). A meter the `prime` sets is kept."""
    if not hasattr(way, "form_shapes_for"):
        return None
    return _saved_or_remade(
        checkpoint, lambda state: way.form_shapes_for(state=state, seeds=seeds, prime=prime)
    )


def _saved_or_remade(checkpoint: Checkpoint, draw):
    """`draw(state)` from the way arrays saved with the checkpoint, or, where it finds
    nothing there (None: a run trained before they were saved), from those `prepare` makes
    again from the run's corpus."""
    found = draw(load_checkpoint_state(checkpoint))
    return found if found is not None else draw(_prepared(checkpoint.run_id).state)


def _memory(checkpoint: Checkpoint):
    """The memory's weights for this checkpoint (`musiclib.ml.memory`): saved with it, or
    for a checkpoint saved before they were, fitted now on its run's held-out pieces (once
    per checkpoint in this process). None where there are too few held-out symbols."""
    from musiclib.ml.memory import STATE_KEY

    weights = load_checkpoint_state(checkpoint).get(STATE_KEY)
    return weights if weights is not None else _fitted_memory(checkpoint.pk)


@lru_cache(maxsize=4)
def _fitted_memory(checkpoint_id: int):
    from musiclib.ml.memory import memory_fit

    checkpoint = Checkpoint.objects.get(pk=checkpoint_id)
    held_out = _prepared(checkpoint.run_id).val
    fit = memory_fit(load_checkpoint_net(checkpoint), held_out, end_id=END_ID)
    return None if fit is None else fit.weights


@lru_cache(maxsize=4)
def _prepared(run_id: int):
    """What `prepare` makes of a run's corpus, split as the run's was (its way arrays and
    held-out pieces; a few seconds for a corpus of a thousand tunes): once per run in this
    process, whichever of returns, shapes or the memory asks first."""
    run = TrainingRun.objects.select_related("corpus").get(pk=run_id)
    texts = list(iter_corpus_texts(run.corpus, tune_id_max=run.tune_id_max))
    return run_prepare(get_way(run.way), texts=texts, run=run)


def epoch_sample_texts(*, checkpoint: Checkpoint, count: int, seed: int) -> list[str]:
    """`count` texts drawn from the checkpoint exactly as its epoch samples are (unprimed,
    the run's sample temperature and length, no grammar unless the way always keeps one,
    seeds seed..seed+count-1), finished as a piece's text is, but stored nowhere: for
    measures that need more pieces than the epoch samples (the blind listener's per-epoch
    verdicts). The numpy sampler, no TensorFlow: about 0.1 s per piece on one core."""
    run = checkpoint.run
    way = get_way(run.way)
    net = load_checkpoint_net(checkpoint)
    seeds = [seed + i for i in range(count)]
    # Callers run on the default queue, whose worker leaves BLAS its default threads (the
    # sample worker sets OPENBLAS_NUM_THREADS=1): on a busy 2-core machine (load 5.6) 40
    # pieces of 800 characters took 17.0 s with two BLAS threads, 2.1 s with one (8×; LSTM
    # [256, 256], the `full` preset's sizes).
    with threadpool_limits(limits=1, user_api="blas"):
        outs = sampler.sample(
            net,
            prime=way.encode_prime(vocab=run.vocab, prime=""),
            seeds=seeds,
            temperature=float(run.config.get("sample_temperature") or 1.0),
            max_tokens=int(run.config.get("sample_max_tokens") or 800),
            constraint=_constraint(way, run, grammar=False, folk_form=False),
            restart_id=START_ID if getattr(way, "restarts_phrases", False) else None,
        )
    return [
        _finish(way, seed=s, text=way.decode(vocab=run.vocab, ids=ids))[2]
        for s, ids in zip(seeds, outs, strict=True)
    ]


def _finish(way, *, seed: int, text: str) -> tuple[dict, str, str]:
    """(what the way reads in the text, the piece's title, the finished text)."""
    meta = way.describe(text)
    title = piece_title(
        seed=seed,
        meter=meta.get("meter") or "",
        key=meta.get("key") or "",
        style=way.capabilities.title_style,
    )
    return meta, title, way.finish(text, title=title)


# The generate page's first values, which a checkpoint's critic also draws its own pieces
# with (`pieces_draw`): the temperature of a run that says none (`page_sampler`; 0.9: with
# grammar-aware sampling the full Nottingham model met every quality target at 0.9 and
# missed idiom at 1.0, docs/quality.md), and the length in tokens.
PAGE_TEMPERATURE = COMMON_DEFAULTS["page_temperature"]
PAGE_TOP_P = COMMON_DEFAULTS["page_top_p"]
PAGE_LENGTH = 800


@dataclass(frozen=True)
class PageSampler:
    """What the generate page offers first for a run's models: takes per piece, temperature,
    top-p."""

    takes: int
    temperature: float
    top_p: float


def page_sampler(run) -> PageSampler:
    """The run's `page_takes`, `page_temperature` and `page_top_p` (its preset's, or as staff
    set them; `PAGE_TEMPERATURE`, no top-p and its way's takes for a run made before them or
    with `page_takes` 0). A way no longer registered: one take."""
    config = run.config or {}
    takes = int(config.get("page_takes") or 0)
    if not takes:
        try:
            takes = get_way(run.way).capabilities.default_takes
        except ValueError:
            takes = 1
    return PageSampler(
        takes=takes,
        temperature=float(config.get("page_temperature", PAGE_TEMPERATURE)),
        top_p=float(config.get("page_top_p", PAGE_TOP_P)),
    )


def repeats_offered(run) -> bool:
    """Whether the page offers a model's pieces bars brought back and the piece's memory
    ticked: not for a model with a look back, whose tunes bring their figures back by
    themselves and with both repeat too much (docs/quality.md §6, *A look back*)."""
    return not (run.config or {}).get("look_back_heads")


def _sample_ids(
    way,
    checkpoint: Checkpoint,
    *,
    seeds: list[int],
    prime_ids: list[int],
    prime_text: str = "",
    temperature: float,
    top_k: int = 0,
    top_p: float = 1.0,
    max_tokens: int,
    grammar: bool,
    folk_form: bool,
    returns: bool,
    memory: bool,
    moves: LineWeights | None = None,
    takes: int = 1,
    choose=None,
) -> list[list[int]]:
    """The sampler run as a job with these options asks (the ids of each piece); `moves`:
    the weights of each note's move and phrase (`ml.line`), None: none."""
    run = checkpoint.run
    constraint = _constraint(way, run, grammar=grammar, folk_form=folk_form)
    # (only a way whose capabilities offer returns is given a job that asks for them)
    plans = _returns(way, checkpoint, seeds=seeds, form=folk_form) if returns else None
    shapes = (
        _form_shapes(way, checkpoint, seeds=seeds, prime=prime_text)
        if folk_form and constraint
        else None
    )
    return sampler.sample(
        load_checkpoint_net(checkpoint),
        prime=prime_ids,
        seeds=seeds,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        max_tokens=max_tokens,
        constraint=constraint,
        # A way whose END closes a phrase, not the piece (audio): restart from START.
        restart_id=START_ID if getattr(way, "restarts_phrases", False) else None,
        returns=plans,
        shapes=shapes,
        memory=_memory(checkpoint) if memory else None,
        line=None if moves is None else _line(checkpoint, moves),
        takes=takes,
        choose=choose,
        # (a chooser weighs finished takes: no trial for it)
        trial=0 if choose is not None else way.capabilities.take_trial,
    )


def _fitted_moves(checkpoint: Checkpoint) -> LineWeights | None:
    """The weights of the checkpoint's fitted moves (`moves.checkpoint_moves`), or None."""
    fitted = checkpoint_moves(checkpoint)
    return None if fitted is None else fitted.weights


def _line(checkpoint: Checkpoint, weights: LineWeights) -> Line:
    """The lean of these weights over the checkpoint's vocabulary; with phrase weights, over
    its training tunes' phrases (saved with the checkpoint, or for one saved before they
    were, made again from its corpus)."""
    vocab = checkpoint.run.vocab
    if weights.phi is None:
        return Line.of(vocab, weights.theta)
    keys = _saved_or_remade(checkpoint, lambda state: state.get(PHRASES_STATE))
    return Line.of(vocab, weights.theta, phrase_keys=keys, phi=weights.phi)


def pieces_draw(
    *, checkpoint: Checkpoint, seeds: list[int], moves: LineWeights | None = None
) -> list[str]:
    """Unprimed pieces of the checkpoint, one per seed, as the generate page's first values
    make them (every option the way offers and the page ticks for the model on, the run's
    `page_sampler` temperature and top-p, `PAGE_LENGTH`) but one take each, finished as a
    piece's text is, stored nowhere: what a critic learns the model's own pieces from
    (`runs.run_critic_fit`), and what its moves are fitted on (`moves.run_moves_fit`, which
    gives the weights so far as `moves`; otherwise the checkpoint's fitted moves where the way
    offers them and it has them)."""
    run = checkpoint.run
    way = get_way(run.way)
    offered = way.capabilities.generation_fields
    if moves is None and "moves" in offered:
        moves = _fitted_moves(checkpoint)
    first = page_sampler(run)
    with threadpool_limits(limits=1, user_api="blas"):  # (see epoch_sample_texts)
        outs = _sample_ids(
            way,
            checkpoint,
            seeds=seeds,
            prime_ids=way.encode_prime(vocab=run.vocab, prime=""),
            temperature=first.temperature,
            top_p=first.top_p,
            max_tokens=PAGE_LENGTH,
            moves=moves,
            grammar="grammar" in offered,
            folk_form="folk_form" in offered,
            # (the page ticks these for a model without a look back only)
            returns="returns" in offered and repeats_offered(run),
            memory="memory" in offered and repeats_offered(run),
        )
    return [
        _finish(way, seed=s, text=way.decode(vocab=run.vocab, ids=ids))[2]
        for s, ids in zip(seeds, outs, strict=True)
    ]


def _generate(job: GenerationJob) -> None:
    checkpoint = job.checkpoint
    run = checkpoint.run
    way = get_way(run.way)
    source, body = prime_split(job.prime)
    prime_ids = way.encode_prime(vocab=run.vocab, prime=body)
    # A primer's event text and the continuation are separate tokens: keep a space between.
    glue = " " if source else ""
    seeds = [job.seed + i for i in range(job.count)]

    def text_of(seed: int, ids) -> str:
        return _finish(way, seed=seed, text=body + glue + way.decode(vocab=run.vocab, ids=ids))[2]

    choose = None
    if job.takes > 1 and job.takes_by == "corpus":
        # (only a way whose pieces are melodies is given such a job, and has critics)
        critic = checkpoint_critic(checkpoint)
        if critic is None:  # none fitted: the model's own view keeps the take, and says so
            job.takes_by = "model"
        else:
            choose = critic_chooser(
                critic, seeds=seeds, melody=way.capabilities.melody, text_of=text_of
            )
    moves = _fitted_moves(checkpoint) if job.moves else None
    if moves is None:  # not asked, or none fitted: sampled without, and the job says so
        job.moves = False
    t0 = time.perf_counter()
    outs = _sample_ids(
        way,
        checkpoint,
        seeds=seeds,
        prime_ids=prime_ids,
        prime_text=body,
        temperature=job.temperature,
        top_k=job.top_k,
        top_p=job.top_p,
        max_tokens=job.max_length,
        grammar=job.grammar,
        folk_form=job.folk_form,
        returns=job.returns,
        memory=job.memory,
        moves=moves,
        takes=job.takes,
        choose=choose,
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
        job.save(update_fields=["status", "finished_at", "seconds", "takes_by", "moves"])
        for piece in pieces:
            send_on_commit(RENDER_TASK, piece.pk)
        # Other apps react to new pieces (evaluation scores them against the corpus) through
        # this signal; generator never imports them. See generator/signals.py.
        transaction.on_commit(
            lambda: signals.generation_job_succeeded.send(sender=GenerationJob, job=job)
        )


def _make_piece(*, job: GenerationJob, way, index: int, seed: int, text: str) -> Piece:
    """Build (unsaved) a piece with its validity and MIDI file written to storage."""
    checkpoint = job.checkpoint
    meta, title, full = _finish(way, seed=seed, text=text)
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


def piece_render(*, piece: Piece) -> Piece:
    """What a new piece's page and downloads show, made in the worker so that no request
    waits for it: its audio (FluidSynth), and, as its way has them, its engraved score pages,
    its MusicXML and a recording's spectrogram and OGG (each kept in storage)."""
    from .files import (
        FileUnavailable,
        musicxml_bytes,
        piece_audio_file,
        piece_has_musicxml,
        piece_spectrogram_png,
        score_pages,
    )

    piece = piece_render_audio(piece=piece)
    caps = get_way(piece.way).capabilities
    if caps.has_score:
        score_pages(kind="pieces", pk=piece.pk, way=piece.way, text=piece.text)
    try:
        if "musicxml" in caps.piece_downloads and piece_has_musicxml(piece):
            musicxml_bytes(kind="pieces", pk=piece.pk, way=piece.way, text=piece.text)
        if caps.is_audio and piece.audio:  # a recording: its picture and its OGG download
            piece_spectrogram_png(piece)
            piece_audio_file(piece, "ogg")
    except FileUnavailable as exc:  # the download or image says why when it is asked for
        log.info("piece %s: %s", piece.pk, exc)
    return piece


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
