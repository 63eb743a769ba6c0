"""Is the audio way's output music rather than noise? (issue 9)

    .venv/bin/python bench/audio_quality.py --chorales 30 --epochs 40 --temperature 1.0 --clips 8
    .venv/bin/python bench/audio_quality.py --chorales 30 --epochs 40 --no-baseline --units 256

Renders Bach chorale melodies from music21's corpus with FluidSynth (the `music21:bach-audio`
import, into var/audio_quality/media), trains the audio way's quick model with the site's
own code (`AudioWay.prepare`, `ml.model`, `ml.trainer`), samples N unprimed clips of 10 s
as the site does (the way's grammar, a new phrase after each END) and measures sets of N
clips with `musiclib.metrics.audio`, generated and oracle clips once per decoder
(Griffin-Lim, phase, phase+--refine) with codec figures beside them:

- generated: the model's clips, decoded with the run's codebook;
- corpus: 10 s clips of held-out (validation) recordings;
- oracle: the same corpus clips through encode + decode alone (the representation's ceiling);
- control: the same clips' token runs (a code and its repeats) shuffled, then decoded: real
  codes and durations without a model's order (no-model control);
- raw FFT: the original write-up's approach (`bench/audio_baseline.py`), trained on the
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
    ap.add_argument("--no-restart", action="store_true", help="sample as before: no END")
    ap.add_argument("--refine", type=int, default=8, help="Griffin-Lim iterations after phase")
    ap.add_argument("--trim-db", type=float, default=None, help="override the preset's trim_db")
    ap.add_argument("--decoder", choices=("phase", "griffinlim"), default=None)
    ap.add_argument("--units", type=int, default=None, help="LSTM units instead of the preset's")
    args = ap.parse_args()
    setup_django()
    from musiclib.audio import dsp
    from musiclib.metrics import audio as am
    from musiclib.ml import model as ml_model
    from musiclib.ml import sampler, trainer
    from musiclib.ways.audio_frames import WAY, media_root, parse_tune_text
    from musiclib.ways.base import END_ID, START_ID

    t0 = time.perf_counter()
    # Rendering costs ~1.5 s of CPU a chorale: reuse the last render of as many chorales
    # while every file it names is still there (they are named by their samples' hash).
    cache = OUT / f"corpus_{args.chorales}.json"
    texts = json.loads(cache.read_text()) if cache.is_file() else []
    if not texts or not all((media_root() / parse_tune_text(t)["audio"]).is_file() for t in texts):
        items = WAY.import_items(source=f"music21:bach-audio#limit={args.chorales}", upload=None)
        texts = [it.text for it in items if not it.failure]
        OUT.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(texts))
    print(f"{len(texts)} recordings ready in {time.perf_counter() - t0:.0f}s", flush=True)
    overrides = {"val_fraction": 0.2}
    if args.trim_db is not None:
        overrides["trim_db"] = args.trim_db
    if args.decoder is not None:
        overrides["decoder"] = args.decoder
    if args.units is not None:
        overrides["units"] = [args.units]
    config = WAY.resolve_config(preset="quick", overrides=overrides)
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
    # As the site samples (generator.services.pieces): the way's grammar (audio tokens, END
    # except right after START) and a new phrase after each END, unless --no-restart.
    outs = sampler.sample(
        net,
        prime=[START_ID],
        seeds=seeds,
        temperature=args.temperature,
        max_tokens=n_tokens,
        constraint=None if args.no_restart else WAY.grammar(vocab=prepared.vocab),
        restart_id=None if args.no_restart else START_ID,
    )
    sample_s = time.perf_counter() - t0
    gen_ids = [np.asarray([t - 3 for t in o if t >= 3]) for o in outs]
    phrases = [1 + sum(t == END_ID for t in o[:-1]) for o in outs]
    longest = []  # frames of each clip's longest run of one code (a held sound)
    for ids in gen_ids:
        cuts = np.flatnonzero(np.diff(ids)) + 1
        longest.append(max(len(r) for r in np.split(ids, cuts)) if ids.size else 0)

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
    corpus_ids = [dsp.encode_samples(clip, book) for clip in corpus]
    control_ids = [shuffled_runs(ids, pick) for ids in corpus_ids]

    # Every decoder on the same tokens: the generated clips and the oracle (corpus clips →
    # encode → decode). Codec quality: spectral convergence against the magnitudes decoded
    # from, log-spectral distance to the original recording (oracle only).
    decoders = {"griffinlim": ("griffinlim", 0), "phase": ("phase", 0)}
    decoders[f"phase+{args.refine}"] = ("phase", args.refine)
    default = f"phase+{args.refine}" if config["decoder"] == "phase" else "griffinlim"
    sets: dict[str, list[np.ndarray]] = {"corpus": corpus}
    codec: dict[str, dict] = {}
    for name, (decoder, refine) in decoders.items():
        for kind, runs in (("generated", gen_ids), ("oracle", corpus_ids)):
            wall, cpu = time.perf_counter(), time.process_time()
            ys = [
                dsp.decode_tokens(ids, book, seed=s, decoder=decoder, refine=refine)
                for ids, s in zip(runs, seeds, strict=True)
            ]
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            audio_s = sum(y.size for y in ys) / dsp.SAMPLE_RATE
            sets[f"{kind} {name}"] = ys
            entry = codec.setdefault(name, {})
            entry[f"{kind}_cpu_per_audio_s"] = cpu / audio_s
            entry[f"{kind}_wall_per_audio_s"] = wall / audio_s
            entry[f"{kind}_sc"] = [
                am.spectral_convergence(y, book.magnitudes[ids].T)
                for y, ids in zip(ys, runs, strict=True)
            ]
            if kind == "oracle":
                entry["oracle_lsd_db"] = [
                    am.log_spectral_distance(y, x) for y, x in zip(ys, corpus, strict=True)
                ]
    control_decoder = decoders[default]
    sets["control"] = [
        dsp.decode_tokens(ids, book, seed=i, decoder=control_decoder[0], refine=control_decoder[1])
        for i, ids in enumerate(control_ids)
    ]
    if not args.no_baseline:
        t0 = time.perf_counter()
        clips = [dsp.load_clip(p, seconds=args.baseline_seconds / 4) for p in train_paths[:4]]
        sets["raw FFT"] = train_and_sample_baseline(clips, args)
        print(f"raw-FFT baseline in {time.perf_counter() - t0:.0f}s", flush=True)
    t0 = time.perf_counter()
    measured = {name: [am.clip_metrics(y) for y in ys] for name, ys in sets.items()}
    measure_s = time.perf_counter() - t0
    reference = am.summarise(measured["corpus"], reference=None)["pitch_classes"]
    summary = {name: am.summarise(m, reference=reference) for name, m in measured.items()}
    rates = [c["note_rate"] for c in measured["corpus"]]
    lo, hi = min(rates), max(rates)

    def in_range(rate: float) -> bool:
        # At the precision shown (0.1 notes/s): a decoded clip is a few samples shorter
        # than its original, so 20 notes in it are 2.004 a second against the corpus's 2.0.
        return round(lo, 1) <= round(rate, 1) <= round(hi, 1)

    report = {
        "args": vars(args),
        "config": config,
        "stats": prepared.stats,
        "history": hooks.history,
        "seconds": {
            "prepare": prep_s,
            "train": train_s,
            "sample": sample_s,
            "measure": measure_s,
            "sample_per_audio_second": sample_s / (args.clips * args.seconds),
        },
        "default_decoder": default,
        "codec": codec,
        "summary": summary,
        "clips": measured,
        "phrases": phrases,
        "longest_hold_frames": longest,
        "generated_tokens": [[int(t) for t in o] for o in outs],
        "corpus_note_rate_range": [lo, hi],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report.json").write_text(json.dumps(report, indent=1, default=float))
    best = min(h["val_loss"] for h in hooks.history if "val_loss" in h)
    print(
        f"\n{prepared.stats['recordings_train']} train / {prepared.stats['recordings_val']} "
        f"held out, {prepared.stats['tokens_train']} training tokens, "
        f"{prepared.stats['frames_trimmed']} edge frames trimmed; {args.epochs} epochs in "
        f"{train_s:.0f}s, val loss {hooks.history[-1].get('val_loss', float('nan')):.3f} "
        f"(best {best:.3f}); default decoder {default}\n"
    )
    print(
        "| set | clips | noise/silent | flatness (mean, max) | stable pitch (mean, min) "
        "| notes/s (min–max) | in corpus range | pitch-class distance |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        f, sp, nr = s.get("flatness", {}), s.get("stable_fraction", {}), s.get("note_rate", {})
        inside = sum(in_range(c["note_rate"]) for c in measured[name])
        print(
            f"| {name} | {s['n']} | {s['noise']}/{s['silent']} "
            f"| {f.get('mean', float('nan')):.4f}, {f.get('max', float('nan')):.4f} "
            f"| {sp.get('mean', 0):.2f}, {sp.get('min', 0):.2f} "
            f"| {nr.get('min', 0):.2f}–{nr.get('max', 0):.2f} | {inside}/{s['n']} "
            f"| {s['pc_distance'] if s['pc_distance'] is None else round(s['pc_distance'], 3)} |"
        )
    print(
        "\n| decoder | CPU s per audio s (generated, oracle) | × Griffin-Lim's CPU "
        "| spectral convergence (generated, oracle) | log-spectral distance, oracle (dB) |"
    )
    print("|---|---|---|---|---|")
    gl = codec["griffinlim"]
    for name, c in codec.items():
        ratio = (c["generated_cpu_per_audio_s"] + c["oracle_cpu_per_audio_s"]) / (
            gl["generated_cpu_per_audio_s"] + gl["oracle_cpu_per_audio_s"]
        )
        print(
            f"| {name} | {c['generated_cpu_per_audio_s']:.4f}, {c['oracle_cpu_per_audio_s']:.4f} "
            f"| {ratio:.3f}× | {np.mean(c['generated_sc']):.3f}, {np.mean(c['oracle_sc']):.3f} "
            f"| {np.mean(c['oracle_lsd_db']):.2f} |"
        )
    corpus_hold = max(
        max(len(r) for r in np.split(ids, np.flatnonzero(np.diff(ids)) + 1)) for ids in corpus_ids
    )
    print(
        f"\ngenerated clips ({default}), corpus note-rate range {lo:.2f}–{hi:.2f}, "
        f"corpus clips' longest hold {corpus_hold / dsp.FRAME_RATE:.1f} s:"
    )
    print("| clip | phrases | longest hold (s) | flatness | stable pitch | notes/s | in range |")
    print("|---|---|---|---|---|---|---|")
    for i, c in enumerate(measured[f"generated {default}"]):
        ok = "yes" if in_range(c["note_rate"]) else "no"
        print(
            f"| {i + 1} | {phrases[i]} | {longest[i] / dsp.FRAME_RATE:.1f} "
            f"| {c['flatness']:.4f} | {c['stable_fraction']:.2f} "
            f"| {c['note_rate']:.1f} | {ok} |"
        )
    print(
        f"\nsampling {sample_s:.2f}s for {args.clips}×{args.seconds:g}s "
        f"({report['seconds']['sample_per_audio_second']:.4f} s per audio s); "
        f"training {train_s:.0f}s; measuring {measure_s:.0f}s"
    )


def train_and_sample_baseline(clips, args):
    from audio_baseline import train_and_sample

    return train_and_sample(
        clips, seconds=args.seconds, count=args.clips, seed=args.seed, sr=22050, epochs=1
    )


if __name__ == "__main__":
    main()
