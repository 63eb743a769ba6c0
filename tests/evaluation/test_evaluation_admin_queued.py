"""The admin's "Evaluate again" and "Calibrate again" queue their work for the worker after
the action's transaction commits, never measuring inside the request: the rows say what is
queued, the staff member is told, and the pages show progress until the worker is done."""

from __future__ import annotations

import pytest
from celery import current_app
from django.core.cache import cache
from playwright.sync_api import Page, expect

from evaluation import services
from evaluation.models import CorpusIndexState, EvaluationStatus, PieceEvaluation
from evaluation.task_names import CORPUS_CALIBRATE_TASK, PIECE_EVALUATE_TASK
from generator.services import piece_render
from tests.factories import wait_for
from tests.web.builders import JIG, REEL, make_piece, make_tune, make_world

TIMEOUT_MS = 30_000


@pytest.fixture
def queued(monkeypatch):
    """The evaluation tasks' messages, recorded instead of sent: [(task name, args)]."""
    sent: list[tuple[str, tuple]] = []
    for name in (PIECE_EVALUATE_TASK, CORPUS_CALIBRATE_TASK):
        task = current_app.tasks[name]
        monkeypatch.setattr(task, "delay", lambda *args, _n=name: sent.append((_n, args)))
    cache.clear()  # "being calibrated" marks of earlier tests
    return sent


def _evaluated_pieces(n: int = 2):
    world = make_world()
    make_tune(world.corpus, text=REEL, number=1)
    make_tune(world.corpus, text=JIG, number=2)
    pieces = [make_piece(world, title=f"Judged {i}", index=i) for i in range(n)]
    for piece in pieces:
        services.piece_evaluate(piece=piece)
        assert PieceEvaluation.objects.get(piece=piece).status != EvaluationStatus.PENDING
    return world, pieces


def _evaluate_again(staff_client, pieces):
    ids = list(PieceEvaluation.objects.filter(piece__in=pieces).values_list("pk", flat=True))
    return staff_client.post(
        "/admin/evaluation/pieceevaluation/",
        {"action": "reevaluate", "_selected_action": ids},
        follow=True,
    )


@pytest.mark.django_db
def test_evaluate_again_queues_each_piece_marks_it_pending_and_tells_the_staff_member(
    staff_client, queued, monkeypatch, django_capture_on_commit_callbacks, client
):
    _, pieces = _evaluated_pieces()
    with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
        patch.setattr(services, "piece_evaluate", lambda **kw: pytest.fail("measured here"))
        response = _evaluate_again(staff_client, pieces)  # and nothing measured in it
    assert response.status_code == 200
    assert "Queued 2 piece(s) for evaluation" in response.content.decode()
    assert sorted(queued) == sorted((PIECE_EVALUATE_TASK, (p.pk,)) for p in pieces)
    assert set(
        PieceEvaluation.objects.filter(piece__in=pieces).values_list("status", flat=True)
    ) == {EvaluationStatus.PENDING}

    # The piece's page says so, and its panel asks for itself until the worker is done.
    html = client.get(pieces[0].get_absolute_url()).content.decode()
    assert "Being evaluated…" in html
    panel_url = f"/evaluation/pieces/{pieces[0].pk}/panel.json"
    assert f'data-poll="{panel_url}"' in html
    waiting = client.get(panel_url).json()
    assert waiting["done"] is False and "Being evaluated" in waiting["html"]["evaluation"]
    services.piece_evaluate(piece=pieces[0])  # what the queued task does
    ready = client.get(panel_url).json()
    assert ready["done"] is True and "Being evaluated" not in ready["html"]["evaluation"]
    assert "data-poll" not in client.get(pieces[0].get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_calibrate_again_queues_a_calibration_and_its_page_shows_progress_until_done(
    staff_client, queued, monkeypatch, django_capture_on_commit_callbacks, client
):
    world, _ = _evaluated_pieces(1)
    state = CorpusIndexState.objects.get(corpus=world.corpus)
    monkeypatch.setattr(services, "corpus_calibrate", lambda **kw: pytest.fail("measured here"))
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/evaluation/corpusindexstate/",
            {"action": "recalibrate", "_selected_action": [state.pk]},
            follow=True,
        )
    html = response.content.decode()
    assert "Queued 1 corpus calibration(s)" in html and "being calibrated" in html
    assert queued == [(CORPUS_CALIBRATE_TASK, (world.corpus.pk, True))]  # forced: due or not
    page = client.get(f"/evaluation/corpora/{world.corpus.pk}/").content.decode()
    assert "Calibrating…" in page and 'http-equiv="refresh"' in page


@pytest.mark.django_db
def test_the_forced_calibration_task_calibrates_a_corpus_that_is_not_due_and_clears_the_mark(
    client,
):
    world, _ = _evaluated_pieces(1)
    services.corpus_calibration_measure(corpus=world.corpus)  # calibrated once: not due now
    first = CorpusIndexState.objects.get(corpus=world.corpus).calibrated_at
    services.corpus_calibration_queue(corpus=world.corpus)  # outside a transaction: sent now
    assert services.corpus_calibrating(corpus_id=world.corpus.pk)
    services.corpus_calibration_measure(corpus=world.corpus, force=True)  # the task's work
    assert CorpusIndexState.objects.get(corpus=world.corpus).calibrated_at > first
    assert not services.corpus_calibrating(corpus_id=world.corpus.pk)
    page = client.get(f"/evaluation/corpora/{world.corpus.pk}/").content.decode()
    assert "Calibrating…" not in page and 'http-equiv="refresh"' not in page


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_worker_does_what_the_admin_queued(staff_client, celery_worker):
    cache.clear()
    world, pieces = _evaluated_pieces()
    state = CorpusIndexState.objects.get(corpus=world.corpus)
    before = state.calibrated_at
    assert _evaluate_again(staff_client, pieces).status_code == 200
    staff_client.post(
        "/admin/evaluation/corpusindexstate/",
        {"action": "recalibrate", "_selected_action": [state.pk]},
    )
    wait_for(
        lambda: (
            not PieceEvaluation.objects.filter(
                piece__in=pieces, status=EvaluationStatus.PENDING
            ).exists()
            and not services.corpus_calibrating(corpus_id=world.corpus.pk)
        ),
        timeout=120,
        what="the worker to evaluate and calibrate again",
        worker=celery_worker,
    )
    state.refresh_from_db()
    assert state.calibrated_at and (before is None or state.calibrated_at > before)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_piece_page_fills_in_its_evaluation_when_the_worker_is_done_without_reloading(
    live_server, page: Page
):
    _, pieces = _evaluated_pieces(1)
    piece = pieces[0]
    piece_render(piece=piece)  # its score and audio made: the page has nothing else to wait for
    services.piece_evaluations_queue(piece_ids=[piece.pk])  # as "Evaluate again" does
    page.goto(live_server.url + piece.get_absolute_url())
    expect(page.locator(".eval-panel")).to_contain_text("Being evaluated…")
    page.evaluate("window.__notReloaded = true")
    services.piece_evaluate(piece=piece)  # what the queued task does, on the worker
    expect(page.locator(".eval-panel")).not_to_contain_text("Being evaluated", timeout=TIMEOUT_MS)
    assert page.evaluate("window.__notReloaded === true")  # a playing piece keeps playing
