"""The form panel of a piece's and a tune's page: each bar labelled by what it brings back,
as written or moved up or down the scale."""

from __future__ import annotations

import re

import pytest

from tests.web.builders import make_piece, make_tune

pytestmark = pytest.mark.django_db

# Bar 2 moves bar 1 a step up, bar 3 repeats bar 1; the second part repeats its first bar.
TUNE = """X:1
T:The Stepping Sequence
M:4/4
L:1/8
K:G
|:GABc d2B2|ABcd e2c2|GABc d2B2|^c2d2 e4:|
|:d2g2 d2B2|e2c2 A4|d2g2 d2B2|G8:|
"""


def cells(html: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'data-bar="(\d+)" data-kind="(\w+)"><span[^>]*>\d+</span><span[^>]*>(\w+)</span>', html
    )


def test_a_piece_page_maps_its_bars_as_written_again_and_moved(client, world):
    piece = make_piece(world, text=TUNE, key="G")
    html = client.get(piece.get_absolute_url()).content.decode()
    assert '<h2 id="form-heading" class="label-heading">Form</h2>' in html
    assert "8 bars in 2 parts: 2 come back as written, 1 moved up or down the scale." in html
    assert cells(html)[:4] == [("1", "new", "a"), ("2", "moved", "a"), ("3", "again", "a"),
                               ("4", "new", "b")]  # fmt: skip
    assert "Bar 2: bar 1 a 2nd higher" in html and "↑ 2nd" in html
    assert "Bar 7: bar 5 again" in html


def test_a_corpus_tune_shows_its_form_for_comparison(client, world):
    tune = make_tune(world.corpus, text=TUNE)
    html = client.get(tune.get_absolute_url()).content.decode()
    assert 'data-form-part="2"' in html and "Bar 2: bar 1 a 2nd higher" in html


def test_a_piece_the_note_reader_cannot_read_shows_no_form(client, world):
    piece = make_piece(world, text="X:1\nT:Broken\n", valid=False, midi=False, audio=False)
    response = client.get(piece.get_absolute_url())
    assert response.status_code == 200
    assert "form-heading" not in response.content.decode()
