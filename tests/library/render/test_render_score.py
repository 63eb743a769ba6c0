"""Sheet music as SVG with verovio, and that user text in it stays text."""

from xml.dom import minidom

import pytest

from musiclib.render import RenderError, abc_to_musicxml, score_svg
from musiclib.render.score import sanitize_svg
from tests.library.render.tunes import GARBAGE, JIG, REEL, SCRIPT_TITLE

# Verovio 6.4 segfaults on this ABC (the stray "]"); music21 reads it fine.
CRASHES_VEROVIO = 'X:1\nM:4/4\nL:1/8\nK:G\n"Am"A B c d e f g a | "D7"e4 e4 ]|\n'


def _elements(svg: str) -> list[str]:
    return [element.tagName for element in minidom.parseString(svg).getElementsByTagName("*")]


def test_it_engraves_a_jig_with_chord_symbols_and_repeats_to_svg():
    pages = score_svg(data=JIG, fmt="abc")

    assert len(pages) >= 1
    assert pages[0].startswith("<svg")
    assert "viewBox" in pages[0]
    assert sum(page.count('class="note"') for page in pages) >= 90
    assert sum(page.count('class="harm"') for page in pages) >= 20  # the chord symbols


def test_it_engraves_musicxml_too():
    xml = abc_to_musicxml(abc=REEL).decode("utf-8")

    pages = score_svg(data=xml, fmt="musicxml")

    assert pages[0].startswith("<svg")
    assert sum(page.count('class="note"') for page in pages) >= 100


def test_it_keeps_a_script_title_as_text():
    pages = score_svg(data=SCRIPT_TITLE, fmt="abc", title=True)

    svg = "".join(pages)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg  # the title is shown, as text
    assert "<script" not in svg
    assert "<img" not in svg
    assert not {"script", "img", "foreignObject"} & {
        tag for page in pages for tag in _elements(page)
    }


def test_it_leaves_the_title_out_unless_asked():
    pages = score_svg(data=SCRIPT_TITLE, fmt="abc")

    assert "alert(1)" not in "".join(pages)


def test_it_engraves_abc_that_crashes_verovio_through_music21():
    pages = score_svg(data=CRASHES_VEROVIO, fmt="abc")

    assert sum(page.count('class="note"') for page in pages) >= 8


def test_it_raises_render_error_for_text_that_is_not_music():
    with pytest.raises(RenderError):
        score_svg(data=GARBAGE, fmt="abc")


def test_it_refuses_formats_it_does_not_know():
    with pytest.raises(RenderError, match="unknown score format"):
        score_svg(data=JIG, fmt="pdf")


def test_it_strips_scripts_handlers_and_foreign_objects_from_svg():
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        ' onload="alert(1)"><script>alert(2)</script><g class="note" onclick="alert(3)">'
        '<a xlink:href="javascript:alert(4)"><text>ok</text></a></g>'
        "<foreignObject><div>html</div></foreignObject></svg>"
    )

    clean = sanitize_svg(svg=svg)

    assert "alert" not in clean
    assert "foreignObject" not in clean
    assert '<g class="note">' in clean
    assert "<text>ok</text>" in clean
