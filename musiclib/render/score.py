"""Sheet music as SVG, engraved by verovio from ABC or MusicXML, safe to inline in a page."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from xml.dom import minidom
from xml.parsers.expat import ExpatError

from ._proc import output_tail, run
from .abc import abc_to_musicxml, first_tune
from .errors import RenderError

_ENGRAVER = Path(__file__).with_name("_engrave.py")

# Verovio sizes are in its own units: page width 2250 at scale 40 % is a 900 px wide page. The
# SVG gets a viewBox and no fixed size, so CSS can fit it to its column; the page height is
# trimmed to the music, and long pieces break into several pages.
_OPTIONS: dict[str, object] = {
    "pageWidth": 2250,
    "scale": 40,
    "adjustPageHeight": True,
    "breaks": "auto",
    "footer": "none",
    "svgViewBox": True,
    "svgRemoveXlink": True,
}

# Elements that can run script or embed HTML inside an inline SVG.
_UNSAFE_ELEMENTS = {"script", "foreignObject", "iframe", "object", "embed"}


def score_svg(*, data: str, fmt: str, title: bool = False) -> list[str]:
    """One SVG string per page for ABC (`fmt="abc"`, first tune) or MusicXML (`"musicxml"`).

    title: print the title/composer block from the file (off by default: the page shows the
    title as HTML). If verovio cannot read the ABC, music21's reading of it is engraved
    instead, via MusicXML.
    """
    if fmt not in ("abc", "musicxml"):
        raise RenderError(f"unknown score format {fmt!r}; use 'abc' or 'musicxml'")
    options = {**_OPTIONS, "header": "auto" if title else "none"}
    if fmt == "abc":
        tune = first_tune(data)
        pages = _engrave(data=tune, fmt="abc", options=options)
        if pages is None:
            xml = abc_to_musicxml(abc=tune).decode("utf-8")
            pages = _engrave(data=xml, fmt="musicxml", options=options)
    else:
        pages = _engrave(data=data, fmt="musicxml", options=options)
    if pages is None:
        raise RenderError(f"verovio could not engrave this {fmt} score")
    return [sanitize_svg(svg=page) for page in pages]


def sanitize_svg(*, svg: str) -> str:
    """Drop script-capable elements, on* handlers and javascript:/data: links from an SVG.

    Verovio escapes text from the file (a title "<script>" comes out as "&lt;script&gt;"),
    but user-uploaded files end up inline in our pages, so this is a second line of defence
    that does not depend on verovio's escaping staying right. minidom rather than ElementTree:
    it writes namespaces back as they were, without "ns0:" prefixes.
    """
    try:
        document = minidom.parseString(svg)
    except ExpatError as exc:
        raise RenderError(f"verovio wrote invalid SVG: {exc}") from exc
    for element in list(document.getElementsByTagName("*")):
        if element.localName in _UNSAFE_ELEMENTS or element.tagName in _UNSAFE_ELEMENTS:
            element.parentNode.removeChild(element)
            continue
        for name, value in list(element.attributes.items()):
            attribute = name.rsplit(":", 1)[-1].lower()
            link = attribute == "href" and value.strip().lower().startswith(
                ("javascript:", "data:")
            )
            if attribute.startswith("on") or link:
                element.removeAttribute(name)
    return document.documentElement.toxml()


def _engrave(*, data: str, fmt: str, options: dict[str, object]) -> list[str] | None:
    """Verovio's pages, or None when it rejects the input or crashes on it."""
    request = json.dumps({"data": data, "fmt": fmt, "options": options}).encode()
    # -P: keep this directory off the child's sys.path, where abc.py would shadow stdlib abc.
    proc = run([sys.executable, "-P", str(_ENGRAVER)], stdin=request)
    if proc.returncode == 2 or proc.returncode < 0:  # rejected, or killed by a signal
        return None
    if proc.returncode != 0:
        raise RenderError(f"the verovio engraver failed: {output_tail(proc)}")
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:  # something other than our JSON on its stdout
        raise RenderError(f"the verovio engraver wrote no pages: {exc}") from exc
