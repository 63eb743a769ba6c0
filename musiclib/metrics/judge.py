"""An automated blind listener: can a plain classifier tell a run's tunes from human ones?

A classifier two-sample test (Lopez-Paz & Oquab, "Revisiting classifier two-sample tests",
2017): describe every tune by simple musical features, draw equal numbers of machine and
human tunes, and measure how often a cross-validated logistic regression names the side a
tune came from. 0.5 means the classifier cannot tell them apart; 1.0 means it always can.
The same test between two halves of the human tunes (a control of the same size) shows
what chance looks like on that many tunes.

Features (`FEATURES`, each with words a musician understands):
- pitch: the share of notes on each degree of the key (pitch classes above the tonic),
  the range;
- intervals: repeated notes, steps (1–2 semitones), thirds, fourths and fifths, larger
  leaps, mean interval, changes of direction;
- rhythm: the share of notes of each length (eighths, quarters, dotted…), how many
  different lengths, the share of the commonest one;
- form (`musiclib.metrics.form`): parts, bars per part, parts of 8 or 16 bars, repeats,
  endings, bars of the right length counting section ends, bars and phrases that come back,
  distinct melodic figures;
- ending: ends on the tonic, on the fifth, on the third, the length of the last note.

The classifier is an L2-regularised logistic regression in numpy (Newton's method on
standardised features; no extra dependency), scored by stratified k-fold cross-validation:
each tune is predicted by a model that never saw it. The 95 % interval is the Wilson score
interval over the 2n out-of-fold predictions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .form import Shape, form_measures

MIN_PER_SIDE = 10  # fewer tunes a side: no verdict (the interval would span most of 0..1)
FOLDS = 5
L2 = 1.0  # ridge penalty on standardised features (the intercept is not penalised)
DEGREE_NAMES = ("tonic", "♭2", "2nd", "♭3", "3rd", "4th", "♯4", "5th", "♭6", "6th", "♭7", "7th")
# Note lengths in quarter notes, with names; a note counts in the nearest (log scale).
LENGTHS = (
    (0.25, "sixteenths"),
    (1 / 3, "triplet eighths"),
    (0.5, "eighths"),
    (0.75, "dotted eighths"),
    (1.0, "quarters"),
    (1.5, "dotted quarters"),
    (2.0, "halves"),
    (3.0, "dotted halves"),
    (4.0, "whole notes"),
)


@dataclass(frozen=True)
class Feature:
    name: str
    label: str  # what it says, in words
    kind: str  # "share": a fraction shown as %; "yes": a yes/no shown as % of tunes; "number"
    group: str  # pitch, intervals, rhythm, form, ending


def _features() -> tuple[Feature, ...]:
    out = [
        Feature(f"degree_{k}", f"notes on the {DEGREE_NAMES[k]} of the key", "share", "pitch")
        for k in range(12)
    ]
    out += [
        Feature("range", "range (semitones)", "number", "pitch"),
        Feature("repeats_note", "repeated notes", "share", "intervals"),
        Feature("steps", "steps (a tone or semitone)", "share", "intervals"),
        Feature("thirds", "skips of a third", "share", "intervals"),
        Feature("fourths_fifths", "leaps of a fourth or fifth", "share", "intervals"),
        Feature("big_leaps", "leaps wider than a fifth", "share", "intervals"),
        Feature("mean_interval", "mean interval (semitones)", "number", "intervals"),
        Feature("turns", "changes of melodic direction", "share", "intervals"),
    ]
    out += [Feature(f"len_{k}", f"notes that are {name}", "share", "rhythm")
            for k, (_, name) in enumerate(LENGTHS)]  # fmt: skip
    out += [
        Feature("n_lengths", "different note lengths", "number", "rhythm"),
        Feature("main_length", "notes of the tune's commonest length", "share", "rhythm"),
        Feature("notes", "notes in the tune", "number", "form"),
        Feature("parts", "parts (sections)", "number", "form"),
        Feature("bars_per_part", "bars per part", "number", "form"),
        Feature("parts_8_16", "parts of 8 or 16 bars", "share", "form"),
        Feature("has_repeat", "has repeat signs", "yes", "form"),
        Feature("repeats", "repeat signs", "number", "form"),
        Feature("endings", "first and second endings", "number", "form"),
        Feature("bars", "bars in the tune", "number", "form"),
        Feature("bar_ok", "bars of the right length (section ends counted)", "share", "form"),
        Feature("repeated_bars", "bars that repeat an earlier bar", "share", "form"),
        Feature("repeated_phrases", "two-bar phrases that come back", "share", "form"),
        Feature(
            "distinct_patterns", "distinct 5-note figures (low: figures come back)", "share", "form"
        ),
        Feature("ends_on_tonic", "ends on the tonic", "yes", "ending"),
        Feature("ends_on_fifth", "ends on the fifth", "yes", "ending"),
        Feature("ends_on_third", "ends on the third", "yes", "ending"),
        Feature("last_length", "last note's length against the commonest", "number", "ending"),
    ]
    return tuple(out)


FEATURES = _features()
NAMES = tuple(f.name for f in FEATURES)
BY_NAME = {f.name: f for f in FEATURES}


def describe(shape: Shape) -> dict[str, float]:
    """The judge's features of one tune (NaN where one does not apply, e.g. no key)."""
    nan = float("nan")
    notes = [n for n in shape.notes if n.pitch >= 0]
    out: dict[str, float] = dict.fromkeys(NAMES, nan)
    pitch = np.array([n.pitch for n in notes], float)
    out["notes"] = float(len(notes))
    if len(notes):
        if shape.tonic is not None:
            degrees = np.bincount(((pitch - shape.tonic) % 12).astype(int), minlength=12)
            for k in range(12):
                out[f"degree_{k}"] = float(degrees[k] / len(notes))
        out["range"] = float(pitch.max() - pitch.min())
        lengths = np.array([n.duration for n in notes], float)
        centres = np.log2([c for c, _ in LENGTHS])
        nearest = np.abs(np.log2(np.maximum(lengths, 1e-6))[:, None] - centres).argmin(1)
        hist = np.bincount(nearest, minlength=len(LENGTHS)) / len(notes)
        for k in range(len(LENGTHS)):
            out[f"len_{k}"] = float(hist[k])
        rounded = np.round(lengths, 3)
        values, counts = np.unique(rounded, return_counts=True)
        out["n_lengths"] = float(len(values))
        out["main_length"] = float(counts.max() / len(notes))
        out["last_length"] = float(lengths[-1] / values[counts.argmax()])
    if len(notes) > 1:
        step = np.abs(np.diff(pitch))
        out["repeats_note"] = float(np.mean(step == 0))
        out["steps"] = float(np.mean((step >= 1) & (step <= 2)))
        out["thirds"] = float(np.mean((step >= 3) & (step <= 4)))
        out["fourths_fifths"] = float(np.mean((step >= 5) & (step <= 7)))
        out["big_leaps"] = float(np.mean(step > 7))
        out["mean_interval"] = float(step.mean())
        moves = np.sign(np.diff(pitch))
        moves = moves[moves != 0]
        out["turns"] = float(np.mean(moves[1:] != moves[:-1])) if len(moves) > 1 else nan
    form = form_measures(shape)
    for name in ("parts", "bars_per_part", "parts_8_16", "has_repeat", "repeats", "endings",
                 "bars", "bar_ok", "repeated_bars", "repeated_phrases", "distinct_patterns",
                 "ends_on_tonic", "ends_on_fifth", "ends_on_third"):  # fmt: skip
        out[name] = form[name]
    return out


# --- the second listener ------------------------------------------------------------------
# Features the listener above never reads: a second verdict on the same tunes. A change
# chosen by what one listener hears (a critic, `metrics.critic`, fitted on its features
# alone) is checked by the other: what it moves there, it moved for more than the features
# it was chosen by (docs/quality.md §6, *The critic*). The site's critics read both.
# - contours: each pair of consecutive intervals by class (down or up a leap wider than a
#   fifth, a fourth or fifth, a third, a step; a repeated note), as a share of the pairs;
# - rhythm pairs: each pair of consecutive note lengths (nearest of SECOND_LENGTHS);
# - downbeats: the degree of each bar's first note, and how often a bar's first note and its
#   other notes are notes of the tonic triad.
SECOND_LENGTHS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # quarter notes


def _interval_class(semitones: int) -> int:
    size = abs(semitones)
    step = 0 if size == 0 else 1 if size <= 2 else 2 if size <= 4 else 3 if size <= 7 else 4
    return step if semitones >= 0 else -step


SECOND_NAMES = (
    *(f"contour_{a}_{b}" for a in range(-4, 5) for b in range(-4, 5)),
    *(f"rhythm_{a}_{b}" for a in range(len(SECOND_LENGTHS)) for b in range(len(SECOND_LENGTHS))),
    *(f"downbeat_degree_{k}" for k in range(12)),
    "downbeat_triad",
    "offbeat_triad",
)


def second_describe(shape: Shape) -> dict[str, float]:
    """The second listener's features of one tune (NaN where one does not apply)."""
    out: dict[str, float] = dict.fromkeys(SECOND_NAMES, float("nan"))
    notes = [n for n in shape.notes if n.pitch >= 0]
    if len(notes) < 3:
        return out
    pitch = np.array([n.pitch for n in notes])
    classes = [_interval_class(int(d)) for d in np.diff(pitch)]
    pairs = np.zeros((9, 9))
    for a, b in zip(classes[:-1], classes[1:], strict=True):
        pairs[a + 4, b + 4] += 1
    pairs /= pairs.sum()
    centres = np.log2(SECOND_LENGTHS)
    lengths = [int(np.abs(np.log2(max(n.duration, 1e-6)) - centres).argmin()) for n in notes]
    rhythm = np.zeros((len(SECOND_LENGTHS),) * 2)
    for a, b in zip(lengths[:-1], lengths[1:], strict=True):
        rhythm[a, b] += 1
    rhythm /= rhythm.sum()
    for a in range(9):
        for b in range(9):
            out[f"contour_{a - 4}_{b - 4}"] = float(pairs[a, b])
    for a in range(len(SECOND_LENGTHS)):
        for b in range(len(SECOND_LENGTHS)):
            out[f"rhythm_{a}_{b}"] = float(rhythm[a, b])
    if shape.tonic is None:
        return out
    firsts = {b.first for b in shape.bars if b.first < b.stop and shape.notes[b.first].pitch >= 0}
    if not firsts:
        return out
    triad = {0, 3 if shape.minor else 4, 7}
    degree = [(shape.notes[i].pitch - shape.tonic) % 12 for i in sorted(firsts)]
    counts = np.bincount(degree, minlength=12) / len(degree)
    for k in range(12):
        out[f"downbeat_degree_{k}"] = float(counts[k])
    out["downbeat_triad"] = float(np.mean([d in triad for d in degree]))
    others = [
        (n.pitch - shape.tonic) % 12
        for i, n in enumerate(shape.notes)
        if i not in firsts and n.pitch >= 0
    ]
    if others:
        out["offbeat_triad"] = float(np.mean([d in triad for d in others]))
    return out


# --- the classifier ----------------------------------------------------------------------


def _matrix(rows: Sequence[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[row.get(n, np.nan) for n in names] for row in rows], float)


def _usable(a: np.ndarray, b: np.ndarray) -> list[int]:
    """Columns defined for at least one tune on each side and not constant over both."""
    both = np.vstack([a, b])
    keep = []
    for j in range(both.shape[1]):
        col = both[:, j]
        if np.isfinite(a[:, j]).any() and np.isfinite(b[:, j]).any():
            finite = col[np.isfinite(col)]
            if finite.size and finite.max() - finite.min() > 1e-12:
                keep.append(j)
    return keep


def _fit(x: np.ndarray, y: np.ndarray, *, l2: float = L2, steps: int = 25) -> np.ndarray:
    """Weights (intercept first) of an L2-regularised logistic regression, Newton's method.

    BLAS on one thread: the systems are small (up to about 200 unknowns), and a second
    BLAS thread that waits for a busy core (a training beside it) made each solve 6 to 40
    times slower than one thread (0.26 ms against 1.6 ms at load 2; 11 ms in the tests)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _newton(x, y, l2=l2, steps=steps)


def _newton(x: np.ndarray, y: np.ndarray, *, l2: float, steps: int) -> np.ndarray:
    xb = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + penalty * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        delta = np.linalg.solve(hess, grad)
        w -= delta
        if np.abs(delta).max() < 1e-8:
            break
    return w


def _prepare(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Missing values → the training fold's mean (plus a column saying it was missing, for
    columns with gaps); then standardised by the training fold."""
    mean = np.nanmean(np.where(np.isfinite(train), train, np.nan), axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    gaps = np.flatnonzero(~np.isfinite(train).all(0) | ~np.isfinite(test).all(0))

    def fill(m: np.ndarray) -> np.ndarray:
        missing = ~np.isfinite(m)
        filled = np.where(missing, mean, m)
        return np.hstack([filled, missing[:, gaps].astype(float)])

    a, b = fill(train), fill(test)
    sd = a.std(0)
    sd[sd < 1e-9] = 1.0
    mu = a.mean(0)
    return (a - mu) / sd, (b - mu) / sd


def cross_validated_accuracy(
    x: np.ndarray, y: np.ndarray, *, folds: int = FOLDS, seed: int = 0
) -> float:
    """Share of tunes whose side a model trained on the other folds names right."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), int)
    for label in (0, 1):  # stratified: each fold holds as many of each side
        idx = rng.permutation(np.flatnonzero(y == label))
        fold[idx] = np.arange(len(idx)) % folds
    correct = 0
    for k in range(folds):
        test = fold == k
        if not test.any() or test.all():
            continue
        a, b = _prepare(x[~test], x[test])
        w = _fit(a, y[~test])
        predicted = (np.hstack([np.ones((len(b), 1)), b]) @ w) > 0
        correct += int(np.sum(predicted == (y[test] == 1)))
    return correct / len(y)


def wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def two_sample(
    a: Sequence[dict[str, float]],
    b: Sequence[dict[str, float]],
    *,
    seed: int = 0,
    names: Sequence[str] = NAMES,
) -> dict[str, float | int]:
    """Cross-validated accuracy of telling set a from set b, on equal-sized draws, by the
    features `names` (all of them unless given: a subset says what a group alone tells)."""
    n = min(len(a), len(b))
    if n < MIN_PER_SIDE:
        return {"n": n, "accuracy": None, "low": None, "high": None}
    rng = np.random.default_rng(seed)
    ia = rng.choice(len(a), n, replace=False)
    ib = rng.choice(len(b), n, replace=False)
    xa, xb = _matrix([a[i] for i in ia], names), _matrix([b[i] for i in ib], names)
    keep = _usable(xa, xb)
    x = np.vstack([xa[:, keep], xb[:, keep]])
    y = np.r_[np.zeros(n), np.ones(n)]
    if not keep:
        accuracy = 0.5  # nothing to tell them apart by
    else:
        accuracy = cross_validated_accuracy(x, y, seed=seed)
    low, high = wilson(accuracy * 2 * n, 2 * n)
    return {"n": n, "accuracy": accuracy, "low": low, "high": high}


def _auc(a: np.ndarray, b: np.ndarray) -> float:
    """P(a value from b > one from a) + half the ties: 0.5 when one feature alone cannot
    tell the sets apart."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return float("nan")
    ranks = _ranks(np.r_[a, b])
    rb = ranks[len(a) :].sum()
    return float((rb - len(b) * (len(b) + 1) / 2) / (len(a) * len(b)))


def _ranks(v: np.ndarray) -> np.ndarray:
    order = v.argsort(kind="mergesort")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(1, len(v) + 1)
    for value in np.unique(v):  # average ranks of ties
        same = v == value
        if same.sum() > 1:
            ranks[same] = ranks[same].mean()
    return ranks


def summary(values: np.ndarray, kind: str) -> float | None:
    """The figure a person reads for one side: the mean for shares and yes/no (as a %), the
    median for counts."""
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    return float(values.mean() if kind in ("share", "yes") else np.median(values))


def fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "–"
    if kind in ("share", "yes"):
        return f"{100 * value:.0f} %"
    return f"{value:.1f}" if abs(value) < 10 and value != round(value) else f"{value:.0f}"


def compare(
    human: Sequence[dict[str, float]], machine: Sequence[dict[str, float]]
) -> list[dict[str, object]]:
    """Every feature on both sides, most telling first: the human and machine figures, and
    how well the feature alone separates them (|AUC − 0.5| × 2: 0 = not at all, 1 = fully)."""
    xh, xm = _matrix(human, NAMES), _matrix(machine, NAMES)
    rows = []
    for j, feature in enumerate(FEATURES):
        auc = _auc(xh[:, j], xm[:, j])
        h, m = summary(xh[:, j], feature.kind), summary(xm[:, j], feature.kind)
        if math.isnan(auc) or h is None or m is None:
            continue
        rows.append(
            {
                "name": feature.name,
                "label": feature.label,
                "group": feature.group,
                "kind": feature.kind,
                "human": h,
                "machine": m,
                "separation": abs(auc - 0.5) * 2,
                "sentence": f"{feature.label}: human {fmt(h, feature.kind)}, "
                f"this run {fmt(m, feature.kind)}",
            }
        )
    rows.sort(key=lambda r: -float(r["separation"]))  # type: ignore[arg-type]
    return rows


def _with_control(
    human: Sequence[dict[str, float]],
    machine: Sequence[dict[str, float]],
    *,
    seed: int,
    names: Sequence[str],
) -> dict[str, object]:
    """`two_sample` of machine against human by `names`, with the human-vs-human control on
    two halves of the human tunes (as large as the test where the human tunes allow)."""
    test = two_sample(human, machine, seed=seed, names=names)
    order = np.random.default_rng(seed + 1).permutation(len(human))
    half = min(len(human) // 2, int(test["n"]))
    first, second = order[:half], order[half : 2 * half]
    control = two_sample(
        [human[i] for i in first], [human[i] for i in second], seed=seed, names=names
    )
    return {**test, "control": control}


def second_judge(
    *, machine: Sequence[dict[str, float]], human: Sequence[dict[str, float]], seed: int = 0
) -> dict[str, object]:
    """The second listener's verdict (features from `second_describe`): accuracy with its
    95 % interval on equal-sized sets, and the human-vs-human control, as `judge`'s."""
    return _with_control(human, machine, seed=seed, names=SECOND_NAMES)


def judge(
    *,
    machine: Sequence[dict[str, float]],
    human: Sequence[dict[str, float]],
    seed: int = 0,
    giveaways: int = 5,
) -> dict[str, object]:
    """The blind listener's verdict on machine tunes against human tunes (feature dicts
    from `describe`): accuracy with its 95 % interval on equal-sized sets, the human-vs-human
    control on two halves of the human tunes (as large as the test where the human tunes
    allow), the features that give the machine away most, and every feature compared."""
    test = _with_control(human, machine, seed=seed, names=NAMES)
    control = test.pop("control")
    rows = compare(human, machine)
    return {
        "n": test["n"],
        "accuracy": test["accuracy"],
        "low": test["low"],
        "high": test["high"],
        "control": control,
        "n_human": len(human),
        "n_machine": len(machine),
        "giveaways": [r["sentence"] for r in rows[:giveaways]],
        "features": rows,
    }
