"""Is the audio way's output music rather than noise? (issue 9)

    .venv/bin/python bench/audio_quality.py --chorales 30 --epochs 12
    .venv/bin/python bench/audio_quality.py --chorales 30 --epochs 12 --no-baseline

Renders Bach chorale melodies from music21's corpus with FluidSynth (the `music21:bach-audio`
import, into var/audio_quality/media), trains the audio way's quick model with the site's
own code (`AudioWay.prepare`, `ml.model`, `ml.trainer`), samples N unprimed clips of 10 s
and measures five sets of N clips with `evaluation.metrics.audio`:

- generated: the model's clips, decoded with the run's codebook (Griffin-Lim);
- corpus: 10 s clips of held-out (validation) recordings;
- oracle: the same corpus clips through encode + decode alone (the representation's ceiling);
- control: the same clips' token runs (a code and its repeats) shuffled, then decoded: real
  codes and durations without a model's order (no-model control);
- raw FFT: the original write-up's approach (`generator.audio.baseline`), trained on the
  training recordings' first seconds for one epoch.

Prints a Markdown table and writes var/audio_quality/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "audio_quality"
os.environ.setdefault("MEDIA_ROOT", str(OUT / "media"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import setup_django  # noqa: E402


class Hooks:
    def __init__(self):
        self.history = []

    def epoch_end(self, *, epoch, logs, model, seconds):
        self.history.append({"epoch": epoch, **logs, "seconds": round(seconds, 2)})
        print(f"epoch {epoch}: {logs} {seconds:.1f}s", flush=True)

    def should_stop(self):
        return False

    def heartbeat(self, **kwargs):
        pass


def shuffled_runs(ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The no-model control: cut into runs of one repeated code, shuffle the runs' order."""
    cuts = np.flatnonzero(np.diff(ids)) + 1
    runs = np.split(ids, cuts)
    order = rng.permutation(len(runs))
    return np.concatenate([runs[i] for i in order])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chorales", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--clips", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--baseline-seconds", type=float, default=20.0)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    setup_django()
    from evaluation.metrics import audio as am
    from generator.audio import dsp
    from generator.ml import model as ml_model
    from generator.ml import sampler, trainer
    from generator.ways.audio_frames import WAY, media_root, parse_tune_text
    from generator.ways.base import START_ID

    t0 = time.perf_counter()
    items = WAY.import_items(source=f"music21:bach-audio#limit={args.chorales}", upload=None)
    texts = [it.text for it in items if not it.failure]
    print(f"{len(texts)} recordings ready in {time.perf_counter() - t0:.0f}s", flush=True)
    config = WAY.resolve_config(preset="quick", overrides={"val_fraction": 0.2})
    t0 = time.perf_counter()
    prepared = WAY.prepare(texts=texts, config=config, seed=args.seed)
    prep_s = time.perf_counter() - t0
    print(f"prepared in {prep_s:.0f}s: {prepared.stats}", flush=True)
    model = ml_model.build_model(config=config, vocab_size=len(prepared.vocab), seed=args.seed)
    hooks = Hooks()
    t0 = time.perf_counter()
    trainer.train(
        model=model,
        train_pieces=prepared.train,
        val_pieces=prepared.val,
        config=config,
        seed=args.seed,
        epochs=args.epochs,
        initial_epoch=0,
        hooks=hooks,
    )
    train_s = time.perf_counter() - t0
    book = WAY.codebook(prepared.state)
    net = sampler.net_from_keras(model)
    n_tokens = int(round(args.seconds * dsp.FRAME_RATE))
    seeds = [args.seed * 1000 + i for i in range(args.clips)]
    t0 = time.perf_counter()
    outs = sampler.sample(
        net, prime=[START_ID], seeds=seeds, temperature=args.temperature, max_tokens=n_tokens
    )
    sample_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    generated = [
        dsp.decode_tokens(np.asarray(o) - 3, book, seed=s) for o, s in zip(outs, seeds, strict=True)
    ]
    decode_s = time.perf_counter() - t0

    # Held-out recordings: the validation split of `prepare` (same seed, same permutation).
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(texts))
    n_val = prepared.stats["recordings_val"]
    held = [media_root() / parse_tune_text(texts[i])["audio"] for i in sorted(order[:n_val])]
    train_paths = [media_root() / parse_tune_text(texts[i])["audio"] for i in order[n_val:]]
    pick = np.random.default_rng(7)
    corpus = []
    for i in range(args.clips):
        path = held[i % len(held)]
        total = dsp.probe(path).seconds
        offset = float(pick.uniform(0, max(total - args.seconds, 0)))
        corpus.append(dsp.load_clip(path, seconds=args.seconds, offset=offset))
    oracle, control = [], []
    for i, clip in enumerate(corpus):
        ids = dsp.encode_samples(clip, book)
        oracle.append(dsp.decode_tokens(ids, book, seed=i))
        control.append(dsp.decode_tokens(shuffled_runs(ids, pick), book, seed=i))
    sets = {"corpus": corpus, "generated": generated, "oracle": oracle, "control": control}
    if not args.no_baseline:
        t0 = time.perf_counter()
        clips = [dsp.load_clip(p, seconds=args.baseline_seconds / 4) for p in train_paths[:4]]
        sets["raw FFT"] = train_and_sample_baseline(clips, args)
        print(f"raw-FFT baseline in {time.perf_counter() - t0:.0f}s", flush=True)
    measured = {name: [am.clip_metrics(y) for y in ys] for name, ys in sets.items()}
    reference = am.summarise(measured["corpus"], reference=None)["pitch_classes"]
    summary = {name: am.summarise(m, reference=reference) for name, m in measured.items()}
    # Note-rate range of the whole corpus, over every held-out recording, for the target.
    rates = [c["note_rate"] for c in measured["corpus"]]
    report = {
        "args": vars(args),
        "stats": prepared.stats,
        "history": hooks.history,
        "seconds": {
            "prepare": prep_s,
            "train": train_s,
            "sample": sample_s,
            "decode": decode_s,
            "compute_per_audio_second": (sample_s + decode_s) / (args.clips * args.seconds),
        },
        "summary": summary,
        "clips": measured,
        "corpus_note_rate_range": [min(rates), max(rates)],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report.json").write_text(json.dumps(report, indent=1, default=float))
    print()
    print(
        "| set | clips | noise/silent | flatness (mean, max) | stable pitch (mean, min) "
        "| notes/s (min–max) | pitch-class distance |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        f, sp, nr = s.get("flatness", {}), s.get("stable_fraction", {}), s.get("note_rate", {})
        print(
            f"| {name} | {s['n']} | {s['noise']}/{s['silent']} "
            f"| {f.get('mean', float('nan')):.4f}, {f.get('max', float('nan')):.4f} "
            f"| {sp.get('mean', 0):.2f}, {sp.get('min', 0):.2f} "
            f"| {nr.get('min', 0):.2f}–{nr.get('max', 0):.2f} "
            f"| {s['pc_distance'] if s['pc_distance'] is None else round(s['pc_distance'], 3)} |"
        )
    print(
        f"\ncompute per second of generated audio: "
        f"{report['seconds']['compute_per_audio_second']:.3f} s "
        f"(sampling {sample_s:.2f}s + Griffin-Lim {decode_s:.2f}s for "
        f"{args.clips}×{args.seconds:g}s); training {train_s:.0f}s"
    )


def train_and_sample_baseline(clips, args):
    from generator.audio.baseline import train_and_sample

    return train_and_sample(
        clips, seconds=args.seconds, count=args.clips, seed=args.seed, sr=22050, epochs=1
    )


if __name__ == "__main__":
    main()
