"""Sampler speed: the compiled loop against one `model.predict` per character, the numpy
step it replaced, and the memory-bandwidth floor; and what a visitor waits for.

    .venv/bin/python bench/sampler.py [--checkpoint path.keras] [--chars 600]

Both use the same `full`-preset ABC model (two LSTM(256)); with no checkpoint given, the
model is freshly initialised (weights do not change the cost per character). Pieces are
forced to the full length (END is ignored) so every way does the same work. The sampler
is timed in a child process without TensorFlow, as generation workers run it: TensorFlow's
thread pools keep spinning after each call and would steal its core.

The floor: every step must read both LSTM layers' weights once; their bytes × steps,
divided by the memory bandwidth measured in the same child (a large numpy copy, bytes
read + written per second), is the least time any implementation could take.

The visitor: four 800-character tunes from the same model (random weights unless
--checkpoint) over a vocabulary of O'Neill's tunes (the bundled corpus), one batch, with
the grammar on, as the generate page does by default. The grammar runs compiled when the
way gives tables for it, else as Python masks between compiled steps; both are printed.
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

VISITOR_TUNES, VISITOR_CHARS = 4, 800


def bandwidth(mb: int = 512, repeat: int = 5) -> float:
    """Memory bandwidth in bytes per second: the best of `repeat` copies of `mb` MB (each
    byte read once and written once)."""
    src = np.ones(mb * 2**20 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = min(timed(np.copyto, dst, src)[0] for _ in range(repeat))
    return 2 * src.nbytes / best


def fast_only(path: str, n: int, vocab_path: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from musiclib.ml import sampler
    from musiclib.ways import get_way

    assert "tensorflow" not in sys.modules
    net = sampler.load_net(path)

    def run(rows: int, fn=sampler.sample):
        return fn(net, prime=[1], seeds=list(range(rows)), max_tokens=n, end_id=-1)

    run(1)  # compile (numba caches the machine code on disk after the first time)
    run(16)
    t1, out = timed(run, 1, repeat=10)
    assert len(out[0]) == n
    t64, out = timed(run, 64, repeat=3)
    numpy1, _ = timed(run, 1, sampler.sample_numpy, repeat=3)
    numpy64, _ = timed(run, 64, sampler.sample_numpy, repeat=1)
    bw = bandwidth()

    # The visitor: four tunes, grammar on (and off, beside it).
    way = get_way("abc")
    vocab = json.loads(Path(vocab_path).read_text())
    grammar = way.grammar(vocab=vocab)
    compiled_grammar = hasattr(grammar, "tables") or "GrammarTables" in type(grammar).__name__

    def visitor(constraint):
        return sampler.sample(
            net,
            prime=[1],
            seeds=list(range(VISITOR_TUNES)),
            temperature=0.9,
            max_tokens=VISITOR_CHARS,
            end_id=-1,
            constraint=constraint,
        )

    visitor(way.grammar(vocab=vocab))  # warm: compile, and the grammar's mask cache
    tg, outs = timed(lambda: visitor(way.grammar(vocab=vocab)), repeat=3)
    chars = sum(len(way.decode(vocab=vocab, ids=ids)) for ids in outs)
    tplain, _ = timed(visitor, None, repeat=3)
    print(
        json.dumps(
            {
                "one": t1,
                "batch64": t64,
                "numpy_one": numpy1,
                "numpy_batch64": numpy64,
                "bandwidth": bw,
                "visitor_grammar": tg,
                "visitor_plain": tplain,
                "visitor_chars": chars,
                "visitor_compiled_grammar": compiled_grammar,
            }
        )
    )


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
    parser.add_argument("--vocab", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fast_only:
        return fast_only(args.fast_only, args.chars, args.vocab)
    setup_django()
    from _common import oneills_texts

    from musiclib.ml import model as ml_model
    from musiclib.ml import sampler, trainer
    from musiclib.ways import get_way

    way = get_way("abc")
    config = way.resolve_config(preset="full", overrides={})
    vocab = way.prepare(texts=oneills_texts(), config=config, seed=0).vocab
    if args.checkpoint:
        model = trainer.load_model(args.checkpoint)
    else:
        model = ml_model.build_model(config=config, vocab_size=len(vocab), seed=0)
    net = sampler.net_from_keras(model)
    if net.vocab_size != len(vocab):
        raise SystemExit(f"the checkpoint's vocabulary ({net.vocab_size}) is not O'Neill's")
    n = args.chars
    weights = "trained" if args.checkpoint else "random (fresh)"
    print(f"model: LSTM {net.units}, vocab {net.vocab_size}, {weights} weights, {n}-char pieces")
    with tempfile.TemporaryDirectory() as tmp:
        path, vocab_path = str(Path(tmp) / "net.npz"), Path(tmp) / "vocab.json"
        sampler.save_net(net, path)
        vocab_path.write_text(json.dumps(vocab))
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--fast-only",
                path,
                "--chars",
                str(n),
                "--vocab",
                str(vocab_path),
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            raise SystemExit(out.stderr)
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
    print(f"compiled loop, 1 piece: {t1 * 1e3:.1f} ms for {n} chars ({n / t1:,.0f} chars/s)")
    print(f"compiled loop, batch of 64: {t64:.3f} s ({64 * n / t64:,.0f} chars/s)")
    print(
        f"numpy step (the reference), 1 piece: {fast['numpy_one'] * 1e3:.1f} ms; "
        f"batch of 64: {fast['numpy_batch64']:.3f} s"
    )
    print(ratio("speedup, one piece", t1 / n, slow))
    print(ratio("speedup, batch of 64 (per character)", t64 / (64 * n), slow))
    print(ratio("compiled loop against the numpy step, one piece", t1, fast["numpy_one"]))
    print(ratio("compiled loop against the numpy step, batch of 64", t64, fast["numpy_batch64"]))
    lstm_bytes = sum(r.nbytes for r in net.recurrent)
    floor = lstm_bytes * n / fast["bandwidth"]
    print(
        f"memory bandwidth (numpy copy): {fast['bandwidth'] / 1e9:.1f} GB/s; LSTM weights "
        f"read per step: {lstm_bytes / 1e6:.2f} MB; floor for one piece: {floor * 1e3:.1f} ms"
    )
    print(f"one piece against the bandwidth floor: {t1 / floor:.2f}× the floor's time")
    kind = "compiled tables" if fast["visitor_compiled_grammar"] else "Python masks"
    print(
        f"visitor: {VISITOR_TUNES} tunes of {VISITOR_CHARS} chars, grammar on ({kind}): "
        f"{fast['visitor_grammar']:.3f} s ({fast['visitor_chars']} chars); grammar off: "
        f"{fast['visitor_plain']:.3f} s"
    )
    print(ratio("grammar on against off", fast["visitor_grammar"], fast["visitor_plain"]))


if __name__ == "__main__":
    main()
