"""Forms of the site's pages: gallery and tune filters, the generate form, run actions."""

from __future__ import annotations

from django import forms

from common.forms import add_service_error
from musiclib.ways import get_way, ways_taking
from musiclib.ways.midi_notes import MAX_PRIMER_BARS

from . import selectors, services
from .models import Tune, chosen_among, way_choices
from .services.pieces import (
    MAX_TAKES,
    PAGE_LENGTH,
    PAGE_TEMPERATURE,
    page_sampler,
    repeats_offered,
)
from .services.primes import DEFAULT_PRIMER_BARS, GenerationPrime

# The generate form's fields that say how the pieces begin (services.generation_prime_build
# checks and builds them); while one of them is not valid, the others wait.
OPENING_FIELDS = (
    "meter",
    "key",
    "opening",
    "primer_tune",
    "primer_midi",
    "primer_bars",
    "prime_audio",
    "seconds",
)
# services.generation_prime_build's keywords → the generate form's fields, where they differ:
# the form has no raw `prime`, so a refusal of the opening as a whole is the form's.
SERVICE_FIELDS: dict[str, str | None] = {"prime": None}

MAX_PRIMER_TUNES = 2000  # tunes listed per corpus in the primer select
DEFAULT_LENGTH = PAGE_LENGTH  # tokens per piece unless the form says otherwise
DEFAULT_TAKES = 1  # takes of each piece where no model says (its way's default_takes)
# Fields of the generate form that apply to some ways only (`Capabilities.generation_fields`),
# by what a visitor gets when a field does not apply to the chosen model: fields that hold
# a value by default are ignored; a value typed or chosen is refused, with the reason.
IGNORED_WHERE_NOT_APPLICABLE = (
    "max_length", "grammar", "folk_form", "returns", "memory", "moves", "primer_bars",
    "takes_by",
)  # fmt: skip
# Fields that, filled in for a model whose way does not take them, are refused (by
# services.generation_prime_build, which words the refusal for the page and the API alike).
REFUSED_WHERE_NOT_APPLICABLE = (
    "meter",
    "key",
    "opening",
    "primer_tune",
    "primer_midi",
    "seconds",
    "prime_audio",
)

COMMON_METERS = ["6/8", "4/4", "C", "C|", "2/4", "3/4", "9/8", "12/8", "3/2"]
COMMON_KEYS = [
    "D", "G", "A", "C", "F", "Bb", "Eb", "E",
    "Ador", "Edor", "Ddor", "Gdor", "Bdor",
    "Amin", "Emin", "Bmin", "Dmin", "Gmin",
    "Dmix", "Gmix", "Amix",
]  # fmt: skip


def _choices(values: list[str], current: str | None, blank: str) -> list[tuple[str, str]]:
    values = list(values)
    if current and current not in values:
        values.insert(0, current)
    return [("", blank), *((v, v) for v in values)]


class GalleryFilterForm(forms.Form):
    """GET filters of the gallery. An invalid field is dropped, never an error page."""

    q = forms.CharField(
        label="Search titles",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "e.g. Heron", "autocomplete": "off"}
        ),
    )
    way = forms.ChoiceField(label="Way", required=False)
    corpus = forms.TypedChoiceField(label="Corpus", required=False, coerce=int, empty_value=None)
    run = forms.TypedChoiceField(label="Run", required=False, coerce=int, empty_value=None)
    key = forms.ChoiceField(label="Key", required=False)
    meter = forms.ChoiceField(label="Meter", required=False)
    valid = forms.BooleanField(label="Valid only", required=False)
    epoch_samples = forms.ChoiceField(
        label="Show",
        required=False,
        choices=list(selectors.EPOCH_SAMPLES.items()),
    )
    sort = forms.ChoiceField(label="Sort by", required=False, choices=list(selectors.SORTS.items()))

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        data = data or {}
        facets = selectors.piece_facets()
        self.fields["way"].choices = [("", "Any way"), *way_choices()]
        self.fields["corpus"].choices = [
            ("", "Any corpus"),
            *selectors.corpus_choices(),
        ]
        self.fields["run"].choices = [("", "Any run"), *selectors.run_choices()]
        self.fields["key"].choices = _choices(facets["keys"], data.get("key"), "Any key")
        self.fields["meter"].choices = _choices(facets["meters"], data.get("meter"), "Any meter")

    def filters(self) -> dict:
        """The valid part of the query: a bad value in one field only drops that field."""
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class TuneFilterForm(forms.Form):
    q = forms.CharField(
        label="Search titles",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    key = forms.ChoiceField(label="Key", required=False)
    meter = forms.ChoiceField(label="Meter", required=False)

    def __init__(self, data=None, *args, corpus, **kwargs):
        super().__init__(data, *args, **kwargs)
        data = data or {}
        facets = selectors.tune_facets(corpus=corpus)
        self.fields["key"].choices = _choices(facets["keys"], data.get("key"), "Any key")
        self.fields["meter"].choices = _choices(facets["meters"], data.get("meter"), "Any meter")

    def filters(self) -> dict:
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class DataSelect(forms.Select):
    """A select whose options carry data attributes (`option_data[value]`), which the
    page's script reads: a checkpoint's way and corpus, a tune's corpus."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.option_data: dict[str, dict[str, str]] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"].update(self.option_data.get(str(value), {}))
        return option


class CheckpointChoiceField(forms.TypedChoiceField):
    def __init__(self, **kwargs):
        super().__init__(coerce=int, widget=DataSelect, **kwargs)


class GenerateForm(forms.Form):
    """What a visitor may ask of a checkpoint. The form parses the fields; which go
    together, and the prime they make, are the service's (`generation_prime_build`), whose
    messages land next to their fields."""

    MAX_COUNT = 16

    checkpoint = CheckpointChoiceField(
        label="Run and checkpoint",
        help_text="Each run's chosen checkpoint (its lowest validation loss, unless staff "
        "chose another) is usually its best; earlier epochs sound rougher.",
    )
    temperature = forms.FloatField(
        label="Temperature",
        min_value=0.1,
        max_value=3.0,
        initial=PAGE_TEMPERATURE,
        help_text="Low: safe and repetitive. High: adventurous and wild.",
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    seed = forms.IntegerField(
        label="Seed",
        required=False,
        min_value=0,
        max_value=2**62,
        help_text="Leave blank for a random seed; the one chosen is shown on the job page.",
        widget=forms.NumberInput(attrs={"placeholder": "random"}),
    )
    meter = forms.CharField(
        label="Meter",
        required=False,
        max_length=10,
        help_text="Blank lets the model choose.",
        widget=forms.TextInput(attrs={"list": "meter-options", "placeholder": "model chooses"}),
    )
    key = forms.CharField(
        label="Key",
        required=False,
        max_length=20,
        help_text="Needs a meter.",
        widget=forms.TextInput(attrs={"list": "key-options", "placeholder": "model chooses"}),
    )
    opening = forms.CharField(
        label="Opening notes (ABC)",
        required=False,
        max_length=400,
        help_text="The first notes of the tune in ABC, e.g. |:dBA F2A|. Needs a meter and key.",
        widget=forms.Textarea(
            attrs={"rows": 2, "spellcheck": "false", "placeholder": "|:dBA F2A|"}
        ),
    )
    primer_tune = forms.TypedChoiceField(
        label="Start from a corpus piece",
        required=False,
        coerce=int,
        empty_value=None,
        widget=DataSelect,
        help_text="The pieces begin with the first bars of this tune of the run's corpus.",
    )
    primer_midi = forms.FileField(
        label="Or upload a MIDI primer",
        required=False,
        allow_empty_file=False,
        error_messages={"empty": "The MIDI file is empty."},
        help_text="A .mid file; the pieces begin with its first bars. It is read, not kept.",
        widget=forms.FileInput(attrs={"accept": ".mid,.midi,audio/midi,audio/x-midi"}),
    )
    primer_bars = forms.IntegerField(
        label="Bars of the primer",
        required=False,
        min_value=1,
        max_value=MAX_PRIMER_BARS,
        initial=DEFAULT_PRIMER_BARS,
        help_text=f"1..{MAX_PRIMER_BARS}: how much of the piece or file the model hears first.",
    )
    max_length = forms.IntegerField(
        label="Length",
        required=False,  # required where it applies (`clean`); a hidden one is not sent
        min_value=16,
        max_value=5000,
        initial=DEFAULT_LENGTH,
        help_text="At most this many symbols per piece: characters of notation for folk-tune "
        "models, note events for MIDI models.",
    )
    grammar = forms.BooleanField(
        label="Grammar-aware sampling",
        required=False,
        initial=True,
        help_text="Never writes an invalid next symbol (a bar that overflows, an unclosed "
        "chord). On ABC models it lifts the share of tunes that parse from about 76 % to 100 % "
        "in our measurements; off samples the model as it is.",
    )
    folk_form = forms.BooleanField(
        label="Shape the tune as a folk tune",
        required=False,
        initial=True,
        help_text="With grammar-aware sampling: each tune takes the form of one of the "
        "tunes the model learnt from, picked by its seed: as many parts, each as many bars "
        "long (most often two parts of 8; a pickup and the part's last bar making one bar), "
        "repeat signs where that tune has them, and its last note on the same degree of the "
        "key (most often the home note). The tune ends after its last part.",
    )
    returns = forms.BooleanField(
        label="Bring bars and phrases back",
        required=False,
        initial=True,
        help_text="With the folk tune's shape: some bars and phrases come back, in the "
        "places the tunes the model learnt from bring theirs back (a phrase answered by "
        "itself, a second part that ends as the first did, a figure answered a step or a "
        "fifth higher or lower). Each piece follows the pattern of the same tune whose shape "
        "it takes.",
    )
    memory = forms.BooleanField(
        label="Let figures come back",
        required=False,
        initial=True,
        help_text="Each next note also looks back over the piece itself: where its last "
        "notes match an earlier passage, what followed there is offered again, the more "
        "the longer the match, as much as the pieces held out from the model's training "
        "do. Figures, bars and phrases return as often as in people's tunes.",
    )
    moves = forms.BooleanField(
        label="Leap and turn as the corpus does",
        required=False,
        initial=True,
        help_text="Each next note is weighed by its move from the last one (a step, a "
        "third, a leap of a fourth or more, up or down, after a move up or down, from each "
        "note of the key), and by the longest run of intervals of the tunes the model "
        "learnt from that it would end, so that the tunes step, leap, change "
        "direction, land on each note of the key and turn the corpus's phrases as often as "
        "those tunes do. The weights are "
        "fitted once for each model when its training ends; a model trained before then "
        "writes its notes as it learnt them.",
    )
    takes = forms.IntegerField(
        label="Takes per piece",
        required=False,  # blank: one take
        min_value=1,
        max_value=MAX_TAKES,
        initial=DEFAULT_TAKES,
        help_text=f"1..{MAX_TAKES}: each piece is written this many times and one take is "
        "kept; 1 writes each piece once. Each model starts with the number whose tunes were "
        "hardest to tell from people's for its kind: four for a quickly trained ABC model, "
        "one for a fully trained one.",
    )
    takes_by = forms.ChoiceField(
        label="Keep the take",
        required=False,  # blank: the model's view
        choices=[("model", "the most natural"), ("corpus", "most like the corpus")],
        initial="model",
        help_text="With several takes: the one the model itself finds most natural, or the "
        "one that sounds most like the tunes the model learnt from (its notes, rhythm, form "
        "and ending, heard by an ear the model gets when its training ends).",
    )
    top_k = forms.IntegerField(
        label="Top-k",
        min_value=0,
        max_value=500,
        initial=0,
        help_text="Sample only from the k likeliest symbols; 0 is off.",
    )
    top_p = forms.FloatField(
        label="Top-p",
        required=False,  # blank: off (1)
        min_value=0.01,
        max_value=1.0,
        initial=1.0,
        error_messages={
            "min_value": "Top-p must be more than 0 (at least 0.01).",
            "max_value": "Top-p must be at most 1 (1 is off).",
        },
        help_text="Sample only from the likeliest symbols that together make up this "
        "share of the probability (nucleus sampling); 1 is off.",
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )
    seconds = forms.FloatField(
        label="Seconds",
        required=False,
        min_value=1.0,
        max_value=110.0,
        help_text=f"The length of each piece in seconds; blank: {DEFAULT_LENGTH} tokens.",
    )
    prime_audio = forms.FileField(
        label="Opening recording",
        required=False,
        help_text="A WAV, FLAC or OGG file of up to 30 s that the piece continues.",
    )
    count = forms.IntegerField(
        label="How many pieces",
        min_value=1,
        max_value=MAX_COUNT,
        initial=4,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        groups = []
        self.checkpoints = {}
        widget = self.fields["checkpoint"].widget
        primer_corpora: dict[int, str] = {}
        defaults: list[int] = []  # each run's chosen checkpoint
        for run, checkpoints in selectors.generation_checkpoints():
            options = []
            caps = _capabilities(run.way)
            # (a way no longer registered: its models offer nothing to set)
            fields = caps.generation_fields if caps else ()
            first = page_sampler(run)
            if "primer_tune" in fields:
                primer_corpora[run.corpus_id] = str(run.corpus)
            chosen = chosen_among(run, checkpoints)
            for i, ckpt in enumerate(checkpoints):
                self.checkpoints[ckpt.pk] = ckpt
                widget.option_data[str(ckpt.pk)] = {
                    "data-way": run.way,
                    "data-corpus": str(run.corpus_id),
                    # the fields this model uses: the page's script shows only those
                    "data-fields": " ".join(fields),
                    # the takes, temperature and top-p the page offers first for this model
                    "data-takes": str(first.takes),
                    "data-temperature": f"{first.temperature:g}",
                    "data-top-p": f"{first.top_p:g}",
                    # whether the page offers bars brought back and the memory ticked
                    "data-repeats": "on" if repeats_offered(run) else "off",
                }
                loss = f", val loss {ckpt.val_loss:.3f}" if ckpt.val_loss is not None else ""
                label = (
                    f"{run} · latest, epoch {ckpt.epoch}{loss}"
                    if i == 0
                    else f"{run} · epoch {ckpt.epoch}{loss}"
                )
                if ckpt == chosen:
                    label += " · chosen"
                    defaults.append(ckpt.pk)
                options.append((ckpt.pk, label))
            groups.append((f"{run} · {run.corpus} · {run.get_status_display()}", options))
        self.fields["checkpoint"].choices = groups
        if defaults and not self.is_bound and "checkpoint" not in self.initial:
            self.initial["checkpoint"] = defaults[0]  # the first run's chosen checkpoint
        first = self.initial.get("checkpoint")
        first = getattr(first, "pk", first)  # a checkpoint, its pk or the page's ?checkpoint=
        first = self.checkpoints.get(int(first)) if str(first).isdigit() else None
        if not self.is_bound and first is not None:
            # the sampler the model's run offers first
            offered = page_sampler(first.run)
            self.initial.setdefault("takes", offered.takes)
            self.initial.setdefault("temperature", offered.temperature)
            self.initial.setdefault("top_p", offered.top_p)
        if not self.is_bound and first is not None and not repeats_offered(first.run):
            self.initial.setdefault("returns", False)
            self.initial.setdefault("memory", False)
        self._primer_tune_choices(primer_corpora)
        for name in (*IGNORED_WHERE_NOT_APPLICABLE, *REFUSED_WHERE_NOT_APPLICABLE):
            # "ABC", "ABC and MIDI": which runs use the field, said on the page (where its
            # script does not already show only the chosen model's fields) and in refusals
            self.fields[name].ways = _nouns(ways_taking(name))
        rates = {w.capabilities.tokens_per_second for w in ways_taking("seconds")}
        if len(rates) == 1:  # say what a blank means in seconds, where that is one figure
            blank = f"about {DEFAULT_LENGTH / rates.pop():.0f} s"
            self.fields[
                "seconds"
            ].help_text = f"The length of each piece in seconds; blank: {blank}."

    def _primer_tune_choices(self, corpora: dict[int, str]) -> None:
        """The tunes of every corpus a run here learned whose way starts from a corpus piece,
        grouped by corpus; the page's script shows only the chosen run's corpus."""
        field = self.fields["primer_tune"]
        groups: list = [("", "No primer: the model starts alone")]
        by_corpus: dict[int, list[tuple[int, str]]] = {pk: [] for pk in corpora}
        # Read here rather than in `selectors`: only this form lists tunes by corpus.
        tunes = (
            Tune.objects.filter(corpus_id__in=list(corpora))
            .only("pk", "number", "title", "corpus_id")
            .order_by("corpus_id", "number", "pk")
        )
        for tune in tunes.iterator():
            options = by_corpus[tune.corpus_id]
            if len(options) < MAX_PRIMER_TUNES:
                options.append((tune.pk, f"{tune.number}. {tune.title or 'untitled'}"))
                field.widget.option_data[str(tune.pk)] = {"data-corpus": str(tune.corpus_id)}
        groups += [(corpora[pk], options) for pk, options in by_corpus.items() if options]
        field.choices = groups

    def clean(self):
        """The opening of the pieces, checked and built by the service the API uses too;
        its refusals land next to their fields."""
        data = super().clean()
        self.opening_built: GenerationPrime | None = None
        checkpoint = self.checkpoint_object()
        if checkpoint is not None:
            self._only_fields_that_apply(data, checkpoint.run)
        if checkpoint is None or any(name in self.errors for name in OPENING_FIELDS):
            return data
        tune, upload = data.get("primer_tune"), data.get("primer_midi")
        # The bars field always has a value: alone it means nothing.
        bars = (
            (data.get("primer_bars") or DEFAULT_PRIMER_BARS)
            if tune is not None or upload is not None
            else None
        )
        try:
            self.opening_built = services.generation_prime_build(
                checkpoint=checkpoint,
                meter=data.get("meter") or "",
                key=data.get("key") or "",
                opening=data.get("opening") or "",
                primer_tune=tune,
                primer_midi=upload,
                primer_bars=bars,
                prime_audio=data.get("prime_audio"),
                seconds=data.get("seconds"),
            )
        except services.ServiceError as exc:
            add_service_error(self, exc, rename=SERVICE_FIELDS)
        return data

    def _only_fields_that_apply(self, data: dict, run) -> None:
        """Without the page's script every field shows: what does not apply to the chosen
        model is ignored where it holds a default (the service refuses the rest)."""
        try:
            way = get_way(run.way)
        except ValueError:
            self.add_error("checkpoint", f"This model's way ({run.way}) is no longer available.")
            return
        caps = way.capabilities
        fields = caps.generation_fields
        for name in IGNORED_WHERE_NOT_APPLICABLE:
            if name not in fields:
                data[name] = (
                    False
                    if name in ("grammar", "folk_form", "returns", "memory", "moves")
                    else None
                )
        if (
            "max_length" in fields
            and data.get("max_length") is None
            and "max_length" not in self.errors
        ):
            self.add_error("max_length", "Give a length.")
        # A filled-in field the way does not take is refused by generation_prime_build, on
        # its field and in the words the API uses too.

    def prime(self) -> str:
        """The prime the job stores: `M:<meter>\\nL:<unit>\\nK:<key>\\n<opening>` as far as
        the form says, or a MIDI primer's, or an audio recording's tokens."""
        built = getattr(self, "opening_built", None)
        return built.prime if built is not None else ""

    def checkpoint_object(self):
        return self.checkpoints.get(getattr(self, "cleaned_data", {}).get("checkpoint"))


def _capabilities(way: str):
    """The way's `Capabilities`, or None for a way no longer registered."""
    try:
        return get_way(way).capabilities
    except ValueError:
        return None


def _nouns(ways) -> str:
    """The ways that take a field, in words: "ABC", "ABC and MIDI", "ABC, MIDI and toy"."""
    nouns = [way.noun for way in ways] or ["no"]
    return " and ".join([", ".join(nouns[:-1]), nouns[-1]] if len(nouns) > 1 else nouns)


def _header_value(value: str, what: str) -> str:
    value = (value or "").strip()
    if any(ch in value for ch in "\n\r%:[]"):
        raise forms.ValidationError(f"A {what} is one short value, like the examples.")
    return value


class ResumeForm(forms.Form):
    epochs = forms.IntegerField(
        label="Train to epoch",
        min_value=1,
        max_value=10_000,
        required=False,
        help_text="Raise it to train a finished run further.",
    )
