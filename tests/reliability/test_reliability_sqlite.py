"""`make run`'s embedded database: SQLite, which the web server and three workers use at
once. Its settings are tested in a child process, where DATABASE_URL is unset as it is on
a fresh machine (the rest of the suite runs on PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A reader that keeps its statement open, as a corpus render keeps its tunes' cursor open
# while it engraves them for seconds, and a write beside it, as a visitor's job stores its
# pieces: the time the write's transaction took to commit, in seconds.
WRITE_BESIDE_A_READ = """
import sqlite3, time
import django
django.setup()
from django.db import connection, transaction
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE tune (x INTEGER)")
    cursor.executemany("INSERT INTO tune VALUES (%s)", [(i,) for i in range(500)])
reader = sqlite3.connect(connection.settings_dict["NAME"])
rows = reader.execute("SELECT x FROM tune")
rows.fetchmany(10)
t0 = time.monotonic()
with transaction.atomic():
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO tune VALUES (1)")
print(f"{time.monotonic() - t0:.3f}")
rows.fetchall()
"""


def test_on_sqlite_a_write_does_not_wait_for_a_long_read_beside_it(tmp_path):
    # In SQLite's default journal, an open read holds off every commit until it ends: a
    # visitor's job, storing its pieces, waited seconds for each corpus render task to finish.
    env = {**os.environ, "MUSICSITE_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "musicsite.settings"
    done = subprocess.run(
        [sys.executable, "-c", WRITE_BESIDE_A_READ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split()[-1]) < 1.0
