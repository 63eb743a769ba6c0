"""When a worker starts, runs that its previous life owned are put back on the queue."""

from __future__ import annotations

import logging

from celery.signals import worker_ready

log = logging.getLogger(__name__)


@worker_ready.connect
def recover_runs_on_worker_start(sender=None, **kwargs) -> None:
    from .services import training_runs_recover

    hostname = getattr(sender, "hostname", None)
    try:
        training_runs_recover(dead_worker=hostname)
    except Exception:  # the database may not be migrated yet; never stop the worker
        log.exception("could not recover runs at worker start")


@worker_ready.connect
def recover_jobs_on_worker_start(sender=None, **kwargs) -> None:
    # Jobs a killed worker was running fail with a reason now rather than at the next beat.
    from .services import jobs_recover

    try:
        jobs_recover()
    except Exception:  # the database may not be migrated yet; never stop the worker
        log.exception("could not recover jobs at worker start")
