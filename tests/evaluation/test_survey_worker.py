"""Staff build a survey's clips from the admin: the action queues a task on commit and the
real worker renders the clips."""

from __future__ import annotations

import pytest

from evaluation.survey.models import Survey
from tests.evaluation.survey_builders import make_machine_run
from tests.factories import make_tiny_corpus, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_admin_action_builds_the_clips_in_the_worker(celery_worker, staff_client):
    assert staff_client.get("/admin/evaluation/survey/add/").status_code == 200
    corpus = make_tiny_corpus(name="survey worker", tunes=2)
    run, _ = make_machine_run(corpus, pieces=2)
    survey = Survey.objects.create(title="Built by the worker", clips_per_source=2)
    survey.runs.add(run)
    survey.corpora.add(corpus)
    assert not survey.is_open()  # not built yet: no listener may start

    response = staff_client.post(
        "/admin/evaluation/survey/",
        {"action": "build_clips", "_selected_action": [survey.pk]},
        follow=True,
    )
    assert response.status_code == 200 and b"Queued the clips of 1 surveys" in response.content
    done = wait_for(
        lambda: Survey.objects.filter(pk=survey.pk, build_status__in=["done", "failed"]).first(),
        timeout=120,
        what="the survey's clips",
        worker=celery_worker,
    )
    assert done.build_status == "done", (done.build_error, done.build_report)
    assert done.build_report["made"] == {f"run {run.pk}": 2, f"corpus {corpus.pk}": 2}
    assert sorted(done.clips.values_list("source", flat=True)) == ["human"] * 2 + ["machine"] * 2
    assert all(clip.audio and clip.bars >= survey.min_bars for clip in done.clips.all())
    assert done.is_open()
    page = staff_client.get(f"/admin/evaluation/survey/{survey.pk}/change/")
    assert page.status_code == 200 and done.clips.first().token.encode() in page.content
