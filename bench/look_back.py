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

Then the numpy step's look back (`sampler.step`, which `sampler.probabilities` runs for the
piece's memory fitted at every epoch's end, the takes' surprise and the benchmarks),
teacher forcing `--pieces` random pieces of 100 to 800 symbols, against the straightforward
step that stacks each row's keys and values again at every step and attends row by row
(the site's step until December 2026). The two agree to float32 rounding (checked here).
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
    parser.add_argument("--pieces", type=int, default=64, help="teacher-forced pieces (0: skip)")
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
    if args.pieces:
        lengths = rng.integers(100, 801, args.pieces)
        pieces = [np.concatenate([[1], rng.integers(3, vocab, n)]) for n in lengths]
        timed = {}
        for name, fn in (("stacked", _stacked_look_back), ("site", sampler._look_back)):
            original, sampler._look_back = sampler._look_back, fn
            try:
                t = time.process_time()
                timed[name] = sampler.probabilities(looking, pieces, end_id=-5)
                timed[name + " s"] = time.process_time() - t
            finally:
                sampler._look_back = original
        agree = max(
            float(np.max(np.abs(a - b) / b))
            for (a, _), (b, _) in zip(timed["stacked"], timed["site"], strict=True)
        )
        a, b = timed["stacked s"], timed["site s"]
        print(
            f"teacher forcing {args.pieces} pieces ({int(lengths.sum()):,} symbols): stacked "
            f"step {a:.2f} s CPU, the site's {b:.2f} s; the site's is {a / b:.1f}× as fast "
            f"(largest relative difference in p: {agree:.1e})"
        )


def _stacked_look_back(lb, state, h, tokens):
    """The straightforward step: every row's keys and values kept in lists on the state,
    stacked again at every step, attended row by row (no restarts: `probabilities` without
    `restart_id`)."""
    import numpy as np

    if not hasattr(state, "stacked"):  # (a new batch's state: its own lists)
        state.stacked = ([[] for _ in h], [[] for _ in h])
    keys_so_far, values_so_far = state.stacked
    out = np.empty((h.shape[0], 2 * h.shape[1]), dtype=np.float32)
    out[:, : h.shape[1]] = h
    keys = state.before @ lb.wk
    values = lb.vtable[tokens] + h @ lb.wv_h
    queries = h @ lb.wq
    scale = np.float32(1.0 / np.sqrt(lb.dim))
    for r in range(h.shape[0]):
        keys_so_far[r].append(keys[r])
        values_so_far[r].append(values[r])
        k = np.stack(keys_so_far[r]).reshape(-1, lb.heads, lb.dim)
        v = np.stack(values_so_far[r]).reshape(-1, lb.heads, lb.dim)
        scores = np.einsum("hd,thd->ht", queries[r].reshape(lb.heads, lb.dim), k) * scale
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        context = np.einsum("ht,thd->hd", weights, v).reshape(-1)
        out[r, h.shape[1] :] = context @ lb.wo + lb.bo
    state.before[:] = h
    return out


if __name__ == "__main__":
    main()
