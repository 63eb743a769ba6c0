"""Admin: list filters, search and actions for every model. Actions call services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from musiclib.ways import all_ways, get_way

from . import services
from .models import (
    Checkpoint,
    Corpus,
    GenerationJob,
    ImportJob,
    Piece,
    TrainingRun,
    Tune,
)


def _report(modeladmin, request, rows, verb, fn):
    done, errors = 0, []
    for row in rows:
        try:
            fn(row)
            done += 1
        except ValueError as exc:
            errors.append(f"{row}: {exc}")
    if done:
        modeladmin.message_user(request, f"{verb} {done}.", messages.SUCCESS)
    for error in errors:
        modeladmin.message_user(request, error, messages.ERROR)


@admin.register(Corpus)
class CorpusAdmin(admin.ModelAdmin):
    list_display = ["name", "way", "source", "created_at"]
    list_filter = ["way"]
    search_fields = ["name", "source"]


@admin.register(Tune)
class TuneAdmin(admin.ModelAdmin):
    list_display = ["title", "corpus", "number", "meter", "key", "n_notes"]
    list_filter = ["corpus", "meter"]
    search_fields = ["title", "key"]
    readonly_fields = ["content_hash", "created_at"]


class ImportJobForm(forms.ModelForm):
    class Meta:
        model = ImportJob
        fields = ["corpus", "source", "upload"]
        help_texts = {
            "source": "A folder or file on the server, or music21:<name> "
            "(e.g. music21:oneills1850).",
        }

    source = forms.CharField(required=False, max_length=500)

    def clean(self):
        data = super().clean()
        if not data.get("source") and not data.get("upload"):
            raise forms.ValidationError("Give a source path, a music21 corpus name or an upload.")
        upload = data.get("upload")
        from django.conf import settings

        if upload and upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The upload is larger than {settings.MAX_UPLOAD_BYTES} bytes."
            )
        return data


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    form = ImportJobForm
    list_display = [
        "source",
        "corpus",
        "status",
        "imported",
        "duplicates",
        "created_at",
    ]
    list_filter = ["status", "corpus"]
    search_fields = ["source"]

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None:  # a stored run's vocabulary is in its (read-only) config
            fields = [f for f in fields if f != "vocabulary"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in ImportJob._meta.fields]

    def save_model(self, request, obj, form, change):
        from django.conf import settings

        obj.code_version = settings.CODE_VERSION
        super().save_model(request, obj, form, change)
        if not change:
            from .tasks import corpus_import_task

            transaction.on_commit(lambda: corpus_import_task.delay(obj.pk))
            self.message_user(request, "Import queued: this page shows its report when done.")


class TrainingRunForm(forms.ModelForm):
    config = forms.JSONField(
        required=False,
        initial=dict,
        help_text='Overrides of the preset, e.g. {"units": [256, 256], "dropout": 0.2}.',
    )
    # The ABC way's vocabulary, as a choice rather than a config key to remember; it goes
    # into the config as "vocabulary" (docs/quality.md compares the two).
    vocabulary = forms.ChoiceField(
        required=False,
        choices=[
            ("", "the preset's (characters)"),
            ("chars", "characters"),
            ("tokens", "tokens: notes, durations, bar lines, header fields"),
        ],
        help_text="ABC runs only: what one symbol of the model is.",
    )

    class Meta:
        model = TrainingRun
        fields = ["name", "corpus", "way", "preset", "epochs", "seed", "config", "vocabulary"]

    def clean(self):
        data = super().clean()
        corpus, way = data.get("corpus"), data.get("way")
        if corpus and way and corpus.way != way:
            raise forms.ValidationError(f"The corpus holds {corpus.way} pieces, not {way}.")
        overrides = dict(data.get("config") or {})
        if data.get("vocabulary"):
            if way and data["vocabulary"] not in get_way(way).capabilities.vocabularies:
                takers = [
                    w.noun for w in all_ways() if data["vocabulary"] in w.capabilities.vocabularies
                ]
                raise forms.ValidationError(
                    f"The vocabulary is an option of {' and '.join(takers)} runs only."
                )
            overrides["vocabulary"] = data["vocabulary"]
        if way:
            try:
                data["config"] = get_way(way).resolve_config(
                    preset=data.get("preset") or "quick",
                    overrides=overrides,
                )
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        if corpus and not corpus.tunes.exists():
            raise forms.ValidationError("The corpus is empty: import tunes before training.")
        return data


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    form = TrainingRunForm
    list_display = [
        "__str__",
        "corpus",
        "way",
        "preset",
        "status",
        "epochs_done",
        "epochs",
        "device",
        "created_at",
    ]
    list_filter = ["status", "way", "preset", "corpus"]
    search_fields = ["name"]
    actions = ["start", "cancel", "resume", "generate_from_last"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in TrainingRun._meta.fields if f.name not in {"name"}]

    def save_model(self, request, obj, form, change):
        from django.conf import settings
        from django.db.models import Max

        if not change:
            obj.code_version = settings.CODE_VERSION
            obj.created_by = request.user
            obj.tune_id_max = obj.corpus.tunes.aggregate(m=Max("pk"))["m"]
            obj.config = form.cleaned_data["config"]
        super().save_model(request, obj, form, change)

    @admin.action(description="Start the selected draft runs")
    def start(self, request, queryset):
        _report(
            self,
            request,
            queryset,
            "Started",
            lambda r: services.training_run_start(run=r),
        )

    @admin.action(description="Cancel the selected runs")
    def cancel(self, request, queryset):
        _report(
            self,
            request,
            queryset,
            "Cancelled",
            lambda r: services.training_run_cancel(run=r),
        )

    @admin.action(description="Resume the selected runs from their last checkpoint")
    def resume(self, request, queryset):
        _report(
            self,
            request,
            queryset,
            "Resumed",
            lambda r: services.training_run_resume(run=r),
        )

    @admin.action(description="Generate 8 pieces from the last checkpoint")
    def generate_from_last(self, request, queryset):
        def go(run):
            ckpt = run.last_checkpoint
            if ckpt is None:
                raise ValueError("it has no checkpoint yet")
            services.generation_job_create(checkpoint=ckpt, count=8, user=request.user)

        _report(self, request, queryset, "Queued generation for", go)


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ["run", "epoch", "loss", "val_loss", "size_bytes", "created_at"]
    list_filter = ["run"]
    actions = ["generate"]

    @admin.action(description="Generate 8 pieces from the selected checkpoints")
    def generate(self, request, queryset):
        _report(
            self,
            request,
            queryset,
            "Queued generation for",
            lambda c: services.generation_job_create(checkpoint=c, count=8, user=request.user),
        )


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "checkpoint",
        "count",
        "temperature",
        "seed",
        "status",
        "created_at",
    ]
    list_filter = ["status", "is_epoch_sample", "grammar"]
    search_fields = ["prime"]


@admin.register(Piece)
class PieceAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "way",
        "run",
        "meter",
        "key",
        "parses",
        "plays",
        "bar_accuracy",
        "created_at",
    ]
    list_filter = ["way", "parses", "plays", "run"]
    search_fields = ["title", "text"]
    readonly_fields = ["validity_detail"]
