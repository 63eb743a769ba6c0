"""A worker's processes read the sampling loop's numba cache and never write it: a function
compiled over helpers loaded from that cache is cached broken, and every later process that
loads it segfaults (docs/operations.md)."""

from pathlib import Path

import numpy as np
from celery.signals import worker_process_init

from musiclib.ml import fastloop


def test_a_worker_process_compiles_what_setup_left_out_in_memory_and_caches_nothing(caplog):
    cache_dir = Path(fastloop.__file__).parent / "__pycache__"

    def files() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in cache_dir.glob("fastloop._movable-*")}

    before = files()
    worker_process_init.send(sender=None)  # as the pool sends it in each child it starts
    maps = np.full((3, 4), 5, dtype=np.int16)  # a type no path of the site passes
    with caplog.at_level("WARNING", logger="musiclib.ml.fastloop"):
        assert fastloop._movable(maps, 1, 2)
    assert files() == before
    assert "numba compiled _movable" in caplog.text and "int16" in caplog.text
