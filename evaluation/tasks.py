"""Thin Celery tasks: load the row, call one service.

They run on the `default` queue (CPU work, beside imports and rendering): it is
CELERY_TASK_DEFAULT_QUEUE and no route in CELERY_TASK_ROUTES names them, so no routing is needed.
Services queue them by name (task_names.py, `common.tasks.send_on_commit`); only this module
imports the services, never the reverse.
"""

from __future__ import annotations

from celery import shared_task

from generator.models import Corpus, GenerationJob, Piece, TrainingRun

from .services import (
    corpus_calibration_measure,
    evaluation_work_recover,
    job_evaluate,
    piece_evaluate,
    run_report_measure,
)
from .survey.models import Survey
from .survey.services import survey_build_clips
from .task_names import (
    CORPUS_CALIBRATE_TASK,
    EVALUATIONS_RECOVER_TASK,
    JOB_EVALUATE_TASK,
    PIECE_EVALUATE_TASK,
    RUN_REPORT_TASK,
    SURVEY_BUILD_TASK,
)


@shared_task(name=PIECE_EVALUATE_TASK)
def piece_evaluate_task(piece_id: int) -> None:
    piece = Piece.objects.select_related("run__corpus").filter(pk=piece_id).first()
    if piece is not None:  # deleted since it was queued: nothing to do
        piece_evaluate(piece=piece)


@shared_task(name=JOB_EVALUATE_TASK)
def job_evaluate_task(job_id: int) -> None:
    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is not None:
        job_evaluate(job=job)


@shared_task(name=SURVEY_BUILD_TASK)
def survey_build_clips_task(survey_id: int) -> None:
    survey = Survey.objects.filter(pk=survey_id).first()
    if survey is not None:  # deleted since it was queued: nothing to do
        survey_build_clips(survey=survey)


@shared_task(name=EVALUATIONS_RECOVER_TASK)
def evaluations_recover_task() -> None:
    # Lost evaluations, calibrations and run report measures (evaluation_work_recover).
    evaluation_work_recover()


@shared_task(name=RUN_REPORT_TASK)
def run_report_task(run_id: int) -> None:
    run = TrainingRun.objects.select_related("corpus").filter(pk=run_id).first()
    if run is not None:  # deleted since it was queued: nothing to do
        run_report_measure(run=run)


@shared_task(name=CORPUS_CALIBRATE_TASK)
def corpus_calibrate_task(corpus_id: int, force: bool = False) -> None:
    corpus = Corpus.objects.filter(pk=corpus_id).first()
    if corpus is not None:  # deleted since it was queued: nothing to do
        corpus_calibration_measure(corpus=corpus, force=force)
