"""A worker's processes read the sampling loop's numba cache and never write it: a function
compiled over helpers loaded from that cache is cached broken, and every later process that
loads it segfaults (docs/operations.md). (The tests' own processes read it only, too:
tests/conftest.py.)"""

import os
import subprocess
import sys
from pathlib import Path

from musiclib.ml import fastloop

# A worker process as the pool starts one: Django set up, then the pool's signal; then a
# loop function called with a type no path of the site passes (numba compiles it anew).
CHILD = """
import django, numpy as np
django.setup()
from celery.signals import worker_process_init
from musiclib.ml import fastloop
worker_process_init.send(sender=None)
assert fastloop._movable(np.full((3, 4), 5, dtype=np.int16), 1, 2)
"""


def test_a_worker_process_compiles_what_setup_left_out_in_memory_and_caches_nothing():
    cache_dir = Path(fastloop.__file__).parent / "__pycache__"

    def files() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in cache_dir.glob("fastloop._movable-*")}

    before = files()
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "musicsite.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert files() == before
    assert "numba compiled _movable" in done.stderr and "int16" in done.stderr
