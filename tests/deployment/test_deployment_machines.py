"""A deployment across machines, shown on one: the production roles (`scripts/prod.sh web`,
`train`, `sample`, `default`, `beat`) each run as if on a host of its own, with its own
MEDIA_ROOT, var folder and file cache (nothing shared on disk), sharing only PostgreSQL (the
test database), Redis (this test process's broker and cache databases) and the S3 server (a
fresh bucket on moto's standalone server).

A tiny run is trained on the `train` role, its tunes are generated on the `sample` role and
rendered on the `default` role, and the `web` role serves the pages, the score, the audio
and the downloads: every file crossed from one "machine" to another through the object
store only."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, ROOT, _database_url, purge_queues, s3_keys
from tests.factories import make_tiny_corpus, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

ROLES = ("web", "train", "sample", "default", "beat")
WORKER_ROLES = ("train", "sample", "default")
START_TIMEOUT_S = 180  # the web role runs check --deploy, migrate and collectstatic first
TRAIN_TIMEOUT_S = 300
PRIME = "M:6/8\nL:1/8\nK:G\n"


@dataclass
class Role:
    name: str
    machine: Path  # this role's own folder: media, var, file cache, static files
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    _log: object = field(default=None, repr=False)

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["bash", "scripts/prod.sh", self.name],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn's and Celery's children
        )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # pool children left in the group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self._log is not None:
            self._log.close()

    def files(self, folder: str) -> list[Path]:
        root = self.machine / folder
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def machines(s3_storage, tmp_path: Path, request) -> Iterator[dict[str, Role]]:
    """The five roles started with scripts/prod.sh, each on its own "machine" folder."""
    from django.conf import settings
    from django.db import connection

    port = _free_port()
    shared = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_ALLOW"))},
        **s3_storage,  # the bucket: AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, keys
        "DATABASE_URL": _database_url(connection.settings_dict),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CACHE_URL": settings.CACHES["default"]["LOCATION"],
        "DEBUG": "0",
        "SECRET_KEY": "cross-machine-test-" + "k" * 60,
        "ALLOWED_HOSTS": "127.0.0.1",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "SAMPLE_CONCURRENCY": "1",
        "CELERY_CONCURRENCY": "1",
        "MIGRATE": "0",  # the test database is migrated already
        "AUTOSTART_QUICK_RUN": "0",
        "RECOVER_EVERY_S": "10",
        "PYTHONUNBUFFERED": "1",
    }
    shared.pop("MEDIA_ROOT", None)
    logs = ARTIFACTS / "deployment"
    logs.mkdir(parents=True, exist_ok=True)
    roles = {}
    for name in ROLES:
        machine = tmp_path / name
        env = {
            **shared,
            "MUSICSITE_VAR_DIR": str(machine / "var"),
            "MEDIA_ROOT": str(machine / "media"),
            "FILE_CACHE_DIR": str(machine / "filecache"),
            "STATIC_ROOT": str(machine / "static"),
        }
        log_path = logs / f"{name}.log"
        log_path.unlink(missing_ok=True)
        roles[name] = Role(name=name, machine=machine, env=env, log_path=log_path)
    purge_queues()
    try:
        for role in roles.values():
            role.start()
        roles["web"].url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        yield roles
    finally:
        for role in roles.values():
            role.stop()


def _get(url: str, *, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    # The site runs as in production behind a TLS proxy: it is told the request was https.
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
    except OSError:
        return 0, {}, b""


def _logs(roles: dict[str, Role]) -> str:
    return "\n".join(f"--- {name}\n{role.log()[-2500:]}" for name, role in roles.items())


def _wait_started(roles: dict[str, Role]) -> None:
    from musicsite.celery import app

    host = socket.gethostname()
    names = {f"{name}@{host}" for name in WORKER_ROLES}
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        dead = [name for name, role in roles.items() if not role.alive]
        assert not dead, f"roles {dead} exited\n{_logs(roles)}"
        answered = {name for reply in app.control.ping(timeout=1.0) for name in reply}
        status, _, _ = _get(roles["web"].url + "/health/")  # type: ignore[attr-defined]
        if names <= answered and status == 200 and "Starting" in roles["beat"].log():
            return
        time.sleep(1)
    raise AssertionError(f"the roles did not start in {START_TIMEOUT_S} s\n{_logs(roles)}")


def test_roles_on_separate_machines_train_generate_and_serve_through_the_object_store(
    machines, s3_storage
):
    from generator.models import JobStatus, Piece, TrainingRun
    from generator.services import generation_job_create, training_run_create, training_run_start

    roles = machines
    _wait_started(roles)
    web = roles["web"].url  # type: ignore[attr-defined]

    # Train on the `train` role.
    corpus = make_tiny_corpus(name="across machines", tunes=20)
    run = training_run_create(corpus=corpus, preset="tiny", epochs=1, seed=3)
    training_run_start(run=run)

    def trained():
        run.refresh_from_db()
        assert run.status not in (JobStatus.FAILED, JobStatus.CANCELLED), run.error
        return run.status == JobStatus.SUCCEEDED

    wait_for(trained, timeout=TRAIN_TIMEOUT_S, what=f"the run to train\n{_logs(roles)}")
    assert run.worker.startswith("train@"), run.worker
    checkpoint = run.checkpoints.get()
    keys = set(s3_keys(s3_storage))
    assert {checkpoint.file.name, checkpoint.file.name.replace(".keras", ".npz")} <= keys

    # Generate on the `sample` role, from the sampler file it copies out of the bucket.
    job = generation_job_create(
        checkpoint=checkpoint, count=2, seed=11, max_length=300, grammar=True, prime=PRIME
    )

    def generated():
        job.refresh_from_db()
        assert job.status not in (JobStatus.FAILED, JobStatus.CANCELLED), job.error
        return job.status == JobStatus.SUCCEEDED

    wait_for(generated, timeout=120, what=f"the generation job\n{_logs(roles)}")
    received = re.compile(r"generation_job_task\[[0-9a-f-]+\] received")
    assert received.search(roles["sample"].log())
    assert not received.search(roles["train"].log() + roles["default"].log())
    pieces = list(Piece.objects.filter(job=job).order_by("pk"))
    assert len(pieces) == 2 and all(p.midi for p in pieces)
    sampler_copies = [p.name for p in roles["sample"].files("filecache")]
    assert checkpoint.file.name.rsplit("/", 1)[-1].replace(".keras", ".npz") in sampler_copies

    # Rendered on the `default` role: each piece's audio is in the bucket.
    def rendered():
        return all(Piece.objects.get(pk=p.pk).audio for p in pieces)

    wait_for(rendered, timeout=120, what=f"the pieces' audio\n{_logs(roles)}")
    # ... and its score, engraved there too (a piece's page never engraves in the request).
    wait_for(
        lambda: any(k.startswith(f"scores/pieces/{pieces[0].pk}-") for k in s3_keys(s3_storage)),
        timeout=120,
        what=f"the piece's score\n{_logs(roles)}",
    )
    piece = Piece.objects.get(pk=pieces[0].pk)
    keys = set(s3_keys(s3_storage))
    assert {piece.midi.name, piece.audio.name} <= keys

    # Served by the `web` role: pages, the engraved score, audio (ranged too), downloads.
    for path in ("/", f"/runs/{run.pk}/", f"/pieces/{piece.pk}/", f"/jobs/{job.pk}/"):
        status, _, body = _get(web + path)
        assert status == 200, (path, status, body[:500])
    _, _, page = _get(web + f"/pieces/{piece.pk}/")
    assert b'class="score-page"' in page  # the score the default role kept in the bucket
    status, headers, audio = _get(web + f"/pieces/{piece.pk}/audio/")
    assert status == 200 and audio[:4] == b"OggS", (status, audio[:100])
    status, headers, part = _get(
        web + f"/pieces/{piece.pk}/audio/", headers={"Range": "bytes=0-99"}
    )
    assert status == 206 and part == audio[:100]
    assert headers["Content-Range"] == f"bytes 0-99/{len(audio)}"
    status, headers, midi = _get(web + f"/pieces/{piece.pk}/download/midi/")
    assert status == 200 and midi[:4] == b"MThd"
    assert "attachment" in headers["Content-Disposition"]
    with piece.midi.open("rb") as fh:  # the bytes the sample role stored
        assert fh.read() == midi
    status, _, text = _get(web + f"/pieces/{piece.pk}/download/abc/")
    assert status == 200 and text.decode() == piece.text

    # Nothing crossed on disk: no role's media folder holds a file; every file went through
    # the object store.
    for role in roles.values():
        assert role.files("media") == [], (role.name, role.files("media"))
    assert TrainingRun.objects.get(pk=run.pk).status == JobStatus.SUCCEEDED
    assert all(role.alive for role in roles.values()), _logs(roles)
