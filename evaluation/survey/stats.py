"""Statistics of the listener survey: pure functions over plain numbers, no Django.

- `mean_ci`: mean with a two-sided Student t confidence interval.
- `proportion`: a rate with its Wilson score interval and an exact binomial test.
- `krippendorff_alpha`: inter-rater agreement for nominal, ordinal or interval data with
  missing values (listeners rate different clips, so most cells are empty).
- `summarise`: the whole results table from response rows.

Responses are not independent (one listener rates several clips, one clip is rated by several
listeners), so intervals over responses are narrower than they should be; `summarise`
therefore also reports accuracy averaged per listener (one number per person, t-interval).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

LEVEL = 0.95


def mean_ci(values: Iterable[float], level: float = LEVEL) -> dict[str, float | int | None]:
    """n, mean, sample sd and the t-interval of the mean (None where n is too small)."""
    data = np.asarray([float(v) for v in values if v is not None], dtype=float)
    n = int(data.size)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "low": None, "high": None}
    mean = float(data.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "sd": None, "low": None, "high": None}
    sd = float(data.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "low": mean - half, "high": mean + half}


def wilson_interval(k: int, n: int, level: float = LEVEL) -> tuple[float, float] | None:
    """The Wilson score interval of the proportion k/n (None when n is 0)."""
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and n, not {k} of {n}")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_p_value(k: int, n: int, p: float = 0.5) -> float | None:
    """Two-sided exact binomial test of k successes in n trials against rate p."""
    if n <= 0:
        return None
    return float(stats.binomtest(k, n, p, alternative="two-sided").pvalue)


def proportion(k: int, n: int, level: float = LEVEL) -> dict[str, Any]:
    """k of n as a rate, its Wilson interval and the exact test against chance (0.5)."""
    interval = wilson_interval(k, n, level)
    return {
        "k": k,
        "n": n,
        "rate": k / n if n else None,
        "low": interval[0] if interval else None,
        "high": interval[1] if interval else None,
        "p_value": binomial_p_value(k, n),
    }


def krippendorff_alpha(
    units: Mapping[Hashable, Sequence[Hashable | float | None]] | Iterable[Sequence[Any]],
    metric: str = "nominal",
) -> float | None:
    """Krippendorff's alpha: 1 − observed / expected disagreement.

    `units`: for each unit (a clip), the values the raters gave it (None = missing). Units
    with fewer than two values are not pairable and are left out. metric: "nominal",
    "ordinal" or "interval". None when fewer than two pairable values exist or every value
    is the same (the expected disagreement is 0: alpha is undefined).
    """
    if metric not in ("nominal", "ordinal", "interval"):
        raise ValueError(f"unknown metric {metric!r}; use nominal, ordinal or interval")
    groups = units.values() if isinstance(units, Mapping) else units
    pairable = [[v for v in g if v is not None] for g in groups]
    pairable = [g for g in pairable if len(g) >= 2]
    if not pairable:
        return None
    values = sorted({v for g in pairable for v in g})
    index = {v: i for i, v in enumerate(values)}
    size = len(values)
    # The coincidence matrix: each ordered pair of values within a unit, weighted 1/(m−1).
    coincidence = np.zeros((size, size))
    for g in pairable:
        counts = np.zeros(size)
        for v in g:
            counts[index[v]] += 1
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (len(g) - 1)
    marginals = coincidence.sum(axis=1)
    n = marginals.sum()
    delta = _distance_matrix(metric, values, marginals)
    observed = float((coincidence * delta).sum()) / n
    expected = float((np.outer(marginals, marginals) * delta).sum()) / (n * (n - 1))
    if expected == 0:
        return None
    return 1.0 - observed / expected


def _distance_matrix(metric: str, values: list, marginals: np.ndarray) -> np.ndarray:
    size = len(values)
    if metric == "nominal":
        return 1.0 - np.eye(size)
    if metric == "interval":
        x = np.asarray(values, dtype=float)
        return (x[:, None] - x[None, :]) ** 2
    # ordinal: the squared sum of the marginals between c and k, half of each end
    cumulative = np.concatenate([[0.0], np.cumsum(marginals)])
    delta = np.zeros((size, size))
    for c in range(size):
        for k in range(size):
            lo, hi = min(c, k), max(c, k)
            between = cumulative[hi + 1] - cumulative[lo]
            delta[c, k] = (between - (marginals[c] + marginals[k]) / 2) ** 2
    return delta


# --- the results table ---------------------------------------------------------------------


def group_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Ratings and judgements of a set of responses.

    Each row: is_human (the clip's true source), says_human (the listener's answer), liking,
    coherence, confidence, listener (an id). `correct` counts answers that named the true
    source; `judged_human` counts answers of "a person" whatever the truth.
    """
    n = len(rows)
    correct = sum(1 for r in rows if bool(r["says_human"]) == bool(r["is_human"]))
    judged_human = sum(1 for r in rows if r["says_human"])
    per_listener: dict[Any, list[int]] = defaultdict(list)
    for r in rows:
        per_listener[r["listener"]].append(int(bool(r["says_human"]) == bool(r["is_human"])))
    return {
        "n": n,
        "clips": len({r["clip"] for r in rows}) if rows and "clip" in rows[0] else None,
        "listeners": len(per_listener),
        "liking": mean_ci(r["liking"] for r in rows),
        "coherence": mean_ci(r["coherence"] for r in rows),
        "confidence": mean_ci(r["confidence"] for r in rows),
        "correct": proportion(correct, n),
        "judged_human": proportion(judged_human, n),
        "listener_accuracy": mean_ci(sum(v) / len(v) for v in per_listener.values()),
    }


def agreement(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Krippendorff's alpha over clips: origin answers (nominal), liking and coherence
    (interval)."""
    by_clip: dict[str, dict[Any, list]] = {"origin": {}, "liking": {}, "coherence": {}}
    for r in rows:
        by_clip["origin"].setdefault(r["clip"], []).append(bool(r["says_human"]))
        by_clip["liking"].setdefault(r["clip"], []).append(r["liking"])
        by_clip["coherence"].setdefault(r["clip"], []).append(r["coherence"])
    return {
        "origin": krippendorff_alpha(by_clip["origin"], "nominal"),
        "liking": krippendorff_alpha(by_clip["liking"], "interval"),
        "coherence": krippendorff_alpha(by_clip["coherence"], "interval"),
    }


def summarise(
    rows: Sequence[Mapping[str, Any]],
    *,
    group_of: Mapping[str, Sequence[str]],
    experiences: Sequence[str],
) -> dict[str, Any]:
    """The survey's results from response rows.

    rows carry, besides group_summary's keys, `clip` and `experience`. group_of maps a clip to
    the labels of the groups it belongs to (its run, its way, the human baseline...), in the
    order the table shows them.
    """
    groups: dict[str, list] = {}
    for labels in group_of.values():
        for label in labels:
            groups.setdefault(label, [])
    for r in rows:
        for label in group_of.get(r["clip"], ()):
            groups[label].append(r)
    by_experience = {
        level: group_summary([r for r in rows if (r.get("experience") or "") == level])
        for level in experiences
    }
    clips: dict[Any, list] = defaultdict(list)
    for r in rows:
        clips[r["clip"]].append(r)
    return {
        "overall": group_summary(rows),
        "groups": {label: group_summary(members) for label, members in groups.items()},
        "by_experience": by_experience,
        "agreement": agreement(rows),
        "clips": {
            clip: {
                "n": len(members),
                "judged_human": sum(1 for r in members if r["says_human"]) / len(members),
                "liking": mean_ci(r["liking"] for r in members)["mean"],
                "coherence": mean_ci(r["coherence"] for r in members)["mean"],
            }
            for clip, members in clips.items()
        },
    }
