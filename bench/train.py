"""Training speed: seconds per epoch of the site's trainer against plain `model.fit`.

    .venv/bin/python bench/train.py [--preset full] [--corpus nottingham|oneills]

Same text (the Nottingham ABC database when present, else O'Neill's 1850), same model
sizes (two LSTM(256) for `full`), same batch size; an epoch makes every character of the
corpus a training target once:
- original: the write-up's `model.fit` — one-hot inputs, a 100-character window for every
  character, the LSTM stack predicting the one character after it (100 steps per target);
  timed on `--original-windows` windows and extrapolated to the epoch;
- plain sequence fit: one-hot 100-character windows, every position a target, `model.fit`
  on numpy arrays — the same work per character as the site's trainer;
- site: `musiclib.ml.trainer.train` for one epoch: token ids through an embedding, whole
  tunes batched by length, one `train_on_batch` per batch, every position a target.
Each is timed after a warm-up on a few batches (which builds its graph).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import nottingham_abc_texts, oneills_texts, ratio, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="full")
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default=None)
    parser.add_argument("--original-windows", type=int, default=64 * 20)
    args = parser.parse_args()
    setup_django()
    import keras
    import tensorflow as tf

    from musiclib.ml import data
    from musiclib.ml.model import build_model
    from musiclib.ways import get_way

    way = get_way("abc")
    texts = None if args.corpus == "oneills" else nottingham_abc_texts()
    name = "Nottingham" if texts else "O'Neill's 1850"
    texts = texts or oneills_texts()
    config = way.resolve_config(preset=args.preset, overrides={"val_fraction": 0.0})
    prepared = way.prepare(texts=texts, config=config, seed=0)
    vocab = len(prepared.vocab)
    tokens = int(sum(len(p) for p in prepared.train))
    print(
        f"corpus: {name}, {len(prepared.train)} tunes, {tokens:,} characters, vocab {vocab}; "
        f"model {config['units']}, batch {config['batch_size']}; device "
        f"{'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}"
    )
    batch, window = int(config["batch_size"]), int(config["seq_length"])

    stream = np.concatenate(prepared.train)
    onehot = np.eye(vocab, dtype=np.float32)

    # --- the original: many-to-one windows, one target per 100-step window ------------------
    orig = keras.Sequential([keras.Input((window, vocab))])
    for i, units in enumerate(config["units"]):
        last = i == len(config["units"]) - 1
        orig.add(keras.layers.LSTM(units, return_sequences=not last))
    orig.add(keras.layers.Dense(vocab))
    orig.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    count = args.original_windows + batch * 3
    idx = np.random.default_rng(0).choice(len(stream) - window - 1, count, replace=False)
    xo = onehot[np.stack([stream[i : i + window] for i in idx])]
    yo = stream[idx + window]
    orig.fit(xo[: batch * 3], yo[: batch * 3], batch_size=batch, epochs=1, verbose=0)
    t0 = time.perf_counter()
    orig.fit(xo[batch * 3 :], yo[batch * 3 :], batch_size=batch, epochs=1, verbose=0)
    orig_rate = args.original_windows / (time.perf_counter() - t0)
    print(
        f"original model.fit (one target per window): {orig_rate:,.0f} chars/s "
        f"-> {tokens / orig_rate:,.0f} s per epoch (extrapolated from "
        f"{args.original_windows:,} windows)"
    )

    # --- plain model.fit on one-hot windows, every position a target ----------------------
    n_windows = (len(stream) - 1) // window
    starts = np.arange(n_windows) * window
    x = np.stack([stream[s : s + window] for s in starts])
    y = np.stack([stream[s + 1 : s + window + 1] for s in starts])
    x_onehot = onehot[x]
    plain = keras.Sequential([keras.Input((window, vocab))])
    for units in config["units"]:
        plain.add(keras.layers.LSTM(units, return_sequences=True))
    plain.add(keras.layers.Dense(vocab))
    plain.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    warm = batch * 5
    plain.fit(x_onehot[:warm], y[:warm], batch_size=batch, epochs=1, verbose=0)
    t0 = time.perf_counter()
    plain.fit(x_onehot[warm:], y[warm:], batch_size=batch, epochs=1, verbose=0)
    plain_s = time.perf_counter() - t0
    plain_rate = (len(x) - warm) * window / plain_s
    print(
        f"plain sequence model.fit: {plain_rate:,.0f} chars/s ({plain_s:.1f} s for "
        f"{(len(x) - warm) * window:,} chars) -> {tokens / plain_rate:,.0f} s per epoch"
    )

    # --- the site's trainer ---------------------------------------------------------------
    from musiclib.ml import trainer

    model = build_model(config=config, vocab_size=vocab, seed=0)
    run_ds = list(data.batches(prepared.train, config=config, seed=0))
    rng = np.random.default_rng(0)
    warm = [prepared.train[i] for i in rng.choice(len(prepared.train), 5 * batch, replace=False)]

    def one_epoch(pieces):
        trainer.train(
            model=model,
            train_pieces=pieces,
            val_pieces=[],
            config=config,
            seed=0,
            epochs=1,
            initial_epoch=0,
            hooks=trainer.NullHooks(),
        )

    one_epoch(warm)  # builds the step function
    t0 = time.perf_counter()
    one_epoch(prepared.train)
    site_s = time.perf_counter() - t0
    site_chars = int(sum(w.sum() for _, _, w in run_ds))
    padded = int(sum(w.size for _, _, w in run_ds))
    site_rate = site_chars / site_s
    print(
        f"site trainer: {site_rate:,.0f} chars/s ({site_s:.1f} s for {site_chars:,} chars, "
        f"{padded / site_chars - 1:.0%} padding) -> {tokens / site_rate:,.0f} s per epoch"
    )
    print(ratio("speedup per epoch against the original model.fit", 1 / site_rate, 1 / orig_rate))
    print(
        ratio(
            "speedup per epoch against plain sequence model.fit (same work)",
            1 / site_rate,
            1 / plain_rate,
        )
    )


if __name__ == "__main__":
    main()
