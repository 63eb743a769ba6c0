"""Name → way. A new way is one new module plus one line here."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Way

_MODULES = {
    "abc": "musiclib.ways.abc_text",
    "midi": "musiclib.ways.midi_notes",
    "audio": "musiclib.ways.audio_frames",
}


def way_names() -> list[str]:
    return list(_MODULES)


def get_way(name: str) -> Way:
    if name not in _MODULES:
        raise ValueError(f"unknown way {name!r}; choose one of {', '.join(_MODULES)}")
    return import_module(_MODULES[name]).WAY
