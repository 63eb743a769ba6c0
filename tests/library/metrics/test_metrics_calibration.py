"""Calibration: what human tunes borrow from each other, and when a piece borrows more."""

from __future__ import annotations

import numpy as np
import pytest

from musiclib.metrics.calibration import calibrate, group_variants, is_likely_copy
from musiclib.metrics.index import CorpusIndex
from musiclib.metrics.notes import Note


def transposed(notes: list[Note], semitones: int) -> list[Note]:
    return [Note(n.pitch + semitones, n.duration, n.offset) for n in notes]


@pytest.fixture(scope="module")
def calibration(folk_tunes):
    return calibrate(tunes=folk_tunes, groups=None, holdout_fraction=0.2, seed=0)


def test_group_variants_joins_transposed_duplicates_and_light_variants_only(folk_tunes):
    tunes = {t: folk_tunes[t] for t in range(60)}
    tunes[1000] = transposed(folk_tunes[5], 2)  # the same tune in another key
    variant = list(folk_tunes[9])
    variant[len(variant) // 2] = Note(variant[len(variant) // 2].pitch + 1, 0.5, 0.0)
    tunes[1001] = variant  # one note changed
    tunes[1002] = folk_tunes[11][: len(folk_tunes[11]) // 2]  # half of a tune: contained
    tunes[1003] = folk_tunes[12][::-1]  # reversed: a different tune
    groups = group_variants(tunes=tunes)
    assert groups[1000] == groups[5] == 5
    assert groups[1001] == groups[9] == 9
    assert groups[1002] == groups[11] == 11
    assert groups[1003] == 1003 and groups[12] == 12


def test_the_held_out_tunes_own_duplicates_are_left_out_of_the_reference(folk_tunes):
    tunes = dict(folk_tunes)
    for t in list(folk_tunes):
        tunes[10_000 + t] = transposed(folk_tunes[t], 5)  # every tune twice
    groups = group_variants(tunes=tunes)
    assert all(groups[10_000 + t] == groups[t] for t in folk_tunes)
    cal = calibrate(tunes=tunes, groups=groups, holdout_fraction=0.1, seed=1)
    held = cal.heldout_ids.tolist()
    assert all(c < len(tunes[t]) for t, c in zip(held, cal.copy_lengths, strict=True))
    excluded = {groups[t] for t in held}
    assert cal.n_reference == sum(groups[t] not in excluded for t in tunes)


def test_the_thresholds_are_the_95th_percentiles_of_held_out_human_tunes(calibration):
    assert calibration.copy_len_threshold == np.percentile(calibration.copy_lengths, 95)
    assert calibration.frac8_threshold == np.nanpercentile(calibration.frac8, 95)
    assert 5 <= calibration.copy_len_threshold <= 60
    assert 0 < calibration.frac8_threshold < 1


def test_most_held_out_human_tunes_are_not_flagged(folk_tunes, calibration):
    assert calibration.flagged_fraction <= 0.1
    # Tunes held out by another draw, judged by the first draw's thresholds.
    other = calibrate(tunes=folk_tunes, groups=None, holdout_fraction=0.2, seed=1)
    flagged = [
        is_likely_copy(copy_len=int(c), frac8=float(f), calibration=calibration)
        for c, f in zip(other.copy_lengths, other.frac8, strict=True)
    ]
    assert np.mean(flagged) <= 0.15


def test_a_shuffled_tune_is_not_flagged_but_the_tune_itself_is(folk_tunes, calibration):
    index = CorpusIndex()
    for t, notes in folk_tunes.items():
        index.add(tune_id=t, notes=notes)
    rng = np.random.default_rng(0)
    for t in (17, 150, 301):
        tune = folk_tunes[t]
        shuffled = [tune[i] for i in rng.permutation(len(tune))]
        for piece, expected in ((shuffled, False), (transposed(tune, 4), True)):
            copy_len = index.longest_copy(notes=piece).length_notes
            frac8 = index.ngram_fractions(notes=piece, ns=(8,))[8]
            flagged = is_likely_copy(copy_len=copy_len, frac8=frac8, calibration=calibration)
            assert flagged is expected
