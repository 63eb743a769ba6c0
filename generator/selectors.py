"""The reads behind the site's pages: gallery, tunes, runs, corpora, jobs.

Every list here is one query for the rows plus at most one for the count, whatever the page
size: the cards' relations are joined (`select_related`) and the heavy columns they never
show (ABC text, vocabularies, histories) are deferred.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Avg, Count, F, FloatField, OuterRef, QuerySet, Subquery

from musiclib.ways import get_way
from musiclib.ways.base import validation_indices

from .models import (
    ACTIVE_STATUSES,
    Checkpoint,
    Corpus,
    GenerationJob,
    ImportJob,
    JobStatus,
    Piece,
    TrainingRun,
    Tune,
    valid_pieces,
)

# Columns a piece card never shows: left in the database until a piece page asks.
PIECE_CARD_DEFERRED = (
    "text",
    "validity_detail",
    "run__config",
    "run__history",
    "run__vocab",
    "run__data_stats",
    "run__error",
    "run__corpus__description",
)
RUN_DEFERRED = ("vocab", "data_stats")


# --- evaluation ---------------------------------------------------------------------------
# The evaluation app judges generator's pieces, so generator never imports it: these reads
# find its one-to-one `Piece.evaluation` and its survey answers through Django's registry by
# name. A site that leaves the evaluation app out still serves pages (no scores, no ratings).


def evaluation_relation() -> str | None:
    """The name of the one-to-one from a piece to its evaluation (the evaluation app's)."""
    try:
        field = Piece._meta.get_field("evaluation")
    except FieldDoesNotExist:
        return None
    return "evaluation" if field.one_to_one else None


def _evaluation_score_field(candidates: tuple[str, ...]) -> str | None:
    relation = evaluation_relation()
    if relation is None:
        return None
    model = Piece._meta.get_field(relation).related_model
    for name in candidates:
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        return f"{relation}__{name}"
    return None


def novelty_field() -> str | None:
    return _evaluation_score_field(("novelty",))


RATING = "mean_rating"  # the annotation `piece_list` adds once listeners have rated pieces


def rating_expression() -> Subquery | None:
    """The mean "overall liking" (1-5) listeners gave a piece's survey clips (NULL for a
    piece no listener heard), or None without the survey app."""
    try:
        response = apps.get_model("evaluation", "SurveyResponse")
    except LookupError:
        return None
    mean = (
        response.objects.filter(clip__piece=OuterRef("pk"))
        .order_by()
        .values("clip__piece")
        .annotate(mean=Avg("liking"))
        .values("mean")[:1]
    )
    return Subquery(mean, output_field=FloatField())


def rating_field() -> str | None:
    """The field a rating sort orders by: `piece_list`'s annotation, once a listener has
    rated a generated piece (until then the sort falls back to newest, and says so)."""
    try:
        response = apps.get_model("evaluation", "SurveyResponse")
    except LookupError:
        return None
    return RATING if response.objects.filter(clip__piece__isnull=False).exists() else None


# --- pieces ----------------------------------------------------------------------------------

SORTS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "rating": "Best rated",
    "novelty": "Most novel",
}


@dataclass(frozen=True)
class Ordering:
    fields: tuple[str, ...]
    sort: str  # the sort actually used
    fallback: bool = False  # asked for a sort that is not available yet


def piece_ordering(sort: str | None) -> Ordering:
    """The ORDER BY of a gallery sort; rating and novelty fall back to newest until the
    evaluation app stores those scores."""
    sort = sort if sort in SORTS else "newest"
    if sort == "oldest":
        return Ordering(("created_at", "pk"), sort)
    if sort in ("rating", "novelty"):
        field = rating_field() if sort == "rating" else novelty_field()
        if field is None:
            return Ordering(("-created_at", "-pk"), "newest", fallback=True)
        return Ordering((F(field).desc(nulls_last=True), "-created_at", "-pk"), sort)
    return Ordering(("-created_at", "-pk"), "newest")


def _text(filters: Mapping[str, Any], name: str) -> str:
    value = filters.get(name)
    return str(value).strip() if value not in (None, "") else ""


# Which pieces the gallery shows: those the site made on request (the default: what a
# visitor or staff asked for), the samples runs make at epoch ends (mostly invalid early in
# training; every run page shows them on its timeline), or both.
EPOCH_SAMPLES = {
    "": "Requested pieces",
    "include": "With training drafts",
    "only": "Training drafts only",
}


def piece_rows() -> QuerySet[Piece]:
    """Every piece, as cards show them: relations joined, heavy columns deferred, the rating
    annotated. No gallery filter or default applies (`piece_list` adds them)."""
    qs = Piece.objects.select_related("run", "run__corpus", "checkpoint")
    relation = evaluation_relation()
    if relation:
        qs = qs.select_related(relation)
    qs = qs.defer(*PIECE_CARD_DEFERRED)
    if (rating := rating_expression()) is not None:
        qs = qs.annotate(**{RATING: rating})
    return qs


def piece_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[Piece]:
    """Generated pieces for gallery cards, filtered and sorted.

    filters: way, corpus (id), run (id), key, meter, valid (bool: `models.valid_pieces`),
    q (title search), sort, epoch_samples (a key of EPOCH_SAMPLES: "" or absent, the pieces
    made on request; "include", those and the runs' epoch samples; "only", epoch samples).
    """
    filters = filters or {}
    qs = piece_rows()
    samples = _text(filters, "epoch_samples")
    if samples == "only":
        qs = qs.filter(job__is_epoch_sample=True)
    elif samples != "include":
        qs = qs.filter(job__is_epoch_sample=False)
    if way := _text(filters, "way"):
        qs = qs.filter(way=way)
    if corpus := filters.get("corpus"):
        qs = qs.filter(run__corpus_id=corpus)
    if run := filters.get("run"):
        qs = qs.filter(run_id=run)
    if key := _text(filters, "key"):
        qs = qs.filter(key=key)
    if meter := _text(filters, "meter"):
        qs = qs.filter(meter=meter)
    if filters.get("valid"):
        qs = qs.filter(valid_pieces())
    if q := _text(filters, "q"):
        qs = qs.filter(title__icontains=q)
    return qs.order_by(*piece_ordering(filters.get("sort")).fields)


def piece_page_rows(page_qs: QuerySet[Piece]) -> list[Piece]:
    """The pieces of one gallery page, in two constant queries whatever the page size.

    First the page's ids: the filters and the order alone, no joins, so PostgreSQL plans it
    from the piece indexes (with the cards' joins in the same query it misjudges a title
    search and nests loops over runs and checkpoints). Then the cards by primary key, with
    their run, corpus and checkpoint joined (select_related)."""
    ids = list(page_qs.values_list("pk", flat=True))
    if not ids:
        return []
    rows = {piece.pk: piece for piece in piece_rows().filter(pk__in=ids).order_by()}
    return [rows[pk] for pk in ids if pk in rows]


def piece_get(*, pk: int) -> Piece:
    """One piece with everything its page shows, in one query. Raises Piece.DoesNotExist."""
    qs = Piece.objects.select_related("run", "run__corpus", "checkpoint", "job")
    if relation := evaluation_relation():
        qs = qs.select_related(relation)
    if (rating := rating_expression()) is not None:
        qs = qs.annotate(**{RATING: rating})
    return qs.get(pk=pk)


def pieces_by_ids(*, ids: list[int]) -> list[Piece]:
    return list(piece_rows().filter(pk__in=ids[:200]))


def _common_values(qs: QuerySet, field: str, limit: int = 40) -> list[str]:
    rows = (
        qs.exclude(**{field: ""})
        .values(field)
        .annotate(n=Count("pk"))
        .order_by("-n", field)[:limit]
    )
    return sorted(row[field] for row in rows)


def piece_facets() -> dict[str, list[str]]:
    """The most common keys and meters among pieces, for the filter selects. Cached for a
    minute: on a large gallery the scan costs more than the page itself."""

    def compute() -> dict[str, list[str]]:
        return {
            "keys": _common_values(Piece.objects.all(), "key"),
            "meters": _common_values(Piece.objects.all(), "meter"),
        }

    return cache.get_or_set("generator:piece_facets", compute, 60)


def run_choices() -> list[tuple[int, str]]:
    """(id, label) of every run that has pieces or checkpoints, newest first."""
    rows = TrainingRun.objects.only("pk", "name", "way", "preset").order_by("-pk")
    return [(run.pk, str(run)) for run in rows]


def corpus_choices() -> list[tuple[int, str]]:
    return list(Corpus.objects.order_by("name").values_list("pk", "name"))


# --- tunes -----------------------------------------------------------------------------------


def tune_list(
    *, corpus: Corpus | None = None, filters: Mapping[str, Any] | None = None
) -> QuerySet[Tune]:
    """Human tunes for cards: search by title, filter by key and meter."""
    filters = filters or {}
    qs = Tune.objects.select_related("corpus").defer("text", "corpus__description")
    if corpus is not None:
        qs = qs.filter(corpus=corpus)
    if q := _text(filters, "q"):
        qs = qs.filter(title__icontains=q)
    if key := _text(filters, "key"):
        qs = qs.filter(key=key)
    if meter := _text(filters, "meter"):
        qs = qs.filter(meter=meter)
    return qs.order_by("number", "pk")


def tune_facets(*, corpus: Corpus) -> dict[str, list[str]]:
    def compute() -> dict[str, list[str]]:
        tunes = Tune.objects.filter(corpus=corpus)
        return {
            "keys": _common_values(tunes, "key"),
            "meters": _common_values(tunes, "meter"),
        }

    return cache.get_or_set(f"generator:tune_facets:{corpus.pk}", compute, 60)


# --- corpora ---------------------------------------------------------------------------------


def corpus_list() -> QuerySet[Corpus]:
    return Corpus.objects.annotate(
        n_tunes=Count("tunes", distinct=True), n_runs=Count("runs", distinct=True)
    ).order_by("name")


def corpus_last_import(*, corpus: Corpus) -> ImportJob | None:
    return corpus.imports.order_by("-created_at", "-pk").first()


# --- runs ------------------------------------------------------------------------------------


def run_list() -> QuerySet[TrainingRun]:
    return (
        TrainingRun.objects.select_related("corpus")
        .defer(*RUN_DEFERRED, "corpus__description")
        .annotate(
            n_checkpoints=Count("checkpoints", distinct=True),
        )
        .order_by("-created_at", "-pk")
    )


# What a run's name and progress read (`TrainingRun.__str__`, "3 of 10 epochs").
RUN_NAMED = ("pk", "name", "way", "preset", "status", "epochs", "epochs_done")


def run_in_progress() -> list[TrainingRun]:
    """The runs queued or training now, the one that started first first: what a visitor
    who finds no trained model waits for."""
    return list(
        TrainingRun.objects.filter(status__in=ACTIVE_STATUSES)
        .only(*RUN_NAMED)
        .order_by("created_at", "pk")
    )


def run_waiting_behind(*, run: TrainingRun) -> list[TrainingRun]:
    """The runs training now, when `run` is queued: a training worker takes one run at a
    time, so these are what it waits for (empty when it is not queued)."""
    if run.status != JobStatus.QUEUED:
        return []
    return list(
        TrainingRun.objects.filter(status=JobStatus.RUNNING)
        .exclude(pk=run.pk)
        .only(*RUN_NAMED)
        .order_by("started_at", "pk")
    )


def run_get(*, pk: int) -> TrainingRun:
    return TrainingRun.objects.select_related("corpus", "warmup_corpus", "created_by").get(pk=pk)


def run_checkpoints(*, run: TrainingRun) -> list[Checkpoint]:
    return list(run.checkpoints.order_by("epoch"))


def run_epoch_samples(*, run: TrainingRun) -> list[tuple[int, list[Piece]]]:
    """The pieces a run made at its epoch ends, grouped by epoch, oldest epoch first."""
    pieces = (
        piece_rows()
        .filter(run=run, job__is_epoch_sample=True)
        .order_by("checkpoint__epoch", "index", "pk")
    )
    groups: dict[int, list[Piece]] = {}
    for piece in pieces:
        groups.setdefault(piece.checkpoint.epoch, []).append(piece)
    return sorted(groups.items())


def run_piece_count(*, run: TrainingRun) -> int:
    return Piece.objects.filter(run=run).count()


# --- generation ------------------------------------------------------------------------------


def generation_checkpoints() -> list[tuple[TrainingRun, list[Checkpoint]]]:
    """Runs one can generate from (they have a vocabulary and checkpoints), each with its
    checkpoints newest epoch first. Finished runs come first."""
    checkpoints = (
        Checkpoint.objects.select_related("run", "run__corpus")
        .defer(
            "run__history",
            "run__vocab",
            "run__config",
            "run__data_stats",
            "run__error",
            "run__corpus__description",
        )
        .exclude(run__vocab=[])
        .order_by("-run__created_at", "-run__pk", "-epoch")
    )
    runs: dict[int, tuple[TrainingRun, list[Checkpoint]]] = {}
    for ckpt in checkpoints:
        runs.setdefault(ckpt.run_id, (ckpt.run, []))[1].append(ckpt)
    ordered = list(runs.values())
    ordered.sort(key=lambda item: item[0].status != JobStatus.SUCCEEDED)
    return ordered


def checkpoint_get(*, pk: int) -> Checkpoint:
    return Checkpoint.objects.select_related("run").get(pk=pk)


def job_get(*, pk: int) -> GenerationJob:
    return GenerationJob.objects.select_related(
        "checkpoint", "checkpoint__run", "checkpoint__run__corpus"
    ).get(pk=pk)


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued generation job stands on the `sample` queue."""

    ahead: int  # a visitor's generations queued before it, not started yet
    writing: int  # generations being sampled now


def job_queue_place(*, job: GenerationJob) -> QueuePlace | None:
    """The place of a queued job among a visitor's generations (None once it has started).

    The `sample` worker takes jobs in the order they were queued, so the jobs ahead are the
    queued ones created before it. Epoch samples are drawn inside the training worker and
    never wait on this queue, so they are not counted."""
    if job.status != JobStatus.QUEUED or job.is_epoch_sample:
        return None
    visitors = GenerationJob.objects.filter(is_epoch_sample=False)
    return QueuePlace(
        ahead=visitors.filter(status=JobStatus.QUEUED, pk__lt=job.pk).count(),
        writing=visitors.filter(status=JobStatus.RUNNING).count(),
    )


def job_pieces(*, job: GenerationJob) -> list[Piece]:
    return list(piece_rows().filter(job=job).order_by("index", "pk"))


def pieces_valid_share(qs: QuerySet[Piece]) -> dict[str, int]:
    return qs.aggregate(
        total=Count("pk"),
        valid=Count("pk", filter=valid_pieces()),
    )


def run_split_texts(*, run: TrainingRun) -> tuple[list[str], list[str]]:
    """(training texts, held-out texts) of the run's corpus as the trainer split them."""
    way = get_way(run.way)
    qs = run.corpus.tunes.order_by("pk")
    if run.tune_id_max is not None:
        qs = qs.filter(pk__lte=run.tune_id_max)
    texts = [way.normalise(t) for t in qs.values_list("text", flat=True)]
    config = run.config or {}
    fraction = float(config.get("val_fraction", 0.1))
    held = set(validation_indices(len(texts), val_fraction=fraction, seed=run.seed))
    train = [t for i, t in enumerate(texts) if i not in held]
    return train, [texts[i] for i in sorted(held)]
