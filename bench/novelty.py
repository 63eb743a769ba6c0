"""Copy detection speed: CorpusIndex against brute-force DP over every tune.

    .venv/bin/python bench/novelty.py [--sizes 1000,10000,100000] [--queries 200]

Corpus: the folk tunes bundled with music21 (O'Neill 1850, Ryan's Mammoth, Essen), read
with notes_from_abc (timed). Sizes above the ~11,600 real tunes are topped up with synthetic
tunes stitched from phrases of the real ones, phrase popularity following Zipf's law (a few
stock phrases in a large share of the tunes, as in real folk corpora), not random walks.
Queries imitate generated pieces: stretches copied from indexed tunes (transposed) between
stretches of new material, one in four with a long lifted passage. Reported per size: build
time, index memory, longest_copy latency (median and p95), the full novelty report's
latency, and the brute force (the textbook longest-common-substring DP against every tune,
vectorised per tune, on pre-encoded tunes) on a subset of the same queries.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np
from _common import ROOT, ratio

sys.path.insert(0, str(ROOT))

from musiclib.metrics.index import CorpusIndex, brute_force_symbols, encode  # noqa: E402
from musiclib.metrics.notes import Note, notes_from_abc, split_abc  # noqa: E402

COLLECTIONS = (("oneills1850", "O'Neill 1850"), ("ryansMammoth", "Ryan's Mammoth"),
               ("essenFolksong", "Essen"))  # fmt: skip
ZIPF_S = 1.0
BRUTE_QUERIES = {1_000: 50, 10_000: 10, 100_000: 3}  # brute force is slow: a subset


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def load_folk() -> tuple[list[list[Note]], dict[str, int]]:
    import music21.corpus
    from music21 import converter

    base = Path(music21.corpus.__file__).parent
    texts, counts = [], {}
    for folder, name in COLLECTIONS:
        tunes = [
            t
            for path in sorted((base / folder).glob("*.abc"))
            for t in split_abc(text=path.read_text(encoding="latin-1"))
        ]
        counts[name] = len(tunes)
        texts += tunes
    t0 = time.perf_counter()
    tunes = [notes_from_abc(abc=t) for t in texts]
    seconds = time.perf_counter() - t0
    n_notes = sum(map(len, tunes))
    sources = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    print(f"folk corpus: {len(tunes):,} tunes ({sources}), {n_notes:,} notes")
    per_note = seconds / n_notes * 1e6
    print(
        f"notes_from_abc over the whole folk corpus: {seconds:.2f} s "
        f"({len(tunes) / seconds:,.0f} tunes/s, {per_note:.1f} µs per note)"
    )
    sample = texts[:: len(texts) // 40][:40]
    t0 = time.perf_counter()
    for text in sample:
        converter.parse(text, format="abc")
    m21 = (time.perf_counter() - t0) / len(sample)
    print(
        f"music21 converter.parse on {len(sample)} of them: {m21 * 1e3:.0f} ms per tune; "
        + ratio("notes_from_abc speedup", seconds / len(tunes), m21)
    )
    return tunes, counts


def melody(pitches, durations) -> list[Note]:
    offsets = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    rows = zip(pitches, durations, offsets, strict=True)
    return [Note(int(p), float(d), float(o)) for p, d, o in rows]


class PhraseBook:
    """Phrases (4-12 consecutive notes) cut from the real tunes, drawn with Zipf weights."""

    def __init__(self, tunes: list[list[Note]], rng: np.random.Generator) -> None:
        self.rng = rng
        self.phrases = []
        for tune in tunes:
            i = 0
            while i + 4 <= len(tune):
                k = int(rng.integers(4, 13))
                p = np.array([n.pitch for n in tune[i : i + k]])
                self.phrases.append((p - p[0], np.array([n.duration for n in tune[i : i + k]])))
                i += k
        rng.shuffle(self.phrases)  # popularity rank independent of source order
        weights = 1 / np.arange(1, len(self.phrases) + 1) ** ZIPF_S
        self.cdf = np.cumsum(weights / weights.sum())
        self.lengths = np.array([len(t) for t in tunes if len(t) >= 8])

    def tune(self) -> list[Note]:
        target = int(self.rng.choice(self.lengths))
        pitches, durations, last = [], [], 60 + int(self.rng.integers(-5, 6))
        while len(pitches) < target:
            k = min(int(np.searchsorted(self.cdf, self.rng.random())), len(self.cdf) - 1)
            rel, dur = self.phrases[k]
            start = int(np.clip(last + self.rng.integers(-4, 5), 50, 80))
            pitches.extend(rel + start)
            durations.extend(dur)
            last = pitches[-1]
        return melody(pitches[:target], durations[:target])


def generated_like(corpus: list[list[Note]], rng: np.random.Generator) -> list[Note]:
    """Copied stretches (8-32 notes, transposed) between new material (random steps)."""
    pitches, durations = [], []
    long_lift = rng.random() < 0.25
    target = int(rng.integers(60, 200))
    while len(pitches) < target:
        source = corpus[int(rng.integers(len(corpus)))]
        k = int(rng.integers(40, 61)) if long_lift else int(rng.integers(8, 33))
        long_lift = False
        start = int(rng.integers(0, max(1, len(source) - k)))
        lifted = source[start : start + k]
        shift = (pitches[-1] if pitches else 65) + int(rng.integers(-3, 4)) - lifted[0].pitch
        pitches += [n.pitch + shift for n in lifted]
        durations += [n.duration for n in lifted]
        new = int(rng.integers(4, 17))
        pitches += list(pitches[-1] + np.cumsum(rng.integers(-4, 5, new)))
        durations += list(rng.choice([0.25, 0.5, 0.75, 1.0, 1.5], new))
    return melody(pitches, durations)


def run_size(size: int, real: list[list[Note]], book: PhraseBook, args) -> None:
    rng = np.random.default_rng(args.seed + size)
    if size <= len(real):
        corpus = [real[i] for i in rng.choice(len(real), size, replace=False)]
        what = "real"
    else:
        corpus = real + [book.tune() for _ in range(size - len(real))]
        what = f"{len(real):,} real + {size - len(real):,} synthetic"
    queries = [generated_like(corpus, rng) for _ in range(args.queries)]
    gc.collect()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    index = CorpusIndex()
    for tune_id, notes in enumerate(corpus):
        index.add(tune_id=tune_id, notes=notes)
    index.build()
    build = time.perf_counter() - t0
    gc.collect()
    symbols = sum(len(n) - 1 for n in corpus if len(n) > 1)
    print(f"\n== {size:,} tunes ({what}), {symbols:,} symbols")
    print(
        f"build: {build:.1f} s   index arrays: {index.nbytes / 2**20:.0f} MB   "
        f"RSS delta: {rss_mb() - rss0:.0f} MB"
    )

    def latency(fn) -> np.ndarray:
        times = []
        for q in queries:
            t0 = time.perf_counter()
            fn(q)
            times.append(time.perf_counter() - t0)
        return np.array(times)

    copies = [index.longest_copy(notes=q) for q in queries]
    fast = latency(lambda q: index.longest_copy(notes=q))
    found = np.median([c.length_notes for c in copies])
    print(
        f"longest_copy over {len(queries)} queries: median {np.median(fast) * 1e3:.1f} ms, "
        f"p95 {np.percentile(fast, 95) * 1e3:.1f} ms (copies found: median {found:.0f} notes)"
    )

    def report(q):
        index.longest_copy(notes=q)
        index.ngram_fractions(notes=q)
        index.nearest(notes=q)
        index.idiom(notes=q)

    full = latency(report)
    print(
        "full report (longest_copy, ngram_fractions, nearest, idiom): median "
        f"{np.median(full) * 1e3:.1f} ms, p95 {np.percentile(full, 95) * 1e3:.1f} ms"
    )

    n_brute = min(args.queries, BRUTE_QUERIES.get(size, max(1, 1_000_000 // size // 20)))
    encoded = {tune_id: encode(notes=n) for tune_id, n in enumerate(corpus)}
    slow, agree = [], 0
    for q, copy in zip(queries[:n_brute], copies[:n_brute], strict=True):
        t0 = time.perf_counter()
        expected = brute_force_symbols(piece=encode(notes=q), corpus=encoded)
        slow.append(time.perf_counter() - t0)
        agree += expected.length_notes == copy.length_notes
    print(
        f"brute force (DP per tune) on {n_brute} of the {len(queries)} queries: median "
        f"{np.median(slow):.2f} s; index agrees on {agree}/{n_brute}"
    )
    print(ratio("speedup", float(np.median(fast[:n_brute])), float(np.median(slow))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    real, _ = load_folk()
    book = PhraseBook(real, np.random.default_rng(args.seed))
    print(
        f"synthetic tunes: patchworks of {len(book.phrases):,} real phrases, "
        f"Zipf(s={ZIPF_S}) phrase popularity"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        run_size(size, real, book, args)


if __name__ == "__main__":
    main()
