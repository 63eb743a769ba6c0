"""Grammar-aware sampling for the ABC way: what the constraint allows, on real and sampled text.

No test here touches the database or Django (like every test under tests/library).
States are built by feeding tune prefixes through the grammar and reading the mask.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from musiclib.ways.abc_grammar import AbcGrammar
from musiclib.ways.abc_text import WAY, split_tunes
from musiclib.ways.base import END, SPECIALS

HEADER = "M:4/4\nL:1/8\nK:G\n"
# Every character the two folk corpora use, so that masks are judged on a full vocabulary.
CHARS = "\n !\"#'()+,-./0123456789:<=>ABCDEFGHKLMPRSTZ[\\]^_abcdefgmuvxz{|}~"
VOCAB = [*SPECIALS, *sorted(set(CHARS))]


@pytest.fixture(scope="module")
def grammar() -> AbcGrammar:
    return AbcGrammar(VOCAB)


def allowed(grammar: AbcGrammar, text: str) -> set[str]:
    return grammar.allowed_after(text)


def oneills_texts(limit: int) -> list[str]:
    from music21 import corpus

    texts = []
    for path in sorted(corpus.getWork("oneills1850")):
        texts.extend(t for _, t in split_tunes(Path(path).read_text(encoding="latin-1")))
    return [WAY.normalise(t) for t in texts[:limit]]


# --- header ------------------------------------------------------------------------------------
def test_a_tune_starts_with_its_meter_line(grammar):
    assert allowed(grammar, "") == {"M"}


def test_header_lines_come_in_the_order_meter_unit_key(grammar):
    assert allowed(grammar, "M:6/8\n") == {"L"}
    assert allowed(grammar, "M:6/8\nL:1/8\n") == {"K"}
    assert "\n" not in allowed(grammar, "M:6/")  # an unfinished meter cannot end its line
    assert "\n" in allowed(grammar, "M:6/8")


def test_the_body_starts_after_the_key_line(grammar):
    after = allowed(grammar, HEADER)
    assert {"A", "g", "|", '"'} <= after
    assert "\n" not in after and END not in after  # no blank line, no empty tune


# --- constructs that must close ----------------------------------------------------------------
def test_a_chord_symbol_never_stays_open_at_a_line_end_or_at_the_end(grammar):
    inside = allowed(grammar, HEADER + 'A2 B2 c2 d2|"G')
    assert "\n" not in inside and END not in inside and "|" not in inside
    assert '"' in inside
    assert allowed(grammar, HEADER + 'A2 B2 c2 d2|"Gm7') >= {'"'}


def test_a_chord_symbol_names_a_chord_abc2midi_knows(grammar):
    assert "p" not in allowed(grammar, HEADER + 'A2 B2 c2 d2|"')  # "p" is not a chord
    assert '"' not in allowed(grammar, HEADER + 'A2 B2 c2 d2|"G/')  # a bass must follow


def test_a_chord_symbol_is_followed_by_its_note(grammar):
    after = allowed(grammar, HEADER + 'A2 B2 c2 d2|"G"')
    assert "|" not in after and "\n" not in after
    assert {"A", "g", "^"} <= after


def test_a_chord_and_a_grace_group_close_before_anything_else(grammar):
    chord = allowed(grammar, HEADER + "A2 B2 c2 d2|[ce")
    assert "]" in chord and not {"|", "\n", " ", '"', END} & chord
    grace = allowed(grammar, HEADER + "A2 B2 c2 d2|{ag")
    assert "}" in grace and not {"|", "\n", " ", END} & grace
    assert "|" not in allowed(grammar, HEADER + "A2 B2 c2 d2|{ag}")  # its note must follow


def test_a_note_a_chord_note_or_a_grace_note_takes_at_most_one_octave_mark(grammar):
    # (people's tunes never write two; a model once wrote a chord note with dozens of marks
    # and never closed its chord, and later c''' and G,,)
    up, down = "'", ","
    for prefix in ("A2 B2 c2 d2|c", "A2 B2 c2 d2|[e", "A2 B2 c2 d2|{g"):
        assert up in allowed(grammar, HEADER + prefix)
        assert up not in allowed(grammar, HEADER + prefix + up)
    for prefix in ("A2 B2 c2 d2|C", "A2 B2 c2 d2|[E", "A2 B2 c2 d2|{G"):
        assert down in allowed(grammar, HEADER + prefix)
        assert down not in allowed(grammar, HEADER + prefix + down)


def test_a_tuplet_gets_all_its_notes_before_a_bar_line(grammar):
    after = allowed(grammar, HEADER + "A2 B2 c2 (3de")
    assert "|" not in after and "\n" not in after
    assert "f" in after


# --- header fields in the body -----------------------------------------------------------------
def test_no_header_field_starts_a_body_line(grammar):
    line_start = allowed(grammar, HEADER + "A2 B2 c2 d2|\n")
    assert not {"X", "W", "P", "w"} & line_start
    assert ":" not in allowed(grammar, HEADER + "A2 B2 c2 d2|\nT")  # T is a trill, not a title


def test_a_line_continues_only_after_something_on_it(grammar):
    # a backslash at the end of a line joins the next line to it; a line of nothing but a
    # backslash (or spaces and one) is no line of music, and sampled tunes once wrote dozens
    assert "\\" in allowed(grammar, HEADER + "A2 B2 ")
    assert "\\" not in allowed(grammar, HEADER)
    assert "\\" not in allowed(grammar, HEADER + "A2 B2 \\\n")
    assert "\\" not in allowed(grammar, HEADER + "A2 B2 \\\n ")
    assert "\\" in allowed(grammar, HEADER + "A2 B2 \\\nc2 ")


def test_a_new_meter_line_may_come_between_bars_only(grammar):
    assert "M" in allowed(grammar, HEADER + "A2 B2 c2 d2|\n")
    assert "M" not in allowed(grammar, HEADER + "A2 B2 c2 d2|A2\n")  # mid-bar
    body = HEADER + "A2 B2 c2 d2|\nM:3/4\nA2 B2 c2|"
    assert "d" not in allowed(grammar, body + "A2 B2 c2 ")  # now a bar holds six eighths
    assert "|" in allowed(grammar, body + "A2 B2 c2")


def test_no_inline_field_in_the_body(grammar):
    assert "K" not in allowed(grammar, HEADER + "A2 B2 c2 d2|[")


# --- bars ---------------------------------------------------------------------------------------
def test_a_plain_bar_line_never_closes_a_bar_before_it_is_full(grammar):
    short = HEADER + "A2 B2 c2 d2|A2 B2 c2"
    after_bar = allowed(grammar, short + "|")
    # the "|" may only grow into a section mark (||, |], |:) that may end a short bar
    assert after_bar <= {"|", "]", ":", "1", "2"}
    assert "|" in allowed(grammar, short + " d2")


def test_with_pickup_rule_a_short_bar_ends_only_to_complete_the_pickup():
    strict = AbcGrammar(VOCAB, short_final="pickup")
    tune = HEADER + "G2|A2 B2 c2 d2|A2 B2 c2"
    assert "|" in allowed(strict, tune + " B2")  # full
    assert "|" not in allowed(strict, tune + " B")  # one eighth short, pickup was two
    assert "|" in allowed(strict, tune)  # six + the pickup's two: "||" may end it


def test_a_note_or_length_that_would_overflow_the_bar_is_refused(grammar):
    seven = HEADER + "A2 B2 c2 d2|A2 B2 c3 d"
    # d2 would make nine eighths, and what shortens it (d2/, d2/4) is not in lowest terms
    assert "2" not in allowed(grammar, seven)
    assert "9" not in allowed(grammar, seven)  # 9, 9/2 … 9/8 all overflow
    assert "|" in allowed(grammar, seven)  # d: eight, full
    full = HEADER + "A2 B2 c2 d2|A2 B2 c2 d2 "
    assert not set("ABCDEFGabcdefgz({") & allowed(grammar, full)
    assert "/" in allowed(grammar, HEADER + "A2 B2 c2 d2|A2 B2 c2 d3")  # 3/2 fits, 3 not


def test_with_usual_lengths_a_note_is_plain_or_dotted_from_a_sixteenth_to_a_dotted_whole():
    usual = AbcGrammar(VOCAB, usual_lengths=True)
    bar = HEADER + "A2 B2 c3 d"  # in L:1/8, an eighth left
    assert "2" in allowed(usual, bar + "/")  # d/2: a sixteenth
    assert "4" not in allowed(usual, bar + "/")  # d/4: a 32nd
    assert "3" not in allowed(usual, bar)  # d3/4: a dotted 32nd and then a 32nd to fill
    assert "3" in allowed(usual, HEADER + "A2 B2 c2 d")  # (without the eighth's limit: d3/2)
    assert "3" in allowed(grammar_without(), bar)  # without the rule d3/4 may be written
    quarter = "M:2/4\nL:1/4\nK:G\n"  # in L:1/4 a sixteenth is /4, a dotted eighth 3/4
    assert usual.violations(quarter + "G3/4A/4 B/4c/4d/4e/4|G2|\n", end=False) == []
    assert usual.violations(HEADER + "A//B//c/ d6 e|\n", end=False) != []  # 32nds
    assert usual.violations(HEADER + "[ceg]2 {g//a//}f2 d2 z2|\n", end=False) == []  # graces free


def grammar_without() -> AbcGrammar:
    return AbcGrammar(VOCAB)


def test_the_site_samples_with_usual_lengths():
    vocab = VOCAB
    assert WAY.grammar(vocab=vocab).usual_lengths
    assert WAY.grammar(vocab=vocab, form=True).usual_lengths


def test_lengths_count_suffixes_broken_rhythm_chords_tuplets_and_grace_notes(grammar):
    bars = [
        "A3/2B/2 c/d/e f2 z2",  # 3/2 + 1/2 + 1/2 + 1/2 + 1 + 2 + 2 = 8
        "A>B c<d e2 f2",  # broken pairs take two eighths each
        "[ceg]2 [c2e2] {ga}f2 d2",  # a chord counts once: its first note times its suffix
        "(3ABc (3d2e2f2 B2",  # three in the time of two
        "A//B//c/ d6 e",  # // is a quarter of the unit
    ]
    for bar in bars:
        text = HEADER + "A8|" + bar
        assert "|" in allowed(grammar, text), bar
        assert grammar.violations(text + "|\n", end=False) == [], bar


def test_the_first_bar_may_be_a_pickup(grammar):
    assert "|" in allowed(grammar, HEADER + "G")


def test_the_bar_after_a_repeat_or_an_ending_may_be_short(grammar):
    tune = HEADER + "|:A2 B2 c2 d2|A2 B2 c2 d2:|"
    assert "|" in allowed(grammar, tune + "G")  # a pickup for the next part
    ending = HEADER + "|:A2 B2 c2 d2|1 A2 B2 c2 d2:|2 A2"
    assert "|" in allowed(grammar, ending)


def test_repeats_are_shaped_as_abc2midi_wants_them(grammar):
    assert "2" not in allowed(grammar, HEADER + "|:A8|")  # no second ending before a first
    assert ":" not in allowed(grammar, HEADER + "|:A8|A8|")  # no |: while one is open
    assert allowed(grammar, HEADER + "|:ABcd efga|A8:|\n") >= {END}
    assert END not in allowed(grammar, HEADER + "|:ABcd efga|A8|\n")  # the repeat is open


def test_after_a_closed_repeat_only_a_plain_opening_starts_the_next(grammar):
    # abc2midi reads ||: after :| as no repeat's start ("found [1 … before |:" at a |1)
    closed = HEADER + "|:A8:|\n"
    assert ":" in allowed(grammar, closed + "|")
    assert ":" not in allowed(grammar, closed + "||")


def test_a_tied_note_takes_no_trill_or_roll_and_grace_notes_no_roll(grammar):
    # abc2midi: "Could not find note to be tied" (^G6-|TG6|, G6-|~G6|) and "Intervening
    # note needed between grace notes" ({A}~G6)
    assert not {"T", "~"} & allowed(grammar, HEADER + "^G8-|")
    assert "T" in allowed(grammar, HEADER + "^G8|")
    assert "~" not in allowed(grammar, HEADER + "{A}")
    assert "~" in allowed(grammar, HEADER + "A8|")


def test_after_a_first_endings_close_its_second_ending_comes_next(grammar):
    # (a model once went on with K: lines and new parts: "Missing :| at end of tune")
    first = HEADER + "|:A8|1B8:|\n"
    assert not {"K", "A", "z", '"', ":"} & allowed(grammar, first)
    assert "2" in allowed(grammar, first + "|") and "2" in allowed(grammar, first + "[")
    assert ":" not in allowed(grammar, first + "|")  # no |: either
    assert not grammar.violations(first + "[2c8|]\n", end=False)


def test_a_tie_crosses_no_section_mark(grammar):
    # abc2midi: "Could not find note to be tied" (A8-:|) or, where the next part begins
    # with the same note, "Sustained notes beyond end of track"
    tied = HEADER + "|:G8|A8-"
    assert grammar.violations(tied + ":|A8|\n", end=False)
    assert grammar.violations(tied + "||A8|\n", end=False)
    assert not grammar.violations(tied + "|A8:|\n", end=False)
    form = AbcGrammar(VOCAB, form=True)  # a part's closing bar ends with no tie at all
    assert "-" not in allowed(form, HEADER + "|:" + "A8|" * 7 + "A8")


def test_no_more_than_two_bar_lines_follow_each_other_without_a_note(grammar):
    # (a model with the piece's memory once wrote "|\n|  \\\n|…" to the length limit)
    text = HEADER + "A2 B2 c2 d2|A2 B2 c2 d2|\n|"
    assert "|" not in allowed(grammar, text + "\n")  # a third bar line
    assert grammar.violations(text + "d8|\n|", end=False) == []  # a note, then bars again
    assert "|" in allowed(grammar, HEADER + "A2 B2 c2 d2|\n")  # the next line's bar line


def test_a_tuplet_spec_takes_no_digit_after_which_no_tuplet_fits_the_bar():
    # a tiny model once wrote (2:9 where the bar had room for no tuplet of that ratio:
    # every character after (2:9:2 was refused, and the piece could not go on
    grammar = AbcGrammar(VOCAB)
    tune = "M:8/2\nL:1/2\nK:Bm\nA4 A2 A A/4 (2:"  # 3/4 of a unit left in the bar
    assert "9" not in allowed(grammar, tune)
    assert "3" in allowed(grammar, tune)  # (2:3 fits
    for digit in sorted(allowed(grammar, tune) & set("123456789")):
        spec = tune + digit
        # whatever the spec becomes, some character can follow it
        assert allowed(grammar, spec) != set(VOCAB), spec
        for more in sorted(allowed(grammar, spec) & set(":123456789")):
            assert allowed(grammar, spec + more) != set(VOCAB), spec + more


def test_a_tie_joins_a_note_to_the_same_pitch(grammar):
    after = allowed(grammar, HEADER + "A2 B2 c2 d2-|")
    assert "d" in after and not {"A", "c", "e", "z"} & after


# --- END ------------------------------------------------------------------------------------------
def test_end_comes_only_after_a_completed_bar_line(grammar):
    tune = HEADER + "A2 B2 c2 d2|e2 f2 g2 a2|"
    assert END in allowed(grammar, tune + "\n")
    assert END not in allowed(grammar, tune)  # the bar line is not yet complete
    assert END not in allowed(grammar, tune + "A2\n")  # mid-bar
    assert END not in allowed(grammar, HEADER + "A2 B2|\n")  # fewer than 8 notes


# --- incremental state -------------------------------------------------------------------------
def test_the_constraint_folds_in_one_new_id_per_step_and_agrees_with_a_fresh_parse(grammar):
    index = {tok: i for i, tok in enumerate(VOCAB)}
    text = HEADER + '|:"G"A2 B>c d2 (3efg|"D"a2 {g}f2 e2 d2:|\n'
    ids = [index["<s>"]]
    constraint = AbcGrammar(VOCAB)
    for ch in text:
        mask = constraint(0, ids)
        so_far = "".join(VOCAB[i] for i in ids[1:])
        assert np.array_equal(mask, grammar._mask(grammar.state_after(so_far)))
        assert mask[index[ch]], f"{ch!r} refused after {so_far!r}"
        ids.append(index[ch])
    assert constraint(0, ids)[index[END]]
    assert constraint._rows[0][1] == len(ids)  # everything folded in, once


def test_a_new_list_in_the_same_row_starts_a_new_piece():
    constraint = AbcGrammar(VOCAB)
    start = VOCAB.index("<s>")
    constraint(0, [start, VOCAB.index("M")])
    assert {VOCAB[i] for i in np.flatnonzero(constraint(0, [start]))} == {"M"}


# --- real tunes ---------------------------------------------------------------------------------
def malformed(text: str) -> str | None:
    """Why a real tune may rightly be refused: a bar of the wrong length by the bar check of
    render.abc_validity (music21's tokens), or a bar that overflows its meter anywhere."""
    from music21 import abcFormat

    from musiclib.render.abc import _bar_counts, _sections, first_tune

    full = WAY.finish(text, title="t")
    good, checked = _bar_counts(full)
    if good < checked:
        return "a bar of the wrong length"
    part = abcFormat.ABCFile().readstr(first_tune(full)).splitByVoice()[0]
    if any(b is not None and n > b for s in _sections(part) for n, b in s):
        return "a bar longer than its meter"
    return None


def abc2midi_error(text: str) -> str | None:
    from musiclib.render.abc import _abc2midi

    _, output = _abc2midi(WAY.finish(text, title="t"))
    errors = [line for line in output if "error" in line.lower()]
    return errors[0] if errors else None


@pytest.mark.parametrize("abc2midi", [False, True], ids=["structural", "abc2midi"])
def test_real_oneill_tunes_are_refused_only_where_their_source_is_malformed(abc2midi, capsys):
    """The first 200 O'Neill tunes, normalised as the ABC way trains on them, fed character by
    character: a tune passes when the grammar never forbids its next character (nor END at
    the end). Refused tunes must be malformed by an independent check (music21's bar lengths,
    or abc2midi's error lines for the abc2midi rules); at least 95 % of the tunes must pass or
    be so explained."""
    texts = oneills_texts(200)
    vocab = [*SPECIALS, *sorted({c for t in texts for c in t})]
    grammar = AbcGrammar(vocab, abc2midi=abc2midi)
    passed, explained, unexplained = 0, {}, []
    for k, text in enumerate(texts):
        bad = grammar.violations(text)
        if not bad:
            passed += 1
            continue
        why = malformed(text) or (abc2midi and abc2midi_error(text))
        i = bad[0]
        where = f"#{k}: {text[max(0, i - 30) : i]!r} >> {text[i : i + 10]!r}"
        if why:
            reason = why.split(":")[-1].strip()[:50]
            explained[reason] = explained.get(reason, 0) + 1
        else:
            unexplained.append(where)
    with capsys.disabled():
        print(
            f"\n[{'abc2midi' if abc2midi else 'structural'} rules] {passed}/{len(texts)} O'Neill "
            f"tunes pass; refused with a malformed source: {sum(explained.values())} "
            f"({explained}); refused otherwise: {len(unexplained)}"
        )
        for line in unexplained:
            print("   ", line)
    assert passed + sum(explained.values()) >= 0.95 * len(texts)


# --- a tiny model ------------------------------------------------------------------------------
def test_a_tiny_model_sampled_with_the_grammar_writes_bars_of_the_right_length():
    """Train the `tiny` preset for two epochs on 150 O'Neill tunes, sample 8 tunes with the
    grammar, and check them with render.abc_validity's own bar check: every checked bar has
    the meter's length, and every tune music21 reads has at least 8 notes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from musiclib.ml import sampler, trainer
    from musiclib.ml.model import build_model
    from musiclib.render import abc_validity
    from musiclib.ways.base import END_ID

    texts = oneills_texts(150)
    config = WAY.resolve_config(preset="tiny", overrides={"val_fraction": 0.0})
    prepared = WAY.prepare(texts=texts, config=config, seed=0)
    model = build_model(config=config, vocab_size=len(prepared.vocab), seed=0)

    trainer.train(
        model=model,
        train_pieces=prepared.train,
        val_pieces=[],
        config=config,
        seed=0,
        epochs=2,
        initial_epoch=0,
        hooks=trainer.NullHooks(),
    )
    net = sampler.net_from_keras(model)
    constraint = WAY.grammar(vocab=prepared.vocab)
    outs = sampler.sample(
        net, prime=[1], seeds=list(range(8)), max_tokens=900, end_id=END_ID, constraint=constraint
    )
    assert constraint.stats["fallbacks"] == 0
    checked = 0
    for ids in outs:
        text = WAY.finish(WAY.decode(vocab=prepared.vocab, ids=ids), title="t")
        validity = abc_validity(abc=text)
        assert validity.bar_accuracy in (None, 1.0), (text, validity.messages)
        checked += validity.n_bars_checked
        if ids[-1] == END_ID:  # a finished tune
            assert validity.parses, (text, validity.messages)
    assert checked >= 10


def test_where_no_character_can_follow_the_piece_ends_rather_than_anything_going():
    # A vocabulary without bar lines or spaces: a full bar and a line break leave nothing
    # the rules allow. The piece ends there; it does not run on unchecked.
    grammar = AbcGrammar([*SPECIALS, *"M:4/L18KG\n"])
    full_bar = allowed(grammar, HEADER + "GGGGGGGG")
    assert "\n" in full_bar and "G" not in full_bar
    assert allowed(grammar, HEADER + "GGGGGGGG\n") == {END}
    assert grammar.stats["fallbacks"] == 1
