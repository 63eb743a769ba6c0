"""django-filter FilterSets of the REST API.

Pieces are filtered by the gallery's own selector (`selectors.piece_list`) with the gallery's
parameter names, so a gallery query string works on `/api/v1/pieces/` unchanged and the two
can never disagree. The API adds only what the gallery's form cannot say: `valid=false`
(pieces that are not valid). Sorts are the gallery's, written as plain columns so that
cursor pagination can page through them (`piece_cursor_queryset`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django import forms
from django.db.models import F, FloatField, QuerySet, Value
from django.db.models.functions import Cast, Coalesce
from drf_spectacular.drainage import set_override
from drf_spectacular.utils import extend_schema_field

from common.api.schema import blank_ok

from . import selectors
from .models import (
    Checkpoint,
    GenerationJob,
    ImportJob,
    JobStatus,
    Piece,
    TrainingRun,
    Tune,
    valid_pieces,
    way_choices,
)

MAX_ID = 2**63 - 1
# Where a score is missing it sorts after every real score (the gallery's NULLS LAST).
MISSING_SCORE = -1e300
SORT_SCORE = "sort_score"


def described(filter_: django_filters.Filter, schema: dict[str, Any]) -> django_filters.Filter:
    """Give the OpenAPI schema the filter's real limits (drf-spectacular reads the override),
    so that what the schema allows is exactly what the filter accepts."""
    set_override(filter_, "field", schema)
    return filter_


class LiveSchema(dict):
    """A filter's schema made again each time the OpenAPI schema is (drf-spectacular copies
    the override), for choices read from a registry: a way added later is in the enum."""

    def __init__(self, make: Callable[[], dict[str, Any]]):
        super().__init__(make())
        self.make = make

    def copy(self) -> dict[str, Any]:
        return dict(self.make())


def choice(
    choices: list[tuple[str, str]] | Callable[[], list[tuple[str, str]]], **kwargs: Any
) -> django_filters.ChoiceFilter:
    """A choice filter; `choices` may be a callable (read on each request and schema)."""

    def schema() -> dict[str, Any]:
        values = choices() if callable(choices) else choices
        return {"type": "string", "enum": [value for value, _ in values] + [""]}

    return described(
        django_filters.ChoiceFilter(choices=choices, **kwargs),
        LiveSchema(schema) if callable(choices) else schema(),
    )


def text(max_length: int, **kwargs: Any) -> django_filters.CharFilter:
    """A text filter of at most `max_length` characters (no NUL: PostgreSQL refuses it)."""
    return described(
        django_filters.CharFilter(max_length=max_length, **kwargs),
        {"type": "string", "maxLength": max_length, "pattern": "^[^\\x00]*$"},
    )


@extend_schema_field(blank_ok({"type": "integer", "minimum": 1, "maximum": MAX_ID}))
class IdFilter(django_filters.NumberFilter):
    """An id: a whole number in the database's range (never a 500 for 1e30 or 1.5)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.NullBooleanField):
    """true/false (also 1/0, yes/no, on/off); blank is no filter; anything else is an error
    rather than silently no filter."""

    widget = forms.TextInput  # NullBooleanSelect would turn "maybe" into None unseen
    TRUE = {"true", "1", "yes", "on"}
    FALSE = {"false", "0", "no", "off"}

    def to_python(self, value: Any) -> bool | None:
        if value in (True, False, None, ""):
            return None if value == "" else value
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError("Give true or false.", code="invalid")

    def validate(self, value: Any) -> None:
        pass


@extend_schema_field(blank_ok({"type": "boolean"}))
class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


# --- pieces: the gallery's filters ------------------------------------------------------------

GALLERY_KEYS = ("way", "corpus", "run", "key", "meter", "q", "epoch_samples", "sort")


class PieceFilter(django_filters.FilterSet):
    """The gallery's filters, by the gallery's names; applied by `selectors.piece_list`."""

    way = choice(way_choices, help_text="abc, midi or audio.")
    corpus = IdFilter(help_text="Pieces of runs trained on this corpus (id).")
    run = IdFilter(help_text="Pieces of this training run (id).")
    key = text(40, help_text="Exact key, e.g. D or Ador.")
    meter = text(20, help_text="Exact meter, e.g. 6/8.")
    valid = BooleanFilter(
        help_text="true: only valid pieces, as the gallery's 'Valid only' (they parse and "
        "play, and ≥ 90% of their bars add up where the way writes bars; a recording: it "
        "decodes and is audible); false: only pieces that are not valid."
    )
    q = text(100, help_text="Search titles (case-insensitive).")
    epoch_samples = choice(
        [(k, v) for k, v in selectors.EPOCH_SAMPLES.items() if k],
        help_text="Left out (default): the pieces made on request only, as the gallery "
        "shows; include: those and the samples runs make at epoch ends; only: the epoch "
        "samples alone.",
    )
    sort = choice(
        list(selectors.SORTS.items()),
        help_text="newest (default), oldest, title, rating or novelty. rating and novelty "
        "fall back to newest until the evaluation app stores those scores; the response's "
        "`sort` says which was used.",
    )

    class Meta:
        model = Piece
        fields: list[str] = []

    def gallery_filters(self) -> dict[str, Any]:
        """The cleaned query as the gallery's `filters` dict."""
        data = self.form.cleaned_data
        filters = {k: data[k] for k in GALLERY_KEYS if data.get(k) not in (None, "")}
        if data.get("valid") is True:
            filters["valid"] = True
        return filters

    def filter_queryset(self, queryset: QuerySet[Piece]) -> QuerySet[Piece]:
        # The gallery's selector builds the whole queryset (relations, deferred columns,
        # filters, order): `queryset` is the unfiltered `selectors.piece_list()`.
        qs = selectors.piece_list(filters=self.gallery_filters())
        if self.form.cleaned_data.get("valid") is False:
            qs = qs.exclude(valid_pieces())
        qs, used = piece_cursor_queryset(qs, self.form.cleaned_data.get("sort") or None)
        if self.request is not None:
            self.request.piece_sort = used
        return qs


def piece_cursor_queryset(qs: QuerySet[Piece], sort: str | None) -> tuple[QuerySet[Piece], str]:
    """The gallery's order for `sort` as plain column names, which cursor pagination needs:
    a score sort orders by an annotated score with missing scores last, then newest."""
    ordering = selectors.piece_ordering(sort)
    if ordering.sort in ("rating", "novelty"):
        field = selectors.rating_field() if ordering.sort == "rating" else selectors.novelty_field()
        if field is not None:
            score = Coalesce(
                Cast(F(field), FloatField()), Value(MISSING_SCORE, output_field=FloatField())
            )
            qs = qs.annotate(**{SORT_SCORE: score})
            return qs.order_by(f"-{SORT_SCORE}", "-created_at", "-pk"), ordering.sort
    return qs.order_by(*ordering.fields), ordering.sort


# --- tunes: the corpus page's filters ---------------------------------------------------------


class TuneFilter(django_filters.FilterSet):
    """The corpus page's tune filters (`selectors.tune_list`): title search, key, meter."""

    corpus = IdFilter(field_name="corpus_id", help_text="Tunes of this corpus (id).")
    q = text(
        100,
        field_name="title",
        lookup_expr="icontains",
        help_text="Search titles (case-insensitive).",
    )
    key = text(40, help_text="Exact key.")
    meter = text(20, help_text="Exact meter.")

    class Meta:
        model = Tune
        fields: list[str] = []


# --- runs, checkpoints, jobs, imports ---------------------------------------------------------


class TrainingRunFilter(django_filters.FilterSet):
    status = choice(JobStatus.choices)
    corpus = IdFilter(field_name="corpus_id", help_text="Runs on this corpus (id).")
    way = choice(way_choices)
    preset = text(20, help_text="tiny, quick or full.")

    class Meta:
        model = TrainingRun
        fields: list[str] = []


class CheckpointFilter(django_filters.FilterSet):
    run = IdFilter(field_name="run_id", help_text="Checkpoints of this run (id).")

    class Meta:
        model = Checkpoint
        fields: list[str] = []


class GenerationJobFilter(django_filters.FilterSet):
    status = choice(JobStatus.choices)
    checkpoint = IdFilter(field_name="checkpoint_id", help_text="Jobs of this checkpoint (id).")
    run = IdFilter(field_name="checkpoint__run_id", help_text="Jobs of this run (id).")
    is_epoch_sample = BooleanFilter(
        help_text="true: only the jobs runs make at epoch ends; false: only requested ones."
    )

    class Meta:
        model = GenerationJob
        fields: list[str] = []


class ImportJobFilter(django_filters.FilterSet):
    status = choice(JobStatus.choices)
    corpus = IdFilter(field_name="corpus_id", help_text="Imports into this corpus (id).")

    class Meta:
        model = ImportJob
        fields: list[str] = []
