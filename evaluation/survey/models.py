"""Listener survey (issue 7): blind ratings of generated pieces and human tunes.

Staff set up a Survey (which runs, checkpoints and corpora supply clips, the questions, the
dates); `survey_build_clips` renders every clip the same way whatever its source and gives it
an opaque random token, the only name a listener ever sees. A Listener is an anonymous
visitor identified by a signed cookie; each gets the clips with the fewest responses so far.
One SurveyResponse per listener and clip (a database constraint).

Imported by evaluation/models.py so that Django finds the models.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

DEFAULT_ORIGIN_QUESTION = "Was this piece made by a person or by a computer?"
DEFAULT_LIKING_QUESTION = "How much do you like it?"
DEFAULT_COHERENCE_QUESTION = "How coherent is it as music (does it hang together)?"
DEFAULT_COMMENT_QUESTION = "Anything else? (optional)"


class BuildStatus(models.TextChoices):
    DRAFT = "draft", "Not built"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Building"
    DONE = "done", "Built"
    FAILED = "failed", "Failed"


class Survey(models.Model):
    title = models.CharField(max_length=200)
    introduction = models.TextField(
        blank=True, help_text="Shown on the consent page above what is collected."
    )
    runs = models.ManyToManyField(
        "generator.TrainingRun",
        blank=True,
        related_name="surveys",
        help_text="Pieces generated from each run's chosen checkpoint (the one staff chose "
        "on the run, else the lowest validation loss) supply machine clips.",
    )
    checkpoints = models.ManyToManyField(
        "generator.Checkpoint",
        blank=True,
        related_name="surveys",
        help_text="Pieces generated from these checkpoints supply machine clips.",
    )
    include_epoch_samples = models.BooleanField(
        default=False,
        help_text="Also use the pieces runs write at the end of each epoch while training "
        "(by default only pieces generated on request are used).",
    )
    corpora = models.ManyToManyField(
        "generator.Corpus",
        blank=True,
        related_name="surveys",
        help_text="Tunes of these corpora supply the human clips.",
    )
    clips_per_listener = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(2), MaxValueValidator(100)],
        help_text="Half human, half machine clips (an odd number is rounded down), in a "
        "random order of each listener's own.",
    )
    clips_per_source = models.PositiveIntegerField(
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(500)],
        help_text="Clips drawn from each run, checkpoint and corpus when the clips are built.",
    )
    clip_seconds = models.FloatField(
        default=20.0,
        validators=[MinValueValidator(4.0), MaxValueValidator(120.0)],
        help_text="Target clip length; each clip is cut at the last bar line before it.",
    )
    tempo_qpm = models.FloatField(
        default=120.0,
        validators=[MinValueValidator(40.0), MaxValueValidator(240.0)],
        help_text="Every clip plays at this tempo (quarter notes per minute).",
    )
    min_bars = models.PositiveIntegerField(
        default=4, help_text="Pieces shorter than this many bars are not used."
    )
    origin_question = models.CharField(max_length=300, default=DEFAULT_ORIGIN_QUESTION)
    liking_question = models.CharField(max_length=300, default=DEFAULT_LIKING_QUESTION)
    coherence_question = models.CharField(max_length=300, default=DEFAULT_COHERENCE_QUESTION)
    ask_comment = models.BooleanField(default=True)
    comment_question = models.CharField(max_length=300, default=DEFAULT_COMMENT_QUESTION)
    opens_at = models.DateTimeField(default=timezone.now)
    closes_at = models.DateTimeField(null=True, blank=True, help_text="Empty: no end.")
    public_results = models.BooleanField(
        default=False, help_text="Anyone may read the summary (not the per-clip table)."
    )
    build_status = models.CharField(
        max_length=10, choices=BuildStatus.choices, default=BuildStatus.DRAFT
    )
    build_error = models.TextField(blank=True)
    build_report = models.JSONField(
        default=dict, blank=True, help_text="Clips made and pieces skipped (with why)."
    )
    built_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opens_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("survey_consent", args=[self.pk])

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.build_status == BuildStatus.DONE
            and self.opens_at <= now
            and (self.closes_at is None or now < self.closes_at)
        )


class ClipSource(models.TextChoices):
    MACHINE = "machine", "Machine (generated piece)"
    HUMAN = "human", "Human (corpus tune)"


class SurveyClip(models.Model):
    """One rendered clip. `token` is its only public name; the rest is for staff."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="clips")
    token = models.CharField(max_length=40, unique=True)
    source = models.CharField(max_length=10, choices=ClipSource.choices)
    way = models.CharField(max_length=10)
    piece = models.ForeignKey(
        "generator.Piece", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run = models.ForeignKey(
        "generator.TrainingRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    checkpoint = models.ForeignKey(
        "generator.Checkpoint",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    tune = models.ForeignKey(
        "generator.Tune", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    corpus = models.ForeignKey(
        "generator.Corpus", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    audio = models.FileField(upload_to="survey/", max_length=200, blank=True)
    seconds = models.FloatField(default=0.0, help_text="Cut length before the release tail.")
    bars = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["survey", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(source="machine", piece__isnull=False)
                    | models.Q(source="human", tune__isnull=False)
                    | models.Q(piece__isnull=True, tune__isnull=True)  # source row deleted
                ),
                name="survey_clip_source_matches",
            )
        ]

    def __str__(self) -> str:
        return f"Clip {self.token[:8]}…"

    @property
    def is_human(self) -> bool:
        return self.source == ClipSource.HUMAN


class Experience(models.TextChoices):
    NONE = "none", "None"
    AMATEUR = "amateur", "Amateur"
    PROFESSIONAL = "professional", "Professional"


class Familiarity(models.TextChoices):
    NONE = "none", "Not familiar"
    SOME = "some", "Somewhat familiar"
    VERY = "very", "Very familiar"


class Listener(models.Model):
    """An anonymous listener: a random key (in a signed cookie) and the optional profile."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="listeners")
    key = models.CharField(max_length=40, unique=True)
    experience = models.CharField(max_length=20, choices=Experience.choices, blank=True)
    familiarity = models.CharField(max_length=20, choices=Familiarity.choices, blank=True)
    consented_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["survey", "pk"]

    def __str__(self) -> str:
        return f"Listener {self.pk}"


class ListenerClip(models.Model):
    """A clip assigned to a listener, in the listener's own random order."""

    listener = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="assignments")
    clip = models.ForeignKey(SurveyClip, on_delete=models.CASCADE, related_name="assignments")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["listener", "position"]
        constraints = [
            models.UniqueConstraint(fields=["listener", "clip"], name="listener_clip_unique"),
        ]

    def __str__(self) -> str:
        return f"Clip {self.position + 1} of listener {self.listener_id}"


class Origin(models.TextChoices):
    HUMAN = "human", "A person"
    COMPUTER = "computer", "A computer"


RATING_VALIDATORS = [MinValueValidator(1), MaxValueValidator(5)]


class SurveyResponse(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    listener = models.ForeignKey(Listener, on_delete=models.CASCADE, related_name="responses")
    clip = models.ForeignKey(SurveyClip, on_delete=models.CASCADE, related_name="responses")
    origin = models.CharField(max_length=10, choices=Origin.choices)
    confidence = models.PositiveSmallIntegerField(
        validators=RATING_VALIDATORS, help_text="1 a guess … 5 certain."
    )
    liking = models.PositiveSmallIntegerField(validators=RATING_VALIDATORS)
    coherence = models.PositiveSmallIntegerField(validators=RATING_VALIDATORS)
    comment = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["survey", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["listener", "clip"], name="survey_response_once_per_clip"
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__gte=1, confidence__lte=5)
                & models.Q(liking__gte=1, liking__lte=5)
                & models.Q(coherence__gte=1, coherence__lte=5),
                name="survey_response_ratings_1_to_5",
            ),
        ]
        indexes = [models.Index(fields=["clip"])]

    def __str__(self) -> str:
        return f"Response {self.pk}"
