"""A tiny synthetic audio corpus: sine-tone melodies written as WAV and FLAC files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.library.ways_audio.melodies import SCALE, hz, melody, write_melodies

__all__ = ["SCALE", "hz", "melody", "write_melodies", "melody_folder"]


@pytest.fixture
def melody_folder(tmp_path: Path) -> Path:
    write_melodies(tmp_path / "melodies")
    return tmp_path / "melodies"
