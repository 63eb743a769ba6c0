"""Where the line and rhythm of sampled tunes differ from people's: intervals by the bar line
they cross, figures that come back, sixteenths by meter, and where the model was surprised.

    N=var/quality/nottingham-full-s11
    .venv/bin/python bench/bar_lines.py --corpus nottingham --preset full \\
        --samples "default=$N-s12-end-t0.9.json" "shape=$N-s12-shape-t0.9.json" \\
        [--memory-vocab $N-vocab.json] [--net $N-best.npz --vocab $N-vocab.json]

Each interval between two successive notes (`metrics.form.bar_line_intervals`): into a bar
that repeats an earlier one from one that does not ("entry"), out of one ("exit"), across
any other bar line, and inside a bar; for each, the share of steps (a tone or semitone), of
leaps wider than a fifth, and the mean in semitones, for the held-out human tunes (the
corpus's validation split, as bench/judge.py's) and each set of samples (the JSON files
bench/form_samples.py writes, or any JSON with "texts").

Then, per tune, the share of 4-interval figures (5 notes) that come back: at the same pitch
as before, or only at another pitch (a sequence: the same figure moved up or down), the
two parts of the listener's "distinct 5-note figures" (`metrics.form.distinct_pattern_share`).

Then, over the bars after each tune's first, the share that repeat an earlier bar note for
note and the share that move one up or down the scale in the same rhythm, three notes or
more (`metrics.form.restatements`: a sequence), and how far those move.

Then, by meter (the four commonest of the human tunes), the share of tunes with a
sixteenth note and their mean number of different note lengths (the listener's rhythm
giveaways).

`--net NPZ --vocab V` (the model that sampled the sets, characters) adds what the model
itself thinks of each set, fed every tune from a zero state (`ml.memory`'s teacher-forced
pass, temperature 1, no grammar): its loss in nats per symbol, and the symbols it gives
under 1 % (per 1,000 symbols, and what they are: a note's letter, a length, a bar line
`|` or `:`, anything else). Sampled under the grammar at T 0.9 a tune is more likely than
people's; a rule that refuses what the model wanted leaves it writing what it finds
unlikely.

With `--net`, for each set sampled without a drawn shape (its JSON says `"form"` and no
`"shape"`, as bench/form_samples.py writes it; the human tunes under the grammar alone),
also where the grammar fought the model: the symbols at which the rules the set was
sampled under refused more than half the model's probability, per 1,000, and where they
fall (bars left in the part, 1 its last bar; parts closed before).

`--memory-vocab V` (the model's vocabulary, characters) adds, for the first note after a bar
line and for notes inside a bar, the same shares by the length of the piece's memory's
longest earlier match before that note (`fastloop.memory_trace`, the sampler's own
bookkeeping, in characters): a short match across a bar line is a bar line and a chord
symbol without the note before it.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from _common import setup_django

MATCHES = ((0, 0), (1, 4), (5, 8), (9, 16), (17, 64))
LETTERS = "CDEFGAB"


def _summary(intervals) -> str:
    a = np.asarray(intervals, dtype=float)
    if not len(a):
        return "–"
    steps = np.mean((a >= 1) & (a <= 2))
    return f"{steps:.2f} / {np.mean(a > 7):.2f} / {a.mean():.1f} ({len(a)})"


def _shapes(texts, way) -> list:
    """Each tune read once (`metrics.form.shape_from_abc`), for every table that reads it."""
    from musiclib.metrics.form import shape_from_abc

    return [shape_from_abc(abc=way.finish(text, title="T")) for text in texts]


def _places(shapes):
    from musiclib.metrics.form import INTERVAL_PLACES, bar_line_intervals

    out = {place: [] for place in INTERVAL_PLACES}
    for shape in shapes:
        for place, values in bar_line_intervals(shape).items():
            out[place] += values
    return out


def _figures(shapes) -> tuple[float, float]:
    """Mean per tune: the share of 4-interval windows whose intervals came earlier in the
    tune from the same first pitch, and only from other pitches."""
    same, moved = [], []
    for shape in shapes:
        pitch = [n.pitch for n in shape.notes if n.pitch >= 0]
        steps = np.diff(pitch)
        starts: dict[tuple, set] = {}
        s = m = n = 0
        for i in range(len(steps) - 3):
            key = tuple(steps[i : i + 4])
            n += 1
            if key in starts:
                if pitch[i] in starts[key]:
                    s += 1
                else:
                    m += 1
            starts.setdefault(key, set()).add(pitch[i])
        if n:
            same.append(s / n)
            moved.append(m / n)
    return float(np.mean(same)), float(np.mean(moved))


def _restated(shapes) -> tuple[float, float, dict[str, float]]:
    """Over all bars after a tune's first (pooled): the share that repeat an earlier bar
    note for note, the share that move one up or down the scale (`metrics.form.restatements`),
    and those moves by how far (share of the moves)."""
    from musiclib.metrics.form import restatements

    bars = same = 0
    moves: list[int] = []
    for shape in shapes:
        for i, s in restatements(shape)[1:]:
            bars += 1
            same += i >= 0 and s == 0
            if s:
                moves.append(abs(s))
    far = {"a step": (1,), "a third": (2,), "a fourth or fifth": (3, 4), "further": (5, 6, 7)}
    counts = {name: sum(m in k for m in moves) / max(len(moves), 1) for name, k in far.items()}
    return same / max(bars, 1), len(moves) / max(bars, 1), counts


def _rhythm(shapes) -> dict:
    """Per meter: (tunes, share with a sixteenth, mean different note lengths)."""
    from musiclib.metrics import judge

    by: dict = {}
    for shape in shapes:
        d = judge.describe(shape)
        by.setdefault(shape.meter, []).append((d["len_0"] > 0, d["n_lengths"]))
    out = {}
    for meter, rows in by.items():
        a = np.asarray(rows, dtype=float)
        out[meter] = (len(a), float(a[:, 0].mean()), float(np.nanmean(a[:, 1])))
    return out


def _encoded(texts, vocab, way) -> list[list[int]]:
    """The tunes as the model's ids (START first, `Way.encode_prime`), those with a symbol
    it never saw left out."""
    out = []
    for text in texts:
        try:
            out.append(way.encode_prime(vocab=vocab, prime=text))
        except ValueError:
            continue
    return out


def _surprise(texts, net, vocab, way) -> str:
    from musiclib.ml.sampler import probabilities
    from musiclib.ways.base import END_ID

    pieces = [np.array([*ids, END_ID], dtype=np.int64) for ids in _encoded(texts, vocab, way)]
    kinds = {"note": 0, "length": 0, "bar": 0, "other": 0}
    nll, low = [], []
    for piece, (p, _) in zip(pieces, probabilities(net, pieces, end_id=END_ID), strict=True):
        nll.append(float(-np.log(p).mean()))
        low.append(float((p < 0.01).mean()) * 1000)
        for i in np.flatnonzero(p < 0.01):
            c = vocab[piece[i + 1]]
            kind = "bar" if c in "|:" else "length" if c in "/0123456789" else "other"
            kinds["note" if c in "ABCDEFGabcdefg" else kind] += 1
    total = max(sum(kinds.values()), 1)
    shares = ", ".join(f"{k} {v / total:.2f}" for k, v in kinds.items())
    return f"{np.mean(nll):.3f} | {np.mean(low):.1f} | {shares} | {len(pieces)}"


def _fights(texts, net, vocab, way, *, form: bool) -> str:
    """Symbols where the grammar (`form`: the folk form's rules) refused more than half the
    model's probability (temperature 1), per 1,000, and the five commonest places."""
    from musiclib.ml.sampler import State, step
    from musiclib.ways.base import END_ID

    grammar = way.grammar(vocab=vocab, form=form)
    places: dict = {}
    fights = total = 0
    for ids in _encoded(texts, vocab, way):
        st, state, prev = grammar.state_after(""), State(net, 1), ids[0]
        for sym in [*ids[1:], END_ID]:
            logits = step(net, state, np.array([prev]))[0].astype(np.float64)
            p = np.exp(logits - logits.max())
            mask = grammar.mask_of(st)
            total += 1
            if mask is not None and p[~np.asarray(mask, dtype=bool)].sum() > 0.5 * p.sum():
                fights += 1
                left = grammar._part_max(st) - st.part_bars if form else 0
                where = (f"{min(left, 4)}{'+' if left >= 4 else ''} left, "
                         f"{st.parts} closed") if form else "-"  # fmt: skip
                places[where] = places.get(where, 0) + 1
            if sym == END_ID:
                break
            prev = sym
            st = grammar.fed(st, prev)
    top = sorted(places.items(), key=lambda kv: -kv[1])[:5]
    return f"{fights / max(total, 1) * 1000:.1f} | " + "; ".join(f"{k}: {v}" for k, v in top)


def _by_match(texts, vocab) -> tuple[dict, dict]:
    """Diatonic steps between successive note letters of the body (outside chord symbols),
    across a bar line and inside a bar, by the memory's longest match before the note."""
    from musiclib.ml import fastloop

    ids_of = {c: i for i, c in enumerate(vocab)}
    across = {m: [] for m in MATCHES}
    within = {m: [] for m in MATCHES}
    for text in texts:
        ids = np.array([ids_of.get(c, 0) for c in text], dtype=np.int64)
        if len(ids) < 3:
            continue
        best = np.zeros(len(ids) - 1, dtype=np.int64)
        fastloop.memory_trace(ids, 64, -1, best, np.zeros(len(ids) - 1))
        key = text.find("\nK:")
        i = text.find("\n", key + 1) if key >= 0 else 0
        quoted = after_bar = False
        before = None
        while 0 <= i < len(text):
            c = text[i]
            if c == '"':
                quoted = not quoted
            elif not quoted and c == "|":
                after_bar = True
            elif not quoted and c.upper() in LETTERS:
                step = LETTERS.index(c.upper()) + (35 if c.islower() else 28)
                j = i + 1
                while j < len(text) and text[j] in ",'":
                    step += 7 if text[j] == "'" else -7
                    j += 1
                if before is not None:
                    m = int(best[i - 1])
                    group = next(g for g in MATCHES if g[0] <= m <= g[1])
                    (across if after_bar else within)[group].append(abs(step - before))
                before, after_bar = step, False
            i += 1
    return across, within


def _match_row(label: str, groups: dict) -> str:
    cells = []
    for values in groups.values():
        a = np.asarray(values, dtype=float)
        cells.append(f"{np.mean(a == 1):.2f} / {np.mean(a >= 4):.2f} ({len(a)})" if len(a) else "–")
    return f"| {label} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=["nottingham", "oneills"], default="nottingham")
    parser.add_argument("--preset", default="full", help="whose val_fraction splits the corpus")
    parser.add_argument("--samples", nargs="+", required=True, metavar="LABEL=PATH")
    parser.add_argument("--memory-vocab", help="the model's vocabulary (characters)")
    parser.add_argument("--net", help="the model that sampled the sets (.npz)")
    parser.add_argument("--vocab", help="its vocabulary (characters), with --net")
    args = parser.parse_args()
    setup_django()
    from quality import load_texts

    from musiclib.ways.abc_text import WAY as way

    config = way.resolve_config(preset=args.preset, overrides={})
    prepared = way.prepare(texts=load_texts(args.corpus), config=config, seed=0)
    sets = {"human held-out": [way.decode(vocab=prepared.vocab, ids=i) for i in prepared.val]}
    options: dict[str, dict] = {}
    for item in args.samples:
        label, _, path = item.partition("=")
        report = json.loads(open(path).read())
        sets[label] = report["texts"]
        options[label] = report

    print("intervals: steps / leaps wider than a fifth / mean semitones (how many)\n")
    print("| set | into a returning bar | out of one | other bar lines | inside a bar |")
    print("|---|---|---|---|---|")
    shapes = {label: _shapes(texts, way) for label, texts in sets.items()}
    for label in sets:
        places = _places(shapes[label])
        print(f"| {label} | " + " | ".join(_summary(v) for v in places.values()) + " |")
    print("\nfigures of 5 notes that come back, mean share per tune\n")
    print("| set | at the same pitch | only at another pitch |")
    print("|---|---|---|")
    for label in sets:
        same, moved = _figures(shapes[label])
        print(f"| {label} | {same:.3f} | {moved:.3f} |")
    print("\nbars after a tune's first that come back: note for note / moved up or down the ")
    print("scale in the same rhythm (a sequence), and how far the sequences move\n")
    print("| set | note for note | moved | a step | a third | a fourth or fifth | further |")
    print("|---|---|---|---|---|---|---|")
    for label in sets:
        same, moved, far = _restated(shapes[label])
        cells = " | ".join(f"{v:.0%}" for v in far.values())
        print(f"| {label} | {same:.1%} | {moved:.1%} | {cells} |")
    rhythms = {label: _rhythm(shapes[label]) for label in sets}
    human = rhythms["human held-out"]
    meters = sorted(human, key=lambda m: -human[m][0])[:4]
    names = [f"{m[0]}/{m[1]}" if m else "none" for m in meters]
    print("\nby meter: tunes with a sixteenth / different note lengths (tunes)\n")
    print("| set | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(meters))
    for label, by in rhythms.items():
        cells = [
            f"{by[m][1]:.2f} / {by[m][2]:.1f} ({by[m][0]})" if m in by else "–" for m in meters
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")
    if args.net:
        from musiclib.ml import sampler

        net = sampler.load_net(args.net)
        vocab = json.loads(open(args.vocab).read())
        print("\nthe model on each set (fed from a zero state, temperature 1, no grammar)\n")
        print("| set | nats a symbol | under 1 %, per 1,000 | what those are | tunes |")
        print("|---|---|---|---|---|")
        for label, texts in sets.items():
            print(f"| {label} | {_surprise(texts, net, vocab, way)} |")
        print("\nwhere the grammar refused more than half the model's probability\n")
        print("| set | per 1,000 symbols | where (bars left in the part, parts closed) |")
        print("|---|---|---|")
        for label, texts in sets.items():
            form = options.get(label, {}).get("form", False)
            if options.get(label, {}).get("shape"):
                print(f"| {label} | – (a drawn shape per tune: not rebuilt here) | |")
                continue
            print(f"| {label} | {_fights(texts, net, vocab, way, form=form)} |")
    if args.memory_vocab:
        vocab = json.loads(open(args.memory_vocab).read())
        head = " | ".join(f"match {a}–{b}" if b else "no match" for a, b in MATCHES)
        print("\nletter steps: one step / a fifth or wider (how many), by the memory's match\n")
        print(f"| set | {head} |")
        print("|---|" + "---|" * len(MATCHES))
        for label, texts in sets.items():
            across, within = _by_match(texts, vocab)
            print(_match_row(f"{label}, across a bar line", across))
            print(_match_row(f"{label}, inside a bar", within))


if __name__ == "__main__":
    main()
