"""Request counts every process on every host agrees on.

A fixed-window counter in Django's `default` cache (settings.CACHES: Redis in production and
tests, so four gunicorn processes on two machines count into one number). Redis increments
atomically: two processes hitting the same counter at once never both get the last request.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache


def window_hit(scope: str, ident: str, *, limit: int, window_s: int) -> float | None:
    """Count one request of `ident` against `limit` per `window_s` seconds (a limit of 0 or
    less is no limit). None when it is allowed, else the seconds until the window ends."""
    if limit <= 0:
        return None
    now = time.time()
    window = int(now // window_s)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]  # no address kept in the cache
    key = f"throttle:{scope}:{digest}:{window}"
    cache.add(key, 0, timeout=window_s * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: this is the first hit
        cache.set(key, 1, timeout=window_s * 2)
        count = 1
    if count <= limit:
        return None
    return max((window + 1) * window_s - now, 1.0)
