import pytest

from tests.factories import make_tiny_corpus


@pytest.fixture
def tiny_corpus(db):
    return make_tiny_corpus()
