"""Early stopping and the large preset as run options: the admin form, the API and a run
that stops by itself."""

import pytest

from generator.models import JobStatus, TrainingRun
from generator.services import (
    generation_job_create,
    generation_job_execute,
    training_run_execute,
    training_run_resume,
)
from tests.factories import make_run

pytestmark = [pytest.mark.django_db]

ADD = "/admin/generator/trainingrun/add/"


def run_form(corpus, **fields):
    return {
        "name": "stops early",
        "corpus": corpus.pk,
        "way": "abc",
        "preset": "tiny",
        "epochs": 40,
        "seed": 0,
        "config": "{}",
        **fields,
    }


def added_on_the_form(staff_client, corpus, **fields) -> TrainingRun:
    """The run staff add on the admin's form with these fields."""
    response = staff_client.post(ADD, run_form(corpus, **fields))
    assert response.status_code == 302, response.content.decode()[-2000:]
    return TrainingRun.objects.get(name=fields["name"])


def trained(run: TrainingRun, *, epochs: int) -> TrainingRun:
    """The run queued and trained here for `epochs` epochs."""
    TrainingRun.objects.filter(pk=run.pk).update(status=JobStatus.QUEUED, epochs=epochs)
    run = training_run_execute(run_id=run.pk, worker="here")
    assert run.status == JobStatus.SUCCEEDED, run.error
    return run


def test_staff_pick_the_large_preset_and_a_patience_on_the_admin_run_form(
    tiny_corpus, staff_client
):
    response = staff_client.post(
        ADD, run_form(tiny_corpus, preset="large", early_stopping_patience=3)
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = TrainingRun.objects.get(name="stops early")
    assert run.preset == "large" and run.config["units"] == [512, 512, 512]
    assert run.config["early_stopping_patience"] == 3
    # Left empty, the preset's own patience holds.
    staff_client.post(ADD, run_form(tiny_corpus, name="default patience", preset="large"))
    assert TrainingRun.objects.get(name="default patience").config["early_stopping_patience"] == 5


def test_a_negative_patience_is_refused_on_the_admin_form_and_no_run_is_made(
    tiny_corpus, staff_client
):
    response = staff_client.post(ADD, run_form(tiny_corpus, early_stopping_patience=-1))
    assert response.status_code == 200 and "early_stopping_patience" in response.content.decode()
    assert not TrainingRun.objects.exists()


@pytest.mark.slow
def test_a_resumed_run_whose_validation_loss_had_stalled_stops_early_and_says_so(tiny_corpus):
    run = training_run_execute(run_id=make_run(tiny_corpus, epochs=3).pk, worker="here")
    assert run.status == JobStatus.SUCCEEDED, run.error
    # As if its last two epochs had brought no lower validation loss, with a patience of 2.
    history = [dict(h, val_loss=v) for h, v in zip(run.history, (2.0, 2.5, 2.6), strict=True)]
    TrainingRun.objects.filter(pk=run.pk).update(
        history=history, config={**run.config, "early_stopping_patience": 2}
    )
    run = training_run_resume(run=TrainingRun.objects.get(pk=run.pk), epochs=10)
    run = training_run_execute(run_id=run.pk, worker="here")
    assert run.status == JobStatus.SUCCEEDED and run.outcome == "stopped early"
    assert run.epochs_done == 3 and run.checkpoints.count() == 3  # nothing more trained


def test_staff_set_a_learning_rate_cut_on_the_admin_form_and_the_run_page_lists_each_epochs_rate(
    tiny_corpus, staff_client
):
    run = added_on_the_form(staff_client, tiny_corpus, name="cuts its rate", lr_plateau_patience=1)
    assert run.config["lr_plateau_patience"] == 1 and run.config["lr_plateau_cuts"] == 3
    run = trained(run, epochs=3)
    rates = [h["learning_rate"] for h in run.history]
    assert rates[0] == run.config["learning_rate"] and len(rates) == 3
    page = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert "Learning rate" in page and f">{rates[0]:g}<" in page


def test_a_learning_rate_cut_that_is_not_a_whole_number_is_refused_and_no_run_is_made(
    tiny_corpus, staff_client
):
    response = staff_client.post(ADD, run_form(tiny_corpus, lr_plateau_patience="two"))
    assert response.status_code == 200 and "whole number" in response.content.decode().lower()
    assert not TrainingRun.objects.exists()


def test_the_run_page_marks_the_epochs_that_began_at_a_halved_learning_rate(
    tiny_corpus, staff_client
):
    run = make_run(tiny_corpus, epochs=4)
    rates = (0.01, 0.01, 0.005, 0.0025)
    history = [
        {"epoch": e, "loss": 2.0 - e / 10, "val_loss": 2.1, "seconds": 1.0, "learning_rate": r}
        for e, r in enumerate(rates, start=1)
    ]
    TrainingRun.objects.filter(pk=run.pk).update(history=history, epochs_done=4)
    page = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert page.count('class="lr-cut"') == 2
    assert "Epoch 3: learning rate halved to 0.005" in page
    assert "Epoch 4: learning rate halved to 0.0025" in page
    assert "learning rate halved</span>" in page  # the legend names the marks

    # A run without cuts (or trained before rates were recorded) has neither.
    TrainingRun.objects.filter(pk=run.pk).update(
        history=[{k: v for k, v in h.items() if k != "learning_rate"} for h in history]
    )
    page = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert 'class="lr-cut"' not in page and "learning rate halved" not in page


def test_staff_give_a_run_a_look_back_on_the_admin_form_and_its_checkpoints_generate_tunes(
    tiny_corpus, staff_client
):
    run = added_on_the_form(staff_client, tiny_corpus, name="looks back", look_back_heads=2)
    assert run.config["look_back_heads"] == 2 and run.config["look_back_dim"] == 32
    run = trained(run, epochs=2)
    checkpoint = run.checkpoints.order_by("epoch").last()
    options = dict(count=2, seed=5, max_length=300, grammar=True, takes=2, enqueue=False)
    first = generation_job_execute(
        job_id=generation_job_create(checkpoint=checkpoint, **options).pk
    )
    again = generation_job_execute(
        job_id=generation_job_create(checkpoint=checkpoint, **options).pk
    )
    assert first.status == again.status == JobStatus.SUCCEEDED, first.error
    texts = [p.text for p in first.pieces.order_by("index")]
    assert len(texts) == 2 and all(texts)
    assert texts == [p.text for p in again.pieces.order_by("index")]
    page = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert "look_back_heads" in page


def test_a_look_back_beyond_sixteen_heads_is_refused_on_the_admin_form_and_no_run_is_made(
    tiny_corpus, staff_client
):
    response = staff_client.post(ADD, run_form(tiny_corpus, look_back_heads=17))
    assert response.status_code == 200
    assert not TrainingRun.objects.exists()
