"""Fixtures for the security tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def in_process_import(monkeypatch):
    """Imports parse in this process: for a tiny corpus that is quicker than starting a
    process pool from a forkserver (which a process running TensorFlow's threads needs)."""
    from generator.services import corpora

    monkeypatch.setattr(corpora, "cpu_count", lambda: 1)


@pytest.fixture
def trained_run(db, in_process_import):
    """A tiny ABC run trained for one epoch in this process: real checkpoint, sampler file
    and epoch-sample pieces."""
    from tests.factories import make_tiny_corpus, make_trained_run

    corpus = make_tiny_corpus(name="tiny security", tunes=20)
    return make_trained_run(corpus, epochs=1)
