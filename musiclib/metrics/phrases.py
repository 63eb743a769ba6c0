"""Phrase idiom: how many of a tune's melodic phrases of 4 to 8 notes the corpus knows.

`CorpusIndex.idiom` counts 4-note pitch patterns (3 intervals) found anywhere in the corpus.
Such short patterns are found for nearly any tonal melody, so the measure saturates: a model
that strings plausible fragments together without ever writing a phrase a person would
scores almost as well as a human tune. Here every length from 4 to 8 notes counts, each
pattern as its intervals (transposition-free, rhythm ignored), and a tune's phrase idiom is
the mean over those lengths of the share of its phrases found in the corpus. Held-out human
tunes set the level to reach (the index holds the training tunes only).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .index import gram_keys
from .notes import Note

LENGTHS = (4, 5, 6, 7, 8)  # notes per phrase


def _intervals(notes: list[Note]) -> np.ndarray:
    pitch = np.array([n.pitch for n in notes if n.pitch >= 0], np.int64)
    if len(pitch) < 2:
        return np.zeros(0, np.int64)
    return (np.clip(np.diff(pitch), -63, 63) + 64).astype(np.int64)


class PhraseIndex:
    """Sorted keys of every interval pattern of 4 to 8 notes in a set of tunes."""

    def __init__(self, tunes: Iterable[list[Note]]) -> None:
        keys: dict[int, list[np.ndarray]] = {n: [] for n in LENGTHS}
        for notes in tunes:
            symbols = _intervals(notes)
            for n in LENGTHS:
                keys[n].append(gram_keys(symbols=symbols, n=n))
        self._keys = {
            n: np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)
            for n, parts in keys.items()
        }

    def shares(self, *, notes: list[Note]) -> dict[int, float]:
        """Per phrase length: the share of the tune's phrases found in the index (NaN when
        the tune is shorter than the phrase)."""
        symbols = _intervals(notes)
        out = {}
        for n in LENGTHS:
            grams = gram_keys(symbols=symbols, n=n)
            out[n] = float(np.isin(grams, self._keys[n]).mean()) if len(grams) else float("nan")
        return out

    def idiom(self, *, notes: list[Note]) -> float:
        """Mean over 4 to 8 notes of the share of phrases found: NaN under 8 notes."""
        shares = self.shares(notes=notes)
        if any(np.isnan(v) for v in shares.values()):
            return float("nan")
        return float(np.mean(list(shares.values())))
