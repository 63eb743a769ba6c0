"""Sine-tone melodies for the audio tests, and a tiny synthetic corpus of them written as WAV
and FLAC files. No Django: the site's audio tests import it too (tests/ways_audio/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]  # C major, MIDI numbers


def hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def melody(notes: list[int], *, sr: int, note_s: float = 0.4) -> np.ndarray:
    """Sine tones with 10 ms fades, a fundamental and a quieter octave."""
    n = int(sr * note_s)
    t = np.arange(n) / sr
    env = np.minimum(1.0, np.minimum(np.arange(n), n - np.arange(n)) / (0.01 * sr))
    parts = [
        env * (0.4 * np.sin(2 * np.pi * hz(m) * t) + 0.1 * np.sin(4 * np.pi * hz(m) * t))
        for m in notes
    ]
    return np.concatenate(parts).astype(np.float32)


def write_melodies(folder: Path, *, count: int = 6, seconds: float = 6.0) -> list[Path]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        steps = rng.integers(-2, 3, size=int(seconds / 0.4))
        idx = np.clip(np.cumsum(steps) + 3, 0, len(SCALE) - 1)
        sr = 44100 if i % 2 else 22050  # both rates: one resampled while read
        y = melody([SCALE[j] for j in idx], sr=sr)
        path = folder / (f"melody_{i}.wav" if i % 3 else f"melody_{i}.flac")
        sf.write(path, y, sr)
        paths.append(path)
    return paths
