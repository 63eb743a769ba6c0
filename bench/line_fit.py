"""Fit the line's lean (`musiclib.ml.line`) for a model: sample, count the notes' moves in
each context, move the weights by the log ratio to the training tunes' shares, again.

    .venv/bin/python bench/line_fit.py NET.npz VOCAB.json OUT.npy --rounds 4 --n 300 \\
        --corpus nottingham --preset full --transpose [form_samples.py's sampler options]

The target is the training split's counts (`way.prepare(seed=0)`, as bench/quality.py
trained the model): the held-out tunes the listener compares with are never read. Each
round samples `--n` tunes with bench/form_samples.py (seeds from 100001 on, apart from the
judged seeds) and prints the shares a musician reads beside the target's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
from _common import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("net")
    parser.add_argument("vocab")
    parser.add_argument("out")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1.0)
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="nottingham")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--transpose", action="store_true")
    args, sampler_options = parser.parse_known_args()
    sys.path.append(str(ROOT))
    from _common import setup_django
    from quality import load_texts

    setup_django()
    from musiclib.ml.line import (
        line_counts,
        line_fit_rounds,
        line_shares,
        symbol_classes,
        text_counts,
    )
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.abc_tokens import vocabulary_of

    vocab = json.loads(open(args.vocab).read())
    overrides = {"transpose": args.transpose, "vocabulary": vocabulary_of(vocab)}
    config = way.resolve_config(preset=args.preset, overrides=overrides)
    prepared = way.prepare(texts=load_texts(args.corpus), config=config, seed=0)
    classes, steps = symbol_classes(prepared.vocab)
    target = line_counts(pieces=prepared.train, classes=classes, steps=steps)

    def draw(theta: np.ndarray, k: int) -> list[str]:
        path, texts_path = f"{args.out}.round{k}.npy", f"{args.out}.round{k}.json"
        np.save(path, theta)
        cmd = [sys.executable, str(ROOT / "bench" / "form_samples.py"), args.net, args.vocab,
               texts_path, "--n", str(args.n), "--first-seed", str(100001 + k * args.n),
               "--line", path, "--corpus", args.corpus, "--preset", args.preset,
               *(["--transpose"] if args.transpose else []), *sampler_options]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=os.environ)
        texts = json.loads(open(texts_path).read())["texts"]
        show(f"round {k}", line_shares(text_counts(texts)), len(texts))
        return texts

    def show(label: str, shares: dict, n: int) -> None:
        print(f"{label:>10}: " + "  ".join(f"{k} {v:.3f}" for k, v in shares.items())
              + f"  ({n} tunes)", flush=True)  # fmt: skip

    show("training", line_shares(target), len(prepared.train))
    fit = line_fit_rounds(target=target, draw=draw, rounds=args.rounds, rate=args.rate)
    np.save(args.out, fit.theta)
    np.set_printoptions(precision=2, suppress=True, linewidth=140)
    print(fit.theta)


if __name__ == "__main__":
    main()
