"""Plot geometry for inline SVG charts drawn by the templates (no JavaScript, no CDN).

Each builder returns a dict of pixel coordinates and labels for a template in
templates/evaluation/ (`_line_chart.html`, `_histogram.html`, `_bar_pairs.html`), or None
when there is nothing to draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 26, 40


def _nice_step(span: float, target: int = 5) -> float:
    raw = span / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2g}"


def _frame(width: int, height: int) -> dict[str, float]:
    return {
        "width": width,
        "height": height,
        "left": LEFT,
        "right": width - RIGHT,
        "top": TOP,
        "bottom": height - BOTTOM,
    }


def line_chart(
    *,
    series: Sequence[dict[str, Any]],
    y_label: str,
    x_label: str = "epoch",
    y_max: float | None = None,
    percent: bool = False,
    hlines: Sequence[dict[str, Any]] = (),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> dict[str, Any] | None:
    """series: [{"key", "label", "points": [(x, y or None)], "dashed": bool}]; None values
    break the line. hlines: [{"y", "label", "key"}], e.g. a threshold."""
    xs = sorted({x for s in series for x, y in s["points"] if y is not None})
    ys = [y for s in series for _, y in s["points"] if y is not None]
    ys += [h["y"] for h in hlines if h.get("y") is not None]
    if not xs or not ys:
        return None
    f = _frame(width, height)
    top_value = y_max if y_max is not None else max(ys)
    step = _nice_step(top_value or 1.0, 4)
    top_value = max(step, math.ceil((top_value or 1.0) / step - 1e-9) * step)
    x0, x1 = xs[0], xs[-1]

    def px(x: float) -> float:
        if x1 == x0:
            return (f["left"] + f["right"]) / 2
        return round(f["left"] + (x - x0) / (x1 - x0) * (f["right"] - f["left"]), 1)

    def py(y: float) -> float:
        return round(f["bottom"] - y / top_value * (f["bottom"] - f["top"]), 1)

    out_series = []
    for s in series:
        path, points, pen_down = [], [], False
        for x, y in s["points"]:
            if y is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{px(x)},{py(y)}")
            pen_down = True
            label = _fmt(y, True) if percent else f"{y:.3g}"
            points.append({"x": px(x), "y": py(y), "at": x, "label": label})
        if points:
            out_series.append(
                {
                    "key": s["key"],
                    "label": s["label"],
                    "dashed": bool(s.get("dashed")),
                    "path": " ".join(path),
                    "points": points,
                }
            )
    n_ticks = min(len(xs), 10)
    tick_xs = [xs[round(i * (len(xs) - 1) / max(n_ticks - 1, 1))] for i in range(n_ticks)]
    return {
        **f,
        "x_label": x_label,
        "y_label": y_label,
        "series": out_series,
        "x_ticks": [{"x": px(x), "label": str(x)} for x in dict.fromkeys(tick_xs)],
        "y_ticks": [
            {"y": py(i * step), "label": _fmt(i * step, percent)}
            for i in range(int(round(top_value / step)) + 1)
        ],
        "hlines": [
            {"y": py(h["y"]), "label": h["label"], "key": h.get("key", "threshold")}
            for h in hlines
            if h.get("y") is not None
        ],
    }


def histogram(
    *,
    values: Sequence[float | None],
    x_label: str,
    threshold: float | None = None,
    threshold_label: str = "",
    bins: int | None = None,
    integer: bool = False,
    percent: bool = False,
    marker: float | None = None,
    marker_label: str = "",
    width: int = WIDTH,
    height: int = 220,
) -> dict[str, Any] | None:
    """Counts of values in equal bins (one bin per integer for integer data), with an
    optional vertical threshold line and an optional marker (e.g. "this piece")."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return None
    f = _frame(width, height)
    lo, hi = min(vals), max(vals)
    extra = [v for v in (threshold, marker) if v is not None]
    lo, hi = min([lo, *extra]), max([hi, *extra])
    if integer:
        lo, hi = math.floor(lo), math.floor(hi) + 1
        edges = list(range(int(lo), int(hi) + 1))
        if len(edges) > 41:  # group integers into wider bins
            step = math.ceil((hi - lo) / 40)
            edges = list(range(int(lo), int(hi) + step, step))
    else:
        n = bins or 20
        if hi == lo:
            hi = lo + 1
        edges = [lo + (hi - lo) * i / n for i in range(n + 1)]
    counts = [0] * (len(edges) - 1)
    for v in vals:
        k = next((i for i in range(len(counts)) if v < edges[i + 1]), len(counts) - 1)
        counts[k] += 1
    span = edges[-1] - edges[0]
    top = max(counts)
    step = _nice_step(top, 4)
    top_value = max(step, math.ceil(top / step) * step)

    def px(x: float) -> float:
        return round(f["left"] + (x - edges[0]) / span * (f["right"] - f["left"]), 1)

    def py(y: float) -> float:
        return round(f["bottom"] - y / top_value * (f["bottom"] - f["top"]), 1)

    bars = []
    for i, c in enumerate(counts):
        x_a, x_b = px(edges[i]), px(edges[i + 1])
        lo_label = _fmt(edges[i], percent)
        hi_label = _fmt(edges[i + 1] - (1 if integer else 0), percent)
        bars.append(
            {
                "x": round(x_a + 0.5, 1),
                "w": round(max(x_b - x_a - 1, 0.5), 1),
                "y": py(c),
                "h": round(f["bottom"] - py(c), 1),
                "count": c,
                "range": lo_label if integer and lo_label == hi_label else f"{lo_label}–{hi_label}",
                # Flagged means strictly above the threshold: for integers, bins > it.
                "over": threshold is not None
                and (edges[i] > threshold if integer else edges[i] >= threshold),
            }
        )
    if integer:  # under the middle of every bin (thinned to ~12 labels), its first value
        every = math.ceil(len(counts) / 12)
        x_ticks = [
            {"x": round((px(edges[i]) + px(edges[i + 1])) / 2, 1), "label": _fmt(edges[i], False)}
            for i in range(0, len(counts), every)
        ]
    else:
        x_ticks = [
            {"x": px(edges[0] + span * i / 5), "label": _fmt(edges[0] + span * i / 5, percent)}
            for i in range(6)
        ]
    # An integer value's marker sits in the middle of its bar.
    centre = 0.5 if integer else 0.0
    return {
        **f,
        "x_label": x_label,
        "bars": bars,
        "n": len(vals),
        "x_ticks": x_ticks,
        "y_ticks": [
            {"y": py(i * step), "label": _fmt(i * step, False)}
            for i in range(int(round(top_value / step)) + 1)
        ],
        # For integers the line sits where the flagged bins begin, after floor(threshold).
        "threshold": None
        if threshold is None
        else {
            "x": px(math.floor(threshold) + 1 if integer else threshold),
            "label": threshold_label,
        },
        "marker": None if marker is None else _marker(px(marker + centre), marker_label, f),
    }


def _marker(x: float, label: str, frame: dict[str, Any]) -> dict[str, Any]:
    """A vertical marker's line and label: the label to the line's left, or to its right in
    the plot's left half (at the left edge a label to the left ran off the chart)."""
    right = x < (frame["left"] + frame["right"]) / 2
    return {
        "x": x,
        "label": label,
        "label_x": round(x + 4 if right else x - 4, 1),
        "anchor": "start" if right else "end",
    }


def bar_pairs(
    *,
    rows: Sequence[dict[str, Any]],
    a_label: str,
    b_label: str,
    width: int = 900,
    row_height: int = 30,
) -> dict[str, Any] | None:
    """Two horizontal bars per row on a 0..1 scale: rows [{"label", "a", "b"}] (None: no
    bar). For overlap areas: the run's pieces against the human-against-human baseline."""
    rows = [r for r in rows if r.get("a") is not None or r.get("b") is not None]
    if not rows:
        return None
    label_w = 210
    left, right, top = label_w, width - 40, 8
    height = top + row_height * len(rows) + 36

    def px(v: float) -> float:
        return round(left + max(0.0, min(1.0, v)) * (right - left), 1)

    out = []
    for i, r in enumerate(rows):
        y = top + i * row_height
        out.append(
            {
                "label": r["label"],
                "y_label": y + row_height / 2,
                "a": None
                if r.get("a") is None
                else {"y": y + 4, "w": round(px(r["a"]) - left, 1), "value": r["a"]},
                "b": None
                if r.get("b") is None
                else {"y": y + 15, "w": round(px(r["b"]) - left, 1), "value": r["b"]},
            }
        )
    bottom = top + row_height * len(rows)
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "rows": out,
        "a_label": a_label,
        "b_label": b_label,
        "x_ticks": [{"x": px(t / 4), "label": f"{t * 25}%"} for t in range(5)],
    }


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1.0
    import math

    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.5 and len(ticks) < 12:
        ticks.append(round(value, 10))
        value += step
    return ticks


def loss_chart(history: list[dict[str, Any]], *, epochs: int) -> dict[str, Any] | None:
    """The training and validation loss by epoch as SVG coordinates (drawn server-side)."""
    points = [h for h in history or [] if h.get("loss") is not None]
    if not points:
        return None
    width, height = 640, 260
    left, right, top, bottom = 52, 16, 14, 34
    values = [h["loss"] for h in points] + [
        h["val_loss"] for h in points if h.get("val_loss") is not None
    ]
    ticks = nice_ticks(min(values) * 0.95, max(values) * 1.02)
    y0, y1 = ticks[0], ticks[-1]
    last_epoch = max(max(h["epoch"] for h in points), epochs or 1)
    first_epoch = 1

    def x(epoch: float) -> float:
        span = max(last_epoch - first_epoch, 1)
        return round(left + (epoch - first_epoch) / span * (width - left - right), 1)

    def y(value: float) -> float:
        return round(top + (y1 - value) / (y1 - y0) * (height - top - bottom), 1)

    def series(key: str) -> dict[str, Any]:
        pts = [
            (x(h["epoch"]), y(h[key]), h["epoch"], h[key]) for h in points if h.get(key) is not None
        ]
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{px},{py}" for i, (px, py, _, _) in enumerate(pts)
        )
        return {
            "path": path,
            "points": [{"x": px, "y": py, "epoch": e, "value": f"{v:.4f}"} for px, py, e, v in pts],
        }

    # Epochs that began at a lower learning rate than the one before (the run cut it after
    # epochs without a gain): marked on the chart, as the curve often bends there.
    cuts = [
        {"x": x(h["epoch"]), "epoch": h["epoch"], "rate": f"{h['learning_rate']:g}"}
        for before, h in zip(points[:-1], points[1:], strict=True)
        if h.get("learning_rate") is not None
        and before.get("learning_rate") is not None
        and h["learning_rate"] < before["learning_rate"]
    ]
    step = max(1, round((last_epoch - first_epoch + 1) / 10))
    x_ticks = [
        {"x": x(e), "label": e}
        for e in range(first_epoch, last_epoch + 1)
        if (e - first_epoch) % step == 0 or e == last_epoch
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "y_ticks": [{"y": y(t), "label": f"{t:g}"} for t in ticks],
        "x_ticks": x_ticks,
        "loss": series("loss"),
        "val_loss": series("val_loss"),
        "has_val": any(h.get("val_loss") is not None for h in points),
        "cuts": cuts,
        "label_y": (height - bottom) + 28,
    }
