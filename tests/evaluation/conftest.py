"""Fixtures of the evaluation tests: a real O'Neill corpus and a tiny model trained on it.

Both are built once per test module (`_corpus_once`, `_run_once`), inside a transaction that
is rolled back after the module's last test; each test runs in a savepoint within it, so what
a test changes is undone after it (Django's TestCase.setUpTestData works the same way). Each
test gets fresh instances read from the database. Only for tests that use `db`: a
transactional test (or one with a live server or a worker) asking for them is refused when
the tests are collected (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generator.models import Corpus, TrainingRun
from musiclib.metrics.melody import notes_from_text
from tests.conftest import module_transaction, once_per_module
from tests.factories import make_tiny_corpus, make_trained_run


@pytest.fixture(scope="module")
@once_per_module
def _corpus_once(django_db_setup, django_db_blocker) -> Iterator[int]:
    """The id of the first 40 tunes of O'Neill's 1850, imported through the corpus service."""
    with module_transaction(django_db_blocker):
        with django_db_blocker.unblock():
            corpus = make_tiny_corpus(name="evaluation tiny", tunes=40)
        yield corpus.pk


@pytest.fixture(scope="module")
@once_per_module
def _run_once(_corpus_once: int, django_db_blocker) -> int:
    """The id of a tiny ABC model trained one epoch on the corpus (checkpoint, epoch sample),
    in the corpus's transaction."""
    with django_db_blocker.unblock():
        return make_trained_run(Corpus.objects.get(pk=_corpus_once), epochs=1).pk


@pytest.fixture
def tiny_corpus(_corpus_once: int, db) -> Corpus:
    """The first 40 tunes of O'Neill's 1850, imported through the corpus service."""
    return Corpus.objects.get(pk=_corpus_once)


@pytest.fixture
def trained_run(_run_once: int, db) -> TrainingRun:
    """A tiny ABC model trained one epoch on `tiny_corpus` (checkpoint, epoch sample)."""
    return TrainingRun.objects.get(pk=_run_once)


@pytest.fixture
def corpus_melodies(tiny_corpus):
    """Tune id → melody of every tune of `tiny_corpus`."""
    return {
        t.pk: notes_from_text(text=t.text, way=tiny_corpus.way)
        for t in tiny_corpus.tunes.order_by("pk")
    }
