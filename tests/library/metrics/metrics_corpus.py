"""Real folk tunes for the metric tests, from music21's bundled ABC collections."""

from __future__ import annotations

from pathlib import Path

from musiclib.metrics.notes import split_abc

ONEILL_FILES = ("0001-0050.abc", "0051-0100.abc", "0201-0300.abc", "0301-0350.abc",
                "0401-0486.abc", "0811-0899.abc")  # fmt: skip


def bundled_abc(collection: str, filename: str) -> list[str]:
    """The tunes of one ABC file of music21's bundled corpus, one string each."""
    import music21.corpus

    path = Path(music21.corpus.__file__).parent / collection / filename
    return split_abc(text=path.read_text(encoding="latin-1"))
