"""Fixtures for the security tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def trained_run(db, in_process_import):
    """A tiny ABC run trained for one epoch in this process: real checkpoint, sampler file
    and epoch-sample pieces."""
    from tests.factories import make_tiny_corpus, make_trained_run

    corpus = make_tiny_corpus(name="tiny security", tunes=20)
    return make_trained_run(corpus, epochs=1)
