"""Where the grammar's time goes in a visitor's batch: the masks the folk-form grammar builds
in Python for the generate page's defaults (shape, returns, memory, four takes, T 0.9),
how many different masks they are, and whether a warm worker stops building them.

    .venv/bin/python bench/grammar_masks.py NET.npz VOCAB.json [--corpus nottingham
        --preset full --transpose] [--batches 6] [--warm 40]

NET.npz and VOCAB.json as for bench/takes.py. After two batches to compile and warm the
tables, `--batches` batches of four tunes (new seeds each) are sampled with the mask
builders timed (wall time of each top-level build, by the parser's mode: N inside a note,
T between tokens, B inside a bar line): for a note, the characters that continue it are
tried one by one, and every other character is judged by the mask of the state after the
note, itself built when new. Prints the CPU seconds of the batches with the grammar and,
in the same process, the same seeds without it (and so without the shape and the returns,
which need it; the ratio: how many times longer the grammar makes a batch); the cache
keys the masks were built for against the distinct masks they hold; then the masks built
per batch over `--warm` more batches, to show whether a worker that keeps its tables stops
building. One BLAS thread, as the sample
worker runs.
"""

from __future__ import annotations

import collections
import os
import time

from _common import page_sampler, ratio, trained_abc_arguments


def main() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = trained_abc_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--warm", type=int, default=40, help="batches to count builds over")
    args = parser.parse_args()
    page = page_sampler(args)
    from musiclib.ml import sampler
    from musiclib.ways import abc_grammar

    tables = page.tables
    grammar = tables.parser  # (the grammar whose masks the tables ask for)

    seconds: collections.Counter = collections.Counter()
    builds: collections.Counter = collections.Counter()
    masks: dict[tuple, bytes] = {}
    depth = [0]
    grammar_class = type(grammar)

    def timed_builder(name: str):
        original = getattr(grammar_class, name)

        def build(self, st, *rest):
            depth[0] += 1
            t0 = time.perf_counter()
            try:
                mask = original(self, st, *rest)
            finally:
                depth[0] -= 1
            if depth[0] == 0:  # (a note's mask times the mask after the note within it)
                seconds[st.mode] += time.perf_counter() - t0
                builds[st.mode] += 1
            return mask

        setattr(grammar_class, name, build)

    for name in ("_token_mask", "_top_mask", "_trial_mask"):
        timed_builder(name)
    original_mask = grammar_class._mask

    def keyed_mask(self, st):
        before = self.stats["masks_built"]
        mask = original_mask(self, st)
        if self.stats["masks_built"] != before and mask is not None:
            masks[(st.mode, len(masks))] = mask.tobytes()
        return mask

    grammar_class._mask = keyed_mask

    def batch(seed0: int, *, constraint) -> float:
        seeds = list(range(seed0, seed0 + 4))
        arguments = page.arguments(seeds, grammar=constraint is not None)
        t0 = time.process_time()
        sampler.sample(**arguments, max_tokens=800, takes=4)
        return time.process_time() - t0

    seed0 = 1000
    for _ in range(2):
        batch(seed0, constraint=tables)
        batch(seed0, constraint=None)
        seed0 += 4
    seconds.clear(), builds.clear(), masks.clear()
    on = off = 0.0
    for _ in range(args.batches):
        on += batch(seed0, constraint=tables)
        off += batch(seed0, constraint=None)
        seed0 += 4
    n = args.batches
    print(
        f"{n} batches of 4 tunes, four takes: grammar on {on / n:.2f} s CPU a batch, "
        f"off {off / n:.2f} s"
    )
    print(ratio("grammar on against off, CPU a batch (how many times longer)", off, on))
    total = sum(seconds.values())
    print(f"masks built in Python: {total / n:.2f} s a batch ({total / on:.0%} of the batch's CPU)")
    for mode, s in seconds.most_common():
        print(
            f"  mode {mode}: {builds[mode] / n:,.0f} a batch, {s / builds[mode] * 1e6:.0f} µs each"
        )
    print(
        f"masks built: {len(masks):,} for as many cache keys; different masks among them: "
        f"{len(set(masks.values())):,}"
    )
    counts = []
    for _ in range(args.warm):
        before = grammar.stats["masks_built"]
        batch(seed0, constraint=tables)
        seed0 += 4
        counts.append(grammar.stats["masks_built"] - before)
    quarter = max(args.warm // 4, 1)
    print(
        f"masks built a batch over {args.warm} more batches, by quarter: "
        + ", ".join(
            f"{sum(counts[i : i + quarter]) / quarter:,.0f}" for i in range(0, args.warm, quarter)
        )
    )
    print(f"the mask cache is cleared past {abc_grammar.MAX_CACHED:,} keys")


if __name__ == "__main__":
    main()
