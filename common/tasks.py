"""Queueing Celery tasks from services, by the task's registered name.

A task is an interface, like a view: it loads its row and calls one service, so each app's
`tasks` module imports its services. A service that queues more work (start a run, render a
new piece) therefore must not import the tasks module back: that would be a cycle, and an
arrow pointing up from services to an interface. It names the task instead, by the name the
task is registered under (`@shared_task(name=...)`, the same names CELERY_TASK_ROUTES, the
beat schedule and the logs use), and `send_on_commit` looks it up in Celery's registry.

Looking the name up in the registry, rather than `send_task(name)`, keeps everything a task
object does: a wrong name fails at once with KeyError instead of sending a message no worker
knows, CELERY_TASK_ALWAYS_EAGER still runs the task in this process, and tests can replace a
task's `delay`. Each app's AppConfig.ready imports its tasks module, so every process (web,
worker, command) has them registered.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction


def send_on_commit(name: str, *args: Any, countdown: float = 0.0) -> None:
    """Queue the task registered as `name` with `args` once the current transaction commits
    (at once outside a transaction), so the worker finds the rows it is given; with a
    `countdown` (seconds), to run no sooner than that after it is sent."""
    task = current_app.tasks[name]  # KeyError now, not a lost message later
    if countdown > 0:
        transaction.on_commit(lambda: task.apply_async(args, countdown=countdown))
    else:
        transaction.on_commit(lambda: task.delay(*args))


def send_now(name: str, *args: Any) -> None:
    """Queue the task registered as `name` at once (recovery sweeps: no transaction)."""
    current_app.tasks[name].delay(*args)
