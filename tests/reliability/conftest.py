"""Fixtures for fault injection: a worker with an embedded beat, PostgreSQL and Redis
restarts, and a size-limited filesystem (tmpfs) to fill."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, ROOT, CeleryWorker, _slug

SERVICES = ROOT / "scripts" / "services.sh"


def services_state() -> Path:
    default = "/tmp/musicsite-services-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
    return Path(os.environ.get("MUSICSITE_SERVICES_DIR", default))


def service_ports() -> dict[str, str]:
    ports = {}
    for line in (services_state() / "ports").read_text().split():
        key, value = line.split("=", 1)
        ports[key] = value
    return ports


def restart_postgres() -> None:
    """Stop PostgreSQL (fast: open connections are cut) and start it on the same port."""
    pg_bin = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    data = services_state() / "pg"
    user = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    subprocess.run([*user, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                   check=True, capture_output=True)  # fmt: skip
    port = service_ports()["PG_PORT"]
    log = services_state() / "pglog" / "postgres.log"
    start = ["-D", str(data), "-l", str(log), "-o", f"-p {port}", "-w", "-t", "60", "start"]
    subprocess.run([*user, str(pg_bin / "pg_ctl"), *start], check=True, capture_output=True)


def restart_redis() -> None:
    """Shut Redis down (it keeps no data: every queued message is lost) and start it again."""
    port = service_ports()["REDIS_PORT"]
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", port, "shutdown", "nosave"],
                   capture_output=True)  # fmt: skip
    env = {
        **os.environ,
        "MUSICSITE_REDIS_PORT": port,
        "MUSICSITE_PG_PORT": service_ports()["PG_PORT"],
    }
    subprocess.run([str(SERVICES), "start"], check=True, env=env, capture_output=True)
    assert service_ports()["REDIS_PORT"] == port


@pytest.fixture
def beat_worker(celery_worker, tmp_path, request) -> Iterator[CeleryWorker]:
    """The test worker restarted with an embedded beat that runs the recovery sweeps every
    5 seconds (RECOVER_EVERY_S), lost jobs counted after 2 s (JOB_LOST_AFTER_S)."""
    celery_worker.stop()
    env = {
        **celery_worker.env,
        "RECOVER_EVERY_S": "5",
        "JOB_LOST_AFTER_S": "2",
        "HEALTH_TIMEOUT_S": "0.5",
    }
    log_path = ARTIFACTS / "celery" / f"{_slug(request.node.nodeid)}-beat.log"
    log_path.unlink(missing_ok=True)
    worker = CeleryWorker(env, log_path)
    worker.argv += ["-B", "-s", str(tmp_path / "celerybeat-schedule")]
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def small_disk(tmp_path) -> Iterator:
    """`mount(size_bytes)` → a tmpfs of that size (a full disk on demand); unmounted after.

    tmpfs needs root (these tests run as root in CI and here); without it the test skips,
    saying so."""
    mounted: list[Path] = []

    def mount(size_bytes: int) -> Path:
        path = tmp_path / f"disk{len(mounted)}"
        path.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs to fill (needs root): {result.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
