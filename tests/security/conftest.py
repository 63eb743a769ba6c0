"""Fixtures for the security tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generator.models import TrainingRun
from tests.conftest import module_transaction, once_per_module


@pytest.fixture(scope="module")
@once_per_module
def _trained_run_once(django_db_setup, django_db_blocker) -> Iterator[int]:
    """The id of a tiny ABC run trained for one epoch in this process, built once per module
    in a transaction rolled back after its last test (tests/conftest.py)."""
    from tests.factories import make_tiny_corpus, make_trained_run

    with module_transaction(django_db_blocker):
        with django_db_blocker.unblock():
            corpus = make_tiny_corpus(name="tiny security", tunes=20)
            run = make_trained_run(corpus, epochs=1)
        yield run.pk


@pytest.fixture
def trained_run(_trained_run_once: int, db) -> TrainingRun:
    """A tiny ABC run trained for one epoch in this process: real checkpoint, sampler file
    and epoch-sample pieces (shared by the module's tests; each test's changes are undone)."""
    return TrainingRun.objects.get(pk=_trained_run_once)
