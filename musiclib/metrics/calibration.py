"""How much do *human* tunes borrow from each other? Thresholds for "likely a copy".

Folk tunes share stock phrases, so a generated piece that shares a 10-note passage with the
corpus is not necessarily copying: held-out human tunes do that too. `calibrate` measures the
longest copy and the 8-gram fraction of held-out human tunes against the rest of the corpus,
and `is_likely_copy` flags a piece only when it borrows more than 95 % of them do.

A held-out tune's own duplicates and variants (the same tune in another collection, key or
setting) must not count as "the rest of the corpus", or every human tune would look like a
copy. `group_variants` finds them first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from musiclib.metrics.index import CorpusIndex, encode, gram_keys
from musiclib.metrics.notes import Note

VARIANT_N = 8
VARIANT_THRESHOLD = 0.8


def group_variants(
    *,
    tunes: dict[int, list[Note]],
    threshold: float = VARIANT_THRESHOLD,
    n: int = VARIANT_N,
) -> dict[int, int]:
    """Group duplicates and variants: tune id -> group id (the smallest tune id in its group).

    Rule: two tunes are variants when the smaller one's set of distinct n-note grams
    (transposition- and tempo-invariant, see index.py) is at least `threshold` contained in
    the other's: |A ∩ B| / min(|A|, |B|) >= 0.8 for 8-grams. Groups are the connected
    components of that relation (a variant of a variant is in the same group). Tunes shorter
    than n notes have no grams and stay alone.

    Candidate pairs come from prefix filtering: if |A ∩ B| >= t|A|, then any
    |A| - ceil(t|A|) + 1 of A's grams include one of B's, so probing only A's rarest grams
    finds every partner of A without comparing all pairs, and without walking the huge
    posting lists of stock phrases.
    """
    ids = list(tunes)
    grams = [np.unique(gram_keys(symbols=encode(notes=tunes[t]), n=n)) for t in ids]
    sizes = np.array([len(g) for g in grams])
    all_keys = np.concatenate(grams) if grams else np.zeros(0, np.uint64)
    owner = np.repeat(np.arange(len(ids)), sizes)
    order = np.argsort(all_keys, kind="stable")
    keys, owner = all_keys[order], owner[order]  # postings: gram -> tunes, sorted by gram
    parent = list(range(len(ids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, mine in enumerate(grams):
        if not len(mine):
            continue
        lo = np.searchsorted(keys, mine, "left")
        hi = np.searchsorted(keys, mine, "right")
        need = math.ceil(threshold * len(mine) - 1e-9)
        probe = np.argsort(hi - lo, kind="stable")[: len(mine) - need + 1]  # rarest grams
        cand = np.unique(np.concatenate([owner[lo[g] : hi[g]] for g in probe]))
        # Each pair is judged by its smaller member (ties: both probe, harmless).
        cand = cand[(cand != a) & (sizes[cand] >= len(mine))]
        for b in cand:
            if find(int(b)) != find(a) and (
                len(np.intersect1d(mine, grams[b], assume_unique=True)) >= need
            ):
                parent[find(int(b))] = find(a)
    roots: dict[int, int] = {}
    for k, t in enumerate(ids):
        r = find(k)
        roots[r] = min(roots.get(r, t), t)
    return {t: roots[find(k)] for k, t in enumerate(ids)}


@dataclass(frozen=True, eq=False)
class Calibration:
    """What held-out human tunes borrow from the rest of their corpus."""

    heldout_ids: np.ndarray
    copy_lengths: np.ndarray  # longest copy, in notes, per held-out tune
    frac8: np.ndarray  # share of its 8-note windows found in the rest (NaN if < 8 notes)
    copy_len_threshold: float  # the 95th percentile of copy_lengths
    frac8_threshold: float  # the 95th percentile of frac8
    quantile: float
    n_reference: int  # tunes the held-out ones were compared against
    flagged_fraction: float  # share of held-out human tunes `is_likely_copy` flags


def calibrate(
    *,
    tunes: dict[int, list[Note]],
    groups: dict[int, int] | None = None,
    holdout_fraction: float = 0.1,
    seed: int = 0,
    quantile: float = 0.95,
) -> Calibration:
    """Hold out a random `holdout_fraction` of the tunes and measure each against the rest.

    The reference corpus leaves out every variant group that contains a held-out tune (groups
    from `group_variants` when `groups` is None), so no held-out tune meets its own
    duplicates. It is therefore ~10 % smaller than the full corpus a generated piece is
    compared with, which makes the thresholds slightly low: it errs towards flagging.
    """
    groups = group_variants(tunes=tunes) if groups is None else groups
    ids = sorted(tunes)
    rng = np.random.default_rng(seed)
    k = min(len(ids) - 1, max(1, round(holdout_fraction * len(ids))))
    heldout = np.sort(rng.choice(np.array(ids), size=k, replace=False))
    excluded = {groups.get(int(t), int(t)) for t in heldout}
    index = CorpusIndex()
    for t in ids:
        if groups.get(t, t) not in excluded:
            index.add(tune_id=t, notes=tunes[t])
    copy_lengths = np.array(
        [index.longest_copy(notes=tunes[int(t)]).length_notes for t in heldout], np.int64
    )
    frac8 = np.array([index.ngram_fractions(notes=tunes[int(t)], ns=(8,))[8] for t in heldout])
    copy_thr = float(np.percentile(copy_lengths, 100 * quantile))
    frac_thr = float(np.nanpercentile(frac8, 100 * quantile)) if np.isfinite(frac8).any() else 1.0
    flagged = np.mean(
        [
            _exceeds(copy_len=c, frac8=f, copy_thr=copy_thr, frac_thr=frac_thr)
            for c, f in zip(copy_lengths, frac8, strict=True)
        ]
    )
    return Calibration(
        heldout_ids=heldout,
        copy_lengths=copy_lengths,
        frac8=frac8,
        copy_len_threshold=copy_thr,
        frac8_threshold=frac_thr,
        quantile=quantile,
        n_reference=len(index),
        flagged_fraction=float(flagged),
    )


def _exceeds(*, copy_len: int, frac8: float, copy_thr: float, frac_thr: float) -> bool:
    # Either kind of borrowing counts: one long lifted passage, or a patchwork of many
    # 8-note phrases. A NaN frac8 (piece under 8 notes) is judged on the copy length alone.
    return copy_len > copy_thr or (not math.isnan(frac8) and frac8 > frac_thr)


def is_likely_copy(*, copy_len: int, frac8: float, calibration: Calibration) -> bool:
    """True when the piece's longest copy or its 8-gram fraction is above what 95 % of
    held-out human tunes reach (strictly above the 95th percentile). Each test alone flags
    5 % of human tunes; together they flag at most 10 %, in practice fewer because the two
    are correlated: `calibration.flagged_fraction` is the rate actually measured."""
    return _exceeds(
        copy_len=copy_len,
        frac8=frac8,
        copy_thr=calibration.copy_len_threshold,
        frac_thr=calibration.frac8_threshold,
    )
