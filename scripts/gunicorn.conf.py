"""gunicorn's settings for the site (scripts/prod.sh web role; bench/crawl.py): workers that
are warm before they take traffic.

A fresh Python process pays for its imports on its first request: Django loads the URL
configuration (every view, service and the music library behind them) and the ways import
music21, numpy and the renderers only when first used, which made a new worker's first page
take over ten seconds. Nothing runs on import in the site's own modules, so the warming is
done here, by the server: the application is loaded once in the master (`preload_app`), then
`when_ready` (in the master, before any worker is forked) imports what the pages need and
compiles the templates; every worker is forked from that warm process and shares its memory.

Nothing here opens a database connection or a socket before the fork (forked workers must
not share one). A change of code takes a restart (`preload_app`: a HUP reloads settings,
not code).
"""

from __future__ import annotations

import importlib
import logging
import time

preload_app = True

# Modules the pages import lazily, on their first use (each a few hundred ms to seconds).
WARM_MODULES = (
    "numpy",
    "music21",
    "verovio",
    "musiclib.render",
    "musiclib.metrics",
    "musiclib.ways",
    "musiclib.audio.dsp",
    "musiclib.audio.image",
    "rest_framework",
    "drf_spectacular.generators",
)


def warm() -> float:
    """Import what the site's pages use and load the URL configuration and templates, as a
    first request would. Returns the seconds it took."""
    from django.template import TemplateDoesNotExist, TemplateSyntaxError, engines
    from django.urls import get_resolver

    started = time.perf_counter()
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # an optional part missing here: its pages say so
            logging.getLogger("gunicorn.error").warning("warm: %s not imported: %s", name, exc)
    from musiclib.ways import all_ways

    for way in all_ways():  # each way's capabilities and helpers, as the pages ask for them
        getattr(way, "capabilities", None)
    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - imports every view, service and selector
    resolver.reverse_dict  # noqa: B018 - builds the reverse() tables once, before the fork
    from django.utils import translation

    translation.gettext("Home")  # the translation catalogues the admin's pages use
    for engine in engines.all():  # the cached loader keeps each compiled template
        for name in _template_names():
            try:
                engine.get_template(name)
            except (TemplateDoesNotExist, TemplateSyntaxError):  # one needing an absent library
                pass
    return time.perf_counter() - started


def _template_names() -> list[str]:
    """Every template of the site and of its apps (the admin's, the API's)."""
    from pathlib import Path

    from django.conf import settings
    from django.template.utils import get_app_template_dirs

    folders = [Path(d) for d in settings.TEMPLATES[0].get("DIRS", [])]
    folders += [Path(d) for d in get_app_template_dirs("templates")]
    names = []
    for root in folders:
        names += [str(p.relative_to(root)) for p in sorted(root.rglob("*.html"))]
    return sorted(set(names))


def when_ready(server) -> None:
    from django.db import connections

    server.log.info("warming the application before the workers start")
    seconds = warm()
    connections.close_all()  # should anything have connected, no worker inherits the socket
    server.log.info("warm in %.1f s", seconds)
