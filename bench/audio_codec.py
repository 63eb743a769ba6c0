"""The audio way's codec alone: codebook size × decoder on the oracle (issue 9).

    .venv/bin/python bench/audio_codec.py --chorales 30 --sizes 256 512 --clips 8

No model: the Bach chorale recordings of `bench/audio_quality.py` (its cached render, or a
fresh one), split as that bench splits them; a codebook of each size fitted on the training
recordings as `AudioWay.prepare` fits it; the same 8 clips of 10 s of held-out recordings
encoded and decoded by each decoder. Per (size, decoder): CPU seconds per second of audio,
spectral convergence against the decoded codes' magnitudes, log-spectral distance to the
recording, and the music measures (flatness, stable pitch, note rate, pitch-class distance).
Also prints the note-rate range over every whole 10 s window of the held-out recordings.
Writes var/audio_codec/report.json.
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
OUT = ROOT / "var" / "audio_codec"
os.environ.setdefault("MEDIA_ROOT", str(ROOT / "var" / "audio_quality" / "media"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import setup_django  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chorales", type=int, default=30)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--refine", type=int, nargs="+", default=[8, 32])
    args = ap.parse_args()
    setup_django()
    from musiclib.audio import dsp
    from musiclib.metrics import audio as am
    from musiclib.ways.audio_frames import WAY, media_root, parse_tune_text

    cache = ROOT / "var" / "audio_quality" / f"corpus_{args.chorales}.json"
    texts = json.loads(cache.read_text()) if cache.is_file() else []
    if not texts or not all((media_root() / parse_tune_text(t)["audio"]).is_file() for t in texts):
        items = WAY.import_items(source=f"music21:bach-audio#limit={args.chorales}", upload=None)
        texts = [it.text for it in items if not it.failure]
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(texts))
    paths = [media_root() / parse_tune_text(t)["audio"] for t in texts]
    # The split of `AudioWay.prepare` with val_fraction 0.2, as bench/audio_quality.py uses.
    order = np.random.default_rng(args.seed).permutation(len(paths))
    n_val = min(max(int(round(len(paths) * 0.2)), 1), len(paths) - 1)
    held = [paths[i] for i in sorted(order[:n_val].tolist())]
    train = [paths[i] for i in sorted(order[n_val:].tolist())]
    pick = np.random.default_rng(7)
    corpus = []
    for i in range(args.clips):
        path = held[i % len(held)]
        offset = float(pick.uniform(0, max(dsp.probe(path).seconds - args.seconds, 0)))
        corpus.append(dsp.load_clip(path, seconds=args.seconds, offset=offset))
    measured_corpus = [am.clip_metrics(y) for y in corpus]
    reference = am.summarise(measured_corpus, reference=None)["pitch_classes"]

    windows = []
    for path in held:
        y = dsp.load_clip(path)
        n = int(args.seconds * dsp.SAMPLE_RATE)
        windows += [am.clip_metrics(y[s : s + n])["note_rate"] for s in range(0, y.size - n + 1, n)]

    decoders = [("griffinlim", 0), ("phase", 0), *(("phase", r) for r in args.refine)]
    rows = []
    for size in args.sizes:
        t0 = time.perf_counter()
        book = dsp.fit_codebook(
            lambda: (dsp.audio_spectra(dsp.iter_samples(p)) for p in train),
            k=size,
            seed=args.seed,
            sample_size=20000,
        )
        fit_s = time.perf_counter() - t0
        ids = [dsp.encode_samples(y, book) for y in corpus]
        for decoder, refine in decoders:
            cpu = time.process_time()
            ys = [
                dsp.decode_tokens(t, book, seed=i, decoder=decoder, refine=refine)
                for i, t in enumerate(ids)
            ]
            cpu = time.process_time() - cpu
            audio_s = sum(y.size for y in ys) / dsp.SAMPLE_RATE
            clips = [am.clip_metrics(y) for y in ys]
            summary = am.summarise(clips, reference=reference)
            row = {
                "codebook": size,
                "fit_s": fit_s,
                "decoder": decoder if decoder == "griffinlim" else f"phase+{refine}",
                "cpu_per_audio_s": cpu / audio_s,
                "sc": float(
                    np.mean(
                        [
                            am.spectral_convergence(y, book.magnitudes[t].T)
                            for y, t in zip(ys, ids, strict=True)
                        ]
                    )
                ),
                "lsd_db": float(
                    np.mean(
                        [am.log_spectral_distance(y, x) for y, x in zip(ys, corpus, strict=True)]
                    )
                ),
                "summary": summary,
            }
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "summary"}), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    report = {"args": vars(args), "rows": rows, "held_out_window_rates": windows}
    (OUT / "report.json").write_text(json.dumps(report, indent=1, default=float))
    gl = {r["codebook"]: r["cpu_per_audio_s"] for r in rows if r["decoder"] == "griffinlim"}
    print(
        "\n| codebook | decoder | CPU s per audio s | × Griffin-Lim's CPU | spectral convergence "
        "| log-spectral distance (dB) | flatness (mean) | stable pitch (mean) | notes/s "
        "| pitch-class distance |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["summary"]
        print(
            f"| {r['codebook']} | {r['decoder']} | {r['cpu_per_audio_s']:.4f} "
            f"| {r['cpu_per_audio_s'] / gl[r['codebook']]:.2f}× "
            f"| {r['sc']:.3f} | {r['lsd_db']:.2f} "
            f"| {s['flatness']['mean']:.4f} | {s['stable_fraction']['mean']:.2f} "
            f"| {s['note_rate']['min']:.1f}–{s['note_rate']['max']:.1f} | {s['pc_distance']:.3f} |"
        )
    fits = ", ".join(
        f"{k}: {v:.0f} s" for k, v in {r["codebook"]: r["fit_s"] for r in rows}.items()
    )
    print(f"\ncodebook fits: {fits}")
    print(
        f"note rate over every whole {args.seconds:g} s window of the {len(held)} held-out "
        f"recordings ({len(windows)} windows): {min(windows):.1f}–{max(windows):.1f}"
    )


if __name__ == "__main__":
    main()
