"""The few places where the library needs a value the site decides, without importing Django.

The site registers its providers once at start-up (`generator.apps.GeneratorConfig.ready`);
the library calls them lazily, so a test that overrides Django settings is seen at once.
Outside the site (library tests, benchmarks, bench scripts) the environment decides:
MEDIA_ROOT (default `var/media`) and SOUNDFONT_PATH (default Debian's FluidR3 GM font).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def _env_media_root() -> Path:
    return Path(os.environ.get("MEDIA_ROOT") or "var/media")


def _env_soundfont() -> Path:
    return Path(os.environ.get("SOUNDFONT_PATH") or DEFAULT_SOUNDFONT)


_providers: dict[str, Callable[[], Path]] = {
    "media_root": _env_media_root,
    "soundfont": _env_soundfont,
}


def configure(
    *,
    media_root: Callable[[], Path] | None = None,
    soundfont: Callable[[], Path] | None = None,
) -> None:
    """Replace the providers (each a no-argument callable returning a Path)."""
    if media_root is not None:
        _providers["media_root"] = media_root
    if soundfont is not None:
        _providers["soundfont"] = soundfont


def media_root() -> Path:
    """The folder that holds corpus recordings and other files the ways read by path."""
    return _providers["media_root"]()


def soundfont_path() -> Path:
    """The General MIDI soundfont FluidSynth renders with."""
    return _providers["soundfont"]()
