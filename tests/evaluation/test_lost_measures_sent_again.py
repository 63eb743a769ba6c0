"""A corpus calibration or a run report measure whose message was lost (a worker killed
while holding it, a broker restarted) is sent again by the beat's evaluation sweep once it
has waited JOB_LOST_AFTER_S with no message in a queue and none held by a worker: its page
says "being calibrated" or "measuring" for about a minute and a half, not a quarter of an
hour. Real Redis broker: the sweep reads its queues and asks its workers."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery import current_app
from django.core.cache import cache
from django.utils import timezone

from evaluation import services
from evaluation.models import ReportState, RunReport
from evaluation.task_names import CORPUS_CALIBRATE_TASK, RUN_REPORT_TASK
from generator.services import waiting_rows
from tests.web.builders import make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker():
    """The test's Redis broker with its queues emptied before and after."""
    cache.clear()
    current_app.control.purge()
    yield
    current_app.control.purge()
    cache.clear()


def _age_mark(corpus_id: int, seconds: float) -> None:
    key = f"evaluation:calibrating:{corpus_id}"
    mark = cache.get(key)
    cache.set(key, {**mark, "since": mark["since"] - seconds}, timeout=600)


def test_a_lost_calibration_is_sent_again_after_a_short_wait_and_only_once(broker, settings):
    settings.JOB_LOST_AFTER_S = 30
    corpus = make_world().corpus
    # A page asks for a calibration; its message is sent only when the transaction commits,
    # which a test's never does: the message is lost, as with a killed worker.
    _, _, calibrating = services.corpus_calibration_stored(corpus=corpus)
    assert calibrating and services.corpus_calibrating(corpus_id=corpus.pk)
    assert waiting_rows((CORPUS_CALIBRATE_TASK,))[CORPUS_CALIBRATE_TASK] == set()
    assert services.calibrations_recover() == []  # just asked for: maybe still on its way
    _age_mark(corpus.pk, 31)
    assert services.calibrations_recover() == [corpus.pk]
    assert waiting_rows((CORPUS_CALIBRATE_TASK,))[CORPUS_CALIBRATE_TASK] == {corpus.pk}
    assert services.corpus_calibrating(corpus_id=corpus.pk)  # the page still says so, rightly
    _age_mark(corpus.pk, 31)
    assert services.calibrations_recover() == []  # its message waits in the queue now


def test_a_lost_forced_calibration_is_sent_again_forced(broker, settings, monkeypatch):
    settings.JOB_LOST_AFTER_S = 30
    corpus = make_world().corpus
    services.corpus_calibration_queue(corpus=corpus)  # staff's "Calibrate again", lost
    current_app.control.purge()
    _age_mark(corpus.pk, 31)
    sent: list[tuple] = []
    monkeypatch.setattr(
        current_app.tasks[CORPUS_CALIBRATE_TASK], "delay", lambda *a: sent.append(a)
    )
    assert services.calibrations_recover() == [corpus.pk]
    assert sent == [(corpus.pk, True)]


def test_a_finished_calibration_leaves_nothing_for_the_sweep(broker, settings):
    settings.JOB_LOST_AFTER_S = 0
    corpus = make_world().corpus
    services.corpus_calibration_stored(corpus=corpus)
    services.corpus_calibration_measure(corpus=corpus)  # what the task does
    assert not services.corpus_calibrating(corpus_id=corpus.pk)
    assert services.calibrations_recover() == []


def test_a_lost_run_report_measure_is_sent_again_after_a_short_wait(broker, settings):
    settings.JOB_LOST_AFTER_S = 30
    run = make_world().run
    services.run_report_get(run=run)  # a page asks; the message is lost with the transaction
    assert RunReport.objects.get(run=run).state == ReportState.MEASURING
    assert services.run_reports_recover() == []
    RunReport.objects.filter(run=run).update(requested_at=timezone.now() - timedelta(seconds=31))
    assert services.run_reports_recover() == [run.pk]
    assert waiting_rows((RUN_REPORT_TASK,))[RUN_REPORT_TASK] == {run.pk}
    row = RunReport.objects.get(run=run)
    assert row.state == ReportState.MEASURING and row.requested_at > timezone.now() - timedelta(
        seconds=5
    )
    RunReport.objects.filter(run=run).update(requested_at=timezone.now() - timedelta(seconds=31))
    assert services.run_reports_recover() == []  # waiting in the queue: not sent twice


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_worker_calibrates_a_corpus_whose_calibration_was_lost(settings, celery_worker):
    from tests.factories import wait_for

    settings.JOB_LOST_AFTER_S = 0
    cache.clear()
    corpus = make_world().corpus
    key = f"evaluation:calibrating:{corpus.pk}"
    cache.set(key, {"since": time.time() - 60, "force": False}, timeout=600)  # no message
    assert services.calibrations_recover() == [corpus.pk]
    wait_for(
        lambda: not services.corpus_calibrating(corpus_id=corpus.pk),
        timeout=120,
        what="the worker to calibrate the corpus",
        worker=celery_worker,
    )
    state, cal, calibrating = services.corpus_calibration_stored(corpus=corpus)
    assert state is not None and state.calibrated_at is not None and cal
