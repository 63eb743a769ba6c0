"""Musical quality of the ABC way: valid, idiomatic and new (issue 11), measured on every run.

    .venv/bin/python bench/quality.py --corpus oneills --preset quick
    .venv/bin/python bench/quality.py --corpus oneills --preset quick --vocabulary tokens
    .venv/bin/python bench/quality.py --corpus nottingham --preset full --minutes 25
    .venv/bin/python bench/quality.py --corpus nottingham --checkpoint var/quality/X-best.keras
    .venv/bin/python bench/quality.py --tables var/quality/*.json     # the tables again

Trains an ABC model (or loads one with --checkpoint) on the corpus's training split with the
site's own code (`ml.model.build_model`, `ml.trainer.train`), keeping the weights of the
epoch with the lowest validation loss ("best") besides those of the last epoch ("last").
Then, for each evaluated checkpoint, it samples N unprimed tunes (and --primed tunes primed
with the corpus's commonest M:/L:/K: headers, so that the set spreads over meters and keys)
and measures them, beside the held-out human tunes of the validation split:

- parse: music21 reads the tune and finds at least 8 notes (`render.abc_validity`);
- abc2midi: abc2midi writes MIDI and prints no error line;
- bars: share of the checked bars (first/last bar of each section aside) whose length
  matches the meter, over all tunes, by `render.abc_validity`; "bars*": the same check
  following meter changes (`bar_counts_with_meter_changes`: the site's check reads every
  bar against the tune's first meter, because music21 drops body field lines from its bars);
- idiom: median over tunes of the share of 4-note pitch patterns found in the training
  corpus (`CorpusIndex.idiom`);
- copies: share of tunes `is_likely_copy` flags against the training corpus, with a
  calibration computed on the training corpus (`musiclib.metrics.calibration`);
- chars/s and tokens/s: sampling speed (characters of ABC text, and model steps = tokens,
  END included, generated per second, all rows of the batch; the same for a character
  vocabulary but for END), timed in a child process without TensorFlow; for the grammar
  also "warm": a second batch in the same process, whose grammars share the mask cache (as
  a generation worker's later jobs).

--vocabulary tokens trains on the token-level vocabulary (`musiclib/ways/abc_tokens.py`)
instead of characters; the grammar is then `AbcTokenGrammar`.

Samplers: "incremental" (the site's sampler, state carried), "grammar" (the same with
`AbcWay.grammar` as the constraint), "windowed" (the original write-up's: every character
predicted from the last `seq_length` characters from a zero state; slow, so fewer tunes).
The Nottingham database is GPL data read in place from settings.NOTTINGHAM_DIR; without it
the Nottingham corpus is refused with a message saying so. Prints Markdown tables and writes
everything to a JSON file (--out, default var/quality/<tag>.json).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import ROOT, nottingham_abc_texts, oneills_texts, setup_django


# --- corpus and training --------------------------------------------------------------------
def load_texts(corpus: str) -> list[str]:
    if corpus == "oneills":
        return oneills_texts()
    texts = nottingham_abc_texts()
    if texts is None:
        from django.conf import settings

        sys.exit(
            f"skipped: the Nottingham ABC database is not at "
            f"{settings.NOTTINGHAM_DIR / 'ABC_cleaned'} (GPL data, never copied into the "
            "repository); use --corpus oneills"
        )
    return texts


class BestHooks:
    """Trainer hooks: record each epoch, save the weights with the lowest validation loss,
    and stop when the wall-clock budget is spent (the epoch under way is then dropped)."""

    def __init__(
        self,
        *,
        best_path: Path,
        last_path: Path,
        deadline: float | None,
        snapshots: dict[float, Path] | None = None,
    ) -> None:
        self.best_path, self.last_path = best_path, last_path
        self.deadline = deadline
        # {minutes: path}: the best weights so far once that much training time has passed,
        # so one long run also gives the model a shorter budget would have kept.
        self.snapshots = dict(snapshots or {})
        self.t0 = time.monotonic()
        self.snapshot_log: list[dict] = []
        self.best = math.inf
        self.best_epoch = 0
        self.history: list[dict] = []

    def epoch_end(self, *, epoch: int, logs: dict, model, seconds: float) -> None:
        val = logs.get("val_loss", logs.get("loss", math.inf))
        self.history.append({"epoch": epoch, "seconds": round(seconds, 1), **logs})
        print(
            f"  epoch {epoch}: loss {logs.get('loss', float('nan')):.4f} "
            f"val_loss {logs.get('val_loss', float('nan')):.4f} ({seconds:.0f} s)"
            + (f" lr {logs['learning_rate']:g}" if "learning_rate" in logs else ""),
            flush=True,
        )
        model.save(self.last_path)
        if val < self.best:
            self.best, self.best_epoch = val, epoch
            model.save(self.best_path)
        elapsed = (time.monotonic() - self.t0) / 60
        for minutes in sorted(m for m in self.snapshots if m <= elapsed):
            path = self.snapshots.pop(minutes)
            path.write_bytes(self.best_path.read_bytes())
            self.snapshot_log.append(
                {
                    "path": str(path),
                    "minutes": round(elapsed, 1),
                    "epochs": epoch,
                    "best_epoch": self.best_epoch,
                    "best_val_loss": self.best,
                }
            )
            print(f"  snapshot at {elapsed:.1f} min (best epoch {self.best_epoch}): {path.name}")

    def should_stop(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def heartbeat(self, *, epoch: int, fraction: float) -> None:
        pass


def train(args, way, prepared, config, tag: str) -> dict:
    from musiclib.ml import trainer
    from musiclib.ml.model import build_model

    out = ROOT / "var" / "quality"
    out.mkdir(parents=True, exist_ok=True)
    best_path, last_path = out / f"{tag}-best.keras", out / f"{tag}-last.keras"
    init_seed = args.seed if args.init_seed is None else args.init_seed
    if args.init_from:
        import keras

        keras.utils.set_random_seed(init_seed)
        model = trainer.load_model(args.init_from)
    else:
        model = build_model(config=config, vocab_size=len(prepared.vocab), seed=init_seed)
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else None
    snapshots = {m: out / f"{tag}-at{m:g}min.keras" for m in args.snapshot_minutes}
    hooks = BestHooks(
        best_path=best_path, last_path=last_path, deadline=deadline, snapshots=snapshots
    )
    t0 = time.monotonic()
    outcome = trainer.train(
        model=model,
        train_pieces=prepared.train,
        val_pieces=prepared.val,
        config=config,
        seed=init_seed,
        epochs=args.epochs,
        initial_epoch=0,
        hooks=hooks,
    )
    seconds = time.monotonic() - t0
    if not hooks.history:
        sys.exit("no epoch finished within the time budget: raise --minutes")
    # (when the budget cut an epoch short, "last" is the last whole epoch, saved by the hooks)
    (out / f"{tag}-vocab.json").write_text(json.dumps(prepared.vocab))
    print(
        f"trained {len(hooks.history)} epochs in {seconds / 60:.1f} min ({outcome}); "
        f"best val_loss {hooks.best:.4f} at epoch {hooks.best_epoch}"
    )
    return {
        "epochs": len(hooks.history),
        "minutes": round(seconds / 60, 1),
        "outcome": outcome,
        "best_epoch": hooks.best_epoch,
        "best_val_loss": hooks.best,
        "history": hooks.history,
        "snapshots": hooks.snapshot_log,
        "checkpoints": {"best": str(best_path), "last": str(last_path)},
    }


# --- measuring ---------------------------------------------------------------------------------
def bar_counts_with_meter_changes(tune: str) -> tuple[int, int]:
    """`render.abc._bar_counts` as its docstring describes it, on music21's flat token list.

    The site's check reads each bar's meter from `splitByMeasure()` bars, but music21 drops a
    field line between bars (`M:6/8` on its own line) from every bar's tokens, so a tune that
    changes meter is checked against its first meter throughout, and the field line does not
    start a new section. Here the tokens are walked in order: same bars, same sections (plus
    the new section at a body M:/L:/K: line), each bar checked against the meter in force at
    its end. Identical to `_bar_counts` on tunes without a meter change."""
    from music21 import abcFormat

    from musiclib.render.abc import _fraction, _is_section_mark, _token_length, first_tune

    handler = abcFormat.ABCFile().readstr(first_tune(tune))
    if not handler.tokens or not handler.definesMeasures():
        return 0, 0
    voices = handler.splitByVoice()
    parts = voices if len(voices) == 1 else [voices[0] + voice for voice in voices[1:]]
    good = checked = 0
    for part in parts:
        sections, current = [], []
        bar_length, length, notes = None, 0, False
        boundary, left, started = False, None, False
        for token in [*part.tokens, None]:  # None: the end, closing a last bar without "|"
            if isinstance(token, abcFormat.ABCMetadata):
                if token.isMeter():
                    meter = token.getTimeSignatureObject()
                    bar_length = _fraction(meter.barDuration.quarterLength) if meter else None
                if started and (token.isMeter() or token.isKey() or token.isDefaultNoteLength()):
                    boundary = boundary or not notes  # a field line between bars: a new part
            elif isinstance(token, abcFormat.ABCNote):
                started, notes = True, True
                length += _token_length(token)
            elif token is None or isinstance(token, abcFormat.ABCBar):
                started = True
                if not notes:
                    boundary = True
                else:
                    if current and (boundary or _is_section_mark(left)):
                        sections.append(current)
                        current = []
                    current.append((length, bar_length))
                    boundary = _is_section_mark(token)
                left, length, notes = token, 0, False
        if current:
            sections.append(current)
        for section in sections:
            for n, bar in section[1:-1]:
                if bar is not None:
                    checked += 1
                    good += n == bar
    return good, checked


class Judge:
    """The five measures for a set of tunes, against the training corpus."""

    def __init__(self, train_texts: list[str]) -> None:
        from musiclib.metrics.calibration import calibrate
        from musiclib.metrics.index import CorpusIndex
        from musiclib.metrics.notes import notes_from_abc

        t0 = time.perf_counter()
        tunes = {i: notes_from_abc(abc=t) for i, t in enumerate(train_texts)}
        tunes = {i: n for i, n in tunes.items() if len(n) >= 2}
        self.index = CorpusIndex()
        for i, notes in tunes.items():
            self.index.add(tune_id=i, notes=notes)
        self.index.build()
        self.calibration = calibrate(tunes=tunes, seed=0)
        print(
            f"corpus index and calibration over {len(tunes)} training tunes in "
            f"{time.perf_counter() - t0:.0f} s: likely copy = longest copy > "
            f"{self.calibration.copy_len_threshold:.0f} notes or 8-gram share > "
            f"{self.calibration.frac8_threshold:.2f} (flags "
            f"{self.calibration.flagged_fraction:.1%} of held-out training tunes)"
        )

    def measure(self, texts: list[str], *, way) -> dict:
        from musiclib.metrics.calibration import is_likely_copy
        from musiclib.metrics.notes import notes_from_abc

        rows = []
        for k, text in enumerate(texts):
            full = way.finish(text, title=f"Tune {k + 1}")
            v = way.validate(full)
            try:
                good2, bars2 = bar_counts_with_meter_changes(full) if v["parses"] else (0, 0)
            except Exception:  # music21's tokenizer raises many types on odd input
                good2, bars2 = 0, 0
            notes = notes_from_abc(abc=full)
            idiom, copy = float("nan"), False
            if len(notes) >= 4:
                idiom = self.index.idiom(notes=notes)["pitch"]
            if len(notes) >= 2:
                longest = self.index.longest_copy(notes=notes).length_notes
                frac8 = self.index.ngram_fractions(notes=notes, ns=(8,))[8]
                copy = is_likely_copy(copy_len=longest, frac8=frac8, calibration=self.calibration)
            meta = way.describe(text)
            rows.append(
                {
                    "parses": bool(v["parses"]),
                    "plays": bool(v["plays"]),
                    "good_bars": round((v["bar_accuracy"] or 0) * v["n_bars_checked"]),
                    "bars": v["n_bars_checked"],
                    "good_bars2": good2,
                    "bars2": bars2,
                    "idiom": idiom,
                    "copy": bool(copy),
                    "meter": meta.get("meter", ""),
                    "key": meta.get("key", ""),
                    "chars": len(text),
                    "errors": [m for m in v["messages"] if "error" in m.lower()][:3],
                }
            )
        n = max(len(rows), 1)
        bars = sum(r["bars"] for r in rows)
        bars2 = sum(r["bars2"] for r in rows)
        idioms = [r["idiom"] for r in rows if not math.isnan(r["idiom"])]
        return {
            "n": len(rows),
            "parse": sum(r["parses"] for r in rows) / n,
            "abc2midi": sum(r["plays"] for r in rows) / n,
            "bars": sum(r["good_bars"] for r in rows) / bars if bars else float("nan"),
            "bars_checked": bars,
            "bars_meter": sum(r["good_bars2"] for r in rows) / bars2 if bars2 else float("nan"),
            "idiom": float(np.median(idioms)) if idioms else float("nan"),
            "copies": sum(r["copy"] for r in rows) / n,
            "mean_chars": float(np.mean([r["chars"] for r in rows])) if rows else 0.0,
            "meters": dict(collections.Counter(r["meter"] for r in rows).most_common()),
            "keys": dict(collections.Counter(r["key"] for r in rows).most_common(12)),
            "errors": collections.Counter(
                e.split(":", 1)[-1].strip()[:60] for r in rows for e in r["errors"]
            ).most_common(8),
        }


# --- sampling ----------------------------------------------------------------------------------
def sample_worker(job_path: str) -> None:
    """Run in a child process without TensorFlow (its thread pools keep spinning after
    training and would steal the sampler's core, as bench/sampler.py notes): sample the
    job's tunes and write texts and timings next to the job file."""
    sys.path.insert(0, str(ROOT))
    from musiclib.ml import sampler
    from musiclib.ways.abc_text import WAY as way
    from musiclib.ways.base import END_ID

    job = json.loads(Path(job_path).read_text())
    net, vocab = sampler.load_net(job["net"]), job["vocab"]
    texts, seconds, chars, tokens, ended, stats = [], 0.0, 0, 0, 0, []
    groups = collections.defaultdict(list)
    for i, prime in enumerate(job["primes"]):
        groups[prime].append(job["seed0"] + i)
    for prime, seeds in groups.items():
        prime_ids = way.encode_prime(vocab=vocab, prime=prime)
        t0 = time.perf_counter()
        if job["sampler"] == "windowed":
            outs = sampler.sample_windowed(
                net,
                prime=prime_ids,
                seeds=seeds,
                window=job["window"],
                temperature=job["temperature"],
                max_tokens=job["max_tokens"],
                end_id=END_ID,
            )
        else:
            constraint = way.grammar(vocab=vocab) if job["sampler"] == "grammar" else None
            outs = sampler.sample(
                net,
                prime=prime_ids,
                seeds=seeds,
                temperature=job["temperature"],
                max_tokens=job["max_tokens"],
                end_id=END_ID,
                constraint=constraint,
            )
            if constraint is not None:
                stats.append(constraint.stats)
        seconds += time.perf_counter() - t0
        for ids in outs:
            tokens += len(ids)
            ended += bool(ids) and ids[-1] == END_ID
            text = way.decode(vocab=vocab, ids=ids)
            chars += len(text)
            texts.append(prime + text)
    warm_seconds = warm_chars = warm_tokens = None
    if job["sampler"] == "grammar":
        # Again with other seeds: the mask cache is shared by the process's grammars over this
        # vocabulary, as in a generation worker after its first jobs.
        warm_seconds, warm_chars, warm_tokens = 0.0, 0, 0
        for prime, seeds in groups.items():
            t0 = time.perf_counter()
            outs = sampler.sample(
                net,
                prime=way.encode_prime(vocab=vocab, prime=prime),
                seeds=[s + 100_000 for s in seeds],
                temperature=job["temperature"],
                max_tokens=job["max_tokens"],
                end_id=END_ID,
                constraint=way.grammar(vocab=vocab),
            )
            warm_seconds += time.perf_counter() - t0
            warm_tokens += sum(len(ids) for ids in outs)
            warm_chars += sum(len(way.decode(vocab=vocab, ids=ids)) for ids in outs)
    result = {
        "texts": texts,
        "seconds": seconds,
        "chars": chars,
        "tokens": tokens,
        "ended": ended / max(len(job["primes"]), 1),
        "grammar_stats": stats,
        "warm_seconds": warm_seconds,
        "warm_chars": warm_chars,
        "warm_tokens": warm_tokens,
    }
    Path(job_path).with_suffix(".out.json").write_text(json.dumps(result))


def sample_texts(*, net_path: Path, vocab, primes: list[str], sampler_name: str, args, seed0):
    """Texts (prime included), seconds, characters and tokens generated, share that reached
    END, warm characters/s and tokens/s (grammar only)."""
    job = {
        "net": str(net_path),
        "vocab": vocab,
        "primes": primes,
        "sampler": sampler_name,
        "seed0": seed0,
        "window": args.window,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
    }
    # A non-default temperature is part of the name, so its samples never replace T 1.0's.
    temp = "" if args.temperature == 1.0 else f"-t{args.temperature:g}"
    job_path = net_path.with_name(f"{net_path.stem}-{sampler_name}-{seed0}{temp}.job.json")
    out_path = job_path.with_suffix(".out.json")
    same = job_path.exists() and json.loads(job_path.read_text()) == job
    if args.reuse_samples and same and out_path.exists():
        print(f"    reusing the samples (and their timing) of {out_path.name}")
    else:
        job_path.write_text(json.dumps(job))
        subprocess.run([sys.executable, __file__, "--sample-worker", str(job_path)], check=True)
    out = json.loads(out_path.read_text())
    if out["grammar_stats"]:
        steps = sum(s["steps"] for s in out["grammar_stats"])
        built = sum(s["masks_built"] for s in out["grammar_stats"])
        falls = sum(s["fallbacks"] for s in out["grammar_stats"])
        print(f"    grammar: {steps:,} steps, {built:,} masks built, {falls} fallbacks")
    warm = warm_tokens = None
    if out.get("warm_seconds"):
        warm = out["warm_chars"] / out["warm_seconds"]
        warm_tokens = out.get("warm_tokens", out["warm_chars"]) / out["warm_seconds"]
    tokens = out.get("tokens", out["chars"])
    return out["texts"], out["seconds"], out["chars"], tokens, out["ended"], warm, warm_tokens


def common_headers(texts: list[str], k: int) -> list[str]:
    heads = collections.Counter("\n".join(t.split("\n")[:3]) + "\n" for t in texts)
    return [h for h, _ in heads.most_common(k)]


# --- reporting ---------------------------------------------------------------------------------
COLUMNS = ("parse", "abc2midi", "bars", "idiom", "copies")


def table(rows: list[tuple[str, dict]]) -> str:
    head = "| configuration | tunes | parse | abc2midi | bars | bars* | median idiom |"
    head += " likely copies | chars/s | tokens/s | ended |"
    head += "\n|---|---|---|---|---|---|---|---|---|---|---|"
    # chars/s: cold mask cache (a fresh process); "warm": a second batch in the same process
    lines = [head]
    for label, r in rows:
        speed = f"{r['chars_per_s']:,.0f}" if r.get("chars_per_s") else "–"
        if r.get("warm_chars_per_s"):
            speed += f" (warm {r['warm_chars_per_s']:,.0f})"
        tps = r.get("tokens_per_s", r.get("chars_per_s"))  # (older reports: chars only)
        tspeed = f"{tps:,.0f}" if tps else "–"
        if r.get("warm_tokens_per_s"):
            tspeed += f" (warm {r['warm_tokens_per_s']:,.0f})"
        ended = f"{r['ended']:.0%}" if r.get("ended") is not None else "–"
        lines.append(
            f"| {label} | {r['n']} | {r['parse']:.0%} | {r['abc2midi']:.0%} | "
            f"{r['bars']:.1%} | {r.get('bars_meter', float('nan')):.1%} | {r['idiom']:.2f} | "
            f"{r['copies']:.0%} | {speed} | {tspeed} | {ended} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="oneills")
    parser.add_argument("--preset", default="quick")
    parser.add_argument(
        "--sequence-mode", choices=["tunes", "carried", "packed", "windows"], default=None
    )
    parser.add_argument(
        "--vocabulary",
        choices=["chars", "tokens", "bars"],
        default=None,
        help="the ABC way's vocabulary (default: the preset's, chars)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="at most this many epochs")
    parser.add_argument("--minutes", type=float, default=0, help="training time budget")
    parser.add_argument(
        "--snapshot-minutes",
        type=float,
        nargs="*",
        default=[],
        help="also keep the best weights as they stood after these many minutes",
    )
    parser.add_argument(
        "--patience", type=int, default=0, help="early stopping: epochs without val gain"
    )
    parser.add_argument(
        "--lr-patience",
        type=int,
        default=None,
        help="cut the learning rate after this many epochs without val gain (the preset's)",
    )
    parser.add_argument("--lr-cuts", type=int, default=None, help="at most this many cuts")
    parser.add_argument(
        "--config",
        type=json.loads,
        default={},
        help="more hyperparameters over the preset's, as JSON: '{\"dropout\": 0.4}'",
    )
    parser.add_argument(
        "--transpose", action="store_true", help="augment with transpositions (ABC way)"
    )
    parser.add_argument("--checkpoint", help="evaluate this .keras model instead of training")
    parser.add_argument("--eval", default="best,last", help="checkpoints to evaluate")
    parser.add_argument("--n", type=int, default=100, help="unprimed tunes per sampler")
    parser.add_argument("--primed", type=int, default=40, help="header-primed tunes")
    parser.add_argument("--windowed-n", type=int, default=30, help="tunes for windowed")
    parser.add_argument("--max-tokens", type=int, default=1500)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--init-seed",
        type=int,
        help="the model's first weights and its batches' order (default: --seed); the "
        "validation split follows --seed alone, so models of other init seeds are judged "
        "against the same held-out tunes",
    )
    parser.add_argument(
        "--reuse-samples",
        action="store_true",
        help="measure the texts an earlier run sampled with the same job, when present",
    )
    parser.add_argument(
        "--init-from",
        help="train on from this .keras model's weights (the config's learning rate, a "
        "fresh history) instead of new ones",
    )
    parser.add_argument("--tag")
    parser.add_argument("--out")
    parser.add_argument("--sample-worker", help=argparse.SUPPRESS)
    parser.add_argument("--tables", nargs="+", help="print the tables of these JSON reports")
    args = parser.parse_args()
    if args.sample_worker:
        return sample_worker(args.sample_worker)
    if args.tables:
        for path in args.tables:
            report = json.loads(Path(path).read_text())
            print(f"\n{report['tag']}\n")
            t = report.get("training")
            if t:
                print(
                    f"trained {t['epochs']} epochs in {t['minutes']} min ({t['outcome']}), "
                    f"best val_loss {t['best_val_loss']:.4f} at epoch {t['best_epoch']}\n"
                )
            print(table(list(report["results"].items())))
        return
    setup_django()
    from musiclib.ml import sampler, trainer
    from musiclib.ways import get_way

    way = get_way("abc")
    overrides = dict(args.config)
    if args.sequence_mode:
        overrides["sequence_mode"] = args.sequence_mode
    if args.patience:
        overrides["early_stopping_patience"] = args.patience
    if args.lr_patience is not None:
        overrides["lr_plateau_patience"] = args.lr_patience
    if args.lr_cuts is not None:
        overrides["lr_plateau_cuts"] = args.lr_cuts
    if args.transpose:
        overrides["transpose"] = True
    if args.vocabulary:
        overrides["vocabulary"] = args.vocabulary
    config = way.resolve_config(preset=args.preset, overrides=overrides)
    args.window = int(config["seq_length"])
    tag = args.tag or f"{args.corpus}-{args.preset}-{config['sequence_mode']}"
    if not args.tag and config.get("vocabulary", "chars") != "chars":
        tag += f"-{config['vocabulary']}"
    texts = load_texts(args.corpus)
    prepared = way.prepare(texts=texts, config=config, seed=args.seed)
    vocab = prepared.vocab
    # Copies and idiom are judged against the corpus's own training tunes, never against
    # the transposed copies the augmentation added.
    plain = (
        way.prepare(texts=texts, config={**config, "transpose": False}, seed=args.seed)
        if config.get("transpose")
        else prepared
    )
    train_texts = [way.decode(vocab=plain.vocab, ids=ids) for ids in plain.train]
    human = [way.decode(vocab=plain.vocab, ids=ids) for ids in plain.val]
    print(
        f"corpus {args.corpus}: {len(prepared.train)} training tunes "
        f"({len(plain.train)} before augmentation), {len(human)} held out, "
        f"vocabulary {len(vocab)}; preset {args.preset} {config['units']}, sequence_mode "
        f"{config['sequence_mode']}, vocabulary {config.get('vocabulary', 'chars')}"
    )
    report: dict = {"args": vars(args), "config": config, "tag": tag, "results": {}}
    if args.checkpoint:
        checkpoints = {"given": args.checkpoint}
    else:
        report["training"] = train(args, way, prepared, config, tag)
        paths = report["training"]["checkpoints"]
        checkpoints = {name: paths[name] for name in args.eval.split(",") if name in paths}
        if report["training"]["best_epoch"] == report["training"]["epochs"]:
            checkpoints.pop("last", None)  # the same weights
            report["training"]["last_is_best"] = True

    out_path = Path(args.out) if args.out else ROOT / "var" / "quality" / f"{tag}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    judge = Judge(train_texts)
    rows: list[tuple[str, dict]] = []
    t0 = time.perf_counter()
    result = judge.measure(human[: max(args.n, 100)], way=way)
    print(f"human held-out tunes measured in {time.perf_counter() - t0:.0f} s", flush=True)
    report["results"]["human held-out"] = result
    rows.append(("human held-out (validation split)", result))
    primes_unprimed = [""] * args.n
    heads = common_headers(train_texts, 8)
    primes_primed = [heads[i % len(heads)] for i in range(args.primed)] if heads else []
    for name, path in checkpoints.items():
        net_path = Path(path).with_suffix(".npz")
        sampler.save_net(sampler.net_from_keras(trainer.load_model(path)), str(net_path))
        plan = [("incremental", primes_unprimed), ("grammar", primes_unprimed)]
        if args.primed:
            plan += [("incremental", primes_primed), ("grammar", primes_primed)]
        if args.windowed_n and name in ("best", "given"):
            plan.append(("windowed", primes_unprimed[: args.windowed_n]))
        for sampler_name, primes in plan:
            primed = bool(primes and primes[0])
            label = f"{name} · {sampler_name}" + (" · primed" if primed else "")
            t0 = time.perf_counter()
            out, seconds, chars, tokens, ended, warm, warm_tokens = sample_texts(
                net_path=net_path,
                vocab=vocab,
                primes=primes,
                sampler_name=sampler_name,
                args=args,
                seed0=1000 * primed + 1,
            )
            t1 = time.perf_counter()
            result = judge.measure(out, way=way)
            result.update(
                chars_per_s=chars / seconds if seconds else None,
                tokens_per_s=tokens / seconds if seconds else None,
                warm_chars_per_s=warm,
                warm_tokens_per_s=warm_tokens,
                sample_seconds=round(seconds, 2),
                ended=ended,
                samples=out[:5],
            )
            print(
                f"  {label}: sampled {tokens:,} tokens ({chars:,} chars) in {seconds:.1f} s, "
                f"measured in "
                f"{time.perf_counter() - t1:.0f} s",
                flush=True,
            )
            report["results"][label] = result
            rows.append((label, result))
            # After every row: a run stopped during a slow sampler keeps what it measured.
            out_path.write_text(json.dumps(report, indent=1, default=str))
    print()
    print(table(rows))
    print()
    for label, r in rows:
        print(f"{label}: meters {r['meters']}; keys {r['keys']}; errors {r['errors']}")
    out_path.write_text(json.dumps(report, indent=1, default=str))
    print(f"\nwritten to {out_path}")


if __name__ == "__main__":
    main()
