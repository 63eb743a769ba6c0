"""The local copies of stored files (FILE_CACHE_DIR) stay within FILE_CACHE_MAX_MB: the
copies used longest ago are deleted, by the process that adds one and by the beat's task on
the `default` worker, never one in use, and never the scratch folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from celery import current_app

from common.storage import file_cache_prune, file_write, local_copy
from generator.task_names import FILE_CACHE_PRUNE_TASK
from tests.factories import wait_for

KB = 1024
MB = 1024 * 1024


def _age(path: Path, seconds: float) -> None:
    """Mark `path` as last used `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def _cached(folder) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and "scratch" not in p.parts)


@pytest.fixture
def four_copies(s3_storage, settings, db):
    """Four 100 KB checkpoints stored in the bucket and copied to this machine, last used an
    hour, 40, 30 and 20 minutes ago (a, b, c, d)."""
    copies = {}
    for n, (label, minutes) in enumerate(zip("abcd", (60, 40, 30, 20), strict=True)):
        name = f"checkpoints/run_{n}/epoch_0001.keras"
        file_write(name, bytes([n]) * (100 * KB))
        copies[label] = (name, local_copy(name))
        _age(copies[label][1], minutes * 60)
    return copies


def test_past_the_bound_the_copies_used_longest_ago_are_deleted_first(four_copies, settings):
    name_a, path_a = four_copies["a"]
    assert local_copy(name_a) == path_a  # used again now: the newest, though made first
    pruned = file_cache_prune(max_bytes=250 * KB, keep_s=60)
    assert pruned.removed_files == 2 and pruned.kept_bytes == 200 * KB
    assert _cached(settings.FILE_CACHE_DIR) == sorted([path_a, four_copies["d"][1]])
    assert not four_copies["b"][1].parent.exists()  # its emptied folder went with it
    assert file_cache_prune(max_bytes=250 * KB, keep_s=60).removed_files == 0  # within it now


def test_a_copy_used_within_the_keep_time_stays_even_past_the_bound(four_copies, settings):
    pruned = file_cache_prune(max_bytes=1, keep_s=35 * 60)  # c and d were used since
    assert pruned.removed_files == 2
    assert _cached(settings.FILE_CACHE_DIR) == sorted([four_copies[k][1] for k in "cd"])
    assert file_cache_prune(max_bytes=0, keep_s=0).removed_files == 0  # 0: no bound


def test_a_process_reading_a_pruned_copy_reads_on_and_the_next_ask_fetches_it_again(
    four_copies,
):
    name, path = four_copies["a"]
    with open(path, "rb") as reading:
        head = reading.read(10)
        file_cache_prune(max_bytes=1, keep_s=0)
        assert not path.exists()
        assert head + reading.read() == bytes([0]) * (100 * KB)  # the open file is whole
    again = local_copy(name)
    assert again == path and again.read_bytes() == bytes([0]) * (100 * KB)


def test_scratch_files_and_downloads_under_way_are_left_alone(four_copies, settings):
    root = Path(settings.FILE_CACHE_DIR)
    scratch = root / "scratch" / "run_9-abc" / "epoch_0001.keras"
    scratch.parent.mkdir(parents=True)
    scratch.write_bytes(b"x" * (300 * KB))
    _age(scratch, 86_400)
    folder = four_copies["d"][1].parent
    under_way, abandoned = folder / ".tmp-fresh", folder / ".tmp-old"
    under_way.write_bytes(b"y" * KB)
    abandoned.write_bytes(b"z" * KB)
    _age(abandoned, 2 * 3600)
    file_cache_prune(max_bytes=1, keep_s=0)
    assert scratch.exists() and under_way.exists() and not abandoned.exists()
    assert _cached(root) == [under_way]


def test_adding_a_copy_prunes_this_machines_copies(four_copies, settings):
    settings.FILE_CACHE_MAX_MB = 0.3  # 300 KiB (the environment's floor is 16 MiB)
    settings.FILE_CACHE_KEEP_S = 60
    file_write("checkpoints/run_9/epoch_0001.keras", b"n" * (100 * KB))
    newest = local_copy("checkpoints/run_9/epoch_0001.keras")
    kept = _cached(settings.FILE_CACHE_DIR)
    assert newest in kept and four_copies["a"][1] not in kept  # the oldest made room
    assert sum(p.stat().st_size for p in kept) <= 300 * KB


@pytest.fixture
def bounded_cache_env(tmp_path, monkeypatch):
    """The next worker's FILE_CACHE_DIR (a fresh folder) bounded to 16 MiB."""
    folder = tmp_path / "worker-filecache"
    monkeypatch.setenv("FILE_CACHE_DIR", str(folder))
    monkeypatch.setenv("FILE_CACHE_MAX_MB", "16")
    monkeypatch.setenv("FILE_CACHE_KEEP_S", "60")
    return folder


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_beats_prune_task_bounds_the_default_workers_copies(bounded_cache_env, celery_worker):
    # Three 8 MiB copies (sparse files: sizes without the disk) used 3, 2 and 1 hours ago.
    copies = []
    for n, hours in enumerate((3, 2, 1)):
        path = bounded_cache_env / "s3" / f"s3-etag{n}-{8 * MB}" / "epoch_0001.keras"
        path.parent.mkdir(parents=True)
        with open(path, "wb") as fh:
            fh.truncate(8 * MB)
        _age(path, hours * 3600)
        copies.append(path)
    current_app.tasks[FILE_CACHE_PRUNE_TASK].delay()  # what the beat sends on its schedule
    wait_for(
        lambda: not copies[0].exists(),
        timeout=60,
        what="the default worker to prune its copies",
        worker=celery_worker,
    )
    assert copies[1].exists() and copies[2].exists()  # 16 MiB: within the bound
