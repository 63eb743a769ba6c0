"""Check the GPU training path end to end; exit 0 only when every step worked on a GPU.

    .venv/bin/python scripts/gpu_check.py [--precision mixed_float16] [--tunes 300]

1. finds a GPU (TensorFlow's list of physical devices) and turns on memory growth, as the
   `train` role does (musiclib.ml.model.configure_tensorflow);
2. trains the ABC way's `quick` model for one epoch on O'Neill's tunes (bundled with
   music21, nothing is downloaded) in length-sorted batches, in the given precision, and
   checks the variables live on the GPU and the step was traced once for every width;
3. saves a checkpoint, loads it back and checks the loaded model computes what the
   trained one does;
4. samples four tunes from the loaded model with the numpy sampler the site uses.

Exits 1 with the reason on the first step that fails ("no GPU: ..." on a machine without
one); nothing is written outside a temporary folder. `--cpu` runs steps 2-4 on the CPU to
check the script itself, and says no GPU was checked.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fail(reason: str) -> None:
    print(f"GPU check FAILED: {reason}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--precision", default="mixed_float16")
    parser.add_argument("--tunes", type=int, default=300)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="run the same steps on the CPU, to check the script itself (checks no GPU)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from musiclib.ml import data, sampler, trainer
    from musiclib.ml.model import (
        build_model,
        check_precision,
        configure_tensorflow,
        device_name,
        model_precision,
    )

    try:
        check_precision(args.precision)
    except ValueError as exc:
        fail(str(exc))

    # 1. the device
    gpus = configure_tensorflow()
    if args.cpu:
        import tensorflow as tf

        tf.config.set_visible_devices([], "GPU")
        gpus = []
        print("1. device: CPU (--cpu: the script's own check; no GPU is checked)")
    elif not gpus:
        fail(
            "no GPU: TensorFlow lists no GPU device on this machine (no NVIDIA driver or "
            "CUDA runtime it can load, or a TensorFlow build without CUDA)"
        )
    else:
        print(f"1. device: {device_name()} ({', '.join(gpus)}), memory growth on")

    # 2. train one epoch
    from music21 import corpus

    from musiclib.ways import get_way
    from musiclib.ways.abc_text import split_tunes

    way = get_way("abc")
    texts = []
    for path in sorted(corpus.getWork("oneills1850")):
        texts.extend(t for _, t in split_tunes(Path(path).read_text(encoding="latin-1")))
    config = way.resolve_config(preset="quick", overrides={"sample_every": 0})
    prepared = way.prepare(texts=texts[: args.tunes], config=config, seed=0)
    model = build_model(
        config=config, vocab_size=len(prepared.vocab), seed=0, precision=args.precision
    )
    if model_precision(model) != args.precision:
        fail(f"the model computes in {model_precision(model)}, not {args.precision}")
    places = {v.value.device for v in model.trainable_variables}
    if not args.cpu and not all("GPU" in place for place in places):
        fail(f"the model's variables are not on the GPU: {sorted(places)}")
    steps = trainer.Steps(model)
    batches = list(data.batches(prepared.train, config=config, seed=0))
    losses = []

    class Hooks(trainer.NullHooks):
        def epoch_end(self, *, epoch, logs, model, seconds):
            losses.append((logs["loss"], logs.get("val_loss"), seconds))

    t0 = time.perf_counter()
    trainer.train(
        model=model,
        train_pieces=prepared.train,
        val_pieces=prepared.val,
        config=config,
        seed=0,
        epochs=2,
        initial_epoch=0,
        hooks=Hooks(),
        steps=steps,
    )
    seconds = time.perf_counter() - t0
    widths = sorted({x.shape[1] for x, _, _ in batches})
    if steps.traces["train"] != 1:
        fail(f"the training step was traced {steps.traces['train']} times, not once")
    if not all(l == l and l < 10 for l, _, _ in losses):  # noqa: E741 (NaN check)
        fail(f"the loss is not finite: {losses}")
    print(
        f"2. trained 2 epochs of {len(prepared.train)} tunes in {seconds:.1f} s "
        f"({args.precision}): loss {losses[0][0]:.3f} -> {losses[-1][0]:.3f}, validation "
        f"{losses[-1][1]:.3f}; {len(batches)} batches in {len(widths)} widths "
        f"({widths[0]}..{widths[-1]}), padding {data.padding_share(batches):.1%}, "
        f"step traced {steps.traces['train']} time"
    )

    # 3. checkpoint round trip
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "check.keras")
        trainer.save_model(model, path)
        loaded = trainer.load_model(path)
        x = batches[0][0][:4]
        before = np.asarray(model(x, training=False))
        after = np.asarray(loaded(x, training=False))
        if not np.allclose(before, after, atol=1e-2 if "16" in args.precision else 1e-5):
            fail(f"the reloaded model differs: max {np.abs(before - after).max():.3g}")
        if model_precision(loaded) != args.precision:
            fail(f"the reloaded model computes in {model_precision(loaded)}")
        size = Path(path).stat().st_size
    print(f"3. checkpoint saved ({size / 1e6:.1f} MB) and reloaded: the same outputs")

    # 4. sample
    net = sampler.net_from_keras(loaded)
    prime = way.encode_prime(vocab=prepared.vocab, prime="")
    outs = sampler.sample(net, prime=prime, seeds=[1, 2, 3, 4], max_tokens=300)
    pieces = [way.decode(vocab=prepared.vocab, ids=ids) for ids in outs]
    if not any(p.strip() for p in pieces):
        fail("the sampler wrote four empty pieces")
    print(f"4. sampled 4 pieces ({sum(len(p) for p in pieces)} characters); the first:")
    print("   " + pieces[0][:200].replace("\n", "\n   "))
    print("CPU run passed (no GPU was checked)" if args.cpu else "GPU check passed")


if __name__ == "__main__":
    main()
