"""A fair survey: a run is heard through its chosen checkpoint only (never its early epochs,
never its training drafts unless staff include them), every listener hears as many human as
machine clips in an order of their own, and the results give each run its own line."""

from __future__ import annotations

from collections import Counter

import pytest

from evaluation.survey import services
from evaluation.survey.models import ClipSource, Survey, SurveyClip
from generator.models import Checkpoint, JobStatus, TrainingRun
from tests.evaluation.helpers import make_piece
from tests.evaluation.survey_builders import make_survey
from tests.factories import make_tiny_corpus

pytestmark = pytest.mark.django_db

REEL = (
    "X:1\nT:{title}\nM:4/4\nL:1/8\nK:D\n"
    + "|: DFAF dfaf | gfed cBAG | FAdA FADF | E2E2 E4 :|\n" * 2
)


def _run_with_epochs(corpus, val_losses: dict[int, float | None]) -> TrainingRun:
    run = TrainingRun.objects.create(
        corpus=corpus, name="fair run", status=JobStatus.SUCCEEDED, epochs=len(val_losses)
    )
    for epoch, val_loss in val_losses.items():
        Checkpoint.objects.create(run=run, epoch=epoch, file="x.keras", val_loss=val_loss)
    return run


def _checkpoint(run: TrainingRun, epoch: int) -> Checkpoint:
    return run.checkpoints.get(epoch=epoch)


def test_a_runs_chosen_checkpoint_is_staffs_choice_else_the_lowest_validation_loss():
    corpus = make_tiny_corpus(name="chosen", tunes=1)
    run = _run_with_epochs(corpus, {1: 2.0, 2: 1.5, 3: 1.8})
    assert run.chosen_checkpoint.epoch == 2  # the lowest validation loss, not the last epoch
    run.staff_checkpoint = _checkpoint(run, 3)
    run.save()
    assert run.chosen_checkpoint.epoch == 3  # staff chose
    without = _run_with_epochs(corpus, {1: None, 2: None})
    assert without.chosen_checkpoint.epoch == 2  # no validation losses: the last one
    assert _run_with_epochs(corpus, {}).chosen_checkpoint is None


@pytest.mark.slow
def test_machine_clips_come_from_the_chosen_checkpoint_only_and_never_from_epoch_samples():
    corpus = make_tiny_corpus(name="fair clips", tunes=1)
    run = _run_with_epochs(corpus, {1: 2.0, 2: 1.5, 3: 1.8})
    early = make_piece(run, text=REEL.format(title="early"), checkpoint=_checkpoint(run, 1))
    best = make_piece(run, text=REEL.format(title="best"), checkpoint=_checkpoint(run, 2))
    draft = make_piece(
        run, text=REEL.format(title="draft"), checkpoint=_checkpoint(run, 2), epoch_sample=True
    )
    last = make_piece(run, text=REEL.format(title="last"), checkpoint=_checkpoint(run, 3))
    survey = Survey.objects.create(title="Fair", clips_per_source=10)
    survey.runs.add(run)
    survey.corpora.add(corpus)

    def machine_pieces() -> set[int]:
        return set(survey.clips.filter(source=ClipSource.MACHINE).values_list("piece", flat=True))

    survey = services.survey_build_clips(survey=survey)
    assert survey.build_status == "done", survey.build_error
    assert machine_pieces() == {best.pk}  # not the early epoch, not the training draft
    assert survey.build_report["checkpoints"] == {f"run {run.pk}": 2}

    survey.include_epoch_samples = True  # staff ask for the drafts too
    survey.save()
    survey = services.survey_build_clips(survey=survey)
    assert machine_pieces() == {best.pk, draft.pk}

    TrainingRun.objects.filter(pk=run.pk).update(staff_checkpoint=_checkpoint(run, 3))
    survey = services.survey_build_clips(survey=survey)
    assert machine_pieces() == {last.pk} and early.pk not in machine_pieces()


def test_a_survey_whose_runs_have_only_training_drafts_fails_its_build_and_says_why():
    corpus = make_tiny_corpus(name="drafts only", tunes=1)
    run = _run_with_epochs(corpus, {1: 2.0})
    make_piece(run, text=REEL.format(title="draft"), epoch_sample=True)
    survey = Survey.objects.create(title="Drafts", clips_per_source=2)
    survey.runs.add(run)
    survey.corpora.add(corpus)
    survey = services.survey_build_clips(survey=survey)
    assert survey.build_status == "failed"
    assert "No machine clips" in survey.build_error
    assert "include epoch samples" in survey.build_error


def test_every_listener_hears_as_many_human_as_machine_clips_in_an_order_of_their_own():
    survey = make_survey(render=False, tunes=6, pieces=3, clips_per_listener=10)
    firsts = Counter()
    for _ in range(12):
        listener = services.listener_start(survey=survey)
        sources = list(
            listener.assignments.order_by("position").values_list("clip__source", flat=True)
        )
        # 5 a side were asked, the run has 3 clips: 3 a side, never 6 human and 3 machine.
        assert Counter(sources) == {ClipSource.HUMAN: 3, ClipSource.MACHINE: 3}
        firsts[sources[0]] += 1
    assert set(firsts) == {ClipSource.HUMAN, ClipSource.MACHINE}  # not humans first always


def test_an_odd_number_of_clips_per_listener_gives_equal_halves():
    survey = make_survey(render=False, tunes=4, pieces=4, clips_per_listener=5)
    listener = services.listener_start(survey=survey)
    sources = Counter(listener.assignments.values_list("clip__source", flat=True))
    assert sources == {ClipSource.HUMAN: 2, ClipSource.MACHINE: 2}


def test_a_survey_with_clips_of_one_side_only_takes_no_listener_and_stores_nothing():
    survey = make_survey(render=False, tunes=3, pieces=2)
    survey.clips.filter(source=ClipSource.HUMAN).delete()
    with pytest.raises(services.SurveyError):
        services.listener_start(survey=survey)
    assert not survey.listeners.exists()


def test_the_results_give_each_run_its_checkpoint_and_its_own_line_on_the_page_and_api(
    staff_client,
):
    survey = make_survey(render=False, tunes=4, pieces=2, clips_per_listener=4)
    first = survey.runs.get()
    second = _run_with_epochs(first.corpus, {1: 3.0, 2: 2.5})
    second.name = "second fair run"
    second.save()
    for title in ("a", "b"):
        piece = make_piece(second, text=REEL.format(title=title))
        SurveyClip.objects.create(
            survey=survey,
            token=services.new_token(),
            source=ClipSource.MACHINE,
            way="abc",
            piece=piece,
            run=second,
            checkpoint=piece.checkpoint,
            bars=8,
            seconds=16.0,
        )
    survey.runs.add(second)
    for _ in range(4):
        listener = services.listener_start(survey=survey)
        for assignment in listener.assignments.select_related("clip"):
            services.response_record(
                listener=listener,
                clip_token=assignment.clip.token,
                answer=services.Answer("computer", 3, 3, 3),
            )
    data = staff_client.get(f"/api/v1/surveys/{survey.pk}/results/").json()
    runs = {r["id"]: r for r in data["runs"]}
    assert set(runs) == {first.pk, second.pk}
    assert runs[second.pk]["epochs"] == [2] and runs[second.pk]["clips"] == 2
    assert runs[first.pk]["epoch_sample_clips"] == 0
    answers = sum(r["results"]["n"] for r in runs.values())
    assert answers == 8  # the machine half of 16 answers, each counted under its run once
    assert all(r["results"]["correct"]["rate"] == 1.0 for r in runs.values() if r["results"]["n"])

    html = staff_client.get(f"/survey/{survey.pk}/results/").content.decode()
    assert "By run" in html and "second fair run" in html and "epoch 2" in html
