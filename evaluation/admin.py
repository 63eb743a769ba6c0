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
        for evaluation in queryset.select_related("piece__run__corpus"):
            services.piece_evaluate(piece=evaluation.piece)
        self.message_user(request, f"Evaluated {queryset.count()} pieces.", messages.SUCCESS)


@admin.register(CorpusIndexState)
class CorpusIndexStateAdmin(admin.ModelAdmin):
    list_display = ["corpus", "n_tunes", "tune_id_max", "built_at", "calibrated_at"]
    readonly_fields = ["built_at", "calibrated_at", "code_version"]
    actions = ["recalibrate"]

    @admin.action(description="Calibrate again")
    def recalibrate(self, request, queryset):
        for state in queryset.select_related("corpus"):
            services.corpus_calibrate(corpus=state.corpus)
        self.message_user(request, f"Calibrated {queryset.count()} corpora.", messages.SUCCESS)


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
