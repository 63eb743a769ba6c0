"""Request limits every process agrees on: two separate OS processes, each a Django process
serving the API as a gunicorn worker on another host would, count one caller's requests
into the same number in the shared cache (Redis, CACHE_URL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, _database_url

pytestmark = pytest.mark.django_db(transaction=True)

# Each process sends `requests` API requests from one address (and answers to the survey's
# new-listener limit) with the rate below; it prints how many were answered 200 and 429.
PROCESS = r"""
import json, sys
import django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
from common.throttle import window_hit

requests = int(sys.argv[1])
rates = {"api_anon": "5/hour", "api_user": "600/min"}
codes = []
with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
    client = Client(REMOTE_ADDR="198.51.100.23")
    for _ in range(requests):
        codes.append(client.get("/api/v1/pieces/").status_code)
survey = [window_hit("survey-start", "198.51.100.23", limit=3, window_s=3600) is None
          for _ in range(requests)]
print(json.dumps({"codes": codes, "survey_allowed": sum(survey)}))
"""


def _run_process(env: dict[str, str], requests: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PROCESS, str(requests)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_share_one_count_of_a_callers_requests():
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection

    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    cache.clear()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "DJANGO_SETTINGS_MODULE": "musicsite.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    # Both at once: 4 + 4 requests against one limit of 5 an hour.
    procs = [_run_process(env, 4), _run_process(env, 4)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    # Alone, neither process would have refused any of its 4 requests (4 < 5): together
    # they let exactly 5 through.
    codes = [code for result in results for code in result["codes"]]
    assert sorted(codes) == [200] * 5 + [429] * 3
    # The survey's new-listener limit (3 an hour) is the same one count across processes.
    assert sum(result["survey_allowed"] for result in results) == 3
    cache.clear()
