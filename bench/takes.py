"""What takes cost a visitor: four tunes with the generate page's options, one take against
several, from a trained ABC model, in one warm process as the sample worker runs them.

    .venv/bin/python bench/takes.py NET.npz VOCAB.json [--corpus nottingham --preset full
        --transpose] [--takes 4] [--batches 8] [--chars 800]

NET.npz and VOCAB.json are what bench/quality.py leaves in var/quality/ (<tag>-best.npz,
<tag>-vocab.json); `--corpus`, `--preset` and `--transpose` say how it was trained, so the
shapes, the plans of returns and the memory come from its own training split, as the site
draws them (`AbcWay.form_shapes_for`, `returns_for`, `memory_fit`). Each batch is four
unprimed tunes of up to `--chars` symbols, temperature 0.9, the folk form's grammar
(its tables built while sampling and kept across batches, as a worker keeps them), with
new seeds each batch; one batch with one take and one with `--takes` alternate, after two
of each to warm the tables. Prints the CPU seconds of each batch, their medians and the
ratio (N×: how many times longer the takes take), and how many of the batches with takes
stayed within a second. One BLAS thread, as the sample worker runs.

`--trial S`: a third kind of batch alternates with them, the same takes with a trial of S
symbols (`sampler.sample`'s `trial`: after S symbols only each tune's least surprising
take goes on), and its ratio against the whole takes.
"""

from __future__ import annotations

import os
import statistics
import time

from _common import page_sampler, ratio, trained_abc_arguments

TUNES = 4  # the generate page's default number of pieces


def main() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = trained_abc_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--takes", type=int, default=4)
    parser.add_argument("--batches", type=int, default=8, help="timed batches of each kind")
    parser.add_argument("--chars", type=int, default=800)
    parser.add_argument("--trial", type=int, default=0, help="also the takes with this trial")
    args = parser.parse_args()
    page = page_sampler(args)
    from musiclib.ml import sampler

    def batch(seed0: int, takes: int, trial: int = 0) -> tuple[float, int]:
        arguments = page.arguments(list(range(seed0, seed0 + TUNES)))
        t0 = time.process_time()
        outs = sampler.sample(**arguments, max_tokens=args.chars, takes=takes, trial=trial)
        return time.process_time() - t0, sum(len(ids) for ids in outs)

    kinds = [(1, 0), (args.takes, 0)] + ([(args.takes, args.trial)] if args.trial else [])
    names = {kind: f"{kind[0]} take{'s' if kind[0] > 1 else ''}" for kind in kinds}
    if args.trial:
        names[kinds[-1]] += f", trial {args.trial}"
    seed0 = 1000
    for _ in range(2):  # warm: compile, and the tables' first states
        for kind in kinds:
            batch(seed0, *kind)
            seed0 += TUNES
    times: dict[tuple[int, int], list[float]] = {kind: [] for kind in kinds}
    for _ in range(args.batches):
        for kind in kinds:
            cpu, symbols = batch(seed0, *kind)
            seed0 += TUNES
            times[kind].append(cpu)
            print(f"{names[kind]}: {cpu:.2f} s CPU, {symbols} symbols")
    medians = {kind: statistics.median(times[kind]) for kind in kinds}
    print(
        f"median, {TUNES} tunes: "
        + ", ".join(f"{names[kind]} {medians[kind]:.2f} s" for kind in kinds)
        + " CPU"
    )
    for kind in kinds[1:]:
        within = sum(t <= 1.0 for t in times[kind])
        print(f"{names[kind]}: {within} of {args.batches} batches within 1 s")
    one, many = medians[kinds[0]], medians[kinds[1]]
    print(ratio(f"{args.takes} takes against one, CPU a batch (how many times longer)", one, many))
    if args.trial:
        print(ratio(
            f"{names[kinds[2]]} against whole takes, CPU a batch (how many times faster)",
            medians[kinds[2]], many,
        ))  # fmt: skip


if __name__ == "__main__":
    main()
