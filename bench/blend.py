"""Blend trained ABC nets into one (`musiclib.ml.ensemble.nets_blend`: the mean of their
logits) and print how well each, and the blend, predicts the held-out tunes.

    .venv/bin/python bench/blend.py A-best.npz B-best.npz [...] --out BLEND.npz \\
        [--corpus nottingham --preset full --transpose]

The nets must share a vocabulary (that of `prepare` over `--corpus` with `--preset`'s
val_fraction and seed 0, as bench/quality.py trained them). Held-out loss: nats a symbol
over the held-out split, teacher forced from a zero state (`sampler.probabilities`), as the
trainer's validation loss. The blend is written as a sampler .npz that bench/form_samples.py
samples like any net (its vocabulary is the nets' own, VOCAB.json beside them).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from _common import ROOT


def main() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nets", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="nottingham")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--transpose", action="store_true")
    args = parser.parse_args()
    sys.path.append(str(ROOT))
    from _common import setup_django
    from quality import load_texts

    from musiclib.ml import sampler
    from musiclib.ml.ensemble import nets_blend
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.base import END_ID

    setup_django()  # (the corpus folder is a setting)
    config = way.resolve_config(preset=args.preset, overrides={"transpose": args.transpose})
    prepared = way.prepare(texts=load_texts(args.corpus), config=config, seed=0)
    pieces = [np.asarray(ids, dtype=np.int64) for ids in prepared.val]
    nets = [sampler.load_net(path) for path in args.nets]
    if any(net.vocab_size != len(prepared.vocab) for net in nets):
        sys.exit("a net's vocabulary is not the corpus's: another corpus, preset or --transpose?")
    blend = nets_blend(nets=nets)
    sampler.save_net(blend, args.out)

    def held_out(net) -> tuple[float, float]:
        t0 = time.process_time()
        probs = sampler.probabilities(net, pieces, end_id=END_ID)
        loss = -sum(float(np.log(p).sum()) for p, _ in probs) / sum(len(p) for p, _ in probs)
        return loss, time.process_time() - t0

    symbols = sum(len(p) - 1 for p in pieces)
    print(f"held-out: {len(pieces)} tunes, {symbols:,} symbols")
    for path, net in zip(args.nets, nets, strict=True):
        loss, cpu = held_out(net)
        print(f"  {os.path.basename(path)}: {loss:.4f} nats a symbol ({cpu:.1f} s CPU)")
    loss, cpu = held_out(blend)
    print(f"  the blend of {len(nets)}: {loss:.4f} nats a symbol ({cpu:.1f} s CPU) -> {args.out}")


if __name__ == "__main__":
    main()
