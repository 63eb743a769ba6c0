"""Parse many files or tunes on every core, safely from any process.

The ways' parsers (music21 above all) are CPU bound, so corpus imports spread them over a
process pool. How the pool starts matters: `fork` is the cheapest, but forking a process that
runs other threads (TensorFlow's pools, a Celery or kombu connection's threads, a test
server) copies locks those threads may hold, and a child can wait on one forever. That hung
the test suite twice. Such processes start their workers from a clean `forkserver` instead.
Workers must be module-level functions of Django-free modules (the ways), since a
forkserver child imports them afresh.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def cpu_count() -> int:
    """Cores this process may use (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def map_processes(
    jobs: Iterable[T],
    *,
    worker: Callable[[T], R],
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """`[worker(job) for job in jobs]`, in order, on `processes` cores (default: all); in this
    process when there is one core, few jobs, or no pool can be made (a daemonic Celery
    child may not have children)."""
    jobs = list(jobs)
    n = processes if processes is not None else cpu_count()
    results: list[R] = []
    if n > 1 and len(jobs) > 4:
        import multiprocessing
        import sys
        import threading
        from concurrent.futures import ProcessPoolExecutor

        threaded = threading.active_count() > 1 or "tensorflow" in sys.modules
        context = multiprocessing.get_context("forkserver" if threaded else "fork")
        try:
            with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
                chunk = max(1, min(32, len(jobs) // (n * 8)))
                for res in pool.map(worker, jobs, chunksize=chunk):
                    results.append(res)
                    if progress:
                        progress(len(results), len(jobs))
            return results
        except (AssertionError, OSError, RuntimeError):
            # "daemonic processes are not allowed to have children": work here instead.
            results = []
    for job in jobs:
        results.append(worker(job))
        if progress:
            progress(len(results), len(jobs))
    return results
