"""A checkpoint's sampler file (the numpy weights and the way's state), loaded once per
process and kept while the file is unchanged. The file lives in the site's storage; a
sampling machine reads it from its local copy (common.storage.local_copy), so it needs no
disk shared with the training machine."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Generic, TypeVar

from common.storage import file_exists, file_read, file_write, local_copy
from musiclib.ml import sampler

from ..models import Checkpoint

log = logging.getLogger(__name__)


def sampler_name(keras_name: str) -> str:
    """The storage name of the sampler file written beside a checkpoint's Keras file."""
    return str(PurePosixPath(keras_name).with_suffix(".npz"))


def checkpoint_sampler_path(checkpoint: Checkpoint) -> Path:
    """The sampler file on this machine's disk (FileNotFoundError when it is not stored)."""
    return local_copy(sampler_name(checkpoint.file.name))


@lru_cache(maxsize=8)
def _cached_net(path: str, mtime: float) -> sampler.Net:
    return sampler.load_net(path)


def load_checkpoint_net(checkpoint: Checkpoint) -> sampler.Net:
    try:
        path = checkpoint_sampler_path(checkpoint)
    except FileNotFoundError:
        name = PurePosixPath(sampler_name(checkpoint.file.name)).name
        raise ValueError(f"checkpoint {checkpoint.pk} has no sampler file at {name}") from None
    return _cached_net(str(path), path.stat().st_mtime)


def load_checkpoint_state(checkpoint: Checkpoint) -> dict:
    """The way's arrays saved with the checkpoint (the audio way's codebook)."""
    try:
        path = checkpoint_sampler_path(checkpoint)
    except FileNotFoundError:
        return _cached_state(sampler_name(checkpoint.file.name), 0.0)
    return _cached_state(str(path), path.stat().st_mtime)


@lru_cache(maxsize=8)
def _cached_state(path: str, mtime: float) -> dict:
    return sampler.load_extra(path)


T = TypeVar("T")


class CheckpointDocument(Generic[T]):
    """A small JSON document stored beside a checkpoint's Keras file (its critic, its
    moves), so a sampling machine that shares only the object store reads it. Written once
    (its fit checks first), and read once per process: never rewritten, so never stale."""

    def __init__(
        self, suffix: str, *, load: Callable[[dict], T], dump: Callable[[T], dict]
    ) -> None:
        self.suffix, self.load, self.dump = suffix, load, dump
        self._found: dict[str, T] = {}

    def name(self, checkpoint: Checkpoint) -> str:
        return str(PurePosixPath(checkpoint.file.name).with_suffix(self.suffix))

    def get(self, checkpoint: Checkpoint) -> T | None:
        """The checkpoint's document, None where none is stored (asked again next time:
        its run may write it later) or where it is not one this code reads (then the
        option it serves is off for the checkpoint, as without one)."""
        name = self.name(checkpoint)
        if name not in self._found:
            if not file_exists(name):
                return None
            try:
                self._found[name] = self.load(json.loads(file_read(name)))
            except ValueError as exc:  # (written by another version of the code)
                log.warning("%s is not one this code reads, left out: %s", name, exc)
                return None
        return self._found[name]

    def put(self, checkpoint: Checkpoint, value: T) -> None:
        file_write(self.name(checkpoint), json.dumps(self.dump(value)).encode())
        self._found[self.name(checkpoint)] = value
