"""Evaluation tasks through a real Celery worker on Redis and PostgreSQL."""

from __future__ import annotations

import pytest

from evaluation.models import EvaluationStatus, PieceEvaluation
from evaluation.tasks import job_evaluate_task, piece_evaluate_task
from tests.evaluation.helpers import make_piece
from tests.factories import make_tiny_corpus, make_trained_run, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_evaluation_tasks_run_through_a_real_celery_worker(celery_worker):
    corpus = make_tiny_corpus(name="worker evaluation", tunes=20)
    run = make_trained_run(corpus, epochs=1)
    tune = corpus.tunes.order_by("pk")[4]
    copied = make_piece(run, text=tune.text, title="A real tune")
    silent = make_piece(run, text="X:1\nT:Silence\nK:C\nz8|\n", title="Silence")

    job_evaluate_task.delay(copied.job_id)
    piece_evaluate_task.delay(silent.pk)

    def both():
        rows = PieceEvaluation.objects.filter(piece__in=[copied, silent]).exclude(
            status=EvaluationStatus.PENDING
        )
        return rows.count() == 2

    wait_for(both, timeout=120, what="both evaluations", worker=celery_worker)
    done = PieceEvaluation.objects.get(piece=copied)
    assert done.status == EvaluationStatus.DONE, done.error
    assert done.copy_tune_id == tune.pk and done.ngram_8 == 1.0 and done.likely_copy is True
    failed = PieceEvaluation.objects.get(piece=silent)
    assert failed.status == EvaluationStatus.FAILED and "no notes" in failed.error
    assert "evaluation.tasks.job_evaluate_task" in celery_worker.log()


def test_a_run_report_page_measures_in_the_worker_and_is_ready_after(celery_worker, client):
    """The page queues the report; the real worker measures it; the page then shows it."""
    from evaluation.models import ReportState, RunReport

    corpus = make_tiny_corpus(name="worker report", tunes=20)
    run = make_trained_run(corpus, epochs=1)
    make_piece(run, text=corpus.tunes.order_by("pk")[3].text, title="A real tune")

    html = client.get(f"/evaluation/runs/{run.pk}/").content.decode()
    assert "Measuring…" in html and 'data-report-state="measuring"' in html
    assert client.get(f"/api/v1/runs/{run.pk}/report/").json()["state"] == "measuring"

    def ready() -> bool:
        return RunReport.objects.filter(run=run).exclude(state=ReportState.MEASURING).exists()

    wait_for(ready, timeout=180, what="the run report", worker=celery_worker)
    report = RunReport.objects.get(run=run)
    assert report.state == ReportState.READY, report.error
    html = client.get(f"/evaluation/runs/{run.pk}/").content.decode()
    assert "copying its corpus" in html and "Measuring…" not in html
    body = client.get(f"/api/v1/runs/{run.pk}/report/").json()
    assert body["state"] == "ready" and body["report"]["n_pieces"] == 1
    assert "evaluation.tasks.run_report_task" in celery_worker.log()


def test_the_scores_export_answers_pending_at_once_and_the_worker_evaluates_the_piece(
    celery_worker, client
):
    corpus = make_tiny_corpus(name="worker export", tunes=20)
    run = make_trained_run(corpus, epochs=1)
    piece = make_piece(run, text=corpus.tunes.order_by("pk")[2].text, title="A real tune")

    data = client.get(f"/evaluation/runs/{run.pk}/scores.json").json()
    row = next(p for p in data["pieces"] if p["piece_id"] == piece.pk)
    assert data["state"] == "measuring" and row["status"] == "pending"

    def evaluated() -> bool:
        return PieceEvaluation.objects.filter(piece=piece, status=EvaluationStatus.DONE).exists()

    wait_for(evaluated, timeout=120, what="the piece's evaluation", worker=celery_worker)
    one = client.get(f"/evaluation/pieces/{piece.pk}/scores.json").json()
    assert one["status"] == "done" and one["ngram_8"] == 1.0
