"""Extra sections of a piece's detail that other apps fill (the listener survey's results).

generator never imports the apps that judge its pieces; they register here, in their
`AppConfig.ready`, a function that returns a JSON-able dict for a piece, or None when they
have nothing to say of it. The API shows it as the piece's field of that name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .models import Piece

PieceSection = Callable[[Piece], "dict[str, Any] | None"]
# The sections the API declares in its schema; a section must be declared to be registered.
KNOWN_PIECE_SECTIONS = ("survey",)
PIECE_SECTIONS: dict[str, PieceSection] = {}


def register_piece_section(name: str, fn: PieceSection) -> None:
    """Fill a piece's `name` field (one of KNOWN_PIECE_SECTIONS) with `fn(piece)`."""
    if name not in KNOWN_PIECE_SECTIONS:
        raise ValueError(f"unknown piece section {name!r}; add it to KNOWN_PIECE_SECTIONS")
    PIECE_SECTIONS[name] = fn


def piece_section(name: str) -> PieceSection | None:
    return PIECE_SECTIONS.get(name)
