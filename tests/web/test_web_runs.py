"""Run pages: list, progress, loss curve, checkpoints, epoch samples, and staff actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generator.models import GenerationJob, JobStatus, TrainingRun
from tests.web.builders import make_piece, make_world

pytestmark = pytest.mark.django_db


def test_the_runs_list_shows_every_run_with_status_and_progress(client, world):
    other = make_world(run_name="Second run")
    TrainingRun.objects.filter(pk=other.run.pk).update(
        status=JobStatus.RUNNING, progress=0.5, epochs_done=1
    )
    response = client.get(reverse("run_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Test run" in html and "Second run" in html
    assert "Running" in html and "Succeeded" in html
    assert 'aria-valuenow="50"' in html
    assert "1.067" in html  # the best validation loss of the finished run: 3.2 / 3


def test_the_run_page_shows_curve_checkpoints_samples_hyperparameters_and_provenance(client, world):
    sample_job = GenerationJob.objects.create(
        checkpoint=world.checkpoint, seed=9, is_epoch_sample=True, status=JobStatus.SUCCEEDED
    )
    make_piece(world, job=sample_job, title="What epoch three wrote")
    response = client.get(world.run.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert '<path class="line line-loss"' in html and '<path class="line line-val"' in html
    assert "Loss by epoch" in html
    assert "120.6\xa0KB" in html  # checkpoint size, humanised
    assert "What epoch three wrote" in html and 'id="epoch-3-heading"' in html
    assert "embedding_dim" in html and "samples_per_epoch" in html
    assert "CPU" in html and "test@host" in html and "abc1234" in html
    assert f'data-poll="/runs/{world.run.pk}/status.json"' in html


def test_a_run_that_learned_from_a_second_corpus_first_says_so_epoch_by_epoch(client, world):
    from generator.models import Corpus

    other = Corpus.objects.create(name="Nottingham jigs", way="abc")
    run = world.run
    run.warmup_corpus, run.config = other, {**run.config, "warmup_epochs": 1}
    run.history = [
        {**h, "warmup": h["epoch"] <= 1, "learning_rate": 0.004 if h["epoch"] <= 1 else 0.002}
        for h in run.history
    ]
    run.save()
    html = client.get(run.get_absolute_url()).content.decode()
    assert "learning first from" in html and "Nottingham jigs</a> as well for 1 epoch." in html
    assert "Learned from" in html
    assert html.count("<td>both corpora</td>") == 1
    assert html.count("<td>this run's corpus</td>") == len(run.history) - 1


def test_the_run_status_json_reports_progress_and_the_redrawn_regions(client, world):
    TrainingRun.objects.filter(pk=world.run.pk).update(
        status=JobStatus.RUNNING, progress=0.25, epochs_done=1, epochs=4
    )
    data = client.get(reverse("run_status", args=[world.run.pk])).json()
    assert data["status"] == "running" and data["done"] is False
    assert data["progress"] == 0.25
    assert data["text"]["epochs-done"] == "1" and data["text"]["progress"] == "25%"
    assert "<svg" in data["html"]["chart"]
    assert set(data["html"]) >= {"chart", "samples", "checkpoints", "error", "actions"}


def test_a_queued_run_says_which_run_holds_the_training_worker_until_it_starts(client, world):
    other = make_world(run_name="Second run")
    TrainingRun.objects.filter(pk=other.run.pk).update(
        status=JobStatus.RUNNING, epochs_done=2, epochs=10
    )
    TrainingRun.objects.filter(pk=world.run.pk).update(status=JobStatus.QUEUED)
    html = client.get(world.run.get_absolute_url()).content.decode()
    assert "Waiting for the training worker:" in html
    link = f'<a href="{other.run.get_absolute_url()}">Second run</a>'
    assert f"{link} is training (epoch 2 of 10)" in html
    # The page's poll redraws the note, and drops it once the run is training itself.
    status = reverse("run_status", args=[world.run.pk])
    assert "Second run</a> is training" in client.get(status).json()["html"]["queue"]
    TrainingRun.objects.filter(pk=other.run.pk).update(status=JobStatus.SUCCEEDED)
    assert "to pick it up" in client.get(status).json()["html"]["queue"]
    TrainingRun.objects.filter(pk=world.run.pk).update(status=JobStatus.RUNNING)
    assert "Waiting" not in client.get(status).json()["html"]["queue"]
    assert "Waiting" not in client.get(other.run.get_absolute_url()).content.decode()


def test_a_failed_run_shows_its_error_text_escaped(client, world):
    TrainingRun.objects.filter(pk=world.run.pk).update(
        status=JobStatus.FAILED, error="RuntimeError: <oops>"
    )
    html = client.get(world.run.get_absolute_url()).content.decode()
    assert "RuntimeError: &lt;oops&gt;" in html


def test_a_run_without_history_says_the_curve_comes_later(client, world):
    TrainingRun.objects.filter(pk=world.run.pk).update(history=[])
    html = client.get(world.run.get_absolute_url()).content.decode()
    assert "appears after the first epoch" in html


def test_a_missing_run_is_a_404(client, db):
    assert client.get(reverse("run_detail", args=[31337])).status_code == 404
    assert client.get(reverse("run_status", args=[31337])).status_code == 404


def test_visitors_see_no_cancel_or_resume_buttons_and_cannot_post_them(client, world):
    html = client.get(world.run.get_absolute_url()).content.decode()
    assert "Cancel run" not in html and ">Resume<" not in html
    assert client.post(reverse("run_cancel", args=[world.run.pk])).status_code == 403
    assert client.post(reverse("run_resume", args=[world.run.pk])).status_code == 403


def test_staff_see_cancel_on_an_active_run_and_resume_on_a_stopped_one(staff_client, world):
    TrainingRun.objects.filter(pk=world.run.pk).update(status=JobStatus.RUNNING)
    html = staff_client.get(world.run.get_absolute_url()).content.decode()
    assert "Cancel run" in html and ">Resume<" not in html
    TrainingRun.objects.filter(pk=world.run.pk).update(status=JobStatus.CANCELLED)
    html = staff_client.get(world.run.get_absolute_url()).content.decode()
    assert "Cancel run" not in html and ">Resume<" in html


def test_staff_cancel_a_queued_run(staff_client, world):
    TrainingRun.objects.filter(pk=world.run.pk).update(status=JobStatus.QUEUED)
    response = staff_client.post(reverse("run_cancel", args=[world.run.pk]), follow=True)
    world.run.refresh_from_db()
    assert world.run.status == JobStatus.CANCELLED
    assert "The run is cancelled." in response.content.decode()


def test_staff_cancel_a_running_run_at_the_end_of_its_epoch(staff_client, world):
    TrainingRun.objects.filter(pk=world.run.pk).update(status=JobStatus.RUNNING)
    response = staff_client.post(reverse("run_cancel", args=[world.run.pk]), follow=True)
    world.run.refresh_from_db()
    assert world.run.cancel_requested and world.run.status == JobStatus.RUNNING
    assert "stop at the end of this epoch" in response.content.decode()


def test_cancelling_a_finished_run_shows_the_reason(staff_client, world):
    response = staff_client.post(reverse("run_cancel", args=[world.run.pk]), follow=True)
    assert "Could not cancel: a succeeded run cannot be cancelled" in response.content.decode()


def test_staff_resume_a_cancelled_run_with_more_epochs(staff_client, world):
    TrainingRun.objects.filter(pk=world.run.pk).update(status=JobStatus.CANCELLED)
    response = staff_client.post(
        reverse("run_resume", args=[world.run.pk]), {"epochs": "5"}, follow=True
    )
    world.run.refresh_from_db()
    assert world.run.status == JobStatus.QUEUED and world.run.epochs == 5
    assert "queued again" in response.content.decode()


def test_resuming_a_run_that_finished_its_epochs_shows_the_message(staff_client, world):
    response = staff_client.post(
        reverse("run_resume", args=[world.run.pk]), {"epochs": ""}, follow=True
    )
    html = response.content.decode()
    assert "Could not resume: the run has finished all its epochs" in html
    world.run.refresh_from_db()
    assert world.run.status == JobStatus.SUCCEEDED


def test_run_actions_need_a_post(staff_client, world):
    assert staff_client.get(reverse("run_cancel", args=[world.run.pk])).status_code == 405


def test_staff_choose_a_runs_checkpoint_in_the_admin_and_the_run_page_marks_it(
    client, staff_client, world
):
    first = world.run.checkpoints.get(epoch=1)
    page = client.get(world.run.get_absolute_url()).content.decode()
    assert world.run.chosen_checkpoint == world.checkpoint  # the lowest validation loss
    assert page.count(">chosen</span>") == 1
    url = f"/admin/generator/trainingrun/{world.run.pk}/change/"
    form = staff_client.get(url).content.decode()
    other = make_world(name="Elsewhere")
    assert f'value="{first.pk}"' in form and f'value="{other.checkpoint.pk}"' not in form
    response = staff_client.post(url, {"name": world.run.name, "staff_checkpoint": first.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    world.run.refresh_from_db()
    assert world.run.chosen_checkpoint == first
    assert "Chosen by staff" in client.get(world.run.get_absolute_url()).content.decode()
