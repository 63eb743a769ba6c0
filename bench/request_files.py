"""What each file a download URL or a piece's page links costs to make, against serving the
copy the render task kept (what the URL does now): which ones are too slow for a request.

    .venv/bin/python bench/request_files.py

For a typical piece of each way: an O'Neill ABC tune (about 500 characters), the same tune
as a MIDI-way text, and 10 s and 30 s of sound for an audio piece. Each maker runs in this
one process five times: the first call (a web process's first request pays imports and
warm-up) and the median of the other four. The baseline is reading the kept file back
(a local file here; the object store adds its round trip to both). No Django, no database.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import oneills_texts, ratio  # noqa: E402


def timed_runs(fn, n: int = 5) -> tuple[float, float, bytes]:
    """(first call, median of the rest) in seconds, and the last result."""
    times, out = [], b""
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times[0], statistics.median(times[1:]), out


def read_back(data: bytes, folder: Path) -> float:
    path = folder / "kept.bin"
    path.write_bytes(data)
    return timed_runs(path.read_bytes)[1]


def main() -> None:
    from musiclib.audio.dsp import SAMPLE_RATE, read_wav_bytes, wav_bytes
    from musiclib.audio.image import spectrogram_png
    from musiclib.ways import get_way
    from musiclib.ways.midi_notes import raw_to_text, read_midi

    abc, midi_way = get_way("abc"), get_way("midi")
    tune = oneills_texts()[10]
    notes, _ = raw_to_text(read_midi(abc.to_midi(tune), name="tune.mid"))
    rng = np.random.default_rng(0)

    def sound(seconds: int) -> bytes:
        t = np.arange(seconds * SAMPLE_RATE)
        y = 0.1 * np.sin(t * 0.05) + 0.01 * rng.standard_normal(t.size)
        return wav_bytes(y.astype(np.float32))

    wav10, wav30 = sound(10), sound(30)
    makers = {
        "ABC tune: MIDI (abc2midi)": lambda: abc.to_midi(tune),
        "ABC tune: MusicXML (music21)": lambda: abc.to_musicxml(tune),
        "MIDI-way piece: MIDI (music21)": lambda: midi_way.to_midi(notes),
        "MIDI-way piece: MusicXML (music21)": lambda: midi_way.to_musicxml(notes),
        "audio piece: spectrogram, 10 s": lambda: spectrogram_png(read_wav_bytes(wav10)),
        "audio piece: spectrogram, 30 s": lambda: spectrogram_png(read_wav_bytes(wav30)),
    }
    print(f"ABC tune: {len(tune)} characters; MIDI-way text: {len(notes)} characters")
    with tempfile.TemporaryDirectory() as folder:
        for label, make in makers.items():
            first, median, data = timed_runs(make)
            kept = read_back(data, Path(folder))
            print(
                f"{label}: first {first * 1000:.1f} ms, then {median * 1000:.1f} ms "
                f"({len(data):,} bytes); reading the kept file {kept * 1000:.3f} ms; "
                + ratio("kept file against making it", kept, median)
            )


if __name__ == "__main__":
    main()
