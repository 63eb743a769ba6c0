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

CHARS, TOKENS, BARS = "chars", "tokens", "bars"
VOCABULARIES = (CHARS, TOKENS, BARS)

# `vocabulary: "bars"`: characters, and after every bar line of a tune's body a marker
# saying which bar of its part follows (1 to 20: U+2460 ..). A model trained on characters
# does not know where a part ends, so the folk form's rules had to force its closes; told
# the bar, it can see the close coming. The grammar writes the markers (the right one is
# the only one it allows) and `detokenize` drops them, so no text outside a model ever
# holds one.
MARKS = tuple(chr(0x2460 + k) for k in range(20))
_MARK_SET = frozenset(MARKS)
_DROP_MARKS = dict.fromkeys(map(ord, MARKS))  # (a `str.translate` table)

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


def _in_bar_line(body: str, start: int, j: int) -> bool:
    """Whether body[j] continues the bar line that began at `start` (`|`, `:`, `]`, an
    ending's number right after `|` or `[`, a `[` that opens an ending, or the `[` of a
    `[|` that begins it)."""
    c = body[j]
    if c in "|:]":
        return True
    if c in "12" and j > start and body[j - 1] in "|[":
        return True
    after = body[j + 1] if j + 1 < len(body) else ""
    return c == "[" and (after in ("1", "2") or j == start and after == "|")


def bar_number(run: str, bar: int, ending_bar: int) -> tuple[int, int]:
    """The bar of its part that follows a bar line `run` (all of it: `:|`, `|1`, `:||:`),
    after bar `bar` of the part, whose first ending began at `ending_bar`: (the next bar,
    the first ending's bar). A part restarts after a section mark (a repeat sign, `||`,
    `|]`, an ending); a second ending takes the first ending's number."""
    if "1" in run:
        return bar + 1, bar + 1
    if "2" in run:
        return ending_bar, ending_bar
    section = ":" in run or "||" in run or "|]" in run or "[" in run
    section = section or any(c.isdigit() for c in run)
    return (1 if section else bar + 1), ending_bar


def mark(number: int) -> str:
    """The marker of bar `number` of a part (bars past the 20th share the last)."""
    return MARKS[min(max(number, 1), len(MARKS)) - 1]


def add_markers(text: str) -> str:
    """The tune with a marker after every bar line of its body (after the first `K:` line):
    the bar of its part that follows. Field lines and inline fields hold no bar lines, nor
    do chord symbols."""
    key = text.find("K:") if text.startswith("K:") else text.find("\nK:")
    if key < 0:
        return text
    body_at = text.find("\n", key + 1)
    if body_at < 0:
        return text
    head, body = text[: body_at + 1], text[body_at + 1 :]
    out = []
    i, n = 0, len(body)
    quoted = False
    bar = ending_bar = 1
    while i < n:
        c = body[i]
        if c == '"':
            quoted = not quoted
        elif not quoted and c.isalpha() and i + 1 < n and body[i + 1] == ":":
            line_start = i == 0 or body[i - 1] == "\n"
            if line_start or body[i - 1] == "[":  # a field line, or an inline field [K:…]
                j = body.find("\n" if line_start else "]", i)
                j = n if j < 0 else j
                out.append(body[i:j])
                i = j
                continue
        elif not quoted and (c in "|:" or c == "[" and i + 1 < n and body[i + 1] in "12|"):
            # (a bar line: `|`, `:`, an ending `[1`, or `[|`, which the grammar reads as one)
            j = i
            while j < n and _in_bar_line(body, i, j):
                j += 1
            j = max(j, i + 1)  # (a run holds at least the character that began it)
            run = body[i:j]
            bar, ending_bar = bar_number(run, bar, ending_bar)
            out.append(run + mark(bar))
            i = j
            continue
        out.append(c)
        i += 1
    return head + "".join(out)


def strip_markers(text: str) -> str:
    """The text without bar markers."""
    return text.translate(_DROP_MARKS)


def tokenize(text: str) -> list[str]:
    """An ABC text → its tokens (see the module docstring); exact for any text."""
    return [m.group(0) for m in TOKEN.finditer(text)]


def detokenize(tokens: list[str]) -> str:
    return "".join(tokens)


def vocabulary_of(vocab: list[str]) -> str:
    """Which vocabulary a run's symbol list was built with. A character vocabulary holds
    single characters only; a token one always holds its header fields (`M:4/4`…) as
    multi-character tokens, because every normalised tune starts with them. Runs trained
    before the option existed have character vocabularies, and read as such. A character
    vocabulary with bar markers is `BARS`."""
    if any(len(tok) > 1 for tok in vocab if tok not in SPECIALS):
        return TOKENS
    return BARS if any(tok in _MARK_SET for tok in vocab) else CHARS


def check_vocabulary(value: object) -> str:
    """The config value `vocabulary`, refused with a clear message when it is not one."""
    if value not in VOCABULARIES:
        raise ValueError(
            f"vocabulary must be one of {', '.join(VOCABULARIES)} (got {value!r}): "
            f"{CHARS} trains on characters, {TOKENS} on notes, bar lines and header fields, "
            f"{BARS} on characters with each bar numbered within its part"
        )
    return str(value)
