"""The verbs of the site. Views, admin actions, API views and tasks call these and only these.

Functions are keyword-only and named <entity>_<action>. Anything queued to Celery is queued
after the surrounding transaction commits.
"""

from .allowance import Allowance, generation_allowance
from .corpora import corpus_get_or_create, corpus_import
from .pieces import (
    PrimerError,
    audio_prime_encode,
    generation_job_create,
    generation_job_execute,
    piece_render_audio,
    prime_split,
    primer_build,
)
from .recovery import jobs_recover, lost_work_recover, queued_recover
from .runs import (
    training_run_cancel,
    training_run_create,
    training_run_execute,
    training_run_resume,
    training_run_start,
    training_runs_recover,
)

__all__ = [
    "Allowance",
    "generation_allowance",
    "PrimerError",
    "audio_prime_encode",
    "corpus_get_or_create",
    "corpus_import",
    "generation_job_create",
    "generation_job_execute",
    "jobs_recover",
    "lost_work_recover",
    "piece_render_audio",
    "prime_split",
    "primer_build",
    "queued_recover",
    "training_run_cancel",
    "training_run_create",
    "training_run_execute",
    "training_run_resume",
    "training_run_start",
    "training_runs_recover",
]
