"""The library's tests: musiclib alone, with no Django, no database and no server.

Run them with `make test-fast` or `.venv/bin/python -m pytest -p no:django tests/library`
(no DATABASE_URL needed); `make test` runs them the same way before the site's tests. They
also pass inside a full pytest run with Django loaded, which they never touch.

Fixtures
- `library_media_root` (session): the folder musiclib.config.media_root() names during each
  test (corpus recordings are written there), a pytest temporary directory.

When pytest-django is not loaded, the run fails at its end if anything imported Django: the
library and its tests must not need it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from musiclib import config as musiclib_config


@pytest.fixture(scope="session")
def library_media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("library-media")


@pytest.fixture(autouse=True)
def _library_media_root(library_media_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """musiclib writes and reads corpus files under a temporary folder, never var/media; the
    provider the site registered (in a full run) is back after the test."""
    monkeypatch.setitem(musiclib_config._providers, "media_root", lambda: library_media_root)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.pluginmanager.has_plugin("django"):
        return
    if "django" in sys.modules:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(
            "\nlibrary tests: Django was imported during a run without pytest-django; "
            "musiclib and tests/library must not need it",
            file=sys.stderr,
        )
