"""Load: 100 concurrent visitors browse the gallery and piece pages under gunicorn and
PostgreSQL while a training run is going in a Celery worker; against one visitor alone.

    .venv/bin/python bench/load.py [--visitors 100] [--seconds 30] [--baseline-seconds 15]

Self-contained and bounded: it starts scripts/services.sh (PostgreSQL, Redis) unless they
already run, makes its own database (dropped at the end) and media folder, migrates,
collects static files, seeds a corpus of 40 O'Neill tunes, a finished run and --pieces
pieces, queues a tiny training run of many epochs, starts one Celery worker (queues
train, sample and default) and gunicorn (DEBUG=0, the production settings) on a free
port, and waits for /health/ to say the database, broker and worker answer. Then, in this one run:
- warm-up: every piece page the visitors will open is opened once (scores are engraved on
  first view and cached, as on the live site);
- baseline: one visitor for --baseline-seconds;
- load: --visitors visitors at once for --seconds, while the run trains.
Each visitor loops over gallery pages (page 1..last, some filtered), piece pages and the
cards JSON, with keep-alive, no think time. Prints p50/p95 latency and throughput of both
phases, their ratios, the count of 5xx (must be 0) and the run's epochs before/after; exits
1 if any request failed with a 5xx or a transport error. Everything it started is stopped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT

PY = str(ROOT / ".venv" / "bin" / "python")
SEED_SCRIPT = """
import json
from generator.models import JobStatus, Piece, TrainingRun
from generator.services import training_run_create, training_run_start
from tests.factories import make_tiny_corpus
from tests.web.builders import bulk_pieces, make_world

corpus = make_tiny_corpus(name="load corpus", tunes=40)
world = make_world(name="load world")
bulk_pieces(world, {pieces})
run = training_run_create(corpus=corpus, preset="tiny", epochs=500, seed=1,
                          config={{"sample_every": 0}})
training_run_start(run=run)
print(json.dumps({{"run": run.pk, "pieces": list(Piece.objects.values_list("pk", flat=True))}}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def services_env() -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / "scripts" / "services.sh"), "env"], capture_output=True, text=True, check=True
    ).stdout
    env = {}
    for line in out.splitlines():
        key, value = line.removeprefix("export ").split("=", 1)
        env[key] = value
    return env


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Host": "127.0.0.1"})
    response = conn.getresponse()
    response.read()
    return response.status, time.perf_counter() - t0


def visit(port: int, paths: list[str], stop_at: float, seed: int, results: list) -> None:
    """One visitor: requests until `stop_at`, appending (status, seconds) to `results`."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.monotonic() < stop_at:
        path = rng.choice(paths)
        try:
            results.append((*get(conn, path), path))
        except (OSError, http.client.HTTPException) as exc:
            results.append((0, 0.0, f"{path}: {type(exc).__name__}"))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.close()


def phase(port: int, paths: list[str], visitors: int, seconds: float) -> dict:
    results: list = []
    stop_at = time.monotonic() + seconds
    threads = [
        threading.Thread(target=visit, args=(port, paths, stop_at, i, results), daemon=True)
        for i in range(visitors)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    elapsed = time.monotonic() - t0
    ok = [r[1] for r in results if 200 <= r[0] < 400]
    q = statistics.quantiles(ok, n=100) if len(ok) >= 2 else [float("nan")] * 99
    return {
        "requests": len(results),
        "ok": len(ok),
        "errors_5xx": sum(1 for r in results if r[0] >= 500),
        "transport_errors": sum(1 for r in results if r[0] == 0),
        "other": sorted({r[0] for r in results if r[0] and not 200 <= r[0] < 400 and r[0] < 500}),
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "throughput": len(ok) / elapsed,
        "failures": [r[2] for r in results if r[0] >= 500 or r[0] == 0][:5],
    }


def run_status(port: int, run_id: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/runs/{run_id}/status.json", headers={"Host": "127.0.0.1"})
    body = json.loads(conn.getresponse().read())
    conn.close()
    return body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--pieces", type=int, default=500)
    parser.add_argument("--piece-pages", type=int, default=40, help="distinct piece pages visited")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--web-threads", type=int, default=4)
    args = parser.parse_args()

    services = str(ROOT / "scripts" / "services.sh")
    started_services = subprocess.run([services, "status"]).returncode != 0
    if started_services:
        subprocess.run([services, "start"], check=True)
    base = services_env()
    db_name = f"musicsite_load_{secrets.token_hex(4)}"
    admin_url = base["DATABASE_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="musicsite-load-"))
    procs: list[subprocess.Popen] = []
    psql = [str(max(Path("/usr/lib/postgresql").glob("*/bin")) / "psql"), "-X", "-q", admin_url]
    subprocess.run([*psql, "-c", f'CREATE DATABASE "{db_name}"'], check=True)
    env = {
        **os.environ,
        "DATABASE_URL": admin_url.rsplit("/", 1)[0] + f"/{db_name}",
        # A Redis database of its own, so a test run's queues are not touched.
        "CELERY_BROKER_URL": base["CELERY_BROKER_URL"].rsplit("/", 1)[0] + "/7",
        "MEDIA_ROOT": str(tmp / "media"),
        "STATIC_ROOT": str(tmp / "static"),
        "MUSICSITE_VAR_DIR": str(tmp / "var"),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "AUTOSTART_QUICK_RUN": "0",
        "DJANGO_SETTINGS_MODULE": "musicsite.settings",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }
    port = free_port()
    try:
        manage = [PY, "manage.py"]
        subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*manage, "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        seeded = subprocess.run(
            [*manage, "shell", "-c", SEED_SCRIPT.format(pieces=args.pieces)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        run_id, piece_ids = seed["run"], seed["pieces"]
        log = open(tmp / "services.log", "wb")  # noqa: SIM115 (closed with the folder)
        procs.append(subprocess.Popen(
            [PY, "-m", "celery", "-A", "musicsite", "worker",
             "-Q", "train,sample,default", "-c", "1", "-n", "load@%h",
             "--without-mingle", "--without-gossip", "-l", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))  # fmt: skip
        procs.append(subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "musicsite.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", str(args.web_workers),
             "--threads", str(args.web_threads), "--timeout", "60"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))  # fmt: skip
        deadline = time.monotonic() + 180
        health = 0
        while time.monotonic() < deadline:
            try:
                health, _ = get(
                    http.client.HTTPConnection("127.0.0.1", port, timeout=10), "/health/"
                )
            except OSError:
                health = 0
            running = health == 200 and run_status(port, run_id).get("state") == "running"
            if running:
                break
            time.sleep(1)
        else:
            sys.exit(f"the site or the training run did not come up (health {health}); log: {tmp}")

        rng = random.Random(0)
        visited = rng.sample(piece_ids, min(args.piece_pages, len(piece_ids)))
        last_page = max(1, args.pieces // 24)
        paths = (
            ["/"] * 6
            + [f"/?page={p}" for p in rng.sample(range(2, last_page + 1), min(8, last_page - 1))]
            + ["/?key=G", "/?meter=6/8", "/?sort=oldest", "/?q=Bulk+piece+1"]
            + [f"/pieces/{pk}/" for pk in visited]
            + ["/pieces/cards.json", "/pieces/cards.json?page=2"] * 3
        )
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        warm_statuses = [get(warm, path)[0] for path in sorted(set(paths))]
        assert all(s < 500 for s in warm_statuses), warm_statuses

        before = run_status(port, run_id)
        one = phase(port, paths, 1, args.baseline_seconds)
        many = phase(port, paths, args.visitors, args.seconds)
        after = run_status(port, run_id)

        print(
            f"paths: {len(set(paths))} distinct ({len(visited)} piece pages, gallery pages, cards)"
        )
        for label, r in (
            ("1 visitor", one),
            (f"{args.visitors} visitors", many),
        ):
            print(
                f"{label:>13}: {r['requests']:6d} requests  p50 {r['p50_ms']:7.1f} ms  "
                f"p95 {r['p95_ms']:7.1f} ms  {r['throughput']:6.1f} req/s  "
                f"5xx {r['errors_5xx']}  transport errors {r['transport_errors']}  "
                f"other {r['other']}"
            )
        print(
            f"throughput {args.visitors} visitors vs 1: "
            f"{many['throughput'] / one['throughput']:.1f}×; "
            f"p50 latency vs 1 visitor: {many['p50_ms'] / one['p50_ms']:.1f}× slower"
        )
        print(
            f"training run {run_id} during the load: {before.get('state')} "
            f"progress {before.get('progress'):.3f} -> {after.get('state')} "
            f"progress {after.get('progress'):.3f}"
        )
        failed = (
            many["errors_5xx"]
            + many["transport_errors"]
            + one["errors_5xx"]
            + one["transport_errors"]
        )
        if failed:
            print("failures:", one["failures"] + many["failures"])
        return 1 if failed else 0
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        subprocess.run([*psql, "-c", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'])
        shutil.rmtree(tmp, ignore_errors=True)
        if started_services:
            subprocess.run([services, "stop"])


if __name__ == "__main__":
    sys.exit(main())
