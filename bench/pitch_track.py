"""The audio measures' pitch track against librosa's pYIN, on the clips a run report reads.

    .venv/bin/python bench/pitch_track.py [--clips 12] [--rounds 3] [--seconds 5]

A run report measures every clip of an audio run with `metrics.audio.clip_metrics`, whose
pitch track is pYIN. `pitch_track` runs librosa's own steps up to pYIN's hidden Markov
model and decodes it within each state's bands of predecessors (`_viterbi_banded`);
librosa decodes it with a dense Viterbi over all 960 × 960 transitions. Clips: sine-tone
melodies (a random walk on the C major scale, 0.25-0.5 s notes, some with a gap of silence
or noise), and one clip in four white noise, `--seconds` long at 22,050 Hz as the report's.
Each round times librosa.pyin and `pitch_track` on every clip, one after the other, in CPU
seconds (one BLAS thread), after one untimed call of each (numba's compile, cached on disk);
prints the medians per clip, the ratio, and whether every frame agreed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import ratio  # noqa: E402

from musiclib.metrics import audio as am  # noqa: E402

SR = am.SAMPLE_RATE
SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def clips(n: int, seconds: float) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        size = int(seconds * SR)
        if i % 4 == 3:
            out.append((0.3 * rng.standard_normal(size)).astype(np.float32))
            continue
        parts, idx = [], 3
        while sum(p.size for p in parts) < size:
            idx = int(np.clip(idx + rng.integers(-2, 3), 0, len(SCALE) - 1))
            t = np.arange(int(SR * rng.choice([0.25, 0.375, 0.5]))) / SR
            f = 440.0 * 2 ** ((SCALE[idx] - 69) / 12)
            parts.append(0.4 * np.sin(2 * np.pi * f * t) + 0.1 * np.sin(4 * np.pi * f * t))
        y = np.concatenate(parts)[:size].astype(np.float32)
        if i % 4 == 2:  # a gap of silence, then noise under the tune
            y[SR : 2 * SR] = 0.0
            y[3 * SR :] += 0.1 * rng.standard_normal(y.size - 3 * SR).astype(np.float32)
        out.append(y)
    return out


def librosa_track(y: np.ndarray) -> np.ndarray:
    import librosa

    f0, voiced, _ = librosa.pyin(
        y, fmin=am.FMIN, fmax=am.FMAX, sr=SR, frame_length=am.N_FFT, hop_length=am.HOP
    )
    midi = librosa.hz_to_midi(f0)
    midi[~voiced] = np.nan
    return midi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    ys = clips(args.clips, args.seconds)
    librosa_track(ys[0]), am.pitch_track(ys[0])  # (imports, numba's cached compile)
    slow, fast, same = [], [], True
    for _ in range(args.rounds):
        for y in ys:
            t = time.process_time()
            expected = librosa_track(y)
            slow.append(time.process_time() - t)
            t = time.process_time()
            got = am.pitch_track(y)
            fast.append(time.process_time() - t)
            same &= bool(np.array_equal(got, expected, equal_nan=True))
    s, f = statistics.median(slow), statistics.median(fast)
    print(f"{args.clips} clips of {args.seconds:g} s, {args.rounds} rounds, CPU seconds a clip")
    print(f"librosa.pyin (dense Viterbi): {s:.3f} s")
    print(f"pitch_track (banded Viterbi): {f:.3f} s")
    print(ratio("pitch_track against librosa.pyin", f, s))
    print(f"every frame the same: {'yes' if same else 'NO'}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
