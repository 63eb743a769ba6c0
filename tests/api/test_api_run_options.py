"""Run options through the API: early stopping's patience in the run's config."""

import pytest

from generator.models import TrainingRun
from tests.factories import make_tiny_corpus

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def tiny_corpus(db):
    return make_tiny_corpus()


def test_the_api_takes_a_patience_in_the_config_and_refuses_a_bad_one(tiny_corpus, staff_api):
    body = {"corpus": tiny_corpus.pk, "preset": "tiny", "start": False}
    good = staff_api.post(
        "/api/v1/runs/", {**body, "config": {"early_stopping_patience": 2}}, format="json"
    )
    assert good.status_code == 201, good.content  # a draft: start is false
    assert TrainingRun.objects.get().config["early_stopping_patience"] == 2
    bad = staff_api.post(
        "/api/v1/runs/", {**body, "config": {"early_stopping_patience": "two"}}, format="json"
    )
    assert bad.status_code == 400 and "early_stopping_patience" in bad.content.decode().lower()
