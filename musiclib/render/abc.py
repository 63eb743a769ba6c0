"""ABC text: validity checks, header fields, and conversion to MIDI and MusicXML.

Only the first tune of a text is used everywhere, so that the checks, the MIDI and the score
always describe the same music.
"""

from __future__ import annotations

import re
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from music21 import abcFormat, converter, harmony, stream
from music21.musicxml.m21ToXml import GeneralObjectExporter

from ._proc import run
from .errors import RenderError

# A "tune" with fewer notes than this is a fragment, not something worth playing or scoring.
MIN_NOTES = 8

_X_LINE = re.compile(r"^X:", re.MULTILINE)
_FIELD_LINE = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")
_COMMENT = re.compile(r"(?<!\\)%.*")
_ANNOTATION = re.compile(r'"[^"\n]*"')
_HEADER_FIELDS = {"T": "title", "M": "meter", "K": "key", "L": "unit_length"}


@dataclass
class Validity:
    """How well an ABC text holds up as music; see abc_validity."""

    parses: bool
    plays: bool
    bar_accuracy: float | None
    n_notes: int
    n_bars_checked: int
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def first_tune(abc: str) -> str:
    """The file header and first tune of `abc`, with an X: line added when there is none.

    abc2midi ignores text without an X: field and verovio crashes on it, while generated text
    often starts straight at T: or K:; the reference number carries no music, so adding one is
    harmless.
    """
    abc = abc.replace("\r\n", "\n").replace("\r", "\n")
    starts = [match.start() for match in _X_LINE.finditer(abc)]
    if not starts:
        return "X:1\n" + abc
    return abc[: starts[1]] if len(starts) > 1 else abc


def abc_header(*, abc: str) -> dict[str, str | None]:
    """Title (first T:), meter (M:), key (K:) and unit_length (L:) from the first tune's header.

    A regex scan rather than music21 so that listing pages can show many tunes cheaply. The
    header ends at the first K: line; missing fields are None.
    """
    found: dict[str, str | None] = dict.fromkeys(_HEADER_FIELDS.values())
    for line in first_tune(abc).splitlines():
        match = _FIELD_LINE.match(_COMMENT.sub("", line))
        if not match or match.group(1) not in _HEADER_FIELDS:
            continue
        name = _HEADER_FIELDS[match.group(1)]
        if found[name] is None:
            found[name] = match.group(2)
        if name == "key":
            break
    return found


def abc_validity(*, abc: str) -> Validity:
    """Check that `abc` parses, plays, and keeps to its time signature.

    - parses: music21 reads it (without its "quoted" chord symbols and annotations) and finds
      at least MIN_NOTES notes; a chord [CEG] counts as one note.
    - plays: abc2midi writes a non-empty MIDI file and prints no line containing "error".
      abc2midi's warning and error lines go to `messages`, with music21's complaints.
    - bar_accuracy: the fraction of checked bars whose length equals the bar length of the
      time signature in force (see _bar_counts for which bars are checked); None when no bar
      can be checked.

    Never raises for bad input; raises RenderError only when abc2midi is missing or hangs.
    """
    tune = first_tune(abc)
    messages: list[str] = []
    try:
        n_notes: int | None = abc_count_notes(tune=tune)
    except RenderError as exc:
        n_notes = None
        messages.append(str(exc))
    if n_notes is not None and n_notes < MIN_NOTES:
        messages.append(f"only {n_notes} notes (a tune needs at least {MIN_NOTES})")

    midi, output = _abc2midi(tune)
    messages += [line for line in output if re.search(r"warning|error", line, re.IGNORECASE)]
    plays = bool(midi) and not any("error" in line.lower() for line in output)

    good = checked = 0
    if n_notes is not None:
        try:
            good, checked = _bar_counts(tune)
        except Exception as exc:  # music21's tokenizer raises many types on odd input
            messages.append(f"bar check failed: {exc}")
    return Validity(
        parses=n_notes is not None and n_notes >= MIN_NOTES,
        plays=plays,
        bar_accuracy=good / checked if checked else None,
        n_notes=n_notes or 0,
        n_bars_checked=checked,
        messages=messages,
    )


def abc_count_notes(*, tune: str, annotations: bool = False) -> int:
    """The notes music21 reads in one tune, a chord [CEG] counting one, chord symbols not
    (RenderError when it cannot read it), read without beams (`read_abc`).

    Chord symbols and other "quoted" annotations are left out before reading unless
    `annotations`: they do not change notes or bar lengths, and music21 builds an object
    for each even without its pitches. A corpus's import check keeps them
    (`annotations=True`), so it still refuses the tunes music21 cannot read with them: 1 of
    Nottingham's 1,034 reads only without them, its unclosed chord bracket then showing."""
    return _count_notes(_parse(tune if annotations else _ANNOTATION.sub("", tune), beams=False))


def abc_to_midi(*, abc: str) -> bytes:
    """A Standard MIDI File of the first tune, written by abc2midi (repeats played out)."""
    midi, output = _abc2midi(first_tune(abc))
    if not midi:
        errors = [line for line in output if "error" in line.lower()] or output[-3:]
        raise RenderError("abc2midi produced no MIDI: " + ("; ".join(errors) or "no output"))
    return midi


def abc_to_musicxml(*, abc: str) -> bytes:
    """MusicXML (UTF-8 bytes) of the first tune, as music21 reads it."""
    score = _parse(first_tune(abc))
    try:
        return GeneralObjectExporter(score).parse()
    except Exception as exc:  # music21's notation fixes can fail on odd durations
        raise RenderError(f"music21 could not write MusicXML: {exc}") from exc


def read_abc(tune: str, *, beams: bool = True) -> stream.Score | stream.Opus:
    """music21's reading of ABC text, raising whatever music21 raises on malformed input
    (and Music21TooSlow past MUSIC21_SECONDS).

    parseData, not parse: converter.parse reads its argument as a file path when one exists,
    and user text must never name a server file. `beams=False`, a read for checks and
    counts, leaves out two things only engraving and harmony look at:
    - the beaming music21's ABC reader does once the notes are read (`makeBeams` on every
      part): about two thirds of its time on O'Neill's tunes (cProfile, 150 tunes: 9.3 of
      14.3 s);
    - the pitches of chord symbols ("Am", "D7"), which music21 works out through its
      figured-bass scales (`ChordSymbol._updatePitches`, "EXTREMELY SLOW" in its own
      docstring): three quarters of the rest on Nottingham's tunes, which carry one or two a
      bar (cProfile, 150 tunes: 14.8 of 19.7 s). The symbol is still read, so a name music21
      cannot read still refuses the tune.
    The notes, measures and their counts are the same either way (`bench/abc_check.py`:
    every tune of both corpora); checks and counts read without them, the MusicXML export
    with them.
    """
    with _bounded(MUSIC21_SECONDS):
        if beams:
            return converter.parseData(tune, format="abc")
        with _for_counts_only():
            return converter.parseData(tune, format="abc")


# A tune reads in 5-100 ms, but some malformed texts (a model's first epoch, sampled without
# the grammar) send music21's re-barring into a loop of minutes or more, which would hold a
# worker and every job behind it. Seconds of wall time, 1 to 600.
MUSIC21_SECONDS = 20


class Music21TooSlow(BaseException):  # noqa: N818 (a stop, not an error music21 may catch)
    """Raised into music21 when a read runs past its bound. A BaseException, so that no
    `except Exception` on its way out can swallow it: a TimeoutError raised once did not
    end a read inside the full test suite (where it was lost was not found)."""


@contextmanager
def _bounded(seconds: float) -> Iterator[None]:
    """Music21TooSlow after `seconds`, and every half second after that until it gets out,
    by SIGALRM: only in a process's main thread (workers, import pools, commands), where
    signals are delivered; elsewhere unbounded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _stop(signum, frame):  # noqa: ARG001 (a signal handler's signature)
        raise Music21TooSlow(f"music21 took more than {seconds:g} s to read it")

    before = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


# music21 offers no switch for its ABC reader's beaming nor for its chord symbols' pitches,
# so a read without them shadows `Part.makeBeams` (inherited from Stream) and
# `ChordSymbol._updatePitches` for its duration. The lock keeps two such reads from undoing
# each other; a full read in another thread of the same process at that moment would lose
# its beams and chord pitches, which no process here does: checks and counts run in import
# pools and workers that read one tune at a time, and exports (the only reader of either)
# run in the render task.
_SHADOWING = threading.Lock()


def _beams_left_out(self, *args, **kwargs):  # noqa: ARG001 (Stream.makeBeams' signature)
    return None if kwargs.get("inPlace") else self


def _chord_pitches_left_out(self) -> None:  # ChordSymbol._updatePitches' signature
    return None


_LEFT_OUT = (
    (stream.Part, "makeBeams", _beams_left_out),
    (harmony.ChordSymbol, "_updatePitches", _chord_pitches_left_out),
)
_OWN_NONE = object()  # the class defined nothing of that name itself (it inherits it)


@contextmanager
def _for_counts_only() -> Iterator[None]:
    with _SHADOWING:
        saved = [(owner, name, vars(owner).get(name, _OWN_NONE)) for owner, name, _ in _LEFT_OUT]
        for owner, name, stand_in in _LEFT_OUT:
            setattr(owner, name, stand_in)
        try:
            yield
        finally:
            for owner, name, own in saved:  # each class as it was: its own or inherited
                if own is _OWN_NONE:
                    delattr(owner, name)
                else:
                    setattr(owner, name, own)


def _parse(tune: str, *, beams: bool = True) -> stream.Score:
    try:
        score = read_abc(tune, beams=beams)
    except (Exception, Music21TooSlow) as exc:  # music21 raises many types on malformed ABC
        reason = str(exc)[:200] or type(exc).__name__
        raise RenderError(f"music21 cannot parse the ABC: {reason}") from exc
    if isinstance(score, stream.Opus):  # cannot happen for one tune, but keep the type honest
        score = score.scores.first()
    if not isinstance(score, stream.Score):
        raise RenderError("music21 found no tune in the ABC")
    return score


def _count_notes(score: stream.Score) -> int:
    # `.notes` includes chord symbols (ChordSymbol subclasses Chord); they are not notes played.
    return sum(1 for n in score.recurse().notes if not isinstance(n, harmony.Harmony))


def _abc2midi(tune: str) -> tuple[bytes | None, list[str]]:
    """abc2midi's MIDI (None when it wrote none) and its non-empty output lines."""
    with tempfile.TemporaryDirectory(prefix="abc2midi-") as tmp:
        Path(tmp, "tune.abc").write_text(tune, encoding="utf-8")
        proc = run(["abc2midi", "tune.abc", "-o", "tune.mid"], cwd=tmp)
        output = (proc.stdout + proc.stderr).decode("utf-8", "replace").splitlines()
        # -o names the file; the glob covers builds that name it <stem><X>.mid regardless.
        produced = sorted(Path(tmp).glob("*.mid"))
        midi = produced[0].read_bytes() if produced else None
    return midi or None, [line.strip() for line in output if line.strip()]


def _bar_counts(tune: str) -> tuple[int, int]:
    """(bars of the right length, bars checked) over every voice of the tune.

    Bar lengths come from music21's ABC tokens, not from the parsed Score: music21's reBar
    splits an over-long bar into a full bar plus a bar with an invented time signature, which
    would hide exactly the errors this check is for.

    Which bars are checked: each voice is cut into sections at every barline other than a
    plain "|" (repeat signs, "||", "|]", thick bars), at the start of every ending ("|1",
    ":|2", "[1") and at field lines between bars (a new M: or K: line starts a new part). The
    first and last bar of each section are left out, since pickups, the bars that complete
    them, and endings are legitimately short. A bar is checked against the meter in force at
    its end (inline [M:] changes included); with no meter (no M:, or M:none) it is not checked.
    """
    handler = abcFormat.ABCFile().readstr(tune)
    if not handler.tokens or not handler.definesMeasures():
        return 0, 0
    voices = handler.splitByVoice()
    # Like music21's translator: with V: fields, the first collection is the shared header.
    parts = voices if len(voices) == 1 else [voices[0] + voice for voice in voices[1:]]
    good = checked = 0
    for part in parts:
        for section in _sections(part):
            for length, bar_length in section[1:-1]:
                if bar_length is not None:
                    checked += 1
                    good += length == bar_length
    return good, checked


def _sections(part: abcFormat.ABCHandler) -> list[list[tuple[Fraction, Fraction | None]]]:
    """The part's bars as (length, bar length of the meter) in quarter notes, by section."""
    sections: list[list[tuple[Fraction, Fraction | None]]] = []
    current: list[tuple[Fraction, Fraction | None]] = []
    bar_length: Fraction | None = None
    boundary = False
    for bar in part.splitByMeasure():
        length = Fraction(0)
        for token in bar.tokens:
            if isinstance(token, abcFormat.ABCMetadata) and token.isMeter():
                meter = token.getTimeSignatureObject()
                bar_length = _fraction(meter.barDuration.quarterLength) if meter else None
            elif isinstance(token, abcFormat.ABCNote):  # ABCChord is a subclass
                length += _token_length(token)
        if not bar.hasNotes():
            boundary = True
            continue
        if current and (boundary or _is_section_mark(bar.leftBarToken)):
            sections.append(current)
            current = []
        current.append((length, bar_length))
        boundary = _is_section_mark(bar.rightBarToken)
    if current:
        sections.append(current)
    return sections


def _token_length(token: abcFormat.ABCNote) -> Fraction:
    # The same rules music21's translator applies when it builds notes from these tokens.
    if token.inGrace or (isinstance(token, abcFormat.ABCChord) and not token.subTokens):
        return Fraction(0)
    length = _fraction(token.quarterLength)
    if token.activeTuplet is not None:
        length *= _fraction(token.activeTuplet.tupletMultiplier())
    return length


def _fraction(value: float | Fraction) -> Fraction:
    # Exact comparisons, without float noise from values such as 1/3.
    return Fraction(value).limit_denominator(10_000)


def _is_section_mark(bar: abcFormat.ABCBar | None) -> bool:
    return bar is not None and (not bar.isRegular() or bool(bar.isRepeatBracket()))
