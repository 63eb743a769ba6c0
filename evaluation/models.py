"""Evaluation results: per-piece novelty and validity scores, per-corpus copy index and
calibration, and cached per-run reports.

Everything here is derived data: it can be deleted and recomputed from the pieces and the
corpus tunes (`evaluation.services`). The code version that computed a row is stored on it.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse


class EvaluationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class PieceEvaluation(models.Model):
    """How much one generated piece borrows from its run's corpus, and what it is like.

    Copies are found up to transposition and tempo (see musiclib/metrics/index.py): a
    passage counts as copied when its intervals and duration ratios occur, in order, in one
    corpus tune. Positions are note indexes (0-based) in the piece's and the tune's melody.
    """

    piece = models.OneToOneField(
        "generator.Piece", on_delete=models.CASCADE, related_name="evaluation"
    )
    status = models.CharField(
        max_length=10, choices=EvaluationStatus.choices, default=EvaluationStatus.PENDING
    )
    error = models.TextField(blank=True, help_text="Why the evaluation failed, in words.")
    n_notes = models.IntegerField(default=0, help_text="Notes of the piece's melody.")
    corpus_tunes = models.IntegerField(default=0, help_text="Corpus tunes compared against.")

    # The longest passage found in one corpus tune.
    copy_length = models.IntegerField(null=True, blank=True, help_text="In notes.")
    copy_tune = models.ForeignKey(
        "generator.Tune", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    copy_piece_start = models.IntegerField(null=True, blank=True)
    copy_tune_start = models.IntegerField(null=True, blank=True)

    # Share of the piece's n-note windows found anywhere in the corpus (null: piece < n notes).
    ngram_4 = models.FloatField(null=True, blank=True)
    ngram_8 = models.FloatField(null=True, blank=True)
    ngram_16 = models.FloatField(null=True, blank=True)
    novelty = models.FloatField(
        null=True,
        blank=True,
        help_text="1 − the 8-gram fraction: the share of 8-note windows found in no corpus "
        "tune (0 copied, 1 new). The gallery sorts and badges by it.",
    )

    # The most similar tune: Jaccard similarity of the sets of distinct 8-note grams.
    nearest_tune = models.ForeignKey(
        "generator.Tune", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nearest_similarity = models.FloatField(null=True, blank=True)
    # The longest passage shared with the nearest tune (the side-by-side view marks it).
    nearest_shared_length = models.IntegerField(null=True, blank=True)
    nearest_piece_start = models.IntegerField(null=True, blank=True)
    nearest_tune_start = models.IntegerField(null=True, blank=True)

    likely_copy = models.BooleanField(
        null=True, help_text="Borrows more than 95% of held-out human tunes (calibrated)."
    )
    idiom_pitch = models.FloatField(
        null=True, blank=True, help_text="Share of 4-note pitch patterns found in the corpus."
    )
    idiom_rhythm = models.FloatField(
        null=True, blank=True, help_text="Share of 4-note rhythm patterns found in the corpus."
    )
    features = models.JSONField(default=dict, blank=True, help_text="musiclib.metrics.features")
    computed_at = models.DateTimeField(null=True, blank=True)
    code_version = models.CharField(max_length=40, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["novelty"]),
            models.Index(fields=["likely_copy"]),
        ]

    def __str__(self) -> str:
        return f"Evaluation of piece {self.piece_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("evaluation_piece_scores", args=[self.piece_id])


class CorpusIndexState(models.Model):
    """The saved copy index of one corpus, and its calibration on held-out human tunes.

    The index file holds every tune with pk <= tune_id_max; tunes added later are indexed
    incrementally (and the file rewritten) the next time the index is asked for.
    """

    corpus = models.OneToOneField(
        "generator.Corpus", on_delete=models.CASCADE, related_name="evaluation_index"
    )
    path = models.CharField(max_length=300, blank=True, help_text="npz under MEDIA_ROOT.")
    n_tunes = models.IntegerField(default=0, help_text="Tunes in the index.")
    n_unreadable = models.IntegerField(default=0, help_text="Indexed tunes with no notes.")
    tune_id_max = models.BigIntegerField(null=True, blank=True)
    built_at = models.DateTimeField(null=True, blank=True)
    calibration = models.JSONField(
        default=dict,
        blank=True,
        help_text="Thresholds, held-out distributions, flagged fraction, variant groups.",
    )
    calibrated_at = models.DateTimeField(null=True, blank=True)
    human_features = models.JSONField(
        default=dict,
        blank=True,
        help_text="Summary of the human tunes' features and the human-against-human baseline.",
    )
    code_version = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = "corpus index"

    def __str__(self) -> str:
        return f"Index of {self.corpus_id}: {self.n_tunes} tunes up to id {self.tune_id_max}"

    def get_absolute_url(self) -> str:
        return reverse("evaluation_corpus", args=[self.corpus_id])


class ReportState(models.TextChoices):
    MEASURING = "measuring", "Measuring"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class RunReport(models.Model):
    """A run's report, measured by a task (`evaluation.services.run_report_measure`) and
    stored here; pages and the API only read it.

    `key` says what the payload was measured from (pieces evaluated, their latest
    evaluation, the last checkpoint, the corpus index and calibration, the code version):
    when it no longer matches the run, the report is stale and is measured again. While a
    measure is under way the previous payload (if any) stays, so a page can show it.
    """

    run = models.OneToOneField(
        "generator.TrainingRun", on_delete=models.CASCADE, related_name="evaluation_report"
    )
    state = models.CharField(
        max_length=10, choices=ReportState.choices, default=ReportState.MEASURING
    )
    error = models.TextField(blank=True, help_text="Why the last measure failed, in words.")
    key = models.CharField(max_length=200, blank=True)
    n_evaluated = models.IntegerField(default=0)
    data = models.JSONField(default=dict, blank=True, help_text="The report's payload.")
    requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When the measure under way (or the last) was queued."
    )
    computed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the stored payload (or failure) was measured."
    )
    code_version = models.CharField(max_length=40, blank=True)

    def __str__(self) -> str:
        return f"Report of run {self.run_id} ({self.state}, {self.n_evaluated} pieces)"

    def get_absolute_url(self) -> str:
        return reverse("evaluation_run_report", args=[self.run_id])


# The listener survey (issue 7) is the subpackage evaluation/survey/; its models keep this
# app's label (`evaluation`): importing them here is how Django finds them.
from .survey.models import (  # noqa: E402, F401
    Listener,
    ListenerClip,
    Survey,
    SurveyClip,
    SurveyResponse,
)
