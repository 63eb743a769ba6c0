"""Thin Celery tasks: load the row, call one service.

They run on the `default` queue (CPU work, beside imports and rendering): it is
CELERY_TASK_DEFAULT_QUEUE and no route in CELERY_TASK_ROUTES names them, so no routing is needed.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="evaluation.tasks.piece_evaluate_task")
def piece_evaluate_task(piece_id: int) -> None:
    from generator.models import Piece

    from .services import piece_evaluate

    piece = Piece.objects.select_related("run__corpus").filter(pk=piece_id).first()
    if piece is not None:  # deleted since it was queued: nothing to do
        piece_evaluate(piece=piece)


@shared_task(name="evaluation.tasks.job_evaluate_task")
def job_evaluate_task(job_id: int) -> None:
    from generator.models import GenerationJob

    from .services import job_evaluate

    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is not None:
        job_evaluate(job=job)


@shared_task(name="evaluation.tasks.survey_build_clips_task")
def survey_build_clips_task(survey_id: int) -> None:
    from .survey.models import Survey
    from .survey.services import survey_build_clips

    survey = Survey.objects.filter(pk=survey_id).first()
    if survey is not None:  # deleted since it was queued: nothing to do
        survey_build_clips(survey=survey)
