"""Audio is streamed from the storage by byte ranges (players seek with them): only the bytes
asked for are read, on the local disk and in an object store, with 206, Content-Range and 416
as HTTP says."""

from __future__ import annotations

import os
import tracemalloc
from urllib.request import Request, urlopen

import pytest
from django.urls import reverse

from common.storage import file_write
from generator.models import Piece
from tests.web.builders import make_piece, make_world

pytestmark = pytest.mark.django_db

# A long recording's worth of bytes (8 MiB): reading it whole for a small range would show.
BIG = 8 * 1024 * 1024


@pytest.fixture
def long_piece(db):
    """A piece whose audio file is BIG random bytes (their content is not played here)."""
    piece = make_piece(make_world(), title="A long one", audio=False)
    data = os.urandom(BIG)
    name = file_write(f"pieces/audio/long_{piece.pk}.ogg", data)
    Piece.objects.filter(pk=piece.pk).update(audio=name)
    return Piece.objects.get(pk=piece.pk), data


def _get(client, piece, range_header: str | None = None):
    headers = {"HTTP_RANGE": range_header} if range_header else {}
    return client.get(reverse("piece_audio", args=[piece.pk]), **headers)


def _body(response) -> bytes:
    return b"".join(response) if response.streaming else response.content


def test_a_range_is_answered_206_with_its_bytes_and_content_range(client, long_piece):
    piece, data = long_piece
    part = _get(client, piece, "bytes=100-199")
    assert part.status_code == 206 and part["Accept-Ranges"] == "bytes"
    assert part["Content-Range"] == f"bytes 100-199/{BIG}" and part["Content-Length"] == "100"
    assert _body(part) == data[100:200]
    assert part["Content-Type"] == "audio/ogg"
    assert part["Content-Disposition"].startswith("inline")


def test_an_open_range_runs_to_the_end_and_a_suffix_range_is_the_last_bytes(client, long_piece):
    piece, data = long_piece
    tail = _get(client, piece, f"bytes={BIG - 1000}-")
    assert (
        tail.status_code == 206 and tail["Content-Range"] == f"bytes {BIG - 1000}-{BIG - 1}/{BIG}"
    )
    assert _body(tail) == data[-1000:]
    last = _get(client, piece, "bytes=-10")
    assert last.status_code == 206 and _body(last) == data[-10:]
    past_the_end = _get(client, piece, f"bytes={BIG - 5}-{BIG + 1000}")  # clipped to the file
    assert past_the_end["Content-Range"] == f"bytes {BIG - 5}-{BIG - 1}/{BIG}"
    assert _body(past_the_end) == data[-5:]


def test_a_range_past_the_end_is_416_with_the_size(client, long_piece):
    piece, _ = long_piece
    for header in (f"bytes={BIG}-", f"bytes={BIG + 10}-{BIG + 20}", "bytes=-0"):
        beyond = _get(client, piece, header)
        assert beyond.status_code == 416, header
        assert beyond["Content-Range"] == f"bytes */{BIG}"


def test_no_range_or_one_this_site_does_not_split_is_the_whole_file(client, long_piece):
    piece, data = long_piece
    for header in (None, "bytes=0-1,5-6", "items=0-1", "bytes=x-y"):
        whole = _get(client, piece, header)
        assert whole.status_code == 200 and whole["Content-Length"] == str(BIG), header
        assert whole["Accept-Ranges"] == "bytes"
    assert _body(whole) == data


def _peak_bytes_while(read) -> int:
    """The most memory Python held at once while `read` ran, in bytes."""
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_small_range_of_a_long_file_reads_only_that_range(client, long_piece):
    piece, data = long_piece
    # The request and its answer's body, read as the server sends it.
    ranged = f"bytes={BIG // 2}-{BIG // 2 + 999}"
    assert _get(client, piece, ranged).status_code == 206  # the first request's imports
    peak = _peak_bytes_while(lambda: _body(_get(client, piece, ranged)))
    assert peak < BIG // 8, peak  # a slice or two in memory, never the file
    whole = _get(client, piece)
    chunks = list(whole)  # streamed in slices, not one 8 MiB string
    assert max(len(c) for c in chunks) <= 64 * 1024 and b"".join(chunks) == data


def test_a_range_over_real_http_is_what_a_player_gets(live_server, long_piece):
    piece, data = long_piece
    url = live_server.url + reverse("piece_audio", args=[piece.pk])
    with urlopen(Request(url, headers={"Range": "bytes=4096-8191"}), timeout=30) as answer:
        assert answer.status == 206
        assert answer.headers["Content-Range"] == f"bytes 4096-8191/{BIG}"
        assert answer.read() == data[4096:8192]


def test_an_object_store_is_read_by_ranged_gets_not_whole_downloads(client, s3_storage):
    piece = make_piece(make_world(), title="In the bucket", audio=False)
    data = os.urandom(BIG)
    name = file_write(f"pieces/audio/bucket_{piece.pk}.ogg", data)
    Piece.objects.filter(pk=piece.pk).update(audio=name)
    response = _get(client, piece, "bytes=1000-1999")
    assert response.status_code == 206 and response["Content-Range"] == f"bytes 1000-1999/{BIG}"
    peak = _peak_bytes_while(lambda: _body(_get(client, piece, "bytes=1000-1999")))
    assert peak < BIG // 8, peak  # django-storages' S3File would have downloaded it all
    assert _body(_get(client, piece, "bytes=1000-1999")) == data[1000:2000]
    assert _body(_get(client, piece, f"bytes={BIG - 10}-")) == data[-10:]
    assert _get(client, piece, f"bytes={BIG}-").status_code == 416
    assert _body(_get(client, piece)) == data


def test_a_stored_name_that_is_gone_or_outside_the_storage_is_a_404(client, long_piece):
    piece, _ = long_piece
    for name in ("pieces/audio/gone.ogg", "../../../../etc/passwd", "/etc/passwd"):
        Piece.objects.filter(pk=piece.pk).update(audio=name)
        response = _get(client, piece, "bytes=0-99")
        assert response.status_code == 404, name
        assert b"root:" not in response.content


def test_a_head_request_gives_the_size_and_ranges_without_the_bytes(client, long_piece):
    piece, _ = long_piece
    head = client.head(reverse("piece_audio", args=[piece.pk]))
    assert head.status_code == 200 and head["Accept-Ranges"] == "bytes"
    assert head["Content-Length"] == str(BIG) and head["Content-Type"] == "audio/ogg"
    assert _body(head) == b""
