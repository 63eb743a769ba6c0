"""`make run`'s own Redis (scripts/lib.sh): started with its data under var/, its URLs given
to the processes it starts, reused by the next start, stopped on exit."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT

SCRIPT = """
set -euo pipefail
. scripts/lib.sh
start_embedded_redis >/dev/null
echo "$CELERY_BROKER_URL $CACHE_URL $EMBEDDED_REDIS_STARTED"
redis-cli -u "$CELERY_BROKER_URL" rpush probe kept >/dev/null
"""


def _run(script: str, var) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "MUSICSITE_VAR_DIR": str(var),
           "EMBEDDED_REDIS_PORT": "63870"}  # fmt: skip
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_make_run_starts_a_redis_of_its_own_keeps_its_data_and_stops_it(tmp_path):
    try:
        first = _run(SCRIPT, tmp_path)
        assert first.returncode == 0, first.stderr
        broker, cache, started = first.stdout.split()
        port = broker.split(":")[2].split("/")[0]
        assert broker == f"redis://127.0.0.1:{port}/0" and cache == f"redis://127.0.0.1:{port}/1"
        assert started == "1"
        assert (tmp_path / "redis" / "redis.pid").exists()

        # A second start (after a `make run` killed without cleaning up) reuses it.
        again = _run(SCRIPT, tmp_path)
        assert again.stdout.split() == [broker, cache, "0"], again.stderr
        # Stopped and started again: what was queued is still there (append-only file).
        _run(". scripts/lib.sh; stop_embedded_redis", tmp_path)
        assert subprocess.run(["redis-cli", "-p", port, "ping"], capture_output=True).returncode
        third = _run(SCRIPT + 'redis-cli -u "$CELERY_BROKER_URL" llen probe', tmp_path)
        assert third.stdout.split()[-1] == "3", third.stderr
    finally:
        _run(". scripts/lib.sh; stop_embedded_redis", tmp_path)
