"""GET /ops/: the Celery facts a staff member looks for (Flower is not installed).

Workers online with their active and reserved tasks, the length of each queue, runs and jobs
in flight, and the most recent failures with their reasons. Staff only; read-only.

Asking the workers is a broadcast that waits settings.HEALTH_TIMEOUT_S for replies, so the
page answers without it and its script fetches GET /ops/workers/ (`?workers=1` asks inline,
for a browser without JavaScript).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from generator.models import ACTIVE_STATUSES, GenerationJob, ImportJob, JobStatus, TrainingRun

QUEUES = settings.WORK_QUEUES
RECENT_FAILURES = 20


def _workers() -> tuple[list[dict[str, Any]], str]:
    from musicsite.celery import app

    try:
        # A fresh connection, as /health/ uses: a pooled one may have been cut by a broker
        # restart since its last use.
        with app.connection_for_write() as conn:
            # A broadcast to workers nobody has counted waits its whole timeout for replies:
            # one such wait finds the workers that are up ...
            everyone = app.control.inspect(timeout=settings.HEALTH_TIMEOUT_S, connection=conn)
            queues = everyone.active_queues() or {}
            active, reserved = {}, {}
            if queues:
                # ... then the two questions to exactly those workers return as soon as each
                # has answered (the page took three timeouts, 3 s, when it asked all three).
                named = app.control.inspect(
                    destination=sorted(queues),
                    limit=len(queues),
                    timeout=settings.HEALTH_TIMEOUT_S,
                    connection=conn,
                )
                active = named.active() or {}
                reserved = named.reserved() or {}
    except Exception as exc:  # the broker is down: say so on the page
        return [], f"{type(exc).__name__}: {exc}"
    workers = []
    for name in sorted(set(active) | set(reserved) | set(queues)):
        workers.append(
            {
                "name": name,
                "queues": sorted(q["name"] for q in queues.get(name, [])),
                "active": active.get(name, []),
                "reserved": reserved.get(name, []),
            }
        )
    return workers, ""


def _queue_lengths() -> tuple[dict[str, int | None], str]:
    from musicsite.celery import app

    lengths: dict[str, int | None] = {}
    try:
        with app.connection_for_read() as conn:
            channel = conn.default_channel
            for queue in QUEUES:
                try:
                    lengths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except Exception:  # a queue nobody declared yet holds nothing
                    lengths[queue] = None
    except Exception as exc:
        return {q: None for q in QUEUES}, f"{type(exc).__name__}: {exc}"
    return lengths, ""


@never_cache
@staff_member_required
def monitoring(request: HttpRequest) -> HttpResponse:
    inline = request.GET.get("workers") == "1"
    workers, workers_error = _workers() if inline else ([], "")
    queues, queues_error = _queue_lengths()
    failed = JobStatus.FAILED
    context = {
        "workers_inline": inline,
        "timeout_s": f"{settings.HEALTH_TIMEOUT_S:g}",
        "workers": workers,
        "workers_error": workers_error,
        "queues": queues,
        "queues_error": queues_error,
        "active_runs": TrainingRun.objects.filter(status__in=ACTIVE_STATUSES).order_by("pk"),
        "active_jobs": GenerationJob.objects.filter(status__in=ACTIVE_STATUSES).order_by("pk"),
        "active_imports": ImportJob.objects.filter(status__in=ACTIVE_STATUSES).order_by("pk"),
        "failed_runs": TrainingRun.objects.filter(status=failed).order_by("-finished_at")[
            :RECENT_FAILURES
        ],
        "failed_jobs": GenerationJob.objects.filter(status=failed).order_by("-finished_at")[
            :RECENT_FAILURES
        ],
        "failed_imports": ImportJob.objects.filter(status=failed).order_by("-finished_at")[
            :RECENT_FAILURES
        ],
    }
    return render(request, "ops/monitoring.html", context)


@never_cache
@staff_member_required
def monitoring_workers(request: HttpRequest) -> JsonResponse:
    """The workers section of /ops/, for its poll (site.js fills [data-html=workers])."""
    workers, workers_error = _workers()
    html = render_to_string(
        "ops/_workers.html", {"workers": workers, "workers_error": workers_error}, request
    )
    return JsonResponse({"html": {"workers": html}, "done": True, "state": "ready"})
