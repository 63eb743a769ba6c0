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
"""

from __future__ import annotations

import os
import statistics
import time

from _common import ratio, trained_abc, trained_abc_arguments

TUNES = 4  # the generate page's default number of pieces


def main() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = trained_abc_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--takes", type=int, default=4)
    parser.add_argument("--batches", type=int, default=8, help="timed batches of each kind")
    parser.add_argument("--chars", type=int, default=800)
    args = parser.parse_args()
    net, vocab, prepared = trained_abc(
        args.net, args.vocab, corpus=args.corpus, preset=args.preset, transpose=args.transpose
    )
    from musiclib.metrics.form import returns_library
    from musiclib.ml import sampler
    from musiclib.ml.memory import memory_fit
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.base import END_ID

    memory = memory_fit(net, prepared.val, end_id=END_ID).weights
    library = returns_library(way=way, vocab=vocab, pieces=prepared.train)
    tables = way.grammar(vocab=vocab, form=True).automaton()
    prime = way.encode_prime(vocab=vocab, prime="")

    def batch(seed0: int, takes: int) -> tuple[float, int]:
        seeds = list(range(seed0, seed0 + TUNES))
        shapes = way.form_shapes_for(state=library, seeds=seeds)
        returns = way.returns_for(vocab=vocab, state=library, seeds=seeds, form=True)
        t0 = time.process_time()
        outs = sampler.sample(
            net, prime=prime, seeds=seeds, temperature=0.9, max_tokens=args.chars,
            end_id=END_ID, constraint=tables, returns=returns, shapes=shapes, memory=memory,
            takes=takes,
        )  # fmt: skip
        return time.process_time() - t0, sum(len(ids) for ids in outs)

    seed0 = 1000
    for _ in range(2):  # warm: compile, and the tables' first states
        for takes in (1, args.takes):
            batch(seed0, takes)
            seed0 += TUNES
    times: dict[int, list[float]] = {1: [], args.takes: []}
    for _ in range(args.batches):
        for takes in (1, args.takes):
            cpu, symbols = batch(seed0, takes)
            seed0 += TUNES
            times[takes].append(cpu)
            print(f"{takes} take{'s' if takes > 1 else ''}: {cpu:.2f} s CPU, {symbols} symbols")
    one, many = statistics.median(times[1]), statistics.median(times[args.takes])
    within = sum(t <= 1.0 for t in times[args.takes])
    print(f"median, {TUNES} tunes: one take {one:.2f} s, {args.takes} takes {many:.2f} s CPU")
    print(f"{args.takes} takes: {within} of {args.batches} batches within 1 s")
    print(ratio(f"{args.takes} takes against one, CPU a batch (how many times longer)", one, many))


if __name__ == "__main__":
    main()
