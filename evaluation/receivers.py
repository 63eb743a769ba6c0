"""How evaluation reacts to generator's work. EvaluationConfig.ready imports this module,
which connects the receivers.

evaluation depends on generator and not the reverse, so generator does not call evaluation
when it stores new pieces: it sends `generator.signals.generation_job_succeeded` once the
pieces are committed, and the receiver here queues their evaluation (novelty, idiom and
features against the corpus, on the workers' default queue).
"""

from __future__ import annotations

from django.dispatch import receiver

from generator.models import GenerationJob
from generator.signals import generation_job_succeeded

from . import services


@receiver(generation_job_succeeded, sender=GenerationJob, dispatch_uid="evaluate_new_pieces")
def evaluate_new_pieces(sender, *, job: GenerationJob, **kwargs) -> None:
    services.job_evaluate_queue(job=job)
