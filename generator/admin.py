"""Admin: list filters, search and actions for every model. Actions call services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from common.forms import add_service_error
from musiclib.ways import all_ways, get_way

from . import services
from .models import (
    Checkpoint,
    Corpus,
    GenerationJob,
    GenerationRequester,
    ImportJob,
    Piece,
    TrainingRun,
    Tune,
)
from .services.pieces import MAX_TAKES


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
    """A new import: the form parses the fields; what may be imported is the service's
    (`import_job_check`, as for the API and the commands)."""

    user = None  # who asks: set per request by ImportJobAdmin.get_form

    class Meta:
        model = ImportJob
        fields = ["corpus", "source", "upload"]

    # (declared here, so a help text in Meta would not reach it)
    source = forms.CharField(
        required=False,
        max_length=500,
        help_text="A corpus bundled with music21, by the corpus's way: music21:oneills1850 "
        "(text), music21:bach (MIDI), music21:bach-audio (audio: the chorales played as "
        "recordings); or a folder or file on the server inside its import folders "
        "(API_IMPORT_ROOTS). Leave it empty to import an upload.",
    )

    def clean(self):
        data = super().clean()
        corpus = data.get("corpus")
        if corpus is not None and not self.errors:
            try:
                services.import_job_check(
                    corpus=corpus,
                    source=data.get("source") or "",
                    upload=data.get("upload") or None,
                    user=self.user,
                )
            except services.ServiceError as exc:
                add_service_error(self, exc)
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

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user  # a class made for this request (modelform_factory)
        return form

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
        if change:  # every field of a stored import is read-only
            return
        job = services.import_job_create(
            corpus=form.cleaned_data["corpus"],
            source=form.cleaned_data.get("source") or "",
            upload=form.cleaned_data.get("upload") or None,
            user=request.user,
        )
        obj.pk = job.pk  # the admin's log entry and redirect name the stored job
        obj.refresh_from_db()
        self.message_user(request, "Import queued: this page shows its report when done.")


def _preset_choices() -> list[tuple[str, str]]:
    """Every preset of every way, in the ways' order; the service refuses one the chosen
    way lacks."""
    names: list[str] = []
    for way in all_ways():
        names += [name for name in way.presets if name not in names]
    return [(name, name) for name in names]


def _patience_field(label: str, help_text: str) -> forms.IntegerField:
    """A run option counted in epochs without a gain; empty keeps the preset's."""
    return forms.IntegerField(
        required=False, min_value=0, max_value=1000, label=label, help_text=help_text
    )


# The form's fields that go into a new run's config under their own names.
RUN_OPTIONS = ("early_stopping_patience", "lr_plateau_patience", "look_back_heads", "warmup_epochs")


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
            ("bars", "characters, each bar numbered within its part"),
        ],
        help_text="ABC runs only: what one symbol of the model is.",
    )

    preset = forms.ChoiceField(
        choices=_preset_choices,
        initial="quick",
        help_text="Sizes and settings to start from; the way must have it (large: ABC only).",
    )
    early_stopping_patience = _patience_field(
        "Stop early after",
        "Epochs in a row without a lower validation loss after which the run stops (0: never; "
        "empty: the preset's, 5 for large, else never).",
    )
    lr_plateau_patience = _patience_field(
        "Halve the learning rate after",
        "Epochs in a row without a lower validation loss after which the learning rate is "
        "halved, up to three times (0: never; empty: the preset's).",
    )

    look_back_heads = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=16,
        label="Look back",
        help_text="Heads of attention over the piece so far, after the LSTMs: the model learns "
        "which earlier figure to bring back (0: none; empty: the preset's). About twice the "
        "time per epoch on a CPU, and a much lower validation loss. Its tunes already bring "
        'their figures back, so the generate page offers its checkpoints without "Bring bars '
        'and phrases back" and "Let figures come back" (with them they repeat too much).',
    )

    warmup_epochs = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=1000,
        label="Warm-up epochs",
        help_text="With a corpus to learn from first: the first epochs learn from both corpora "
        "together, the rest from this run's corpus alone, at half the learning rate. For a "
        "corpus too small for the model alone: Nottingham's tunes after O'Neill's reached a "
        "lower validation loss than Nottingham's alone in the same time (0.638-0.647 "
        "against 0.666), though a blind listener told their tunes from people's no less "
        "often.",
    )

    class Meta:
        model = TrainingRun
        fields = [
            "name",
            "corpus",
            "way",
            "preset",
            "epochs",
            "seed",
            "config",
            "vocabulary",
            "early_stopping_patience",
            "lr_plateau_patience",
            "look_back_heads",
            "warmup_corpus",
            "warmup_epochs",
            "staff_checkpoint",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "staff_checkpoint" in self.fields and self.instance.pk:  # its own checkpoints only
            self.fields["staff_checkpoint"].queryset = self.instance.checkpoints.order_by("epoch")

    def clean(self):
        """The form parses the fields (the vocabulary goes into the config); what makes a
        run is the service's (`training_run_check`, as for the API and the commands)."""
        data = super().clean()
        corpus, way = data.get("corpus"), data.get("way")
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
        for field in RUN_OPTIONS:
            if data.get(field) is not None:
                overrides[field] = data[field]
        data["config"] = overrides
        if corpus is not None and way and not self.errors:
            try:
                services.training_run_check(
                    corpus=corpus,
                    way=way,
                    preset=data.get("preset") or "quick",
                    epochs=data["epochs"],
                    config=overrides,
                    warmup_corpus=data.get("warmup_corpus"),
                )
            except services.ServiceError as exc:
                add_service_error(self, exc)
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

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None:  # a stored run's options are in its (read-only) config
            options = ("vocabulary", *RUN_OPTIONS)
            fields = [f for f in fields if f not in options]
        else:  # a new run has no checkpoints to choose from yet
            fields = [f for f in fields if f != "staff_checkpoint"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Staff may rename a stored run and choose the checkpoint that speaks for it.
        editable = {"name", "staff_checkpoint"}
        return [f.name for f in TrainingRun._meta.fields if f.name not in editable]

    def save_model(self, request, obj, form, change):
        if change:  # only the name of a stored run can change
            super().save_model(request, obj, form, change)
            return
        run = services.training_run_create(
            corpus=obj.corpus,
            way=obj.way,
            preset=obj.preset,
            epochs=obj.epochs,
            seed=obj.seed,
            config=form.cleaned_data["config"],
            name=obj.name,
            user=request.user,
            warmup_corpus=obj.warmup_corpus,
        )
        obj.pk = run.pk  # the admin's log entry and redirect name the stored run
        obj.refresh_from_db()

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


SAMPLER_SWITCHES = ("grammar", "folk_form", "returns", "memory", "moves")  # on/off options


class GenerationJobForm(forms.ModelForm):
    """A new generation: the form parses the fields; what may be generated is the service's
    (`generation_job_check`, as for the generate page, the API and `manage.py generate`)."""

    seed = forms.IntegerField(required=False, help_text="Blank: a random seed.")
    takes = forms.IntegerField(
        required=False,
        initial=1,
        help_text=f"1..{MAX_TAKES} draws of each piece, the most natural to the model "
        "kept. Blank: one.",
    )

    class Meta:
        model = GenerationJob
        fields = [
            "checkpoint",
            "count",
            "temperature",
            "top_k",
            "top_p",
            "seed",
            "max_length",
            "prime",
            "grammar",
            "folk_form",
            "returns",
            "memory",
            "moves",
            "takes",
        ]
        labels = {
            "folk_form": "Shape the tune as a folk tune",
            "returns": "Bring bars and phrases back",
            "memory": "Let figures come back",
            "moves": "Leap and turn as the corpus does",
        }

    def clean(self):
        data = super().clean()
        if data.get("checkpoint") is not None and not self.errors:
            try:
                services.generation_job_check(**self.job_options())
            except services.ServiceError as exc:
                add_service_error(self, exc)
        return data

    def job_options(self) -> dict:
        """The generation's inputs as the services take them (checked, then created)."""
        data = self.cleaned_data
        return {
            "checkpoint": data["checkpoint"],
            "count": data["count"],
            "temperature": data["temperature"],
            "top_k": data["top_k"],
            "top_p": data["top_p"],
            "max_length": data["max_length"],
            "prime": data.get("prime") or "",
            "takes": 1 if data.get("takes") is None else data["takes"],
            **{name: bool(data.get(name)) for name in SAMPLER_SWITCHES},
        }


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    form = GenerationJobForm
    list_display = [
        "pk",
        "checkpoint",
        "count",
        "temperature",
        "seed",
        "status",
        "created_at",
    ]
    list_filter = ["status", "is_epoch_sample", *SAMPLER_SWITCHES]
    search_fields = ["prime"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in GenerationJob._meta.fields]  # a stored job is its inputs

    def save_model(self, request, obj, form, change):
        if change:  # every field of a stored job is read-only
            return
        job = services.generation_job_create(
            **form.job_options(), seed=form.cleaned_data.get("seed"), user=request.user
        )
        obj.pk = job.pk  # the admin's log entry and redirect name the stored job
        obj.refresh_from_db()
        self.message_user(request, "Generation queued: its page shows the pieces when done.")


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


@admin.register(GenerationRequester)
class GenerationRequesterAdmin(admin.ModelAdmin):
    """Who asked for pieces lately (a user or an address) and when: the rows the hourly
    allowance locks, read-only. The beat deletes a row an hour after its last request."""

    list_display = ["key", "last_request_at"]
    search_fields = ["key"]
    ordering = ["-last_request_at"]
    date_hierarchy = "last_request_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
