"""Admin: evaluation rows are derived data; actions recompute them through the services."""

from __future__ import annotations

from django.contrib import admin, messages

from . import services
from .models import CorpusIndexState, PieceEvaluation, RunReport


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
    list_display = ["run", "n_evaluated", "computed_at"]
    readonly_fields = ["key", "computed_at", "code_version"]


# --- listener survey (issue 7) ----------------------------------------------------------------
from django.urls import reverse  # noqa: E402
from django.utils.html import format_html  # noqa: E402

from . import survey_services  # noqa: E402
from .survey_models import Listener, Survey, SurveyClip, SurveyResponse  # noqa: E402


class SurveyClipInline(admin.TabularInline):
    model = SurveyClip
    extra = 0
    can_delete = False
    fields = ["token", "source", "way", "run", "piece", "corpus", "tune", "bars", "seconds"]
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["title", "opens_at", "closes_at", "build_status", "n_clips", "links"]
    list_filter = ["build_status", "public_results"]
    filter_horizontal = ["runs", "checkpoints", "corpora"]
    readonly_fields = ["build_status", "build_error", "build_report", "built_at", "created_at"]
    fieldsets = [
        (None, {"fields": ["title", "introduction", "opens_at", "closes_at", "public_results"]}),
        ("Clips", {"fields": ["runs", "checkpoints", "corpora", "clips_per_source",
                              "clips_per_listener", "clip_seconds", "tempo_qpm", "min_bars"]}),
        ("Questions", {"fields": ["origin_question", "liking_question", "coherence_question",
                                  "ask_comment", "comment_question"]}),
        ("Build", {"fields": readonly_fields}),
    ]  # fmt: skip
    inlines = [SurveyClipInline]
    actions = ["build_clips"]

    @admin.display(description="clips")
    def n_clips(self, obj: Survey) -> int:
        return obj.clips.count()

    @admin.display(description="pages")
    def links(self, obj: Survey) -> str:
        return format_html(
            '<a href="{}">listen</a> · <a href="{}">results</a>',
            reverse("survey_consent", args=[obj.pk]),
            reverse("survey_results", args=[obj.pk]),
        )

    @admin.action(description="Build the clips (in the worker)")
    def build_clips(self, request, queryset):
        for survey in queryset:
            survey_services.survey_build_queue(survey=survey)
        self.message_user(
            request, f"Queued the clips of {queryset.count()} surveys.", messages.SUCCESS
        )


@admin.register(Listener)
class ListenerAdmin(admin.ModelAdmin):
    list_display = ["pk", "survey", "experience", "familiarity", "consented_at", "finished_at"]
    list_filter = ["survey", "experience", "familiarity"]
    readonly_fields = ["key"]


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ["pk", "survey", "listener", "clip", "origin", "liking", "coherence"]
    list_filter = ["survey", "origin"]
    raw_id_fields = ["listener", "clip"]
