"""MIDI-way training speed: epoch time of the shared trainer against the original `model.fit`.

    .venv/bin/python bench/midi_train.py [--limit 64] [--original-windows 256]

Corpus: the Nottingham MIDI melodies (../shared/datasets/nottingham/MIDI, melody part), or
music21's chorale melodies where Nottingham is absent. Model: the `full` preset's sizes,
LSTM(512)×3 with 30% dropout and dense 256, on both sides.

- original: the write-up's representation and `model.fit`: pitch-only tokens of every piece
  concatenated, every window of 100 tokens (stride 1) as input, each id divided by the
  vocabulary size (shape (N, 100, 1), float), the one token after it as a one-hot target,
  LSTM → LSTM → LSTM (last state only) → dense 256 → softmax, categorical cross-entropy,
  RMSprop, batch 64. An epoch makes every token a target once, at 100 LSTM steps each.
  Timed on `--original-windows` windows after a warm-up batch, extrapolated to the epoch.
- site: the shared trainer (`musiclib.ml.trainer.train`) on the rhythm tokens of the same
  pieces: whole pieces from a zero state, every position a target, batch 32 (the preset).
  Timed on a second epoch over `--limit` random pieces (the first builds the graph), and
  extrapolated to the whole corpus by padded tokens (batch rows × width, counted exactly for
  a real epoch's length-sorted batches).

Both epochs are "every token of the corpus a target once"; the rhythm tokenisation has more
tokens per piece (durations ride on the notes, but rests and bar lines are tokens), which the
site pays for and the ratio includes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NOTTINGHAM = Path(
    os.environ.get("NOTTINGHAM_DIR", ROOT.parent / "shared" / "datasets" / "nottingham")
)


class Timer:
    """Trainer hooks that only record each epoch's seconds."""

    def __init__(self):
        self.seconds: list[float] = []

    def epoch_end(self, *, epoch, logs, model, seconds):
        self.seconds.append(seconds)

    def should_stop(self):
        return False

    def heartbeat(self, *, epoch, fraction):
        pass


def padded_tokens(pieces: list[np.ndarray], *, config: dict) -> int:
    from musiclib.ml import data

    return int(sum(x.size for x, _, _ in data.batches(pieces, config=config, seed=1)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=96, help="pieces the site trains on")
    parser.add_argument("--original-windows", type=int, default=192)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    from musiclib.ways import midi_notes as mn
    from musiclib.ways.midi_notes import WAY

    folder = NOTTINGHAM / "MIDI"
    if folder.is_dir():
        # The top-level files (melody + chords), melody part; not melody/ and chords/ below.
        files = sorted(folder.glob("*.mid"))
        jobs = [(str(p), p.name, i + 1, "melody") for i, p in enumerate(files)]
        items, name = mn.parse_all(jobs, worker=mn._parse_path), "Nottingham MIDI melodies"
    else:
        items = WAY.import_items(source="music21:bach", upload=None)
        name = "music21 chorale melodies"
    texts = [it.text for it in items if not it.failure]

    import keras
    import tensorflow as tf

    from musiclib.ml import data, trainer
    from musiclib.ml.model import build_model

    config = WAY.resolve_config(preset="full", overrides={"val_fraction": 0.0})
    full = WAY.prepare(texts=texts, config=config, seed=0)
    site_tokens = int(sum(len(p) - 1 for p in full.train))
    po_config = {**config, "tokenization": "pitch_only"}
    original = WAY.prepare(texts=texts, config=po_config, seed=0)
    stream = np.concatenate([p[1:-1] for p in original.train])  # notes only, as the original
    n_windows = len(stream) - 100
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(
        f"corpus: {name}, {len(texts)} pieces; rhythm: {site_tokens:,} target tokens, vocab "
        f"{len(full.vocab)}; pitch-only: {len(stream):,} notes, vocab {len(original.vocab)}; "
        f"device {device}; load average {os.getloadavg()[0]:.1f}"
    )

    # --- the original ---------------------------------------------------------------------
    vocab, window, batch = len(original.vocab), 100, 64
    orig = keras.Sequential([keras.Input((window, 1))])
    orig.add(keras.layers.LSTM(512, return_sequences=True))
    orig.add(keras.layers.Dropout(0.3))
    orig.add(keras.layers.LSTM(512, return_sequences=True))
    orig.add(keras.layers.Dropout(0.3))
    orig.add(keras.layers.LSTM(512))
    orig.add(keras.layers.Dense(256))
    orig.add(keras.layers.Dropout(0.3))
    orig.add(keras.layers.Dense(vocab, activation="softmax"))
    orig.compile(loss="categorical_crossentropy", optimizer="rmsprop")
    count = args.original_windows + batch
    idx = np.random.default_rng(0).choice(n_windows, count, replace=False)
    x = (np.stack([stream[i : i + window] for i in idx]) / vocab).astype(np.float32)[..., None]
    y = np.eye(vocab, dtype=np.float32)[stream[idx + window]]
    orig.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)  # builds the graph
    t0 = time.perf_counter()
    orig.fit(x[batch:], y[batch:], batch_size=batch, epochs=1, verbose=0)
    per_window = (time.perf_counter() - t0) / args.original_windows
    orig_epoch = per_window * n_windows
    print(
        f"original model.fit: {1 / per_window:,.1f} windows/s -> {orig_epoch:,.0f} s per epoch "
        f"({n_windows:,} windows; extrapolated from {args.original_windows} windows)"
    )

    # --- the site's trainer on the same kind of pieces --------------------------------------
    rng = np.random.default_rng(0)
    pieces = [full.train[i] for i in rng.permutation(len(full.train))[: args.limit]]
    model = build_model(config=config, vocab_size=len(full.vocab), seed=0)
    timer = Timer()
    trainer.train(
        model=model,
        train_pieces=pieces,
        val_pieces=[],
        config=config,
        seed=0,
        epochs=2,
        initial_epoch=0,
        hooks=timer,
    )
    part_tokens = int(sum(len(p) - 1 for p in pieces))
    # Time per padded token (batch rows × width), times the padded tokens of a real epoch
    # over the whole corpus: a small sample pads differently from length-sorted full batches.
    part_padded = padded_tokens(pieces, config=config)
    all_padded = padded_tokens(full.train, config=config)
    site_epoch = timer.seconds[-1] / part_padded * all_padded
    print(
        f"site trainer: {timer.seconds[-1]:.1f} s for an epoch of {len(pieces)} pieces "
        f"({part_tokens:,} tokens, {part_padded:,} padded, "
        f"{data.count_batches(pieces, config=config)} batches; first epoch "
        f"{timer.seconds[0]:.1f} s) -> {site_epoch:,.0f} s per epoch over all "
        f"{len(full.train)} pieces ({all_padded:,} padded tokens; extrapolated)"
    )
    print(f"speedup per epoch against the original model.fit: {orig_epoch / site_epoch:,.0f}×")
    print(
        f"per target token: original {per_window * 1e3:.1f} ms, site "
        f"{site_epoch / site_tokens * 1e3:.2f} ms; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
