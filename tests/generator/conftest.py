import pytest

from tests.factories import make_tiny_corpus


@pytest.fixture
def tiny_corpus(db):
    return make_tiny_corpus()


@pytest.fixture
def fresh_cache():
    """Request throttles and facet lists live in the cache: a test that uses this starts
    without and leaves none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
