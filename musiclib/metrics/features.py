"""MGEval / MusPy-style descriptive features of melodies, and the MGEval set comparison.

`features` describes one note list; `intra_inter` compares two sets of pieces (say human
tunes and generated ones) feature by feature, as in Yang & Lerch, "On the evaluation of
generative models in music" (2020): distances within set A, distances between A and B, and
how far apart the two distance distributions are (KL divergence, overlap area of KDEs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

import numpy as np
from scipy.stats import gaussian_kde

from musiclib.metrics.notes import Note

# Note-length bins in quarterLength, MGEval's 12 classes: whole, dotted half, half, dotted
# quarter, quarter, dotted eighth, eighth, dotted sixteenth, sixteenth, then the half,
# quarter and eighth triplets. A note goes to the bin nearest on a log scale (so 0.45 counts
# as an eighth, not as a dotted sixteenth; anything over a whole note counts as whole).
LENGTH_BINS = (4.0, 3.0, 2.0, 1.5, 1.0, 0.75, 0.5, 0.375, 0.25, 4 / 3, 2 / 3, 1 / 3)
_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor


@dataclass(frozen=True, eq=False)
class Features:
    pitch_count: int  # distinct MIDI pitches used
    pitch_range: int  # highest minus lowest pitch, semitones
    avg_pitch_interval: float  # mean |pitch step| between consecutive notes, semitones
    ioi_mean: float  # mean inter-onset interval, quarterLength (rests included in the gap)
    scale_consistency: float  # best share of notes inside one major or minor scale
    pitch_entropy: float  # Shannon entropy of the pitch-class histogram, bits (0 to log2 12)
    pitch_class_histogram: np.ndarray  # (12,), sums to 1
    pitch_class_transition_matrix: np.ndarray  # (12, 12) from-row to-column, sums to 1
    note_length_histogram: np.ndarray  # (12,) over LENGTH_BINS, sums to 1


SCALAR_FEATURES = (
    "pitch_count",
    "pitch_range",
    "avg_pitch_interval",
    "ioi_mean",
    "scale_consistency",
    "pitch_entropy",
)
VECTOR_FEATURES = (
    "pitch_class_histogram",
    "pitch_class_transition_matrix",
    "note_length_histogram",
)


def _normalised(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def features(*, notes: list[Note]) -> Features:
    """The features of one melody; rests (pitch -1), if any, are ignored."""
    notes = [n for n in notes if n.pitch >= 0]
    pitch = np.array([n.pitch for n in notes], np.int64)
    pcs = pitch % 12
    pc_hist = _normalised(np.bincount(pcs, minlength=12).astype(float))
    transitions = np.zeros((12, 12))
    np.add.at(transitions, (pcs[:-1], pcs[1:]), 1)
    lengths = np.array([n.duration for n in notes], float)
    nearest_bin = np.abs(
        np.log2(np.maximum(lengths, 1e-9))[:, None] - np.log2(LENGTH_BINS)[None, :]
    ).argmin(1)
    # A note counts in a scale when its pitch class is in it; minor scales share pitch sets
    # with their relative majors, so the 24 scales are 12 distinct sets, kept for clarity.
    in_scale = [
        np.isin(pcs, (root + steps) % 12).mean() if len(pcs) else 0.0
        for root in range(12)
        for steps in (_MAJOR, _MINOR)
    ]
    p = pc_hist[pc_hist > 0]
    return Features(
        pitch_count=int(len(np.unique(pitch))),
        pitch_range=int(pitch.max() - pitch.min()) if len(pitch) else 0,
        avg_pitch_interval=float(np.abs(np.diff(pitch)).mean()) if len(pitch) > 1 else 0.0,
        ioi_mean=float(np.diff([n.offset for n in notes]).mean()) if len(notes) > 1 else 0.0,
        scale_consistency=float(max(in_scale)),
        pitch_entropy=float(-(p * np.log2(p)).sum()) if len(p) else 0.0,
        pitch_class_histogram=pc_hist,
        pitch_class_transition_matrix=_normalised(transitions),
        note_length_histogram=_normalised(np.bincount(nearest_bin, minlength=12).astype(float)),
    )


def _kde_comparison(intra: np.ndarray, inter: np.ndarray) -> tuple[float, float]:
    """KL(intra || inter) and the overlap area of the two distance densities (Gaussian KDEs
    evaluated on a shared grid). NaN when either sample is degenerate (fewer than two
    distinct values), where a KDE is undefined."""
    if len(np.unique(intra)) < 2 or len(np.unique(inter)) < 2:
        return float("nan"), float("nan")
    grid = np.linspace(min(intra.min(), inter.min()), max(intra.max(), inter.max()), 1000)
    step = grid[1] - grid[0]
    p = gaussian_kde(intra)(grid)
    q = gaussian_kde(inter)(grid)
    p, q = p / (p.sum() * step), q / (q.sum() * step)  # renormalise on the finite grid
    eps = 1e-10  # keeps log(p/q) finite where the inter density vanishes
    kl = float(np.sum(p * np.log((p + eps) / (q + eps))) * step)
    overlap = float(np.minimum(p, q).sum() * step)
    return kl, overlap


def intra_inter(*, set_a: list[Features], set_b: list[Features]) -> dict[str, dict[str, float]]:
    """Per feature: MGEval's intra-set (A with A) and inter-set (A with B) distances.

    Distances are |x - y| for scalar features and the Euclidean norm for the histograms and
    the transition matrix. For each feature the result holds the means and standard
    deviations of both distance samples and `kl` = KL(intra_A || inter_AB) and `overlap` =
    the area shared by their densities: B resembles A on a feature when the distances from
    B to A look like the distances within A (kl near 0, overlap near 1).
    """
    out: dict[str, dict[str, float]] = {}
    names = [f.name for f in fields(Features)]
    for name in names:
        a = [np.asarray(getattr(x, name), float) for x in set_a]
        b = [np.asarray(getattr(x, name), float) for x in set_b]
        intra = np.array([np.linalg.norm(x - y) for x, y in itertools.combinations(a, 2)])
        inter = np.array([np.linalg.norm(x - y) for x in a for y in b])
        kl, overlap = _kde_comparison(intra, inter)
        out[name] = {
            "intra_mean": float(intra.mean()) if len(intra) else float("nan"),
            "intra_std": float(intra.std()) if len(intra) else float("nan"),
            "inter_mean": float(inter.mean()) if len(inter) else float("nan"),
            "inter_std": float(inter.std()) if len(inter) else float("nan"),
            "kl": kl,
            "overlap": overlap,
        }
    return out
