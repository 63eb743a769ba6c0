"""A toy fourth way, all of it: one module, as a new way is. Its pieces are lines of solfège
words, one token a word: no score, no sound. Tests register it (`musiclib.ways.register`)
and remove it again."""

from __future__ import annotations

from dataclasses import dataclass

from musiclib.ways.base import Capabilities, Way

WORDS = ("do", "re", "mi", "fa", "so")


@dataclass
class ToyItem:
    file: str
    number: int
    text: str
    n_notes: int = 0
    failure: str | None = None


class ToyWay(Way):
    """Pieces are lines of solfège words, one token a word: no score, no sound."""

    name = "toy"
    label = "Toy words"
    short_label = "toy"
    capabilities = Capabilities(openings=frozenset({"text"}))
    presets = {
        "tiny": {
            "embedding_dim": 8,
            "units": [16],
            "batch_size": 4,
            "max_tokens": 64,
            "samples_per_epoch": 1,
            "sample_max_tokens": 24,
            "val_fraction": 0.2,
        }
    }

    def tokenize(self, text: str) -> list[str]:
        return text.split()

    def detokenize(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def validate(self, text: str) -> dict:
        n = len(text.split())
        return {"parses": n > 0, "plays": None, "bar_accuracy": None, "n_notes": 0, "words": n}

    def import_items(self, *, source, upload, progress=None, processes=None) -> list[ToyItem]:
        name, raw = upload
        lines = [line.strip() for line in raw.decode().splitlines()]
        return [ToyItem(name, n, line) for n, line in enumerate(lines, 1) if line]
