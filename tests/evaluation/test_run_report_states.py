"""A run's report is measured by a task and stored: the page and the API say "measuring"
until it is ready, never compute it in the request."""

from __future__ import annotations

import pytest

from evaluation import services
from evaluation.models import ReportState, RunReport
from evaluation.task_names import RUN_REPORT_TASK
from evaluation.tasks import run_report_task
from generator.models import Checkpoint, JobStatus, TrainingRun
from tests.evaluation.helpers import make_piece

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The run ids whose report task was queued (the task's `delay`, recorded: no worker
    here; the worker's own test is in test_evaluation_worker.py)."""
    from celery import current_app

    sent: list[int] = []
    monkeypatch.setattr(current_app.tasks[RUN_REPORT_TASK], "delay", sent.append)
    return sent


def _page(client, run) -> str:
    response = client.get(f"/evaluation/runs/{run.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_report_page_says_measuring_until_the_task_has_measured_it_then_shows_it(
    client, trained_run, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        html = _page(client, trained_run)
    assert "Measuring…" in html and 'http-equiv="refresh"' in html
    assert 'data-report-state="measuring"' in html
    assert "copying its corpus" not in html  # no figures yet
    assert queued == [trained_run.pk]  # queued once the request's transaction committed
    assert RunReport.objects.get(run=trained_run).state == ReportState.MEASURING

    with django_capture_on_commit_callbacks(execute=True):  # a second visit queues no more
        _page(client, trained_run)
    assert queued == [trained_run.pk]

    run_report_task(trained_run.pk)  # what the worker does with the message

    html = _page(client, trained_run)
    assert "copying its corpus" in html and "Features against human tunes" in html
    assert "Measuring…" not in html and 'http-equiv="refresh"' not in html
    report = RunReport.objects.get(run=trained_run)
    assert report.state == ReportState.READY and report.computed_at is not None
    assert report.data["n_pieces"] >= 1 and report.code_version
    assert queued == [trained_run.pk]  # a fresh report is not measured again


def test_the_api_gives_the_stored_report_with_its_state(
    client, trained_run, queued, django_capture_on_commit_callbacks
):
    url = f"/api/v1/runs/{trained_run.pk}/report/"
    with django_capture_on_commit_callbacks(execute=True):
        body = client.get(url).json()
    assert body["state"] == "measuring" and body["report"] is None and body["run"] == trained_run.pk
    assert queued == [trained_run.pk]

    run_report_task(trained_run.pk)
    body = client.get(url).json()
    assert body["state"] == "ready" and body["error"] == ""
    assert body["report"]["n_pieces"] >= 1 and "novelty" in body["report"]
    assert body["computed_at"] and body["code_version"]
    assert client.get("/api/v1/runs/999999999/report/").status_code == 404


def test_a_report_made_stale_by_new_pieces_is_measured_again_showing_the_old_figures_meanwhile(
    client, trained_run, queued, django_capture_on_commit_callbacks
):
    services.run_report_measure(run=trained_run)
    before = RunReport.objects.get(run=trained_run).data
    assert "every piece of the run" in before["scope"]  # the epoch sample alone
    piece = make_piece(trained_run, text=trained_run.corpus.tunes.first().text)
    services.piece_evaluate(piece=piece)

    with django_capture_on_commit_callbacks(execute=True):
        html = _page(client, trained_run)
    assert queued == [trained_run.pk]
    assert "being measured again" in html and "copying its corpus" in html  # old figures
    assert RunReport.objects.get(run=trained_run).data == before

    run_report_task(trained_run.pk)
    after = RunReport.objects.get(run=trained_run)
    assert after.state == ReportState.READY
    assert "last checkpoint" in after.data["scope"]  # the new piece is judged
    assert after.data["computed_at"] != before["computed_at"]


def test_a_report_measured_by_a_worker_on_other_code_is_not_measured_again_on_every_view(
    client, trained_run, queued, settings, django_capture_on_commit_callbacks
):
    # During a deploy the web host and the workers may run different code versions: a page
    # that compared its own with the worker's would queue a measure on every view.
    settings.CODE_VERSION = "the-worker-version"
    services.run_report_measure(run=trained_run)
    settings.CODE_VERSION = "the-web-version"
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            html = _page(client, trained_run)
        assert "copying its corpus" in html and "being measured again" not in html
    assert queued == []
    assert RunReport.objects.get(run=trained_run).code_version == "the-worker-version"


def test_a_report_of_an_older_report_version_is_measured_again(
    client, trained_run, queued, monkeypatch, django_capture_on_commit_callbacks
):
    services.run_report_measure(run=trained_run)
    monkeypatch.setattr(services, "REPORT_VERSION", services.REPORT_VERSION + 1)
    with django_capture_on_commit_callbacks(execute=True):
        html = _page(client, trained_run)
    assert queued == [trained_run.pk]
    assert "being measured again" in html and "copying its corpus" in html


def test_new_pieces_of_a_finished_run_queue_its_report_again_after_their_evaluation(
    trained_run, queued, django_capture_on_commit_callbacks
):
    services.run_report_measure(run=trained_run)
    piece = make_piece(trained_run, text=trained_run.corpus.tunes.first().text)
    with django_capture_on_commit_callbacks(execute=True):
        services.job_evaluate(job=piece.job)
    assert queued == [trained_run.pk]


def test_a_finished_run_has_its_report_queued(
    trained_run, queued, django_capture_on_commit_callbacks
):
    from generator.signals import training_run_finished

    with django_capture_on_commit_callbacks(execute=True):
        training_run_finished.send(sender=TrainingRun, run=trained_run)
    assert queued == [trained_run.pk]
    assert RunReport.objects.get(run=trained_run).state == ReportState.MEASURING


def test_a_report_that_cannot_be_measured_says_why(client, tiny_corpus, queued):
    run = TrainingRun.objects.create(
        corpus=tiny_corpus, name="no checkpoint", way="audio", status=JobStatus.RUNNING
    )
    report = services.run_report_measure(run=run)
    assert report.state == ReportState.FAILED and "no checkpoint yet" in report.error
    html = _page(client, run)
    assert "could not be measured" in html and "no checkpoint yet" in html
    assert 'http-equiv="refresh"' not in html
    assert queued == []  # nothing changed since: not queued again on every visit
    with pytest.raises(services.EvaluationError, match="no checkpoint yet"):
        services.run_report(run=run)
    Checkpoint.objects.create(run=run, epoch=1, file="")  # something changed: stale
    _page(client, run)
    assert RunReport.objects.get(run=run).state == ReportState.MEASURING


def test_staff_can_have_a_report_measured_again_and_others_cannot(
    client, staff_client, trained_run, queued, django_capture_on_commit_callbacks
):
    services.run_report_measure(run=trained_run)
    assert "Measure again" in _page(staff_client, trained_run)
    assert "Measure again" not in _page(client, trained_run)
    url = f"/evaluation/runs/{trained_run.pk}/measure/"
    assert client.post(url).status_code == 403
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url)
    assert response.status_code == 302 and response["Location"].endswith(
        f"/evaluation/runs/{trained_run.pk}/"
    )
    assert queued == [trained_run.pk]
    assert RunReport.objects.get(run=trained_run).state == ReportState.MEASURING
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post(f"/api/v1/runs/{trained_run.pk}/report/").status_code == 202
    assert queued == [trained_run.pk]  # already measuring: not queued twice


def test_the_judge_json_of_one_epoch_says_measuring_and_draws_nothing_in_the_request(
    client, trained_run, queued, monkeypatch, django_capture_on_commit_callbacks
):
    from evaluation import listener

    def refuse(**kwargs):
        raise AssertionError("the request drew pieces")

    monkeypatch.setattr(listener, "epoch_sample_texts", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/evaluation/runs/{trained_run.pk}/judge.json?epoch=1")
    body = response.json()
    assert response.status_code == 200 and body["state"] == "measuring"
    assert body["available"] is False and body["reason"] == "measuring" and body["epoch"] == 1
    assert queued == [trained_run.pk]  # the report task judges it
