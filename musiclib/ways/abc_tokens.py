"""Token-level vocabulary for the ABC way (folk-rnn style), beside the character one.

With `vocabulary: "tokens"` a tune trains as a sequence of musical tokens instead of
characters: header and body field lines as whole tokens (`M:6/8`, `L:1/8`, `K:Gmaj`; the
newline after them is a token of its own), a note's pitch with its accidental and octave
marks as one token (`^c'`, `=B,`, rests `z`), its duration as another (`2`, `/2`, `3/2`),
bar lines and repeats as one token each (`|`, `|:`, `:|`, `||`, `|]`, `::`, `|1`, `:|2` …),
tuplets `(3`, broken rhythm `>` `<`, chord brackets `[` `]`, grace braces `{` `}`, chord
symbols `"…"` and `!…!` decorations whole, and every other character (spaces, newlines,
single-letter decorations, ties, slurs) as itself.

Tokenizing is exact: `detokenize(tokenize(text)) == text` for any text, because the pattern
below ends with a one-character catch-all, so the tokens always cover the text end to end.
Which token a character sequence becomes never depends on a model: the same text always
gives the same tokens, so a prime tokenizes as the training tunes did.
"""

from __future__ import annotations

import re

from .base import SPECIALS

CHARS, TOKENS = "chars", "tokens"
VOCABULARIES = (CHARS, TOKENS)

# Alternatives in order of priority (the regex engine takes the first that matches here).
TOKEN = re.compile(
    r"""
      (?P<field>(?m:^)[A-Za-z]:[^\n]*)            # a field line, header or body: M:6/8
    | (?P<inline>\[[A-Za-z]:[^\]\n]*\])           # an inline field [K:D]
    | (?P<quote>"[^"\n]*")                        # a chord symbol or annotation "Am"
    | (?P<deco>![^!\n]*!)                         # a long decoration !trill!
    | (?P<bar>:*\[?\|+\]?:*[12]?|::+|\[[12])      # bar lines, repeats, endings
    | (?P<tuplet>\(\d(?::\d*){0,2})               # a tuplet (3 (3:2:3
    | (?P<pitch>(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*) # a pitch with accidental and octave marks
    | (?P<rest>[zxZ])                             # a rest
    | (?P<length>\d+/*\d*|/+\d*)                  # a duration 2 /2 3/2 /
    | (?P<broken>>{1,2}|<{1,2})                   # broken rhythm
    | (?P<other>.)                                # anything else, one character at a time
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[str]:
    """An ABC text → its tokens (see the module docstring); exact for any text."""
    return [m.group(0) for m in TOKEN.finditer(text)]


def detokenize(tokens: list[str]) -> str:
    return "".join(tokens)


def vocabulary_of(vocab: list[str]) -> str:
    """Which vocabulary a run's symbol list was built with. A character vocabulary holds
    single characters only; a token one always holds its header fields (`M:4/4`…) as
    multi-character tokens, because every normalised tune starts with them. Runs trained
    before the option existed have character vocabularies, and read as such."""
    return TOKENS if any(len(tok) > 1 for tok in vocab if tok not in SPECIALS) else CHARS


def check_vocabulary(value: object) -> str:
    """The config value `vocabulary`, refused with a clear message when it is not one."""
    if value not in VOCABULARIES:
        raise ValueError(
            f"vocabulary must be one of {', '.join(VOCABULARIES)} (got {value!r}): "
            f"{CHARS} trains on characters, {TOKENS} on notes, bar lines and header fields"
        )
    return str(value)
