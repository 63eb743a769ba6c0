"""A sample worker's batches with and without the garbage collector kept off its tables: what
the generation task's `generation_worker_settle` (`automaton.tables_settle`) saves visitors.

    .venv/bin/python bench/worker_gc.py NET.npz VOCAB.json --corpus nottingham --preset full \\
        --transpose [--batches 40] [--rounds 2]

Each child process is a worker serving `--batches` visitors in a row: one batch each of the
generate page's defaults (four tunes of up to 800 symbols, folk form with a shape per tune,
returns, memory, four takes with the trial of 100, T 0.9), new seeds each, the grammar's
tables kept and growing across batches as in a worker. "plain" leaves the collector as
Python has it (the straightforward worker); "settled" calls `tables_settle` after each
batch, as the generation task does after each job. The two alternate `--rounds` times, the
same seeds in each. Prints, per child, the wall seconds a batch (mean, median, the slowest)
and the full collections (generation 2) that fell inside batches and their seconds, then
the ratios plain against settled. One BLAS thread, as the sample worker runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _common import page_sampler, ratio, trained_abc_arguments


def child(args) -> None:
    """One worker: the batches in a row; prints one JSON line of per-batch figures."""
    import gc

    page = page_sampler(args)
    from musiclib.ml import sampler
    from musiclib.ml.automaton import tables_settle

    marks: list[tuple[str, float]] = []

    def watch(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            marks.append((phase, time.perf_counter()))

    gc.callbacks.append(watch)

    def batch(seeds: list[int]) -> tuple[float, float]:
        arguments = page.arguments(seeds)
        marks.clear()
        t0 = time.perf_counter()
        sampler.sample(**arguments, max_tokens=800, takes=4, trial=100)
        wall = time.perf_counter() - t0
        starts = [t for phase, t in marks if phase == "start"]
        stops = [t for phase, t in marks if phase == "stop"]
        return wall, sum(b - a for a, b in zip(starts, stops, strict=False))

    batch([1, 2, 3, 4])  # (numba's functions loaded, the first tables built: not timed)
    rows = []
    for b in range(args.batches):
        rows.append(batch(list(range(1000 + 4 * b, 1004 + 4 * b))))
        if args.child == "settled":
            tables_settle()
    print(json.dumps({"rows": rows, "mb": page.tables.nbytes / 2**20}))


def main() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = trained_abc_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40, help="visitors' batches a worker")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=["plain", "settled"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    import numpy as np

    found: dict[str, list[dict]] = {"plain": [], "settled": []}
    for _ in range(args.rounds):
        for kind in ("plain", "settled"):
            out = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--child", kind],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            got = json.loads(out.stdout.strip().splitlines()[-1])
            found[kind].append(got)
            wall = np.array([w for w, _ in got["rows"]])
            gc_s = np.array([g for _, g in got["rows"]])
            print(f"{kind}: {len(wall)} batches, wall a batch mean {wall.mean():.3f} s, median "
                  f"{np.median(wall):.3f} s, slowest {wall.max():.3f} s; full collections inside "
                  f"batches: {(gc_s > 0).sum()}, {gc_s.sum():.2f} s in all; tables "
                  f"{got['mb']:.0f} MB", flush=True)  # fmt: skip
    mean = {k: np.mean([w for g in v for w, _ in g["rows"]]) for k, v in found.items()}
    worst = {k: np.mean([max(w for w, _ in g["rows"]) for g in v]) for k, v in found.items()}
    print(ratio("settled against plain, wall a batch (mean)", mean["settled"], mean["plain"]))
    print(ratio("settled against plain, the slowest batch (mean of rounds)", worst["settled"],
                worst["plain"]))  # fmt: skip


if __name__ == "__main__":
    main()
