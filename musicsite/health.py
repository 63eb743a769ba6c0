"""GET /health/: is the site able to do its work? Database, broker and a Celery worker.

200 with `{"status": "ok", "checks": {...}}` when all three answer, 503 with the same
shape and `"status": "unavailable"` otherwise; each check says `ok`, how long it took
and, when it failed, why. For load balancers and uptime monitors: no login, never cached.
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
    from musicsite.celery import app

    # A fresh connection, not the pool's: a pooled one may have been cut by a broker restart
    # since its last use, and the check would then report a healthy worker as missing.
    with app.connection_for_write() as conn:
        replies = app.control.ping(timeout=settings.HEALTH_TIMEOUT_S, connection=conn) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError(f"no Celery worker answered within {settings.HEALTH_TIMEOUT_S} s")
    return {"workers": names}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = {"database": _timed(check_database), "broker": _timed(check_broker)}
    if checks["broker"]["ok"]:
        checks["workers"] = _timed(check_workers)
    else:  # pinging workers through a broker that is down would only wait for the timeout
        checks["workers"] = {"ok": False, "error": "broker unavailable", "ms": 0.0}
    ok = all(c["ok"] for c in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "version": settings.CODE_VERSION,
        "checks": checks,
    }
    return JsonResponse(body, status=200 if ok else 503)
