"""The ABC way: a character-level LSTM over ABC notation (folk tunes).

Each tune trains as `M:…\nL:…\nK:…\n<body>` between START and END: the header fields a user
may prime come first and in a fixed order, so a prime of `M:6/8\nL:1/8\nK:D\n` is exactly the
start of a training sequence. Titles, numbers, sources and comments are dropped: they are
not music, and the site names generated tunes itself.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from .base import Way

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


def default_unit_length(meter: str) -> str:
    """ABC's rule: L defaults to 1/16 when the meter is below 3/4, else 1/8."""
    if meter in ("C", "C|"):
        return "1/8"
    try:
        return "1/16" if Fraction(meter) < Fraction(3, 4) else "1/8"
    except (ValueError, ZeroDivisionError):
        return "1/8"


class AbcWay(Way):
    name = "abc"
    label = "Text (ABC)"
    presets = {
        # Trains in minutes on a 2-core CPU and already makes tune-like output.
        "quick": {
            "embedding_dim": 32,
            "units": [192],
            "batch_size": 32,
            "learning_rate": 0.004,
            "max_tokens": 1200,
            "samples_per_epoch": 4,
        },
        # The original write-up's sizes: two stacked LSTM(256), 100-char sequences, batch 64.
        "full": {
            "embedding_dim": 64,
            "units": [256, 256],
            "dropout": 0.2,
            "batch_size": 64,
            "learning_rate": 0.002,
            "max_tokens": 2000,
            "sample_every": 1,
            "samples_per_epoch": 4,
        },
        # For tests: trains in seconds.
        "tiny": {
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

    def tokenize(self, text: str) -> list[str]:
        return list(text)

    def detokenize(self, tokens: list[str]) -> str:
        return "".join(tokens)

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

    def grammar(self, *, vocab: list[str]):
        """A sampling constraint (see `ml.sampler.Constraint`) that keeps generated text a
        well-formed tune: headers in order, closed chord symbols, chords and grace groups,
        no header fields in the body, bars of the meter's length, repeats abc2midi accepts,
        END only after a bar line. See `abc_grammar`. None when the vocabulary cannot even
        write a bar line or a header (a model trained on something else)."""
        from .abc_grammar import AbcGrammar

        if not {"|", "\n", ":", "M", "L", "K"} <= set(vocab):
            return None
        return AbcGrammar(vocab)


WAY = AbcWay()
