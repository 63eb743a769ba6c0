"""Admin of the listener survey (issue 7): build a survey's clips in the worker, see the
answers. evaluation/admin.py imports this module so that Django's admin finds it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from . import services as survey_services
from .models import Listener, Survey, SurveyClip, SurveyResponse


class SurveyClipInline(admin.TabularInline):
    model = SurveyClip
    extra = 0
    can_delete = False
    fields = [
        "token",
        "source",
        "way",
        "run",
        "checkpoint",
        "piece",
        "corpus",
        "tune",
        "bars",
        "seconds",
    ]
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
        ("Clips", {"fields": ["runs", "checkpoints", "include_epoch_samples", "corpora",
                              "clips_per_source",
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
