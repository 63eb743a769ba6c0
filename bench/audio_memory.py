"""Audio way: peak memory of corpus preparation against corpus length, and generation speed.

    .venv/bin/python bench/audio_memory.py                 # 1, 10 and 60 minutes
    .venv/bin/python bench/audio_memory.py --minutes 1 10  # a shorter run

Synthesises a corpus of sine-tone melodies (one FLAC file a minute, mono 22.05 kHz) and
prepares it in a fresh child process per (approach, length), reading the child's peak RSS
(ru_maxrss) when it ends:

- streamed (the audio way): `AudioWay.prepare`'s pipeline — soundfile blocks → STFT frames →
  a reservoir sample for k-means → codebook → tokens, recording by recording;
- load-everything (the original write-up's shape): every recording read whole, the STFT
  magnitudes of the whole corpus in one array, then the same codebook and tokens.

Then the seconds of compute per second of generated audio: the quick preset's network
(untrained: speed does not depend on the weights) samples 5 clips of 10 s with the site's
incremental sampler and Griffin-Lim decodes them; against it the original's windowed
sampler (every token from the last 100 tokens, from a zero state), timed on 2 s and scaled.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def synthesise(folder: Path, minutes: int) -> list[Path]:
    """`minutes` FLAC files of one minute each: random sine melodies with an octave."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(minutes)
    sr = 22050
    paths = []
    for i in range(minutes):
        path = folder / f"m{i:03d}.flac"
        if not path.exists():
            n = int(0.25 * sr)
            t = np.arange(n) / sr
            env = np.minimum(1.0, np.minimum(np.arange(n), n - np.arange(n)) / 220)
            notes = 60 + np.cumsum(rng.integers(-2, 3, size=240)) % 24
            y = np.concatenate(
                [
                    env * (0.4 * np.sin(2 * np.pi * f * t) + 0.1 * np.sin(4 * np.pi * f * t))
                    for f in 440.0 * 2 ** ((notes - 69) / 12)
                ]
            )
            sf.write(path, y.astype(np.float32), sr)
        paths.append(path)
    return paths


def child(approach: str, folder: str, k: int) -> None:
    from musiclib.audio import dsp

    paths = sorted(Path(folder).glob("*.flac"))
    t0 = time.perf_counter()
    if approach == "streamed":
        book = dsp.fit_codebook(
            lambda: (dsp.audio_frames(dsp.iter_samples(p)) for p in paths), k=k, seed=0
        )
        tokens = [dsp.encode_file(p, book).astype(np.int32) for p in paths]
    else:
        import soundfile as sf

        audio = [sf.read(str(p), dtype="float32")[0] for p in paths]  # everything in memory
        mags = np.concatenate([np.concatenate(list(dsp.audio_frames([y]))) for y in audio])
        rng = np.random.default_rng(0)
        sample = dsp.features(mags[rng.choice(len(mags), min(20000, len(mags)), replace=False)])
        centroids = dsp.kmeans(sample, k=k, seed=0)
        labels = dsp.nearest(dsp.features(mags), centroids)
        tokens = [labels]
    seconds = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = int(sum(len(t) for t in tokens))
    print(json.dumps({"peak_mib": peak_kib / 1024, "seconds": seconds, "tokens": n}))


def measure(approach: str, folder: Path, k: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", approach, "--folder", str(folder), "--k", str(k)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def generation_speed() -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from musiclib.audio import dsp
    from musiclib.ml import model as ml_model
    from musiclib.ml import sampler
    from musiclib.ways.audio_frames import WAY

    config = WAY.resolve_config(preset="quick", overrides=None)
    k = config["codebook_size"]
    net = sampler.net_from_keras(ml_model.build_model(config=config, vocab_size=k + 3, seed=0))
    rng = np.random.default_rng(0)
    book = dsp.Codebook(
        centroids=rng.random((k, dsp.FEAT_BINS), dtype=np.float32),
        magnitudes=rng.random((k, dsp.BINS), dtype=np.float32),
        counts=np.ones(k, dtype=np.int64),
    )
    clips, seconds = 5, 10.0
    n = int(round(seconds * dsp.FRAME_RATE))
    sampler.sample(net, prime=[1], seeds=[0], max_tokens=8)  # warm up
    t0 = time.perf_counter()
    outs = sampler.sample(net, prime=[1], seeds=list(range(clips)), max_tokens=n, end_id=-1)
    sample_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for o in outs:
        dsp.decode_tokens(np.clip(np.asarray(o) - 3, 0, k - 1), book, seed=0)
    decode_s = time.perf_counter() - t0
    short = int(round(2.0 * dsp.FRAME_RATE))
    t0 = time.perf_counter()
    sampler.sample_windowed(net, prime=[1], seeds=list(range(clips)), max_tokens=short, end_id=-1)
    windowed_s = (time.perf_counter() - t0) * n / short
    audio = clips * seconds
    return {
        "sample_s": sample_s,
        "decode_s": decode_s,
        "per_audio_second": (sample_s + decode_s) / audio,
        "windowed_per_audio_second": (windowed_s + decode_s) / audio,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=int, nargs="+", default=[1, 10, 60])
    ap.add_argument("--k", type=int, default=256)
    ap.add_argument("--child")
    ap.add_argument("--folder")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.folder, args.k)
        return
    base = Path(tempfile.gettempdir()) / "audio_memory_bench"
    rows = []
    for minutes in args.minutes:
        folder = base / f"{minutes}min"
        synthesise(folder, minutes)
        streamed = measure("streamed", folder, args.k)
        loaded = measure("load-everything", folder, args.k)
        rows.append({"minutes": minutes, "streamed": streamed, "load_everything": loaded})
        print(json.dumps(rows[-1]), flush=True)
    print("\n| corpus | streamed peak RSS | load-everything peak RSS | ratio | streamed time |")
    print("|---|---|---|---|---|")
    for r in rows:
        s, b = r["streamed"], r["load_everything"]
        ratio = f"{b['peak_mib'] / s['peak_mib']:.1f}×" if "peak_mib" in b else b.get("error")
        print(
            f"| {r['minutes']} min | {s['peak_mib']:.0f} MiB | "
            f"{b.get('peak_mib', float('nan')):.0f} MiB | {ratio} | {s['seconds']:.0f} s |"
        )
    speed = generation_speed()
    print(
        f"\ngeneration: {speed['per_audio_second']:.3f} s of compute per second of audio "
        f"(incremental sampler {speed['sample_s']:.2f} s + Griffin-Lim {speed['decode_s']:.2f} s "
        f"for 5×10 s); the original's windowed sampler: "
        f"{speed['windowed_per_audio_second']:.3f} s per second of audio, "
        f"{speed['windowed_per_audio_second'] / speed['per_audio_second']:.1f}× slower"
    )


if __name__ == "__main__":
    main()
