"""The few places where the library needs a value the site decides, without importing Django.

The site registers its providers once at start-up (`generator.apps.GeneratorConfig.ready`);
the library calls them lazily, so a test that overrides Django settings is seen at once.
Outside the site (library tests, benchmarks, bench scripts) the environment decides:
MEDIA_ROOT (default `var/media`) and SOUNDFONT_PATH (default Debian's FluidR3 GM font).

Files the library keeps (the audio way's recordings) go through a `FileStore`: the site
gives one over its storage (the local disk or an object store), outside it a `FolderStore`
over media_root() is used.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class FileStore(Protocol):
    """Where the library keeps files, by name ("corpora/audio/<hash>.flac")."""

    def local_path(self, name: str) -> Path:
        """A file on this machine's disk with the content stored under `name`
        (FileNotFoundError when nothing is)."""
        ...

    def put(self, name: str, path: Path) -> str:
        """Store the local file `path` under `name` (it may be moved away); returns the name."""
        ...


class FolderStore:
    """Files under a folder of this machine (media_root() by default)."""

    def __init__(self, root: Callable[[], Path] | None = None) -> None:
        self._root = root

    def _folder(self) -> Path:
        return self._root() if self._root is not None else media_root()

    def local_path(self, name: str) -> Path:
        path = self._folder() / name
        if not path.is_file():
            raise FileNotFoundError(f"{name} is not in the media folder")
        return path

    def put(self, name: str, path: Path) -> str:
        dest = self._folder() / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".tmp-{os.getpid()}-{dest.name}")
        shutil.move(str(path), tmp)
        os.replace(tmp, dest)
        return name


DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def _env_media_root() -> Path:
    return Path(os.environ.get("MEDIA_ROOT") or "var/media")


def _env_soundfont() -> Path:
    return Path(os.environ.get("SOUNDFONT_PATH") or DEFAULT_SOUNDFONT)


_providers: dict[str, Callable[[], Path]] = {
    "media_root": _env_media_root,
    "soundfont": _env_soundfont,
}
_stores: dict[str, FileStore] = {"files": FolderStore()}


def configure(
    *,
    media_root: Callable[[], Path] | None = None,
    soundfont: Callable[[], Path] | None = None,
    files: FileStore | None = None,
) -> None:
    """Replace the providers (each a no-argument callable returning a Path) and the store."""
    if media_root is not None:
        _providers["media_root"] = media_root
    if soundfont is not None:
        _providers["soundfont"] = soundfont
    if files is not None:
        _stores["files"] = files


def file_store() -> FileStore:
    """Where the library's files are kept (the site's storage, or media_root())."""
    return _stores["files"]


def media_root() -> Path:
    """The folder that holds corpus recordings and other files the ways read by path."""
    return _providers["media_root"]()


def sample_threads_asked() -> int:
    """The threads the environment's SAMPLE_THREADS asks each sample process to split a
    piece's LSTM products among (`ml.fastloop.sample_threads`; 1 when unset). ValueError,
    naming the variable, when it is not a whole number of at least 1. The site checks it at
    start with this same rule."""
    raw = os.environ.get("SAMPLE_THREADS", "").strip() or "1"
    try:
        threads = int(raw)
    except ValueError:
        raise ValueError(f"SAMPLE_THREADS must be a whole number of threads, not {raw!r}") from None
    if threads < 1:
        raise ValueError(f"SAMPLE_THREADS must be at least 1 (got {threads})")
    return threads


def soundfont_path() -> Path:
    """The General MIDI soundfont FluidSynth renders with."""
    return _providers["soundfont"]()
