"""MGEval-style features of one melody, and the intra-/inter-set comparison of two sets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from musiclib.metrics.features import LENGTH_BINS, SCALAR_FEATURES, features, intra_inter
from musiclib.metrics.notes import Note

# C4 quarter, E4 quarter, G4 half, E-flat4 eighth, D4 eighth, C4 quarter
SIX = [Note(60, 1.0, 0.0), Note(64, 1.0, 1.0), Note(67, 2.0, 2.0), Note(63, 0.5, 4.0),
       Note(62, 0.5, 4.5), Note(60, 1.0, 5.0)]  # fmt: skip


def test_features_match_hand_computed_values_on_a_six_note_piece():
    f = features(notes=SIX)
    assert f.pitch_count == 5  # C4 E4 G4 Eb4 D4
    assert f.pitch_range == 7  # C4 to G4
    assert f.avg_pitch_interval == pytest.approx((4 + 3 + 4 + 1 + 2) / 5)
    assert f.ioi_mean == pytest.approx((1 + 1 + 2 + 0.5 + 0.5) / 5)
    assert f.scale_consistency == pytest.approx(5 / 6)  # no scale has both E and E-flat
    assert f.pitch_entropy == pytest.approx(2 / 6 * math.log2(3) + 4 * (1 / 6) * math.log2(6))
    expected_pcs = np.zeros(12)
    expected_pcs[[0, 2, 3, 4, 7]] = [2 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6]
    assert f.pitch_class_histogram == pytest.approx(expected_pcs)
    moves = [(0, 4), (4, 7), (7, 3), (3, 2), (2, 0)]
    assert {tuple(ix) for ix in np.argwhere(f.pitch_class_transition_matrix)} == set(moves)
    assert f.pitch_class_transition_matrix.sum() == pytest.approx(1)
    lengths = dict(zip(LENGTH_BINS, f.note_length_histogram, strict=True))
    assert (lengths[1.0], lengths[2.0], lengths[0.5]) == pytest.approx((3 / 6, 1 / 6, 2 / 6))


def random_pieces(rng, n, scale):
    """Pieces mostly in `scale`, with one note in ten chromatic (as in real tunes, so that no
    feature is constant across a set, where a KDE is undefined)."""
    pieces = []
    for _ in range(n):
        k = int(rng.integers(30, 60))
        steps = np.where(rng.random(k) < 0.9, rng.choice(scale, k), rng.integers(0, 12, k))
        pitches = 60 + steps + 12 * rng.integers(0, 2, k)
        durations = rng.choice([0.5, 1.0], k)
        onsets = np.concatenate([[0], np.cumsum(durations)[:-1]])
        notes = [
            Note(int(p), float(d), float(o))
            for p, d, o in zip(pitches, durations, onsets, strict=True)
        ]
        pieces.append(features(notes=notes))
    return pieces


def test_intra_inter_finds_a_like_set_close_and_an_unlike_set_far():
    rng = np.random.default_rng(0)
    major = [0, 2, 4, 5, 7, 9, 11]
    human, alike = random_pieces(rng, 30, major), random_pieces(rng, 30, major)
    chromatic = random_pieces(rng, 30, list(range(12)))
    same = intra_inter(set_a=human, set_b=alike)
    other = intra_inter(set_a=human, set_b=chromatic)
    assert set(SCALAR_FEATURES) <= set(same)
    for feature in ("scale_consistency", "pitch_count"):
        assert same[feature]["kl"] < other[feature]["kl"]
        assert same[feature]["overlap"] > other[feature]["overlap"]
        assert 0 < other[feature]["overlap"] < same[feature]["overlap"] <= 1
    assert same["scale_consistency"]["intra_mean"] == other["scale_consistency"]["intra_mean"]
