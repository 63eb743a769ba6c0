"""A new piece's score is engraved by the render task, so its page's first view is fast."""

from __future__ import annotations

import pytest

from common.storage import file_exists, file_read
from generator.services import piece_render
from generator.services.files import media_cache
from musiclib.ways import get_way
from tests.web.builders import make_piece, make_world

pytestmark = pytest.mark.django_db


def test_rendering_a_new_piece_engraves_its_score_before_anyone_opens_its_page(client):
    piece = make_piece(make_world(), title="Engraved early", audio=True)
    cached = media_cache("scores/pieces", piece.pk, f"{piece.way}\n{piece.text}", "json")
    assert not file_exists(cached)
    piece_render(piece=piece)  # what the render task does once the piece is stored
    assert file_exists(cached) and b"<svg" in file_read(cached)
    html = client.get(f"/pieces/{piece.pk}/").content.decode()
    assert "<svg" in html


def test_rendering_a_new_piece_keeps_its_musicxml_so_the_download_converts_nothing(
    client, monkeypatch
):
    piece = make_piece(make_world(), title="Written out early", audio=True)
    piece_render(piece=piece)
    assert file_exists(
        media_cache("musicxml/pieces", piece.pk, f"{piece.way}\n{piece.text}", "musicxml")
    )

    def refuse(*args, **kwargs):
        raise AssertionError("the download converted the piece in the request")

    monkeypatch.setattr(type(get_way(piece.way)), "to_musicxml", refuse)
    response = client.get(f"/pieces/{piece.pk}/download/musicxml/")
    assert response.status_code == 200 and response.getvalue().startswith(b"<?xml")
