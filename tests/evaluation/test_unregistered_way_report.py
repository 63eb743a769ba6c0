"""The report of a run whose way is no longer registered (removed from the registry, a
deployment without it) is a page that says so, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generator.models import Checkpoint, JobStatus, TrainingRun
from tests.evaluation.helpers import make_piece
from tests.factories import make_tiny_corpus

pytestmark = pytest.mark.django_db


@pytest.fixture
def orphan_run() -> TrainingRun:
    corpus = make_tiny_corpus(name="orphans", tunes=1)
    run = TrainingRun.objects.create(
        corpus=corpus, name="Run of a removed way", status=JobStatus.SUCCEEDED, epochs=1
    )
    Checkpoint.objects.create(run=run, epoch=1, file="x.keras", val_loss=1.0)
    make_piece(run, text="X:1\nT:t\nM:4/4\nL:1/8\nK:D\nDFAF dfaf|\n")
    TrainingRun.objects.filter(pk=run.pk).update(way="theremin")
    run.refresh_from_db()
    return run


def test_the_report_of_a_run_whose_way_is_not_registered_is_a_clear_page(client, orphan_run):
    response = client.get(reverse("evaluation_run_report", args=[orphan_run.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Run of a removed way" in html
    assert "this site no longer offers" in html and "theremin" in html
    assert orphan_run.get_absolute_url() in html  # the way back to the run's page
    assert "Traceback" not in html


def test_the_score_exports_of_such_a_run_do_not_fail_either(client, orphan_run):
    for name in ("evaluation_run_scores_csv", "evaluation_run_scores_json"):
        assert client.get(reverse(name, args=[orphan_run.pk])).status_code == 200


def test_the_run_page_of_such_a_run_still_shows(client, orphan_run):
    assert client.get(orphan_run.get_absolute_url()).status_code == 200
