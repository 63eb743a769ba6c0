"""Grammar-aware sampling for the ABC way: a mask of the characters that may come next.

`AbcGrammar(vocab)` is a sampling constraint (see `ml.sampler.Constraint`): called with a row
and the ids sampled so far, it returns a boolean mask over the vocabulary of the characters
that keep the text a well-formed tune in the form the ABC way trains on,
`M:…\nL:…\nK:…\n<body>` between START and END. Each row keeps an incremental parser
state: a step folds in the one new character and looks the mask up in a cache keyed by the
parser state (a mask is built, by trying each character on a copy of the state, only for a
state never seen before). O(1) per step, no re-parsing. `AbcTokenGrammar` (at the end) is
the same constraint for a token vocabulary (`abc_tokens`): a token is allowed when this
parser accepts each of its characters. Both are also `ml.automaton` parsers (`automaton()`:
tables built as sampling reaches their states, keyed by `_Compiled.group_key`: `_Row.
full_key` less the line's length, which the sampling loop counts as a register, for
characters less the notes counted (a register: only END reads it), and for characters
without form rules less the note's letter, a third register); see that module
for what the tables gain on this grammar (docs/benchmarks.md: still slower than plain
sampling).

Structural rules (always on: what music21 and the bar check of `render.abc_validity` need)

Header
- `M:`, `L:` and `K:` lines, in that order, then the body. Values: a meter n/d (d 2..16),
  `C` or `C|`; a unit 1/2 .. 1/32; a key: tonic, optional # or b, optional mode.

Body lines
- No blank line (it would end the tune), no line starting with a space.
- No header field in the body, except whole `M:`, `L:` and `K:` lines between bars (a new
  meter, unit or key; the next bar starts a new section, as the bar check counts them). No
  inline fields `[K:…]`. `\\` (line continuation) must be followed by the newline.

Constructs that must close
- A chord symbol `"…"` closes on its line within 24 characters.
- A chord `[…]` holds 1..6 notes and closes before anything else; a grace group `{…}` holds
  1..4 notes and closes; both are made of well-formed notes. A tuplet `(p[:q[:r]]` gets its
  r notes before any bar line, line end or END.

Bars (durations tracked exactly, as fractions of a whole note)
- A note's or rest's length is the unit L times its suffix (`2`, `3/2`, `/`, `//`, `/4` …;
  1/8 to 32 units, in lowest terms (no `2/2`); not `3//`, which music21 reads as 3/2 and
  abc2midi as 3/4; with `usual_lengths=True` only plain or dotted lengths from a sixteenth
  to a dotted whole note, USUAL_LENGTHS, grace notes aside); a chord counts
  once, with its first note's length times the chord's own suffix; grace notes, chord
  symbols and decorations count zero; a tuplet (p:q:r) scales its r notes by q/p (q as
  music21 picks it from the meter); broken rhythm `a>b` makes a 3/2 and b 1/2 (`>>`: 7/4
  and 1/4; `<`, `<<` the other way round).
- A note, rest, chord, tuplet or broken pair that would overflow the bar is refused, and so
  is one that would leave a rest of the bar no sequence of allowed notes can fill exactly
  (so no state is ever a dead end).
- A plain bar line `|` only closes a full bar. The first bar of a section (the tune's first
  bar, the bar after any bar line other than `|`, after an ending, after an `M:`/`L:`/`K:`
  line) may be short (a pickup); so may the last bar of a section, closed by a section mark
  (`||`, `|]`, `:|`, `|:`, `::`, `|1`, `:|2` …): exactly the bars the bar check leaves out.
  With `short_final="pickup"` the last bar may only be short by the section's pickup. A
  second bar line with no note since the last (`|\n|`, `:| |:`) starts no new bar.

END
- Only at the start of a line after a completed bar line, with no construct open, after at
  least `min_notes` notes (render.abc_validity wants 8).

abc2midi rules (`abc2midi=True`, the default: what abc2midi reports as errors, and a few
spots where music21 counts a bar differently from abc2midi)
- A chord symbol names a chord abc2midi knows (root A-G or a-g, optional # or b, a type from
  its list: m, 7, m7, maj7, 6, dim, aug, sus4 …, optional /bass) or is an annotation
  starting with ^ _ < > @; a note follows it.
- A tie `-` joins a note (without `.` or `H`) to the same pitch (same letter and octave, no
  new accidental), not to a chord, a rest or a roll; chords are not tied; a chord's notes
  are as long as its first. Octave marks are `,` after upper-case and `'` after lower-case
  letters. Body lines end by 150 characters.
- Broken rhythm joins two notes (or rests) written with the same length; no `.` or `H` on
  either; only a chord symbol, a decoration other than `.`/`H`, or a slur between.
- Decorations: only `~ . T u v` (music21 reads `H` as a note and drops `x` rests; `!…!` and
  `+…+` are left out), at most two per note, directly before it (no space, slur or chord).
  No grace group inside a tuplet (music21 counts grace notes as tuplet notes). No `::`
  right after a note such as `F` (music21 reads `F::…` as a field running to the line end).
- Repeats: no `|:` while one is open; `::` only while one is open; a first ending not right
  after a closed repeat, and closed by `:|`; a second ending only after that; END not while
  a `|:` or a first ending is open. At most two slurs open, `)` only closes one; at most
  two spaces in a row.
Real O'Neill text breaks these often (ties between different notes, "fine" or "~" as chord
symbols): a third of those tunes do not play in abc2midi. `abc2midi=False` leaves them out.

Form (`form=True`, an option: the shape of a folk tune, not a rule of ABC)
- Parts of 8 bars (`part_lengths=(8, 16)`: 8 or 16). A part runs from one section mark
  (`||`, `|]`, `|:`, `:|`, `::`, `:|2` …) to the next; its bars are counted as a listener
  counts them: full bars, plus one for the short closing bar that completes the part's
  pickup (the pickup itself counts none). A plain bar line `|` only while the part has
  fewer than its longest length; any other bar line only where a part of an allowed length
  ends. A first ending counts in its part; a second ending replaces it (the part is counted
  again from the bars before the first ending). No `[|` (`FOLK_UNWRITTEN_BARS`).
- A part's closing bar is whole: with the part's pickup it makes exactly one bar (a full
  closing bar after a pickup is refused; in the part's last possible bar the notes stop
  where the part must close), as `metrics.form.section_bar_counts` counts section ends;
  but a drawn shape's part whose tune closed on a whole bar after its pickup, as people
  write 15 % of Nottingham's tunes and 9 % of O'Neill's (`FormShape.whole`), closes on a
  whole bar.
  The bar before `|1` or `|2` is full.
- The tune ends after its parts: once `max_parts` parts (2, as in three Nottingham tunes
  in four) have closed, only a newline and then END may follow. It may end earlier, after
  any closed part, when the model chooses END there. Repeats and endings close (END not
  after a first ending without its second, nor inside a repeat), and body `M:`/`L:`/`K:`
  lines come only between parts.
- The tune ends on the tonic: END, and the bar line that closes the last part, only when
  the last note is the key's tonic as the key signature has it (the `K:` line's letter,
  with no accidental on the note, on a note of its letter earlier in the bar, or on the
  note it is tied from; a rest after it is fine, a chord is not). In the last part's last
  possible bar the note that fills the bar must be that tonic (so the grammar never walks
  into a bar it cannot close); the bar line closing the last part leaves no repeat open
  and no tie pending.
- The last note is long: in the tune's last bar no note leaves less than `FINAL_NOTE` (a
  quarter note, or the whole of a shorter closing bar) before the end, and no tuplet is
  written there; a tie, chord or accidental that could not be followed by such a tonic is
  refused.
- A drawn shape (`FormShape`, per row: `fresh_shaped`, `LazyAutomaton.begin(prime, shape)`;
  the site draws one per piece from a training tune, `AbcWay.form_shapes_for`) replaces
  `part_lengths`, `max_parts` and the tonic: the row's parts have the shape's bars, one
  after another, and the tune ends only after all of them; a part the shape repeats closes
  with a repeat sign (`:|`, `::`, or in its second ending) and one it plays once with none
  (no `|:`, `:|` or endings in it), and after a `:|` a repeated part opens with `|:`; the
  last note is the shape's degree above the first `K:` line's letter (the "tonic" rules
  above, for that letter), and at least the shape's share of a bar long (`FormShape.last`,
  in twelfths of a bar, instead of `FINAL_NOTE`); and every `M:` field, in the header or
  the body, gives the shape's meter (`FormShape.meter`: its bar and beat, so a 6/8 shape
  is not written in 3/4), the meter the shape's bars were counted in; a part the shape
  ends in first and second endings (`FormShape.endings`) has its last bar as a first
  ending (`|1` begins it at the latest) and closes in its second. The shape is a field
  of the row's state; the compiled tables key a state by as much of it as the rules can
  read before the part closes (`_shape_view`), so rows of different shapes share table
  rows mid-part, and a symbol that closes a part takes each row on by its own shape
  (`_Compiled.reads_shape`).

Limits. The grammar is a safety net, not ABC's whole grammar: voices, lyrics, inline
fields, multi-bar rests `Z`, `|||`-style bars and free meters are refused, and so is text
the model has no business producing (comments, directives). A tune cut short by the
sampler's `max_tokens` can still end inside a construct: the grammar cannot know the limit.
When the parser meets a character the rules refuse (in a prime, say) it carries on from the
most sensible state and stops checking bar lengths until the next bar line. Where a state
allows no symbol at all (a vocabulary that lacks what the rules want next), the mask allows
only END, counted in `stats["fallbacks"]`: the piece stops there rather than run on with
anything allowed (a token vocabulary once left 52 of 600 tunes writing to the limit, bar lines
gone). The token grammar first falls back to the tokens the parser accepts there, without
its look-ahead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from ..ml import abc_machine as am
from ..ml.abc_machine import Machine
from ..ml.automaton import LazyAutomaton

try:
    # GMP's rationals: the same exact values as fractions.Fraction (equal values compare and
    # hash equal), their arithmetic and hashing in C. The grammar does rational arithmetic
    # for every note (bar position, lengths, what can still fill the bar) and hashes its
    # state for every mask look-up: with the pure-Python Fraction that was half its time.
    from gmpy2 import mpq as Fraction
except ImportError:  # pragma: no cover - gmpy2 is in requirements.txt
    from fractions import Fraction
from .abc_tokens import MARKS, bar_number, mark
from .base import END, PAD, START

NOTE_LETTERS = frozenset("ABCDEFGabcdefg")
ACCIDENTAL_CHARS = frozenset("^_=")
DIGITS = frozenset("0123456789")
LENGTH_CHARS = frozenset("0123456789/")
_LENGTH_OR_OCTAVE = LENGTH_CHARS | frozenset(",'")
# Single-letter decorations (roll, staccato, fermata, trill, segno, coda, up/down bow, …).
# M and L are decorations too, but only away from a line start, where they begin fields.
DECORATIONS = frozenset("~.HTSOPRuvML")
# The ones music21 counts right (it reads H as a note of its own, R after a chord symbol as C).
SAFE_DECORATIONS = frozenset("~.Tuv")
BODY_FIELDS = ("M", "L", "K")
# Characters a body may contain between tokens at all; anything else is refused outright.
TOP_CHARS = NOTE_LETTERS | ACCIDENTAL_CHARS | DECORATIONS | frozenset('zx[|:"{!+K()-<> \n\\Z')
MAX_QUOTE = 24  # characters inside "…"
MAX_CHORD_NOTES = 6
# Octave marks on one note, chord note or grace note: one, C, to b' (no tune of O'Neill's
# or Nottingham's writes two). Without a limit a model once wrote a chord note with dozens
# and ran on; with three, a `full` model wrote c''' or G,, in 3 % of its tunes, notes no
# instrument of these tunes plays (docs/quality.md §6). A prime that writes more is read on.
MAX_OCTAVE_MARKS = 1
MAX_GRACE = 4  # notes inside {…}
MAX_DECORATION = 12  # characters inside !…!
MAX_SLURS = 2
# Bar lines in a row with no note between: two (":| |:", a line's "|" and the next line's
# "|:"); a third is refused. The grammar once let a model with the piece's memory on write
# "|\n|\n|…" to the length limit (1 tune in 200 with the form, 6 in 200 without).
MAX_BAR_LINES = 2
MAX_LINE = 150  # characters in a body line (real folk tunes stay under 125; abc2midi
# misreads some very long lines), after which a line ends as soon as nothing is pending
MIN_LENGTH = Fraction(1, 8)  # the shortest note suffix allowed, in units of L
# usual_lengths=True: the lengths a note, rest or chord may be written with, in whole notes
# (before broken rhythm or a tuplet changes what it sounds): plain or dotted, a sixteenth to
# a dotted whole note. Nottingham's and O'Neill's tunes write almost nothing else (a few
# 32nds, mostly in grace notes, which this leaves free); a model pushed to fill a bar's
# last sliver wrote "d3/4d/4" (a dotted 32nd and a 32nd, in L:1/8) where people write "d".
USUAL_LENGTHS = frozenset(
    Fraction(n, d)
    for n, d in ((1, 16), (1, 8), (3, 16), (1, 4), (3, 8), (1, 2), (3, 4), (1, 1), (3, 2))
)
# form=True: the tune ends after this many parts (Nottingham: 2 in 77 % of tunes, 1 in 11 %,
# 3 or more in 12 %); it may end earlier, after any part that closes on the tonic.
MAX_PARTS = 2
# form=True: the bars a part may have. (8,): eight, as in most Nottingham parts; the model
# of docs/quality.md §6 rarely closes a part at its 8th bar by itself, so with (8, 16) its
# parts ran to 16 bars (16 + 16 in most tunes against 8 + 8 in the corpus's). (8, 16) stays
# an option.
PART_LENGTHS = (8,)
FINAL_NOTE = Fraction(1, 4)  # form=True: the shortest last note, in whole notes (a quarter)
_DEGREE_LETTERS = "CDEFGAB"  # letters in scale order: a shape's final degree counts steps in it


class FormShape(NamedTuple):
    """One tune's shape for the form rules, drawn per piece from a corpus tune (see
    `AbcWay.form_shapes_for`): its parts in order, each (bars, repeated: closed by a repeat
    sign, or by a second ending after a first), and the last note's scale degree above the
    key's tonic letter (0 the tonic, 4 the fifth, 2 the third; as the key signature has it).
    A row started in a shape (`fresh_shaped`) follows it instead of the grammar's
    `part_lengths`, `max_parts` and ending on the tonic."""

    parts: tuple[tuple[int, bool], ...]
    final: int = 0
    last: int = 0  # the last note's least length, in twelfths of a bar (0: FINAL_NOTE)
    # the tune's meter as (beats, beat unit), 6/8 as (6, 8), C as (4, 4), C| as (2, 2):
    # the M: fields must give that bar and beat (None: any meter)
    meter: tuple[int, int] | None = None
    # per part, whether it ends in first and second endings (|1 … :|2 …): its last bar is
    # then a first ending (() or missing parts: none)
    endings: tuple[bool, ...] = ()
    # per part, whether it closes on a whole bar after its pickup, as its tune did (the
    # pickup is then played the first time only); otherwise the closing bar makes one bar
    # with the pickup (() or missing parts: never)
    whole: tuple[bool, ...] = ()


MAX_SHAPE_PARTS = 4  # a shape has 1 to 4 parts
SHAPE_PART_BARS = (2, 32)  # of 2 to 32 bars each
# Added to a part's repeat code in a shape row (`metrics.form.form_shape_row`): the part
# opens with a pickup and closes on a whole bar (`FormShape.whole`)
WHOLE_CLOSE = 4


def check_shape(shape: FormShape) -> FormShape:
    """The shape, as a hashable `FormShape` of ints and bools; ValueError for one the form
    rules cannot follow."""
    parts = tuple((int(bars), bool(rep)) for bars, rep in shape.parts)
    lo, hi = SHAPE_PART_BARS
    if not 1 <= len(parts) <= MAX_SHAPE_PARTS or any(not lo <= b <= hi for b, _ in parts):
        raise ValueError(f"a shape has 1 to {MAX_SHAPE_PARTS} parts of {lo} to {hi} bars")
    if not 0 <= int(shape.final) <= 6:
        raise ValueError("a shape's final degree is 0 (the tonic) to 6")
    if not 0 <= int(shape.last) <= 12:
        raise ValueError("a shape's last note is 0 to 12 twelfths of a bar")
    meter = None
    if shape.meter is not None:
        meter = (int(shape.meter[0]), int(shape.meter[1]))
        if not (1 <= meter[0] <= 16 and meter[1] in (2, 4, 8, 16)):
            raise ValueError("a shape's meter is 1 to 16 beats of a half, quarter, 8th or 16th")
    endings = tuple(bool(e) for e in shape.endings[: len(parts)])
    if any(e and not rep for e, (_, rep) in zip(endings, parts, strict=False)):
        raise ValueError("a part with first and second endings repeats")
    endings = endings + (False,) * (len(parts) - len(endings))
    whole = tuple(bool(w) for w in shape.whole[: len(parts)])
    whole = whole + (False,) * (len(parts) - len(whole))
    return FormShape(
        parts=parts,
        final=int(shape.final),
        last=int(shape.last),
        meter=meter,
        endings=endings,
        whole=whole,
    )


# Chord types abc2midi knows (from its built-in chord list; the ones folk corpora use).
CHORD_TYPES = ("", "m", "7", "m7", "maj7", "M7", "6", "m6", "9", "m9", "dim", "dim7",
               "aug", "+", "sus", "sus4", "7sus4", "sus2", "5")  # fmt: skip
ANNOTATION_MARKS = frozenset("^_<>@")
ANNOTATION_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .")
KEY_MODES = ("", "m", "min", "maj", "mix", "dor", "phr", "lyd", "loc", "aeo", "ion")

# Bar tokens: text -> (kind, ending). kind: "plain" (|), "section" (||, |], [|), "open" (|:),
# "close" (:|), "both" (::), None for an ending alone ([1 right after a bar line); ending 1
# or 2 when the token starts an ending (|1, :|2, [1).
BAR_TOKENS: dict[str, tuple[str | None, int]] = {
    "|": ("plain", 0),
    "||": ("section", 0),
    "|]": ("section", 0),
    "[|": ("section", 0),
    "|:": ("open", 0),
    "||:": ("open", 0),
    ":|": ("close", 0),
    ":||": ("close", 0),
    "::": ("both", 0),
    ":|:": ("both", 0),
    ":||:": ("both", 0),
    "|1": ("plain", 1),
    "|2": ("plain", 2),
    ":|2": ("close", 2),
    "[1": (None, 1),
    "[2": (None, 2),
}
# Bar tokens the folk form does not write: a thick-thin bar `[|` (Nottingham's tunes never
# write it, O'Neill's once in 2,009; a `full` model ended 4 % of its tunes on one).
FOLK_UNWRITTEN_BARS = frozenset({"[|"})


class _Trie:
    """Strings as a trie; each node knows the values of all complete strings below it."""

    __slots__ = ("children", "value", "values")

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.value: Any = None
        self.values: tuple = ()

    @classmethod
    def build(cls, items: Iterable[tuple[str, Any]], alphabet: frozenset[str]) -> _Trie:
        root = cls()
        for text, value in items:
            if not set(text) <= alphabet:
                continue  # the model cannot write it: do not offer it
            node = root
            for ch in text:
                node = node.children.setdefault(ch, cls())
            node.value = value
        root._collect()
        return root

    def _collect(self) -> list:
        found = [] if self.value is None else [self.value]
        for child in self.children.values():
            found.extend(child._collect())
        self.values = tuple(dict.fromkeys(found))
        return found

    def walk(self, text: str) -> _Trie | None:
        node = self
        for ch in text:
            node = node.children.get(ch)
            if node is None:
                return None
        return node


_DEAD = _Trie()  # where an unknown token leads: no continuation, no value


def _length_items() -> list[tuple[str, Fraction]]:
    """Note length suffixes and their values in units of L, 1/8 .. 32."""
    items: dict[str, Fraction] = {"": Fraction(1)}
    for n in [*range(1, 17), 24, 32]:
        items[str(n)] = Fraction(n)
    for k in (1, 2, 3):
        items["/" * k] = Fraction(1, 2**k)
    for n in range(1, 17):  # (no "3//": music21 reads it as 3/2, abc2midi as 3/4)
        # In lowest terms only: nobody writes "2/2" or "6/4" (a model did, when a bar's
        # room made it shorten a "2" it had begun).
        if n % 2:
            items[f"{n}/"] = Fraction(n, 2)
        for d in (2, 4, 8):
            if math.gcd(n, d) == 1:
                items[f"{n}/{d}"] = Fraction(n, d)
    for d in (2, 4, 8):
        items[f"/{d}"] = Fraction(1, d)
    return [(k, v) for k, v in items.items() if v >= MIN_LENGTH]


def _grid(values: list[Fraction]) -> Fraction:
    """The step every sum of these lengths is a multiple of: the shortest one, when every
    other is a multiple of it (then any multiple of it can be written), else their gcd."""
    shortest = min(values)
    if all((v / shortest).denominator == 1 for v in values):
        return shortest
    denominator = math.lcm(*(v.denominator for v in values))
    return Fraction(math.gcd(*(int(v * denominator) for v in values)), denominator)


def _meter_items() -> list[tuple[str, tuple[Fraction, bool]]]:
    """Meter texts -> (bar length in whole notes, compound?)."""
    items = [("C", (Fraction(1), False)), ("C|", (Fraction(1), False))]
    for n in range(1, 17):
        for d in (2, 4, 8, 16):
            items.append((f"{n}/{d}", (Fraction(n, d), n % 3 == 0 and n > 3)))
    return items


def _meter_beats(text: str) -> tuple[int, int]:
    """A meter text as (beats, beat unit), as a shape holds it: C (4, 4), C| (2, 2)."""
    if text.startswith("C"):
        return (2, 2) if text == "C|" else (4, 4)
    beats, unit = text.split("/")
    return int(beats), int(unit)


def _unit_items() -> list[tuple[str, Fraction]]:
    return [(f"1/{d}", Fraction(1, d)) for d in (2, 4, 8, 16, 32)]


def _key_items() -> list[tuple[str, bool]]:
    items = []
    for tonic in "ABCDEFG":
        for acc in ("", "#", "b"):
            for mode in KEY_MODES:
                for variant in {mode, mode.capitalize()}:
                    items.append((tonic + acc + variant, True))
                    if variant:
                        items.append((f"{tonic}{acc} {variant}", True))
    return items


def _chord_symbol_items() -> list[tuple[str, bool]]:
    """Chord symbol texts abc2midi accepts (annotations are handled apart)."""
    basses = [""] + [f"/{b}{a}" for b in "ABCDEFGabcdefg" for a in ("", "#", "b", "+")]
    return [
        (root + acc + kind + bass, True)
        for root in "ABCDEFGabcdefg"  # abc2midi takes "f" for F
        for acc in ("", "#", "b")
        for kind in CHORD_TYPES
        for bass in basses
    ]


@lru_cache(maxsize=16)
def _tries(alphabet: frozenset[str]) -> dict[str, _Trie]:
    """The tries for one vocabulary (built once per alphabet: the chord one takes ~0.1 s)."""
    return {
        "lengths": _Trie.build(_length_items(), alphabet),
        "M": _Trie.build(_meter_items(), alphabet),
        "meters": _Trie.build(((t, _meter_beats(t)) for t, _ in _meter_items()), alphabet),
        "L": _Trie.build(_unit_items(), alphabet),
        "K": _Trie.build(_key_items(), alphabet),
        "chords": _Trie.build(_chord_symbol_items(), alphabet),
        "bars": _Trie.build(BAR_TOKENS.items(), alphabet),
        "folk bars": _Trie.build(
            ((t, v) for t, v in BAR_TOKENS.items() if t not in FOLK_UNWRITTEN_BARS), alphabet
        ),
    }


def _tuplet(p: int, q: int | None, compound: bool) -> Fraction:
    """The factor q/p music21 gives a (p tuplet (its ABCTuplet.updateRatio)."""
    if q is None:
        q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 3 if compound else 2)
    return Fraction(q, p)


class _Row:
    """One row's parser state: plain attributes, so that a copy is one dict copy and the
    cache key is the tuple of the values (everything that decides what may come next)."""

    def __init__(self) -> None:
        # where we are
        self.phase = "H"  # "H" header, "B" body, "E" ended
        self.mode = "T"  # what the current characters build; see AbcGrammar._feed
        self.tok = ""  # text of the token being read
        self.node: _Trie | None = None  # trie node of the token being read
        self.field = ""  # field letter of a field line being read; ! or + of a decoration
        self.hf = 0  # header fields done: 0 none, 1 M, 2 M and L
        # music context
        self.unit = Fraction(1, 8)
        self.bar: Fraction | None = None  # bar length in whole notes; None: unchecked
        self.compound = False
        # bar state
        self.pos = Fraction(0)  # length of the current bar so far
        self.free = True  # the current bar may be short (first of its section)
        self.pickup = Fraction(0)  # the section's pickup (short_final="pickup" only)
        self.lost = False  # a refused character broke the count: unchecked to the next bar
        self.bars = 0  # 1 once a bar with notes has been closed
        self.boundary = True  # no note since the last bar line or field line
        self.bar_lines = 0  # bar lines since the last note, up to MAX_BAR_LINES
        self.ending_bar = False  # the current bar starts an ending
        self.bar_line_start = False  # the bar token being read began its line
        # the note being read: kind n(ote) r(est) c(hord), accidental, letter, octave marks
        self.n_kind, self.n_acc, self.n_letter, self.n_oct = "", "", "", ""
        self.chord_base = Fraction(1)  # a chord's first note's length
        self.chord_notes = 0
        # what came just before (only while after_note) and what must come
        self.after_note = False
        self.last_kind = ""
        self.last_written = Fraction(0)
        self.last_pitch: tuple[str, str, str] | None = None
        self.last_tuplet = False
        self.last_b = False  # the last note was the second of a broken pair
        self.last_deco = False  # the last note had a . or H decoration
        self.last_upper = False  # the last note ended in an upper-case letter (F, not F2)
        self.bar_after_upper = False  # the bar token being read follows such a note
        self.need_note = False  # a chord symbol, grace group, decoration… waits for its note
        self.pre = ""  # what the next note already has: q(uote) g(race) d(ecoration)
        self.tie: tuple[str, str, str] | str | None = None  # the pitch to tie to, or "any"
        self.broken: tuple[Fraction | None, Fraction] | None = None  # (length, factor) of b
        self.tuplet_left = 0
        self.tuplet_mult = Fraction(1)
        self.slurs = 0
        self.space = 0  # spaces in a row
        self.line_start = True
        self.line_content = False
        self.cont = False  # the line continues the previous one (after \)
        self.line_len = 0  # characters on this body line (in the key only as "too long")
        self.notes = 0  # capped at min_notes
        # repeats
        self.open_repeat = False
        self.ending = 0
        self.expect_second = False
        self.closed = False  # a :| closed the last repeat and no |: has opened another
        # form (form=True only): bars in the part so far (a pickup and the closing bar
        # together count one), the bars before its first ending, the key's tonic letter,
        # the last note's letter
        self.part_bars = 0
        self.ending_from = 0
        self.tonic = ""
        self.last_letter = ""
        self.parts = 0  # parts closed so far (form=True): the tune ends after `max_parts`
        self.tonic_altered = False  # a note of the tonic's letter had an accidental in this bar
        # form=True, a row started in a drawn shape (`FormShape`, None: the grammar's own
        # parts); `tonic` then holds the letter the tune ends on (the shape's final degree)
        self.shape: FormShape | None = None
        # form=True: a plain bar line closed the bar before a part's first ending, so the
        # ending's own bracket, "[1", comes next (|[1, the corpus's way of writing |1)
        self.need_ending = False
        # the body's field lines (M, L, K) since the last note: each at most once, so that a
        # tune cannot run on in field lines alone (a token model once wrote L:1/4 700 times)
        self.body_fields = ""
        # markers=True (a `bars` vocabulary, `abc_tokens.MARKS`): a bar line ended and its
        # marker is due, the bar line's tokens read since the last marker (`:|` then `[2`
        # are one bar line to the marker), the bar of its part the last marker named, and
        # the bar its first ending began at
        self.mk_due = False
        self.mk_run = ""
        self.mk_bar = 1
        self.mk_end = 1

    def clone(self) -> _Row:
        new = _Row.__new__(_Row)
        new.__dict__ = self.__dict__.copy()
        return new

    def key(self, reach: int = 1, notes_from: int | None = None) -> tuple:
        """Everything that decides which characters may come next (and, with `reach`, the
        next `reach` characters: the line's length only within `reach` of its limit, see
        `_line_bucket`). A few fields only shape later states (the last note's exact pitch
        matters once a tie names it; a note's letter beyond its case, while no tie is
        pending; the text of a length suffix beyond whether it has begun): they are left
        out, so that more states share a mask. With `notes_from` (a mask that looks only at
        the next character), the notes counted only as whether they reach it (END)."""
        values = list(self.__dict__.values())
        values[_I_LAST_PITCH] = None
        if notes_from is not None:
            values[_I_NOTES] = self.notes >= notes_from
        # (a part's last two bars: a tie into the last bar reads the letter too)
        last_bar = self.part_bars in (6, 7, 14, 15) or (
            self.shape is not None
            and self.shape.parts[min(self.parts, len(self.shape.parts) - 1)][0] - self.part_bars
            in (1, 2)
        )
        if (self.tie is None or self.tie == "any") and not last_bar:
            # (in a part's last bar, under form=True, the letter decides whether a note may
            # end the tune's last bar: kept)
            values[_I_N_LETTER] = self.n_letter.isupper()
            values[_I_N_ACC] = ""
        if self.mode == "N":
            values[_I_TOK] = bool(self.tok)
        if not self.tuplet_left:
            values[_I_TUPLET_MULT] = None
        if self.mode != "B":
            values[_I_BAR_AFTER_UPPER] = values[_I_BAR_LINE_START] = None
        if not self.line_start:
            values[_I_CONT] = None
        values[_I_LINE_LEN] = _line_bucket(self.line_len, reach)
        return tuple(values)

    def full_key(self) -> tuple:
        """Everything that decides what may come next and after (the compiled tables' state
        key, see `ml.automaton`): every field, but an annotation's text only by its first
        character and length (all the rules look at)."""
        values = list(self.__dict__.values())
        if self.mode == "Q" and self.tok[:1] in ANNOTATION_MARKS:
            values[_I_TOK] = (self.tok[0], len(self.tok))
        # Fields no later rule reads before they are set again: a length suffix's text
        # beyond whether it has begun (its trie node holds its value), the tuplet factor
        # with no tuplet running, the line-continuation flag away from a line start, and
        # whether the bar token began its line or follows an upper-case note outside a bar
        # token (both are set as a bar token begins, "|", ":" or "[", and read only inside
        # one: left in, the first bar of a line made every state to the next bar line new).
        if self.mode == "N":
            values[_I_TOK] = bool(self.tok)
        if not self.tuplet_left:
            values[_I_TUPLET_MULT] = None
        if not self.line_start:
            values[_I_CONT] = None
        if self.mode != "B":
            values[_I_BAR_AFTER_UPPER] = values[_I_BAR_LINE_START] = None
        return tuple(values)


def _shaped_mask_key(st: _Row, key: tuple) -> tuple:
    """A shaped row's character mask key (`key`, `_Row.key`) with its shape, the parts
    closed and the bars in its part as far as the rules for one more character read them,
    outside a bar token (whose end, with the next character, can begin the next part):
    whether the part has no bar yet, the bars left in it up to 3 (the rules ask whether
    this is the part's last bar or the one before, and whether the bars with the one a bar
    line may count are fewer than the part's length or make it), the parts left up to 2
    (last part, or none), whether this part and the next repeat, the last note's share
    (the final degree only sets the tonic: a state's own field). So rows of every shape
    share one mask wherever the form decides nothing (mid-part); the tables' states, whose
    successors read more of it, hold more (`_shape_view`)."""
    parts = st.shape.parts
    n = len(parts)
    left = parts[min(st.parts, n - 1)][0] - st.part_bars
    repeats = (_part_flags(st.shape, st.parts), _part_flags(st.shape, st.parts + 1))
    values = list(key)
    # (the meter first: it decides the M: fields' masks, header and body)
    values[_I_SHAPE] = (st.shape.meter, min(left, 3), min(n - st.parts, 2), repeats, st.shape.last)
    values[_I_PARTS], values[_I_PART_BARS] = None, st.part_bars == 0
    if n - st.parts >= 2 or (n - st.parts == 1 and left >= 3):
        # Before the last part's last two bars no rule reads the tonic, the last note's
        # letter or share (they decide how the tune ends: `_final_bar`, `_form_can_end`,
        # the bar line that closes the last part, which a bar line only counts in its last
        # bar, and a tie into the last bar), and the final degree only ever sets the tonic
        # (at the K: line).
        values[_I_SHAPE] = values[_I_SHAPE][:4]
        values[_I_TONIC] = values[_I_LAST_LETTER] = values[_I_TONIC_ALTERED] = None
    return tuple(values)


def _shape_view(st: _Row) -> tuple:
    """As much of a shaped row's shape as the rules can read while the row's parts closed
    and whether its key has a tonic stay as they are (the compiled tables' state key holds
    this instead of the shape, `_Compiled.group_key`): the meter (every `M:` field), the
    current part (its bars, repeat, endings, whole close; the last part's once all are
    closed), whether the next part repeats, has endings or closes whole (a bar line
    closing this part reads it), the parts left up to 2 (last part, or none), and the last
    note's share in the last part. The final degree is read only as the `K:` line sets the
    tonic, and the next part's bars and the rest only once this part closes: each a change
    of the parts or the tonic, where a row's successor is built from its own shape
    (`_Compiled.reads_shape`)."""
    shape, k = st.shape, st.parts
    n = len(shape.parts)
    i = min(k, n - 1)
    here = (shape.parts[i][0], *_part_flags(shape, i))
    return (shape.meter, here, _part_flags(shape, k + 1), min(n - k, 2),
            shape.last if n - k <= 1 else None)  # fmt: skip


def _part_flags(shape: FormShape, k: int) -> tuple[bool, bool, bool] | None:
    """Whether part `k` of a shape repeats, ends in first and second endings, and closes
    whole after its pickup (None past the last part). (`check_shape` gives every part its
    endings and whole flags.)"""
    if k >= len(shape.parts):
        return None
    return (shape.parts[k][1], shape.endings[k], shape.whole[k])


def _end_only(size: int, end_id: int) -> np.ndarray | None:
    """A dead end's mask: END alone (None, anything, for a vocabulary without END)."""
    if end_id < 0:
        return None
    mask = np.zeros(size, dtype=bool)
    mask[end_id] = True
    return mask


def _line_bucket(line_len: int, reach: int) -> int:
    """The line's length as far as the next `reach` characters can tell: -1 while they all
    fit within MAX_LINE (the 150-character rule cannot refuse any of them), the exact length
    nearer the limit, MAX_LINE past it (every character but a newline is then judged the
    same way)."""
    if line_len + reach <= MAX_LINE:
        return -1
    return min(line_len, MAX_LINE)


_FIELDS = list(_Row().__dict__)
_I_LAST_PITCH, _I_N_LETTER, _I_N_ACC, _I_TOK = (
    _FIELDS.index(f) for f in ("last_pitch", "n_letter", "n_acc", "tok")
)
_I_TUPLET_MULT, _I_BAR_AFTER_UPPER, _I_BAR_LINE_START, _I_CONT, _I_LINE_LEN = (
    _FIELDS.index(f)
    for f in ("tuplet_mult", "bar_after_upper", "bar_line_start", "cont", "line_len")
)
_I_TONIC = _FIELDS.index("tonic")
_I_SHAPE, _I_PARTS, _I_PART_BARS = (_FIELDS.index(f) for f in ("shape", "parts", "part_bars"))
_I_LAST_LETTER, _I_TONIC_ALTERED = (_FIELDS.index(f) for f in ("last_letter", "tonic_altered"))
_I_NOTES = _FIELDS.index("notes")
_LETTERS = "ABCDEFGabcdefg"  # a pitch register's codes: 1 + the index (0: no letter)


def _letter_of(state: _Row) -> str:
    """The letter a pitch register holds for a state: of the note being read, or of the
    note just read. (A tie's pitch stays in the key, and so does the letter of a note read
    while a tie is pending: it may differ from the tie's in a prime or a corpus text.)"""
    if state.n_letter and not isinstance(state.tie, tuple):
        return state.n_letter
    if state.last_pitch is not None:
        return state.last_pitch[1]
    return ""


# Masks by parser state, shared by every grammar over the same vocabulary and options, so
# that a worker's later jobs find most states already built (each is a few hundred bytes).
_SHARED: dict[tuple, tuple[dict, dict, dict]] = {}
MAX_CACHED = 200_000


# Compiled tables by grammar class and options, kept per process (see `ml.automaton`); each
# holds up to its max_bytes (64 MB), so a worker keeps the tables of its last few models.
_AUTOMATA: dict[tuple, LazyAutomaton] = {}
MAX_AUTOMATA = 4


class _Compiled:
    """A grammar as an `ml.automaton.Parser`, and its tables, shared by every grammar of the
    same class over the same vocabulary and options."""

    _shared_key: tuple
    _rows: dict[int, tuple[list[int], int, _Row]]
    stats: dict[str, int]

    # --- the constraint (a `sampler.Constraint`) ---------------------------------------------
    def __call__(self, row: int, ids: list[int]) -> np.ndarray | None:
        ref, read, st = self._rows.get(row, (None, 0, None))
        if st is None or ref is not ids or len(ids) < read:
            ref, read, st = ids, 0, _Row()  # a new piece in this row
        for i in ids[read:]:
            self._feed_id(st, int(i))
        self._rows[row] = (ref, len(ids), st)
        self.stats["steps"] += 1
        return self._mask(st)

    def reset(self) -> None:
        """Forget every row (the next call starts each row afresh)."""
        self._rows.clear()

    # The character parser a symbol's characters are fed to (`AbcGrammar._feed`): the
    # grammar itself for characters, its `chars` for tokens.
    _parser: AbcGrammar

    def _feed_id(self, st: _Row, i: int) -> None:
        """Fold symbol `i` into the state: START begins the piece again (a row's drawn shape
        holds for the whole piece), END ends it, any other symbol feeds its characters."""
        tok = self.vocab[i] if 0 <= i < self.size else PAD
        if tok == START:
            shape = st.shape
            st.__init__()
            st.shape = shape
        elif tok == END:
            st.phase = "E"
        elif tok != PAD:
            feed = self._parser._feed
            for ch in tok:
                feed(st, ch)

    def _mask(self, st: _Row) -> np.ndarray | None:
        raise NotImplementedError

    # --- the tables' parser (`ml.automaton.Parser`) ------------------------------------------
    def fresh(self) -> _Row:
        return _Row()

    def fresh_shaped(self, shape: FormShape | None) -> _Row:
        """The state before START of a row that follows a drawn shape (form=True)."""
        st = _Row()
        if shape is not None and self._form:
            st.shape = check_shape(shape)
        return st

    def fed(self, state: _Row, symbol: int) -> _Row:
        new = state.clone()
        self._feed_id(new, symbol)
        return new

    def mask_of(self, state: _Row) -> np.ndarray | None:
        return self._mask(state)

    def state_key(self, state: _Row) -> tuple:
        return state.full_key()

    # The line register (see `ml.automaton`): a state's table key leaves the length of its
    # line out; the sampling loop counts it per row, and the tables keep one mask per line
    # bucket, the exact length only within `_line_reach` characters of the 150-character
    # limit (`line_window`).
    _form: bool
    _line_reach: int

    @property
    def line_window(self) -> tuple[int, int]:
        return (MAX_LINE - self._line_reach + 1, MAX_LINE)

    def line_of(self, state: _Row) -> int:
        return state.line_len

    # The pitch register (character grammar without form rules): the letter of the note
    # being read or just read decides no mask until a tie names it (`_Row.key` leaves it
    # out), so a state's table key keeps only its case, the loop keeps the letter, and a
    # symbol that ties (`-`) is followed in Python with the row's letter (`ml.automaton`).
    # Not for tokens (a token's mask looks tokens ahead, through ties) nor with form rules
    # (the tune's last note must be the tonic).
    pitch_register = False

    def pitch_of(self, state: _Row) -> int:
        letter = _letter_of(state)
        return _LETTERS.index(letter) + 1 if letter and letter in _LETTERS else 0

    # The notes register (character grammar): the notes counted so far (up to min_notes)
    # decide only whether END may come (`_can_end`), and only at the state itself: a state's
    # table key leaves them out, and the tables keep one mask for fewer than min_notes and
    # one for min_notes (`notes_window`). Not for tokens (a token's mask looks tokens ahead:
    # whether END comes within them).
    notes_window: tuple[int, int] | None = None

    # Frames (character grammar): inside a chord symbol or annotation ("…") the mask and
    # every successor up to the closing quote depend on its text alone (`_quote` reads
    # nothing else and changes nothing else), and the closing quote leaves the state the
    # opening one left, whatever the text. So the tables keep one group per text for every
    # context, and the loop keeps the group the symbol opened in as a register (its
    # context), whose successor the closing quote takes (`ml.automaton`). Not for tokens
    # (a token's mask looks past the closing quote).
    frames = False

    def frame_of(self, state: _Row) -> Hashable | None:
        """Inside a chord symbol's text (past its opening quote and first character): what
        decides its masks and inner successors (the text; an annotation's by its first
        character and length, as `full_key`). None elsewhere."""
        if state.phase != "B" or state.mode != "Q" or not state.tok:
            return None
        return (state.tok[0], len(state.tok)) if state.tok[0] in ANNOTATION_MARKS else state.tok

    def frame_context(self, state: _Row) -> _Row:
        """The state inside a frame with its text taken away: the state its opening quote
        left (the line's length aside, a register)."""
        new = state.clone()
        new.tok = ""
        return new

    def notes_of(self, state: _Row) -> int:
        return state.notes

    def with_registers(self, state: _Row, line: int, code: int, notes: int | None = None) -> _Row:
        new = state.clone()
        new.line_len = int(line)
        if notes is not None:
            new.notes = int(notes)
        if code and _letter_of(state):
            letter = _LETTERS[code - 1]
            if new.n_letter and not isinstance(new.tie, tuple):
                new.n_letter = letter
            if new.last_pitch is not None:
                new.last_pitch = (new.last_pitch[0], letter, new.last_pitch[2])
        return new

    def holds_letter(self, state: _Row) -> bool:
        return bool(state.n_letter) or state.last_pitch is not None or isinstance(state.tie, tuple)

    def probe_pitches(self, state: _Row) -> tuple[int, int]:
        letter = _letter_of(state)  # (two letters of its case)
        if not letter:
            return 0, 0
        return (1, 2) if letter.isupper() else (8, 9)  # A, B or a, b

    def group_key(self, state: _Row) -> tuple:
        """`full_key` without the line's length (the register's), without the key's tonic
        where no form rule reads it, with a pitch register the note's letter only by its
        case (a tie's pitch stays), and a drawn shape only as far as `_shape_view` (the
        shape register's: see `reads_shape`)."""
        values = list(state.full_key())
        values[_I_LINE_LEN] = None
        if state.shape is not None:
            values[_I_SHAPE] = _shape_view(state)
        if self.notes_window is not None:
            values[_I_NOTES] = None
        if not self._form:
            values[_I_TONIC] = ""
        if self.pitch_register:
            if state.n_letter and not isinstance(state.tie, tuple):
                values[_I_N_LETTER] = state.n_letter.isupper()
            if state.last_pitch is not None:
                acc, letter, octave = state.last_pitch
                values[_I_LAST_PITCH] = (acc, letter.isupper(), octave)
        return tuple(values)

    # The shape register (the folk form's drawn shapes, one per row): a state's table key
    # holds its shape only as far as the rules read it before the row's parts closed or its
    # tonic change (`_shape_view`), so every shape that agrees there shares the state and
    # its successors. A symbol that changes either (closing a part, the K: line setting the
    # tonic, START again) moves to a key that reads more of the shape: the tables build
    # that successor per row from the row's own shape (`ml.automaton`, SHAPED). With the
    # form rules only (without them a row has no shape).
    @property
    def shape_register(self) -> bool:
        return self._form

    def reads_shape(self, state: _Row, after: _Row) -> bool:
        """Does the state after a symbol read more of the row's shape than `state`'s key
        holds (a part closed, or the tonic set or cleared)?"""
        return state.shape is not None and (
            after.parts != state.parts or bool(after.tonic) != bool(state.tonic)
        )

    def with_shape(self, state: _Row, shape: FormShape) -> _Row:
        """A copy of a shaped row's state following `shape` instead (a state of a table
        group, whose key holds as much of either shape as it reads)."""
        new = state.clone()
        new.shape = check_shape(shape)
        return new

    def automaton(self) -> LazyAutomaton:
        """The compiled tables the sampler looks masks up in (built as they are reached)."""
        key = (type(self).__name__, self._shared_key)
        found = _AUTOMATA.pop(key, None)
        if found is None:
            found = LazyAutomaton(self)
            while len(_AUTOMATA) >= MAX_AUTOMATA:  # the least recently used goes
                _AUTOMATA.pop(next(iter(_AUTOMATA)))
        _AUTOMATA[key] = found  # (most recently used last)
        return found


class AbcGrammar(_Compiled):
    """The constraint: `grammar(row, ids) -> mask | None`. See the module docstring."""

    def __init__(
        self,
        vocab: list[str],
        *,
        min_notes: int = 8,
        abc2midi: bool = True,
        short_final: str = "any",
        lengths: Iterable[str] | None = None,
        usual_lengths: bool = False,
        form: bool = False,
        max_parts: int = MAX_PARTS,
        part_lengths: tuple[int, ...] = PART_LENGTHS,
        markers: bool = False,
    ) -> None:
        """`lengths`: the note length suffixes the model can write (default: every one from
        1/8 to 32 units its characters spell). A token vocabulary writes only its duration
        tokens: bars must then be filled with those, or a state could be a dead end.
        `usual_lengths`: notes, rests and chords only at the lengths of USUAL_LENGTHS (the
        site's sampling turns it on; off, the grammar reads any tune a corpus holds).
        `max_parts` (form=True): the tune ends once this many parts have closed;
        `part_lengths`: the bars a part may have, (8, 16) or (8,).
        `markers`: every bar line of the body is followed by its bar marker
        (`abc_tokens.add_markers`, a `bars` vocabulary): the right one is the only symbol
        allowed where a bar line may end, and the rules otherwise read the text as if the
        markers were not there."""
        if short_final not in ("pickup", "any"):
            raise ValueError("short_final must be 'pickup' or 'any'")
        if not 1 <= int(max_parts) <= 8:
            raise ValueError("max_parts must be 1 to 8")
        self.form = self._form = bool(form)
        self._parser = self
        self._line_reach = 1  # a mask looks one character ahead
        self._seen = 0  # the longest line `_top` saw (see AbcTokenGrammar._cached)
        self.pitch_register = not self.form
        self.frames = True
        self.max_parts = int(max_parts)
        if tuple(part_lengths) not in ((8, 16), (8,)):
            raise ValueError("part_lengths must be (8, 16) or (8,)")
        self.part_lengths = tuple(part_lengths)
        self.part_max = max(self.part_lengths)
        if self.form:  # a part's closing bar and its pickup make one bar
            short_final = "pickup"
        self.vocab = list(vocab)
        self.size = len(vocab)
        self.min_notes = int(min_notes)
        if self.min_notes >= 2:  # (the register's successors are computed from one note)
            self.notes_window = (self.min_notes, self.min_notes)
        self.abc2midi = bool(abc2midi)
        self.short_final = short_final
        self.usual_lengths = bool(usual_lengths)
        self.end_id = self.vocab.index(END) if END in self.vocab else -1
        self.index = {tok: i for i, tok in enumerate(self.vocab)}
        self.chars = [(i, tok) for i, tok in enumerate(self.vocab) if len(tok) == 1]
        self.alphabet = frozenset(tok for _, tok in self.chars)
        tries = _tries(self.alphabet)
        self.lengths, self.bar_tokens, self.chord_symbols = (
            tries["lengths"],
            tries["folk bars" if self.form else "bars"],
            tries["chords"],
        )
        lengths_key = None
        if lengths is not None:
            lengths_key = frozenset(lengths) | {""}
            items = [(k, v) for k, v in _length_items() if k in lengths_key]
            self.lengths = _Trie.build(items, self.alphabet)
        self.field_values = {f: tries[f] for f in BODY_FIELDS}
        self.meters = tries["meters"]  # meter texts by (beats, beat unit): a shape's meter
        self.markers = bool(markers)
        self.top_chars = [
            (i, ch) for i, ch in self.chars if ch in TOP_CHARS or self.markers and ch in MARKS
        ]
        self.letter_ids = np.array([i for i, ch in self.chars if ch in NOTE_LETTERS], np.int64)
        shared = (
            tuple(self.vocab),
            self.min_notes,
            self.abc2midi,
            self.short_final,
            lengths_key,
            self.usual_lengths,
            self.form,
            (self.max_parts, self.part_lengths) if self.form else None,
            self.markers,
        )
        self._shared_key = shared
        if shared not in _SHARED:
            _SHARED[shared] = ({}, {}, {}, {})
        self._cache, self._fits_cache, self._sum_cache, self._unit_cache = _SHARED[shared]
        self._rows: dict[int, tuple[list[int], int, _Row]] = {}
        self.stats = {"steps": 0, "masks_built": 0, "fallbacks": 0}

    # --- the compiled rules (`ml.abc_machine`) ------------------------------------------------
    @property
    def machine_ready(self) -> bool:
        """Can `ml.abc_machine` run this grammar (characters, no bar markers)?"""
        return not self.markers

    def machine(self) -> Machine:
        """This grammar's rules as `ml.abc_machine` reads them (built once per grammar)."""
        if not self.machine_ready:
            raise ValueError("the compiled rules do not write the bars vocabulary's markers")
        found = self.__dict__.get("_machine")
        if found is None:
            found = self._machine = _machine_of(self)
        return found

    # --- helpers for tests and tools -------------------------------------------------------
    def state_after(self, text: str) -> _Row:
        """The parser state after START + text."""
        st = _Row()
        for ch in text:
            self._feed(st, ch)
        return st

    def allowed_after(self, text: str) -> set[str]:
        """The characters (and END as '</s>') allowed after START + text."""
        mask = self._mask(self.state_after(text))
        if mask is None:
            return set(self.vocab)
        return {self.vocab[i] for i in np.flatnonzero(mask)}

    def violations(
        self, text: str, *, end: bool = True, shape: FormShape | None = None
    ) -> list[int]:
        """Positions in `text` whose character the grammar would not have allowed there
        (len(text) stands for END after the text, when `end`), in a row following `shape`
        (form=True) if given."""
        st, bad = self.fresh_shaped(shape), []
        for k, ch in enumerate(text):
            mask = self._mask(st)
            if mask is not None and (ch not in self.index or not mask[self.index[ch]]):
                bad.append(k)
            self._feed(st, ch)
        if end and self.end_id >= 0:
            mask = self._mask(st)
            if mask is not None and not mask[self.end_id]:
                bad.append(len(text))
        return bad

    # --- masks -----------------------------------------------------------------------------
    def _mask(self, st: _Row) -> np.ndarray | None:
        if st.phase == "E":
            return None
        if st.phase == "B" and st.mode == "Q":
            key = ("Q", st.tok)  # inside a chord symbol only its text decides (`_quote`)
        elif st.shape is not None and st.mode != "B":
            key = _shaped_mask_key(st, st.key(1, self.min_notes))
        else:
            key = st.key(1, self.min_notes)
        if key in self._cache:
            return self._cache[key]
        self.stats["masks_built"] += 1
        if st.phase == "B" and st.mode in ("N", "B", "P", "R"):
            mask = self._token_mask(st)
        elif st.phase == "B" and st.mode == "T":
            mask = self._top_mask(st)
        else:
            mask = self._trial_mask(st, self.chars)
        if self.end_id >= 0 and self._can_end(st):
            mask[self.end_id] = True
        if not mask.any():
            self.stats["fallbacks"] += 1
            mask = _end_only(self.size, self.end_id)
        if len(self._cache) > MAX_CACHED:
            self._cache.clear()
        self._cache[key] = mask
        return mask

    def _trial_mask(self, st: _Row, chars: Iterable[tuple[int, str]]) -> np.ndarray:
        """Try each character on a copy of the state."""
        mask = np.zeros(self.size, dtype=bool)
        for i, ch in chars:
            if self._feed(st.clone(), ch):
                mask[i] = True
        return mask

    def _top_mask(self, st: _Row) -> np.ndarray:
        """Between tokens: characters outside TOP_CHARS are refused outright, and all note
        letters behave alike unless a tie names the pitch."""
        if st.tie is not None and st.tie != "any" or not len(self.letter_ids):
            return self._trial_mask(st, self.top_chars)
        if self.form and st.part_bars == self._part_max(st) - 1:  # the tonic ends the last bar
            return self._trial_mask(st, self.top_chars)
        mask = self._trial_mask(st, ((i, ch) for i, ch in self.top_chars if ch not in NOTE_LETTERS))
        i0 = int(self.letter_ids[0])
        mask[self.letter_ids] = self._feed(st.clone(), self.vocab[i0])
        return mask

    def _token_mask(self, st: _Row) -> np.ndarray:
        """Inside a token that ends at the first character that does not continue it (a
        note's length, a bar line, a tuplet spec, a broken-rhythm sign): the continuing
        characters are tried one by one; every other character ends the token and is then
        judged as the first character after it, by that state's (cached) mask."""
        cont = self._continuing(st)
        mask = self._trial_mask(st, ((i, ch) for i, ch in self.chars if ch in cont))
        after = st.clone()
        if self._terminate(after):
            rest = self._mask(after) if after.mode == "T" else None
            if rest is not None:
                rest = rest.copy()
                rest[[self.index[c] for c in cont if c in self.index]] = False
                if self.end_id >= 0:
                    rest[self.end_id] = False
                mask |= rest
        return mask

    def _continuing(self, st: _Row) -> frozenset[str] | set[str]:
        if st.mode == "N":
            if st.n_kind == "n" and not st.tok and len(st.n_oct) < MAX_OCTAVE_MARKS:
                return _LENGTH_OR_OCTAVE
            return LENGTH_CHARS
        if st.mode == "B":
            cont = set(st.node.children) if st.node is not None else set()
            if st.node is not None and st.node.value is None:
                cont |= set("|:]") | DIGITS
            return cont
        if st.mode == "P":
            if not st.tok:
                return set("23456789")
            parts = st.tok.split(":")
            cont = {":"} if len(parts) < 3 and (parts[-1] or not self.abc2midi) else set()
            if len(parts) > 1 and parts[-1] == "":
                cont |= set("123456789")
            return cont
        if st.mode == "R":
            return {st.tok[0]} if len(st.tok) < 2 else set()
        return set()

    def _terminate(self, st: _Row) -> bool:
        """End the token being read (as a character that does not continue it would)."""
        if st.mode == "N":
            return self._finish_note(st)
        if st.mode == "B":
            return self._end_bar(st)
        if st.mode == "P":
            return self._end_paren(st)
        if st.mode == "R":
            return self._end_broken(st)
        return False

    def _can_end(self, st: _Row) -> bool:
        return (
            st.phase == "B"
            and st.mode == "T"
            and not st.mk_due
            and st.line_start
            and not st.cont
            and st.boundary
            and st.pos == 0
            and st.bars > 0
            and not st.need_note
            and st.tie is None
            and st.tuplet_left == 0
            and st.notes >= self.min_notes
            and not (self.abc2midi and (st.open_repeat or st.ending == 1))
            and (not self.form or self._form_can_end(st))
        )

    def _form_can_end(self, st: _Row) -> bool:
        """The last bar line closed a part, no second ending is owed, and the last note is
        the key's tonic."""
        return (
            st.part_bars == 0
            and st.free  # the last bar line was a section mark
            and not st.expect_second
            and st.ending == 0
            and st.tonic != ""
            and st.last_letter == st.tonic
            and (st.shape is None or st.parts == len(st.shape.parts))
        )

    # a row's form: its drawn shape's, or the grammar's own
    def _n_parts(self, st: _Row) -> int:
        return len(st.shape.parts) if st.shape is not None else self.max_parts

    def _part_max(self, st: _Row) -> int:
        """The most bars the current part may have."""
        if st.shape is None:
            return self.part_max
        return st.shape.parts[min(st.parts, len(st.shape.parts) - 1)][0]

    def _part_length_ok(self, st: _Row, bars: int) -> bool:
        if st.shape is None:
            return bars in self.part_lengths
        return bars == self._part_max(st)

    def _repeated(self, st: _Row, part: int) -> bool | None:
        """Does part `part` (0 the first) of the row's shape repeat (None: no shape, or no
        such part: anything goes)?"""
        if st.shape is None or part >= len(st.shape.parts):
            return None
        return st.shape.parts[part][1]

    def _endings(self, st: _Row, part: int) -> bool:
        """Does part `part` of the row's shape end in first and second endings?"""
        return st.shape is not None and part < len(st.shape.endings) and st.shape.endings[part]

    def _whole(self, st: _Row) -> bool:
        """Does the row's current part close on a whole bar after its pickup (its shape's)?"""
        return st.shape is not None and st.parts < len(st.shape.whole) and st.shape.whole[st.parts]

    # --- durations -------------------------------------------------------------------------
    def _checking(self, st: _Row) -> bool:
        return st.bar is not None and not st.lost

    def _fillable(self, st: _Row, rest: Fraction) -> bool:
        return rest >= 0 and (rest / self._step(st.unit)).denominator == 1

    def _written(self, unit: Fraction) -> tuple[Fraction, list[Fraction], frozenset[Fraction]]:
        """Under unit `unit`: the step every sum of allowed note lengths is a multiple of,
        and the allowed lengths themselves, ascending and as a set (all in whole notes)."""
        hit = self._unit_cache.get(unit)
        if hit is None:
            values = sorted({v * unit for v in self.lengths.values})
            if self.usual_lengths:
                values = [w for w in values if w in USUAL_LENGTHS] or values
            hit = (_grid(values), values, frozenset(values))
            self._unit_cache[unit] = hit
        return hit

    def _step(self, unit: Fraction) -> Fraction:
        return self._written(unit)[0]

    def _fits(self, st: _Row, node: _Trie, base: Fraction) -> bool:
        """Does some length in `node`'s subtree, times `base`, fit what is left of the bar
        for the next note (tuplet and broken rhythm included)?"""
        if not self._checking(st):
            want = st.broken[0] if st.broken is not None else None
            return want is None or any(v * base == want for v in node.values)
        key = (node, base, st.unit, st.bar, st.pos, st.broken, st.tuplet_left, st.tuplet_mult)
        if self.form:
            final = self._final_bar(st)
            key += (self._limit(st), final, final and self._may_close_on(st), self._last(st))
        hit = self._fits_cache.get(key)
        if hit is None:
            hit = any(self._fits_value(st, v * base) for v in node.values)
            if len(self._fits_cache) > MAX_CACHED:
                self._fits_cache.clear()
            self._fits_cache[key] = hit
        return hit

    def _fits_value(self, st: _Row, written: Fraction) -> bool:
        mult = Fraction(1)
        if st.broken is not None:
            want, mult = st.broken
            if want is not None and written != want:
                return False
        if self.usual_lengths and written * st.unit not in self._written(st.unit)[2]:
            return False
        if st.tuplet_left > 0:
            mult *= st.tuplet_mult
        end = st.pos + written * st.unit * mult
        limit = self._limit(st)
        if end > limit:
            return False
        if self.form and self._final_bar(st):
            if end == limit and not self._may_close_on(st):
                return False  # the tune's last bar closes on the tonic
            if not self._final_room_ok(st, limit - end):
                return False
        # a tuplet's inner notes may leave odd remainders: its other notes must be able to
        # bring the bar back to a length the allowed notes can complete
        return self._completable(st, end, max(st.tuplet_left - 1, 0))

    def _completable(self, st: _Row, end: Fraction, notes: int) -> bool:
        """Can `notes` more tuplet notes, from bar position `end`, leave a rest of the bar
        that plain notes fill exactly?"""
        grid = self._step(st.unit)
        if not notes:
            return self._fillable(st, self._limit(st) - end)
        step = grid * st.tuplet_mult
        room = self._limit(st) - end
        for total in self._sums(notes, st.unit):  # in grid steps, ascending
            if total * step > room:
                return False
            if ((room - total * step) / grid).denominator == 1:
                return True
        return False

    def _sums(self, notes: int, unit: Fraction) -> list[int]:
        """The lengths (in grid steps) `notes` allowed notes can add up to, ascending."""
        if (notes, unit) not in self._sum_cache:
            grid, values, _ = self._written(unit)
            steps = {int(w / grid) for w in values}
            sums = {0}
            for _ in range(notes):
                sums = {a + b for a in sums for b in steps if a + b <= 1024}
            self._sum_cache[notes, unit] = sorted(sums)
        return self._sum_cache[notes, unit]

    def _room_for_note(self, st: _Row) -> bool:
        """Is there room in the bar for the next note, at some allowed length?"""
        return self._fits(st, self.lengths, Fraction(1))

    def _limit(self, st: _Row) -> Fraction:
        """Where the current bar must stop: the bar's length, but in a part's last possible
        bar under form=True (the part must close there) the bar less the part's pickup, so
        that the two make one bar (unless the shape lets the part close on a whole bar)."""
        if self.form and st.part_bars == self._part_max(st) - 1:
            return self._closing_limit(st)
        return st.bar

    def _closing_limit(self, st: _Row) -> Fraction:
        """Where a part's closing bar stops: with its pickup, one bar; a whole bar where the
        shape's tune closed so (`FormShape.whole`)."""
        return st.bar - st.pickup if st.pickup and not self._whole(st) else st.bar

    def _final_bar(self, st: _Row, ahead: int = 0) -> bool:
        """form=True: is this bar the tune's last (the last possible bar of the last part,
        not in a first ending), whose last note must be the tonic? With `ahead` = 1: is the
        next bar?"""
        return (
            st.parts == self._n_parts(st) - 1
            and st.part_bars == self._part_max(st) - 1 - ahead
            and st.ending != 1
            and not st.expect_second
            and self._checking(st)
        )

    def _final_room_ok(self, st: _Row, room: Fraction) -> bool:
        """In the tune's last bar, what a note leaves is nothing (it is the last note) or
        room for a last note of a quarter note or more (the whole rest of a shorter closing
        bar): people end a tune on a long note, and a grammar that let the bar be filled
        up to its last sliver squeezed the tonic into a 32nd."""
        least = self._least_last(st, self._limit(st))
        if room == 0 or st.shape is None:
            return room >= least or room == 0
        return room >= least and self._final_fill(room, least, st.unit)

    def _final_fill(self, room: Fraction, least: Fraction, unit: Fraction) -> bool:
        """Can notes the model writes fill `room` so that each leaves nothing or at least
        `least` (a shaped row's long last note: without this, a room longer than `least`
        that no single length fills, 27/32 of a bar, would be a dead end)?"""
        cache = self.__dict__.setdefault("_final_cache", {})
        key = (room, least, unit)
        hit = cache.get(key)
        if hit is None:
            hit = False
            for w in self._written(unit)[1]:
                if w == room or (
                    w < room and room - w >= least and self._final_fill(room - w, least, unit)
                ):
                    hit = True
                    break
            cache[key] = hit
        return hit

    def _last(self, st: _Row) -> Fraction:
        """The tune's last note's least length, in whole notes: a shaped row's share of the
        bar (its tune's last note's), else FINAL_NOTE."""
        if st.shape is None or not st.shape.last or st.bar is None:
            return FINAL_NOTE
        return st.bar * st.shape.last / 12

    def _least_last(self, st: _Row, limit: Fraction) -> Fraction:
        """The last note's least length within `limit`, and with `usual_lengths` the longest
        length a note may be written with up to that (a shape's 5/8 of a 6/8 bar, or a
        closing bar of 5/8, would otherwise ask for a note no usual length writes: a dead
        end, where a model was left unconstrained)."""
        least = min(self._last(st), limit)
        if self.usual_lengths:
            writable = [w for w in self._written(st.unit)[1] if w <= least]
            least = max(writable) if writable else least
        return least

    def _tied_fits(self, st: _Row, limit: Fraction, pos: Fraction) -> bool:
        """In the tune's last bar (stopping at `limit`, the tie's note from `pos`): do the
        tied note, then (unless it is the tonic) a last note, fit?"""
        last = Fraction(0) if st.last_letter == st.tonic else self._least_last(st, limit)
        return limit - pos >= self._step(st.unit) + last

    def _may_close_on(self, st: _Row) -> bool:
        """May the note being read end the tune's last bar: a note on the tonic's letter, a
        rest after one, a note whose letter is not read yet; never a chord."""
        if st.n_kind == "n":
            tied_acc = st.tie[0] if isinstance(st.tie, tuple) else ""
            unaltered = not (st.n_acc or tied_acc or st.tonic_altered)
            return st.n_letter.upper() == st.tonic and unaltered
        if st.n_kind == "r":
            return st.last_letter == st.tonic
        return st.n_kind != "c"

    # --- feeding ---------------------------------------------------------------------------
    def _feed(self, st: _Row, ch: str) -> bool:
        """Fold one character into the state; True when the grammar allows it there. The
        state is updated either way (a refused character is parsed as well as it can be)."""
        if st.phase == "H":
            return self._feed_header(st, ch)
        if st.phase == "E":
            return False
        st.line_len += 1
        mode = st.mode
        if mode == "T":
            return self._top(st, ch)
        if mode in ("N", "B", "P", "R") and ch not in self._continuing(st):
            ok = self._terminate(st)
            return self._top(st, ch) and ok
        if mode == "N":
            return self._length_char(st, ch)
        if mode == "B":
            return self._bar_char(st, ch)
        if mode == "P":
            st.tok += ch
            if len(st.tok) == 1:
                return self._tuplet_room(st, int(ch), None, None)
            return self._spec_can_end(st)
        if mode == "R":
            st.tok += ch
            return True
        if mode == "A":
            return self._accidental_char(st, ch)
        if mode == "Q":
            return self._quote(st, ch)
        if mode == "C":
            return self._chord(st, ch)
        if mode == "G":
            return self._grace(st, ch)
        if mode == "D":
            return self._decoration(st, ch)
        if mode == "K":
            return self._bracket(st, ch)
        if mode == "F":
            return self._field_char(st, ch)
        if mode == "S":  # after "\": only the newline
            st.mode = "T"
            if ch == "\n":
                self._newline(st)
                st.cont = True
                return True
            return self._top(st, ch) and False
        return False

    # header ------------------------------------------------------------------------------
    def _feed_header(self, st: _Row, ch: str) -> bool:
        if st.mode == "F":
            return self._field_char(st, ch)
        if st.mode == "X":  # skipping an unknown header line
            if ch == "\n":
                st.mode = "T"
            return False
        if ch == BODY_FIELDS[st.hf]:
            st.mode, st.field, st.tok, st.node = "F", ch, "", None
            return True
        if ch in BODY_FIELDS:  # out of order: take it, with defaults for what was skipped
            st.hf = BODY_FIELDS.index(ch)
            st.mode, st.field, st.tok, st.node = "F", ch, "", None
            return False
        if ch.isalpha() and ch not in NOTE_LETTERS:
            st.mode = "X"
            return False
        self._begin_body(st)  # music without (the rest of) a header
        self._feed(st, ch)
        return False

    def _begin_body(self, st: _Row) -> None:
        st.phase, st.mode, st.tok, st.node = "B", "T", "", None
        st.line_start, st.line_content, st.boundary, st.free = True, False, True, True
        st.pos, st.pickup, st.bars = Fraction(0), Fraction(0), 0

    def _field_char(self, st: _Row, ch: str) -> bool:
        """Reading `X:value\\n`, a header line or a body M:/L:/K: line."""
        if st.node is None:  # the colon
            if ch == ":":
                st.node = self.field_values[st.field]
                return True
            st.mode = "X" if st.phase == "H" else "T"
            st.field = ""
            return False if st.phase == "H" else self._top(st, ch) and False
        if ch == " " and st.tok == "" and st.node is self.field_values[st.field]:
            st.tok = " "
            return True
        meter = st.shape.meter if st.field == "M" and st.shape is not None else None
        if ch == "\n":
            value, text = st.node.value, st.tok
            self._apply_field(st, value)
            return value is not None and (meter is None or self._writes(text, meter, True))
        st.tok += ch
        child = st.node.children.get(ch)
        st.node = child if child is not None else _DEAD
        if child is not None and meter is not None:  # a shaped row's meter is its shape's
            return self._writes(st.tok, meter, False)
        return child is not None

    def _writes(self, text: str, meter: tuple[int, int], whole: bool) -> bool:
        """Is the M: field's `text` so far (or, `whole`, all of it) that meter (beats, beat
        unit: 2/4, not 4/8, for (2, 4))?"""
        node = self.meters.walk(text.lstrip())
        if node is None:
            return False
        return node.value == meter if whole else meter in node.values

    def _apply_field(self, st: _Row, value: Any) -> None:
        field = st.field
        if field == "M":
            st.bar, st.compound = value if value is not None else (None, False)
        elif field == "L" and value is not None:
            st.unit = value
        elif field == "K" and value is not None and (st.shape is None or not st.tonic):
            # (a shaped row's last degree counts from the first key, as the corpus's shapes
            # were read: `metrics.form.final_degree`; a body K: line does not move it)
            st.tonic = st.tok.strip()[:1].upper()
            if st.shape is not None and st.shape.final and st.tonic in _DEGREE_LETTERS:
                at = _DEGREE_LETTERS.index(st.tonic) + st.shape.final
                st.tonic = _DEGREE_LETTERS[at % 7]  # (the letter the shaped tune ends on)
        st.mode, st.tok, st.node, st.field = "T", "", None, ""
        if st.phase == "H":
            st.hf = BODY_FIELDS.index(field) + 1
            if field == "M":  # ABC's default unit, until an L: line says otherwise
                short = st.bar is not None and st.bar < Fraction(3, 4)
                st.unit = Fraction(1, 16) if short else Fraction(1, 8)
            if st.hf >= 3:
                self._begin_body(st)
            return
        # a body field line: the next bar starts a new section
        st.body_fields += field
        self._newline(st)
        st.boundary, st.free, st.lost = True, True, False
        st.pickup, st.pos = Fraction(0), Fraction(0)

    # top level ---------------------------------------------------------------------------
    def _top(self, st: _Row, ch: str) -> bool:
        """A character between tokens."""
        if self.markers and (st.mk_due or ch in MARKS):
            if ch in MARKS:  # (a plain bar line before a first ending: its [1 comes first)
                if not st.mk_due or st.need_ending:
                    return False
                st.mk_bar, st.mk_end = bar_number(st.mk_run, st.mk_bar, st.mk_end)
                st.mk_due, st.mk_run = False, ""
                return ch == mark(st.mk_bar)
            if ch not in "|:[":  # (the bar line goes on, or its marker comes)
                return self._top_token(st, ch) and False
        # abc2midi: a decoration is followed by its note ("~(A" is a malformed note)
        blocked = self.abc2midi and st.pre[-1:] == "d" and ch in '({"!+['
        # form=True: once the last part has closed, the line ends and then the tune
        blocked = blocked or (self.form and st.parts >= self._n_parts(st) and ch != "\n")
        # a shaped row's repeated part after a closed repeat opens with |: (abc2midi refuses
        # a second :| with no |: between, so without it the part could not close)
        blocked = blocked or (self.form and ch not in "|\n \\K" and self._needs_open(st))
        # after a first ending's :|, its second ending begins (|2 or [2): abc2midi wants it
        blocked = blocked or (self.abc2midi and st.expect_second and ch not in "|[ \n\\")
        # after the plain bar line before a part's last bar, that bar's first ending: [1
        blocked = blocked or (st.need_ending and ch != "[")
        if st.line_len > self._seen:
            self._seen = st.line_len  # (how far along the line a token mask looked)
        if st.line_len > MAX_LINE and ch != "\n":  # a long line ends when nothing is pending
            blocked = blocked or not (st.need_note or st.tuplet_left or st.broken or st.tie)
        if st.mk_due and ch == "[":  # (markers=True) only an ending goes on with a bar line
            node = self.bar_tokens.children.get("[")
            ends = [node.children.get(d) for d in "12"] if node is not None else []
            blocked = blocked or not any(
                self._bar_ok(st, v) for e in ends if e is not None for v in e.values
            )
        return self._top_token(st, ch) and not blocked

    def _top_token(self, st: _Row, ch: str) -> bool:
        after_note = st.after_note
        last_kind, last_written, last_pitch = st.last_kind, st.last_written, st.last_pitch
        last_tuplet, last_b, last_deco = st.last_tuplet, st.last_b, st.last_deco
        last_upper = st.last_upper
        if after_note and ch != ")":
            st.after_note, st.last_kind, st.last_written = False, "", Fraction(0)
            st.last_pitch, st.last_tuplet, st.last_b, st.last_deco = None, False, False, False
            st.last_upper = False
        space = st.space
        st.space = 0
        line_start, had_content = st.line_start, st.line_content
        if ch != "\n":
            st.line_start = False
            if ch != " ":
                st.line_content = True
        pending = st.need_note or st.tuplet_left > 0 or st.broken is not None
        tie_pitch = st.tie not in (None, "any")

        if ch in NOTE_LETTERS:
            return self._start_note(st, ch, "")
        if ch in ACCIDENTAL_CHARS:
            st.mode, st.tok = "A", ch
            final = self.form and self._final_bar(st)
            if final:  # (its note is no tonic: not the last)
                st.n_kind, st.n_acc, st.n_letter = "n", ch, ""
                if tie_pitch and st.tie[1].upper() == st.tonic:
                    return False  # (a tonic letter takes no accidental here: tie it bare)
            return self._room_for_note(st) and (not tie_pitch or st.tie[0].startswith(ch))
        if ch in "zx":  # (music21 drops x, the invisible rest, from the bar: not in strict)
            self._begin_length(st, "r")  # (a rest: form=True's last bar asks what ends it)
            ok = st.tie is None and "g" not in st.pre and self._room_for_note(st)
            return ok and (ch == "z" or not self.abc2midi)
        if ch == "[":  # a chord, [| or an ending [1: decided by the next character
            st.mode = "K"
            st.bar_line_start = False  # as `_bracket` reads a [| (not the last bar's value)
            probe = st
            if self.form and self._final_bar(st):  # (a chord cannot end the tune's last bar)
                probe = st.clone()
                probe.n_kind = "c"
            chord = st.broken is None and st.tie in (None, "any") and self._room_for_note(probe)
            node = self.bar_tokens.children.get("[")
            return chord or (node is not None and any(self._bar_ok(st, v) for v in node.values))
        if ch in "|:":
            st.mode, st.tok, st.node = "B", "", self.bar_tokens
            st.bar_line_start, st.bar_after_upper = line_start, after_note and last_upper
            return self._bar_char(st, ch)
        if ch == '"':  # (real tunes put annotations such as "fine" before bar lines)
            ok = "q" not in st.pre and (self._room_for_note(st) or not self.abc2midi)
            st.mode, st.tok = "Q", ""
            st.pre += "q"
            return ok
        if ch == "{":  # (music21 counts grace notes as tuplet notes: none inside a tuplet)
            ok = "g" not in st.pre and st.broken is None and st.tie is None
            ok = ok and not (self.abc2midi and st.tuplet_left)
            ok = ok and self._room_for_note(st)
            st.mode, st.tok, st.node, st.chord_notes = "G", "", None, 0
            st.pre += "g"
            return ok
        if ch in "!+":  # (music21 reads +trill+ and !…! with odd text as notes: not in strict)
            ok = "d" not in st.pre and st.broken is None and self._room_for_note(st)
            ok = ok and not self.abc2midi
            st.mode, st.tok, st.field = "D", "", ch
            st.pre += "d"
            return ok
        if ch in "ML" and line_start or ch == "K":
            st.mode, st.field, st.tok, st.node = "F", ch, "", None
            return line_start and self._body_field_ok(st)
        if ch in DECORATIONS:
            # abc2midi: . and H change a note's length for broken rhythm (".A>B" is refused)
            ok = not self.abc2midi or (
                ch in SAFE_DECORATIONS
                and st.pre.count("d") < 2
                and (st.broken is None or ch not in ".H")
                # abc2midi cannot tie into a roll, nor into a trill on an altered note
                # ("^G6-|TG6|": "Could not find note to be tied")
                and (st.tie is None or ch not in "~T")
                # nor play a roll after grace notes ("{A}~G": "Intervening note needed")
                and (ch != "~" or "g" not in st.pre)
            )
            ok = ok and self._room_for_note(st)
            st.pre += "d" if ch not in ".H" else "hd"
            st.need_note = True
            return ok
        if ch == "(":
            st.mode, st.tok = "P", ""
            slur = st.slurs < MAX_SLURS or not self.abc2midi
            return (
                not tie_pitch
                and self._room_for_note(st)
                and (slur or self._tuplet_room(st, 3, None, None))
            )
        if ch == ")":  # also between a> and b: the pair's total does not change
            waiting = st.need_note and (st.broken is None or st.pre)
            ok = (st.slurs > 0 and not waiting and not st.tuplet_left) or not self.abc2midi
            st.slurs = max(0, st.slurs - 1)
            return ok
        if ch == "-":
            if not self.abc2midi:  # O'Neill writes a-b, a>-b, a-<b: read - as a slur mark
                st.tie = "any" if after_note and last_kind != "r" else st.tie
                st.after_note, st.last_kind, st.last_written = after_note, last_kind, last_written
                st.last_tuplet, st.last_b, st.last_deco = last_tuplet, last_b, last_deco
                return (after_note and last_kind in ("n", "c")) or st.broken is not None
            # (abc2midi ties a chord only to the same chord: left out)
            ok = after_note and last_kind == "n" and st.tie is None and not pending
            ok = ok and not last_deco  # abc2midi: "Cannot find note before tie" after .B2-
            if ok and self.form and self._final_bar(st):
                ok = self._tied_fits(st, self._limit(st), st.pos)
            elif ok and self._checking(st) and st.pos == self._limit(st):
                # a note that ends its bar: a tie crosses only a plain bar line (abc2midi
                # loses one across a section mark), so one must be allowed here
                ok = self._bar_ok(st, ("plain", 0))
            if ok and self.form and self._final_bar(st, ahead=1) and st.pos == st.bar:
                # the same across the bar line into the tune's last bar (a tie there once
                # left the last bar no note it could begin with)
                ok = self._tied_fits(st, self._closing_limit(st), Fraction(0))
            st.tie = last_pitch if last_kind == "n" and last_pitch is not None else "any"
            return ok
        if ch in "<>":
            st.mode, st.tok = "R", ch
            kinds = ("n", "r") if self.abc2midi else ("n", "r", "c")
            ok = (
                after_note
                and last_kind in kinds
                and not last_tuplet
                and not last_b
                and st.tuplet_left == 0
                and (st.tie is None or not self.abc2midi)
            )
            st.last_written = last_written  # _end_broken needs the first note's length
            if self.abc2midi and last_deco:  # abc2midi refuses .A>B
                ok = False
            if ok and self._checking(st):  # with equal lengths the pair takes twice that
                w = last_written * st.unit
                ok = self._pair_ends_ok(
                    st, st.pos + (w if self.abc2midi else w / 2 + self._step(st.unit) / 2)
                )
            return ok
        if ch == " ":
            st.space = space + 1
            if not self.abc2midi:
                return not line_start
            # abc2midi: "u A" is a malformed note; a space may follow a chord symbol
            waiting = "d" in st.pre or "g" in st.pre
            return space < 2 and not line_start and st.broken is None and not waiting
        if ch == "\n":
            ok = st.line_content and not pending
            self._newline(st)
            return ok
        if ch == "\\":  # (a line of nothing but a continuation is no line)
            st.mode = "S"
            return had_content and not pending
        if ch == "Z":  # a multi-bar rest: refused, but counted as filling the bar
            if st.bar is not None:
                st.pos = st.bar
            return False
        return False  # anything else has no business in a generated body

    def _newline(self, st: _Row) -> None:
        st.line_start, st.line_content, st.cont, st.space = True, False, False, 0
        st.line_len = 0

    def _body_field_ok(self, st: _Row) -> bool:
        return (
            st.field not in st.body_fields
            and not (self.form and st.part_bars)
            and not st.expect_second  # (the second ending comes first)
            and not st.cont
            and st.boundary
            and st.pos == 0
            and st.bars > 0
            and not st.need_note
            and st.tie is None
            and st.tuplet_left == 0
            and st.broken is None
        )

    def _bracket(self, st: _Row, ch: str) -> bool:
        """After "[": a bar [| , an ending [1, or a chord."""
        if st.need_ending and ch != "1":
            return False  # (the first ending's bracket: see `_Row.need_ending`)
        st.mode = "T"
        if st.mk_due and ch not in "12":  # (markers=True: the marker came before a chord)
            return self._top(st, ch) and False
        if ch == "|" or ch in DIGITS:
            node = self.bar_tokens.children.get("[")
            st.bar_line_start = False
            st.mode, st.tok, st.node = "B", "[", node if node is not None else _DEAD
            return self._bar_char(st, ch)
        if ch in NOTE_LETTERS or ch in ACCIDENTAL_CHARS:
            if self.form:  # (a chord never ends the tune's last bar: its kind is known now)
                st.n_kind = "c"
            # abc2midi ties a note only to the same note, not into a chord
            ok = st.broken is None and self._room_for_note(st) and st.tie in (None, "any")
            st.mode, st.tok, st.node = "C", "", None
            st.chord_notes, st.chord_base = 0, Fraction(1)
            return self._chord(st, ch) and ok
        return self._top(st, ch) and False  # inline fields [K:…] and the like

    # notes -------------------------------------------------------------------------------
    def _start_note(self, st: _Row, letter: str, acc: str) -> bool:
        st.n_acc, st.n_letter, st.n_oct = acc, letter, ""
        st.mode, st.n_kind, st.tok, st.node = "N", "n", "", self.lengths
        if acc and self.form and letter.upper() == st.tonic and self._final_bar(st):
            return False  # the tune's last bar keeps its tonic as the key signature has it
        if st.tie not in (None, "any"):
            t_acc, t_letter, _ = st.tie
            if letter != t_letter or acc not in ("", t_acc):
                return False
        return self._room_for_note(st)

    def _begin_length(self, st: _Row, kind: str) -> None:
        st.mode, st.n_kind, st.tok, st.node = "N", kind, "", self.lengths
        if kind != "n":
            st.n_acc = st.n_letter = st.n_oct = ""

    def _accidental_char(self, st: _Row, ch: str) -> bool:
        """After ^ _ or =: a second ^ or _, then the letter."""
        if ch in "^_" and st.tok == ch:
            st.tok += ch
            return st.tie in (None, "any") or st.tie[0] == st.tok
        if ch in NOTE_LETTERS:
            acc = st.tok
            st.tok = ""
            return self._start_note(st, ch, acc)
        st.mode, st.tok = "T", ""
        return self._top(st, ch) and False

    def _length_char(self, st: _Row, ch: str) -> bool:
        """An octave mark or a character of the length suffix."""
        if ch in ",'":
            st.n_oct += ch
            if not self._octave_ok(st.n_letter, st.n_oct):
                return False
            return st.tie in (None, "any") or st.tie[2].startswith(st.n_oct)
        node = st.node.children.get(ch)
        if not st.tok and st.tie not in (None, "any") and st.n_oct != st.tie[2]:
            st.tok += ch
            return False  # a tied note's octave marks come before its length
        st.tok += ch
        if node is None:  # an odd length: read it, refuse it
            st.node = _DEAD
            return False
        st.node = node
        return self._fits(st, node, self._base(st))

    def _octave_ok(self, letter: str, marks: str) -> bool:
        """At most MAX_OCTAVE_MARKS marks; abc2midi refuses d, and B' (a comma after a
        lower-case letter and the like)."""
        if len(marks) > MAX_OCTAVE_MARKS:
            return False
        if not self.abc2midi:
            return True
        return set(marks) <= ({","} if letter.isupper() else {"'"})

    def _base(self, st: _Row) -> Fraction:
        return st.chord_base if st.n_kind == "c" else Fraction(1)

    def _finish_note(self, st: _Row) -> bool:
        """The note's length suffix has ended: count it into the bar."""
        value = st.node.value if st.node is not None else None
        ok = value is not None
        written = (value if value is not None else Fraction(1)) * self._base(st)
        fits = not self._checking(st) or self._fits_value(st, written)
        mult = Fraction(1)
        was_b = st.broken is not None
        if was_b:
            want, mult = st.broken
            ok = ok and (want is None or (written == want and st.n_kind != "c"))
            st.broken = None
        in_tuplet = st.tuplet_left > 0
        if in_tuplet:
            mult *= st.tuplet_mult
            st.tuplet_left -= 1
        tied_acc = st.tie[0] if isinstance(st.tie, tuple) else ""
        if st.tie is not None:
            if st.n_kind == "r":
                ok = False
            elif st.tie != "any" and st.n_kind == "n":
                t_acc, t_letter, t_oct = st.tie
                ok = ok and st.n_letter == t_letter and st.n_oct == t_oct
                ok = ok and st.n_acc in ("", t_acc)
            st.tie = None
        st.pos += written * st.unit * mult
        if not fits:
            st.lost = True
            ok = False
        if st.n_kind != "r":
            st.notes = min(st.notes + 1, self.min_notes)
            st.last_letter = ""
            if self.form and st.n_kind == "n":
                letter = st.n_letter.upper()
                if st.n_acc and letter == st.tonic:
                    st.tonic_altered = True  # (an accidental holds to the bar's end)
                altered = st.n_acc or tied_acc or (letter == st.tonic and st.tonic_altered)
                st.last_letter = "" if altered else letter  # (as the key signature has it)
        st.after_note, st.last_kind, st.last_written = True, st.n_kind, written
        st.last_pitch = (st.n_acc, st.n_letter, st.n_oct) if st.n_kind == "n" else None
        st.last_tuplet, st.last_b, st.last_deco = in_tuplet, was_b, "h" in st.pre
        st.last_upper = st.n_kind == "n" and st.n_letter.isupper() and not st.n_oct + st.tok
        st.need_note, st.pre, st.boundary, st.bar_lines = False, "", False, 0
        st.body_fields = ""
        st.mode, st.tok, st.node = "T", "", None
        st.n_kind = st.n_acc = st.n_letter = st.n_oct = ""
        st.chord_base, st.chord_notes = Fraction(1), 0
        return ok

    def _chord(self, st: _Row, ch: str) -> bool:
        """Inside [...]: notes (accidental, letter, octave marks, length) up to ']'. `tok`
        holds the inner note being read; `node` its place in the length trie."""
        note = st.tok[:1] in NOTE_LETTERS and st.tok != ""
        if ch == "]":
            complete = note and st.node is not None and st.node.value is not None
            ok = st.chord_notes > 0 and complete
            ok = self._close_chord_note(st) and ok
            self._begin_length(st, "c")
            return ok and self._fits(st, self.lengths, st.chord_base)
        if ch in ACCIDENTAL_CHARS:
            ok = not note or (st.node is not None and st.node.value is not None)
            ok = self._close_chord_note(st) and ok
            st.tok += ch
            ok = ok and st.chord_notes < MAX_CHORD_NOTES
            return ok and st.tok in ("^", "^^", "_", "__", "=")
        if ch in NOTE_LETTERS:
            ok = (
                st.tok[:1] in ACCIDENTAL_CHARS
                or not note
                or (st.node is not None and st.node.value is not None)
            )
            ok = self._close_chord_note(st) and ok
            ok = ok and st.chord_notes < MAX_CHORD_NOTES
            st.chord_notes += 1
            st.tok, st.node = ch, self.lengths
            return ok and (st.chord_notes > 1 or self._fits(st, self.lengths, Fraction(1)))
        if note and ch in ",'" and st.node is self.lengths:
            st.tok += ch
            return self._octave_ok(st.tok[0], st.tok.lstrip("ABCDEFGabcdefg"))
        if note and ch in LENGTH_CHARS and st.node is not None:
            st.tok += ch
            node = st.node.children.get(ch)
            st.node = node if node is not None else _DEAD
            if node is None:
                return False
            if st.chord_notes == 1:  # the first note's length is the chord's
                return self._fits(st, node, Fraction(1))
            return not self.abc2midi or st.chord_base in node.values
        # anything else: close the chord as it is and go on
        self._close_chord_note(st)
        self._begin_length(st, "c")
        self._finish_note(st)
        return self._top(st, ch) and False

    def _close_chord_note(self, st: _Row) -> bool:
        """End the inner note being read; False when it is not as long as the first (abc2midi
        then sustains notes past the chord)."""
        ok = True
        if st.tok[:1] in NOTE_LETTERS and st.tok:
            value = st.node.value if st.node is not None else None
            if st.chord_notes == 1 and value is not None:
                st.chord_base = value
            elif self.abc2midi and value != st.chord_base:
                ok = False
            st.tok, st.node = "", None
        return ok

    def _grace(self, st: _Row, ch: str) -> bool:
        """Inside {...}: up to MAX_GRACE notes (accidental, letter, octave marks, length; no
        duration in the bar). `tok` holds the accidental being read or the note's letter and
        marks, `node` the note's place in the length trie, `chord_notes` the count."""
        note = st.tok[:1] in NOTE_LETTERS and st.tok != ""
        complete = note and st.node is not None and st.node.value is not None
        if ch == "}":
            ok = complete
            st.mode, st.tok, st.node, st.chord_notes = "T", "", None, 0
            st.need_note = True
            return ok
        if ch in ACCIDENTAL_CHARS:
            ok = (complete or not note) and st.chord_notes < MAX_GRACE
            st.tok = ch if note else st.tok + ch
            return ok and st.tok in ("^", "^^", "_", "__", "=")
        if ch in NOTE_LETTERS:
            ok = (complete or not note) and st.chord_notes < MAX_GRACE
            st.chord_notes += 1
            st.tok, st.node = ch, self.lengths
            return ok
        if note and ch in ",'" and st.node is self.lengths:
            st.tok += ch
            return self._octave_ok(st.tok[0], st.tok.lstrip("ABCDEFGabcdefg"))
        if note and ch in LENGTH_CHARS and st.node is not None:
            st.node = st.node.children.get(ch) or _DEAD
            return st.node is not _DEAD
        st.mode, st.tok, st.node, st.chord_notes = "T", "", None, 0
        return self._top(st, ch) and False

    def _decoration(self, st: _Row, ch: str) -> bool:
        if ch == st.field:  # the closing ! or +
            ok = bool(st.tok)
            st.mode, st.tok, st.field = "T", "", ""
            st.need_note = True
            return ok
        if ch.isalnum() or ch in ".()<>":
            st.tok += ch
            if self.abc2midi and not (ch.isalpha() or ch == "." and st.tok[:1].isalpha()):
                return False  # music21 chokes on !(3c! and the like
            return len(st.tok) <= MAX_DECORATION
        st.mode, st.tok, st.field = "T", "", ""
        return self._top(st, ch) and False

    def _quote(self, st: _Row, ch: str) -> bool:
        """Inside a chord symbol or annotation."""
        text = st.tok
        if ch == '"':
            st.mode, st.tok = "T", ""
            st.need_note = self.abc2midi or st.need_note
            if not self.abc2midi or text[:1] in ANNOTATION_MARKS:
                return bool(text)
            node = self.chord_symbols.walk(text)
            return node is not None and node.value is not None
        if ch == "\n":
            st.mode, st.tok = "T", ""
            self._newline(st)
            return False
        st.tok += ch
        if len(st.tok) > MAX_QUOTE:
            return False
        if not self.abc2midi:
            return True
        if text[:1] in ANNOTATION_MARKS:
            return ch in ANNOTATION_CHARS
        if not text and ch in ANNOTATION_MARKS:
            return True
        return self.chord_symbols.walk(st.tok) is not None

    def _end_paren(self, st: _Row) -> bool:
        """'(' and its spec have ended: a tuplet (p, (p:q, (p:q:r, or a slur."""
        spec = st.tok
        st.mode, st.tok = "T", ""
        if not spec:  # a slur
            ok = (st.slurs < MAX_SLURS or not self.abc2midi) and self._room_for_note(st)
            st.slurs = min(st.slurs + 1, MAX_SLURS + 1)
            st.need_note = True
            return ok
        parts = spec.split(":")
        p = int(parts[0])
        q = int(parts[1]) if len(parts) > 1 and parts[1] else None
        r = int(parts[2]) if len(parts) > 2 and parts[2] else p
        ok = not spec.endswith(":") and self._tuplet_room(st, p, q, r)
        st.tuplet_mult = _tuplet(p, q, st.compound)
        st.tuplet_left = r
        st.need_note = True
        return ok

    def _spec_can_end(self, st: _Row) -> bool:
        """Can the tuplet spec read so far (`st.tok`, `(` left out) end, now or after the
        characters that may still continue it, in a tuplet that fits the bar? Without
        this, a spec such as (2:9: took a digit after which no tuplet fitted, and the
        piece had no character left to write."""
        if self._end_paren(st.clone()):
            return True
        for ch in self._continuing(st):
            longer = st.clone()
            longer.tok += ch
            if self._spec_can_end(longer):
                return True
        return False

    def _tuplet_room(self, st: _Row, p: int, q: int | None, r: int | None) -> bool:
        """May a tuplet start here: none running, no broken pair waiting, and its r notes
        fit in the bar at the shortest length."""
        if st.tuplet_left > 0 or st.broken is not None:
            return False
        if self.form and self._final_bar(st):
            return False  # (no tuplet in the tune's last bar: its long last note is simpler)
        if not self._checking(st):
            return True
        mult, st.tuplet_mult = st.tuplet_mult, _tuplet(p, q, st.compound)
        ok = self._completable(st, st.pos, r or p)
        st.tuplet_mult = mult
        return ok

    def _end_broken(self, st: _Row) -> bool:
        """'>' ('>>', '<', '<<') has ended: stretch the first note, set up the second."""
        factor_a = {">": Fraction(3, 2), ">>": Fraction(7, 4),
                    "<": Fraction(1, 2), "<<": Fraction(1, 4)}[st.tok]  # fmt: skip
        st.mode, st.tok = "T", ""
        w = st.last_written
        st.pos += w * st.unit * (factor_a - 1)
        st.broken = (w if self.abc2midi else None, 2 - factor_a)
        st.need_note = True
        ok = True
        if self._checking(st):
            end = st.pos + (w * st.unit if self.abc2midi else self._step(st.unit)) * (2 - factor_a)
            ok = self._pair_ends_ok(st, end)
            if not ok:
                st.lost = True
        return ok

    def _pair_ends_ok(self, st: _Row, end: Fraction) -> bool:
        """May a broken pair (`a>b`) end at bar position `end`: within the bar, with a rest
        of it the allowed notes can fill, and in the tune's last bar with room left for its
        last note? Asked at `>` and again when the pair's second note is due, so the two
        agree (at `>` the last bar's room was once left out: `>>` was allowed where no note
        could follow it, a dead end that left a model writing unchecked)."""
        limit = self._limit(st)
        ok = end <= limit and (not self.abc2midi or self._fillable(st, limit - end))
        if ok and self.form and self._final_bar(st):
            ok = self._final_room_ok(st, limit - end)
        return ok

    # bars --------------------------------------------------------------------------------
    def _bar_char(self, st: _Row, ch: str) -> bool:
        node = st.node.children.get(ch) if st.node is not None else None
        st.tok += ch
        if node is None:  # an unknown bar token such as |||: read on, refuse it
            st.node = _DEAD
            return False
        st.node = node
        if st.tok == "::" and st.bar_after_upper and self.abc2midi:
            return False  # music21 reads "F::e…" as a field F: running to the line's end
        return any(self._bar_ok(st, v) for v in node.values)

    def _bar_ok(self, st: _Row, info: tuple[str | None, int]) -> bool:
        kind, ending = info
        if st.need_note or st.tuplet_left > 0 or st.broken is not None:
            return False
        if st.pos == 0 and st.boundary and st.bar_lines >= MAX_BAR_LINES:
            return False
        if kind is None:  # [1 or [2 alone: only where a bar has just ended
            if not (st.boundary and st.pos == 0) or st.tie is not None:
                return False
        elif st.pos == 0:  # no note since the last bar line: |: at the start, :| |:, |\n|
            if not st.boundary:
                return False
            if kind != "open" and (not st.bars or self.abc2midi and not st.bar_line_start):
                return False
        elif self._checking(st) and st.pos != st.bar and not st.free:
            if kind == "plain" and not ending:
                return False
            if self.short_final == "pickup" and st.pos + st.pickup != st.bar:
                return False
        if self.form and not self._form_bar_ok(st, kind, ending):
            return False
        if not self.abc2midi:
            return True
        if kind == "open" and (st.open_repeat or st.ending == 1):
            return False
        if st.tie is not None and (kind != "plain" or ending):
            return False  # abc2midi: a tie across a section mark or into an ending is lost
        if kind == "open" and st.closed and st.tok not in ("|", "|:"):
            return False  # abc2midi reads ||: (or [|:) after a :| as no repeat's start
        if kind == "both" and not st.open_repeat:  # abc2midi: "found :: before |:"
            return False
        if kind == "close" and st.closed and not st.open_repeat:
            return False  # a second :| with no |: between (abc2midi loses its endings)
        if st.ending == 1 and kind in ("section", "open"):
            return False  # a first ending is closed by :| (abc2midi wants its repeat)
        if ending == 1 and (st.ending == 1 or st.expect_second or st.closed and kind != "open"):
            return False  # abc2midi: "found [1 … before |:"
        if st.expect_second and ending != 2:
            return False  # the second ending, and nothing else, follows the first's :|
        if ending == 2:
            closes = kind in ("close", "both")
            if not (st.expect_second or (closes and st.ending == 1)):
                return False
        return True

    def _bar_counts(self, st: _Row) -> int:
        """Does the bar a bar line closes here count in the part (form=True)? A full bar
        does, and so does a short closing bar (with the part's pickup it makes one bar); a
        part's short first bar, its pickup, does not."""
        if st.pos == 0:
            return 0
        pickup = st.part_bars == 0 and st.free and not st.ending_bar
        return 0 if pickup and self._checking(st) and st.pos < st.bar else 1

    def _form_bar_ok(self, st: _Row, kind: str | None, ending: int) -> bool:
        """Parts of 8 or 16 bars: a plain bar line (| |1 |2) only while the part has room
        for another bar, any other (|| |] |: :| :: :|2) only where a part of 8 or 16 bars
        ends (or where none has begun: an opening |:, a second bar line). A part's closing
        bar is whole: with its pickup it makes one bar (no more). The bar line that closes
        the last part (`max_parts`) for good ends the tune: it follows the tonic, and it
        leaves no repeat open (|] or :|)."""
        if kind is None:  # [1 or [2 right after a bar line
            return ending != 1 or self._repeated(st, st.parts) is not False
        counted = self._bar_counts(st)
        bars = st.part_bars + counted
        if kind == "plain":
            if st.pos == 0 and self._needs_open(st):
                return False  # (only |: begins a repeated part after a :|, see _needs_open)
            if ending == 2 and self._before_first_ending(st, bars):
                return False  # a part with endings: its last bar is a first ending (|1 or |[1)
            # (a bar before |1 or |2 is a middle bar of its part: full)
            short = counted and self._checking(st) and st.pos != st.bar and not st.free
            ok = bars < self._part_max(st) and not (ending and short)
            return ok and (ending != 1 or self._repeated(st, st.parts) is not False)
        if not (self._part_length_ok(st, bars) or (bars == 0 and st.pos == 0)):
            return False
        if st.shape is not None and not self._shape_repeats_ok(st, kind, ending, bars):
            return False
        # a full closing bar after a pickup is a bar and a bit (and where the shape's tune
        # closed on a whole bar, the short bar that makes one with the pickup is refused)
        if st.pos > 0 and self._checking(st) and st.pos != self._closing_limit(st):
            return False
        if st.pos == 0 and bars and self._checking(st) and self._closing_limit(st) != st.bar:
            return False  # the same, closed by "|" and then "||" with no note between
        first_ending_closes = st.ending == 1 and kind in ("close", "both")
        last = bars and st.parts == self._n_parts(st) - 1 and not st.expect_second
        if last and not ending and not first_ending_closes:
            left_open = kind in ("open", "both") or (kind == "section" and st.open_repeat)
            tonic = st.tonic != "" and st.last_letter == st.tonic
            return tonic and not left_open and st.tie is None  # (nothing tied past the end)
        return True

    def _before_first_ending(self, st: _Row, bars: int) -> bool:
        """Does a plain bar line closing the part's `bars`-th bar begin the last bar of a part
        with endings (so its first ending: |1, or | then [1)?"""
        last = bars == self._part_max(st) - 1 and st.ending == 0 and not st.expect_second
        return last and self._endings(st, st.parts)

    def _needs_open(self, st: _Row) -> bool:
        """A shaped row at the start of a repeated part, after a :| that no |: has
        reopened: only |: may begin the part."""
        return (
            st.shape is not None
            and st.part_bars == 0
            and st.pos == 0
            and st.closed
            and not st.open_repeat
            and not st.expect_second  # (a first ending's :| leaves the part open)
            and self._repeated(st, st.parts) is True
        )

    def _shape_repeats_ok(self, st: _Row, kind: str, ending: int, bars: int) -> bool:
        """A shaped row's repeat signs: a repeated part closes with a repeat sign (or in
        its second ending), a part played once with none, and a repeat opens only a part
        that repeats."""
        part = st.parts
        if not bars:  # at a part's start: |: (or ::) opens this part
            if self._repeated(st, part) is False:
                return kind not in ("open", "both", "close")
            return kind == "open" or not self._needs_open(st)
        if ending:  # (:|2 and the like: a first ending's close, inside the part)
            return self._repeated(st, part) is not False
        if st.ending == 1 and kind in ("close", "both"):
            return True  # (the first ending's :| leaves the part open)
        closes_repeat = kind in ("close", "both") or st.ending == 2
        repeated = self._repeated(st, part)
        if repeated is not None and closes_repeat != repeated:
            return False
        if repeated is False and st.open_repeat:
            return False
        return not (kind in ("open", "both") and self._repeated(st, part + 1) is False)

    def _end_bar(self, st: _Row) -> bool:
        if self.markers:
            st.mk_due, st.mk_run = True, st.mk_run + st.tok
        info = st.node.value if st.node is not None else None
        ok = info is not None and self._bar_ok(st, info)
        kind, ending = info if info is not None else ("section", 0)
        empty = st.pos == 0 and st.boundary  # no note since the last bar line
        st.bar_lines = min(st.bar_lines + 1, MAX_BAR_LINES) if empty else 1
        st.mode, st.tok, st.node = "T", "", None
        bars = 0
        # (a first ending's :| or :: leaves its part open: the second ending closes it)
        closes_part = kind not in (None, "plain") and not ending
        closes_part = closes_part and not (st.ending == 1 and kind in ("close", "both"))
        closes_part = closes_part and not st.expect_second  # (nor bars after it, unclosed)
        if self.form:
            bars = st.part_bars + self._bar_counts(st)
            st.need_ending = kind == "plain" and not ending and self._before_first_ending(st, bars)
            if kind is not None:  # a plain bar line goes on with the part, others close it
                st.part_bars = bars if kind == "plain" else 0
            if ending == 1:
                st.ending_from = st.part_bars
            elif ending == 2:  # the second ending takes the first's place in the part
                st.part_bars = st.ending_from
        if kind is not None:
            if st.pos > 0:
                if (
                    self.short_final == "pickup"
                    and st.free
                    and not st.ending_bar
                    and self._checking(st)
                ):
                    st.pickup = st.pos if st.pos < st.bar else Fraction(0)
                st.bars = 1
            if kind in ("close", "both"):
                st.open_repeat, st.closed = False, True
                st.expect_second = st.ending == 1
                st.ending = 0
            elif kind == "section" and st.ending:
                st.ending, st.expect_second = 0, False
            if kind in ("open", "both"):
                st.open_repeat, st.ending, st.expect_second, st.closed = True, 0, False, False
            if st.pos > 0 or not st.bars:  # a second bar line (|\n|, :| |:) starts no bar
                st.free = kind != "plain"
            st.pos, st.lost = Fraction(0), False
        if ending:
            st.ending, st.expect_second, st.free = ending, False, True
        st.ending_bar = ending > 0
        st.boundary = True
        st.tonic_altered = False
        if self.form and closes_part and bars:
            st.parts = min(st.parts + 1, self._n_parts(st))
        return ok


# --- token vocabularies ---------------------------------------------------------------------------
class _TokenTrie:
    """The vocabulary's token texts as a trie: a node's `ids` are the tokens ending there."""

    __slots__ = ("children", "ids", "search", "size")

    def __init__(self) -> None:
        self.children: dict[str, _TokenTrie] = {}
        self.ids: list[int] = []
        # The children in the order a search for any allowed token tries them (see
        # `order`), and the number of tokens at and below this node.
        self.search: list[tuple[str, _TokenTrie]] = []
        self.size = 0

    def order(self) -> int:
        """Fill `search` and `size` below this node; returns `size`. A search for one token
        that is allowed (`AbcTokenGrammar._any`) finds one sooner when it tries the children
        that end a token and hold few tokens below them first: short tokens (a note, a bar,
        a space) are allowed almost everywhere, while going down a long subtree (the dozens
        of quoted annotations behind a `"`) parses many characters before the next try.
        Whether some token is allowed does not depend on the order."""
        sizes = {ch: child.order() for ch, child in self.children.items()}
        self.search = sorted(
            self.children.items(), key=lambda item: (not item[1].ids, sizes[item[0]])
        )
        self.size = len(self.ids) + sum(sizes.values())
        return self.size


_TOKEN_SHARED: dict[tuple, tuple[dict, dict]] = {}
VIABLE_DEPTH = 3  # tokens looked ahead before a token is allowed
_DURATION = re.compile(r"\d+/*\d*|/+\d*")  # abc_tokens' duration tokens


class AbcTokenGrammar(_Compiled):
    """Grammar-aware sampling over a token vocabulary (`abc_tokens`), by the character
    grammar: a token is allowed iff each of its characters, fed in turn into a copy of the
    row's parser state, is allowed there (so the text a token run writes is text the
    character grammar would have let through, character by character, whatever the token
    boundaries: a duration token after a chord symbol is refused because its first
    character is), and the state it leaves is not a dead end (some token, or END, is
    allowed after it). END is allowed exactly where the character grammar allows it.

    Masks are cached by parser state (the character grammar's `_Row.key`), shared by every
    grammar over the same vocabulary and options, as the character masks are; the line's
    length is in the key only where the 150-character rule decided something (`_cached`). A mask is
    built by walking a trie of the vocabulary's tokens, so tokens sharing a prefix share
    its parsing, and a refused character prunes every token that continues it."""

    def __init__(
        self,
        vocab: list[str],
        *,
        min_notes: int = 8,
        abc2midi: bool = True,
        short_final: str = "any",
        usual_lengths: bool = False,
        form: bool = False,
    ) -> None:
        self.vocab = list(vocab)
        self.size = len(vocab)
        specials = (PAD, START, END)
        alphabet = sorted({ch for tok in self.vocab if tok not in specials for ch in tok})
        # The parser, over the characters the tokens are made of (its length, chord and bar
        # tries are built from them, as for a character vocabulary).
        # Its note lengths are the duration tokens' (so that a bar it lets begin can be
        # filled with them).
        durations = [tok for tok in self.vocab if _DURATION.fullmatch(tok)]
        self.chars = AbcGrammar(
            [PAD, START, END, *alphabet],
            min_notes=min_notes,
            abc2midi=abc2midi,
            short_final=short_final,
            lengths=durations,
            usual_lengths=usual_lengths,
            form=form,
        )
        self.end_id = self.vocab.index(END) if END in self.vocab else -1
        self.index = {tok: i for i, tok in enumerate(self.vocab)}
        self._form = bool(form)
        self._parser = self.chars
        # A token's mask feeds the token's characters and looks VIABLE_DEPTH tokens ahead:
        # the line's length decides it only within that many characters of the limit.
        longest = max((len(t) for t in self.vocab if t not in specials), default=1)
        self._line_reach = (1 + VIABLE_DEPTH) * longest
        self.trie = _TokenTrie()
        for i, tok in enumerate(self.vocab):
            if tok in specials or not tok:
                continue
            node = self.trie
            for ch in tok:
                node = node.children.setdefault(ch, _TokenTrie())
            node.ids.append(i)
        self.trie.order()
        self._root_search = list(self.trie.search)
        self._wins: dict[str, int] = {}
        self._finds = 0
        self._quotes: dict[tuple, list[tuple]] = {}  # `_quote_table`'s, by (node, text)
        shared = (
            tuple(self.vocab), int(min_notes), bool(abc2midi), short_final, bool(usual_lengths),
            bool(form),
        )  # fmt: skip
        self._shared_key = shared
        if shared not in _TOKEN_SHARED:
            _TOKEN_SHARED[shared] = ({}, {})
        self._cache, self._viable_cache = _TOKEN_SHARED[shared]
        self._rows: dict[int, tuple[list[int], int, _Row]] = {}
        self.stats = {"steps": 0, "masks_built": 0, "fallbacks": 0}

    # --- helpers for tests and tools -------------------------------------------------------
    def state_after(self, tokens: list[str]) -> _Row:
        st = _Row()
        for tok in tokens:
            for ch in tok:
                self.chars._feed(st, ch)
        return st

    def allowed_after(self, tokens: list[str]) -> set[str]:
        """The tokens (and END as '</s>') allowed after START + tokens."""
        mask = self._mask(self.state_after(tokens))
        if mask is None:
            return set(self.vocab)
        return {self.vocab[i] for i in np.flatnonzero(mask)}

    def violations(self, tokens: list[str], *, end: bool = True) -> list[int]:
        """Positions in `tokens` the grammar would not have allowed there (len(tokens) for
        END after them, when `end`)."""
        st, bad = _Row(), []
        for k, tok in enumerate(tokens):
            mask = self._mask(st)
            if mask is not None and (tok not in self.index or not mask[self.index[tok]]):
                bad.append(k)
            for ch in tok:
                self.chars._feed(st, ch)
        if end and self.end_id >= 0:
            mask = self._mask(st)
            if mask is not None and not mask[self.end_id]:
                bad.append(len(tokens))
        return bad

    # --- masks -----------------------------------------------------------------------------
    def _mask(self, st: _Row) -> np.ndarray | None:
        if st.phase == "E":
            return None
        hit = self._cached(self._cache, st)
        if hit is not None:
            return hit[0]
        self.stats["masks_built"] += 1
        outer = self._measure(st)
        mask = np.zeros(self.size, dtype=bool)
        self._walk(st, self.trie, mask)
        if self.end_id >= 0 and self.chars._can_end(st):
            mask[self.end_id] = True
        if not mask.any():
            self.stats["fallbacks"] += 1
            self._walk(st, self.trie, mask, ahead=False)
            if not mask.any():
                mask = _end_only(self.size, self.end_id)
        self._store(self._cache, st, (mask,), outer)
        return mask

    # Masks and look-aheads are cached by the state's key with the line's length left out
    # ("far"), together with how far along the line the computation went (the longest line
    # `_top` saw, less the state's): reused for a state whose line plus that reach stays
    # within MAX_LINE (then the 150-character rule refuses nothing on any path the
    # computation took, as for the state it was computed from), else cached by the exact
    # length. (A line past MAX_LINE is one key: every such line is judged alike.)
    def _cached(self, cache: dict, st: _Row) -> tuple | None:
        far = st.key(0)
        hit = cache.get(far)
        if hit is not None and (st.line_len > MAX_LINE or st.line_len + hit[-1] <= MAX_LINE):
            self.chars._seen = max(self.chars._seen, st.line_len + hit[-1])
            return hit
        hit = cache.get(st.key(MAX_LINE + 1))
        if hit is not None:
            self.chars._seen = max(self.chars._seen, st.line_len + hit[-1])
        return hit

    def _measure(self, st: _Row) -> int:
        """Start measuring a computation's reach from `st`; returns what to pass `_store`."""
        outer = self.chars._seen
        self.chars._seen = st.line_len
        return outer

    def _store(self, cache: dict, st: _Row, value: tuple, outer: int) -> None:
        reach = self.chars._seen - st.line_len
        self.chars._seen = max(outer, self.chars._seen)
        if len(cache) > MAX_CACHED:
            cache.clear()
        far = st.line_len > MAX_LINE or st.line_len + reach <= MAX_LINE
        cache[st.key(0) if far else st.key(MAX_LINE + 1)] = (*value, reach)

    def _walk(self, st: _Row, node: _TokenTrie, mask: np.ndarray, *, ahead: bool = True) -> None:
        """Mark the tokens below `node` whose characters the parser accepts from `st` and
        (with `ahead`) that leave a state with a way on."""
        for ch, child in node.children.items():
            after = st.clone()
            if not self.chars._feed(after, ch):
                continue  # refused here: so is every token that continues with ch
            if ahead and after.mode == "Q" and after.phase == "B":
                self._walk_quote(after, child, mask)
                continue
            if child.ids and (not ahead or self._viable(after)):
                mask[child.ids] = True
            if child.children:
                self._walk(after, child, mask, ahead=ahead)

    def _walk_quote(self, st: _Row, node: _TokenTrie, mask: np.ndarray) -> None:
        """`_walk` below `node` from `st`, inside a chord symbol or annotation (a Nottingham
        token vocabulary has some 200 chord symbols, more than half its tokens). There the
        parser reads the text alone (`AbcGrammar._quote`), so which tokens it accepts is
        looked up by the text so far (`_quote_table`), and the tokens that leave the same
        state (the quote closed, or the same text open, after as many characters) are
        judged once, on that state reached by the parser itself."""
        judged: dict[tuple, bool] = {}
        for ids, rest, closed, text, more in self._quote_table(node, st.tok):
            group = (closed, len(rest), text)
            ok = judged.get(group)
            if ok is None or more is not None:
                after = st.clone()
                for ch in rest:
                    self.chars._feed(after, ch)
                if more is not None:  # past the closing mark the context decides again
                    self._walk(after, more, mask)
                if ids and ok is None:
                    ok = judged[group] = self._viable(after)
            if ok and ids:
                mask[ids] = True

    def _quote_table(self, node: _TokenTrie, text: str) -> list[tuple]:
        """The tokens below `node` whose characters the parser accepts inside a quote whose
        text so far is `text`, up to its closing mark: (their ids, the characters after
        `node`, whether they close it, the quote's text at their end, and the node below
        which tokens go on past the closing mark, else None). The parser reads a quote by
        its text alone, so the table is the same in every context."""
        key = (id(node), text)
        table = self._quotes.get(key)
        if table is not None:
            return table
        table = []
        row = _Row()
        row.phase = "B"

        def down(at: _TokenTrie, rest: str, tok: str) -> None:
            if at.ids:
                table.append((at.ids, rest, False, tok, None))
            for ch, child in at.children.items():
                row.mode, row.tok = "Q", tok
                if not self.chars._quote(row, ch):
                    continue
                if row.mode == "Q":
                    down(child, rest + ch, row.tok)
                elif child.ids or child.children:
                    table.append(
                        (child.ids, rest + ch, True, "", child if child.children else None)
                    )

        down(node, "", text)
        if len(self._quotes) > MAX_CACHED:
            self._quotes.clear()
        self._quotes[key] = table
        return table

    def _viable(self, st: _Row, depth: int = VIABLE_DEPTH) -> bool:
        """Can the text go on from `st` for `depth` more tokens (or end before)? The
        character grammar refuses most dead ends itself, but it judges some constructs only
        once they end (a tuplet spec `(9:8:` gets its last digit before its room is
        checked), and a token vocabulary may lack the characters that would save a state:
        looking a few tokens ahead catches those."""
        hit = self._cached(self._viable_cache, st)
        if hit is not None:
            known, ok, _ = hit  # ok for `known` tokens: so for fewer; not ok: not for more
            if (ok and known >= depth) or (not ok and known <= depth):
                return ok
        outer = self._measure(st)
        ok = bool(self.end_id >= 0 and self.chars._can_end(st)) or self._any(st, self.trie, depth)
        self._store(self._viable_cache, st, (depth, ok), outer)
        return ok

    def _any(self, st: _Row, node: _TokenTrie, depth: int) -> bool:
        root = node is self.trie
        for ch, child in self._root_search if root else node.search:
            after = st.clone()
            if not self.chars._feed(after, ch):
                continue
            if (child.ids and (depth <= 1 or self._viable(after, depth - 1))) or (
                child.children and self._any(after, child, depth)
            ):
                if root:
                    self._found(ch)
                return True
        return False

    def _found(self, ch: str) -> None:
        """Count the first character of a token `_any` found allowed; every 64 finds, the
        search tries the characters that found most first (the tokens a tune's text allows
        at most places: notes, spaces, bars), then the static order (`_TokenTrie.order`).
        Only the order of the tries changes, not what is found."""
        self._wins[ch] = self._wins.get(ch, 0) + 1
        self._finds += 1
        if self._finds % 64 == 0:
            rank = {ch: k for k, (ch, _) in enumerate(self.trie.search)}
            self._root_search = sorted(
                self.trie.search, key=lambda item: (-self._wins.get(item[0], 0), rank[item[0]])
            )


# --- the compiled rules' arrays (`ml.abc_machine`) -----------------------------------------------
_BAR_KIND_CODES = {None: 0, "plain": 1, "section": 2, "open": 3, "close": 4, "both": 5}


def _machine_of(grammar: AbcGrammar) -> Machine:

    grid = am.GRID
    nodes: list[_Trie] = []
    ids: dict[int, int] = {}
    value_ids: dict[tuple, int] = {}
    va: list[int] = []
    vb: list[int] = []

    def value_id(trie: str, value: Any) -> int:
        key = (trie, value)
        found = value_ids.get(key)
        if found is None:
            if trie == "lengths":
                a, b = int(value * grid), 0
            elif trie == "bars":
                a, b = _BAR_KIND_CODES[value[0]], int(value[1])
            elif trie == "M":
                a, b = int(value[0] * grid), int(bool(value[1]))
            elif trie == "meters":
                a, b = int(value[0]), int(value[1])
            elif trie == "L":
                a, b = int(value.denominator), 0
            else:  # K, chords: a text they know
                a, b = 1, 0
            if trie in ("lengths", "M") and (value if trie == "lengths" else value[0]) * grid != a:
                raise ValueError(f"{value!r} is not on the compiled rules' grid")
            found = value_ids[key] = len(va)
            va.append(a)
            vb.append(b)
        return found

    def add(root: _Trie) -> int:
        start = len(nodes)
        queue = [root]
        ids[id(root)] = start
        nodes.append(root)
        while queue:
            node = queue.pop(0)
            for ch in sorted(node.children):
                child = node.children[ch]
                ids[id(child)] = len(nodes)
                nodes.append(child)
                queue.append(child)
        return start

    roots = {}
    kinds = {}
    for name, trie in (("lengths", grammar.lengths), ("bars", grammar.bar_tokens),
                       ("M", grammar.field_values["M"]), ("meters", grammar.meters),
                       ("L", grammar.field_values["L"]), ("K", grammar.field_values["K"]),
                       ("chords", grammar.chord_symbols)):  # fmt: skip
        first = len(nodes)
        roots[name] = add(trie)
        for k in range(first, len(nodes)):
            kinds[k] = name
    n = len(nodes)
    e_off = np.zeros(n + 1, dtype=np.int64)
    e_char: list[int] = []
    e_child: list[int] = []
    t_value = np.full(n, -1, dtype=np.int64)
    t_voff = np.zeros(n + 1, dtype=np.int64)
    t_vals: list[int] = []
    for k, node in enumerate(nodes):
        for ch in sorted(node.children):
            e_char.append(ord(ch))
            e_child.append(ids[id(node.children[ch])])
        e_off[k + 1] = len(e_char)
        if node.value is not None:
            t_value[k] = value_id(kinds[k], node.value)
        t_vals.extend(value_id(kinds[k], v) for v in node.values)
        t_voff[k + 1] = len(t_vals)
    tries = (e_off, np.array(e_char, dtype=np.int64), np.array(e_child, dtype=np.int64),
             t_value, t_voff, np.array(t_vals, dtype=np.int64),
             np.array(va, dtype=np.int64), np.array(vb, dtype=np.int64))  # fmt: skip
    # the lengths each unit allows (whole notes), their step, the sums of up to 9 of them
    cap = 1024
    u_step = np.ones(6, dtype=np.int64)
    u_w = np.zeros((6, 64), dtype=np.int64)
    u_wn = np.zeros(6, dtype=np.int64)
    u_sums = np.zeros((6, 10, cap + 1), dtype=np.bool_)
    for k in range(1, 6):
        unit = Fraction(1, 2**k)
        step, values, _ = grammar._written(unit)
        u_step[k] = int(step * grid)
        u_wn[k] = len(values)
        u_w[k, : len(values)] = [int(v * grid) for v in values]
        for notes in range(10):
            for total in grammar._sums(notes, unit):
                u_sums[k, notes, total] = True
    # per unit, the lengths below each node of the lengths trie that are usual at it (a
    # note's own length, times 1: `abc_machine._fits`'s short list)
    first = roots["lengths"]
    count = sum(1 for name in kinds.values() if name == "lengths")
    fv_lists = [[[] for _ in range(count)] for _ in range(6)]
    for k in range(1, 6):
        usual = {int(v) for v in u_w[k, : u_wn[k]]}
        for i in range(count):
            node = first + i
            for j in range(t_voff[node], t_voff[node + 1]):
                v = int(tries[5][j])
                in_units = int(tries[6][v])  # (grid units of L; a unit of 1/2**k)
                if in_units % 2**k == 0 and in_units // 2**k in usual:
                    fv_lists[k][i].append(v)
    width = max(1, max(sum(len(x) for x in lists) for lists in fv_lists))
    fv_off = np.zeros((6, count + 1), dtype=np.int64)
    fv_vals = np.zeros((6, width), dtype=np.int64)
    for k in range(6):
        at = 0
        for i in range(count):
            fv_vals[k, at : at + len(fv_lists[k][i])] = fv_lists[k][i]
            at += len(fv_lists[k][i])
            fv_off[k, i + 1] = at
    params = np.zeros(am.P_SIZE, dtype=np.int64)
    params[am.P_ABC2MIDI] = grammar.abc2midi
    params[am.P_FORM] = grammar.form
    params[am.P_MIN_NOTES] = grammar.min_notes
    params[am.P_USUAL] = grammar.usual_lengths
    params[am.P_PICKUP_FINAL] = grammar.short_final == "pickup"
    params[am.P_MAX_PARTS] = grammar.max_parts
    params[am.P_PART_MAX] = grammar.part_max
    params[am.P_PL8] = 8 in grammar.part_lengths
    params[am.P_PL16] = 16 in grammar.part_lengths
    params[am.P_END_ID] = grammar.end_id
    for code, name in ((am.R_LENGTHS, "lengths"), (am.R_BARS, "bars"), (am.R_M, "M"),
                       (am.R_METERS, "meters"), (am.R_L, "L"), (am.R_K, "K"),
                       (am.R_CHORDS, "chords")):  # fmt: skip
        params[code] = roots[name]
    # the tries' and the units' arrays after the parameters, each where its offset says
    sums = u_sums.astype(np.int64).ravel()
    parts = [*tries, u_step, u_w.ravel(), u_wn, sums, fv_off.ravel(), fv_vals.ravel()]
    offsets = (am.O_EOFF, am.O_ECHAR, am.O_ECHILD, am.O_TVALUE, am.O_TVOFF, am.O_TVALS,
               am.O_VA, am.O_VB, am.O_USTEP, am.O_UW, am.O_UWN, am.O_USUMS, am.O_FVOFF,
               am.O_FVVALS)  # fmt: skip
    at = am.P_SIZE
    for code, part in zip(offsets, parts, strict=True):
        params[code] = at
        at += len(part)
    params[am.O_END] = at
    params[am.D_UW], params[am.D_FVOFF], params[am.D_FVVALS] = (
        u_w.shape[1],
        fv_off.shape[1],
        fv_vals.shape[1],
    )
    params[am.D_SUMS_N], params[am.D_SUMS_W] = u_sums.shape[1], u_sums.shape[2]
    params = np.concatenate([params, *(np.asarray(x, dtype=np.int64) for x in parts)])
    codes = np.array([ord(t) if len(t) == 1 else -1 for t in grammar.vocab], dtype=np.int64)
    flags = np.array(
        [(t.isalpha() and 1) | (t.isalnum() and 2) if len(t) == 1 else 0 for t in grammar.vocab],
        dtype=np.int64,
    )
    start_id = grammar.vocab.index(START) if START in grammar.vocab else -1
    return am.Machine(params, codes, flags, start_id)
