"""Files through Django's storage API against a real S3-compatible server (moto's standalone
server, started by scripts/services.sh like PostgreSQL and Redis): a round trip, the local
copies keyed by content that code needing a path reads, and the site's made files."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.storage import file_put, file_read, file_write, local_copy
from tests.conftest import s3_client, s3_keys

pytestmark = pytest.mark.django_db


def test_a_file_round_trips_through_the_s3_server_and_nothing_lands_in_the_media_folder(
    s3_storage, media_root
):
    before = sorted(p for p in media_root.rglob("*") if p.is_file())
    data = bytes(range(256)) * 40

    assert file_write("pieces/midi/round_trip.mid", data) == "pieces/midi/round_trip.mid"

    assert file_read("pieces/midi/round_trip.mid") == data
    # The object is in the bucket, as another machine's client sees it.
    got = s3_client(s3_storage).get_object(
        Bucket=s3_storage["AWS_STORAGE_BUCKET_NAME"], Key="pieces/midi/round_trip.mid"
    )
    assert got["Body"].read() == data
    assert sorted(p for p in media_root.rglob("*") if p.is_file()) == before
    # Written again under the same name: replaced, not renamed beside it.
    file_write("pieces/midi/round_trip.mid", b"MThd new")
    assert file_read("pieces/midi/round_trip.mid") == b"MThd new"
    assert s3_keys(s3_storage) == ["pieces/midi/round_trip.mid"]


def test_a_missing_file_is_not_found(s3_storage):
    with pytest.raises(FileNotFoundError):
        file_read("pieces/midi/never_written.mid")
    with pytest.raises(FileNotFoundError):
        local_copy("checkpoints/run_1/epoch_0001.npz")


def test_local_copies_are_keyed_by_content_so_the_same_bytes_are_fetched_once(
    s3_storage, settings, tmp_path
):
    weights = b"\x93NUMPY fake weights " * 500
    file_write("checkpoints/run_1/epoch_0001.npz", weights)
    first = local_copy("checkpoints/run_1/epoch_0001.npz")
    assert first.read_bytes() == weights
    assert first.is_relative_to(Path(settings.FILE_CACHE_DIR))
    assert first.name == "epoch_0001.npz"  # Keras and numpy read the format from the suffix
    inode = first.stat().st_ino

    # Asked again, and for the same bytes under another name: the copy already there (its
    # time marked as used, for the pruning: test_file_cache_prune.py).
    again = local_copy("checkpoints/run_1/epoch_0001.npz")
    assert again == first and again.stat().st_ino == inode
    source = tmp_path / "same.npz"
    source.write_bytes(weights)
    file_put("checkpoints/run_2/epoch_0001.npz", source)
    assert local_copy("checkpoints/run_2/epoch_0001.npz") == first
    cached = [p for p in Path(settings.FILE_CACHE_DIR).rglob("*") if p.is_file()]
    assert cached == [first]

    # New content under the old name (an epoch trained again): a new copy with it.
    file_write("checkpoints/run_1/epoch_0001.npz", b"retrained " * 300)
    changed = local_copy("checkpoints/run_1/epoch_0001.npz")
    assert changed != first and changed.read_bytes() == b"retrained " * 300
    assert first.read_bytes() == weights  # a process still reading the old copy keeps it


def test_the_sites_made_files_are_kept_in_the_bucket(s3_storage, db):
    from generator.services.files import media_cache, score_pages

    abc = "X:1\nT:Storage\nM:4/4\nL:1/8\nK:D\nDEFG ABcd|e2d2 c2B2|A8|]\n"
    pages, error = score_pages(kind="pieces", pk=7, way="abc", text=abc)
    assert pages and not error
    name = media_cache("scores/pieces", 7, f"abc\n{abc}", "json")
    assert name in s3_keys(s3_storage)
    # The second page view reads the stored score (a change in the bucket is what it shows).
    file_write(name, b'["<svg>stored</svg>"]')
    assert score_pages(kind="pieces", pk=7, way="abc", text=abc) == (["<svg>stored</svg>"], "")
