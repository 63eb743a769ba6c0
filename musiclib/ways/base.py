"""The way interface: what differs between ABC text, MIDI notes and audio frames.

A way turns a corpus piece's text into tokens and back, names its presets, says how a
decoded piece is described and validated, and declares what it can do (`Capabilities`).
Everything else (vocabulary, train/validation split, the Keras model, training, sampling) is
shared and lives in `musiclib.ml`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..ml.sampler import MAX_TAKES


class ImportRefused(ValueError):
    """The source as a whole cannot be imported (not this way's kind of file, missing, empty)."""


PAD, START, END = "<pad>", "<s>", "</s>"
SPECIALS = (PAD, START, END)
PAD_ID, START_ID, END_ID = 0, 1, 2

# Hyperparameters every way understands. Units and ranges in the comments.
COMMON_DEFAULTS: dict[str, Any] = {
    "embedding_dim": 64,  # width of the token embedding, 8..1024
    "units": [128],  # one LSTM layer per entry, each 8..2048 units
    "dropout": 0.0,  # between LSTM layers, 0..0.9
    # DropConnect on each LSTM's recurrent weights while training (AWD-LSTM's weight drop):
    # one mask a batch, the same at every step of it, so the state's own path is
    # regularized where `dropout` only touches what passes between layers; 0..0.9, 0 = off.
    # Trained through the trainer's own loop on a GPU too (Keras's cuDNN kernel has none).
    "weight_drop": 0.0,
    "dense": [],  # extra ReLU dense layers after the LSTMs, each 8..4096 units
    "batch_size": 32,  # sequences per step, 1..1024
    "learning_rate": 0.002,  # Adam step size, 1e-5..1e-1
    "clipnorm": 5.0,  # gradient norm clip, 0 = off
    "sequence_mode": "tunes",  # "tunes": whole tunes from a zero state, as sampling runs;
    # "carried": the same whole tunes trained seq_length steps at a time, the LSTM state
    # carried from window to window (back-propagation truncated at window edges);
    # "packed": whole tunes from a zero state as "tunes", several end to end in each row (the
    # state set to zero where each starts, a look back looking over its own tune only), so
    # that every batch is batch_size full rows;
    # "windows": independent windows of seq_length (the original write-up), for comparison
    "seq_length": 100,  # window length in tokens for "windows"/"carried" and the windowed sampler
    "max_tokens": 2000,  # longer pieces are cut to this many tokens in "tunes" mode
    "val_fraction": 0.1,  # share of tunes held out for validation, 0..0.5
    "sample_every": 1,  # epochs between epoch samples, 0 = never
    "samples_per_epoch": 4,  # pieces generated at each sampled epoch
    "sample_temperature": 1.0,
    "sample_max_tokens": 800,
    "transpose": False,  # augment with transpositions (ways that support it)
    # Stop when this many epochs in a row bring no validation loss below the best before
    # them (by 1e-4 nats); in epochs, 0..1000, 0 = off. Needs val_fraction > 0.
    "early_stopping_patience": 0,
    # When this many epochs in a row bring no validation loss below the best before them,
    # the learning rate is multiplied by lr_plateau_factor, at most lr_plateau_cuts times
    # (a smaller step lets the model settle into the minimum a constant rate circles);
    # patience in epochs, 0..1000, 0 = off; factor in (0, 1); cuts 0..20. Keep the
    # patience below early_stopping_patience, or the run stops before it cuts.
    "lr_plateau_patience": 0,
    "lr_plateau_factor": 0.5,
    "lr_plateau_cuts": 3,
    # Pieces the chosen checkpoint draws of its own when the run ends, for its critic
    # (`metrics.critic`: the take most like the corpus); 0..5000, 0 = no critic. Ways whose
    # pieces have no melody fit none. 400 costs about half a minute on one core for `quick`.
    "critic_pieces": 400,
    # Pieces the chosen checkpoint draws in each round of fitting its moves (`ml.line`:
    # the weights that make its pieces step, leap and turn as the training pieces do),
    # when the run ends, in `moves_rounds` rounds and one more that measures the fit;
    # 0..5000, 0 = none fitted; rounds 1..10. Ways without `capabilities.moves` fit none.
    # 600 pieces, 3 rounds: about three minutes on one core for O'Neill `quick`. (With 300 a
    # round, two fits on other seeds ended Nottingham's 8-note phrases at 0.35 and 0.32 of
    # people's 0.34: a round's count of long phrases is too noisy for the phrase weights'
    # larger steps; with 600, two fits at 0.33-0.35.)
    "moves_pieces": 600,
    "moves_rounds": 3,
    # What the generate page offers first for the run's models, and so what the pieces its
    # moves and critic are fitted on are drawn with: takes per piece 0..8 (0 = the way's
    # `capabilities.default_takes`), temperature 0.1..3.0, top-p in (0, 1] (1 = off). A
    # well-trained model's draws are heard as people's more often taken as they come than
    # chosen among four (docs/quality.md §6, *What the takes reward*): the ABC `full` and
    # `large` presets offer one take at 1.0 with top-p 0.95.
    "page_takes": 0,
    "page_temperature": 0.9,
    "page_top_p": 1.0,
    # A look back (`ml.model.LookBack`): attention over the piece so far, keyed by the
    # context before each earlier symbol, after the last LSTM; heads 0..16 (0 = none),
    # each look_back_dim 4..256 wide.
    "look_back_heads": 0,
    "look_back_dim": 32,
    # With a warm-up corpus (ways with `capabilities.warmup_corpus`): the first
    # warmup_epochs epochs train on the run's corpus and that corpus together, the rest on
    # the run's corpus alone, at half the learning rate, with the rate's cuts and early
    # stopping counted afresh from the switch; 0..1000 epochs, 0 = no warm-up.
    "warmup_epochs": 0,
}


# The request fields every way's generation takes, whatever its capabilities.
SAMPLING_FIELDS = ("count", "temperature", "seed", "top_k", "top_p", "takes")
# How a way's pieces may open, and the request fields each kind of opening takes.
OPENING_FIELDS: dict[str, tuple[str, ...]] = {
    "text": ("prime",),  # the way's own text, as the model saw it in training
    "header": ("meter", "key", "opening"),  # ABC header fields and first notes
    "tune": ("primer_tune", "primer_bars"),  # the first bars of a tune of the run's corpus
    "midi_file": ("primer_midi", "primer_bars"),  # the first bars of an uploaded MIDI file
    "recording": ("prime_audio",),  # an uploaded recording the pieces continue
}
# The same kinds of opening, in words for people ("it starts from a corpus piece").
OPENING_WORDS = {
    "text": "its own text",
    "header": "a meter, key and opening notes",
    "tune": "a corpus piece",
    "midi_file": "a MIDI file",
    "recording": "a recording",
}
LENGTH_FIELDS = {"tokens": "max_length", "seconds": "seconds"}
TITLE_STYLES = ("tune", "melody", "recording", "plain")


@dataclass(frozen=True)
class Capabilities:
    """What a way's pieces are and what generating them takes.

    Pages, the API, forms and services ask these instead of naming a way, so a new way is
    one module: it declares its capabilities and every interface follows. The meaning of
    each lives here, and nowhere else.
    """

    # --- what a piece is -------------------------------------------------------------------
    # Notes: an engraved score, MIDI and MusicXML files, audio rendered from the MIDI.
    has_score: bool = False
    # Sound: pieces are decoded to a recording when made (WAV, OGG, a spectrogram), tunes are
    # recordings (FLAC); there are no notes.
    is_audio: bool = False
    # How a piece's text is written and downloaded: "abc" (ABC notation) or "text" (tokens).
    text_format: Literal["abc", "text"] = "text"
    # How the metrics read a melody from the text: "abc", "events" (the MIDI way's event
    # text) or "" (no notes: novelty, idiom and features do not apply).
    melody: Literal["abc", "events", ""] = ""
    # Validity is notation's: the text parses, plays, and its bars add up (the validity
    # badge, the "bars that add up" and "notes" rows).
    checks_bars: bool = False
    # The quality targets of docs/quality.md (set on ABC tunes) apply to its run reports.
    quality_targets: bool = False
    # Generated titles, in the style of the way's corpus: "tune" (folk tunes: "The Foggy
    # Heron (Jig)", a tune type read from the meter), "melody" (melodies that are not dances,
    # such as chorale tunes: "Melody no. 214 in G minor"), "recording" (sound without meter
    # or key: "Sketch no. 214") or "plain" ("The Foggy Heron").
    title_style: Literal["tune", "melody", "recording", "plain"] = "plain"
    # Training vocabularies a run may choose between (the `vocabulary` hyperparameter).
    vocabularies: tuple[str, ...] = ()
    # A run may learn from a second corpus of the same way first (its `warmup_epochs`:
    # `Way.prepare(warmup_texts=)`), for a corpus too small for the model alone.
    warmup_corpus: bool = False

    # --- what generating a piece takes ----------------------------------------------------
    # How a piece may open (keys of OPENING_FIELDS); none: the model always starts alone.
    openings: frozenset[str] = frozenset()
    # Its length is asked in "tokens" (`max_length`) or "seconds" (`seconds`), which
    # become tokens at `tokens_per_second`.
    length: Literal["tokens", "seconds"] = "tokens"
    tokens_per_second: float = 0.0
    # Grammar-aware sampling can be switched on (a way that always masks says False).
    grammar: bool = False
    # Its grammar can also shape a piece in the form of a folk tune (two parts of 8 bars,
    # repeats and endings closed, ending after them on the tonic): the `folk_form` option.
    folk_form: bool = False
    # With the folk form, bars and phrases can come back where the corpus's own tunes bring
    # them back (`ml.returns`): the `returns` option. The way gives the sampler its symbols'
    # `returns_flags` and, from the training tunes, a `returns_library` of plans.
    returns: bool = False
    # Each draw can also look back over the piece itself (`ml.memory`: what followed the
    # longest earlier match, with weights fitted on the run's held-out pieces at every
    # checkpoint): the `memory` option.
    memory: bool = False
    # Each candidate note can be weighed by its move from the last note (`ml.line`), with
    # weights fitted on the chosen checkpoint when its run ends, so that its pieces step,
    # leap and turn as often as the run's training pieces: the `moves` option. The way's
    # notes are ABC pitches (`line.symbol_classes` reads them from its vocabulary).
    moves: bool = False
    # Takes of each piece the generate page offers first (1..8; `sampler.sample(takes=)`):
    # more than one only where listening tests found the kept take closer to people's
    # pieces (docs/quality.md §6, *Takes*, for ABC).
    default_takes: int = 1
    # Symbols each take writes before all but the least surprising so far stop
    # (`sampler.sample(trial=)`), when the model's own view keeps the take; 0: every take
    # runs to its end. Set where listening tests found the kept takes as close to people's
    # as with whole takes (docs/quality.md §6, *Takes*), at a fraction of the wait.
    take_trial: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.openings) - set(OPENING_FIELDS)
        if unknown:
            raise ValueError(f"unknown openings {sorted(unknown)}; known: {list(OPENING_FIELDS)}")
        if self.length not in LENGTH_FIELDS:
            raise ValueError(f"length must be tokens or seconds (got {self.length!r})")
        if self.length == "seconds" and not self.tokens_per_second > 0:
            raise ValueError("a length in seconds needs tokens_per_second")
        if self.text_format not in ("abc", "text") or self.melody not in ("abc", "events", ""):
            raise ValueError("text_format is abc or text; melody is abc, events or empty")
        if not 1 <= self.default_takes <= MAX_TAKES:
            raise ValueError(f"default_takes is 1..{MAX_TAKES} (got {self.default_takes})")
        if self.take_trial < 0:
            raise ValueError(f"take_trial is 0 (off) or symbols (got {self.take_trial})")
        if self.title_style not in TITLE_STYLES:
            raise ValueError(f"title_style is one of {TITLE_STYLES} (got {self.title_style!r})")

    @property
    def has_melody(self) -> bool:
        """Its pieces have notes the evaluation can compare with the corpus."""
        return bool(self.melody)

    @property
    def generation_fields(self) -> tuple[str, ...]:
        """The generation request's fields that apply, in the generate page's order."""
        fields = [*SAMPLING_FIELDS, LENGTH_FIELDS[self.length]]
        if self.melody:  # takes kept by likeness to the corpus: a critic hears melodies
            fields.insert(len(SAMPLING_FIELDS), "takes_by")
        if self.grammar:
            fields.append("grammar")
        if self.folk_form:
            fields.append("folk_form")
        if self.returns:
            fields.append("returns")
        if self.memory:
            fields.append("memory")
        if self.moves:
            fields.append("moves")
        for kind, names in OPENING_FIELDS.items():
            if kind in self.openings:
                fields.extend(n for n in names if n not in fields)
        return tuple(fields)

    def starts_from(self, *, without: tuple[str, ...] = ()) -> str:
        """How its pieces may open, in words: "it starts from a corpus piece or a MIDI file"
        (leaving out the kinds in `without`, e.g. those a form has no field for)."""
        kinds = [OPENING_WORDS[k] for k in OPENING_WORDS if k in self.openings and k not in without]
        return f"it starts from {' or '.join(kinds)}" if kinds else "it starts on its own"

    def tokens_for(self, seconds: float) -> int:
        """How many tokens last `seconds` (a way whose length is asked in seconds)."""
        return int(round(seconds * self.tokens_per_second))

    @property
    def piece_downloads(self) -> tuple[str, ...]:
        """The formats a generated piece may be downloaded in (where it has the file)."""
        formats = [self.text_format]
        if self.has_score:
            formats += ["midi", "musicxml", "audio"]
        if self.is_audio:
            formats += ["wav", "ogg"]
        return tuple(formats)

    @property
    def tune_downloads(self) -> tuple[str, ...]:
        """The formats a corpus tune may be downloaded in: a recording is only its sound."""
        if self.is_audio:
            return ("audio",)
        formats = [self.text_format]
        if self.has_score:
            formats += ["midi", "musicxml", "audio"]
        return tuple(formats)


@dataclass
class Prepared:
    """Encoded training data: token id arrays, one per piece, split by piece."""

    vocab: list[str]
    train: list[np.ndarray]
    val: list[np.ndarray]
    stats: dict[str, Any] = field(default_factory=dict)
    # Arrays a way needs beside the weights to decode (the audio way's codebook); saved into
    # every checkpoint's sampler file so a checkpoint is self-contained.
    state: dict[str, np.ndarray] = field(default_factory=dict)
    # Pieces of a second corpus the run learns from first (`warmup_epochs`), encoded in the
    # same vocabulary; none without one.
    warmup: list[np.ndarray] = field(default_factory=list)


def _order(n: int, seed: int) -> list[int]:
    return np.random.default_rng(seed).permutation(n).tolist()


def validation_indices(n: int, *, val_fraction: float, seed: int) -> list[int]:
    """Positions (in corpus order) of the pieces `Way.prepare` holds out for validation: the
    run's human reference, never trained on. At least one when val_fraction > 0 and there
    are two pieces or more; never all of them."""
    n_val = int(round(n * float(val_fraction)))
    if n > 1:
        n_val = min(max(n_val, 1 if val_fraction > 0 else 0), n - 1)
    else:
        n_val = 0
    return sorted(_order(n, seed)[:n_val])


class Way:
    """Base class. Subclasses set `name`, `label`, `presets` and `capabilities`, and
    implement the text ↔ tokens pair."""

    name: str = ""
    label: str = ""  # for choices and headings, e.g. "Text (ABC)"
    short_label: str = ""  # in sentences, e.g. "meter is for ABC runs"; default: the name
    presets: dict[str, dict[str, Any]] = {}
    capabilities: Capabilities = Capabilities()

    # --- what a way must implement -------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        """A corpus piece's text (already normalised) → its tokens, without START/END."""
        raise NotImplementedError

    def detokenize(self, tokens: list[str]) -> str:
        """Tokens → the piece's text in the way's native form."""
        raise NotImplementedError

    def normalise(self, text: str) -> str:
        """A corpus piece's stored text → the canonical form the model trains on."""
        return text

    def describe(self, text: str) -> dict[str, Any]:
        """Title, meter and key of a piece, where the way knows them."""
        return {}

    def augment(self, text: str, config: dict[str, Any]) -> list[str]:
        """Extra training variants of one piece (e.g. transpositions). Default: none."""
        return []

    def finish(self, text: str, *, title: str) -> str:
        """Turn a sampled text into a complete piece (headers, title)."""
        return text

    def validate(self, text: str) -> dict[str, Any]:
        """Validity of a finished piece: keys parses, plays, bar_accuracy, n_notes, messages."""
        raise NotImplementedError

    def to_midi(self, text: str) -> bytes:
        """A finished piece as a MIDI file. Raises ValueError when it cannot be rendered."""
        raise NotImplementedError

    def to_musicxml(self, text: str) -> bytes:
        """A finished piece as MusicXML, for the score and downloads."""
        raise NotImplementedError

    def import_items(
        self,
        *,
        source: str,
        upload: tuple[str, bytes] | None,
        progress: Callable[[int, int], None] | None = None,
        processes: int | None = None,
    ) -> list[Any]:
        """A corpus source (folder, file, `music21:<name>`) or an upload (name, bytes) →
        candidate pieces, each with `file`, `number`, `text`, `n_notes` and `failure` (the
        reason it is skipped, or None), checked on up to `processes` cores. Raises
        ImportRefused when the source as a whole is refused."""
        raise ImportRefused(f"importing is not available for the {self.name} way yet")

    def check_import(self, *, source: str = "", upload: tuple[str, bytes] | None = None) -> None:
        """Raise ImportRefused at once for what `import_items` would refuse as a whole, where
        that is cheap to tell (a request can then answer before an import job is queued)."""

    def claims_source(self, source: str) -> bool:
        """This source can only be imported by this way (e.g. `music21:bach-audio`)."""
        return False

    def vocabulary_kind(self, *, config: dict[str, Any], vocab: list[str]) -> str | None:
        """Which of `capabilities.vocabularies` a run trained on; None for a way without."""
        return None

    # --- shared --------------------------------------------------------------------------
    @property
    def noun(self) -> str:
        """How sentences name the way: "ABC", "MIDI", "audio"."""
        return self.short_label or self.name

    def resolve_config(self, *, preset: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
        if preset not in self.presets:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(self.presets)}")
        config = {**COMMON_DEFAULTS, **self.presets[preset], **(overrides or {})}
        unknown = set(overrides or {}) - set(COMMON_DEFAULTS) - set(self.presets[preset])
        if unknown:
            raise ValueError(f"unknown hyperparameters: {', '.join(sorted(unknown))}")
        validate_config(config)
        return config

    def prepare(
        self,
        *,
        texts: list[str],
        config: dict[str, Any],
        seed: int,
        warmup_texts: Sequence[str] = (),
    ) -> Prepared:
        """Tokenise, build the vocabulary and split by piece (never inside a piece). With
        `warmup_texts` (a second corpus's, for `capabilities.warmup_corpus`), those are
        encoded too, augmented as the training pieces are, into `Prepared.warmup`, and the
        vocabulary covers both; the split of `texts` is the same as without them."""
        if not texts:
            raise ValueError("the corpus is empty: there is nothing to train on")
        val_idx = set(
            validation_indices(len(texts), val_fraction=config["val_fraction"], seed=seed)
        )
        train_idx = [i for i in _order(len(texts), seed) if i not in val_idx]

        def augmented(raw: Sequence[str]) -> list[str]:
            # Each text normalised, followed by its augmentations when `transpose` asks.
            out = []
            for text in raw:
                text = self.normalise(text)
                out.append(text)
                if config.get("transpose"):
                    out.extend(self.augment(text, config))
            return out

        train_texts = augmented([texts[i] for i in train_idx])
        val_texts = [self.normalise(texts[i]) for i in sorted(val_idx)]
        warmup_texts_all = augmented(warmup_texts)
        train_tokens = [self.tokenize(t) for t in train_texts]
        val_tokens = [self.tokenize(t) for t in val_texts]
        warmup_tokens = [self.tokenize(t) for t in warmup_texts_all]
        symbols = sorted(
            {tok for toks in train_tokens + val_tokens + warmup_tokens for tok in toks}
        )
        vocab = [*SPECIALS, *symbols]
        index = {tok: i for i, tok in enumerate(vocab)}
        cap = int(config["max_tokens"])

        def encode(tokens: list[str]) -> np.ndarray:
            ids = [START_ID, *(index[t] for t in tokens[: cap - 2]), END_ID]
            return np.asarray(ids, dtype=np.int32)

        train = [encode(t) for t in train_tokens if t]
        val = [encode(t) for t in val_tokens if t]
        warmup = [encode(t) for t in warmup_tokens if t]
        if not train:
            raise ValueError("no piece of the corpus produced any tokens")
        if warmup_texts and not warmup:
            raise ValueError("no piece of the warm-up corpus produced any tokens")
        stats = {
            "pieces_train": len(train),
            "pieces_val": len(val),
            "tokens_train": int(sum(len(a) for a in train)),
            "tokens_val": int(sum(len(a) for a in val)),
            "vocab_size": len(vocab),
        }
        if warmup:
            stats["pieces_warmup"] = len(warmup)
            stats["tokens_warmup"] = int(sum(len(a) for a in warmup))
        return Prepared(vocab=vocab, train=train, val=val, stats=stats, warmup=warmup)

    def encode_prime(self, *, vocab: list[str], prime: str) -> list[int]:
        """A prime in the way's text form → token ids after START. Unknown symbols raise."""
        index = {tok: i for i, tok in enumerate(vocab)}
        tokens = self.tokenize(prime) if prime else []
        missing = sorted({t for t in tokens if t not in index})
        if missing:
            raise ValueError(f"the opening uses symbols the model never saw: {missing[:10]}")
        return [START_ID, *(index[t] for t in tokens)]

    def decode(self, *, vocab: list[str], ids: list[int] | np.ndarray) -> str:
        tokens = []
        for i in ids:
            tok = vocab[int(i)]
            if tok == END:
                break
            if tok in SPECIALS:
                continue
            tokens.append(tok)
        return self.detokenize(tokens)


def validate_config(config: dict[str, Any]) -> None:
    """Refuse values outside their ranges, or of the wrong type, naming the field."""
    try:
        _validate_config(config)
    except TypeError as exc:
        raise ValueError(f"a hyperparameter has the wrong type: {exc}") from exc


def _validate_config(config: dict[str, Any]) -> None:

    def check(name: str, ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(f"{name} must be {what} (got {config.get(name)!r})")

    def number(name: str, ok) -> bool:  # a real number (not a bool) that `ok` accepts
        value = config.get(name, COMMON_DEFAULTS[name])
        return isinstance(value, (int, float)) and not isinstance(value, bool) and ok(value)

    units = config["units"]
    check(
        "units",
        isinstance(units, list) and 1 <= len(units) <= 8,
        "a list of 1..8 sizes",
    )
    check(
        "units",
        all(isinstance(u, int) and 8 <= u <= 2048 for u in units),
        "8..2048 each",
    )
    check("dense", isinstance(config["dense"], list), "a list of sizes")
    check("embedding_dim", isinstance(config["embedding_dim"], int), "an integer")
    check("embedding_dim", 8 <= config["embedding_dim"] <= 1024, "8..1024")
    check("dropout", 0 <= float(config["dropout"]) < 0.95, "in [0, 0.95)")
    check("batch_size", 1 <= int(config["batch_size"]) <= 1024, "1..1024")
    check("weight_drop", number("weight_drop", lambda v: 0 <= v <= 0.9), "a number, 0..0.9")
    check("learning_rate", 0 < float(config["learning_rate"]) <= 0.1, "in (0, 0.1]")
    check(
        "sequence_mode",
        config["sequence_mode"] in ("tunes", "carried", "packed", "windows"),
        "tunes, carried, packed or windows",
    )

    def whole(name: str, top: int, what: str) -> None:
        value = config.get(name, 0)
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top
        check(name, ok, what)

    whole("early_stopping_patience", 1000, "a whole number of epochs, 0..1000 (0 = off)")
    whole("lr_plateau_patience", 1000, "a whole number of epochs, 0..1000 (0 = off)")
    whole("lr_plateau_cuts", 20, "a whole number, 0..20")
    whole("look_back_heads", 16, "a whole number of heads, 0..16 (0 = no look back)")
    whole("look_back_dim", 256, "a whole number, 4..256")
    whole("warmup_epochs", 1000, "a whole number of epochs, 0..1000 (0 = no warm-up)")
    check("look_back_dim", config.get("look_back_dim", 32) >= 4, "a whole number, 4..256")
    check(
        "look_back_heads",
        not config.get("look_back_heads") or config["sequence_mode"] != "carried",
        "0 with sequence_mode carried (a look back sees the whole tune, not a window of it)",
    )
    whole("critic_pieces", 5000, "a whole number of pieces, 0..5000 (0 = no critic)")
    whole("moves_pieces", 5000, "a whole number of pieces, 0..5000 (0 = no fit)")
    whole("moves_rounds", 10, "a whole number of rounds, 1..10")
    check("moves_rounds", config.get("moves_rounds", 3) >= 1, "a whole number of rounds, 1..10")
    whole("page_takes", MAX_TAKES, f"a whole number of takes, 0..{MAX_TAKES} (0 = the way's own)")

    check("page_temperature", number("page_temperature", lambda v: 0.1 <= v <= 3.0),
          "a number, 0.1..3.0")  # fmt: skip
    check("page_top_p", number("page_top_p", lambda v: 0 < v <= 1), "a number in (0, 1]")
    check("lr_plateau_factor", number("lr_plateau_factor", lambda v: 0 < v < 1),
          "a number in (0, 1)")  # fmt: skip
    check("seq_length", 2 <= int(config["seq_length"]) <= 4000, "2..4000")
    check("max_tokens", 16 <= int(config["max_tokens"]) <= 100000, "16..100000")
    check("val_fraction", 0 <= float(config["val_fraction"]) <= 0.5, "0..0.5")
    check("sample_temperature", float(config["sample_temperature"]) > 0, "positive")


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
