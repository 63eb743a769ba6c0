"""Sampler speed: the incremental sampler against one `model.predict` per character.

    .venv/bin/python bench/sampler.py [--checkpoint path.keras] [--chars 600]

Both use the same `full`-preset ABC model (two LSTM(256)); with no checkpoint given, the
model is freshly initialised (weights do not change the cost per character). Pieces are
forced to the full length (END is ignored) so both ways do the same work. The fast sampler
is timed in a child process without TensorFlow, as generation workers run it: TensorFlow's
thread pools keep spinning after each call and would steal its core.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ratio, setup_django, timed


def fast_only(path: str, n: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from musiclib.ml import sampler

    net = sampler.load_net(path)

    def run(rows: int):
        return sampler.sample(net, prime=[1], seeds=list(range(rows)), max_tokens=n, end_id=-1)

    run(1)  # compile (numba caches the machine code on disk after the first time)
    t1, out = timed(run, 1, repeat=10)
    assert len(out[0]) == n
    t64, out = timed(run, 64, repeat=3)
    print(json.dumps({"one": t1, "batch64": t64}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint")
    parser.add_argument("--chars", type=int, default=600)
    parser.add_argument(
        "--baseline-chars",
        type=int,
        default=40,
        help="characters timed for the slow way (its rate is per character)",
    )
    parser.add_argument("--fast-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fast_only:
        return fast_only(args.fast_only, args.chars)
    setup_django()
    from musiclib.ml import model as ml_model
    from musiclib.ml import sampler, trainer
    from musiclib.ways import get_way

    config = get_way("abc").resolve_config(preset="full", overrides={})
    if args.checkpoint:
        model = trainer.load_model(args.checkpoint)
    else:
        model = ml_model.build_model(config=config, vocab_size=96, seed=0)
    net = sampler.net_from_keras(model)
    n = args.chars
    print(f"model: LSTM {net.units}, vocab {net.vocab_size}, {n}-character pieces")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "net.npz")
        sampler.save_net(net, path)
        out = subprocess.run(
            [sys.executable, __file__, "--fast-only", path, "--chars", str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
    fast = json.loads(out.stdout.strip().splitlines()[-1])

    # The straightforward way: predict over the last 100 characters for every character.
    window = int(config["seq_length"])
    seq = [1, *np.random.default_rng(0).integers(3, net.vocab_size, size=window).tolist()]
    model.predict(np.array([seq[-window:]]), verbose=0)  # warm up
    t0 = time.perf_counter()
    for _ in range(args.baseline_chars):
        p = model.predict(np.array([seq[-window:]]), verbose=0)[0, -1]
        seq.append(int(np.argmax(p)))
    slow = (time.perf_counter() - t0) / args.baseline_chars
    t1, t64 = fast["one"], fast["batch64"]
    print(
        f"model.predict per character: {1 / slow:,.1f} chars/s ({slow * 1e3:.1f} ms/char, "
        f"timed over {args.baseline_chars} chars)"
    )
    print(f"incremental sampler, 1 piece: {t1 * 1e3:.1f} ms for {n} chars ({n / t1:,.0f} chars/s)")
    print(f"incremental sampler, batch of 64: {t64:.3f} s ({64 * n / t64:,.0f} chars/s)")
    print(ratio("speedup, one piece", t1 / n, slow))
    print(ratio("speedup, batch of 64 (per character)", t64 / (64 * n), slow))
    weight_mb = (
        sum(r.nbytes for r in net.recurrent) + sum(w.nbytes for w, _, _ in net.dense)
    ) / 1e6
    print(f"weights read per step: {weight_mb:.2f} MB; per piece: {weight_mb * n / 1e3:.2f} GB")


if __name__ == "__main__":
    main()
