"""Could a run's tunes pass for the corpus? The blind listener, form and the tightened
measures, on tunes bench/quality.py sampled, beside the held-out human tunes.

    # the samples bench/quality.py wrote (its job files, <checkpoint>-<sampler>-<seed>[-tT]):
    Q=var/quality/nottingham-full-judge-best
    .venv/bin/python bench/judge.py --corpus nottingham \\
        --samples "grammar T0.9=$Q-grammar-1-t0.9.job.out.json" \\
                  "plain T0.9=$Q-incremental-1-t0.9.job.out.json"
    # or sample here from a checkpoint (the site's default sampler: grammar, T 0.9):
    .venv/bin/python bench/judge.py --corpus oneills --checkpoint var/quality/X-best.keras \\
        --sampler grammar --n 240 --temperature 0.9

Human side: the held-out tunes of the corpus's validation split (bench/quality.py's split:
the way's `prepare` with the preset's val_fraction and seed 0). When that split holds fewer
tunes than a sample, `--human-extra K` adds K training tunes to the human side of the judge
(and only of the judge: phrase idiom and copies are always measured on held-out tunes, the
training tunes being in the index they are compared with); the report says so.

For each set it prints:
- judge: cross-validated accuracy of a logistic regression telling the set from human
  tunes, equal numbers a side, 95 % Wilson interval, and the human-vs-human control (two
  halves of the human tunes, as large as the test where they allow);
- the giveaways: the features that tell the machine apart most, in words;
- validity and novelty as bench/quality.py measures them (parse, abc2midi, the site's bars
  and 4-note idiom, likely copies);
- the tightened measures: bars counting section ends (`musiclib.metrics.form`) and phrase
  idiom over 4 to 8 notes (`musiclib.metrics.phrases`), with the share for each length;
- form: parts, bars per part, parts of 8 or 16 bars, repeats, endings, repeated bars and
  phrases, distinct figures, the final note, each beside the human figure;
- the second listener: the same test on features the listener never reads (3-note
  contours, rhythm pairs, downbeats: `judge.second_describe`), with its own control. A
  critic (bench/critic_fit.py) reads both listeners' features; `--critic-features` there
  fits one on one listener's alone, to see what the other hears of its choice.
Writes everything to --out (default var/quality/judge-<corpus>-<tag>.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import ROOT, judge_human_sides, setup_django

FORM_ROWS = (
    "parts",
    "bars_per_part",
    "parts_8_16",
    "has_repeat",
    "endings",
    "repeated_bars",
    "repeated_phrases",
    "distinct_patterns",
    "ends_on_tonic",
    "ends_on_fifth",
)


def measure_set(texts, *, way, quality_judge, phrases, with_validity: bool) -> dict:
    from musiclib.metrics import judge as jd
    from musiclib.metrics.form import pooled_bar_rate, shape_from_abc

    finished = [way.finish(t, title=f"Tune {k + 1}") for k, t in enumerate(texts)]
    shapes = [shape_from_abc(abc=t) for t in finished]
    out: dict = {"n": len(texts)}
    if with_validity:
        out.update(quality_judge.measure(texts, way=way))
    out["bars_sections"] = pooled_bar_rate(shapes)
    shares = [phrases.shares(notes=s.notes) for s in shapes]
    idioms = [phrases.idiom(notes=s.notes) for s in shapes]
    idioms = [v for v in idioms if not np.isnan(v)]
    out["phrase_idiom"] = float(np.median(idioms)) if idioms else None
    out["phrase_idiom_by_length"] = {
        n: float(np.nanmedian([s[n] for s in shares])) if shares else None for n in shares[0]
    }
    out["features"] = [jd.describe(s) for s in shapes]
    out["second"] = [jd.second_describe(s) for s in shapes]
    return out


# The form measures that describe the tune's plan rather than its notes: how many parts,
# how long, repeated or not (what a drawn shape decides).
SHAPE = ("parts", "bars_per_part", "parts_8_16", "bars", "has_repeat", "repeats", "endings")


def print_groups(rows, human_features, *, seed: int, report: dict) -> None:
    """The listener's accuracy on each group of features alone and on all but that group,
    and without the shape measures: which kinds of difference it hears."""
    from musiclib.metrics import judge as jd

    groups = sorted({f.group for f in jd.FEATURES})
    subsets = [("all features", jd.NAMES)]
    for g in groups:
        subsets.append((f"{g} alone", [f.name for f in jd.FEATURES if f.group == g]))
        subsets.append((f"all but {g}", [f.name for f in jd.FEATURES if f.group != g]))
    no_shape = [n for n in jd.NAMES if n not in SHAPE]
    subsets.append(("all but the shape (" + ", ".join(SHAPE) + ")", no_shape))
    subsets.append((
        "all but the shape and the ending",
        [n for n in no_shape if jd.BY_NAME[n].group != "ending"],
    ))  # fmt: skip
    print("\nthe listener by feature group (accuracy; " + " | ".join(r[0] for r in rows) + ")\n")
    for name, names in subsets:
        cells = []
        for label, m, _ in rows:
            acc = jd.two_sample(human_features, m["features"], seed=seed, names=names)["accuracy"]
            report[label].setdefault("groups", {})[name] = acc
            cells.append(f"{acc:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="oneills")
    parser.add_argument("--preset", default="quick", help="whose val_fraction splits the corpus")
    parser.add_argument("--samples", nargs="*", default=[], help="LABEL=PATH of .out.json files")
    parser.add_argument("--checkpoint", help="sample from this .keras checkpoint here")
    parser.add_argument("--sampler", choices=["grammar", "incremental"], default="grammar")
    parser.add_argument("--n", type=int, default=240)
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--max-tokens", type=int, default=1500)
    parser.add_argument("--human-extra", type=int, default=0)
    parser.add_argument("--no-validity", action="store_true", help="skip parse/abc2midi/copies")
    parser.add_argument(
        "--groups", action="store_true",
        help="also the listener's accuracy by each group of features alone and without it",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", default="")
    parser.add_argument("--out")
    args = parser.parse_args()
    setup_django()
    sys.path.insert(0, str(ROOT / "bench"))
    import quality

    from musiclib.metrics import judge as jd
    from musiclib.metrics.notes import notes_from_abc
    from musiclib.metrics.phrases import PhraseIndex
    from musiclib.ways import get_way

    t0 = time.perf_counter()
    way = get_way("abc")
    config = way.resolve_config(preset=args.preset, overrides={})
    train, human, picked = judge_human_sides(
        corpus=args.corpus, preset=args.preset, human_extra=args.human_extra, seed=args.seed
    )
    print(f"corpus {args.corpus}: {len(train)} training tunes, {len(human)} held out")
    qj = None if args.no_validity else quality.Judge(train)
    phrases = PhraseIndex(notes_from_abc(abc=t) for t in train)

    sets: list[tuple[str, list[str]]] = []
    for spec in args.samples:
        label, _, path = spec.partition("=")
        data = json.loads(Path(path).read_text())
        sets.append((label, data["texts"] if isinstance(data, dict) else data))
    if args.checkpoint:
        from musiclib.ml import sampler, trainer

        net_path = Path(args.checkpoint).with_suffix(".npz")
        if not net_path.exists():
            sampler.save_net(
                sampler.net_from_keras(trainer.load_model(args.checkpoint)), str(net_path)
            )
        ns = argparse.Namespace(
            window=int(config["seq_length"]),
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            reuse_samples=True,
        )
        vocab = json.loads(Path(args.checkpoint.replace("-best.keras", "-vocab.json")).read_text())
        out = quality.sample_texts(
            net_path=net_path, vocab=vocab, primes=[""] * args.n, sampler_name=args.sampler,
            args=ns, seed0=1,
        )  # fmt: skip
        sets.append((f"{args.sampler} T{args.temperature:g}", out[0]))

    human_m = measure_set(human, way=way, quality_judge=qj, phrases=phrases,
                          with_validity=qj is not None)  # fmt: skip
    human_features = list(human_m["features"])
    human_second = list(human_m["second"])
    extra_note = ""
    if picked:
        extra = measure_set([train[i] for i in picked], way=way, quality_judge=None,
                            phrases=phrases, with_validity=False)  # fmt: skip
        human_features += extra["features"]
        human_second += extra["second"]
        extra_note = f" (+{len(picked)} training tunes on the judge's human side)"
    report: dict = {
        "args": vars(args),
        "human": {k: v for k, v in human_m.items() if k not in ("features", "second")},
    }
    rows = [("human held-out", human_m, None)]
    for label, tunes in sets:
        m = measure_set(tunes, way=way, quality_judge=qj, phrases=phrases,
                        with_validity=qj is not None)  # fmt: skip
        verdict = jd.judge(machine=m["features"], human=human_features, seed=args.seed)
        rows.append((label, m, verdict))
        second = jd.second_judge(machine=m["second"], human=human_second, seed=args.seed)
        report[label] = {
            "second_listener": second,
            **{k: v for k, v in m.items() if k not in ("features", "second")},
            "judge": {k: v for k, v in verdict.items() if k != "features"},
            "compared": verdict["features"],
        }

    print(f"\nhuman side: {len(human)} held-out tunes{extra_note}\n")
    print("| tunes | n | judge (95 % interval) | human vs human | parse | abc2midi | bars (site) "
          "| bars, section ends | idiom 4 notes | phrase idiom 4–8 | copies |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, m, v in rows:
        if v is None:
            judge_cell = control_cell = "–"
        else:
            judge_cell = (
                f"**{v['accuracy']:.3f}** ({v['low']:.2f}–{v['high']:.2f}), {v['n']} a side"
            )
            c = v["control"]
            control_cell = (
                f"{c['accuracy']:.3f} ({c['low']:.2f}–{c['high']:.2f}), {c['n']} a side"
                if c["accuracy"] is not None else "–"
            )  # fmt: skip
        print(
            f"| {label} | {m['n']} | {judge_cell} | {control_cell} | {pct(m.get('parse'))} | "
            f"{pct(m.get('abc2midi'))} | {pct(m.get('bars'))} | {pct(m['bars_sections'])} | "
            f"{m.get('idiom', float('nan')):.2f} | {m['phrase_idiom'] or float('nan'):.2f} "
            f"({', '.join(f'{n}: {s:.2f}' for n, s in m['phrase_idiom_by_length'].items())}) | "
            f"{pct(m.get('copies'))} |"
        )
    print(
        "\nform (mean share or median count; human | " + " | ".join(r[0] for r in rows[1:]) + ")\n"
    )
    hx = jd._matrix(human_m["features"], jd.NAMES)
    for name in FORM_ROWS:
        f = jd.BY_NAME[name]
        j = jd.NAMES.index(name)
        cells = [jd.fmt(jd.summary(hx[:, j], f.kind), f.kind)]
        for _, m, _ in rows[1:]:
            cells.append(
                jd.fmt(jd.summary(jd._matrix(m["features"], jd.NAMES)[:, j], f.kind), f.kind)
            )
        print(f"| {f.label} | " + " | ".join(cells) + " |")
    print(
        "\nthe second listener (contours, rhythm pairs, downbeats: features the listener "
        "never reads), with its human-vs-human control\n"
    )
    for label, _, _ in rows[1:]:
        v = report[label]["second_listener"]
        c = v["control"]
        print(
            f"| {label} | **{v['accuracy']:.3f}** ({v['low']:.2f}–{v['high']:.2f}), "
            f"{v['n']} a side | control {c['accuracy']:.3f}, {c['n']} a side |"
        )
    for label, _, v in rows[1:]:
        print(f"\n{label}: what gives it away")
        for sentence in v["giveaways"]:
            print(f"  - {sentence}")
    if args.groups:
        print_groups(rows[1:], human_features, seed=args.seed, report=report)
    out = (
        Path(args.out)
        if args.out
        else ROOT
        / "var"
        / "quality"
        / f"judge-{args.corpus}{'-' + args.tag if args.tag else ''}.json"
    )
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"\nwritten to {out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
