"""A checkpoint's sampler file (the numpy weights and the way's state), loaded once per
process and kept while the file is unchanged."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings

from musiclib.ml import sampler

from ..models import Checkpoint


def checkpoint_sampler_path(checkpoint: Checkpoint) -> Path:
    return (Path(settings.MEDIA_ROOT) / checkpoint.file.name).with_suffix(".npz")


@lru_cache(maxsize=8)
def _cached_net(path: str, mtime: float) -> sampler.Net:
    return sampler.load_net(path)


def load_checkpoint_net(checkpoint: Checkpoint) -> sampler.Net:
    path = checkpoint_sampler_path(checkpoint)
    if not path.exists():
        raise ValueError(f"checkpoint {checkpoint.pk} has no sampler file at {path.name}")
    return _cached_net(str(path), path.stat().st_mtime)


def load_checkpoint_state(checkpoint: Checkpoint) -> dict:
    """The way's arrays saved with the checkpoint (the audio way's codebook)."""
    path = checkpoint_sampler_path(checkpoint)
    return _cached_state(str(path), path.stat().st_mtime if path.exists() else 0.0)


@lru_cache(maxsize=8)
def _cached_state(path: str, mtime: float) -> dict:
    return sampler.load_extra(path)
