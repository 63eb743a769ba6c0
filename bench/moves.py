"""What the moves' lean (`musiclib.ml.line`) costs a visitor's batch: the same pieces'
seeds sampled with the generate page's first values for an ABC model (the folk form's
grammar and shape, T 0.9, four takes weighed after 100 characters), without the lean and
with it, alternating batch by batch in one process, CPU time per batch.

    .venv/bin/python bench/moves.py NET.npz VOCAB.json [--corpus oneills --preset quick]
        [--theta FIT.npy] [--phi FIT.phi.npy] [--batches 6] [--rows 4]

The weights are `--theta` (bench/line_fit.py's) or, without it, a lean against every leap
(what it weighs does not change its cost); a third way, the phrase lean besides, over the
training tunes' phrases with `--phi` (bench/line_fit.py --phrases') or weights that favour
long phrases. Each batch is drawn once both ways before it is
timed, so that the grammar's tables hold its states and the compiled loop runs it through
(the tables' building, which varies from piece to piece, would hide the lean's own cost).
"""

from __future__ import annotations

import os
import time

import numpy as np
from _common import trained_abc, trained_abc_arguments


def main() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # (as the sample worker runs)
    parser = trained_abc_arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--theta")
    parser.add_argument("--phi")
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--rows", type=int, default=4)
    args = parser.parse_args()
    net, vocab, prepared = trained_abc(
        args.net, args.vocab, corpus=args.corpus, preset=args.preset, transpose=args.transpose
    )
    from musiclib.metrics.form import returns_library
    from musiclib.ml import line as ln
    from musiclib.ml import sampler
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.base import END_ID

    if args.theta:
        theta = np.load(args.theta)
    else:
        theta = np.full((ln.CONTEXTS, ln.MOVES), -1.0, dtype=np.float32)
        theta[:, ln.SPAN - 1 : ln.SPAN + 2] = 0.0
    line = ln.Line.of(vocab, theta)
    phi = np.load(args.phi) if args.phi else np.linspace(-0.5, 0.5, ln.PHRASE + 1)
    keys = ln.phrase_state(vocab=vocab, pieces=prepared.train)[ln.PHRASES_STATE]
    phrased = ln.Line.of(vocab, theta, phrase_keys=keys, phi=phi)
    ways = (
        ("without the lean", None),
        ("with the lean", line),
        ("with the lean and its phrases", phrased),
    )
    library = returns_library(way=way, vocab=vocab, pieces=prepared.train)
    tables = way.grammar(vocab=vocab, form=True).automaton()
    prime = way.encode_prime(vocab=vocab, prime="")

    def batch(k: int, lean) -> tuple[float, int]:
        seeds = list(range(1 + k * args.rows, 1 + (k + 1) * args.rows))
        shapes = way.form_shapes_for(state=library, seeds=seeds)
        t0 = time.process_time()
        outs = sampler.sample(
            net, prime=prime, seeds=seeds, temperature=0.9, max_tokens=800, end_id=END_ID,
            constraint=tables, shapes=shapes, takes=4, trial=100, line=lean,
        )  # fmt: skip
        return time.process_time() - t0, sum(len(o) for o in outs)

    spent = {name: [0.0, 0] for name, _ in ways}
    for k in range(1, args.batches + 1):
        for _, lean in ways:  # (the grammar's tables for these pieces, every way)
            batch(k, lean)
        for name, lean in ways:
            seconds, symbols = batch(k, lean)
            spent[name][0] += seconds
            spent[name][1] += symbols
    for name, (seconds, symbols) in spent.items():
        print(
            f"{name}: {seconds / args.batches:.3f} s CPU a batch of {args.rows} "
            f"pieces, four takes ({symbols / seconds:,.0f} symbols per CPU second)"
        )
    per = {k: s / n for k, (s, n) in spent.items()}  # (CPU seconds a symbol)
    ratio = per["without the lean"] / per["with the lean"]
    print(f"symbols per CPU second, with the lean against without: {ratio:.2f}×")
    ratio = per["without the lean"] / per["with the lean and its phrases"]
    print(f"symbols per CPU second, with the lean and its phrases against without: {ratio:.2f}×")


if __name__ == "__main__":
    main()
