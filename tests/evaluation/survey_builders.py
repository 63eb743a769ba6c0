"""Builders for the survey tests: a small human corpus, "machine" pieces, and surveys.

The machine pieces are real Piece rows of a run (with a checkpoint row, no training: the
survey only needs their text); their ABC is a human tune's melody shuffled note by note, as
the evaluation tests do, with a title that must never reach a listener.
"""

from __future__ import annotations

import numpy as np

from evaluation.survey.models import ClipSource, Survey, SurveyClip
from evaluation.survey.services import new_token, survey_build_clips
from generator.models import Checkpoint, JobStatus, Piece, TrainingRun
from musiclib.metrics.melody import notes_from_text
from tests.evaluation.helpers import make_piece, notes_to_abc
from tests.factories import make_tiny_corpus

MACHINE_TITLE = "Machine Reel Number Nine"


def make_machine_run(corpus, *, pieces: int, seed: int = 1) -> tuple[TrainingRun, list[Piece]]:
    run = TrainingRun.objects.create(
        corpus=corpus, name="survey test run", status=JobStatus.SUCCEEDED, epochs=1
    )
    Checkpoint.objects.create(run=run, epoch=1, file="checkpoints/none.keras")
    rng = np.random.default_rng(seed)
    made = []
    for tune in corpus.tunes.order_by("pk")[:pieces]:
        notes = notes_from_text(text=tune.text, way="abc")[:64]
        shuffled = [notes[i] for i in rng.permutation(len(notes))]
        made.append(make_piece(run, text=notes_to_abc(shuffled, title=MACHINE_TITLE)))
    return run, made


def make_survey(*, tunes: int = 6, pieces: int = 3, render: bool = True, **fields) -> Survey:
    """A survey over a run of `pieces` machine pieces and a corpus of `tunes` O'Neill tunes.

    render=True builds the clips through the service (FluidSynth, a few seconds each);
    render=False makes clip rows without audio, for tests of the flow and the statistics.
    """
    corpus = make_tiny_corpus(name=f"survey corpus {new_token()[:6]}", tunes=tunes)
    run, machine = make_machine_run(corpus, pieces=pieces)
    fields.setdefault("clips_per_source", max(tunes, pieces))
    survey = Survey.objects.create(title="Person or machine?", **fields)
    survey.runs.add(run)
    survey.corpora.add(corpus)
    if render:
        survey = survey_build_clips(survey=survey)
        assert survey.build_status == "done", (survey.build_error, survey.build_report)
    else:
        for piece in machine:
            SurveyClip.objects.create(
                survey=survey,
                token=new_token(),
                source=ClipSource.MACHINE,
                way="abc",
                piece=piece,
                run=run,
                checkpoint=piece.checkpoint,
                bars=8,
                seconds=16.0,
            )
        for tune in corpus.tunes.order_by("pk")[:tunes]:
            SurveyClip.objects.create(
                survey=survey,
                token=new_token(),
                source=ClipSource.HUMAN,
                way="abc",
                tune=tune,
                corpus=corpus,
                bars=8,
                seconds=16.0,
            )
        Survey.objects.filter(pk=survey.pk).update(build_status="done")
        survey.refresh_from_db()
    return survey
