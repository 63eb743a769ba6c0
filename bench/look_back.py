"""What a look back costs the sampler: the compiled loop with and without one, same LSTM.

    .venv/bin/python bench/look_back.py [--rows 16] [--chars 800] [--heads 4] [--dim 32]

A `full`-sized ABC net (two LSTM(256), vocabulary 56, as the Nottingham model) with random
weights, pieces forced to full length (no end symbol), one BLAS thread as the sample worker
runs. The same net is sampled plain and with a look back of `--heads` × `--dim` after its last
LSTM (`ml.model.LookBack`: random weights of the trained layer's shapes), one row and
`--rows` rows, in one process; each figure is the best CPU time of three calls after a
warm-up. Prints how many times longer the look back takes (N×). No grammar: the grammar's
Python work, which dominates a visitor's batch, is the same with or without a look back
(bench/takes.py measures a visitor's batch on trained models).
"""

from __future__ import annotations

import argparse
import os
import time

from _common import ROOT


def main() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import sys

    sys.path.insert(0, str(ROOT))
    import numpy as np

    from musiclib.ml import sampler

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--chars", type=int, default=800)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dim", type=int, default=32)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    vocab, units, width = 56, 256, args.heads * args.dim

    def w(*shape, scale=0.6):
        return (rng.normal(0, scale / np.sqrt(shape[0]), shape)).astype(np.float32)

    def net(look_back: bool) -> sampler.Net:
        lb = None
        if look_back:
            lb = sampler.LookBack(
                wq=w(units, width), wk=w(units, width), wv_h=w(units, width),
                vtable=w(vocab, width), wo=w(width, units), bo=w(1, units)[0],
                heads=args.heads, dim=args.dim,
            )  # fmt: skip
        rng_state = np.random.default_rng(1)  # the same LSTM and logits layer for both

        def v(*shape, scale=0.6):
            return (rng_state.normal(0, scale / np.sqrt(shape[0]), shape)).astype(np.float32)

        last = units * (2 if look_back else 1)
        dense_w = v(last, vocab, scale=3.0)
        return sampler.Net(
            table=v(vocab, 4 * units, scale=3.0),
            recurrent=[v(units, 4 * units), v(2 * units, 4 * units)],
            biases=[v(1, 4 * units)[0], v(1, 4 * units)[0]],
            dense=[(dense_w, v(1, vocab)[0], False)],
            units=[units, units],
            look_back=lb,
        )

    def best(n: sampler.Net, rows: int) -> float:
        seeds = list(range(rows))
        sampler.sample(n, prime=[1], seeds=seeds, max_tokens=20, end_id=-5)  # warm-up
        times = []
        for _ in range(3):
            t = time.process_time()
            sampler.sample(n, prime=[1], seeds=seeds, max_tokens=args.chars, end_id=-5)
            times.append(time.process_time() - t)
        return min(times)

    plain, looking = net(False), net(True)
    print(
        f"net: LSTM [{units}, {units}], vocabulary {vocab}, random weights; look back "
        f"{args.heads} heads × {args.dim}; {args.chars} symbols a piece, one BLAS thread"
    )
    for rows in (1, args.rows):
        a, b = best(plain, rows), best(looking, rows)
        print(
            f"{rows} row{'s' if rows > 1 else ''}: plain {a:.3f} s CPU, with the look back "
            f"{b:.3f} s CPU; the look back takes {b / a:.1f}× as long"
        )


if __name__ == "__main__":
    main()
