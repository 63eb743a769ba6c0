"""MIDI-way sampler speed: the shared incremental sampler against one `model.predict` per token.

    .venv/bin/python bench/midi_sampler.py [--tokens 200] [--baseline-tokens 30]

Both use the same `full`-preset MIDI model (LSTM(512)×3, dense 256) with freshly initialised
weights (weights do not change the cost of a token) and the vocabulary of the Nottingham MIDI
melodies (music21's chorale melodies where Nottingham is absent). Pieces are forced to the
full length (END is ignored) so both do the same work. The original predicted each token by
running `model.predict` over the last 100 tokens; that is timed over `--baseline-tokens`
tokens and its per-token rate compared. The shared sampler runs in a child process without
TensorFlow, as a generation worker runs it: TensorFlow's idle thread pools would steal a core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NOTTINGHAM = Path(
    os.environ.get("NOTTINGHAM_DIR", ROOT.parent / "shared" / "datasets" / "nottingham")
)


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def fast_only(path: str, n: int) -> None:
    """Child process: time the shared sampler alone (no TensorFlow imported)."""
    sys.path.insert(0, str(ROOT))
    from musiclib.ml import sampler

    net = sampler.load_net(path)

    def run(rows: int):
        seeds = list(range(rows))
        return sampler.sample(net, prime=[1], seeds=seeds, max_tokens=n, end_id=-1)

    run(1)  # warm-up (and any one-off compilation)
    one, out = best_of(lambda: run(1), 5)
    assert len(out[0]) == n
    batch, out = best_of(lambda: run(64), 2)
    assert len(out) == 64 and all(len(o) == n for o in out)
    print(json.dumps({"one": one, "batch64": batch}))


def vocabulary() -> tuple[list[str], str]:
    sys.path.insert(0, str(ROOT))
    from musiclib.ways import midi_notes as mn
    from musiclib.ways.midi_notes import WAY

    folder = NOTTINGHAM / "MIDI"
    if folder.is_dir():
        files = sorted(folder.glob("*.mid"))  # the top level: melody + chords in each file
        jobs = [(str(p), p.name, i + 1, "melody") for i, p in enumerate(files)]
        items = mn.parse_all(jobs, worker=mn._parse_path)
        name = "Nottingham MIDI melodies"
    else:
        items = WAY.import_items(source="music21:bach#limit=100", upload=None)
        name = "100 chorale melodies"
    texts = [it.text for it in items if it.failure is None]
    config = WAY.resolve_config(preset="full", overrides={"val_fraction": 0.0})
    return WAY.prepare(texts=texts, config=config, seed=0).vocab, name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--baseline-tokens", type=int, default=30)
    parser.add_argument("--fast-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fast_only:
        return fast_only(args.fast_only, args.tokens)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    vocab, corpus = vocabulary()
    from musiclib.ml import sampler
    from musiclib.ml.model import build_model
    from musiclib.ways.midi_notes import WAY

    config = WAY.resolve_config(preset="full", overrides={})
    model = build_model(config=config, vocab_size=len(vocab), seed=0)
    net = sampler.net_from_keras(model)
    n = args.tokens
    print(
        f"model: full preset, LSTM {net.units}, dense {config['dense']}, vocab {len(vocab)} "
        f"({corpus}), random weights; {n}-token pieces; {os.cpu_count()} CPU cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "net.npz")
        sampler.save_net(net, path)
        out = subprocess.run(
            [sys.executable, __file__, "--fast-only", path, "--tokens", str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
    fast = json.loads(out.stdout.strip().splitlines()[-1])

    # The original: predict over the last 100 tokens for every token.
    window = int(config["seq_length"])
    rng = np.random.default_rng(0)
    seq = [1, *rng.integers(3, len(vocab), size=window).tolist()]
    model.predict(np.array([seq[-window:]]), verbose=0)  # warm-up: builds the graph
    t0 = time.perf_counter()
    for _ in range(args.baseline_tokens):
        p = model.predict(np.array([seq[-window:]]), verbose=0)[0, -1]
        seq.append(int(np.argmax(p)))
    slow = (time.perf_counter() - t0) / args.baseline_tokens
    one, batch = fast["one"], fast["batch64"]
    print(
        f"model.predict over a {window}-token window per token: {1 / slow:,.1f} tokens/s "
        f"({slow * 1e3:.1f} ms/token, timed over {args.baseline_tokens} tokens)"
    )
    print(f"shared sampler, 1 piece: {one * 1e3:.1f} ms for {n} tokens ({n / one:,.0f} tokens/s)")
    print(
        f"shared sampler, batch of 64 pieces: {batch:.3f} s for {64 * n:,} tokens "
        f"({64 * n / batch:,.0f} tokens/s; target ≤ 2 s)"
    )
    print(f"speedup, one piece: {slow / (one / n):,.0f}× (target ≥ 150×)")
    print(f"speedup, batch of 64 (per token): {slow / (batch / (64 * n)):,.0f}×")


if __name__ == "__main__":
    main()
