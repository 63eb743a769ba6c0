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


def test_the_api_takes_a_corpus_to_learn_from_first_and_refuses_one_that_cannot_be(
    tiny_corpus, staff_api
):
    other = make_tiny_corpus(name="other", tunes=5)
    body = {"corpus": tiny_corpus.pk, "preset": "tiny", "epochs": 4, "start": False}
    good = staff_api.post(
        "/api/v1/runs/",
        {**body, "warmup_corpus": other.pk, "config": {"warmup_epochs": 2}},
        format="json",
    )
    assert good.status_code == 201, good.content
    assert good.json()["warmup_corpus"] == other.pk
    assert TrainingRun.objects.get().warmup_corpus == other
    for wrong in ({"warmup_corpus": tiny_corpus.pk}, {"warmup_corpus": 999_999}):
        bad = staff_api.post(
            "/api/v1/runs/", {**body, **wrong, "config": {"warmup_epochs": 2}}, format="json"
        )
        assert bad.status_code == 400 and "warmup_corpus" in bad.content.decode()
    assert TrainingRun.objects.count() == 1
