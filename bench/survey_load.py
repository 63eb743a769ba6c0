"""Survey robustness under load: concurrent answer submissions against gunicorn and
PostgreSQL on 127.0.0.1, with deliberate concurrent double-submits.

    .venv/bin/python bench/survey_load.py [--listeners 100] [--clips 10] [--threads 32]
                                           [--duplicates 0.1] [--workers 4]

It starts what it needs and stops it again: PostgreSQL and Redis through
scripts/services.sh (unless they already run), a fresh database `musicsite_bench_survey`
(dropped at the end), collectstatic into a temporary folder, and gunicorn (DEBUG off,
gthread workers, persistent database connections) on a free port. It creates a built survey
of 40 clips (clip rows only: rendering is not what is measured), enrols the listeners over
HTTP (consent page, CSRF token, signed cookie), then fires every answer of every listener
(listeners × clips) from a thread pool, plus a share of the same answers sent a second time
at the same moment. Checks: no 5xx, every answer stored exactly once, no duplicate rows,
duplicates answered like the first (302). Prints answers per second, against the
straightforward approach measured in the same run: one client submitting one answer at a
time (a further set of listeners). The survey's throttles are off in gunicorn (all requests
come from one address); the honeypot and CSRF checks stay on.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import requests
from _common import ROOT, ratio

BENCH_DB = "musicsite_bench_survey"
N_CLIPS = 40


def services_env() -> tuple[dict[str, str], bool]:
    """The services' DATABASE_URL/CELERY_BROKER_URL; starts them when they are not running."""
    started = False
    if subprocess.run([ROOT / "scripts/services.sh", "status"], capture_output=True).returncode:
        subprocess.run([ROOT / "scripts/services.sh", "start"], check=True)
        started = True
    out = subprocess.run(
        [ROOT / "scripts/services.sh", "env"], capture_output=True, text=True, check=True
    ).stdout
    env = {}
    for line in out.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value
    return env, started


def admin_sql(url: str, sql: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute(sql)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_survey():
    """A built survey over 20 human tunes and 20 machine pieces (rows only)."""
    from evaluation.survey.models import Survey, SurveyClip
    from evaluation.survey.services import new_token
    from generator.models import Checkpoint, Corpus, GenerationJob, Piece, TrainingRun, Tune

    corpus = Corpus.objects.create(name="bench corpus")
    run = TrainingRun.objects.create(corpus=corpus, name="bench run", status="succeeded")
    checkpoint = Checkpoint.objects.create(run=run, epoch=1, file="checkpoints/none.keras")
    job = GenerationJob.objects.create(checkpoint=checkpoint, seed=1, status="succeeded")
    survey = Survey.objects.create(title="Load test", build_status="done", clips_per_listener=10)
    for i in range(N_CLIPS // 2):
        tune = Tune.objects.create(corpus=corpus, number=i, text=f"X:{i}", content_hash=str(i))
        piece = Piece.objects.create(
            job=job, checkpoint=checkpoint, run=run, index=i, seed=i, text=f"X:{i}"
        )
        SurveyClip.objects.create(
            survey=survey, token=new_token(), source="human", way="abc", tune=tune, corpus=corpus
        )
        SurveyClip.objects.create(
            survey=survey,
            token=new_token(),
            source="machine",
            way="abc",
            piece=piece,
            run=run,
            checkpoint=checkpoint,
        )
    return survey


class Listener:
    def __init__(self, cookies: dict[str, str], csrf: str, tokens: list[str]):
        self.cookies, self.csrf, self.tokens = cookies, csrf, tokens


_local = threading.local()


def session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    _local.session.cookies.clear()  # cookies are passed per request: one session, many people
    return _local.session


def enrol(base: str, survey_pk: int) -> Listener:
    s = session()
    page = s.get(f"{base}/survey/{survey_pk}/", timeout=60)
    page.raise_for_status()
    csrf = page.cookies["csrftoken"]
    start = s.post(
        f"{base}/survey/{survey_pk}/",
        data={"consent": "on", "experience": random.choice(["none", "amateur", ""])}
        | {"csrfmiddlewaretoken": csrf},
        cookies={"csrftoken": csrf},
        allow_redirects=False,
        timeout=60,
    )
    if start.status_code != 302:
        raise RuntimeError(f"consent answered {start.status_code}: {start.text[:300]}")
    name = f"survey{survey_pk}"
    return Listener({"csrftoken": csrf, name: start.cookies[name]}, csrf, [])


def submit(base: str, survey_pk: int, listener: Listener, token: str) -> int:
    response = session().post(
        f"{base}/survey/{survey_pk}/listen/",
        data={
            "csrfmiddlewaretoken": listener.csrf,
            "clip": token,
            "origin": random.choice(["human", "computer"]),
            "confidence": random.randint(1, 5),
            "liking": random.randint(1, 5),
            "coherence": random.randint(1, 5),
            "website": "",
        },
        cookies=listener.cookies,
        allow_redirects=False,
        timeout=120,
    )
    return response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--clips", type=int, default=10, help="clips per listener")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share sent twice")
    parser.add_argument("--sequential", type=int, default=20, help="listeners of the baseline")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    args = parser.parse_args()

    env, started_services = services_env()
    db_url = urlunsplit(urlsplit(env["DATABASE_URL"])._replace(path="/" + BENCH_DB))
    admin_sql(env["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    admin_sql(env["DATABASE_URL"], f'CREATE DATABASE "{BENCH_DB}"')
    tmp = tempfile.TemporaryDirectory(prefix="survey-bench-")
    server_env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": env["CELERY_BROKER_URL"],
        "DJANGO_SETTINGS_MODULE": "musicsite.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": f"{tmp.name}/static",
        "MEDIA_ROOT": f"{tmp.name}/media",
        "DB_CONN_MAX_AGE": "60",
        "AUTOSTART_QUICK_RUN": "0",
        "LOG_LEVEL": "WARNING",
        "SURVEY_ANSWERS_PER_MINUTE_PER_IP": "0",
        "SURVEY_ANSWERS_PER_MINUTE_PER_LISTENER": "0",
        "SURVEY_LISTENERS_PER_HOUR_PER_IP": "0",
    }
    os.environ.update({k: server_env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
    os.environ["AUTOSTART_QUICK_RUN"] = "0"
    python = str(ROOT / ".venv/bin/python")
    manage = [python, str(ROOT / "manage.py")]
    gunicorn = None
    try:
        subprocess.run([*manage, "migrate", "-v", "0"], env=server_env, check=True)
        subprocess.run(
            [*manage, "collectstatic", "--noinput", "-v", "0"], env=server_env, check=True
        )
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from evaluation.survey.models import Listener as ListenerRow
        from evaluation.survey.models import ListenerClip, SurveyResponse

        survey = make_survey()
        survey.clips_per_listener = args.clips
        survey.save(update_fields=["clips_per_listener"])

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "musicsite.wsgi:application"]
            + ["--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)]
            + ["--worker-class", "gthread", "--threads", "8", "--timeout", "120"]
            + ["--error-logfile", f"{tmp.name}/gunicorn.log"],
            cwd=ROOT,
            env=server_env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/survey/", timeout=30).status_code < 500:
                    break
            except requests.RequestException:  # not listening yet, or still importing
                pass
            if time.monotonic() > deadline or gunicorn.poll() is not None:
                sys.exit("gunicorn did not start; see " + f"{tmp.name}/gunicorn.log")
            time.sleep(0.3)

        def enrol_all(n: int) -> list[Listener]:
            with ThreadPoolExecutor(args.threads) as pool:
                people = list(pool.map(lambda _: enrol(base, survey.pk), range(n)))
            for person in people:
                key = person.cookies[f"survey{survey.pk}"].split(":")[0]
                row = ListenerRow.objects.get(key=key)
                person.tokens = list(
                    row.assignments.order_by("position").values_list("clip__token", flat=True)
                )
            return people

        t0 = time.perf_counter()
        people = enrol_all(args.listeners)
        enrol_s = time.perf_counter() - t0
        jobs = [(p, t) for p in people for t in p.tokens]
        dupes = random.Random(1).sample(jobs, int(len(jobs) * args.duplicates))
        # a duplicate goes right after its original, so the two are in flight together
        order = []
        dupe_set = {id(d) for d in dupes}
        for job in jobs:
            order.append(job)
            if id(job) in dupe_set:
                order.append(job)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            statuses = list(pool.map(lambda j: submit(base, survey.pk, *j), order))
        concurrent_s = time.perf_counter() - t0

        seq_people = enrol_all(args.sequential)
        seq_jobs = [(p, t) for p in seq_people for t in p.tokens]
        t0 = time.perf_counter()
        seq_statuses = [submit(base, survey.pk, p, t) for p, t in seq_jobs]
        sequential_s = time.perf_counter() - t0

        codes = Counter(statuses + seq_statuses)
        expected = len(jobs) + len(seq_jobs)
        stored = SurveyResponse.objects.filter(survey=survey).count()
        pairs = Counter(
            SurveyResponse.objects.filter(survey=survey).values_list("listener_id", "clip_id")
        )
        per_clip = Counter(
            SurveyResponse.objects.filter(survey=survey).values_list("clip_id", flat=True)
        )
        assigned = set(  # every assignment must have exactly one answer
            ListenerClip.objects.filter(listener__survey=survey).values_list(
                "listener_id", "clip_id"
            )
        )
        print(
            f"listeners: {args.listeners} + {args.sequential} (enrolled at "
            f"{args.listeners / enrol_s:.0f}/s), clips {N_CLIPS}, {args.clips} per listener"
        )
        print(
            f"submissions: {len(order)} concurrent ({len(dupes)} of them double-submits) "
            f"+ {len(seq_jobs)} sequential; HTTP status counts {dict(sorted(codes.items()))}"
        )
        print(
            f"stored: {stored} of {expected} expected; duplicate rows: "
            f"{sum(1 for n in pairs.values() if n > 1)}; assignments without exactly one "
            f"answer: {len(assigned ^ set(pairs))}; answers per clip "
            f"{min(per_clip.values())}–{max(per_clip.values())}"
        )
        rate = len(order) / concurrent_s
        seq_rate = len(seq_jobs) / sequential_s
        print(
            f"concurrent ({args.threads} threads, {args.workers} gunicorn workers × 8 threads): "
            f"{rate:.0f} answers/s ({len(order)} in {concurrent_s:.2f} s)"
        )
        print(f"sequential (one client, one at a time): {seq_rate:.0f} answers/s")
        print(ratio("concurrent vs sequential", 1 / rate, 1 / seq_rate))
        ok = (
            not any(code >= 500 for code in codes)
            and set(codes) == {302}
            and stored == expected
            and all(n == 1 for n in pairs.values())
            and assigned == set(pairs)
        )
        print("OK: every answer stored exactly once, no 5xx" if ok else "FAILED: see above")
        if not ok:
            sys.exit(1)
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
                gunicorn.wait()
        from django.db import connections

        connections.close_all()
        admin_sql(env["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        tmp.cleanup()
        if started_services:
            subprocess.run([ROOT / "scripts/services.sh", "stop"], check=False)


if __name__ == "__main__":
    main()
