"""A transposition- and tempo-invariant index of a corpus, to ask "is this piece copied?".

Representation ("rhythm taken into account")
--------------------------------------------
A melody of n notes (rests dropped, see notes.py) becomes n - 1 symbols, one per step from
note i - 1 to note i::

    interval = pitch[i] - pitch[i-1]                        semitones, clipped to ±63
    ratio    = round(12 * log2(duration[i] / duration[i-1]))  clipped to ±48
    symbol   = (interval + 64) * 128 + (ratio + 64)           an int in [0, 16384)

Intervals make it transposition-invariant and duration *ratios* make it invariant to tempo
and to the unit length an editor chose (L:1/8 versus L:1/16), while rhythm still counts: the
same pitches in another rhythm are different symbols. The ratio is quantised on a
twelfth-of-an-octave log scale so 3:2, 4:3, 2:1 and triplet ratios stay distinct and float
noise is absorbed. A run of k equal consecutive symbols is a copy of k + 1 notes; "n-gram"
always means n consecutive notes (n - 1 symbols). The first note's own pitch and length do
not matter, only the steps from it.

Data structure
--------------
Each segment of the index concatenates its tunes' symbols, each tune followed by a unique
negative separator, and stores a suffix array: the start of every suffix, sorted. That is the
"sorted n-gram array + searchsorted" idea for every n at once. For a query piece, a
vectorised binary search over the suffix array finds, for every piece position j, the longest
prefix of piece[j:] occurring anywhere in the corpus (its "matching statistic") and where.
The longest copy is the largest matching statistic; the n-gram fractions are the share of
positions whose statistic reaches n - 1 symbols. Cost is O(m log N) per piece however common
the piece's phrases are: a stock phrase found in 50,000 tunes costs the same as a rare one,
so no posting list is ever enumerated, capped or skipped, and the answer is exact.

Tunes added later go to a pending buffer that is frozen into a small segment at the next
query; segments merge geometrically (a small log-structured merge), so adding tunes never
rebuilds the whole index per add, and queries search the few segments and take the best.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musiclib.metrics.notes import Note

_INTERVAL_CLIP = 63
_RATIO_CLIP = 48
_END = np.iinfo(np.int32).min  # after a query: below every symbol and separator
_TOP = np.iinfo(np.int32).max  # above every symbol, for upper bounds of n-gram ranges
_CHUNK = 16  # symbols compared per vectorised step
_GRAM = 8  # the n of the n-grams `nearest` compares
_MERGE_RATIO = 4  # merge the newest segment into the previous when >= 1/4 of its size
_ONE = np.uint64(1)
_MIX = tuple(np.uint64(m) for m in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))
_SHIFT = tuple(np.uint64(s) for s in (32, 30, 27, 31))


def encode(*, notes: list[Note]) -> np.ndarray:
    """The symbol sequence (int32, one shorter than the notes) described in the module doc."""
    notes = [n for n in notes if n.pitch >= 0]
    if len(notes) < 2:
        return np.zeros(0, np.int32)
    pitch = np.fromiter((n.pitch for n in notes), np.int32, len(notes))
    # A zero length (bad input) would give log2(0); a tiny floor keeps the ratio finite.
    dur = np.maximum(np.fromiter((n.duration for n in notes), np.float64, len(notes)), 1e-6)
    interval = np.clip(np.diff(pitch), -_INTERVAL_CLIP, _INTERVAL_CLIP)
    ratio = np.clip(np.rint(12 * np.log2(dur[1:] / dur[:-1])), -_RATIO_CLIP, _RATIO_CLIP)
    return ((interval + 64) * 128 + (ratio.astype(np.int32) + 64)).astype(np.int32)


def gram_keys(*, symbols: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit hash of every n-gram (n notes = n - 1 symbols) of a symbol sequence.

    Multiply-xorshift per symbol, then the splitmix64 finaliser so that every output bit
    depends on every symbol (callers may keep only some of the bits). Collisions between
    distinct grams have probability ~2^-64 per pair: negligible for set comparisons.
    """
    w = n - 1
    if len(symbols) < w:
        return np.zeros(0, np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(symbols.astype(np.uint64), w)
    key = np.zeros(len(windows), np.uint64)
    for k in range(w):
        key = (key + windows[:, k] + _ONE) * _MIX[0]
        key ^= key >> _SHIFT[0]
    key = (key ^ (key >> _SHIFT[1])) * _MIX[1]
    key = (key ^ (key >> _SHIFT[2])) * _MIX[2]
    return key ^ (key >> _SHIFT[3])


def _distinct(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting: numpy 2's default hash-based unique is ~10x slower on millions
    of int64 keys."""
    values = np.sort(values)
    return values[np.concatenate([values[:1] == values[:1], values[1:] != values[:-1]])]


def _pattern_keys(symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keys of the 4-note pitch patterns (3 intervals) and rhythm patterns (3 ratios)."""
    if len(symbols) < 3:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    interval = (symbols >> 7).astype(np.int64)  # already offset to [1, 127]
    ratio = (symbols & 127).astype(np.int64)
    pitch = (interval[:-2] << 14) | (interval[1:-1] << 7) | interval[2:]
    rhythm = (ratio[:-2] << 14) | (ratio[1:-1] << 7) | ratio[2:]
    return pitch, rhythm


@dataclass(frozen=True)
class Copy:
    """The longest passage of a piece found in one corpus tune (transposition-invariant).

    length_notes is 0 (tune_id None) when not even one step is shared; otherwise the piece's
    notes[piece_start : piece_start + length_notes] match the tune's notes from tune_start.
    """

    length_notes: int
    tune_id: int | None
    piece_start: int
    tune_start: int


def _suffix_array(text: np.ndarray) -> np.ndarray:
    """Suffix array by prefix doubling, re-sorting only suffixes still tied with another.

    Ranks are "slot of the first suffix of my group", so a group's members occupy the slots
    [rank, rank + size) and can be re-sorted in place. Separators are unique, so every suffix
    differs from every other within its own tune, which bounds the rounds by log2 of the
    longest tune.
    """
    n = len(text)
    sa = np.argsort(text, kind="stable").astype(np.int32)
    rank = np.empty(n, np.int32)
    active = np.arange(n, dtype=np.int64)
    first = text[sa].astype(np.int64)
    second = np.zeros(n, np.int64)
    h = 1
    while True:
        # Groups among the active slots, already ordered by (first, second).
        brk = np.ones(len(active), bool)
        brk[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
        group_start = np.maximum.accumulate(np.where(brk, active, 0)).astype(np.int32)
        rank[sa[active]] = group_start
        starts = np.flatnonzero(brk)
        sizes = np.diff(np.append(starts, len(active)))
        active = active[np.repeat(sizes > 1, sizes)]
        if not len(active):
            return sa
        pos = sa[active]
        nxt = pos.astype(np.int64) + h
        first = rank[pos].astype(np.int64)
        second = np.where(nxt < n, rank[np.minimum(nxt, n - 1)], -1).astype(np.int64)
        order = np.argsort(first * (n + 1) + second + 1, kind="stable")
        sa[active] = pos[order]
        first, second = first[order], second[order]
        h *= 2


class _Segment:
    """An immutable block of tunes with its suffix array.

    Per text position it also keeps `owner` (which of the segment's tunes the position is
    in) and `first` (the 8-gram starting there is its first occurrence in that tune), so that
    `nearest` counts each (gram, tune) pair once with a bincount instead of deduplicating.
    """

    def __init__(self, tunes: np.ndarray, parts: list[np.ndarray], firsts: list[np.ndarray]):
        self.tunes = tunes  # internal tune numbers, in text order
        lengths = np.array([len(p) + 1 for p in parts], np.int64)
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        text = np.empty(int(lengths.sum()) + _CHUNK, np.int32)
        text[-_CHUNK:] = -1 - len(parts)  # padding so chunked gathers never run off the end
        first = np.zeros(len(text), bool)
        for k, (start, part, f) in enumerate(zip(self.starts, parts, firsts, strict=True)):
            text[start : start + len(part)] = part
            text[start + len(part)] = -1 - k  # a unique separator after each tune
            first[start : start + len(f)] = f
        self.text, self.first = text, first
        self.owner = np.repeat(np.arange(len(parts), dtype=np.int32), lengths)
        self.sa = _suffix_array(text[:-_CHUNK])

    @classmethod
    def from_arrays(cls, tunes, starts, text, first, sa) -> _Segment:
        seg = cls.__new__(cls)
        seg.tunes, seg.starts, seg.text, seg.first, seg.sa = tunes, starts, text, first, sa
        lengths = np.diff(np.append(starts, len(sa)))
        seg.owner = np.repeat(np.arange(len(starts), dtype=np.int32), lengths)
        return seg

    @property
    def n(self) -> int:
        return len(self.sa)

    def part(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Symbols and first-occurrence flags of the segment's k-th tune."""
        end = self.starts[k + 1] - 1 if k + 1 < len(self.starts) else self.n - 1
        return self.text[self.starts[k] : end], self.first[self.starts[k] : end]

    def compare(self, query: np.ndarray, qstart: np.ndarray, tstart: np.ndarray):
        """Lexicographic sign (-1/+1) and common-prefix length of query[qstart:] against
        text[tstart:], row by row, vectorised over rows in chunks of _CHUNK symbols.

        Queries end in sentinels that never occur in the text and every text suffix ends in a
        separator that never occurs in a query, so a mismatch always comes and sign is never 0.
        """
        sign = np.zeros(len(qstart), np.int8)
        lcp = np.zeros(len(qstart), np.int64)
        pending = np.arange(len(qstart))
        off = 0
        span = np.arange(_CHUNK)
        while len(pending):
            a = query[qstart[pending, None] + off + span]
            b = self.text[tstart[pending, None] + off + span]
            neq = a != b
            hit = neq.any(1)
            at = neq.argmax(1)[hit]
            rows = pending[hit]
            lcp[rows] = off + at
            sign[rows] = np.where(a[hit, at] < b[hit, at], -1, 1)
            pending = pending[~hit]
            off += _CHUNK
        return sign, lcp

    def search(self, query: np.ndarray, qstart: np.ndarray):
        """Binary search of each query suffix: insertion slot, and the longest common prefix
        with any suffix of the text together with that suffix's text position.

        The longest match with any suffix is with a neighbour of the insertion slot, and both
        neighbours are compared on the way down, so tracking the last compared suffix on each
        side gives the answer without extra comparisons.
        """
        k = len(qstart)
        lo = np.zeros(k, np.int64)
        hi = np.full(k, self.n, np.int64)
        best = np.zeros(k, np.int64)
        where = np.zeros(k, np.int64)
        rows = np.arange(k)
        while len(rows):
            mid = (lo[rows] + hi[rows]) // 2
            tpos = self.sa[mid].astype(np.int64)
            sign, lcp = self.compare(query, qstart[rows], tpos)
            better = lcp > best[rows]
            best[rows[better]] = lcp[better]
            where[rows[better]] = tpos[better]
            right = sign > 0
            lo[rows[right]] = mid[right] + 1
            hi[rows[~right]] = mid[~right]
            rows = rows[lo[rows] < hi[rows]]
        return lo, best, where


def _padded(symbols: np.ndarray, tail: int) -> np.ndarray:
    return np.concatenate([symbols.astype(np.int32), np.full(tail, _END, np.int32)])


class CorpusIndex:
    """Copy/novelty queries of pieces against a corpus of tunes; see the module docstring.

    All queries take the piece as `notes` and are exact (the tests check them against
    `brute_force_longest_copy`).
    """

    def __init__(self) -> None:
        self._ids: list[int] = []  # internal number -> tune id
        self._internal: dict[int, int] = {}  # tune id -> internal number (live tunes)
        self._n8 = np.zeros(0, np.int64)  # distinct 8-grams per internal tune, for Jaccard
        self._pending: list[tuple[int, np.ndarray]] = []  # added, not yet in a segment
        self._segments: list[_Segment] = []
        self._dirty = False  # a removal awaits a segment rebuild
        # Per 4-note pattern key: how many live tunes contain it (for `idiom`).
        self._pitch_df = np.zeros(1 << 21, np.uint32)
        self._rhythm_df = np.zeros(1 << 21, np.uint32)

    # --- building -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._internal)

    def add(self, *, tune_id: int, notes: list[Note]) -> None:
        """Queue one tune; its indexing happens in `build`, by the next query at the latest,
        vectorised over everything added since (per-tune numpy work would dominate)."""
        if tune_id in self._internal:
            raise ValueError(f"tune {tune_id} is already indexed")
        internal = len(self._ids)
        self._ids.append(tune_id)
        self._internal[tune_id] = internal
        self._pending.append((internal, encode(notes=notes)))

    def _index_batch(self, parts: list[tuple[int, np.ndarray]]) -> list[np.ndarray]:
        """Count the 8-grams and 4-note patterns of newly added tunes, all at once over their
        concatenation; returns each tune's first-occurrence flags (see `_Segment`)."""
        lengths = np.array([len(p) for _, p in parts], np.int64)
        text = np.concatenate([p for _, p in parts] + [np.zeros(0, np.int32)])
        owner = np.repeat(np.arange(len(parts), dtype=np.int64), lengths)
        rest = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(text))  # to tune end
        keys = gram_keys(symbols=text, n=_GRAM)
        ok = np.flatnonzero(rest[: len(keys)] >= _GRAM - 1)  # windows inside one tune
        # (tune, gram) in one uint64: 24 bits of tune in the batch, 40 of hash (a collision
        # within one tune ~1e-8); np.unique's return_index gives each pair's first position.
        pair = (owner[ok].astype(np.uint64) << np.uint64(40)) | (keys[ok] >> np.uint64(24))
        first = np.zeros(len(text), bool)
        first[ok[np.unique(pair, return_index=True)[1]]] = True
        n8 = np.zeros(len(self._ids), np.int64)
        n8[: len(self._n8)] = self._n8
        n8[[t for t, _ in parts]] = np.bincount(owner[first], minlength=len(parts))
        self._n8 = n8
        pitch, rhythm = _pattern_keys(text)
        ok = np.flatnonzero(rest[: len(pitch)] >= 3)
        for df, keys in ((self._pitch_df, pitch), (self._rhythm_df, rhythm)):
            pairs = _distinct((owner[ok] << 21) | keys[ok])  # each pattern once per tune
            df += np.bincount(pairs & ((1 << 21) - 1), minlength=len(df)).astype(np.uint32)
        return np.split(first, np.cumsum(lengths)[:-1])

    def _uncount_patterns(self, symbols: np.ndarray) -> None:
        pitch, rhythm = _pattern_keys(symbols)
        for df, keys in ((self._pitch_df, pitch), (self._rhythm_df, rhythm)):
            keys = np.unique(keys)
            df[keys] -= 1

    def remove(self, tune_id: int) -> None:
        """Forget a tune; its segment is rebuilt without it at the next query."""
        internal = self._internal.pop(tune_id)
        for k, (i, _) in enumerate(self._pending):
            if i == internal:  # not counted yet
                del self._pending[k]
                return
        for seg in self._segments:
            hit = np.flatnonzero(seg.tunes == internal)
            if len(hit):
                self._uncount_patterns(seg.part(int(hit[0]))[0])
        self._dirty = True

    def _live_parts(self, seg: _Segment) -> list[tuple[int, np.ndarray, np.ndarray]]:
        return [
            (int(t), *seg.part(k))
            for k, t in enumerate(seg.tunes)
            if self._ids[t] in self._internal and self._internal[self._ids[t]] == t
        ]

    def build(self) -> None:
        """Turn pending tunes into a segment and keep the segment list short."""
        if self._dirty:
            rebuilt = [self._live_parts(s) for s in self._segments]
            self._segments = [self._build(parts) for parts in rebuilt if parts]
            self._dirty = False
        while self._pending:  # batches of < 2^24 tunes, see _index_batch
            batch, self._pending = self._pending[: 1 << 23], self._pending[1 << 23 :]
            firsts = self._index_batch(batch)
            parts = [(t, p, f) for (t, p), f in zip(batch, firsts, strict=True)]
            self._segments.append(self._build(parts))
        segs = self._segments
        while len(segs) > 1 and segs[-1].n * _MERGE_RATIO >= segs[-2].n:
            merged = self._build(self._live_parts(segs[-2]) + self._live_parts(segs[-1]))
            segs[-2:] = [merged]

    @staticmethod
    def _build(parts: list[tuple[int, np.ndarray, np.ndarray]]) -> _Segment:
        tunes = np.array([t for t, _, _ in parts], np.int64)
        return _Segment(tunes, [p for _, p, _ in parts], [f for _, _, f in parts])

    def _compact(self) -> _Segment | None:
        self.build()
        if len(self._segments) > 1:
            self._segments = [self._build([p for s in self._segments for p in self._live_parts(s)])]
        return self._segments[0] if self._segments else None

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays (suffix arrays, texts, counts)."""
        self.build()
        arrays = [
            a for s in self._segments for a in (s.text, s.sa, s.starts, s.tunes, s.owner, s.first)
        ]
        return sum(a.nbytes for a in arrays) + self._pitch_df.nbytes + self._rhythm_df.nbytes

    # --- queries ----------------------------------------------------------------------------

    def _statistics(self, symbols: np.ndarray):
        """Per piece position: longest match length (symbols), and the tune id and tune
        position where it occurs."""
        self.build()
        m = len(symbols)
        best = np.zeros(m, np.int64)
        tune = np.full(m, -1, np.int64)
        at = np.zeros(m, np.int64)
        if m == 0:
            return best, tune, at
        query = _padded(symbols, _CHUNK + 1)
        for seg in self._segments:
            _, length, pos = seg.search(query, np.arange(m))
            better = length > best
            k = seg.owner[pos[better]]
            best[better] = length[better]
            tune[better] = seg.tunes[k]
            at[better] = pos[better] - seg.starts[k]
        return best, tune, at

    def longest_copy(self, *, notes: list[Note]) -> Copy:
        """The longest passage of the piece that occurs in any one corpus tune, up to
        transposition and tempo; ties go to the earliest passage in the piece."""
        best, tune, at = self._statistics(encode(notes=notes))
        if not len(best) or best.max() == 0:
            return Copy(0, None, 0, 0)
        j = int(best.argmax())
        return Copy(int(best[j]) + 1, self._ids[tune[j]], _note_index(notes, j), int(at[j]))

    def ngram_fractions(self, *, notes: list[Note], ns=(4, 8, 16)) -> dict[int, float]:
        """For each n: the share of the piece's n-note windows (positions, not distinct
        grams) that occur somewhere in the corpus. NaN when the piece has fewer than n notes
        (no windows to judge)."""
        best, _, _ = self._statistics(encode(notes=notes))
        out = {}
        for n in ns:
            windows = len(best) - (n - 1) + 1
            out[n] = float(np.mean(best[:windows] >= n - 1)) if windows > 0 else float("nan")
        return out

    def nearest(self, *, notes: list[Note]) -> tuple[int | None, float]:
        """The corpus tune most like the piece and its similarity: Jaccard similarity of the
        sets of distinct 8-note grams, |A ∩ B| / |A ∪ B| (1.0 for the same tune, transposed or
        not). (None, 0.0) when no tune shares an 8-gram. Ties go to the earliest added tune.

        Jaccard rather than containment so that a long medley containing the piece does not
        beat the tune the piece actually is.
        """
        self.build()
        symbols = encode(notes=notes)
        w = _GRAM - 1
        if len(symbols) < w or not self._segments:
            return None, 0.0
        keys = gram_keys(symbols=symbols, n=_GRAM)
        _, first = np.unique(keys, return_index=True)
        grams = np.sort(first)  # one piece position per distinct gram
        # Query rows: the gram followed by a sentinel below (lower bound) or above (upper
        # bound) every symbol, so the insertion slots delimit the suffixes starting with it.
        windows = np.lib.stride_tricks.sliding_window_view(symbols, w)[grams]
        stride = w + 1 + _CHUNK
        rows = np.full((len(grams), stride), _END, np.int32)
        rows[:, :w] = windows
        upper = rows.copy()
        upper[:, w] = _TOP
        qstart = np.arange(len(grams)) * stride
        shared = np.zeros(len(self._n8), np.int64)
        for seg in self._segments:
            lo, _, _ = seg.search(rows.ravel(), qstart)
            hi, _, _ = seg.search(upper.ravel(), qstart)
            counts = hi - lo
            if not counts.sum():
                continue
            slots = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            pos = seg.sa[slots]
            pos = pos[seg.first[pos]]  # each gram once per tune
            shared += np.bincount(seg.tunes[seg.owner[pos]], minlength=len(self._n8))
        jaccard = shared / np.maximum(len(grams) + self._n8 - shared, 1)
        best = int(jaccard.argmax())
        return (self._ids[best], float(jaccard[best])) if shared[best] else (None, 0.0)

    def idiom(self, *, notes: list[Note]) -> dict[str, float]:
        """Share of the piece's 4-note pitch patterns (3 intervals, rhythm ignored) and 4-note
        rhythm patterns (3 duration ratios, pitch ignored) seen anywhere in the corpus.

        These short patterns measure idiom, not copying: real tunes score ~0.95, while a
        model that learned nothing plays patterns folk tunes never use. NaN if under 4 notes.
        """
        self.build()
        pitch, rhythm = _pattern_keys(encode(notes=notes))
        if not len(pitch):
            return {"pitch": float("nan"), "rhythm": float("nan")}
        return {
            "pitch": float(np.mean(self._pitch_df[pitch] > 0)),
            "rhythm": float(np.mean(self._rhythm_df[rhythm] > 0)),
        }

    # --- persistence --------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the index (compacted into one segment) to an .npz file."""
        seg = self._compact()
        ids = np.array(self._ids, np.int64)
        order = seg.tunes if seg is not None else np.zeros(0, np.int64)
        arrays = dict(
            ids=ids[order],
            n8=self._n8[order],
            text=seg.text if seg is not None else np.zeros(0, np.int32),
            first=seg.first if seg is not None else np.zeros(0, bool),
            sa=seg.sa if seg is not None else np.zeros(0, np.int32),
            starts=seg.starts if seg is not None else np.zeros(0, np.int64),
        )
        for name, df in (("pitch", self._pitch_df), ("rhythm", self._rhythm_df)):
            nz = np.flatnonzero(df)  # stored sparse: most of the 2M pattern keys never occur
            arrays[f"{name}_keys"], arrays[f"{name}_counts"] = nz, df[nz]
        with open(path, "wb") as f:  # a file object, so numpy does not append ".npz"
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> CorpusIndex:
        index = cls()
        with np.load(path) as data:
            ids = data["ids"]
            index._ids = [int(i) for i in ids]
            index._internal = {t: k for k, t in enumerate(index._ids)}
            index._n8 = data["n8"]
            for name, df in (("pitch", index._pitch_df), ("rhythm", index._rhythm_df)):
                df[data[f"{name}_keys"]] = data[f"{name}_counts"]
            if len(ids):
                tunes = np.arange(len(ids), dtype=np.int64)
                arrays = (data[k] for k in ("starts", "text", "first", "sa"))
                index._segments = [_Segment.from_arrays(tunes, *arrays)]
        return index


def _note_index(notes: list[Note], symbol_index: int) -> int:
    """Symbol j starts at sounding note j; map back to `notes`, which may contain rests."""
    if all(n.pitch >= 0 for n in notes):
        return symbol_index
    return [i for i, n in enumerate(notes) if n.pitch >= 0][symbol_index]


# --- the baseline -------------------------------------------------------------------------------


def longest_common_run(*, a: np.ndarray, b: np.ndarray) -> tuple[int, int, int]:
    """Longest common substring of two symbol arrays: (length, start in a, start in b).

    The textbook DP, vectorised: the equality matrix is sheared so each diagonal becomes a
    column, and the longest run of equal symbols down any column is the answer.
    """
    m, n = len(a), len(b)
    if not m or not n:
        return 0, 0, 0
    sheared = np.zeros((n + m - 1, m + 1), bool)  # column (diagonal) major, False row last
    i = np.arange(m)[:, None]
    sheared[np.arange(n)[None, :] - i + m - 1, i] = a[:, None] == b[None, :]
    flat = sheared.ravel()
    idx = np.arange(len(flat))
    last_false = np.maximum.accumulate(np.where(flat, -1, idx))
    run = idx - last_false
    end = int(run.argmax())
    length = int(run[end])
    if not length:
        return 0, 0, 0
    diagonal, i_end = divmod(end, m + 1)
    start_a = i_end - length + 1
    return length, start_a, start_a + diagonal - (m - 1)


def brute_force_longest_copy(*, notes: list[Note], corpus: dict[int, list[Note]]) -> Copy:
    """`CorpusIndex.longest_copy` the slow, obvious way: a longest-common-substring DP
    against every tune. The oracle of the tests and the baseline of bench/novelty.py."""
    return brute_force_symbols(
        piece=encode(notes=notes), corpus={t: encode(notes=ns) for t, ns in corpus.items()}
    )


def brute_force_symbols(*, piece: np.ndarray, corpus: dict[int, np.ndarray]) -> Copy:
    """The brute force on already-encoded symbols (so a benchmark times only the search)."""
    best = Copy(0, None, 0, 0)
    for tune_id, symbols in corpus.items():
        length, i, j = longest_common_run(a=piece, b=symbols)
        if length + 1 > best.length_notes and length:
            best = Copy(length + 1, tune_id, i, j)
    return best
