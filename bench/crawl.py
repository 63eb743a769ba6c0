"""A crawl of every kind of page in headless Chromium on a cold cache: p50 / p95 per kind.

    scripts/services.sh start && eval "$(scripts/services.sh env)"
    .venv/bin/python bench/crawl.py [--pieces 6] [--rebuild]

It works in its own database (the name in DATABASE_URL plus `_bench_crawl`) and its own
media folder (var/bench_crawl/media), built once (an O'Neill corpus, a tiny ABC run, a tiny
MIDI run on Bach chorales and a tiny audio run on sine melodies, pieces generated from each,
a survey, a staff login) and reused by later runs (`--rebuild` starts again). Then:

1. Before: the run report as the page used to make it, inside the request: for every run,
   `evaluation.services.run_report` from nothing (no stored report), timed in this process.
2. Cold cache: the stored reports are deleted, and every file the pages make on first view
   (engraved scores, MusicXML, tune audio, OGG, spectrograms) is removed; then every piece is
   rendered as the render task does when a piece is stored (audio, engraved score) and every
   tune engraved as the import's engraving task does, unless `--no-render` (nothing made:
   the pages then say "the score is being prepared").
3. A fresh server's first requests (the gallery, a piece, the corpora), with cold workers
   (no config: each worker imports on its first request, as before) and with warm ones
   (scripts/gunicorn.conf.py: loaded and warmed before the workers fork): the ratio.
4. gunicorn (2 processes × 4 threads, freshly started with scripts/gunicorn.conf.py)
   serves the site; Chromium opens every page once, each in a new browser context (no
   browser cache), and the time to the `load` event is recorded per page kind: the
   gallery, piece pages of each way, run pages, run reports (first visit: "measuring"),
   the generate page, corpus and tune pages, the corpus calibration page, the survey, API
   pages, and, signed in as staff, the admin's pages.
5. The reports are measured as the worker does (the report task, here in this process),
   and the report pages are opened again: "ready".

Prints p50 / p95 per kind, the slowest page, and the report page's p95 against the request
that used to compute it (the ratio). Target: p95 <= 1 s for every kind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _common import ROOT, ratio

BENCH_SUFFIX = "_bench_crawl"
MEDIA = ROOT / "var" / "bench_crawl" / "media"
STAFF = ("crawl-staff", "crawl-staff-password-1")
# Files the pages make on first view and keep under MEDIA_ROOT (generator/services/files.py).
VIEW_CACHES = ("scores", "musicxml", "pieces/ogg", "pieces/spectrograms", "tunes")
TARGET_P95_S = 1.0
TUNES_PER_CORPUS = 3  # tune pages crawled per corpus


def use_bench_database(rebuild: bool) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/crawl.py needs PostgreSQL: run `scripts/services.sh start` and "
            '`eval "$(scripts/services.sh env)"` first'
        )
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "musicsite"
    bench = name if name.endswith(BENCH_SUFFIX) else name + BENCH_SUFFIX
    import psycopg

    admin = urlunsplit(parts._replace(path="/postgres")).replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as c:
        if rebuild:
            c.execute(f'DROP DATABASE IF EXISTS "{bench}" WITH (FORCE)')
            shutil.rmtree(MEDIA, ignore_errors=True)
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [bench]).fetchone():
            c.execute(f'CREATE DATABASE "{bench}"')
            shutil.rmtree(MEDIA, ignore_errors=True)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + bench))
    os.environ["MEDIA_ROOT"] = str(MEDIA)
    os.environ["AUTOSTART_QUICK_RUN"] = "0"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    MEDIA.mkdir(parents=True, exist_ok=True)


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicsite.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build_world(n_pieces: int) -> None:
    """Runs of each way with pieces, evaluated; a survey; a staff user. Once per database."""
    import tempfile

    from django.contrib.auth import get_user_model

    from evaluation.services import job_evaluate
    from generator.models import Piece, TrainingRun
    from generator.services import (
        corpus_get_or_create,
        corpus_import,
        generation_job_create,
        generation_job_execute,
        training_run_execute,
    )
    from tests.factories import make_run, make_tiny_corpus

    if TrainingRun.objects.exists():
        return
    t0 = time.perf_counter()
    print("building the crawl's world (once)...", flush=True)
    runs = []
    corpus = make_tiny_corpus(name="crawl O'Neill", tunes=60)
    runs.append(training_run_execute(run_id=make_run(corpus, epochs=3).pk, worker="bench"))
    try:
        from tests.ways_midi.builders import make_trained_midi_run

        runs.append(make_trained_midi_run(chorales=10))
    except Exception as exc:  # noqa: BLE001 - the crawl goes on without that way
        print(f"  no MIDI run: {type(exc).__name__}: {exc}")
    try:
        from tests.library.ways_audio.melodies import write_melodies

        folder = Path(tempfile.mkdtemp()) / "melodies"
        write_melodies(folder)
        sines = corpus_get_or_create(name="crawl sines", way="audio")
        corpus_import(corpus=sines, source=str(folder))
        run = make_run(sines, epochs=3, seed=2, val_fraction=0.2)
        runs.append(training_run_execute(run_id=run.pk, worker="bench"))
    except Exception as exc:  # noqa: BLE001
        print(f"  no audio run: {type(exc).__name__}: {exc}")
    for run in runs:
        job = generation_job_create(
            checkpoint=run.last_checkpoint, count=n_pieces, seed=7, enqueue=False
        )
        generation_job_execute(job_id=job.pk)
    for piece in Piece.objects.select_related("job").order_by("job_id").distinct("job_id"):
        job_evaluate(job=piece.job)
    try:
        from tests.evaluation.survey_builders import make_survey

        make_survey(tunes=2, pieces=2, render=False)
    except Exception as exc:  # noqa: BLE001
        print(f"  no survey: {type(exc).__name__}: {exc}")
    user_model = get_user_model()
    if not user_model.objects.filter(username=STAFF[0]).exists():
        user_model.objects.create_superuser(STAFF[0], "crawl@example.org", STAFF[1])
    print(f"  built in {time.perf_counter() - t0:.0f} s", flush=True)


def report_before() -> dict[int, float]:
    """Seconds the report page's request used to spend computing each run's report."""
    from evaluation.models import RunReport
    from evaluation.services import run_report
    from generator.models import TrainingRun

    out = {}
    for run in TrainingRun.objects.select_related("corpus").order_by("pk"):
        RunReport.objects.filter(run=run).delete()
        t0 = time.perf_counter()
        try:
            run_report(run=run)
        except ValueError as exc:
            print(f"  run {run.pk}: {exc}")
        out[run.pk] = time.perf_counter() - t0
    return out


def cold_cache() -> None:
    from evaluation.models import RunReport

    RunReport.objects.all().delete()
    for name in VIEW_CACHES:
        shutil.rmtree(MEDIA / name, ignore_errors=True)


def worker_render() -> tuple[float, dict[str, float]]:
    """What the render task does for every new piece (audio, engraved score), when a piece
    is stored, and the engraving task for every imported tune (scores), after the import
    commits: the workers do it before anyone opens the pages. Returns the seconds taken and,
    per crawled tune page (its path), the seconds its score took to engrave: what that page's
    request used to wait for, on top of the rest, on a first view."""
    from generator.models import Corpus, Piece, Tune
    from generator.services import piece_render
    from generator.services.renders import tune_render
    from musiclib.ways import get_way

    t0 = time.perf_counter()
    for piece in Piece.objects.order_by("pk"):
        piece_render(piece=piece)
    engraving: dict[str, float] = {}
    for corpus in Corpus.objects.order_by("pk"):  # as corpus_tunes_render, without its queue
        tunes = Tune.objects.filter(corpus=corpus).select_related("corpus").order_by("pk")
        for i, tune in enumerate(tunes):
            t1 = time.perf_counter()
            tune_render(tune=tune, audio=False)
            if i < TUNES_PER_CORPUS and get_way(corpus.way).capabilities.has_score:
                engraving[f"/tunes/{tune.pk}/"] = time.perf_counter() - t1
    return time.perf_counter() - t0, engraving


def urls() -> list[tuple[str, str, bool]]:
    """(kind, path, as staff) of every page crawled."""
    from django.contrib import admin

    from evaluation.models import Survey
    from generator.models import Corpus, Piece, TrainingRun, Tune

    pages: list[tuple[str, str, bool]] = [
        ("gallery", "/", False),
        ("gallery", "/?sort=new", False),
        ("gallery", "/pieces/cards.json", False),
        ("generate", "/generate/", False),
        ("runs", "/runs/", False),
        ("corpora", "/corpora/", False),
        ("survey", "/survey/", False),
        ("api", "/api/v1/", False),
        ("api", "/api/v1/pieces/", False),
        ("api", "/api/v1/runs/", False),
        ("api", "/api/v1/corpora/", False),
        ("api", "/api/docs/", False),
        ("admin", "/admin/", True),
        ("admin", "/ops/", True),
    ]
    for piece in Piece.objects.order_by("pk"):
        pages.append((f"piece ({piece.way})", f"/pieces/{piece.pk}/", False))
        pages.append(("api", f"/api/v1/pieces/{piece.pk}/", False))
    for run in TrainingRun.objects.order_by("pk"):
        pages.append(("run", f"/runs/{run.pk}/", False))
        pages.append(("run report (measuring)", f"/evaluation/runs/{run.pk}/", False))
        pages.append(("api", f"/api/v1/runs/{run.pk}/report/", False))
    for corpus in Corpus.objects.order_by("pk"):
        pages.append(("corpus", f"/corpora/{corpus.pk}/", False))
        pages.append(("corpus calibration", f"/evaluation/corpora/{corpus.pk}/", False))
        for tune in Tune.objects.filter(corpus=corpus).order_by("pk")[:TUNES_PER_CORPUS]:
            pages.append((f"tune ({corpus.way})", f"/tunes/{tune.pk}/", False))
    for survey in Survey.objects.order_by("pk")[:1]:
        pages.append(("survey", f"/survey/{survey.pk}/", False))
    for model in admin.site._registry:
        meta = model._meta
        pages.append(("admin", f"/admin/{meta.app_label}/{meta.model_name}/", True))
    return pages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, *, warm: bool = True, workers: int = 2) -> subprocess.Popen:
    """gunicorn as the web role runs it: with the site's config (scripts/gunicorn.conf.py:
    the application loaded and warmed before the workers are forked) unless `warm` is off
    (the previous way: each worker imports on its first request). Returns once every worker
    is booted, so what the pages wait for is the request, not the server's start."""
    env = {**os.environ, "DEBUG": "1", "LOG_LEVEL": "WARNING"}
    log = Path(tempfile.mkstemp(prefix="crawl-gunicorn-", suffix=".log")[1])
    config = ["--config", str(ROOT / "scripts/gunicorn.conf.py")] if warm else []
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "musicsite.wsgi:application", *config, "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "4", "--timeout", "120",
         "--log-level", "info", "--error-logfile", str(log)],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        booted = log.read_text(errors="replace").count("Booting worker with pid")
        if booted >= workers and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                time.sleep(1.0)  # the forked workers' own start (after the log line)
                proc.log_path = log  # type: ignore[attr-defined]
                return proc
            except OSError:
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    sys.exit("gunicorn did not start:\n" + log.read_text(errors="replace")[-2000:])


def first_requests(paths: list[str]) -> dict[bool, tuple[float, list[float]]]:
    """A fresh server's first requests, cold workers against warm ones: {warm: (seconds from
    start until it takes traffic, [seconds of each path's first request])}."""
    import urllib.request

    out = {}
    for warm in (False, True):
        port = free_port()
        t0 = time.perf_counter()
        server = start_server(port, warm=warm, workers=1)
        started = time.perf_counter() - t0
        times = []
        try:
            for path in paths:
                t1 = time.perf_counter()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=180) as r:
                    r.read()
                times.append(time.perf_counter() - t1)
        finally:
            stop_server(server)
        out[warm] = (started, times)
    return out


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
    getattr(server, "log_path", Path("/nonexistent")).unlink(missing_ok=True)


def crawl(base: str, pages: list[tuple[str, str, bool]]) -> list[tuple[str, str, float, int]]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        # The browser's own first page (its renderer starting) is not the site's time.
        warmup = browser.new_context()
        warmup.new_page().goto("about:blank")
        warmup.close()
        staff_state = None
        for kind, path, as_staff in pages:
            if as_staff and staff_state is None:
                ctx = browser.new_context()
                page = ctx.new_page()
                page.goto(base + "/admin/login/")
                page.fill("#id_username", STAFF[0])
                page.fill("#id_password", STAFF[1])
                page.click("input[type=submit]")
                page.wait_for_load_state("load")
                staff_state = ctx.storage_state()
                ctx.close()
            ctx = browser.new_context(storage_state=staff_state if as_staff else None)
            page = ctx.new_page()
            t0 = time.perf_counter()
            try:
                response = page.goto(base + path, wait_until="load", timeout=180_000)
                status = response.status if response else 0
            except Exception as exc:  # noqa: BLE001 - a page that fails is reported, not fatal
                print(f"  {path}: {type(exc).__name__}: {str(exc)[:200]}")
                status = 599
            elapsed = time.perf_counter() - t0
            out.append((kind, path, elapsed, status))
            ctx.close()
        browser.close()
    return out


def p95_of(times: list[float]) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def summarise(rows: list[tuple[str, str, float, int]]) -> dict[str, tuple[float, float]]:
    by_kind: dict[str, list[float]] = {}
    for kind, _, s, _ in rows:
        by_kind.setdefault(kind, []).append(s)
    out = {}
    for kind, times in sorted(by_kind.items()):
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        out[kind] = (statistics.median(times), p95)
        flag = "" if p95 <= TARGET_P95_S else "   over 1 s"
        print(f"  {kind:28s} n={len(times):3d}  p50 {out[kind][0]:6.3f} s  p95 {p95:6.3f} s{flag}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pieces", type=int, default=6, help="pieces per run (1-50)")
    parser.add_argument("--rebuild", action="store_true", help="build the world again")
    parser.add_argument(
        "--no-render",
        action="store_true",
        help="render nothing before the crawl: score pages show that they are being prepared",
    )
    args = parser.parse_args()
    use_bench_database(args.rebuild)
    setup_django()
    build_world(max(1, min(50, args.pieces)))
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")

    before = report_before()
    print("before: the run report computed inside the request (first view)")
    for pk, s in before.items():
        print(f"  run {pk}: {s:6.2f} s")
    cold_cache()
    engraving: dict[str, float] = {}
    if not args.no_render:
        seconds, engraving = worker_render()
        print(f"worker: rendered every piece and tune in {seconds:.1f} s (not timed as pages)")
    pages = urls()
    first_paths = ["/", next(p for k, p, _ in pages if k.startswith("piece")), "/corpora/"]
    first = first_requests(first_paths)
    print("a fresh server's first requests (1 worker): " + ", ".join(first_paths))
    for warm, (started, times) in first.items():
        what = "warm workers (scripts/gunicorn.conf.py)" if warm else "cold workers (before)    "
        print(f"  {what}: takes traffic after {started:5.1f} s; first requests "
              + " ".join(f"{t:6.3f} s" for t in times))  # fmt: skip
    print(ratio("first gallery request, warm against cold", first[True][1][0], first[False][1][0]))
    port = free_port()
    server = start_server(port)
    try:
        rows = crawl(f"http://127.0.0.1:{port}", pages)
        from evaluation.models import ReportState, RunReport
        from evaluation.services import run_report_measure
        from generator.models import TrainingRun

        for run in TrainingRun.objects.select_related("corpus").order_by("pk"):
            run_report_measure(run=run)  # the report task's work, done by the worker
        assert not RunReport.objects.exclude(state=ReportState.READY).exists()
        ready = [
            ("run report (ready)", f"/evaluation/runs/{pk}/", False)
            for pk in TrainingRun.objects.values_list("pk", flat=True)
        ]
        rows += crawl(f"http://127.0.0.1:{port}", ready)
    finally:
        stop_server(server)
    bad = [r for r in rows if r[3] >= 400]
    print(f"after: {len(rows)} pages in Chromium, cold cache (p50 / p95 per kind)")
    summary = summarise(rows)
    slowest = max(rows, key=lambda r: r[2])
    print(f"slowest page: {slowest[1]} ({slowest[0]}) {slowest[2]:.3f} s")
    if bad:
        print("answers >= 400: " + ", ".join(f"{p} {code}" for _, p, _, code in bad))
    worst_before = max(before.values()) if before else 0.0
    p95_before = sorted(before.values())[min(len(before) - 1, round(0.95 * (len(before) - 1)))]
    for kind in ("run report (measuring)", "run report (ready)"):
        if kind in summary:
            print(ratio(f"run report page p95, {kind} against in-request", summary[kind][1],
                        p95_before))  # fmt: skip
    # Before, a tune page's first view engraved its score inside the request: at least this
    # page's time now plus the engraving's (an underestimate: the worker engraves warm, one
    # at a time; the request engraved beside others, in a process that may not have imported
    # music21 and verovio yet).
    for kind in sorted({k for k, path, _, _ in rows if path in engraving}):
        now = [t for k, path, t, _ in rows if k == kind]
        then = [t + engraving[path] for k, path, t, _ in rows if k == kind]
        print(ratio(f"{kind} page p95 against at least the engraving request's "
                    f"({p95_of(then):.2f} s)", p95_of(now), p95_of(then)))  # fmt: skip
    met = all(p95 <= TARGET_P95_S for _, p95 in summary.values())
    print(f"in-request report, worst: {worst_before:.2f} s")
    print(f"target p95 <= {TARGET_P95_S:g} s per kind: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
