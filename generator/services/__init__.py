"""The verbs of the site. Views, admin actions, API views and tasks call these and only these.

Functions are keyword-only and named <entity>_<action>. Anything queued to Celery is queued
after the surrounding transaction commits. A refusal is a `ServiceError` (common/errors.py)
naming the input it is about, so pages, API, admin and commands show it by its field without
reading its message.
"""

from common.errors import ServiceError, UploadTooLarge

from .allowance import (
    Allowance,
    AllowanceExceeded,
    generation_allowance,
    generation_allowance_take,
    generation_requesters_prune,
)
from .corpora import corpus_get_or_create, corpus_import
from .imports import import_job_check, import_job_create, import_roots
from .moves import checkpoint_moves
from .pieces import (
    generation_job_check,
    generation_job_create,
    generation_job_execute,
    generation_tables_replay,
    generation_worker_settle,
    piece_render,
    piece_render_audio,
    piece_reproduce,
)
from .primes import (
    GenerationPrime,
    PrimerError,
    audio_prime_encode,
    generation_prime_build,
    prime_split,
    primer_build,
)
from .recovery import (
    jobs_recover,
    lost_work_recover,
    queued_recover,
    waiting_rows,
    worker_tasks,
)
from .renders import (
    corpus_tunes_render,
    corpus_tunes_render_queue,
    piece_audio_get,
    piece_files_preparing,
    piece_musicxml_get,
    piece_render_request,
    piece_spectrogram_get,
    tune_audio_get,
    tune_files_preparing,
    tune_musicxml_get,
    tune_render,
    tune_render_request,
)
from .runs import (
    run_critic_fit,
    run_moves_fit,
    training_run_cancel,
    training_run_check,
    training_run_create,
    training_run_execute,
    training_run_resume,
    training_run_start,
    training_runs_recover,
)

__all__ = [
    "checkpoint_moves",
    "run_critic_fit",
    "run_moves_fit",
    "waiting_rows",
    "worker_tasks",
    "Allowance",
    "AllowanceExceeded",
    "GenerationPrime",
    "PrimerError",
    "ServiceError",
    "UploadTooLarge",
    "audio_prime_encode",
    "corpus_get_or_create",
    "corpus_import",
    "corpus_tunes_render",
    "corpus_tunes_render_queue",
    "generation_allowance",
    "generation_allowance_take",
    "generation_requesters_prune",
    "generation_job_check",
    "generation_job_create",
    "generation_job_execute",
    "generation_tables_replay",
    "generation_worker_settle",
    "generation_prime_build",
    "import_job_check",
    "import_job_create",
    "import_roots",
    "jobs_recover",
    "lost_work_recover",
    "piece_audio_get",
    "piece_files_preparing",
    "piece_musicxml_get",
    "piece_spectrogram_get",
    "piece_render",
    "piece_render_audio",
    "piece_render_request",
    "piece_reproduce",
    "prime_split",
    "primer_build",
    "queued_recover",
    "training_run_cancel",
    "tune_audio_get",
    "tune_files_preparing",
    "tune_musicxml_get",
    "tune_render",
    "tune_render_request",
    "training_run_check",
    "training_run_create",
    "training_run_execute",
    "training_run_resume",
    "training_run_start",
    "training_runs_recover",
]
