"""Corpora, tunes, training runs, checkpoints, generation jobs and pieces.

A job is a row: every input (corpus, way, hyperparameters, seed, temperature) and the code
version are stored on it, so any checkpoint or piece can be reproduced.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from musiclib.ways.registry import DEFAULT_WAY


class Way:
    """The built-in ways' names, for code that means one of them (the bootstrap's MIDI
    corpus). What a way can do, and which ways there are, is the registry's to say:
    `musiclib.ways.get_way(name).capabilities`, `way_choices()`."""

    ABC, MIDI, AUDIO = "abc", "midi", "audio"


def way_choices() -> list[tuple[str, str]]:
    """The `way` fields' choices: every registered way, read when a form or serializer is
    made, so a way added to the registry is offered everywhere. (Migrations refer to this
    function by name: keep it here.)"""
    from musiclib.ways import way_choices as registered

    return registered()


class JobStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)

# A piece is valid when it parses and plays and, for a way whose validity is notation's
# (`Capabilities.checks_bars`), at least this share of its bars add up (0..1). A recording
# (the audio way) is valid when its tokens decode and it is audible. `Piece.is_valid` and
# `valid_pieces()` say the same thing, for one row and for a query: this is the one rule.
VALID_BAR_SHARE = 0.9


def _ways_checking_bars() -> list[str]:
    from musiclib.ways import all_ways

    return [way.name for way in all_ways() if way.capabilities.checks_bars]


def _checks_bars(way: str) -> bool:
    from musiclib.ways import get_way

    try:
        return get_way(way).capabilities.checks_bars
    except ValueError:  # a way no longer registered: nothing to check its bars with
        return False


def valid_pieces() -> models.Q:
    """The filter of valid pieces (the gallery's "Valid only", the API's `valid`, run
    reports' valid shares): parses and plays, and bars that add up where the way has bars."""
    return models.Q(parses=True, plays=True) & (
        models.Q(bar_accuracy__gte=VALID_BAR_SHARE) | ~models.Q(way__in=_ways_checking_bars())
    )


class Corpus(models.Model):
    name = models.CharField(max_length=200, unique=True)
    way = models.CharField(max_length=10, choices=way_choices, default=DEFAULT_WAY)
    source = models.CharField(max_length=500, blank=True, help_text="Where the tunes came from.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "corpora"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("corpus_detail", args=[self.pk])


class Tune(models.Model):
    """One human piece of a corpus, stored in its way's native text form.

    ABC tunes keep their ABC text; MIDI tunes keep their token text and the source file; the
    `data` file holds the original bytes where there are any.
    """

    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="tunes")
    number = models.IntegerField(default=0, help_text="X: number or position in the source.")
    title = models.CharField(max_length=300, blank=True)
    meter = models.CharField(max_length=20, blank=True)
    key = models.CharField(max_length=40, blank=True)
    unit_length = models.CharField(max_length=20, blank=True)
    text = models.TextField(help_text="ABC text (ABC way) or token text (MIDI way).")
    data = models.FileField(upload_to="tunes/%Y/%m/", blank=True)
    source_file = models.CharField(max_length=500, blank=True)
    content_hash = models.CharField(max_length=64)
    n_notes = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["corpus", "number", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["corpus", "content_hash"], name="tune_unique_in_corpus")
        ]
        indexes = [models.Index(fields=["corpus", "title"])]

    def __str__(self) -> str:
        return self.title or f"Tune {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("tune_detail", args=[self.pk])


class ImportJob(models.Model):
    """An import of a folder, an upload or a bundled music21 corpus into a corpus."""

    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="imports")
    source = models.CharField(max_length=500)
    upload = models.FileField(upload_to="uploads/%Y/%m/", blank=True)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    imported = models.IntegerField(default=0)
    duplicates = models.IntegerField(default=0)
    failures = models.JSONField(default=list, blank=True, help_text="[{file, tune, reason}]")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    code_version = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.source} into {self.corpus}"


class TrainingRun(models.Model):
    corpus = models.ForeignKey(Corpus, on_delete=models.PROTECT, related_name="runs")
    name = models.CharField(max_length=200, blank=True)
    way = models.CharField(max_length=10, choices=way_choices, default=DEFAULT_WAY)
    preset = models.CharField(max_length=20, default="quick")
    config = models.JSONField(
        default=dict,
        blank=True,
        help_text="Overrides of the preset; resolved values are stored.",
    )
    epochs = models.PositiveIntegerField(default=10)
    seed = models.BigIntegerField(default=0)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1 over all epochs.")
    epochs_done = models.PositiveIntegerField(default=0)
    history = models.JSONField(
        default=list,
        blank=True,
        help_text="[{epoch, loss, val_loss, seconds}] per epoch.",
    )
    vocab = models.JSONField(default=list, blank=True)
    tune_id_max = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The run trains on the corpus tunes up to this id.",
    )
    # A second corpus of the same way the run learns from first, for its first
    # config["warmup_epochs"] epochs, beside its own (`Way.prepare(warmup_texts=)`).
    warmup_corpus = models.ForeignKey(
        Corpus,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="warmup_runs",
        verbose_name="learn first from",
        help_text="Another corpus of the same kind, learned together with this one for the "
        "first epochs (the warm-up epochs), before this one alone.",
    )
    warmup_tune_id_max = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The warm-up uses the corpus's tunes up to this id.",
    )
    data_stats = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=40, blank=True)
    device = models.CharField(max_length=100, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker picked it up.")
    code_version = models.CharField(max_length=40, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    staff_checkpoint = models.ForeignKey(
        "Checkpoint",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="chosen checkpoint",
        help_text="The checkpoint that speaks for this run (survey clips, judged pieces). "
        "Empty: the one with the lowest validation loss.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name or f"Run {self.pk} ({self.way}, {self.preset})"

    def get_absolute_url(self) -> str:
        return reverse("run_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def last_checkpoint(self) -> Checkpoint | None:
        return self.checkpoints.order_by("-epoch").first()

    @property
    def chosen_checkpoint(self) -> Checkpoint | None:
        """The checkpoint that speaks for the run (its survey clips, the generate page's
        default): see `chosen_among`. None before the first epoch."""
        return chosen_among(self, self.checkpoints.all())


def chosen_among(run: TrainingRun, checkpoints) -> Checkpoint | None:
    """The run's chosen checkpoint among `checkpoints` (all of the run's): the one staff
    chose, else the lowest validation loss (the later epoch on a tie), else the last one (a
    run without validation losses). The one rule, for a query or a list already loaded."""
    checkpoints = list(checkpoints)
    for checkpoint in checkpoints:
        if checkpoint.pk == run.staff_checkpoint_id:
            return checkpoint
    scored = [c for c in checkpoints if c.val_loss is not None]
    if scored:
        return min(scored, key=lambda c: (c.val_loss, -c.epoch))
    return max(checkpoints, key=lambda c: c.epoch, default=None)


class Checkpoint(models.Model):
    """Weights and optimizer state at the end of one epoch."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="checkpoints")
    epoch = models.PositiveIntegerField()
    file = models.FileField(upload_to="checkpoints/", max_length=300)
    size_bytes = models.BigIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    val_loss = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "epoch"]
        constraints = [
            models.UniqueConstraint(fields=["run", "epoch"], name="checkpoint_unique_epoch")
        ]

    def __str__(self) -> str:
        return f"{self.run} epoch {self.epoch}"


# How a job's kept take is chosen (`GenerationJob.takes_by`; services.pieces.TAKES_BY).
TAKES_BY_CHOICES = [("model", "the model's own view"), ("corpus", "likeness to the corpus")]


class GenerationJob(models.Model):
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.CASCADE, related_name="jobs")
    count = models.PositiveIntegerField(default=1)
    temperature = models.FloatField(default=1.0)
    top_k = models.PositiveIntegerField(default=0, help_text="0 means no top-k cut.")
    top_p = models.FloatField(
        default=1.0,
        help_text="Nucleus sampling: the likeliest symbols up to this share of the "
        "probability, 0 < p <= 1; 1 means no cut.",
    )
    seed = models.BigIntegerField()
    max_length = models.PositiveIntegerField(default=1000, help_text="Tokens per piece.")
    prime = models.TextField(blank=True, help_text="Header fields and opening notes (ABC).")
    grammar = models.BooleanField(default=False, help_text="Grammar-aware sampling mask.")
    folk_form = models.BooleanField(
        default=False,
        help_text="With the grammar: shape each tune as a training tune drawn by its seed "
        "(its parts, bars per part, repeat signs, the last note's degree), repeats and "
        "endings closed, whole closing bars, ending after its parts.",
    )
    returns = models.BooleanField(
        default=False,
        help_text="With the folk form: bars and phrases come back where a plan drawn from "
        "the training tunes (by the piece's seed) brings them back.",
    )
    memory = models.BooleanField(
        default=False,
        help_text="Each draw mixed with what followed the longest earlier match in the same "
        "piece, weighted by match length as fitted on the run's held-out pieces.",
    )
    moves = models.BooleanField(
        default=False,
        help_text="Each candidate note weighed by its move from the last note, as the "
        "checkpoint's moves (fitted when its run ended) say, so that the pieces step, leap "
        "and turn as often as the training pieces (off where it had none fitted).",
    )
    takes = models.PositiveSmallIntegerField(
        default=1,
        help_text="Takes drawn of each piece, 1..8; the one the model finds least "
        "surprising is kept (1: the first draw).",
    )
    takes_by = models.CharField(
        max_length=8,
        choices=TAKES_BY_CHOICES,
        default="model",
        help_text="How the kept take is chosen: the least surprising to the model, or drawn "
        "by how much more like the corpus's tunes than the model's it sounds (the "
        "checkpoint's critic; where it has none, the model's view, and the job says so).",
    )
    is_epoch_sample = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.TextField(blank=True)
    code_version = models.CharField(max_length=40, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    requester_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True, help_text="Sampling time.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Generation {self.pk} from {self.checkpoint}"

    def get_absolute_url(self) -> str:
        return reverse("job_detail", args=[self.pk])


class GenerationRequester(models.Model):
    """One visitor that asks for pieces (a signed-in user, or an anonymous address), as a row
    to lock: creating a generation job locks it (SELECT ... FOR UPDATE) before counting the
    visitor's pieces of the last hour, so concurrent requests of one visitor take turns
    between counting and creating and together never pass the hourly allowance
    (services/allowance.py)."""

    key = models.CharField(max_length=80, unique=True, help_text='"user:<id>" or "ip:<address>".')
    last_request_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key


class Piece(models.Model):
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="pieces")
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.CASCADE, related_name="pieces")
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="pieces")
    way = models.CharField(max_length=10, choices=way_choices, default=DEFAULT_WAY)
    index = models.PositiveIntegerField(default=0, help_text="Position within its job.")
    seed = models.BigIntegerField(help_text="This piece's own seed: reproduces it alone.")
    title = models.CharField(max_length=300, blank=True)
    meter = models.CharField(max_length=20, blank=True)
    key = models.CharField(max_length=40, blank=True)
    text = models.TextField(help_text="ABC text or token text.")
    midi = models.FileField(upload_to="pieces/midi/", blank=True)
    audio = models.FileField(upload_to="pieces/audio/", blank=True)
    n_notes = models.IntegerField(default=0)
    parses = models.BooleanField(null=True)
    plays = models.BooleanField(null=True)
    bar_accuracy = models.FloatField(null=True, blank=True)
    validity_detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "index"]
        indexes = [
            models.Index(fields=["-created_at"]),
            models.Index(fields=["way", "-created_at"]),
            models.Index(fields=["run", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.title or f"Piece {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("piece_detail", args=[self.pk])

    @property
    def is_valid(self) -> bool:
        """See `valid_pieces()`: the same rule for one piece."""
        if not (self.parses and self.plays):
            return False
        return not _checks_bars(self.way) or (self.bar_accuracy or 0) >= VALID_BAR_SHARE
