"""GET /health/: is the site able to do its work? Database, broker, and each queue's workers.

200 with `{"status": "ok", "checks": {...}}` when the database and the broker answer and
every queue of settings.WORK_QUEUES has a live consumer, 503 with the same shape and
`"status": "unavailable"` otherwise. `checks.queues` holds one check per queue.

Anonymous callers (load balancers, uptime monitors) see only `ok` for each check: no host
names, no error text (which can name hosts). Staff see everything: how long each check
took, why it failed, which workers consume each queue and how many messages wait in it
(`backlog`). No login needed, never cached.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _timed(check) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        detail = check() or {}
        result = {"ok": True, **detail}
    except Exception as exc:  # any failure of a dependency is reported, never raised
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return result


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_broker() -> dict[str, Any]:
    from musicsite.celery import app

    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=settings.HEALTH_TIMEOUT_S)
        return {"transport": conn.transport_cls}


def check_workers() -> dict[str, Any]:
    """Every worker that answers a ping, with the queues it consumes."""
    from musicsite.celery import app

    # A fresh connection, not the pool's: a pooled one may have been cut by a broker restart
    # since its last use, and the check would then report a healthy worker as missing.
    with app.connection_for_write() as conn:
        inspect = app.control.inspect(timeout=settings.HEALTH_TIMEOUT_S, connection=conn)
        replies = inspect.active_queues() or {}
    return {name: sorted(q["name"] for q in queues or []) for name, queues in replies.items()}


def queue_backlogs() -> dict[str, int]:
    """Messages waiting in each work queue (none for a queue nobody declared yet)."""
    from musicsite.celery import app

    backlog: dict[str, int] = {}
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        for queue in settings.WORK_QUEUES:
            try:
                backlog[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except Exception:  # a queue no one declared holds nothing
                backlog[queue] = 0
    return backlog


def check_queues() -> dict[str, dict[str, Any]]:
    """One check per queue: ok when at least one live worker consumes it."""
    t0 = time.perf_counter()
    try:
        workers = check_workers()
        backlog = queue_backlogs()
        error = ""
    except Exception as exc:
        workers, backlog, error = {}, {}, f"{type(exc).__name__}: {exc}"[:300]
    ms = round((time.perf_counter() - t0) * 1000, 1)
    checks: dict[str, dict[str, Any]] = {}
    for queue in settings.WORK_QUEUES:
        consumers = sorted(name for name, queues in workers.items() if queue in queues)
        check: dict[str, Any] = {
            "ok": bool(consumers),
            "workers": consumers,
            "backlog": backlog.get(queue),
            "ms": ms,
        }
        if not consumers:
            check["error"] = error or (
                f"no live worker consumes this queue (none answered within "
                f"{settings.HEALTH_TIMEOUT_S} s)"
            )
        checks[queue] = check
    return checks


def _public(checks: dict[str, Any]) -> dict[str, Any]:
    """Only whether each check passed: what an anonymous caller may see."""
    return {
        name: {"ok": check["ok"]} if "ok" in check else _public(check)
        for name, check in checks.items()
    }


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Any] = {"database": _timed(check_database), "broker": _timed(check_broker)}
    if checks["broker"]["ok"]:
        checks["queues"] = check_queues()
    else:  # asking workers through a broker that is down would only wait for the timeout
        checks["queues"] = {
            queue: {"ok": False, "error": "broker unavailable", "ms": 0.0}
            for queue in settings.WORK_QUEUES
        }
    ok = checks["database"]["ok"] and checks["broker"]["ok"]
    ok = ok and all(c["ok"] for c in checks["queues"].values())
    staff = getattr(request.user, "is_staff", False)
    body = {
        "status": "ok" if ok else "unavailable",
        "version": settings.CODE_VERSION,
        "checks": checks if staff else _public(checks),
    }
    return JsonResponse(body, status=200 if ok else 503)
