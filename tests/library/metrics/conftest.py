"""Fixtures of the metric tests: a few hundred real O'Neill 1850 tunes (fast to read)."""

from __future__ import annotations

import pytest
from metrics_corpus import ONEILL_FILES, bundled_abc

from musiclib.metrics.notes import Note, notes_from_abc


@pytest.fixture(scope="session")
def folk_tunes() -> dict[int, list[Note]]:
    """~425 O'Neill tunes keyed 0..n-1 in file order."""
    abc = [t for f in ONEILL_FILES for t in bundled_abc("oneills1850", f)]
    return {i: notes_from_abc(abc=t) for i, t in enumerate(abc)}
