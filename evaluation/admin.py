"""Admin: evaluation rows are derived data; actions recompute them through the services."""

from __future__ import annotations

from django.contrib import admin, messages

from . import services
from .models import CorpusIndexState, PieceEvaluation, RunReport
from .survey import admin as survey_admin  # noqa: F401  (registers the survey's admin)


@admin.register(PieceEvaluation)
class PieceEvaluationAdmin(admin.ModelAdmin):
    list_display = [
        "piece",
        "status",
        "copy_length",
        "ngram_8",
        "nearest_similarity",
        "likely_copy",
        "idiom_pitch",
        "computed_at",
    ]
    list_filter = ["status", "likely_copy"]
    raw_id_fields = ["piece", "copy_tune", "nearest_tune"]
    readonly_fields = ["computed_at", "code_version"]
    actions = ["reevaluate"]

    @admin.action(description="Evaluate again")
    def reevaluate(self, request, queryset):
        # In the worker, never in this request: marked pending until each is done.
        queued = services.piece_evaluations_queue(
            piece_ids=list(queryset.values_list("piece_id", flat=True))
        )
        self.message_user(
            request,
            f"Queued {queued} piece(s) for evaluation; they are evaluated in the background "
            "and show as pending until then.",
            messages.SUCCESS,
        )


@admin.register(CorpusIndexState)
class CorpusIndexStateAdmin(admin.ModelAdmin):
    list_display = ["corpus", "n_tunes", "tune_id_max", "built_at", "calibrated_at", "progress"]
    readonly_fields = ["built_at", "calibrated_at", "code_version"]

    @admin.display(description="Calibration")
    def progress(self, state: CorpusIndexState) -> str:
        return "being calibrated" if services.corpus_calibrating(corpus_id=state.corpus_id) else "—"

    actions = ["recalibrate"]

    @admin.action(description="Calibrate again")
    def recalibrate(self, request, queryset):
        states = list(queryset.select_related("corpus"))
        for state in states:  # in the worker, never in this request
            services.corpus_calibration_queue(corpus=state.corpus)
        self.message_user(
            request,
            f"Queued {len(states)} corpus calibration(s); they are calibrated in the "
            "background, and each corpus's calibration page shows progress until then.",
            messages.SUCCESS,
        )


@admin.register(RunReport)
class RunReportAdmin(admin.ModelAdmin):
    list_display = ["run", "state", "n_evaluated", "computed_at"]
    list_filter = ["state"]
    readonly_fields = ["state", "error", "key", "requested_at", "computed_at", "code_version"]
    actions = ["measure_again"]

    @admin.action(description="Measure again")
    def measure_again(self, request, queryset):
        for report in queryset.select_related("run__corpus"):
            services.run_report_request(run=report.run)
        self.message_user(
            request,
            f"Queued {queryset.count()} report(s); they are measured in the background.",
            messages.SUCCESS,
        )
