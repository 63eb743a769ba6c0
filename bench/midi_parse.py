"""MIDI-way corpus parse speed: the import path on both cores against music21 in one process.

    .venv/bin/python bench/midi_parse.py [--chorales 100] [--nottingham 1034] [--baseline 150]

- Nottingham MIDI (when ../shared/datasets/nottingham/MIDI exists): the way's own MIDI reader
  over every core (`import_items`) against `music21.converter.parse` of each file in one
  process, the original's way of reading MIDI. music21 is timed on the first `--baseline`
  files (a rate: files/s); the way also in one process, to separate reader from cores.
- Bach chorales bundled with music21 (MusicXML): both sides parse with music21, so the gain
  is the cores alone. An untimed pass first fills music21's parse cache for both, so neither
  side pays for it (a cold first import of all 371 chorales is ~4× slower than warm).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTTINGHAM = Path(
    os.environ.get("NOTTINGHAM_DIR", ROOT.parent / "shared" / "datasets" / "nottingham")
)


def rate(label: str, files: int, seconds: float) -> float:
    print(f"  {label}: {files / seconds:,.1f} files/s ({files} files in {seconds:.2f} s)")
    return files / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chorales", type=int, default=100, help="chorales to parse (max 371)")
    parser.add_argument("--nottingham", type=int, default=1034, help="Nottingham files")
    parser.add_argument("--baseline", type=int, default=150, help="files music21 parses")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from music21 import converter

    from musiclib.ways import midi_notes as mn

    cores = mn._cpu_count()
    print(f"{cores} cores; load average {os.getloadavg()[0]:.1f} at start")

    folder = NOTTINGHAM / "MIDI"
    if folder.is_dir():
        files = sorted(folder.glob("*.mid"))[: args.nottingham]
        print(f"Nottingham MIDI (melody + chords, all parts): {len(files)} files")
        jobs = [(str(p), p.name, i + 1, "all") for i, p in enumerate(files)]
        t0 = time.perf_counter()
        items = mn.parse_all(jobs, worker=mn._parse_path)
        fast = rate(f"way, {cores} processes", len(items), time.perf_counter() - t0)
        assert all(it.failure is None for it in items), [it.failure for it in items][:3]
        t0 = time.perf_counter()
        mn.parse_all(jobs, worker=mn._parse_path, processes=1)
        one = rate("way, 1 process", len(jobs), time.perf_counter() - t0)
        sample = files[: args.baseline]
        t0 = time.perf_counter()
        for path in sample:
            converter.parse(path, forceSource=True)
        slow = rate("music21 converter.parse, 1 process", len(sample), time.perf_counter() - t0)
        print(f"  speedup against music21: {fast / slow:,.0f}× ({one / slow:,.0f}× in one process)")
    else:
        print(f"Nottingham MIDI is not at {folder}: skipped")

    paths = mn.bach_chorale_paths()[: args.chorales]
    print(f"Bach chorales (music21 corpus, MusicXML, soprano melody): {len(paths)} files")
    for path in paths:
        converter.parse(path)  # untimed: fills music21's cache for both sides
    jobs = [(str(p), p.name, i + 1, "melody") for i, p in enumerate(paths)]
    t0 = time.perf_counter()
    items = mn.parse_all(jobs, worker=mn._parse_score)
    fast = rate(f"way, {cores} processes", len(items), time.perf_counter() - t0)
    assert all(it.failure is None for it in items)
    t0 = time.perf_counter()
    mn.parse_all(jobs, worker=mn._parse_score, processes=1)
    one = rate("way, 1 process (music21 parse + conversion)", len(jobs), time.perf_counter() - t0)
    t0 = time.perf_counter()
    for path in paths:
        converter.parse(path)
    slow = rate("music21 converter.parse, 1 process", len(paths), time.perf_counter() - t0)
    print(f"  speedup against music21: {fast / slow:.1f}× ({one / slow:.1f}× in one process)")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
