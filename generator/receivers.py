"""Receivers of Celery's signals: when a worker starts, runs that its previous life owned are
put back on the queue, and its processes stop writing the sampling loop's numba cache.
Connected by GeneratorConfig.ready. (The signals generator itself sends are in
generator/signals.py.)"""

from __future__ import annotations

import logging

from celery.signals import worker_init, worker_process_init, worker_ready

from .services import jobs_recover, training_runs_recover

log = logging.getLogger(__name__)


@worker_ready.connect
def recover_runs_on_worker_start(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", None)
    try:
        training_runs_recover(dead_worker=hostname)
    except Exception:  # the database may not be migrated yet; never stop the worker
        log.exception("could not recover runs at worker start")


@worker_ready.connect
def recover_jobs_on_worker_start(sender=None, **kwargs) -> None:
    # Jobs a killed worker was running fail with a reason now rather than at the next beat.
    try:
        jobs_recover()
    except Exception:  # the database may not be migrated yet; never stop the worker
        log.exception("could not recover jobs at worker start")


@worker_init.connect
@worker_process_init.connect
def numba_cache_read_only(**kwargs) -> None:
    # Every process that samples (the pool's children; the worker itself with the solo pool)
    # reads the loop's cache that setup compiled and never writes it: a function compiled
    # here over helpers loaded from that cache would be cached broken (docs/operations.md).
    from musiclib.ml import fastloop

    fastloop.cache_read_only()
