"""Fixtures for the site's pages: a small world of corpus, run and checkpoints, a piece with
real MIDI and audio, and a tiny trained model for the pages that sample from one."""

from __future__ import annotations

import pytest

from generator.models import Piece
from tests.web.builders import World, make_piece, make_world


@pytest.fixture
def world(db) -> World:
    return make_world()


@pytest.fixture
def piece(world) -> Piece:
    return make_piece(world, title="The Foggy Heron (Reel)")


@pytest.fixture
def trained_run(db):
    """A tiny ABC run trained for one epoch in this process: real checkpoint, sampler file,
    and epoch-sample pieces."""
    from tests.factories import make_tiny_corpus, make_trained_run

    corpus = make_tiny_corpus(name="tiny web", tunes=20)
    return make_trained_run(corpus, epochs=1)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The facet lists are cached for a minute: each test starts without them."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
