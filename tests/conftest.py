"""Shared test fixtures: real PostgreSQL, Redis, Celery worker and headless Chromium.

Run the tests with `make test` (or `scripts/test.sh [pytest args]`): it starts throwaway
PostgreSQL and Redis servers and exports DATABASE_URL and CELERY_BROKER_URL.

The library's tests (tests/library: musiclib alone) need neither Django nor a server:
`make test-fast` or `.venv/bin/python -m pytest -p no:django tests/library`. The server
checks below apply only when pytest-django is loaded and site tests were asked for.

Fixtures
- `media_root` (session): the per-session MEDIA_ROOT; AUTOSTART_QUICK_RUN is off in tests.
- `user`, `staff_user`: users with password `user.raw_password`; staff is a superuser.
- `staff_client`: a django.test.Client logged in as `staff_user`.
- `celery_worker`: a real worker subprocess on the test database (needs
  `@pytest.mark.django_db(transaction=True)`); `.kill()`, `.restart()`, `.log_path`.
- `browser_type_launch_args`: Playwright launches Debian's /usr/bin/chromium.
- `screenshot(page, name)`: saves test-artifacts/screenshots/<name>.png.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
TEST_PASSWORD = "correct-horse-battery-staple"
WORKER_READY_TIMEOUT_S = 120
WORKER_QUEUES = ("train", "sample", "default")

# Playwright's sync API runs an event loop in the test's thread, which makes Django refuse
# ORM calls there ("You cannot call this from an async context"). Tests are sequential,
# so the check is safe to turn off for the test process.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Subprocesses (the Celery worker, manage.py) must not start the quick training run either.
os.environ["AUTOSTART_QUICK_RUN"] = "0"


LIBRARY = ROOT / "tests" / "library"


def site_tests_requested(config: pytest.Config) -> bool:
    """Whether this run may collect the site's tests: pytest-django is loaded and some path
    asked for (or testpaths) lies outside tests/library."""
    if not config.pluginmanager.has_plugin("django"):
        return False  # `-p no:django`: site tests could not even import
    paths = [Path(arg.split("::")[0]) for arg in config.args]
    paths = [p if p.is_absolute() else Path(config.invocation_params.dir) / p for p in paths]
    return any(not p.resolve().is_relative_to(LIBRARY) for p in paths)


def pytest_configure(config: pytest.Config) -> None:
    # The tests read the sampling loop's numba cache that setup compiled and never write it,
    # as the site's workers: a function compiled here over helpers loaded from that cache
    # would be cached broken for every process after it (docs/operations.md).
    from musiclib.ml import fastloop

    fastloop.cache_read_only()
    if not site_tests_requested(config):
        return
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise pytest.UsageError(
            "DATABASE_URL does not point at PostgreSQL. The tests run against real PostgreSQL "
            "and Redis servers that `make test` (or `scripts/test.sh [pytest args]`) starts: "
            "run them that way instead of calling pytest directly."
        )
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        raise pytest.UsageError(
            "CELERY_BROKER_URL does not point at Redis: run the tests with `make test` "
            "or `scripts/test.sh [pytest args]`."
        )
    _broker_of_this_xdist_worker()
    _cache_of_this_xdist_worker()


# A site test that asks for one of these trains a model, imports a real corpus, or starts a
# worker, a live server or a browser: it is marked `slow` and left out of `make test-fast`.
SLOW_FIXTURES = {
    "celery_worker",
    "queue_workers",
    "beat_worker",
    "live_server",
    "page",
    "trained_run",
    "two_epoch_run",
    "tiny_corpus",
    "corpus_melodies",
    "audio_run",
    "small_disk",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` selects and pytest-django sorts
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    # The tests with a Celery worker come last (pytest-django's sort into plain, transactional
    # and database-free tests keeps this order within each): one after another, they pass
    # the same worker on (`celery_worker`).
    items.sort(key=lambda item: "celery_worker" in getattr(item, "fixturenames", ()))
    _refuse_transactional_use_of_module_rows(items)


def _broker_of_this_xdist_worker() -> None:
    """Under pytest-xdist each test process has its own Redis database (gw0 → 1, gw1 → 2...;
    a run without xdist keeps the URL's), so its Celery workers never take another process's
    tasks nor answer its pings; pytest-django gives each its own test database likewise
    (test_musicsite_gw0, ...). Set in the environment (subprocesses), the settings and the
    Celery app (already configured when this runs)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    from urllib.parse import urlsplit, urlunsplit

    url = urlunsplit(
        urlsplit(os.environ["CELERY_BROKER_URL"])._replace(path=f"/{int(worker[2:]) + 1}")
    )
    os.environ["CELERY_BROKER_URL"] = url
    from django.conf import settings

    from musicsite.celery import app

    settings.CELERY_BROKER_URL = url
    app.conf.broker_url = url


def _cache_of_this_xdist_worker() -> None:
    """The shared cache (CACHE_URL, a Redis database: the throttles count there) is one
    Redis database per test process too (8 without xdist, gw0 → 9, gw1 → 10...): a test that
    clears the cache empties only its own process's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get("CACHE_URL", "")
    if not worker.startswith("gw") or not url.startswith("redis://"):
        return
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings
    from django.test.signals import clear_cache_handlers

    url = urlunsplit(urlsplit(url)._replace(path=f"/{8 + int(worker[2:]) + 1}"))
    os.environ["CACHE_URL"] = url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    clear_cache_handlers(setting="CACHES")


try:  # Hypothesis keeps its example database under test-artifacts/ (gitignored); on
    # slow shared CI machines there is no per-example deadline.
    from hypothesis import settings as hypothesis_settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    _examples = DirectoryBasedExampleDatabase(str(ARTIFACTS / "hypothesis"))
    hypothesis_settings.register_profile("musicsite", database=_examples)
    hypothesis_settings.register_profile("ci", database=_examples, deadline=None, print_blob=True)
    hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "musicsite")
except ImportError:  # pragma: no cover
    pass


# --- settings -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session", autouse=True)
def _test_settings(media_root: Path, request: pytest.FixtureRequest) -> Iterator[None]:
    """Session-wide overrides: media in a temporary directory, no automatic quick run (only
    where Django is loaded: the library's tests run without it too)."""
    if not request.config.pluginmanager.has_plugin("django"):
        yield
        return
    from django.test.utils import override_settings

    os.environ["MEDIA_ROOT"] = str(media_root)
    # The cache is a Redis database that outlives a run: counts of an earlier run (an hour's
    # survey limit) must not refuse this one's requests.
    from django.core.cache import cache

    cache.clear()
    # (the generation task freezes what its process keeps out of the garbage collector's
    # way: a worker's business, not the test process's; the test that checks it turns it on)
    with override_settings(
        MEDIA_ROOT=media_root, AUTOSTART_QUICK_RUN=False, GENERATION_GC_FREEZE=False
    ):
        yield


# --- the object store ------------------------------------------------------------------------
@pytest.fixture
def s3_bucket(request) -> dict[str, str]:
    """A fresh bucket on the test S3 server (moto's standalone server that scripts/services.sh
    starts, at MUSICSITE_TEST_S3_URL), as the environment a process needs to store its files
    there (the variables of .env.example)."""
    import uuid

    url = os.environ.get("MUSICSITE_TEST_S3_URL", "")
    if not url:
        raise pytest.UsageError(
            "MUSICSITE_TEST_S3_URL is not set: run the tests with `make test` or "
            "`scripts/test.sh [pytest args]`, which start the S3 server."
        )
    env = {
        "AWS_STORAGE_BUCKET_NAME": f"test-{uuid.uuid4().hex[:16]}",
        "AWS_S3_ENDPOINT_URL": url,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_S3_ACCESS_KEY_ID": "testing",
        "AWS_S3_SECRET_ACCESS_KEY": "testing",
        "AWS_S3_ADDRESSING_STYLE": "path",
    }
    s3_client(env).create_bucket(Bucket=env["AWS_STORAGE_BUCKET_NAME"])
    return env


def s3_client(env: dict[str, str]):
    """A boto3 client of the bucket's server (to look at the bucket beside the site)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_S3_ENDPOINT_URL"],
        region_name=env["AWS_S3_REGION_NAME"],
        aws_access_key_id=env["AWS_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_S3_SECRET_ACCESS_KEY"],
    )


def s3_keys(env: dict[str, str]) -> list[str]:
    """Every key in the bucket."""
    pages = s3_client(env).get_paginator("list_objects_v2")
    return [
        item["Key"]
        for page in pages.paginate(Bucket=env["AWS_STORAGE_BUCKET_NAME"])
        for item in page.get("Contents", [])
    ]


@pytest.fixture
def s3_storage(s3_bucket: dict[str, str], settings, tmp_path: Path) -> dict[str, str]:
    """This test's files go to a fresh bucket on the test S3 server (django-storages'
    S3Storage, as production with AWS_STORAGE_BUCKET_NAME set), local copies to a fresh
    FILE_CACHE_DIR. Returns the bucket's environment."""
    settings.FILE_CACHE_DIR = tmp_path / "filecache"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": s3_bucket["AWS_STORAGE_BUCKET_NAME"],
                "endpoint_url": s3_bucket["AWS_S3_ENDPOINT_URL"],
                "region_name": s3_bucket["AWS_S3_REGION_NAME"],
                "access_key": s3_bucket["AWS_S3_ACCESS_KEY_ID"],
                "secret_key": s3_bucket["AWS_S3_SECRET_ACCESS_KEY"],
                "addressing_style": "path",
                "file_overwrite": True,
            },
        },
    }
    return s3_bucket


# --- rows built once per module --------------------------------------------------------------
def once_per_module(fixture_function):
    """Marks a module-scoped fixture whose rows live in `module_transaction`: a module whose
    tests use it and that holds a transactional test (transaction=True, a live server or a
    worker) is refused at collection."""
    fixture_function.once_per_module = True
    return fixture_function


@contextlib.contextmanager
def module_transaction(django_db_blocker) -> Iterator[None]:
    """A transaction around a test module's shared rows, rolled back after its last test.

    pytest-django's `db` runs each test in a savepoint within it, so a test's changes are
    undone after the test and the next one sees the rows as built (what Django's
    TestCase.setUpTestData does for a class). Build the rows under
    `django_db_blocker.unblock()` inside it."""
    from django.db import transaction

    atomic = transaction.atomic()
    with django_db_blocker.unblock():
        atomic.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _refuse_transactional_use_of_module_rows(items: list[pytest.Item]) -> None:
    """A module whose tests share rows built once may hold no transactional test (one with
    transaction=True, a live server or a worker): its flush would run inside the module's
    transaction, or after tests it would see."""
    users: dict[Path, str] = {}
    transactional: dict[Path, str] = {}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        defs = [d for name in item.fixturenames for d in info.name2fixturedefs.get(name, ())]
        if any(getattr(d.func, "once_per_module", False) for d in defs):
            users.setdefault(item.path, item.nodeid)
        marker = item.get_closest_marker("django_db")
        if (marker and marker.kwargs.get("transaction")) or {
            "transactional_db",
            "live_server",
            "celery_worker",
        }.intersection(item.fixturenames):
            transactional.setdefault(item.path, item.nodeid)
    for path in users.keys() & transactional.keys():
        raise pytest.UsageError(
            f"{transactional[path]} is transactional, but {users[path]} in the same module "
            "shares rows built once per module (a transaction a transactional test would "
            "flush). Move the transactional test to a module of its own."
        )


# --- users ----------------------------------------------------------------------------------
@functools.cache
def _test_password_hash() -> str:
    """TEST_PASSWORD hashed once per test process with the site's own hasher (PBKDF2, a
    million rounds: 0.4 s a hash here); every test user stores this hash."""
    from django.contrib.auth.hashers import make_password

    return make_password(TEST_PASSWORD)


def _make_user(django_user_model, username: str, **extra):
    user = django_user_model(username=username, email=f"{username}@example.org", **extra)
    user.password = _test_password_hash()
    user.save()
    user.raw_password = TEST_PASSWORD
    return user


@pytest.fixture
def user(db, django_user_model):
    """An ordinary signed-up user (password in `user.raw_password`)."""
    return _make_user(django_user_model, "user")


@pytest.fixture
def staff_user(db, django_user_model):
    """A staff member: is_staff and is_superuser (password in `staff_user.raw_password`)."""
    return _make_user(django_user_model, "staff", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(staff_user):
    """A django.test.Client logged in as `staff_user` (separate from pytest-django's `client`)."""
    from django.test import Client

    client = Client()
    client.force_login(staff_user)
    return client


# --- Celery worker --------------------------------------------------------------------------
def purge_queues() -> None:
    """Drop every message waiting in the test broker's queues."""
    from musicsite.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in WORKER_QUEUES:
            channel.queue_purge(queue)


def _database_url(settings_dict: dict) -> str:
    from urllib.parse import quote

    auth = quote(settings_dict["USER"] or "", safe="")
    if settings_dict.get("PASSWORD"):
        auth += ":" + quote(settings_dict["PASSWORD"], safe="")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


class CeleryWorker:
    """A real `celery -A musicsite worker` subprocess in its own process group.

    Its output is copied line by line into `log_path` by a thread of this process, so the
    file it goes to can change between tests (`log_to`) while the worker runs on.
    """

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        name: str = "test",
        queues: tuple[str, ...] = WORKER_QUEUES,
        concurrency: int = 1,
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.name = f"{name}@{socket.gethostname()}"
        self.argv = [
            sys.executable, "-m", "celery", "-A", "musicsite", "worker",
            "-Q", ",".join(queues), "-c", str(concurrency), "-n", f"{name}@%h",
            "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "info",
        ]  # fmt: skip
        self.proc: subprocess.Popen | None = None
        self._copier: threading.Thread | None = None
        self._log_lock = threading.Lock()

    def log_to(self, log_path: Path) -> None:
        """Send the worker's output from now on to `log_path` (appended to)."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_lock:
            self.log_path = log_path

    def _copy_output(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, b""):
            with self._log_lock, open(self.log_path, "ab") as log:
                log.write(line)
        proc.stdout.close()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._copier = threading.Thread(
            target=self._copy_output, args=(self.proc,), name="celery-log", daemon=True
        )
        self._copier.start()
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        ready = re.compile(rb"\b" + re.escape(self.name.encode()) + rb" ready\.")
        while time.monotonic() < deadline:
            if self.log_path.exists():
                with open(self.log_path, "rb") as log:
                    log.seek(offset)
                    if ready.search(log.read()):
                        return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        output = self.log_path.read_bytes()[offset:].decode(errors="replace")
        pytest.fail(f"Celery worker did not become ready; its log:\n{output[-5000:]}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def idle(self) -> bool:
        """It answers, and holds no task: none running, reserved or scheduled."""
        from musicsite.celery import app

        inspect = app.control.inspect(destination=[self.name], timeout=2, limit=1)
        for ask in (inspect.active, inspect.reserved, inspect.scheduled):
            reply = ask()
            if not reply or reply.get(self.name):
                return False
        return True

    def _signal_group(self, sig: int) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def _wait_for_output(self) -> None:
        """The last lines reach the log once every process holding the pipe has exited."""
        if self._copier is not None:
            self._copier.join(timeout=10)

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as a crash or power cut would."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        self._wait_for_output()

    def restart(self) -> None:
        """Start the worker again with the same environment (after kill() or stop())."""
        if self.alive:
            self.stop()
        self.start()

    def stop(self, timeout: float = 10) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL for whatever is left after `timeout`."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)  # pool children too
        self.proc.wait()
        self._wait_for_output()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:150]


def worker_env(media_root: Path) -> dict[str, str]:
    """The environment of a test's worker processes: the test database, broker and media."""
    from django.db import connection

    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(connection.settings_dict),
        MEDIA_ROOT=str(media_root),
        RUN_STALE_AFTER_S="3",
        AUTOSTART_QUICK_RUN="0",
        CELERY_TASK_ALWAYS_EAGER="0",
        DJANGO_SETTINGS_MODULE="musicsite.settings",
        PYTHONUNBUFFERED="1",
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.pop("PYTEST_CURRENT_TEST", None)  # changes with every test; the worker never reads it
    return env


@pytest.fixture(scope="session")
def _kept_worker() -> Iterator[dict[str, CeleryWorker]]:
    """The Celery worker that tests pass on to the next one; stopped at the session's end."""
    kept: dict[str, CeleryWorker] = {}
    yield kept
    if "worker" in kept:
        kept.pop("worker").stop()


@pytest.fixture(autouse=True)
def _no_worker_unless_asked(request, _kept_worker: dict[str, CeleryWorker]) -> None:
    """A test that does not ask for a worker finds none running (one may test exactly that)."""
    if "worker" in _kept_worker and "celery_worker" not in request.fixturenames:
        _kept_worker.pop("worker").stop()


@pytest.fixture
def celery_worker(
    transactional_db, media_root: Path, request, _kept_worker: dict[str, CeleryWorker]
) -> Iterator[CeleryWorker]:
    """A real Celery worker (queues train, sample and default, concurrency 1) on the test database.

    Use it with `@pytest.mark.django_db(transaction=True)` so that the worker sees the rows
    the test commits. RUN_STALE_AFTER_S is 3 in the worker. The queues are purged first.
    Logs: test-artifacts/celery/<test id>.log (appended to by restart()).

    Started once and passed on: after a test the worker is kept for the next one if it is
    alive and idle (no task running, reserved or scheduled), else stopped (a test that
    killed, stopped or replaced it, or left a task running, gets the next test a fresh one).
    The database it reads is flushed between tests like the test's own connection. A test
    that does not ask for it finds it stopped; the tests that do run one after another.
    """
    env = worker_env(media_root)
    log_path = ARTIFACTS / "celery" / f"{_slug(request.node.nodeid)}.log"
    log_path.unlink(missing_ok=True)
    purge_queues()
    worker = _kept_worker.pop("worker", None)
    if worker is not None and worker.alive and worker.env == env:
        worker.log_to(log_path)
        with open(log_path, "ab") as log:
            log.write(
                f"[tests] {worker.name} (pid {worker.proc.pid}) kept from a test before\n".encode()
            )
    else:
        if worker is not None:
            worker.stop()
        worker = CeleryWorker(env, log_path)
        worker.start()
    try:
        yield worker
    finally:
        if worker.alive and worker.idle():
            _kept_worker["worker"] = worker
        else:
            worker.stop()


@pytest.fixture
def queue_workers(
    transactional_db, media_root: Path, request, _kept_worker: dict[str, CeleryWorker]
) -> Iterator[Callable[..., CeleryWorker]]:
    """`start(name, queues, concurrency=1)`: a real worker consuming only `queues` (a tuple of
    settings.WORK_QUEUES), named `name@<host>`, as the roles of a deployment run them. The
    queues are purged first; every worker started is stopped at teardown. Logs:
    test-artifacts/celery/<test id>-<name>.log."""
    if "worker" in _kept_worker:  # a kept all-queue worker would take these tests' tasks
        _kept_worker.pop("worker").stop()
    purge_queues()
    started: list[CeleryWorker] = []

    def start(name: str, queues: tuple[str, ...], concurrency: int = 1) -> CeleryWorker:
        log_path = ARTIFACTS / "celery" / f"{_slug(request.node.nodeid)}-{name}.log"
        log_path.unlink(missing_ok=True)
        worker = CeleryWorker(worker_env(media_root), log_path, name, queues, concurrency)
        started.append(worker)
        worker.start()
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


# --- Playwright / Chromium ------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium by path: Playwright's own browser download is not used."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """`screenshot(page, name, full_page=True)` saves test-artifacts/screenshots/<name>.png."""

    def take(page, name: str, *, full_page: bool = True) -> Path:
        path = ARTIFACTS / "screenshots" / f"{_slug(name)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def in_process_import(monkeypatch):
    """Imports parse in this process: for a tiny corpus that is quicker than starting a
    process pool from a forkserver (which a process running TensorFlow's threads needs)."""
    from generator.services import corpora

    monkeypatch.setattr(corpora, "cpu_count", lambda: 1)
