"""Fixtures of the evaluation tests: a real O'Neill corpus and a tiny model trained on it."""

from __future__ import annotations

import pytest

from musiclib.metrics.melody import notes_from_text
from tests.factories import make_tiny_corpus, make_trained_run


@pytest.fixture
def tiny_corpus(db):
    """The first 40 tunes of O'Neill's 1850, imported through the corpus service."""
    return make_tiny_corpus(name="evaluation tiny", tunes=40)


@pytest.fixture
def trained_run(tiny_corpus):
    """A tiny ABC model trained one epoch on `tiny_corpus` (checkpoint, epoch sample)."""
    return make_trained_run(tiny_corpus, epochs=1)


@pytest.fixture
def corpus_melodies(tiny_corpus):
    """Tune id → melody of every tune of `tiny_corpus`."""
    return {
        t.pk: notes_from_text(text=t.text, way=tiny_corpus.way)
        for t in tiny_corpus.tunes.order_by("pk")
    }
