"""The form of a tune: parts, bars counting section ends, repeats, endings, the last note."""

from __future__ import annotations

import math

from metrics_corpus import ONEILL_FILES, bundled_abc

from musiclib.metrics.form import (
    bar_line_intervals,
    form_measures,
    form_shape_row,
    key_tonic,
    part_lengths,
    section_bar_counts,
    shape_from_abc,
    shape_from_events,
)
from musiclib.metrics.notes import notes_from_abc
from musiclib.metrics.phrases import PhraseIndex
from musiclib.ways.abc_grammar import WHOLE_CLOSE

JIG = """X:1
M:6/8
L:1/8
K:G
D|:GAB cBA|GAB d2D|GAB cBA|[1 G3 G2D:|[2 G3 G2||
|:g|fed cBA|GAB d2g|fed cBA|G3 G2:|
"""


def test_it_reads_the_key_tonic_and_mode():
    assert key_tonic("G") == (7, False)
    assert key_tonic("Ador") == (9, False)
    assert key_tonic("Em") == (4, True)
    assert key_tonic("Bb") == (10, False)
    assert key_tonic("") == (None, False)


def test_a_pickup_before_the_repeat_opens_the_first_part():
    shape = shape_from_abc(abc=JIG)
    assert len(shape.sections) == 2
    assert shape.bars[shape.sections[0][0]].length == 0.5  # the pickup D
    assert shape.bars[shape.sections[1][0]].length == 0.5  # the pickup g of the B part


def test_a_pickup_and_its_closing_bar_make_one_bar():
    good, checked = section_bar_counts(shape_from_abc(abc=JIG))
    assert good == checked > 10


def test_a_broken_closing_bar_fails_where_the_old_check_looked_away():
    broken = JIG.replace("G3 G2:|\n", "G3 G:|\n")  # the B part's closing bar a note short
    good, checked = section_bar_counts(shape_from_abc(abc=broken))
    # only the closing bar: the pickup g still completes the A part's last bar, G3 G2
    assert checked - good == 1


def test_a_bar_line_ending_a_line_and_one_beginning_the_next_are_one_bar_line():
    # O'Neill writes a line's last bar line and the next line's first: one bar line in
    # the middle of an 8-bar part, not a double bar splitting it in two
    line = "| ABcd efge | ABcd efge | ABcd efge | ABcd efge |\n"
    reel = "X:1\nM:C\nL:1/8\nK:D\n" + line + line.replace("|\n", ":|\n")
    assert [round(n) for n in part_lengths(shape_from_abc(abc=reel))] == [8]
    doubled = reel.replace("efge |\n|", "efge ||\n|", 1)  # a double bar is a part's end
    assert [round(n) for n in part_lengths(shape_from_abc(abc=doubled))] == [4, 4]


def test_the_tunes_opening_pickup_and_its_last_bar_make_one_bar_round_to_the_top():
    # the A part's closing bar is whole and the B part has no pickup: the tune's last bar,
    # short by the opening pickup, completes it when the tune is played again
    tune = "X:1\nM:2/4\nL:1/8\nK:D\nA|d2 fd|e2 ce|d2 fd|e2 d2||\nc2 ec|d2 fd|e2 ce|d3|]\n"
    good, checked = section_bar_counts(shape_from_abc(abc=tune))
    assert good == checked == 9
    longer = tune.replace("d3|]", "d4|]")  # a whole last bar: the opening pickup is alone
    good, checked = section_bar_counts(shape_from_abc(abc=longer))
    assert checked - good == 1


def test_a_part_with_two_endings_counts_its_body_and_first_ending():
    assert [round(n) for n in part_lengths(shape_from_abc(abc=JIG))] == [4, 4]


def test_form_measures_of_a_tune_with_repeats_and_endings():
    m = form_measures(shape_from_abc(abc=JIG))
    assert m["parts"] == 2 and m["has_repeat"] == 1.0
    assert m["repeats"] == 2 and m["endings"] == 2
    assert m["ends_on_tonic"] == 1.0 and m["ends_on_fifth"] == 0.0
    assert m["repeated_bars"] == 0.3  # 3 of the 10 bars after the first: GAB cBA, fed cBA, G3 G2


def test_a_tune_that_never_repeats_itself_has_no_repeated_bars():
    m = form_measures(
        shape_from_abc(abc="X:1\nM:4/4\nL:1/8\nK:C\nCDEF GABc|dcBA GFED|CEGc ecGE|C8|\n")
    )
    assert m["repeated_bars"] == 0.0
    assert m["ends_on_tonic"] == 1.0 and m["parts"] == 1 and m["bars"] == 4


def test_it_reads_the_form_of_an_event_text():
    shape = shape_from_events(text="M:4/4 K:-1 n65_1 n67_1 n69_1 n70_1 | n72_2 n72_2 | n65_4")
    assert shape.tonic == 5  # one flat: F major
    assert [b.length for b in shape.bars] == [4.0, 4.0, 4.0]
    assert section_bar_counts(shape) == (3, 3)
    assert form_measures(shape)["ends_on_tonic"] == 1.0


def test_most_oneill_tunes_come_in_parts_of_eight_bars_and_end_on_the_tonic():
    tunes = [t for f in ONEILL_FILES for t in bundled_abc("oneills1850", f)]
    measures = [form_measures(shape_from_abc(abc=t)) for t in tunes]
    tonic = [m["ends_on_tonic"] for m in measures if not math.isnan(m["ends_on_tonic"])]
    eights = [m["parts_8_16"] for m in measures if not math.isnan(m["parts_8_16"])]
    assert sum(tonic) / len(tonic) > 0.7
    assert sum(eights) / len(eights) > 0.6


def test_phrase_idiom_counts_long_phrases_as_well_as_short_ones():
    tune = notes_from_abc(abc=JIG)
    index = PhraseIndex([tune])
    assert index.idiom(notes=tune) == 1.0
    # the same first five notes, then a walk the corpus never plays: short phrases are
    # still found, long ones are not
    other = notes_from_abc(abc="X:1\nM:6/8\nL:1/8\nK:G\nDGABc e^fa g=fe|\n")
    shares = index.shares(notes=other)
    assert shares[4] > shares[8] == 0.0


def test_a_tunes_shape_row_holds_its_parts_repeats_last_degree_and_meter():
    # two parts of 4 bars, each repeated (the first through its endings: 2), ending on G in G
    # (its last note, G2 in 6/8, a third of the bar: 4 twelfths), in 6/8
    assert form_shape_row(shape_from_abc(abc=JIG)) == [0, 4, 2, 4, 1, 0, 0, 0, 0, 4, 6, 8]
    once = "X:1\nM:4/4\nL:1/8\nK:C\n" + "CDEF GABc|" * 3 + "G8||\n" + "CDEF GABc|" * 3 + "E8|]\n"
    # ends on the third, a whole bar long
    assert form_shape_row(shape_from_abc(abc=once)) == [2, 4, 0, 4, 0, 0, 0, 0, 0, 12, 4, 4]
    # C| is two minims a bar
    cut = once.replace("M:4/4", "M:C|")
    assert form_shape_row(shape_from_abc(abc=cut))[-2:] == [2, 2]
    # a tune of five parts is more than the form rules follow: no shape
    five = "X:1\nM:4/4\nL:1/8\nK:C\n" + "CDEF GABc|C8||\n" * 5
    assert form_shape_row(shape_from_abc(abc=five))[0] == -1


def test_a_shape_row_marks_a_part_that_closes_on_a_whole_bar_after_its_pickup():
    bar = "CDEF GABc|"
    # a pickup of one eighth, and the closing bar whole: a bar and an eighth (people's way
    # in 15 % of Nottingham's tunes: the pickup is played the first time only)
    whole = "X:1\nM:4/4\nL:1/8\nK:C\n|:G|" + bar * 3 + "c8:|\n|:" + bar * 3 + "C8:|\n"
    row = form_shape_row(shape_from_abc(abc=whole))
    assert row[1:5] == [4, 1 + WHOLE_CLOSE, 4, 1]
    # the closing bar that makes one bar with the pickup is the form's plain case
    short = whole.replace("c8:|", "c7:|")
    assert form_shape_row(shape_from_abc(abc=short))[1:5] == [4, 1, 4, 1]


def test_intervals_are_sorted_by_the_bar_line_they_cross():
    # the third bar repeats the first: the line leaps a sixth into it (A down to C) and a
    # fourth out of it (c down to G)
    tune = "X:1\nM:4/4\nL:1/8\nK:C\nCDEF GABc|c2B2 A4|CDEF GABc|G8|]\n"
    places = bar_line_intervals(shape_from_abc(abc=tune))
    assert places["entry"] == [9]
    assert places["exit"] == [5]
    assert places["other"] == [0]
    assert sorted(places["within"]) == sorted([2, 2, 1, 2, 2, 2, 1] * 2 + [1, 2])
