"""The pure parts: melodies from MIDI-way text, the vectorised MGEval comparison, charts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from common import charts
from musiclib.metrics import statistics as st
from musiclib.metrics.features import features, intra_inter
from musiclib.metrics.melody import UnreadableText, notes_from_event_text, notes_from_text
from musiclib.metrics.notes import notes_from_music21
from musiclib.ways.midi_notes import parse_text, to_stream
from tests.factories import oneills_tunes


def test_a_midi_way_event_text_reads_as_the_melody_music21_reads_from_its_stream():
    text = (
        'T:"t" M:4/4 K:2 r_1/2 n62_1/2 n66_1 c55.59.67_1 | n69_1~ | n69_1 r_1 n71_1/3 n73_1/3 '
        "n74_1/3 n69_1 | c50.74_2 n62_3/2 n64_1/2"
    )
    ours = notes_from_event_text(text=text)
    theirs = notes_from_music21(stream=to_stream(parse_text(text))[0])
    flat = [x for n in ours for x in (n.pitch, n.duration, n.offset)]
    assert flat == pytest.approx([x for n in theirs for x in (n.pitch, n.duration, n.offset)])
    assert [n.pitch for n in ours] == [62, 66, 67, 69, 71, 73, 74, 69, 74, 62, 64]
    assert (ours[3].duration, ours[3].offset) == (2.0, 3.0)  # tied over the bar: one note


def test_a_text_that_cannot_be_read_raises_a_readable_error_and_an_empty_one_gives_no_notes():
    with pytest.raises(UnreadableText, match="cannot be read"):
        notes_from_text(text="X:1\nL:0/0\nK:C\nCDE|\n", way="abc")
    with pytest.raises(UnreadableText, match="audio"):
        notes_from_text(text="", way="audio")
    assert notes_from_text(text="X:1\nK:C\nz4|\n", way="abc") == []
    assert notes_from_text(text="r_4 | r_4", way="midi") == []


def test_compare_sets_gives_the_numbers_of_mgeval_intra_inter():
    from musiclib.metrics.notes import notes_from_abc

    melodies = [notes_from_abc(abc=t) for t in oneills_tunes(50)]
    feats = [features(notes=m) for m in melodies]
    rows = [st.features_to_json(f) for f in feats]
    expected = intra_inter(set_a=feats[:30], set_b=feats[30:])
    got = st.compare_sets(set_a=rows[:30], set_b=rows[30:])
    again = st.compare_sets(set_a=rows[:30], set_b=rows[30:], intra_a=st.intra_of(rows[:30]))
    assert set(got) == set(expected)
    for name, row in expected.items():
        for key, value in row.items():
            if math.isnan(value):
                assert math.isnan(got[name][key])
            else:
                assert got[name][key] == pytest.approx(value, rel=1e-4, abs=1e-6), (name, key)
                assert again[name][key] == got[name][key]


def test_json_safe_turns_nan_and_numpy_values_into_strict_json():
    value = {"a": float("nan"), "b": np.float32(0.5), "c": np.arange(3), "d": [np.inf, 1]}
    safe = st.json_safe(value)
    assert safe == {"a": None, "b": 0.5, "c": [0, 1, 2], "d": [None, 1]}
    json.dumps(safe, allow_nan=False)
    assert st.median([None, float("nan"), 3, 1]) == 2.0 and st.rate([True, None, False]) == 0.5


def test_a_line_chart_breaks_its_line_where_a_value_is_missing():
    chart = charts.line_chart(
        series=[{"key": "copy", "label": "copy", "points": [(1, 2), (2, None), (3, 4), (4, 5)]}],
        y_label="notes",
        hlines=[{"y": 6, "label": "threshold"}],
    )
    path = chart["series"][0]["path"]
    assert path.count("M") == 2 and path.count("L") == 1
    assert [t["label"] for t in chart["x_ticks"]] == ["1", "3", "4"]
    assert chart["hlines"][0]["y"] < chart["series"][0]["points"][-1]["y"]  # above the data
    assert charts.line_chart(series=[{"key": "a", "label": "a", "points": []}], y_label="") is None


def test_a_histogram_counts_every_value_and_marks_the_bins_over_the_threshold():
    chart = charts.histogram(values=[3, 4, 4, 5, 9, None], integer=True, x_label="notes",
                             threshold=5, marker=12)  # fmt: skip
    assert sum(b["count"] for b in chart["bars"]) == chart["n"] == 5
    assert [b["count"] for b in chart["bars"] if b["over"]] == [0, 0, 0, 1, 0, 0, 0]  # 6..12
    assert chart["threshold"]["x"] < chart["marker"]["x"]


def test_a_marker_at_the_left_edge_is_labelled_on_its_right_and_one_at_the_right_on_its_left():
    """A piece whose longest copy is the shortest of all: its label to the left of the line
    ran off the chart."""
    low = charts.histogram(values=[6, 8, 9, 30], integer=True, x_label="notes", marker=6,
                           marker_label="this piece")  # fmt: skip
    marker = low["marker"]
    assert marker["anchor"] == "start" and marker["label_x"] > marker["x"] >= low["left"]
    high = charts.histogram(values=[6, 8, 9, 30], integer=True, x_label="notes", marker=30)
    marker = high["marker"]
    assert marker["anchor"] == "end" and marker["label_x"] < marker["x"] <= high["right"]
