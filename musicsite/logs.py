"""Structured logs: JSON lines (LOG_FORMAT=json) that carry the Celery task and the run or
job it works on.

A Celery `task_prerun` handler stores the task's name, id and first argument (the row id
every task here takes) in a context variable; `ContextFilter` copies them onto every log
record made while the task runs, so `grep '"run_id": 12'` finds everything run 12 logged,
from the trainer as well as from Celery.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime
from typing import Any

# Which row the first argument of each task is.
TASK_ID_FIELDS = {
    "generator.tasks.training_run_task": "run_id",
    "generator.tasks.generation_job_task": "job_id",
    "generator.tasks.corpus_import_task": "import_job_id",
    "generator.tasks.piece_render_task": "piece_id",
}
log_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "musicsite_log_context", default=None
)


def context_for_task(name: str, task_id: str | None, args: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {"task": name, "task_id": task_id}
    field = TASK_ID_FIELDS.get(name)
    if field is None and name.startswith("evaluation."):
        field = "object_id"
    if field and args:
        ctx[field] = args[0]
    return ctx


class ContextFilter(logging.Filter):
    """Adds the current task context (task, task_id, run_id/job_id/...) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = log_context.get() or {}
        record.context = ctx
        for key, value in ctx.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, task context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        entry.update(getattr(record, "context", None) or {})
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def connect_celery_signals() -> None:
    """Called by musicsite.celery: set and clear the context around every task."""
    from celery.signals import task_postrun, task_prerun

    tokens: dict[str, contextvars.Token] = {}

    @task_prerun.connect(weak=False)
    def _set(task_id=None, task=None, args=None, **_: Any) -> None:
        tokens[task_id] = log_context.set(context_for_task(task.name, task_id, args))

    @task_postrun.connect(weak=False)
    def _clear(task_id=None, **_: Any) -> None:
        token = tokens.pop(task_id, None)
        if token is not None:
            log_context.reset(token)
