"""The test infrastructure: real PostgreSQL, Redis, Celery worker, Chromium; deploy checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.urls import path

ROOT = Path(__file__).resolve().parent.parent

# A URLconf of its own for the browser test, so it depends on nothing but the admin.
urlpatterns = [path("admin/", admin.site.urls)]


@pytest.mark.django_db
def test_database_is_postgresql():
    assert connection.vendor == "postgresql"
    assert connection.settings_dict["NAME"].startswith("test_")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_broker_is_reachable_redis():
    import redis

    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5).ping()


def test_media_root_is_temporary(media_root):
    assert Path(settings.MEDIA_ROOT) == media_root
    assert settings.AUTOSTART_QUICK_RUN is False


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_celery_worker_answers_ping_and_survives_kill(celery_worker):
    from musicsite.celery import app

    def ping():
        return app.control.ping(destination=[celery_worker.name], timeout=3)

    assert ping() == [{celery_worker.name: {"ok": "pong"}}]
    assert connection.settings_dict["NAME"] in celery_worker.env["DATABASE_URL"]

    logged = len(celery_worker.log())
    celery_worker.kill()
    assert not celery_worker.alive
    assert ping() == []

    celery_worker.restart()
    assert ping() == [{celery_worker.name: {"ok": "pong"}}]
    assert celery_worker.log()[logged:].count(f"{celery_worker.name} ready.") == 1


def test_check_deploy_has_no_warnings():
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by conftest for Playwright tests only
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="example.org",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


@pytest.mark.browser
def test_chromium_renders_admin_login(live_server, page, screenshot, settings):
    settings.ROOT_URLCONF = __name__
    page.goto(f"{live_server.url}/admin/login/")
    assert page.locator("input[name=username]").is_visible()
    assert page.locator("input[name=password]").is_visible()
    assert "Log in" in page.title()
    assert screenshot(page, "infra-admin-login").stat().st_size > 0


def test_the_services_script_moves_past_ports_that_are_bound_but_not_listening():
    """A port in Linux's ephemeral range can be the local end of an outgoing connection:
    nothing listens there, yet no server can bind it. CI once failed on exactly that."""
    import random
    import shutil
    import socket
    import tempfile

    held = []
    base = {}
    for name in ("PG", "REDIS", "S3"):
        while True:  # a base port nothing holds, held now without listening
            port = random.randrange(40000, 50000)
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
            base[name] = port
            break
    env = {
        **os.environ,
        # Not pytest's tmp_path: PostgreSQL runs as its own user and must reach the directory.
        "MUSICSITE_SERVICES_DIR": tempfile.mkdtemp(prefix="musicsite-services-test-"),
        **{f"MUSICSITE_{name}_PORT": str(port) for name, port in base.items()},
    }
    script = str(ROOT / "scripts" / "services.sh")
    try:
        started = subprocess.run(
            [script, "start"], env=env, capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, started.stderr
        assert subprocess.run([script, "status"], env=env, timeout=30).returncode == 0
        printed = subprocess.run(
            [script, "env"], env=env, capture_output=True, text=True, timeout=30
        ).stdout
        urls = dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines())
        assert f":{base['PG'] + 1}/" in urls["DATABASE_URL"]
        assert urls["CELERY_BROKER_URL"] == f"redis://127.0.0.1:{base['REDIS'] + 1}/0"
        assert urls["MUSICSITE_TEST_S3_URL"] == f"http://127.0.0.1:{base['S3'] + 1}"
    finally:
        subprocess.run([script, "clean"], env=env, timeout=120)
        shutil.rmtree(env["MUSICSITE_SERVICES_DIR"], ignore_errors=True)
        for sock in held:
            sock.close()
