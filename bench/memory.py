"""What the piece's memory (`musiclib.ml.memory`) costs: sampling with it against without, and
the fit at a checkpoint.

    .venv/bin/python bench/memory.py NET.npz VOCAB.json [--corpus nottingham --preset full]

The visitor's batch (four pieces of up to 800 symbols, temperature 0.9, the grammar's
tables as the generation service builds them), warm (after two batches of other seeds, so
the tables' building is mostly done), the same seeds with and without the memory, median
of five batches each, interleaved; times are CPU seconds of this single-threaded process
(wall times on a shared machine move by 2×). The memory adds, per symbol drawn, one pass
over the piece so far (its match lengths and the longest match's followers): the cost grows
with the piece's length. The fit: the memory's weights for the model on the held-out split
of `--corpus` (as `bench/quality.py` split it to train), which every checkpoint of a run
pays once.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import ratio, trained_abc

ROWS, SYMBOLS, TEMPERATURE = 4, 800, 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("net")
    parser.add_argument("vocab")
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="nottingham")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    net, vocab, prepared = trained_abc(
        args.net, args.vocab, corpus=args.corpus, preset=args.preset, transpose=False
    )
    from musiclib.ml import sampler
    from musiclib.ml.memory import memory_fit
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.base import END_ID

    t0, w0 = time.process_time(), time.perf_counter()
    fit = memory_fit(net, prepared.val, end_id=END_ID)
    fit_s, fit_wall = time.process_time() - t0, time.perf_counter() - w0
    automaton = way.grammar(vocab=vocab).automaton()
    prime = way.encode_prime(vocab=vocab, prime="")

    def batch(seed0: int, memory) -> tuple[float, int]:
        t = time.process_time()
        outs = sampler.sample(net, prime=prime, seeds=list(range(seed0, seed0 + ROWS)),
                              temperature=TEMPERATURE, max_tokens=SYMBOLS, end_id=END_ID,
                              constraint=automaton, memory=memory)  # fmt: skip
        return time.process_time() - t, sum(len(o) for o in outs)

    for warm in (100, 200):  # the tables' states for these pieces built, numba compiled
        batch(warm, None)
        batch(warm, fit.weights)
    plain, mixed = [], []
    for k in range(args.repeat):
        seed0 = 1000 + 10 * k
        plain.append(batch(seed0, None))
        mixed.append(batch(seed0, fit.weights))
    plain_rate = statistics.median(n / s for s, n in plain)
    mixed_rate = statistics.median(n / s for s, n in mixed)
    print(f"memory fitted on {fit.symbols:,} held-out symbols in {fit_wall:.1f} s "
          f"({fit_s:.1f} CPU s, BLAS threads included; the first call compiles): "
          f"{fit.loss:.3f} nats a symbol without, {fit.loss_memory:.3f} with")  # fmt: skip
    print(f"{ROWS} pieces of up to {SYMBOLS} symbols, grammar tables, warm, CPU time:")
    print(f"  without memory: {plain_rate:,.0f} symbols/s "
          f"(median {statistics.median(s for s, _ in plain):.3f} s a batch)")  # fmt: skip
    print(f"  with memory: {mixed_rate:,.0f} symbols/s "
          f"(median {statistics.median(s for s, _ in mixed):.3f} s a batch)")  # fmt: skip
    print(ratio("with memory against without, symbols per CPU second", 1 / mixed_rate,
                1 / plain_rate))  # fmt: skip


if __name__ == "__main__":
    main()
