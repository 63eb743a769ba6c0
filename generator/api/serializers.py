"""Serializers of the REST API (`/api/v1/`): what programs read and send.

Reads go through `selectors` (the same querysets as the site's pages, so the columns a list
never shows stay deferred), writes through `services`. Response serializers never touch a
deferred column: a list of pieces is one query whatever its length.

Extension points
- Evaluation scores: a piece's `evaluation` is filled from the one-to-one `evaluation`
  relation as soon as the evaluation app adds it (looked up with getattr, so this module
  works before it lands).
- Survey results and any later per-piece section of a piece's detail: the app that owns
  them registers a function with `generator.sections.register_piece_section("survey", fn)`
  in its `AppConfig.ready` (the survey does); `fn(piece)` returns a JSON-able dict or None.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api.errors import service_errors
from common.api.schema import ErrorBodySerializer, ErrorSerializer  # noqa: F401  (re-exported)
from generator import presenters, selectors, services
from generator.models import (
    TAKES_BY_CHOICES,
    Checkpoint,
    Corpus,
    GenerationJob,
    ImportJob,
    JobStatus,
    Piece,
    TrainingRun,
    Tune,
)
from generator.presenters import piece_downloads, tune_downloads
from generator.sections import piece_section
from generator.services.pieces import MAX_PIECES_PER_JOB, MAX_TAKES, MAX_TOKENS_LIMIT
from generator.services.primes import prime_split
from musiclib.ways import DEFAULT_WAY, way_choices
from musiclib.ways.midi_notes import MAX_PRIMER_BARS

API_NAMESPACE = "api_v1"
MAX_SEED = 2**62
MAX_EPOCHS = 10_000
MAX_TOP_K = 500
MAX_PRIME_CHARS = 2000
MAX_ID = 2**63 - 1
MAX_AUDIO_SECONDS = 60.0  # seconds of audio a generated piece may last (about 2,600 frames)
# The request fields that say how the pieces begin: `services.generation_prime_build`'s
# keywords, which name them alike.
PRIME_FIELDS = (
    "prime",
    "meter",
    "key",
    "opening",
    "primer_tune",
    "primer_midi",
    "primer_bars",
    "prime_audio",
    "seconds",
)


# --- helpers ---------------------------------------------------------------------------------


def absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


def api_url(request, name: str, *args: Any) -> str:
    return absolute(request, reverse(f"{API_NAMESPACE}:{name}", args=args))


def web_url(request, name: str, *args: Any) -> str | None:
    """An absolute URL of the site's own page or file, or None when the site has no such
    route (the API never depends on a page existing)."""
    try:
        return absolute(request, reverse(name, args=args))
    except NoReverseMatch:
        return None


def piece_download_url(request, piece_id: int, fmt: str) -> str | None:
    """The site's download URL of a piece in one format (the site serves the files)."""
    return web_url(request, "piece_download", piece_id, fmt)


class ContextMixin:
    @property
    def request(self):
        return self.context.get("request")


# --- strict request fields --------------------------------------------------------------------


def _json_request(field: serializers.Field) -> bool:
    request = field.context.get("request") if field.root is not None else None
    content_type = getattr(request, "content_type", "") or ""
    return content_type.split(";")[0].strip().lower() == "application/json"


class JsonTyped:
    """In a JSON body a field must have its JSON type: "4" is not a count and 1 is not a
    name (DRF would coerce both). Form and multipart bodies are all strings, as ever."""

    json_types: tuple[type, ...] = ()
    json_type_name = ""

    def to_internal_value(self, data: Any) -> Any:
        if _json_request(self) and (
            not isinstance(data, self.json_types)
            or (isinstance(data, bool) and bool not in self.json_types)
        ):
            raise serializers.ValidationError(f"Give {self.json_type_name}.", code="invalid")
        return super().to_internal_value(data)


class StrictCharField(JsonTyped, serializers.CharField):
    json_types, json_type_name = (str,), "a string"


class StrictIntegerField(JsonTyped, serializers.IntegerField):
    json_types, json_type_name = (int,), "a whole number"


class StrictFloatField(JsonTyped, serializers.FloatField):
    json_types, json_type_name = (int, float), "a number"


class StrictBooleanField(JsonTyped, serializers.BooleanField):
    json_types, json_type_name = (bool,), "true or false"


# --- shared response pieces ------------------------------------------------------------------


class HistoryEntrySerializer(serializers.Serializer):
    epoch = serializers.IntegerField()
    loss = serializers.FloatField(allow_null=True)
    val_loss = serializers.FloatField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True, required=False)
    val_loss_memory = serializers.FloatField(
        required=False,
        help_text="Validation loss with the piece's memory (absent for epochs trained before it "
        "was measured, and for ways without it).",
    )
    learning_rate = serializers.FloatField(
        required=False,
        help_text="The optimizer's step size in this epoch (absent for epochs trained before "
        "it was recorded); it falls when the run cuts it after epochs without a gain.",
    )
    warmup = serializers.BooleanField(
        required=False,
        help_text="Whether the epoch learned from the run's warm-up corpus too (present only "
        "in runs with one).",
    )


def _link(what: str) -> serializers.URLField:
    return serializers.URLField(allow_null=True, required=False, help_text=what)


class PieceDownloadsSerializer(serializers.Serializer):
    """Absolute download links of the formats the piece's way offers, and only those (an
    ABC piece: abc, midi, musicxml, audio; a MIDI piece: text, midi, musicxml, audio; an
    audio piece: text, wav, ogg); null where the piece has no such file (no MIDI yet, or it
    does not parse, so it has no score)."""

    abc = _link("The ABC text (ways written in ABC).")
    text = _link("The piece's tokens as plain text (ways not written in ABC).")
    midi = _link("MIDI (ways with notes).")
    musicxml = _link("MusicXML (ways with notes).")
    audio = _link(
        "Audio rendered from the MIDI (ways with notes); 202 with Retry-After while the "
        "worker renders it."
    )
    wav = _link("The recording as WAV (audio ways).")
    ogg = _link("The recording as OGG Vorbis (audio ways).")


class TuneDownloadsSerializer(serializers.Serializer):
    """Absolute download links of the formats the tune's way offers, and only those (a
    recording: audio, its FLAC)."""

    abc = _link("The ABC text (ways written in ABC).")
    text = _link("The tune's tokens as plain text (other ways with notes).")
    midi = _link("MIDI (ways with notes).")
    musicxml = _link("MusicXML (ways with notes).")
    audio = _link(
        "Audio: rendered from the MIDI (202 with Retry-After while the worker renders it), "
        "or the recording itself (FLAC)."
    )


class WayChoiceField(serializers.ChoiceField):
    """A way's name, one of the registry's. The choices are read again whenever they are
    used, so a way registered later is accepted and in the schema, even by a serializer
    made once (as `extend_schema` declarations are)."""

    def __init__(self, **kwargs: Any):
        super().__init__(choices=way_choices(), **kwargs)

    def _get_choices(self) -> dict:
        current = way_choices()
        if [name for name, _ in current] != list(self._choices):
            self._set_choices(current)
        return self._choices

    choices = property(_get_choices, serializers.ChoiceField._set_choices)

    def to_internal_value(self, data: Any) -> Any:
        self._get_choices()
        return super().to_internal_value(data)

    def to_representation(self, value: Any) -> Any:
        self._get_choices()
        return super().to_representation(value)


# --- corpora and tunes -----------------------------------------------------------------------


class CorpusSerializer(ContextMixin, serializers.ModelSerializer):
    way = WayChoiceField(read_only=True)
    n_tunes = serializers.SerializerMethodField()
    n_runs = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()
    tunes_url = serializers.SerializerMethodField()
    imports_url = serializers.SerializerMethodField()

    class Meta:
        model = Corpus
        fields = [
            "id",
            "name",
            "way",
            "source",
            "description",
            "created_at",
            "n_tunes",
            "n_runs",
            "url",
            "web_url",
            "tunes_url",
            "imports_url",
        ]
        read_only_fields = fields

    def get_n_tunes(self, obj: Corpus) -> int:
        value = getattr(obj, "n_tunes", None)
        return value if value is not None else obj.tunes.count()

    def get_n_runs(self, obj: Corpus) -> int:
        value = getattr(obj, "n_runs", None)
        return value if value is not None else obj.runs.count()

    def get_url(self, obj: Corpus) -> str:
        return api_url(self.request, "corpus-detail", obj.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_web_url(self, obj: Corpus) -> str | None:
        return web_url(self.request, "corpus_detail", obj.pk)

    def get_tunes_url(self, obj: Corpus) -> str:
        return api_url(self.request, "corpus-tunes", obj.pk)

    def get_imports_url(self, obj: Corpus) -> str:
        return api_url(self.request, "corpus-imports", obj.pk)


class CorpusCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    way = WayChoiceField(default=DEFAULT_WAY)
    source = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    description = StrictCharField(required=False, allow_blank=True, default="")

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("A corpus needs a name.")
        if Corpus.objects.filter(name=value).exists():
            raise serializers.ValidationError("A corpus with this name exists already.")
        return value


class TuneSerializer(ContextMixin, serializers.ModelSerializer):
    corpus_name = serializers.CharField(source="corpus.name", read_only=True)
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()
    downloads = serializers.SerializerMethodField()

    class Meta:
        model = Tune
        fields = [
            "id",
            "corpus",
            "corpus_name",
            "number",
            "title",
            "meter",
            "key",
            "unit_length",
            "n_notes",
            "source_file",
            "created_at",
            "url",
            "web_url",
            "downloads",
        ]
        read_only_fields = fields

    def get_url(self, obj: Tune) -> str:
        return api_url(self.request, "tune-detail", obj.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_web_url(self, obj: Tune) -> str | None:
        return web_url(self.request, "tune_detail", obj.pk)

    @extend_schema_field(TuneDownloadsSerializer)
    def get_downloads(self, obj: Tune) -> dict[str, str | None]:
        return {
            fmt: web_url(self.request, "tune_download", obj.pk, fmt) for fmt in tune_downloads(obj)
        }


class TuneDetailSerializer(TuneSerializer):
    class Meta(TuneSerializer.Meta):
        fields = [*TuneSerializer.Meta.fields, "text"]
        read_only_fields = fields


# --- imports ---------------------------------------------------------------------------------


class ImportFailureSerializer(serializers.Serializer):
    file = serializers.CharField()
    tune = serializers.IntegerField()
    reason = serializers.CharField()


class ImportJobSerializer(ContextMixin, serializers.ModelSerializer):
    failures = ImportFailureSerializer(many=True, read_only=True)
    done = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    corpus_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "corpus",
            "source",
            "status",
            "done",
            "imported",
            "duplicates",
            "failures",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "code_version",
            "url",
            "corpus_url",
        ]
        read_only_fields = fields

    def get_done(self, obj: ImportJob) -> bool:
        return obj.status not in (JobStatus.QUEUED, JobStatus.RUNNING)

    def get_url(self, obj: ImportJob) -> str:
        return api_url(self.request, "import-detail", obj.pk)

    def get_corpus_url(self, obj: ImportJob) -> str:
        return api_url(self.request, "corpus-detail", obj.corpus_id)


class ImportRequestSerializer(serializers.Serializer):
    """Either an uploaded ABC file (multipart field `file`) or a `source`; which may be
    imported is `services.import_job_create`'s to say."""

    source = StrictCharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="`music21:<name>` (e.g. `music21:oneills1850`), or a folder or file on the "
        "server inside one of settings.API_IMPORT_ROOTS.",
    )
    file = serializers.FileField(
        required=False,
        help_text="An ABC file (multipart/form-data), at most settings.MAX_UPLOAD_BYTES bytes.",
    )


# --- runs and checkpoints --------------------------------------------------------------------


class CheckpointSerializer(ContextMixin, serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    run_url = serializers.SerializerMethodField()

    class Meta:
        model = Checkpoint
        fields = [
            "id",
            "run",
            "epoch",
            "loss",
            "val_loss",
            "size_bytes",
            "created_at",
            "url",
            "run_url",
        ]
        read_only_fields = fields

    def get_url(self, obj: Checkpoint) -> str:
        return api_url(self.request, "checkpoint-detail", obj.pk)

    def get_run_url(self, obj: Checkpoint) -> str:
        return api_url(self.request, "run-detail", obj.run_id)


class TrainingRunSerializer(ContextMixin, serializers.ModelSerializer):
    way = WayChoiceField(read_only=True)
    corpus_name = serializers.CharField(source="corpus.name", read_only=True)
    label = serializers.SerializerMethodField()
    history = HistoryEntrySerializer(many=True, read_only=True)
    best_val_loss = serializers.SerializerMethodField()
    done = serializers.SerializerMethodField()
    n_checkpoints = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()
    checkpoints_url = serializers.SerializerMethodField()
    pieces_url = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "label",
            "name",
            "corpus",
            "corpus_name",
            "warmup_corpus",
            "way",
            "preset",
            "config",
            "epochs",
            "seed",
            "status",
            "done",
            "cancel_requested",
            "progress",
            "epochs_done",
            "history",
            "best_val_loss",
            "n_checkpoints",
            "outcome",
            "device",
            "worker",
            "attempts",
            "error",
            "code_version",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "url",
            "web_url",
            "checkpoints_url",
            "pieces_url",
        ]
        read_only_fields = fields

    def get_label(self, obj: TrainingRun) -> str:
        return str(obj)

    def get_best_val_loss(self, obj: TrainingRun) -> float | None:
        values = [h["val_loss"] for h in obj.history or [] if h.get("val_loss") is not None]
        return min(values) if values else None

    def get_done(self, obj: TrainingRun) -> bool:
        return not obj.is_active and obj.status != JobStatus.DRAFT

    def get_n_checkpoints(self, obj: TrainingRun) -> int:
        value = getattr(obj, "n_checkpoints", None)
        return value if value is not None else obj.checkpoints.count()

    def get_url(self, obj: TrainingRun) -> str:
        return api_url(self.request, "run-detail", obj.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_web_url(self, obj: TrainingRun) -> str | None:
        return web_url(self.request, "run_detail", obj.pk)

    def get_checkpoints_url(self, obj: TrainingRun) -> str:
        return api_url(self.request, "run-checkpoints", obj.pk)

    def get_pieces_url(self, obj: TrainingRun) -> str:
        return f"{api_url(self.request, 'piece-list')}?run={obj.pk}"


class TrainingRunDetailSerializer(TrainingRunSerializer):
    checkpoints = serializers.SerializerMethodField()
    data_stats = serializers.JSONField(read_only=True)
    created_by = serializers.SerializerMethodField()

    class Meta(TrainingRunSerializer.Meta):
        fields = [*TrainingRunSerializer.Meta.fields, "data_stats", "created_by", "checkpoints"]
        read_only_fields = fields

    @extend_schema_field(CheckpointSerializer(many=True))
    def get_checkpoints(self, obj: TrainingRun) -> list[dict[str, Any]]:
        return CheckpointSerializer(
            selectors.run_checkpoints(run=obj), many=True, context=self.context
        ).data

    def get_created_by(self, obj: TrainingRun) -> str | None:
        return obj.created_by.get_username() if obj.created_by_id else None


class TrainingRunCreateSerializer(serializers.Serializer):
    corpus = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="A corpus id.")
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    preset = StrictCharField(
        max_length=20,
        default="quick",
        help_text="A preset of the corpus's way: tiny, quick, full; large (ABC: three LSTM(512) "
        "layers, stops early).",
    )
    epochs = StrictIntegerField(min_value=1, max_value=MAX_EPOCHS, default=10)
    seed = StrictIntegerField(min_value=0, max_value=MAX_SEED, default=0)
    config = serializers.DictField(
        required=False,
        default=dict,
        help_text='Overrides of the preset, e.g. {"units": [256, 256], "dropout": 0.2}; '
        '{"early_stopping_patience": 3} stops the run once 3 epochs in a row bring no lower '
        "validation loss (0: never).",
    )
    start = StrictBooleanField(
        default=True, help_text="Queue the run at once (default); false keeps it a draft."
    )
    warmup_corpus = StrictIntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        default=None,
        help_text="A second corpus of the same way to learn from first, together with this "
        'one, for config\'s "warmup_epochs" epochs (ABC and MIDI runs).',
    )

    def validate_corpus(self, value: int) -> Corpus:
        corpus = Corpus.objects.filter(pk=value).first()
        if corpus is None:
            raise serializers.ValidationError(f"There is no corpus {value}.")
        return corpus

    def validate_warmup_corpus(self, value: int | None) -> Corpus | None:
        return None if value is None else self.validate_corpus(value)


class RunResumeSerializer(serializers.Serializer):
    epochs = StrictIntegerField(
        min_value=1,
        max_value=MAX_EPOCHS,
        required=False,
        allow_null=True,
        help_text="Train to this epoch (raise it to train a finished run further).",
    )


# --- pieces ----------------------------------------------------------------------------------


class PrimerSourceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["tune", "midi"], help_text="A tune of the run's corpus, or an uploaded MIDI file."
    )
    tune = serializers.IntegerField(allow_null=True, help_text="The tune's id (kind `tune`).")
    title = serializers.CharField(allow_null=True, help_text="The tune's title (kind `tune`).")
    file = serializers.CharField(allow_null=True, help_text="The upload's name (kind `midi`).")
    parts = serializers.CharField(
        allow_null=True, help_text="How the upload was read: `melody` or `all` (kind `midi`)."
    )
    bars = serializers.IntegerField(help_text="Bars of the source the pieces start with.")
    tokens = serializers.IntegerField(help_text="Tokens the model was primed with.")


PRIMER_KEYS = ("kind", "tune", "title", "file", "parts", "bars", "tokens")


def primer_of(job: GenerationJob) -> dict[str, Any] | None:
    """Where a job's primer came from, every key present (null where it does not apply)."""
    try:
        source, _ = prime_split(job.prime)
    except ValueError:
        return None
    return {key: source.get(key) for key in PRIMER_KEYS} if source else None


def evaluation_of(piece: Piece, *, full: bool = True) -> dict[str, Any] | None:
    """The piece's evaluation as a flat dict, once the evaluation app stores them; related
    rows by id. Not `full` (lists of pieces): scores only, without nested data."""
    if selectors.evaluation_relation() is None:
        return None
    evaluation = getattr(piece, "evaluation", None)
    if evaluation is None:
        return None
    out: dict[str, Any] = {}
    for field in evaluation._meta.concrete_fields:
        if field.primary_key or (field.is_relation and field.related_model is Piece):
            continue
        value = getattr(evaluation, field.attname, None)  # a relation: its id
        if isinstance(value, (list, dict)):
            if full:
                out[field.name] = value
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[field.name] = value
        elif hasattr(value, "isoformat"):
            out[field.name] = value.isoformat()
        else:
            out[field.name] = str(value)
    return out


def _score(evaluation: dict[str, Any] | None, names: tuple[str, ...]) -> float | None:
    for name in names:
        value = (evaluation or {}).get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


class PieceSerializer(ContextMixin, serializers.ModelSerializer):
    way = WayChoiceField(read_only=True)
    run_label = serializers.SerializerMethodField()
    corpus = serializers.IntegerField(source="run.corpus_id", read_only=True)
    corpus_name = serializers.CharField(source="run.corpus.name", read_only=True)
    epoch = serializers.IntegerField(source="checkpoint.epoch", read_only=True)
    valid = serializers.BooleanField(source="is_valid", read_only=True)
    has_midi = serializers.SerializerMethodField()
    has_audio = serializers.SerializerMethodField()
    evaluation = serializers.SerializerMethodField()
    novelty = serializers.SerializerMethodField()
    rating = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()
    job_url = serializers.SerializerMethodField()
    downloads = serializers.SerializerMethodField()

    class Meta:
        model = Piece
        fields = [
            "id",
            "title",
            "way",
            "run",
            "run_label",
            "corpus",
            "corpus_name",
            "checkpoint",
            "epoch",
            "job",
            "index",
            "seed",
            "meter",
            "key",
            "n_notes",
            "parses",
            "plays",
            "bar_accuracy",
            "valid",
            "has_midi",
            "has_audio",
            "evaluation",
            "novelty",
            "rating",
            "created_at",
            "url",
            "web_url",
            "job_url",
            "downloads",
        ]
        read_only_fields = fields

    def get_run_label(self, obj: Piece) -> str:
        return str(obj.run)

    def get_has_midi(self, obj: Piece) -> bool:
        return bool(obj.midi)

    def get_has_audio(self, obj: Piece) -> bool:
        return bool(obj.audio)

    def _evaluation(self, obj: Piece) -> dict[str, Any] | None:
        cache = self.context.setdefault("_evaluations", {})
        if obj.pk not in cache:
            cache[obj.pk] = evaluation_of(obj, full=isinstance(self, PieceDetailSerializer))
        return cache[obj.pk]

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "additionalProperties": True,
            "description": "The evaluation app's scores of the piece (related rows by id; "
            "nested data such as `features` on the piece's own page only); null until "
            "it has them.",
        }
    )
    def get_evaluation(self, obj: Piece) -> dict[str, Any] | None:
        return self._evaluation(obj)

    def get_novelty(self, obj: Piece) -> float | None:
        return _score(self._evaluation(obj), ("novelty",))

    def get_rating(self, obj: Piece) -> float | None:
        """Mean overall liking (1-5) from listeners, when the piece was in a survey."""
        rating = getattr(obj, "mean_rating", None)
        return round(float(rating), 3) if rating is not None else None

    def get_url(self, obj: Piece) -> str:
        return api_url(self.request, "piece-detail", obj.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_web_url(self, obj: Piece) -> str | None:
        return web_url(self.request, "piece_detail", obj.pk)

    def get_job_url(self, obj: Piece) -> str:
        return api_url(self.request, "job-detail", obj.job_id)

    @extend_schema_field(PieceDownloadsSerializer)
    def get_downloads(self, obj: Piece) -> dict[str, str | None]:
        """The formats the piece's way offers, each as an absolute link where the piece has
        the file: the same the site's piece page lists."""
        return {
            fmt: piece_download_url(self.request, obj.pk, fmt) if has else None
            for fmt, has in piece_downloads(obj).items()
        }


class PieceDetailSerializer(PieceSerializer):
    validity_detail = serializers.JSONField(read_only=True)
    primer = serializers.SerializerMethodField()
    survey = serializers.SerializerMethodField()

    class Meta(PieceSerializer.Meta):
        fields = [*PieceSerializer.Meta.fields, "text", "validity_detail", "primer", "survey"]
        read_only_fields = fields

    @extend_schema_field(PrimerSourceSerializer(allow_null=True))
    def get_primer(self, obj: Piece) -> dict[str, Any] | None:
        """Where the opening of the piece came from: null without a MIDI primer."""
        return primer_of(obj.job)

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "additionalProperties": True,
            "description": (
                "What listeners said of the piece in blind surveys: how many rated it, "
                "their mean liking and coherence (1-5, with 95 % intervals) and the share "
                "who took it for a person's; null while no listener has rated it."
            ),
        }
    )
    def get_survey(self, obj: Piece) -> dict[str, Any] | None:
        fn = piece_section("survey")
        return fn(obj) if fn is not None else None


# --- generation ------------------------------------------------------------------------------


class GenerationJobSerializer(ContextMixin, serializers.ModelSerializer):
    run = serializers.IntegerField(source="checkpoint.run_id", read_only=True)
    epoch = serializers.IntegerField(source="checkpoint.epoch", read_only=True)
    prime = serializers.SerializerMethodField()
    primer = serializers.SerializerMethodField()
    done = serializers.SerializerMethodField()
    queue_place = serializers.SerializerMethodField(
        help_text="While queued: how many generations are queued ahead of this one "
        "(0: next in line); null once started."
    )
    waiting = serializers.SerializerMethodField(
        help_text="What the job is doing while not done, in a sentence: its place in the "
        "queue while queued, writing while running; empty once done."
    )
    pieces = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = GenerationJob
        fields = [
            "id",
            "checkpoint",
            "run",
            "epoch",
            "count",
            "temperature",
            "top_k",
            "top_p",
            "seed",
            "max_length",
            "prime",
            "primer",
            "grammar",
            "folk_form",
            "returns",
            "memory",
            "moves",
            "takes",
            "takes_by",
            "is_epoch_sample",
            "status",
            "done",
            "queue_place",
            "waiting",
            "error",
            "code_version",
            "created_at",
            "started_at",
            "finished_at",
            "seconds",
            "pieces",
            "url",
            "web_url",
        ]
        read_only_fields = fields

    def get_prime(self, obj: GenerationJob) -> str:
        """The text the model was primed with (a MIDI primer's source is in `primer`)."""
        try:
            return prime_split(obj.prime)[1]
        except ValueError:
            return obj.prime

    @extend_schema_field(PrimerSourceSerializer(allow_null=True))
    def get_primer(self, obj: GenerationJob) -> dict[str, Any] | None:
        return primer_of(obj)

    def get_done(self, obj: GenerationJob) -> bool:
        return obj.status not in (JobStatus.QUEUED, JobStatus.RUNNING)

    def _place(self, obj: GenerationJob) -> selectors.QueuePlace | None:
        cache = self.context.setdefault("_queue_places", {})
        if obj.pk not in cache:
            cache[obj.pk] = selectors.job_queue_place(job=obj)
        return cache[obj.pk]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_queue_place(self, obj: GenerationJob) -> int | None:
        place = self._place(obj)
        return None if place is None else place.ahead

    def get_waiting(self, obj: GenerationJob) -> str:
        return presenters.job_waiting_text(obj, self._place(obj))

    @extend_schema_field(PieceSerializer(many=True))
    def get_pieces(self, obj: GenerationJob) -> list[dict[str, Any]]:
        if obj.status in (JobStatus.QUEUED, JobStatus.RUNNING) and not self.context.get(
            "include_pieces_always"
        ):
            pieces: list[Piece] = []
        else:
            pieces = selectors.job_pieces(job=obj)
        return PieceSerializer(pieces, many=True, context=self.context).data

    def get_url(self, obj: GenerationJob) -> str:
        return api_url(self.request, "job-detail", obj.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_web_url(self, obj: GenerationJob) -> str | None:
        return web_url(self.request, "job_detail", obj.pk)


class GenerationJobListSerializer(GenerationJobSerializer):
    """Jobs in a list: without their pieces (follow `url` for them)."""

    class Meta(GenerationJobSerializer.Meta):
        fields = [f for f in GenerationJobSerializer.Meta.fields if f != "pieces"]
        read_only_fields = fields


class GenerationRequestSerializer(serializers.Serializer):
    """What to generate. Name a checkpoint, or a run to use its latest checkpoint.

    The opening of the pieces is either `prime` (ABC header fields and notes, as the model
    saw them in training: `M:6/8\\nL:1/8\\nK:D\\n|:dBA`) or the site's form fields `meter`,
    `key` and `opening`, which build the same prime. A MIDI-way run may instead start from a
    primer: the first `primer_bars` bars of a tune of its corpus (`primer_tune`) or of an
    uploaded MIDI file (`primer_midi`, multipart/form-data)."""

    checkpoint = StrictIntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True, help_text="A checkpoint id."
    )
    run = StrictIntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="A run id: its latest checkpoint is used.",
    )
    count = StrictIntegerField(min_value=1, max_value=MAX_PIECES_PER_JOB, default=4)
    temperature = StrictFloatField(
        default=1.0,
        max_value=10.0,
        help_text="Greater than 0. Low: safe and repetitive; high: adventurous and wild.",
    )
    seed = StrictIntegerField(
        min_value=0,
        max_value=MAX_SEED,
        required=False,
        allow_null=True,
        help_text="Leave out for a random seed; the one chosen is stored on the job.",
    )
    top_k = StrictIntegerField(
        min_value=0, max_value=MAX_TOP_K, default=0, help_text="0 means no top-k cut."
    )
    top_p = StrictFloatField(
        default=1.0,
        max_value=1.0,
        help_text="Nucleus sampling: sample only from the likeliest symbols whose "
        "probabilities add up to this share; more than 0 and at most 1, 1 means no cut.",
    )
    max_length = StrictIntegerField(
        min_value=16, max_value=MAX_TOKENS_LIMIT, default=800, help_text="Tokens per piece."
    )
    prime = StrictCharField(
        max_length=MAX_PRIME_CHARS,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
    )
    meter = StrictCharField(max_length=10, required=False, allow_blank=True, default="")
    key = StrictCharField(max_length=20, required=False, allow_blank=True, default="")
    opening = StrictCharField(
        max_length=400, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    primer_tune = StrictIntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="MIDI-way runs: a tune id of the run's corpus; the pieces start with its "
        "first `primer_bars` bars.",
    )
    primer_midi = serializers.FileField(
        required=False,
        allow_null=True,
        allow_empty_file=False,
        error_messages={
            "empty": "The MIDI file is empty.",
            "invalid": "Upload a MIDI file (multipart/form-data), not text.",
        },
        help_text="MIDI-way runs: a MIDI file (multipart/form-data, at most "
        "settings.MAX_UPLOAD_BYTES bytes); the pieces start with its first `primer_bars` "
        "bars. It is read, never stored.",
    )
    primer_bars = StrictIntegerField(
        min_value=1,
        max_value=MAX_PRIMER_BARS,
        required=False,
        allow_null=True,
        help_text="Bars of the primer (default 4); only with `primer_tune` or `primer_midi`.",
    )
    grammar = StrictBooleanField(default=False, help_text="Grammar-aware sampling mask.")
    folk_form = StrictBooleanField(
        default=False,
        help_text="ABC runs, with `grammar`: shape each tune as a training tune drawn by "
        "its seed is shaped (its parts, bars per part, repeat signs, the last note's degree), "
        "repeats and endings closed, ending after its parts.",
    )
    returns = StrictBooleanField(
        default=False,
        help_text="ABC runs, with `folk_form`: bars and phrases come back where a plan drawn "
        "by each piece's seed from the training tunes brings them back.",
    )
    memory = StrictBooleanField(
        default=False,
        help_text="ABC and MIDI runs: each draw also looks back over the piece itself (what "
        "followed the longest earlier match, weighted by its length as fitted on the run's "
        "held-out pieces).",
    )
    moves = StrictBooleanField(
        default=False,
        help_text="ABC runs: each candidate note weighed by its move from the last note and "
        "by the longest phrase of the training pieces it would end, as the checkpoint's moves "
        "(fitted when its run ended) say, so that the pieces step, leap, turn and end the "
        "corpus's phrases as often as the run's training pieces. A checkpoint without fitted "
        "moves samples without them, and the job's `moves` says false.",
    )
    takes = StrictIntegerField(
        min_value=1,
        max_value=MAX_TAKES,
        default=1,
        help_text=f"1..{MAX_TAKES}: draws of each piece; the one the model finds least "
        "surprising (fewest nats per symbol it wrote) is kept. 1: the first draw.",
    )
    takes_by = serializers.ChoiceField(
        choices=TAKES_BY_CHOICES,  # the job's own: one enum in the schema, asked and told
        default="model",
        help_text="Runs whose pieces are melodies (ABC, MIDI), with takes > 1: which take is "
        "kept. model: the least surprising to the model; corpus: one drawn by the "
        "checkpoint's critic, the more like the corpus's tunes than the model's own the "
        "likelier (fitted when the run ended; a checkpoint without one keeps the model's "
        "choice, and the job's takes_by says model).",
    )
    seconds = StrictFloatField(
        required=False,
        allow_null=True,
        min_value=0.5,
        max_value=MAX_AUDIO_SECONDS,
        help_text="Audio-way runs: seconds of audio per piece (replaces max_length).",
    )
    prime_audio = serializers.FileField(
        required=False,
        allow_null=True,
        allow_empty_file=False,
        error_messages={
            "empty": "The recording is empty.",
            "invalid": "Upload a recording (multipart/form-data), not text.",
        },
        help_text="Audio-way runs: a WAV, FLAC or OGG recording (multipart/form-data, at most "
        "settings.MAX_UPLOAD_BYTES bytes) that the pieces continue. It is read, never stored.",
    )

    def validate_temperature(self, value: float) -> float:
        if not value > 0:
            raise serializers.ValidationError("Temperature must be greater than 0.")
        return value

    def validate_top_p(self, value: float) -> float:
        if not 0 < value <= 1:
            raise serializers.ValidationError("Top-p must be more than 0 and at most 1.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint (or the run's latest), then the opening of the pieces, built by
        the service the generate page uses too: `prime` and `max_length` as the job takes
        them. A refusal names its field, as the service does."""
        ckpt_id, run_id = attrs.get("checkpoint"), attrs.get("run")
        if ckpt_id is None and run_id is None:
            raise serializers.ValidationError(
                {"checkpoint": ["Name a checkpoint, or a run to use its latest checkpoint."]}
            )
        if ckpt_id is not None:
            checkpoint = Checkpoint.objects.select_related("run").filter(pk=ckpt_id).first()
            if checkpoint is None:
                raise serializers.ValidationError(
                    {"checkpoint": [f"There is no checkpoint {ckpt_id}."]}
                )
            if run_id is not None and checkpoint.run_id != run_id:
                raise serializers.ValidationError(
                    {"run": [f"Checkpoint {ckpt_id} belongs to run {checkpoint.run_id}."]}
                )
        else:
            run = TrainingRun.objects.filter(pk=run_id).first()
            if run is None:
                raise serializers.ValidationError({"run": [f"There is no run {run_id}."]})
            checkpoint = run.last_checkpoint
            if checkpoint is None:
                raise serializers.ValidationError(
                    {"run": [f"Run {run_id} has no checkpoint yet: wait for its first epoch."]}
                )
        attrs["checkpoint_object"] = checkpoint
        with service_errors():
            opening = services.generation_prime_build(
                checkpoint=checkpoint,
                **{name: attrs[name] for name in PRIME_FIELDS if attrs.get(name) is not None},
            )
        attrs["prime"] = opening.prime
        if opening.max_length is not None:
            attrs["max_length"] = opening.max_length
        return attrs


class AllowanceSerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        allow_null=True, help_text="Pieces you may generate per hour; null: no limit."
    )
    used = serializers.IntegerField(help_text="Pieces requested in the last hour.")
    remaining = serializers.IntegerField(
        allow_null=True, help_text="Pieces you may still request now; null: no limit."
    )
    scope = serializers.ChoiceField(
        choices=["address", "user", "staff"], help_text="What the limit is counted by."
    )


def max_upload_bytes() -> int:
    return int(settings.MAX_UPLOAD_BYTES)
