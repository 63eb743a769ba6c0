"""Building a survey's clips: unplayable or short pieces are skipped with a reason, and a
rebuild keeps the clips that have answers and replaces the others (files included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.survey import services
from evaluation.survey.models import Survey
from tests.evaluation.helpers import make_piece
from tests.evaluation.survey_builders import make_machine_run
from tests.factories import make_tiny_corpus

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_a_rebuild_keeps_answered_clips_and_skips_what_cannot_be_a_clip(settings):
    corpus = make_tiny_corpus(name="survey build", tunes=2)
    run, pieces = make_machine_run(corpus, pieces=1)
    broken = make_piece(run, text="X:1\nT:Nothing\nK:C\n")  # no notes: abc2midi writes none
    tiny = make_piece(run, text="X:1\nT:Short\nM:4/4\nL:1/4\nK:C\nC D E F | G A B c |\n")
    survey = Survey.objects.create(title="Build", clips_per_source=5)
    survey.runs.add(run)
    survey.corpora.add(corpus)

    survey = services.survey_build_clips(survey=survey)
    assert survey.build_status == "done"
    assert survey.build_report["made"] == {f"run {run.pk}": 1, f"corpus {corpus.pk}": 2}
    skipped = {s["id"]: s["reason"] for s in survey.build_report["skipped"]}
    assert set(skipped) == {broken.pk, tiny.pk}
    assert "2 bars" in skipped[tiny.pk] and skipped[broken.pk]
    clips = {c.token: c for c in survey.clips.all()}
    files = {t: Path(settings.MEDIA_ROOT, c.audio.name) for t, c in clips.items()}
    assert all(f.is_file() for f in files.values())

    listener = services.listener_start(survey=survey)
    answered = listener.assignments.first().clip
    services.response_record(
        listener=listener, clip_token=answered.token, answer=services.Answer("human", 1, 2, 3)
    )
    survey = services.survey_build_clips(survey=survey)
    after = {c.token: c for c in survey.clips.all()}
    assert answered.token in after  # kept, with its answer
    assert len(after) == 3 and set(after) & set(clips) == {answered.token}
    assert sorted(c.piece_id or -c.tune_id for c in after.values()) == sorted(
        c.piece_id or -c.tune_id for c in clips.values()
    )  # the same sources, each once
    assert all(not files[t].exists() for t in clips if t != answered.token)
    assert answered.responses.count() == 1
