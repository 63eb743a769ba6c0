"""How evaluation reacts to generator's work. EvaluationConfig.ready imports this module,
which connects the receivers.

evaluation depends on generator and not the reverse, so generator does not call evaluation
when it stores new pieces: it sends `generator.signals.generation_job_succeeded` once the
pieces are committed, and the receiver here queues their evaluation (novelty, idiom and
features against the corpus, on the workers' default queue). When a training run finishes,
its report is measured (a task on the default queue), so its page is ready when visited.
"""

from __future__ import annotations

from django.dispatch import receiver

from generator.models import GenerationJob, TrainingRun
from generator.signals import generation_job_succeeded, training_run_finished

from . import services


@receiver(generation_job_succeeded, sender=GenerationJob, dispatch_uid="evaluate_new_pieces")
def evaluate_new_pieces(sender, *, job: GenerationJob, **kwargs) -> None:
    services.job_evaluate_queue(job=job)


@receiver(training_run_finished, sender=TrainingRun, dispatch_uid="measure_finished_run")
def measure_finished_run(sender, *, run: TrainingRun, **kwargs) -> None:
    services.run_report_request(run=run)
