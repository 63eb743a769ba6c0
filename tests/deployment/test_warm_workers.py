"""gunicorn's config (scripts/gunicorn.conf.py) warms the application before it forks its
workers, so no worker's first visitor pays for the imports; the site's modules themselves
still run nothing on import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import json, os, runpy, sys
from django.core.wsgi import get_wsgi_application

get_wsgi_application()  # what gunicorn's preload does in the master
before = {m: m in sys.modules for m in ("generator.views", "verovio")}
conf = runpy.run_path("scripts/gunicorn.conf.py")
conf["warm"]()
from django.db import connections
from django.template import engines
from django.urls import get_resolver

engine = engines["django"].engine
cached = sum(len(loader.get_template_cache) for loader in engine.template_loaders
             if hasattr(loader, "get_template_cache"))
print(json.dumps({
    "preload": conf["preload_app"],
    "before": before,
    "after": {m: m in sys.modules for m in ("generator.views", "verovio")},
    "urlconf_loaded": "url_patterns" in get_resolver().__dict__,
    "templates_compiled": cached,
    "database_connections": sum(c.connection is not None for c in connections.all()),
}))
"""


def test_the_server_config_warms_views_renderers_and_templates_before_the_fork():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "musicsite.settings", "DEBUG": "0",
           "SECRET_KEY": "warm-test", "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["preload"] is True
    # Loading the application leaves the pages' modules to their first request ...
    assert facts["before"] == {"generator.views": False, "verovio": False}
    # ... the config's hook imports them, loads the URLs and compiles the templates ...
    assert facts["after"] == {"generator.views": True, "verovio": True}
    assert facts["urlconf_loaded"] and facts["templates_compiled"] > 20
    # ... and leaves no database connection for the forked workers to share.
    assert facts["database_connections"] == 0
