"""The ABC way: an LSTM over ABC notation (folk tunes), by characters (the default) or by
folk-rnn-style tokens (`vocabulary: "tokens"`, see `abc_tokens`).

Each tune trains as `M:…\nL:…\nK:…\n<body>` between START and END: the header fields a user
may prime come first and in a fixed order, so a prime of `M:6/8\nL:1/8\nK:D\n` is exactly the
start of a training sequence. Titles, numbers, sources and comments are dropped: they are
not music, and the site names generated tunes itself.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from . import abc_tokens
from .base import SPECIALS, START, START_ID, Capabilities, ImportRefused, Way
from .pool import cpu_count, map_processes

FIELD = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")
# Header fields kept inside the body: they change meter, unit or key mid-tune.
BODY_FIELDS = {"M", "L", "K"}


def split_tunes(text: str) -> list[tuple[int, str]]:
    """A multi-tune ABC file → [(X number, tune text)], split at `X:` lines."""
    tunes: list[tuple[int, str]] = []
    current: list[str] | None = None
    number = 0
    for line in text.splitlines():
        if re.match(r"^X:\s*", line):
            if current is not None:
                tunes.append((number, "\n".join(current).strip() + "\n"))
            digits = re.findall(r"\d+", line)
            number = int(digits[0]) if digits else len(tunes) + 1
            current = [line]
        elif current is not None:
            current.append(line)
    if current is not None:
        tunes.append((number, "\n".join(current).strip() + "\n"))
    return tunes


def parse_header(text: str) -> dict[str, str]:
    """Header fields up to and including the first K: line."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        m = FIELD.match(line)
        if not m:
            if line.strip() and not line.startswith("%"):
                break
            continue
        name, value = m.group(1), m.group(2)
        fields.setdefault(name, value.split("%")[0].strip())
        if name == "K":
            break
    return fields


# --- transposition (augmentation) -------------------------------------------------------------
LETTERS = "CDEFGAB"
LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
LETTER_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
SHARP_ORDER = "FCGDAEB"
# Mode → fifths from its major key (A minor has the signature of C: -3 from A major).
MODES = {"": 0, "maj": 0, "ion": 0, "m": -3, "min": -3, "aeo": -3, "mix": -1, "dor": -2,
         "phr": -4, "lyd": 1, "loc": -5}  # fmt: skip
ACCIDENTALS = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
ACCIDENTAL_TEXT = {v: k for k, v in ACCIDENTALS.items()}
# Transpositions of the augmentation: (letter steps, semitones). A major second up and down
# keeps the range of a tune and turns the commonest folk keys (G, D, A minor, E minor) into
# other common ones (A, F, E, C, B minor, D minor…); MAX_SIGNATURE drops the rare far keys.
TRANSPOSITIONS = ((1, 2), (-1, -2))
MAX_SIGNATURE = 4  # at most this many sharps or flats in a transposed key
KEY_VALUE = re.compile(r"^([A-G])([#b]?)\s*([A-Za-z]*)(.*)$")
NOTE_OR_SKIP = re.compile(
    r'"[^"\n]*"|![^!\n]*!|\[[A-Za-z]:[^\]\n]*\]|(\^\^|\^|__|_|=)?([A-Ga-g])([,\']*)'
)
CHORD_ROOT = re.compile(r'(^"|/)([A-G])([#b]?)')


class NotTransposable(ValueError):
    """A tune this simple transposer leaves alone (an unknown key, explicit signatures…)."""


def _key(value: str) -> tuple[str, int, int, str, str]:
    """K: value → (letter, accidental, fifths of the signature, mode text, rest)."""
    m = KEY_VALUE.match(value.strip())
    if not m:
        raise NotTransposable(f"key {value!r}")
    letter, acc, mode, rest = m.group(1), m.group(2), m.group(3), m.group(4)
    mode_key = mode.lower()[:3] if mode.lower() not in ("m", "") else mode.lower()
    if mode_key not in MODES or any(c in rest for c in "^_="):
        raise NotTransposable(f"key {value!r}")
    shift = {"#": 1, "b": -1, "": 0}[acc]
    fifths = LETTER_FIFTHS[letter] + 7 * shift + MODES[mode_key]
    return letter, shift, fifths, mode, rest


# A mode's full name (ABC accepts any prefix of 3 letters or more, in any case) → how a
# musician says it after the tonic.
MODE_WORDS = {"major": "major", "ionian": "major", "minor": "minor", "aeolian": "minor",
              "mixolydian": "Mixolydian", "dorian": "Dorian", "phrygian": "Phrygian",
              "lydian": "Lydian", "locrian": "Locrian"}  # fmt: skip
ACCIDENTAL_SIGNS = {"#": "♯", "b": "♭", "": ""}


def key_in_words(value: str) -> str:
    """An ABC key field as a musician says it: "Em" → "E minor", "DDor" → "D Dorian",
    "Bb" → "B♭ major". A value this does not recognise (already words, explicit
    accidentals, none) comes back as it is."""
    m = KEY_VALUE.match(value.strip())
    if not m or m.group(4).strip():
        return value
    letter, acc, mode = m.group(1), m.group(2), m.group(3).lower()
    if mode in ("", "m"):
        words = "major" if mode == "" else "minor"
    else:
        names = [name for name in MODE_WORDS if len(mode) >= 3 and name.startswith(mode)]
        if len(names) != 1:
            return value
        words = MODE_WORDS[names[0]]
    return f"{letter}{ACCIDENTAL_SIGNS[acc]} {words}"


# ABC's meter symbols, as a musician reads them beside a key ("C in A major" reads as a key).
METER_WORDS = {"C": "4/4 (common time)", "C|": "2/2 (cut time)"}


def meter_in_words(value: str) -> str:
    """An ABC meter field as a musician says it: "C" → "4/4 (common time)", "C|" → "2/2
    (cut time)"; a fraction ("6/8") or anything else comes back as it is, stripped."""
    value = value.strip()
    return METER_WORDS.get(value, value)


def _signature(fifths: int) -> dict[str, int]:
    """Fifths (+sharps / −flats) → accidental of each letter."""
    if abs(fifths) > 7:
        raise NotTransposable(f"{fifths} fifths")
    sig = dict.fromkeys(LETTERS, 0)
    for letter in SHARP_ORDER[:fifths] if fifths > 0 else SHARP_ORDER[::-1][:-fifths]:
        sig[letter] = 1 if fifths > 0 else -1
    return sig


def _spell(letter: str, acc: int, steps: int, semitones: int) -> tuple[str, int]:
    """The note `steps` letters and `semitones` above letter+acc, as (letter, accidental)."""
    new = LETTERS[(LETTERS.index(letter) + steps) % 7]
    diff = (LETTER_PC[letter] + acc + semitones - LETTER_PC[new]) % 12
    diff = diff - 12 if diff > 6 else diff
    if abs(diff) > 2:
        raise NotTransposable(f"{letter}{acc:+d} by {semitones}")
    return new, diff


def transpose_abc(text: str, *, steps: int, semitones: int) -> str:
    """A normalised tune (`AbcWay.normalise`) moved `steps` letters and `semitones` up (down
    when negative): key fields, notes (their explicit accidentals re-spelt against the new
    key's signature, so a raised 7th stays a raised 7th), and chord-symbol roots. Raises
    NotTransposable for what it does not handle, so augmentation skips the tune."""
    out: list[str] = []
    old_sig = new_sig = None
    for line in text.split("\n"):
        m = FIELD.match(line)
        if m and m.group(1) == "K":
            letter, acc, fifths, mode, rest = _key(m.group(2))
            new_letter, new_acc = _spell(letter, acc, steps, semitones)
            new_fifths = (
                fifths
                + (LETTER_FIFTHS[new_letter] + 7 * new_acc)
                - (LETTER_FIFTHS[letter] + 7 * acc)
            )
            if abs(new_fifths) > MAX_SIGNATURE or abs(new_acc) > 1:
                raise NotTransposable(f"{new_letter} with {new_fifths} fifths")
            old_sig, new_sig = _signature(fifths), _signature(new_fifths)
            acc_text = {1: "#", -1: "b", 0: ""}[new_acc]
            out.append(f"K:{new_letter}{acc_text}{mode}{rest}")
            continue
        if m or old_sig is None:  # other field lines (M:, L:) and the header before K:
            out.append(line)
            continue
        if "+" in line:  # +decorations+ or old-style +chords+: not worth the ambiguity
            raise NotTransposable("a '+' in the body")
        move = functools.partial(
            _move, steps=steps, semitones=semitones, old_sig=old_sig, new_sig=new_sig
        )
        out.append(NOTE_OR_SKIP.sub(move, line))
    return "\n".join(out)


def _move(match: re.Match, *, steps: int, semitones: int, old_sig, new_sig) -> str:
    token = match.group(0)
    if token.startswith('"'):
        return CHORD_ROOT.sub(lambda r: _chord_root(r, steps, semitones), token, count=2)
    if match.group(2) is None:
        if token.startswith("[K:"):
            raise NotTransposable("an inline key change")
        return token  # decorations and other inline fields
    acc_text, letter, marks = match.group(1), match.group(2), match.group(3)
    octave = (1 if letter.islower() else 0) + marks.count("'") - marks.count(",")
    upper = letter.upper()
    index = octave * 7 + LETTERS.index(upper) + steps
    octave, new = divmod(index, 7)
    new_letter = LETTERS[new]
    if acc_text is None:
        new_acc_text = ""
        # The key's own accidental moves with the note: only a mismatch needs writing.
        _, want = _spell(upper, old_sig[upper], steps, semitones)
        if want != new_sig[new_letter]:
            new_acc_text = ACCIDENTAL_TEXT[want]
    else:
        _, want = _spell(upper, ACCIDENTALS[acc_text], steps, semitones)
        if want not in ACCIDENTAL_TEXT:
            raise NotTransposable(token)
        new_acc_text = ACCIDENTAL_TEXT[want]
    if octave >= 1:
        body = new_letter.lower() + "'" * (octave - 1)
    else:
        body = new_letter + "," * (-octave)
    return new_acc_text + body


def _chord_root(match: re.Match, steps: int, semitones: int) -> str:
    acc = {"#": 1, "b": -1, "": 0}[match.group(3)]
    letter, new_acc = _spell(match.group(2), acc, steps, semitones)
    if abs(new_acc) > 1:
        raise NotTransposable(match.group(0))
    return match.group(1) + letter + {1: "#", -1: "b", 0: ""}[new_acc]


def default_unit_length(meter: str) -> str:
    """ABC's rule: L defaults to 1/16 when the meter is below 3/4, else 1/8."""
    if meter in ("C", "C|"):
        return "1/8"
    try:
        return "1/16" if Fraction(meter) < Fraction(3, 4) else "1/8"
    except (ValueError, ZeroDivisionError):
        return "1/8"


# The plans of returns among a checkpoint's way arrays (`Prepared.state`), measured on the
# training tunes by `metrics.form.returns_library`.
RETURNS_STATE = "way_returns"
RETURNS_FORM_STATE = "way_returns_8bar"  # 1: the plan's tune has the folk form's shape
RETURNS_SHIFT_STATE = "way_returns_shift"  # steps of the scale each restated bar moves
# Each plan's tune's shape (`metrics.form.form_shape_row`; -1 first: none the form follows):
# the folk form draws a piece's shape from the same tune as its plan.
SHAPES_STATE = "way_shapes"
SHAPES_PIECE_STATE = "way_shapes_piece"  # each plan's training piece (its index in `train`)


def _note_step(tok: str) -> int | None:
    """A bare note's step above the C below middle C (`C`: 0, `c`: 7, `c'`: 14, `B,`: -1),
    its octave marks counted; None for any other symbol (an accidental makes it another)."""
    pitch = re.fullmatch(r"([A-Ga-g])([,']*)", tok)
    if not pitch:
        return None
    step = "CDEFGAB".index(pitch[1].upper()) + 7 * pitch[1].islower()
    return step + 7 * pitch[2].count("'") - 7 * pitch[2].count(",")


def _pitch_token(step: int) -> str:
    """A note as ABC writes it from its step above the C below middle C (`C`: 0, `c`: 7):
    the inverse of `_note_step`."""
    octave, letter = divmod(step, 7)
    if octave >= 1:
        return "cdefgab"[letter] + "'" * (octave - 1)
    return "CDEFGAB"[letter] + "," * -octave


def _shaped(state: dict):
    """Which plans' tunes have a shape the form follows (bool per plan), None when the
    way arrays hold no shapes or none usable."""
    shapes = state.get(SHAPES_STATE)
    if shapes is None or not len(shapes):
        return None
    shaped = np.asarray(shapes)[:, 0] >= 0
    return shaped if shaped.any() else None


def _form_shape(row):
    """A `form_shape_row` (way_shapes) as the grammar's `FormShape`: rows of 12 (parts,
    last note, meter), or as saved before, 10 (no meter) or 9 (no last note either). A
    part's repeat 2 means first and second endings (rows saved before write 1 there), and
    WHOLE_CLOSE added a whole closing bar after its pickup (never in rows saved before)."""
    from .abc_grammar import WHOLE_CLOSE, FormShape

    row = [int(v) for v in row]
    codes = [(row[k], row[k + 1] % WHOLE_CLOSE, row[k + 1] >= WHOLE_CLOSE) for k in range(1, 9, 2)]
    codes = [c for c in codes if c[0]]
    parts = tuple((bars, bool(rep)) for bars, rep, _ in codes)
    endings = tuple(rep == 2 for _, rep, _ in codes)
    whole = tuple(w for _, _, w in codes)
    last = row[9] if len(row) >= 10 else 0
    meter = (row[10], row[11]) if len(row) >= 12 and row[10] else None
    return FormShape(
        parts=parts, final=row[0], last=last, meter=meter, endings=endings, whole=whole
    )


# The generate page's first sampler for the presets of well-trained models (`page_takes`,
# `page_temperature`, `page_top_p`: ways.base.COMMON_DEFAULTS)
FULL_PAGE = {"page_takes": 1, "page_temperature": 1.0, "page_top_p": 0.95}


class AbcWay(Way):
    name = "abc"
    label = "Text (ABC)"
    short_label = "ABC"
    capabilities = Capabilities(
        has_score=True,
        text_format="abc",
        melody="abc",
        checks_bars=True,
        quality_targets=True,
        title_style="tune",
        vocabularies=abc_tokens.VOCABULARIES,
        openings=frozenset({"text", "header"}),
        length="tokens",
        grammar=True,
        folk_form=True,
        returns=True,
        memory=True,
        moves=True,
        warmup_corpus=True,
        default_takes=4,
        # A hundred characters (two or three bars; for a token vocabulary, measured in
        # characters only, a hundred tokens): the listener heard the kept takes as with
        # whole takes, and four takes cost 1.1-1.8 times one instead of 2.6-4.3 times.
        take_trial=100,
    )
    presets = {
        # Trains in minutes on a 2-core CPU and already makes tune-like output.
        "quick": {
            "vocabulary": "chars",  # "chars", "tokens" or "bars" (see abc_tokens)
            "embedding_dim": 32,
            "units": [192],
            "batch_size": 32,
            "learning_rate": 0.004,
            "max_tokens": 1200,
            "samples_per_epoch": 4,
        },
        # The original write-up's sizes: two stacked LSTM(256), 100-char sequences, batch 64.
        "full": {
            "vocabulary": "chars",
            "embedding_dim": 64,
            "units": [256, 256],
            "dropout": 0.2,
            "batch_size": 64,
            "learning_rate": 0.002,
            "max_tokens": 2000,
            "sample_every": 1,
            "samples_per_epoch": 4,
            # The page's first sampler: one take at 1.0, top-p 0.95. A `full` model's tunes,
            # taken as drawn, were told from people's less often than the way's four takes
            # (Nottingham, two models, five sets of seeds; O'Neill, two sets), where a
            # `quick` model's were not.
            **FULL_PAGE,
        },
        # folk-rnn's sizes: three stacked LSTM(512) with dropout 0.5. Slow on a CPU (about
        # ten times `full` per epoch); meant for a GPU host. Stops by itself once 5 epochs in
        # a row bring no lower validation loss, so a generous epoch count is safe.
        "large": {
            "vocabulary": "chars",
            "embedding_dim": 128,
            "units": [512, 512, 512],
            "dropout": 0.5,
            "batch_size": 64,
            "learning_rate": 0.002,
            "max_tokens": 2000,
            "sample_every": 1,
            "samples_per_epoch": 4,
            "early_stopping_patience": 5,
            **FULL_PAGE,  # (as `full`'s, a model at least as strong; not measured on its own)
        },
        # For tests: trains in seconds.
        "tiny": {
            "critic_pieces": 0,  # (a test that wants one asks for it)
            "moves_pieces": 0,
            "vocabulary": "chars",
            "embedding_dim": 8,
            "units": [16],
            "batch_size": 8,
            "learning_rate": 0.01,
            "max_tokens": 400,
            "samples_per_epoch": 1,
            "sample_max_tokens": 200,
            "val_fraction": 0.2,
        },
    }

    # "chars" (one symbol per character), "tokens" (notes, durations, bar lines, header
    # fields…) or "bars" (characters with each bar numbered; see abc_tokens). A run's own
    # choice lives in its config; `prepare` and `encode_prime` tokenize with a copy of the
    # way set to it, so that two runs in one process never see each other's choice.
    vocabulary = abc_tokens.CHARS

    def tokenize(self, text: str) -> list[str]:
        if self.vocabulary == abc_tokens.TOKENS:
            return abc_tokens.tokenize(text)
        if self.vocabulary == abc_tokens.BARS:
            return list(abc_tokens.add_markers(text))
        return list(text)

    def with_vocabulary(self, vocabulary: str) -> AbcWay:
        """This way tokenizing with `vocabulary` ("chars", "tokens" or "bars")."""
        view = copy.copy(self)
        view.vocabulary = abc_tokens.check_vocabulary(vocabulary)
        return view

    def resolve_config(self, *, preset: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
        config = super().resolve_config(preset=preset, overrides=overrides)
        if not isinstance(config.get("transpose"), bool):
            # The MIDI way takes a semitone span; the ABC way's transpositions are fixed.
            raise ValueError(f"transpose must be true or false (got {config['transpose']!r})")
        abc_tokens.check_vocabulary(config.get("vocabulary"))
        return config

    def prepare(self, *, texts: list[str], config: dict[str, Any], seed: int, warmup_texts=()):
        # A run stored before the option existed has no "vocabulary": it trained on characters.
        vocabulary = config.get("vocabulary", abc_tokens.CHARS)
        view = self.with_vocabulary(vocabulary)
        prepared = Way.prepare(
            view, texts=texts, config=config, seed=seed, warmup_texts=warmup_texts
        )
        prepared.stats["vocabulary"] = vocabulary
        return prepared

    def returns_flags(self, *, vocab: list[str]) -> np.ndarray:
        """What each symbol is to the sampler's bar bookkeeping (`ml.returns`): bar lines
        (`|` or a token holding one), what continues a bar line right after it (`:` of
        `|:`, an ending's number, `]` of `|]`, spaces, newlines and the line continuation
        `\\`), `:` before a bar line (and END: neither is a bar's content),
        the key field that opens the last header line, newlines (and START)."""
        from ..ml import returns as rt

        flags = np.zeros(len(vocab), dtype=np.int8)
        for i, tok in enumerate(vocab):
            f = 0
            if tok == START or tok == "\n":
                f |= rt.NEWLINE
            if tok in SPECIALS:  # END (and PAD) are no bar's content
                flags[i] = f if tok == START else rt.TRAIL
                continue
            if "|" in tok or tok == "::" or re.fullmatch(r"\[[12]", tok):
                f |= rt.BAR
            if tok == ":":
                f |= rt.JOIN | rt.TRAIL
            if tok in ("]", " ", "\n", "\\") or tok.isdigit() or tok in abc_tokens.MARKS:
                f |= rt.JOIN  # (a bar marker belongs to its bar line, not to the bar)
            if tok == "K" or tok.startswith("K:"):
                f |= rt.KEY
            flags[i] = f
        return flags

    def returns_maps(self, *, vocab: list[str]) -> np.ndarray:
        """What each symbol becomes in a bar restated a number of steps up or down the scale
        (`ml.returns`: int32 [N_MAPS, vocabulary], one row per shift code, row 0 as written;
        for characters two rows more, below).
        A note letter moves within the key signature (`G` three steps up is `c`), with its
        octave marks: where a token holds both, by the map; in characters, by the two rows
        that follow the maps (`returns.STEP_ROW`: each letter's step, `OCTAVE_ROW`: each
        mark's octave), with which the loop moves a letter and its marks as one note and
        writes the marks the moved note needs (`b` a step up is `c'`). Accidentals,
        decorations between `!`, chord brackets and grace notes cannot move (`STOP`: the
        restatement ends there and the model goes on). A chord symbol is the model's to
        write (`CHORD`; as a whole token, `STOP`): the restated bar's chord would not fit
        its moved notes."""
        from ..ml import returns as rt

        index = {tok: i for i, tok in enumerate(vocab)}
        steps = [None if tok in SPECIALS else _note_step(tok) for tok in vocab]
        maps = np.tile(np.arange(len(vocab), dtype=np.int32), (rt.N_MAPS, 1))
        for shift in range(-rt.MAX_SHIFT, rt.MAX_SHIFT + 1):
            if not shift:
                continue
            row = maps[rt.shift_code(shift)]
            for i, (tok, step) in enumerate(zip(vocab, steps, strict=True)):
                if tok in SPECIALS:
                    continue
                if step is not None:
                    row[i] = index.get(_pitch_token(step + shift), rt.STOP)
                elif tok == '"':
                    row[i] = rt.CHORD
                elif tok[0] in "\"!^_=',[{" and tok not in ("[1", "[2"):
                    row[i] = rt.STOP
        if abc_tokens.vocabulary_of(vocab) != abc_tokens.TOKENS:  # (characters, bars too)
            notes = np.zeros((2, len(vocab)), dtype=np.int32)
            notes[0] = [-1 if step is None else step for step in steps]  # (letters: 0..13)
            notes[1] = [{"'": 1, ",": -1}.get(tok, 0) for tok in vocab]
            maps = np.concatenate([maps, notes])
        return maps

    def returns_for(self, *, vocab: list[str], state: dict, seeds: list[int], form: bool):
        """The `ml.returns.Returns` for pieces of these seeds (one plan each, drawn by its
        seed from the plans in a checkpoint's way arrays; with the folk `form`, from the
        plans of the tunes in its shape, where there are any), or None when the checkpoint
        has none (a run trained before they were saved: `prepare` makes them again)."""
        from ..ml import returns as rt

        library = state.get(RETURNS_STATE)
        if library is None:
            return None
        shifts = state.get(RETURNS_SHIFT_STATE)  # (none in a checkpoint saved before them)
        if shifts is not None and np.shape(shifts) != np.shape(library):
            shifts = None
        fits = state.get(RETURNS_FORM_STATE)
        shaped = _shaped(state)
        keep = None
        if form and shaped is not None and len(shaped) == len(library):
            keep = shaped  # (the tunes the shapes are drawn from, in order)
        elif form and fits is not None and len(fits) == len(library) and fits.any():
            keep = fits.astype(bool)
        if keep is not None:
            library = library[keep]
            shifts = None if shifts is None else shifts[keep]
        return rt.Returns(
            flags=self.returns_flags(vocab=vocab),
            plans=rt.draw_plans(library, seeds, shifts),
            maps=self.returns_maps(vocab=vocab),
        )

    def form_shapes_for(self, *, state: dict, seeds: list[int], prime: str = "") -> list | None:
        """The folk form's shape for pieces of these seeds (`abc_grammar.FormShape`, one
        each), drawn by the seed from the training tunes' shapes in a checkpoint's way
        arrays: the same tune whose plan `returns_for` draws with the form. None when the
        checkpoint has none (a run trained before they were saved: `prepare` makes them).
        A `prime` (the opening text) that sets the meter keeps it: the shapes then leave
        the meter free."""
        from ..ml import returns as rt

        shaped = _shaped(state)
        if shaped is None:
            return None
        rows = np.asarray(state[SHAPES_STATE])[shaped]
        shapes = [_form_shape(rows[rt.draw_index(len(rows), seed)]) for seed in seeds]
        if re.search(r"^M:", prime, re.MULTILINE):
            shapes = [shape._replace(meter=None) for shape in shapes]
        return shapes

    def grammar_replay(
        self, *, tables, pieces: list, state: dict, form: bool, seconds: float, key
    ) -> int:
        """Build a grammar's tables (`grammar(...).automaton()`, the process's) ahead of time
        along the training pieces (`Prepared.train`: ids, START first), which the model's
        pieces follow, once per `key` for these tables (`LazyAutomaton.replayed`):
        about 1.5 s of CPU for a thousand tunes in characters, several times that in
        tokens; `seconds` (CPU, > 0) bounds it. With the folk `form` each piece is fed in
        its own shape (`state`'s, saved by `prepare` with the plans: the shapes
        `form_shapes_for` draws a visitor's piece from, whose table states are keyed by as
        much of the shape as the form's rules read),
        and pieces without one are left out (no piece is drawn in their shape); the
        grammar's own form where `state` holds no shapes, or not which piece each came
        from (way arrays saved before `SHAPES_PIECE_STATE`). Returns the symbols fed (0:
        this `key` was replayed already)."""
        if key in tables.replayed:
            return 0
        shapes = None
        shaped = _shaped(state) if form else None
        owners = state.get(SHAPES_PIECE_STATE)
        if shaped is not None and owners is not None and len(owners) == len(shaped):
            rows = np.asarray(state[SHAPES_STATE])[shaped]
            chosen = np.asarray(owners)[shaped]
            pieces = [pieces[int(k)] for k in chosen]
            shapes = [_form_shape(row) for row in rows]
        return tables.replay(
            [np.asarray(p)[1:] for p in pieces],
            prime=[START_ID],
            seconds=seconds,
            shapes=shapes,
            key=key,
        )

    def encode_prime(self, *, vocab: list[str], prime: str) -> list[int]:
        """A prime → ids after START, tokenized as the run's vocabulary was (its symbol list
        tells which). A symbol the model never saw raises, named."""
        view = self.with_vocabulary(abc_tokens.vocabulary_of(vocab))
        index = {tok: i for i, tok in enumerate(vocab)}
        tokens = view.tokenize(prime) if prime else []
        missing = list(dict.fromkeys(t for t in tokens if t not in index))
        if missing:
            what = "tokens" if view.vocabulary == abc_tokens.TOKENS else "characters"
            shown = ", ".join(repr(t) for t in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValueError(
                f"the opening uses symbols the model never saw ({what} not in the "
                f"vocabulary it trained on): {shown}{more}"
            )
        return [START_ID, *(index[t] for t in tokens)]

    def augment(self, text: str, config: dict[str, Any]) -> list[str]:
        """With `transpose` on: the tune a major second up and down (see TRANSPOSITIONS),
        each kept when its key has at most MAX_SIGNATURE sharps or flats and the transposer
        understands every note."""
        if not config.get("transpose"):
            return []
        out = []
        for steps, semitones in TRANSPOSITIONS:
            try:
                out.append(transpose_abc(text, steps=steps, semitones=semitones))
            except NotTransposable:
                continue
        return out

    def detokenize(self, tokens: list[str]) -> str:
        # (a `bars` model's markers say where it is; they are no part of the tune)
        return abc_tokens.strip_markers("".join(tokens))

    def normalise(self, text: str) -> str:
        header = parse_header(text)
        meter = header.get("M", "4/4") or "4/4"
        unit = header.get("L") or default_unit_length(meter)
        key = header.get("K", "C") or "C"
        body: list[str] = []
        in_body = False
        for line in text.splitlines():
            if not in_body:
                if line.startswith("K:"):
                    in_body = True
                continue
            line = line.split("%")[0].rstrip() if "%" in line else line.rstrip()
            if not line.strip():
                continue  # a blank line would end the tune in ABC
            m = FIELD.match(line)
            if m and m.group(1) not in BODY_FIELDS:
                continue
            body.append(line.strip())
        return f"M:{meter}\nL:{unit}\nK:{key}\n" + "\n".join(body) + "\n"

    def describe(self, text: str) -> dict[str, Any]:
        header = parse_header(text)
        return {
            "title": header.get("T", ""),
            "meter": header.get("M", ""),
            "key": header.get("K", ""),
            "unit_length": header.get("L", ""),
        }

    def finish(self, text: str, *, title: str) -> str:
        return f"X:1\nT:{title}\n{text.rstrip()}\n"

    def validate(self, text: str) -> dict[str, Any]:
        from ..render import abc_validity

        return abc_validity(abc=text).as_dict()

    def to_midi(self, text: str) -> bytes:
        from ..render import abc_to_midi

        return abc_to_midi(abc=text)

    def to_musicxml(self, text: str) -> bytes:
        from ..render import abc_to_musicxml

        return abc_to_musicxml(abc=text)

    def grammar(self, *, vocab: list[str], form: bool = False):
        """A sampling constraint (see `ml.sampler.Constraint`) that keeps generated text a
        well-formed tune: headers in order, closed chord symbols, chords and grace groups,
        no header fields in the body, bars of the meter's length, notes at the lengths people
        write (plain or dotted, a sixteenth to a dotted whole note: `usual_lengths`), repeats
        abc2midi accepts, END only after a bar line. See `abc_grammar`; a token vocabulary gets
        `AbcTokenGrammar`, the same rules judged token by token; a `bars` vocabulary, the
        character grammar writing each bar line's marker. None when the vocabulary
        cannot even write a bar line or a header (a model trained on something else).
        `form`: also shape the tune in parts that close their repeats, and end it after
        them on the tonic (the grammar's form rules: two parts of 8 bars; a row started in
        a drawn shape, `form_shapes_for`, follows that shape instead)."""
        from .abc_grammar import AbcGrammar, AbcTokenGrammar

        if abc_tokens.vocabulary_of(vocab) == abc_tokens.TOKENS:
            fields = {tok[:2] for tok in vocab if len(tok) > 2}
            if not ({"|", "\n"} <= set(vocab) and {"M:", "L:", "K:"} <= fields):
                return None
            return AbcTokenGrammar(vocab, form=form, usual_lengths=True)
        if not {"|", "\n", ":", "M", "L", "K"} <= set(vocab):
            return None
        markers = abc_tokens.vocabulary_of(vocab) == abc_tokens.BARS
        return AbcGrammar(vocab, form=form, usual_lengths=True, markers=markers)

    def vocabulary_kind(self, *, config: dict[str, Any], vocab: list[str]) -> str | None:
        """A run stored before the `vocabulary` option existed trained on characters: its
        symbol list tells."""
        return (config or {}).get("vocabulary") or abc_tokens.vocabulary_of(vocab or [])

    # --- import ------------------------------------------------------------------------------
    def import_items(
        self,
        *,
        source: str,
        upload: tuple[str, bytes] | None,
        progress: Callable[[int, int], None] | None = None,
        processes: int | None = None,
    ) -> list[AbcItem]:
        """ABC files (a folder, a file, `music21:<name>`) or an upload → one item per tune,
        each checked with music21 on up to 4 of `processes` cores (`check_abc_tune`)."""
        if upload is not None:
            name, raw = upload
            items = _items_from_text(_decode(raw, name=name), file=name)
        else:
            items = []
            for path in abc_source_files(source):
                items.extend(
                    _items_from_text(_decode(path.read_bytes(), name=path.name), file=path.name)
                )
        checks = map_processes(
            [it.text for it in items],
            worker=check_abc_tune,
            processes=min(4, processes or cpu_count()),
            progress=progress,
        )
        for item, (failure, n_notes) in zip(items, checks, strict=True):
            item.failure, item.n_notes = failure, n_notes
        return items

    def check_import(self, *, source: str = "", upload: tuple[str, bytes] | None = None) -> None:
        """Binary uploads and uploads without a tune; sources that name no ABC file."""
        if upload is not None:
            name, raw = upload
            if not split_tunes(_decode(raw, name=name)):
                raise ImportRefused(f"{name} is not an ABC file: no tune starts with an X: line")
        elif source:
            abc_source_files(source)


WAY = AbcWay()

ABC_SUFFIXES = {".abc", ".txt"}


@dataclass
class AbcItem:
    """One candidate tune of an import: where it came from, its text and its check."""

    file: str
    number: int
    text: str
    n_notes: int = 0
    failure: str | None = None


def _decode(raw: bytes, *, name: str) -> str:
    if b"\x00" in raw[:4096]:
        raise ImportRefused(f"{name} is not an ABC file: it is binary")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # older ABC collections are Latin-1


def _items_from_text(text: str, *, file: str) -> list[AbcItem]:
    tunes = split_tunes(text)
    if not tunes:
        raise ImportRefused(f"{file} is not an ABC file: no tune starts with an X: line")
    return [AbcItem(file=file, number=n, text=t) for n, t in tunes]


def abc_source_files(source: str) -> list[Path]:
    """A folder, a file or `music21:<name>` → the ABC files it names."""
    if source.startswith("music21:"):
        from music21 import corpus as m21corpus

        name = source.split(":", 1)[1]
        try:
            found = m21corpus.getWork(name)
        except Exception as exc:  # music21's CorpusException: no such work
            raise ImportRefused(f"music21's corpus has no collection named {name!r}") from exc
        found = [found] if isinstance(found, (str, Path)) else list(found or [])
        paths = [Path(str(p)) for p in found]
        paths = [p for p in paths if p.suffix.lower() == ".abc"]
        if not paths:
            raise ImportRefused(f"music21's corpus has no ABC collection named {name!r}")
        return sorted(paths)
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in ABC_SUFFIXES)
        if not files:
            raise ImportRefused(f"{source} holds no .abc files")
        return files
    if path.is_file():
        return [path]
    raise ImportRefused(f"{source} does not exist")


MAX_TUNE_CHARS = 20_000  # a folk tune is 200..3000 characters; longer is not a tune


def check_abc_tune(text: str) -> tuple[str | None, int]:
    """(the reason a text is not a usable tune, or None; its number of notes). Module-level
    and Django-free: corpus imports run it in worker processes (`pool.map_processes`)."""
    if len(text) > MAX_TUNE_CHARS:
        return f"tune is longer than {MAX_TUNE_CHARS} characters", 0
    if not any(line.startswith("K:") for line in text.splitlines()):
        return "no K: (key) field", 0
    from ..render import RenderError, abc_count_notes  # (music21 loads in the pool only)

    try:
        n = abc_count_notes(tune=text, annotations=True)
    except RenderError as exc:
        return str(exc), 0
    if n == 0:
        return "it has no notes", 0
    return None, n
