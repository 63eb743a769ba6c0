"""Serving: how long a visitor waits for 4 tunes while a `full` model trains, with the
queues split by kind of work (train / sample / default workers) against the old single
queue (training and sampling sharing one concurrency-1 worker), in one run.

    .venv/bin/python bench/serving.py [--requests 20] [--interval 1.5] [--chars 800]
                                      [--page-defaults [--four-takes]]

Self-contained and bounded, like bench/load.py: it starts scripts/services.sh (PostgreSQL,
Redis) unless they already run, makes its own database (dropped at the end), Redis database
(8) and media folder, migrates, imports 40 O'Neill tunes and trains a `full`-preset ABC
model (two LSTM(256)) for one epoch in this process: the model the visitors sample from.
Then, for each setup:
- split: workers as `make run` and `make prod ROLE=all` start them: `-Q train -c 1` at
  nice 10, `-Q sample -c <cores>`, `-Q default -c 2`;
- single: one worker `-Q train,sample,default -c 1`, as before the split;
a `full` run of many epochs on the same tunes is started and, once it is training (TensorFlow
loaded, first batches done), --requests generation requests are made, one every
--interval seconds (open loop, as visitors arrive): 4 tunes of up to --chars characters,
grammar on (with --page-defaults also the folk tune's shape, returns, the memory, the moves
and the sampler the generate page offers the model first, `pieces.page_sampler`: for a
`full` run one take at temperature 1.0 with top-p 0.95; with --four-takes instead, four
takes of each tune and no moves, as the page asked by default before 6 Dec 2026), through
the same service the generate page and the API call. A request's latency runs from its
job's creation to its finished state, as the database stamps them.
The training run holds the training worker throughout the split setup. In the single
setup it is cancelled as soon as the last request is sent (it stops at the end of its
epoch), so the single queue's figures are a lower bound: a real `full` run would hold that
worker for its whole length (25 minutes on the issue's machine).

Prints p50 and p95 latency of each setup and their ratio (N×), the load average, and exits 1
if a request failed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, ratio

PY = str(ROOT / ".venv" / "bin" / "python")
PRIME = "M:6/8\nL:1/8\nK:D\n"
# name, queues, concurrency, CPU priority (nice): as scripts/supervise.py starts them.
SPLIT = [("train", "train", "1", "10"), ("sample", "sample", str(os.cpu_count() or 1), "0"),
         ("default", "default", "2", "0")]  # fmt: skip
SINGLE = [("single", "train,sample,default", "1", "0")]
# What the generate page asks by default on an ABC model beside the grammar; the sampler
# (takes, temperature, top-p) is the model's run's (`page_sampler`) unless --four-takes asks
# four takes, the way's own, as the page did for every model before 6 Dec 2026.
PAGE_DEFAULTS = {"folk_form": True, "returns": True, "memory": True, "moves": True}
# The figures before then: no moves yet, four takes at the service's default temperature.
FOUR_TAKES = {"folk_form": True, "returns": True, "memory": True, "takes": 4}
SEED_SCRIPT = """
from generator.models import JobStatus, TrainingRun
from generator.services import training_run_create, training_run_execute
from tests.factories import make_tiny_corpus

corpus = make_tiny_corpus(name="serving tunes", tunes={tunes})
run = training_run_create(corpus=corpus, preset="full", epochs=1, seed=1,
                          config={{"sample_every": 0}})
TrainingRun.objects.filter(pk=run.pk).update(status=JobStatus.QUEUED)
run = training_run_execute(run_id=run.pk, worker="bench")
print(corpus.pk, run.last_checkpoint.pk)
"""


def services_env() -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / "scripts" / "services.sh"), "env"], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())


def start_workers(spec, env, log_dir: Path) -> list[subprocess.Popen]:
    procs = []
    for name, queues, concurrency, nice in spec:
        log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        # One BLAS thread in the sample worker, as scripts/supervise.py and prod.sh start it:
        # with two, each of its processes spins while the other core is busy.
        own = {**env, "OPENBLAS_NUM_THREADS": "1"} if queues == "sample" else env
        procs.append(subprocess.Popen(
            ["nice", "-n", nice, PY, "-m", "celery", "-A", "musicsite", "worker",
             "-Q", queues, "-c", concurrency,
             "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "-l", "info"],
            cwd=ROOT, env=own, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))  # fmt: skip
        try:  # as scripts/supervise.py does: a nice counts only within its session's autogroup
            Path(f"/proc/{procs[-1].pid}/autogroup").write_text(nice)
        except OSError:
            pass
    deadline = time.monotonic() + 300
    for name, *_ in spec:
        while b" ready." not in (log_dir / f"{name}.log").read_bytes():
            if time.monotonic() > deadline:
                sys.exit(f"worker {name} did not start; see {log_dir}")
            time.sleep(0.2)
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the training run is thrown away anyway
        except ProcessLookupError:
            pass
        proc.wait()


def measure(label, spec, env, tmp, corpus, checkpoint, args) -> list[float]:
    from generator.models import ACTIVE_STATUSES, GenerationJob, JobStatus, TrainingRun
    from generator.services import (
        generation_job_create,
        training_run_cancel,
        training_run_create,
        training_run_start,
    )
    from musicsite.celery import app

    with app.connection_for_write() as conn:  # what an earlier setup left
        for queue in ("train", "sample", "default"):
            conn.default_channel.queue_purge(queue)
    log_dir = tmp / label
    log_dir.mkdir()
    procs = start_workers(spec, env, log_dir)
    try:
        hold = training_run_create(
            corpus=corpus, preset="full", epochs=1000, seed=2, config={"sample_every": 0}
        )
        training_run_start(run=hold)
        deadline = time.monotonic() + 600
        # Training, past its first steps: TensorFlow is loaded and the worker is busy.
        training = TrainingRun.objects.filter(
            pk=hold.pk, status=JobStatus.RUNNING, heartbeat_at__isnull=False
        )
        while not training.exists():
            if time.monotonic() > deadline:
                sys.exit(f"{label}: the training run did not start; see {log_dir}")
            time.sleep(0.5)
        time.sleep(5)  # into its batches
        sent: dict[int, float] = {}
        options = page_options(checkpoint.run, args)
        for i in range(args.requests):
            t0 = time.monotonic()
            job = generation_job_create(
                checkpoint=checkpoint, count=4, seed=100 + i, max_length=args.chars,
                prime=PRIME, grammar=True, **options,
            )  # fmt: skip
            sent[job.pk] = t0
            if i < args.requests - 1:
                time.sleep(max(0.0, args.interval - (time.monotonic() - t0)))
        training_state = TrainingRun.objects.get(pk=hold.pk).status
        if label == "single":
            training_run_cancel(run=hold)
        # A request's latency: from its job's creation to its finished row, both stamped by
        # this machine's clock in the database, so polling adds nothing to it.
        latencies: dict[int, float] = {}
        failed: list[str] = []
        deadline = time.monotonic() + args.timeout
        while len(latencies) + len(failed) < len(sent) and time.monotonic() < deadline:
            rows = GenerationJob.objects.filter(pk__in=sent).values_list(
                "pk", "status", "error", "created_at", "finished_at"
            )
            for pk, status, error, created, finished in rows:
                if pk in latencies or any(f.startswith(f"{pk}:") for f in failed):
                    continue
                if status == JobStatus.SUCCEEDED:
                    latencies[pk] = (finished - created).total_seconds()
                elif status == JobStatus.FAILED:
                    failed.append(f"{pk}: {error}")
            time.sleep(0.2)
        if failed or len(latencies) < len(sent):
            print(
                f"{label}: failed {failed}; unfinished {len(sent) - len(latencies) - len(failed)}"
            )
        seconds = sorted(
            GenerationJob.objects.filter(pk__in=sent).values_list("seconds", flat=True)
        )
        still = TrainingRun.objects.get(pk=hold.pk)
        print(
            f"{label}: training run while the requests were sent: {training_state}; "
            f"after: {still.status}, {still.epochs_done} epochs"
        )
        print(
            f"{label}: sampling time in the worker (4 tunes): median "
            f"{statistics.median(s for s in seconds if s is not None):.2f} s"
        )
        return sorted(latencies.values()) if not failed else []
    finally:
        stop_workers(procs)
        # Nothing of this setup may reach the next one's worker (its start-up recovery would
        # resume the killed training run and send the unfinished jobs again).
        TrainingRun.objects.filter(status__in=ACTIVE_STATUSES).update(status=JobStatus.CANCELLED)
        GenerationJob.objects.filter(status__in=ACTIVE_STATUSES).update(status=JobStatus.FAILED)


def quantiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94]


def page_options(run, args) -> dict:
    """The generation options beside the grammar: none, or the generate page's defaults."""
    if not args.page_defaults:
        return {}
    if args.four_takes:
        return dict(FOUR_TAKES)
    from generator.services.pieces import page_sampler

    first = page_sampler(run)
    return {**PAGE_DEFAULTS, "takes": first.takes, "temperature": first.temperature,
            "top_p": first.top_p}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.5, help="seconds between requests")
    parser.add_argument("--chars", type=int, default=800)
    parser.add_argument("--tunes", type=int, default=40, help="O'Neill tunes to train on")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait per setup")
    parser.add_argument(
        "--page-defaults",
        action="store_true",
        help="as the generate page asks by default: the folk tune's shape, returns, the "
        "memory and the model's first sampler on top of the grammar (without it: the "
        "grammar alone)",
    )
    parser.add_argument(
        "--four-takes",
        action="store_true",
        help="with --page-defaults: four takes, the page's default before 6 Dec 2026",
    )
    args = parser.parse_args()

    services = str(ROOT / "scripts" / "services.sh")
    started_services = subprocess.run([services, "status"]).returncode != 0
    if started_services:
        subprocess.run([services, "start"], check=True)
    base = services_env()
    db_name = f"musicsite_serving_{secrets.token_hex(4)}"
    admin_url = base["DATABASE_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="musicsite-serving-"))
    psql = [str(max(Path("/usr/lib/postgresql").glob("*/bin")) / "psql"), "-X", "-q", admin_url]
    subprocess.run([*psql, "-c", f'CREATE DATABASE "{db_name}"'], check=True)
    env = {
        **os.environ,
        "DATABASE_URL": admin_url.rsplit("/", 1)[0] + f"/{db_name}",
        "CELERY_BROKER_URL": base["CELERY_BROKER_URL"].rsplit("/", 1)[0] + "/8",
        "MEDIA_ROOT": str(tmp / "media"),
        "MUSICSITE_VAR_DIR": str(tmp / "var"),
        "AUTOSTART_QUICK_RUN": "0",
        "DJANGO_SETTINGS_MODULE": "musicsite.settings",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    try:
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        # The model is trained in a child process: TensorFlow's thread pools would keep
        # spinning in this one, which only sends requests and reads rows.
        t0 = time.monotonic()
        seeded = subprocess.run(
            [PY, "manage.py", "shell", "-c", SEED_SCRIPT.format(tunes=args.tunes)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        corpus_id, checkpoint_id = map(int, seeded.stdout.split()[-2:])
        from generator.models import Checkpoint, Corpus

        corpus = Corpus.objects.get(pk=corpus_id)
        checkpoint = Checkpoint.objects.select_related("run").get(pk=checkpoint_id)
        print(
            f"model: `full` ABC ({checkpoint.run.config['units']} LSTM units), trained 1 epoch "
            f"on {args.tunes} tunes in {time.monotonic() - t0:.0f} s"
        )
        print(
            f"requests: {args.requests}, one every {args.interval} s, 4 tunes of up to "
            f"{args.chars} characters, grammar on"
            + (
                ", "
                + ", ".join(f"{k} {v}" for k, v in page_options(checkpoint.run, args).items())
                if args.page_defaults
                else ""
            )
        )  # fmt: skip
        results = {}
        for label, spec in (("split", SPLIT), ("single", SINGLE)):
            results[label] = measure(label, spec, env, tmp, corpus, checkpoint, args)
            if not results[label]:
                return 1
            p50, p95 = quantiles(results[label])
            print(
                f"{label:>6}: p50 {p50:6.2f} s  p95 {p95:6.2f} s  max {max(results[label]):6.2f} s"
                f"  (load average {os.getloadavg()[0]:.1f})"
            )
        split, single = quantiles(results["split"]), quantiles(results["single"])
        print(ratio("p50, single queue / split queues", split[0], single[0]))
        print(ratio("p95, single queue / split queues", split[1], single[1]))
        print(f"target p95 <= 5 s with the split queues: {'met' if split[1] <= 5 else 'NOT met'}")
        return 0
    finally:
        from django.db import connections

        connections.close_all()
        subprocess.run([*psql, "-c", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'])
        shutil.rmtree(tmp, ignore_errors=True)
        if started_services:
            subprocess.run([services, "stop"])


if __name__ == "__main__":
    sys.exit(main())
