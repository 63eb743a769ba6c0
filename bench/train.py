"""Training speed: the site's trainer against plain `model.fit`, per character.

    .venv/bin/python bench/train.py [--preset full] [--corpus nottingham|oneills]
        [--device cpu|gpu] [--rounds 4] [--original-windows 1280]
        [--precision mixed_float16|mixed_bfloat16] [--equal-time SECONDS]
        [--site-mode tunes|carried|packed[,...]] [--equal-modes A,B] [--packed-rows N]
        [--threads N] [--config JSON]

Same text (the Nottingham ABC database when present, else O'Neill's 1850), same model
sizes (two LSTM(256) for `full`), same batch size; every character is a training target:
- original: the write-up's `model.fit` — one-hot inputs, a 100-character window for every
  character, the LSTM stack predicting the one character after it (100 steps per target);
  timed on `--original-windows` windows and extrapolated to the epoch (`--original-windows
  0` skips it);
- plain sequence fit of the same model: the site's own Keras model (`build_model`: token
  ids through an embedding, the LSTM stack with its dropout between layers, dense logits)
  fitted by `model.fit` on 100-character windows of token ids, every position a target —
  the same model and the same work per character as the site's trainer;
- plain sequence fit, one-hot: the write-up's layers (one-hot 100-character windows, the
  LSTM stack without dropout, dense logits), every position a target, `model.fit` on numpy
  arrays: less work per character than the site's model when that has dropout (`full`
  has dropout 0.2 between the LSTMs, whose random masks these layers do not draw);
- site: one epoch of `musiclib.ml.trainer`: token ids through an embedding, whole tunes
  in the batches `data.batches` makes for `trainer.train` (the whole corpus sorted by
  length and cut; making them is timed too; the padding share is printed), each through
  the compiled step `trainer.Steps.train_batch` that `trainer.train` calls.

The two are interleaved: the epoch's windows and the epoch's batches are each split into
`--rounds` groups, and each round times each plain fit over one group of windows and then
the site's step over one group of batches, so all see the same load from the rest of the
machine; the ratios are of the summed times. Each is timed after a warm-up that builds its
step function. `--rounds 0` skips this comparison.

`--precision P` also trains a float32 model and a model in precision P from the same
weights on the same batches for one epoch and prints both losses and speeds.
`--equal-time S` trains whole tunes ("tunes") and 100-step windows with the state carried
("carried") from the same initial weights, interleaved batch by batch, each for S seconds
of its own training time, and prints the validation loss (whole held-out tunes) each
reached at the same times.
`--site-mode carried` times the site's trainer in "carried" mode in the speed comparison
(the same batches, 100 steps at a time with the state carried) instead of "tunes";
`--site-mode packed` in "packed" mode (whole tunes end to end in full rows, the state set
to zero where each starts); `--site-mode tunes,packed` times both in the same rounds and
prints their ratio too; `keras` is "tunes" through the Keras model's own LSTM loop (what
a GPU runs, there with cuDNN) instead of the trainer's (`trainer._lstm_sequence`).
`--equal-modes tunes,packed` compares those two at equal time;
`--packed-rows N` gives packed N rows a batch there (40 makes as many batches an epoch as
"tunes" makes of Nottingham at batch size 64).
`--config JSON` sets the run's options over the preset's for every model of the run (a
look back: `'{"look_back_heads": 4, "look_back_dim": 32, "dropout": 0.4}'`).
`--threads N` runs TensorFlow's operations on N threads (intra- and inter-op) for both; the
default is TensorFlow's own (a thread per core).
`--device gpu` trains on the first GPU and exits 2 when there is none; `--device cpu`
hides every GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from _common import nottingham_abc_texts, oneills_texts, ratio, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="full")
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default=None)
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--original-windows", type=int, default=64 * 20)
    parser.add_argument("--precision", default="")
    parser.add_argument("--equal-time", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument(
        "--site-mode", default="tunes",
        help="the site trainer's sequence modes in the speed comparison (tunes, carried, "
        "packed; keras: tunes through Keras's own LSTM loop), comma-separated",
    )  # fmt: skip
    parser.add_argument(
        "--equal-modes", default="tunes,carried",
        help="the two sequence modes --equal-time compares, comma-separated",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: its own)")
    parser.add_argument(
        "--packed-rows", type=int, default=0,
        help="rows a batch for packed in --equal-time (0: the preset's batch size)",
    )  # fmt: skip
    parser.add_argument(
        "--config", type=json.loads, default={},
        help="the run's options over the preset's, as JSON (e.g. a look back: "
        '\'{"look_back_heads": 4, "look_back_dim": 32}\')',
    )  # fmt: skip
    args = parser.parse_args()
    overrides = dict(args.config)
    if not set(args.site_mode.split(",")) <= {"tunes", "keras", "carried", "packed"}:
        parser.error("--site-mode takes tunes, keras, carried or packed, comma-separated")
    setup_django()
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from musiclib.ml.model import configure_tensorflow

    if args.device == "cpu":
        tf.config.set_visible_devices([], "GPU")
        device = "CPU"
    else:
        gpus = configure_tensorflow()
        if not gpus:
            print("no GPU: TensorFlow finds no GPU device on this machine", file=sys.stderr)
            sys.exit(2)
        from musiclib.ml.model import device_name

        device = device_name()

    from musiclib.ways import get_way

    way = get_way("abc")
    texts = None if args.corpus == "oneills" else nottingham_abc_texts()
    name = "Nottingham" if texts else "O'Neill's 1850"
    texts = texts or oneills_texts()
    config = way.resolve_config(preset=args.preset, overrides={**overrides, "val_fraction": 0.0})
    prepared = way.prepare(texts=texts, config=config, seed=0)
    vocab = len(prepared.vocab)
    tokens = int(sum(len(p) - 1 for p in prepared.train))
    print(
        f"corpus: {name}, {len(prepared.train)} tunes, {tokens:,} target characters, vocab "
        f"{vocab}; model {config['units']}, look back {config['look_back_heads']} heads, "
        f"dropout {config['dropout']}, batch {config['batch_size']}; device {device}; "
        f"TensorFlow threads {args.threads or 'its own'}"
    )
    if args.original_windows:
        original(prepared, config, vocab, tokens, args.original_windows)
    if args.rounds:
        speed(prepared, config, vocab, args.rounds, modes=tuple(args.site_mode.split(",")))
    if args.precision:
        precision(prepared, config, vocab, args.precision)
    if args.equal_time:
        modes = tuple(args.equal_modes.split(","))
        if len(modes) != 2:
            parser.error("--equal-modes takes two modes, comma-separated")
        equal_time(way, texts, args.preset, args.equal_time, modes, args.packed_rows, overrides)


def _plain_model(config: dict, vocab: int, window: int, *, last_sequence: bool = True):
    import keras

    model = keras.Sequential([keras.Input((window, vocab))])
    for i, units in enumerate(config["units"]):
        last = i == len(config["units"]) - 1
        model.add(keras.layers.LSTM(units, return_sequences=last_sequence or not last))
    model.add(keras.layers.Dense(vocab))
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def original(prepared, config: dict, vocab: int, tokens: int, windows: int) -> None:
    """The write-up's many-to-one `model.fit`: one target per 100-step window."""
    batch, window = int(config["batch_size"]), int(config["seq_length"])
    stream = np.concatenate(prepared.train)
    onehot = np.eye(vocab, dtype=np.float32)
    orig = _plain_model(config, vocab, window, last_sequence=False)
    count = windows + batch * 3
    idx = np.random.default_rng(0).choice(len(stream) - window - 1, count, replace=False)
    xo = onehot[np.stack([stream[i : i + window] for i in idx])]
    yo = stream[idx + window]
    orig.fit(xo[: batch * 3], yo[: batch * 3], batch_size=batch, epochs=1, verbose=0)
    t0 = time.perf_counter()
    orig.fit(xo[batch * 3 :], yo[batch * 3 :], batch_size=batch, epochs=1, verbose=0)
    rate = windows / (time.perf_counter() - t0)
    print(
        f"original model.fit (one target per window): {rate:,.0f} chars/s -> "
        f"{tokens / rate:,.0f} s per epoch (extrapolated from {windows:,} windows)"
    )
    return rate


def speed(prepared, config: dict, vocab: int, rounds: int, *, modes: tuple[str, ...]) -> None:
    """Plain sequence fit against the site's trainer in each of `modes` ("tunes"; "carried":
    the same batches trained 100 steps at a time with the state carried; "packed": whole
    tunes end to end in full rows), interleaved in `rounds` rounds."""
    from musiclib.ml import data, trainer
    from musiclib.ml.model import build_model

    batch, window = int(config["batch_size"]), int(config["seq_length"])
    onehot = np.eye(vocab, dtype=np.float32)
    stream = np.concatenate(prepared.train)
    n = (len(stream) - 1) // window
    xw = np.stack([stream[s * window : (s + 1) * window] for s in range(n)])
    yw = np.stack([stream[s * window + 1 : (s + 1) * window + 1] for s in range(n)])
    # The same model as the site's, fitted plainly; and the write-up's one-hot layers.
    plains = {
        "plain sequence model.fit, the same model": (
            build_model(config=config, vocab_size=vocab, seed=0),
            lambda ids: ids,
        ),
        "plain sequence model.fit, one-hot, no dropout": (
            _plain_model(config, vocab, window),
            lambda ids: onehot[ids],
        ),
    }
    for model, inputs in plains.values():
        model.fit(inputs(xw[: batch * 2]), yw[: batch * 2], batch_size=batch, epochs=1, verbose=0)

    sites = {}
    for mode in modes:
        model = build_model(config=config, vocab_size=vocab, seed=0)
        carried = window if mode == "carried" else 0
        # "keras": "tunes" through the Keras model's own loop, as on a GPU (without cuDNN)
        steps = trainer.Steps(
            model, carried=bool(carried), packed=mode == "packed", scan=mode != "keras"
        )
        # The epoch's batches as `trainer.train` makes them (the whole corpus, sorted and
        # cut, or packed); making them is timed and counted in the site's time.
        t0 = time.perf_counter()
        site_config = {**config, "sequence_mode": "tunes" if mode == "keras" else mode}
        batches = list(data.batches(prepared.train, config=site_config, seed=0, shuffle=True))
        seconds = time.perf_counter() - t0
        steps.train_batch(*batches[0], window=carried)  # builds its step function
        groups = np.array_split(np.arange(len(batches)), rounds)
        sites[mode] = {"steps": steps, "batches": batches, "window": carried,
                       "groups": groups, "s": seconds, "chars": 0}  # fmt: skip

    plain_s = dict.fromkeys(plains, 0.0)
    plain_chars = 0
    for r, windows in enumerate(np.array_split(np.arange(n), rounds)):
        y = yw[windows]
        for name, (model, inputs) in plains.items():
            x = inputs(xw[windows])
            t0 = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            plain_s[name] += time.perf_counter() - t0
        plain_chars += y.size
        for site in sites.values():
            group = site["groups"][r]
            t0 = time.perf_counter()
            for i in group:
                site["steps"].train_batch(*site["batches"][i], window=site["window"])
            site["s"] += time.perf_counter() - t0
            site["chars"] += int(sum(site["batches"][i][2].sum() for i in group))
    plain_rates = {name: plain_chars / seconds for name, seconds in plain_s.items()}
    for name, seconds in plain_s.items():
        print(
            f"{name}: {plain_rates[name]:,.0f} chars/s ({seconds:.1f} s for {plain_chars:,} "
            f"chars in {rounds} rounds)"
        )
    for mode, site in sites.items():
        batches, rate = site["batches"], site["chars"] / site["s"]
        rows = [len(b[0]) for b in batches]
        widths = [b[0].shape[1] for b in batches]
        print(
            f"site trainer ({mode}): {rate:,.0f} chars/s ({site['s']:.1f} s for "
            f"{site['chars']:,} chars in {len(batches)} batches of {np.mean(rows):.1f} rows on "
            f"average, widths {min(widths)}..{max(widths)}; "
            f"padding {data.padding_share(batches):.1%}); step traced "
            f"{site['steps'].traces['train']} time(s)"
        )
        for name, plain_rate in plain_rates.items():
            print(
                ratio(f"site trainer ({mode}) against {name}, per character", 1 / rate,
                      1 / plain_rate)
                + f" ({rate / plain_rate:.2f})"
            )  # fmt: skip
    if len(sites) > 1:
        first, *others = sites
        for mode in others:
            a, b = (sites[m]["chars"] / sites[m]["s"] for m in (mode, first))
            print(ratio(f"site trainer: {mode} against {first}", 1 / a, 1 / b) + f" ({a / b:.2f})")


def precision(prepared, config: dict, vocab: int, name: str) -> None:
    """One epoch in float32 and in `name` from the same initial weights and batches."""
    from musiclib.ml import data, trainer
    from musiclib.ml.model import build_model

    results = {}
    for prec in ("float32", name):
        model = build_model(config=config, vocab_size=vocab, seed=0, precision=prec)
        steps = trainer.Steps(model)
        batches = list(data.batches(prepared.train, config=config, seed=0, shuffle=True))
        steps.train_batch(*batches[0])  # traces the step (both precisions train this batch)
        total = tokens = 0.0
        t0 = time.perf_counter()
        for x, y, w in batches[1:]:
            loss, n = steps.train_batch(x, y, w)
            total, tokens = total + loss * n, tokens + n
        seconds = time.perf_counter() - t0
        results[prec] = (total / tokens, tokens / seconds)
        print(
            f"precision {prec}: mean training loss over one epoch {total / tokens:.4f} nats, "
            f"{tokens / seconds:,.0f} chars/s"
        )
    (l32, r32), (lp, rp) = results["float32"], results[name]
    print(
        f"{name} against float32: loss {lp - l32:+.4f} nats, "
        + ratio("speed", 1 / rp, 1 / r32)
        + f" ({rp / r32:.2f})"
    )


def equal_time(
    way,
    texts: list[str],
    preset: str,
    budget_s: float,
    modes: tuple[str, str],
    packed_rows: int = 0,
    overrides: dict | None = None,
) -> None:
    """Validation loss reached at equal training time by two sequence modes (whole tunes
    against carried windows unless told); "packed" with `packed_rows` rows a batch when
    given, else the preset's batch size."""
    from musiclib.ml import data, trainer
    from musiclib.ml.model import build_model

    runs = {}
    for mode in modes:
        config = way.resolve_config(
            preset=preset,
            overrides={
                **(overrides or {}),
                "sequence_mode": mode,
                "val_fraction": 0.1,
                **({"batch_size": packed_rows} if mode == "packed" and packed_rows else {}),
            },
        )
        prepared = way.prepare(texts=texts, config=config, seed=0)
        model = build_model(config=config, vocab_size=len(prepared.vocab), seed=0)
        steps = trainer.Steps(model, carried=mode == "carried", packed=mode == "packed")
        runs[mode] = {
            "config": config,
            "prepared": prepared,
            "steps": steps,
            "window": int(config["seq_length"]) if mode == "carried" else 0,
            "epoch": 0,
            "batches": iter(()),
            "seconds": 0.0,
        }
    print(
        f"equal time: {budget_s:.0f} s of training each, interleaved batch by batch; "
        f"validation: {len(runs[modes[0]]['prepared'].val)} held-out whole tunes from a zero "
        "state, mean loss per character (nats)"
    )

    def val(run):
        return trainer.validation_loss(
            run["steps"], run["prepared"].val, config=run["config"], seed=0
        )

    marks = [budget_s * k / 6 for k in range(1, 7)]
    table = {mode: [] for mode in runs}
    for run in runs.values():  # trace the steps outside the budget
        run["steps"].train_batch(
            *next(data.batches(run["prepared"].train, config=run["config"], seed=99)),
            window=run["window"],
        )
    for mark in marks:
        for mode, run in runs.items():
            while run["seconds"] < mark:
                batch = next(run["batches"], None)
                if batch is None:
                    run["epoch"] += 1
                    run["batches"] = data.batches(
                        run["prepared"].train, config=run["config"], seed=run["epoch"]
                    )
                    continue
                t0 = time.perf_counter()
                run["steps"].train_batch(*batch, window=run["window"])
                run["seconds"] += time.perf_counter() - t0
            table[mode].append((run["seconds"], val(run), run["epoch"]))
        (t, v, e), (tc, vc, ec) = (table[mode][-1] for mode in modes)
        print(
            f"  {mark:6.0f} s: {modes[0]} {v:.4f} (epoch {e}, {t:.0f} s), {modes[1]} {vc:.4f} "
            f"(epoch {ec}, {tc:.0f} s)"
        )


if __name__ == "__main__":
    main()
