"""Sequences: bars that come back moved up or down the scale. Found in a tune
(`metrics.form.restatements`), kept in the plans of returns (`ml.returns`), and written by
the sampler through the ABC way's maps of what each symbol becomes."""

from __future__ import annotations

import re

import numpy as np
import pytest

from musiclib.metrics.form import (
    restated_bars,
    restatements,
    returns_library,
    sequence_share,
    shape_from_abc,
)
from musiclib.ml import returns as rt
from musiclib.ml import sampler
from musiclib.ways import get_way
from musiclib.ways.abc_grammar import AbcGrammar
from musiclib.ways.base import START_ID
from tests.library.ml.test_fastloop import JIG, REEL, random_net

# Bar 2 moves bar 1 a step up; bar 3 repeats bar 1; bar 4 has a note outside the key.
SEQUENCE = """M:4/4
L:1/8
K:G
|:GABc d2B2|ABcd e2c2|GABc d2B2|^c2d2 e4:|
"""
HEADER = "M:4/4\nL:1/8\nK:G\n"


@pytest.fixture(scope="module")
def abc():
    way = get_way("abc")
    config = way.resolve_config(preset="tiny", overrides={"val_fraction": 0})
    texts = [REEL, JIG, SEQUENCE, HEADER + "\"G\"B,CGc'd'ba|\n"]  # (every letter, both marks)
    prepared = way.prepare(texts=texts, config=config, seed=0)
    return way, prepared


def test_a_bar_moved_up_the_scale_in_the_same_rhythm_is_a_sequence():
    shape = shape_from_abc(abc=SEQUENCE)
    assert restatements(shape) == [(-1, 0), (0, 1), (0, 0), (-1, 0)]
    assert restated_bars(shape) == [-1, -1, 0, -1]  # (note for note only)
    assert sequence_share(shape) == pytest.approx(1 / 3)


def test_a_bar_moved_in_another_rhythm_or_of_two_notes_is_no_sequence():
    other_rhythm = HEADER + "GABc d2B2|A2cd e2c2|\n"
    two_notes = HEADER + "G4 B4|A4 c4|\n"
    assert restatements(shape_from_abc(abc=other_rhythm)) == [(-1, 0), (-1, 0)]
    assert restatements(shape_from_abc(abc=two_notes)) == [(-1, 0), (-1, 0)]


def test_a_sequence_moves_by_the_steps_of_the_key_not_by_semitones():
    # In D major, E F# G A moved two steps up is G A B c#: a different run of semitones.
    in_d = "M:4/4\nL:1/8\nK:D\nEFGA B4|GABc d4|\n"
    assert restatements(shape_from_abc(abc=in_d))[1] == (0, 2)


def test_the_library_keeps_how_far_each_restated_bar_moves(abc):
    way, prepared = abc
    ids = [START_ID, *way.encode_prime(vocab=prepared.vocab, prime=SEQUENCE)[1:]]
    library = returns_library(way=way, vocab=prepared.vocab, pieces=[np.asarray(ids)])
    assert library["way_returns"][0, :5].tolist() == [-1, 0, 0, -1, -1]
    assert library["way_returns_shift"][0, :5].tolist() == [0, 1, 0, 0, 0]


def test_a_drawn_plan_names_each_bar_and_the_map_of_its_shift(abc):
    way, prepared = abc
    library = rt.plans_from_bars([[-1, 0, 0, 1]])
    shifts = rt.shifts_from_bars([[0, 1, 0, -2]])
    plan = rt.draw_plans(library, [7], shifts)[0]
    assert plan[:5].tolist() == [-1, rt.MAX_BARS * 1, 0, 1 + rt.MAX_BARS * rt.shift_code(-2), -1]
    assert (rt.draw_plans(library, [7])[0, :4] == [-1, 0, 0, 1]).all()  # saved before shifts
    with pytest.raises(ValueError, match="do not fit"):
        rt.draw_plans(library, [7], shifts[:, :3])
    with pytest.raises(ValueError, match="past an octave"):
        rt.shift_code(8)
    state = {"way_returns": library, "way_returns_shift": shifts}
    drawn = way.returns_for(vocab=prepared.vocab, state=state, seeds=[7], form=False)
    assert (drawn.plans == plan).all()
    # (characters: the notes' steps and octave marks in two rows after the maps)
    assert drawn.maps.shape == (rt.N_MAPS + 2, len(prepared.vocab))


def test_the_abc_maps_move_letters_in_the_key_and_stop_at_what_cannot_move(abc):
    way, prepared = abc
    vocab = prepared.vocab
    maps = way.returns_maps(vocab=vocab)
    at = {tok: i for i, tok in enumerate(vocab)}

    def moved(shift, tok):
        v = maps[rt.shift_code(shift), at[tok]]
        return vocab[v] if v >= 0 else v

    assert (maps[0] == np.arange(len(vocab))).all()
    assert [moved(3, t) for t in "GBcd"] == ["c", "e", "f", "g"]
    assert [moved(-1, t) for t in "cA"] == ["B", "G"]
    assert moved(3, "g") == rt.STOP  # past b a letter alone cannot go: the steps' rows do
    assert [moved(1, t) for t in "^,'"] == [rt.STOP] * 3
    assert [maps[rt.STEP_ROW, at[t]] for t in "CBcg|"] == [0, 6, 7, 11, -1]
    assert [maps[rt.OCTAVE_ROW, at[t]] for t in "',c"] == [1, -1, 0]
    assert moved(1, '"') == rt.CHORD
    assert [moved(1, t) for t in "|2 :"] == list("|2 :")

    tokens = way.prepare(
        texts=[REEL, JIG, SEQUENCE, 'M:4/4\nL:1/8\nK:G\n"G"B,CDE c\'2|\n'],
        config=way.resolve_config(
            preset="tiny", overrides={"val_fraction": 0, "vocabulary": "tokens"}
        ),
        seed=0,
    ).vocab
    tmaps = way.returns_maps(vocab=tokens)
    tat = {tok: i for i, tok in enumerate(tokens)}
    assert tokens[tmaps[rt.shift_code(1), tat["B,"]]] == "C"
    assert tokens[tmaps[rt.shift_code(-7), tat["c'"]]] == "c"
    assert tmaps[rt.shift_code(1), tat['"G"']] == rt.STOP
    assert tmaps[rt.shift_code(1), tat["^c"]] == rt.STOP


def continuation(abc, prime_text, shift, *, seeds, constraint=None):
    """What the sampler writes after `prime_text` when its next bar restates the prime's
    first bar moved `shift` steps: (texts, the returns' bookkeeping)."""
    way, prepared = abc
    vocab = prepared.vocab
    net = random_net(vocab=len(vocab), units=[24], dense=[], seed=4)
    prime = way.encode_prime(vocab=vocab, prime=prime_text)
    library = rt.plans_from_bars([[-1, 0]])
    returns = rt.Returns(
        flags=way.returns_flags(vocab=vocab),
        plans=rt.draw_plans(library, seeds, rt.shifts_from_bars([[0, shift]])),
        maps=way.returns_maps(vocab=vocab),
    )
    outs = sampler.sample(net, prime=prime, seeds=seeds, max_tokens=60, returns=returns,
                          constraint=constraint)  # fmt: skip
    return [way.decode(vocab=vocab, ids=prime + ids)[len(prime_text) :] for ids in outs], returns


def test_the_sampler_writes_the_bar_the_plan_moves_up_the_scale(abc):
    texts, returns = continuation(abc, HEADER + "GABc d2B2|", 1, seeds=[1, 2, 3])
    # (the model may go on writing the bar line first: "|:", an ending's number)
    assert all(re.match(r"[:\d\s]*ABcd e2c2\|", t) for t in texts), texts
    assert returns.restated == [1, 1, 1] and returns.refused == [0, 0, 0]
    down, _ = continuation(abc, HEADER + "GABc d2B2|", -2, seeds=[1])
    assert re.match(r"[:\d\s]*EFGA B2G2\|", down[0]), down


def test_a_moved_note_takes_the_octave_marks_it_needs(abc):
    up, returns = continuation(abc, HEADER + "cdef g2b2|", 2, seeds=[1, 2])
    assert all(re.match(r"[:\d\s]*efga b2d'2\|", t) for t in up), up
    assert returns.refused == [0, 0]
    down, _ = continuation(abc, HEADER + "CDEF G4|", -1, seeds=[1])
    assert re.match(r"[:\d\s]*B,CDE F4\|", down[0]), down
    back, _ = continuation(abc, HEADER + "B,c'B,c' B,4|", 1, seeds=[1])  # (marks moved away)
    assert re.match(r"[:\d\s]*Cd'Cd' C4\|", back[0]), back


def test_a_restated_bar_stops_where_its_notes_cannot_move(abc):
    texts, returns = continuation(abc, HEADER + "GA^Bc d2B2|", 1, seeds=[1, 2])
    # (then the letter before the ^ stops it: its sharp cannot move with it)
    assert all(re.match(r"[:\d\s]*A[^B]", t) for t in texts), texts
    assert returns.forced == [1, 1] and returns.refused == [1, 1]


def test_the_model_writes_its_own_chord_in_a_moved_bar(abc):
    way, prepared = abc
    grammar = AbcGrammar(prepared.vocab)
    texts, returns = continuation(abc, HEADER + '"G"GABc d2B2|', 1, seeds=[1, 2, 3, 4],
                                  constraint=grammar.automaton())  # fmt: skip
    for text in texts:
        assert re.match(r'[:|\d\s]*"[^"|]*"ABcd e2c2\|', text), text
    assert returns.refused == [0, 0, 0, 0]


def test_a_token_model_writes_the_moved_bar_token_for_token():
    way = get_way("abc")
    config = way.resolve_config(
        preset="tiny", overrides={"val_fraction": 0, "vocabulary": "tokens"}
    )
    prepared = way.prepare(texts=[REEL, JIG, SEQUENCE], config=config, seed=0)
    seeds = [1, 2, 4, 5]
    texts, returns = continuation((way, prepared), HEADER + "GABc d2B2|", 1, seeds=seeds)
    # (a random model may end a piece at once: no bar to restate)
    begun = [k for k, t in enumerate(texts) if t]
    assert len(begun) >= 3
    assert all(re.match(r"[:\d\s]*ABcd e2c2\|", texts[k]) for k in begun), texts
    assert [returns.restated[k] for k in begun] == [1] * len(begun)
    assert sum(returns.refused) == 0


def test_a_form_map_labels_each_bar_by_what_it_brings_back():
    from musiclib.metrics.form import form_map

    two_parts = SEQUENCE + "|:z8|d2g2 d2B2|e2c2 A4|d2g2 d2B2:|\n"
    parts = form_map(shape_from_abc(abc=two_parts))
    cells = [(c.number, c.label, c.source, c.steps) for part in parts for c in part]
    assert [len(part) for part in parts] == [4, 4]
    assert cells == [
        (1, "a", None, 0), (2, "a", 1, 1), (3, "a", 1, 0), (4, "b", None, 0),
        (5, "–", None, 0), (6, "c", None, 0), (7, "d", None, 0), (8, "c", 6, 0),
    ]  # fmt: skip
