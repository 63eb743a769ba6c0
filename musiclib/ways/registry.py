"""Name → way. A new way is one new module (a `Way` subclass and its `WAY`) plus one line in
`_MODULES`; `register` adds one at run time (a plugin, a test's toy way).

Everything that lists ways (model field choices, the admin, the API's enums, the generate
page) reads them here, so a registered way appears everywhere at once.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Way

DEFAULT_WAY = "abc"  # what a new corpus holds unless it says otherwise

_MODULES = {
    "abc": "musiclib.ways.abc_text",
    "midi": "musiclib.ways.midi_notes",
    "audio": "musiclib.ways.audio_frames",
}
_REGISTERED: dict[str, Way] = {}


def register(way: Way) -> Way:
    """Add a way by its instance; its name must be new. Returns the way."""
    if not way.name or way.name in _MODULES or way.name in _REGISTERED:
        raise ValueError(f"a way needs a new name (got {way.name!r})")
    _REGISTERED[way.name] = way
    return way


def unregister(name: str) -> None:
    """Remove a way added with `register`; the built-in ways stay."""
    if name in _MODULES:
        raise ValueError(f"the {name} way is built in and cannot be removed")
    _REGISTERED.pop(name, None)


def way_names() -> list[str]:
    return [*_MODULES, *_REGISTERED]


def get_way(name: str) -> Way:
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in _MODULES:
        raise ValueError(f"unknown way {name!r}; choose one of {', '.join(way_names())}")
    return import_module(_MODULES[name]).WAY


def all_ways() -> list[Way]:
    return [get_way(name) for name in way_names()]


def ways_taking(field: str) -> list[Way]:
    """The ways whose generation takes the request field `field` (for messages that say
    where a field belongs)."""
    return [way for way in all_ways() if field in way.capabilities.generation_fields]


def way_choices() -> list[tuple[str, str]]:
    """(name, label) of every way, for choices: `[("abc", "Text (ABC)"), ...]`."""
    return [(way.name, way.label or way.name) for way in all_ways()]


def way_for_source(source: str, *, default: str = DEFAULT_WAY) -> str:
    """The way a corpus source must be imported as (`music21:bach-audio` can only be
    audio), or `default` when any way could read it."""
    for way in all_ways():
        if way.claims_source(source):
            return way.name
    return default
