"""Fit the line's lean (`musiclib.ml.line`) for a model: sample, count the notes' moves in
each context, move the weights by the log ratio to the training tunes' shares, again.

    .venv/bin/python bench/line_fit.py NET.npz VOCAB.json OUT.npy --rounds 4 --n 300 \\
        --corpus nottingham --preset full --transpose [form_samples.py's sampler options]

The target is the training split's counts (`way.prepare(seed=0)`, as bench/quality.py
trained the model): the held-out tunes the listener compares with are never read. Each
round samples `--n` tunes with bench/form_samples.py (seeds from `--seed-base`, 100001,
on, apart from the judged seeds) and prints the shares a musician reads beside the target's.

`--phrases`: the phrase lean is fitted in the same rounds (as a run's end fits it): each
note weighed by the longest phrase of the training tunes it ends, towards the shares of
phrases of 4 to 8 notes the training tunes show, each judged by the others, each tune
weighing as much as any other (`phrase_counts`). Writes OUT's
stem + `.phi.npy` beside OUT (form_samples.py's `--phrases`).
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
    parser.add_argument(
        "--seed-base", type=int, default=100001,
        help="round k samples seeds from SEED_BASE + k * n (another base: another fit)",
    )  # fmt: skip
    parser.add_argument(
        "--phrase-rate", type=float, default=None,
        help="the phrase weights' step in each round (default the site's, line.PHRASE_RATE)",
    )  # fmt: skip
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="nottingham")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--transpose", action="store_true")
    parser.add_argument(
        "--phrases", action="store_true",
        help="also fit the phrase lean: each note weighed by the longest phrase of the "
        "training tunes it ends, to the training tunes' own shares judged by each other "
        "(writes OUT's stem + .phi.npy)",
    )  # fmt: skip
    args, sampler_options = parser.parse_known_args()
    sys.path.append(str(ROOT))
    from _common import setup_django
    from quality import load_texts

    setup_django()
    from musiclib.ml.line import (
        PHRASE_RATE,
        line_counts,
        line_fit_rounds,
        line_shares,
        phrase_counts,
        phrase_index,
        phrase_shares,
        piece_intervals,
        symbol_classes,
        text_counts,
        text_intervals,
    )
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.abc_tokens import vocabulary_of

    vocab = json.loads(open(args.vocab).read())
    overrides = {"transpose": args.transpose, "vocabulary": vocabulary_of(vocab)}
    config = way.resolve_config(preset=args.preset, overrides=overrides)
    prepared = way.prepare(texts=load_texts(args.corpus), config=config, seed=0)
    classes, steps = symbol_classes(prepared.vocab)
    target = line_counts(pieces=prepared.train, classes=classes, steps=steps)

    def draw(weights, k: int) -> list[str]:
        path, texts_path = f"{args.out}.round{k}.npy", f"{args.out}.round{k}.json"
        np.save(path, weights.theta)
        if weights.phi is not None:
            np.save(phi_path_of(args), weights.phi)
        cmd = [sys.executable, str(ROOT / "bench" / "form_samples.py"), args.net, args.vocab,
               texts_path, "--n", str(args.n), "--first-seed", str(args.seed_base + k * args.n),
               "--line", path, *(["--phrases", phi_path_of(args)] if args.phrases else []),
               "--corpus", args.corpus, "--preset", args.preset,
               *(["--transpose"] if args.transpose else []), *sampler_options]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=os.environ)
        texts = json.loads(open(texts_path).read())["texts"]
        shares = line_shares(text_counts(texts))
        if phrases is not None:
            shares.update(
                phrase_shares(phrase_counts(intervals=text_intervals(texts), index=phrases))
            )
        show(f"round {k}", shares, len(texts))
        return texts

    def show(label: str, shares: dict, n: int) -> None:
        print(f"{label:>10}: " + "  ".join(f"{k} {v:.3f}" for k, v in shares.items())
              + f"  ({n} tunes)", flush=True)  # fmt: skip

    show("training", line_shares(target), len(prepared.train))
    phrases = aim = None
    if args.phrases:
        moves = [piece_intervals(ids=p, classes=classes, steps=steps) for p in prepared.train]
        phrases = phrase_index(moves)
        aim = phrase_counts(intervals=moves, index=phrases, own=True)
        show("training", phrase_shares(aim), len(prepared.train))
    fit = line_fit_rounds(
        target=target, draw=draw, rounds=args.rounds, rate=args.rate,
        phrases=phrases, phrase_target=aim,
        phrase_rate=PHRASE_RATE if args.phrase_rate is None else args.phrase_rate,
    )  # fmt: skip
    np.save(args.out, fit.theta)
    if fit.phi is not None:
        np.save(phi_path_of(args), fit.phi)
        print("phrase weights:", np.round(fit.phi, 2).tolist())
    np.set_printoptions(precision=2, suppress=True, linewidth=140)
    print(fit.theta)


def phi_path_of(args) -> str:
    return args.out.removesuffix(".npy") + ".phi.npy"


if __name__ == "__main__":
    main()
