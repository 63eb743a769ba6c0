"""The ABC grammar compiled into tables (`ml.automaton`): the same masks as the parser, and
the form option (parts of 8 or 16 bars ending on the tonic).

A table row is shared by every parser state with the same key, so a key that left out
something a later rule reads would show here as a table mask that differs from a fresh
parse of the same prefix. The reference masks are computed with an empty mask cache for
each prefix, so that they come from the prefix's own parser state, never from another
state's cached mask.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from musiclib.metrics.form import form_shape_row, returns_library, shape_from_abc
from musiclib.ml import fastloop, sampler
from musiclib.ml.automaton import UNBUILT, LazyAutomaton
from musiclib.ways import abc_tokens
from musiclib.ways.abc_grammar import (
    WHOLE_CLOSE,
    AbcGrammar,
    AbcTokenGrammar,
    FormShape,
    check_shape,
)
from musiclib.ways.abc_text import WAY, split_tunes
from musiclib.ways.base import END_ID, SPECIALS, START_ID

# Every character the two folk corpora use (as in test_abc_grammar).
CHARS = "\n !\"#'()+,-./0123456789:<=>ABCDEFGHKLMPRSTZ[\\]^_abcdefgmuvxz{|}~"
VOCAB = [*SPECIALS, *sorted(set(CHARS))]
INDEX = {ch: i for i, ch in enumerate(VOCAB)}


def oneills_texts(limit: int) -> list[str]:
    from music21 import corpus

    texts = []
    for path in sorted(corpus.getWork("oneills1850")):
        texts.extend(t for _, t in split_tunes(Path(path).read_text(encoding="latin-1")))
    return [WAY.normalise(t) for t in texts[:limit]]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return oneills_texts(120)


def fresh_mask(grammar, state) -> np.ndarray:
    """The parser's own mask in `state`, computed afresh (no state's cached mask reused)."""
    grammar._cache = {}
    if isinstance(grammar, AbcTokenGrammar):
        grammar._viable_cache = {}
    mask = grammar._mask(state)
    return np.ones(grammar.size, dtype=bool) if mask is None else mask


def walk_and_compare(automaton: LazyAutomaton, reference, ids: list[int], shape=None) -> int:
    """Feed `ids` (after START; an END closing them, as the sampler writes it, left out)
    through the tables and through a fresh parser side by side, asserting equal masks
    before each symbol and after the last (in a row following `shape` if given). Returns
    the states checked."""
    if ids and ids[-1] == END_ID:
        ids = ids[:-1]
    s, regs = automaton.begin([START_ID], shape)
    state = reference.fresh() if shape is None else reference.fresh_shaped(shape)
    state = reference.fed(state, START_ID)
    for k, i in enumerate([*ids, None]):
        expected = fresh_mask(reference, state)
        got = automaton.allowed[s]
        assert np.array_equal(got, expected), (k, ids[:k])
        # the registers hold the line's length and the note's letter as the parser does
        assert regs[0] == state.line_len
        if automaton.pitched and reference.pitch_of(state):
            assert regs[1] == reference.pitch_of(state), (k, ids[:k])
        if automaton.counted:
            assert regs[2] == state.notes, (k, ids[:k])
        if i is None:
            return len(ids) + 1
        s, regs = advance(automaton, s, regs, i)
        state = reference.fed(state, i)
    return 0


def advance(automaton: LazyAutomaton, s: int, regs: np.ndarray, i: int):
    """One row's (state, registers) after symbol i."""
    states, new = automaton.advance(np.array([s]), regs[None, :], np.array([i]))
    return int(states[0]), new[0]


def random_walks(
    automaton: LazyAutomaton, *, walks: int, steps: int, seed: int, shape=None
) -> list[list]:
    """Paths through the grammar: each step picks an allowed symbol at random."""
    rng = np.random.default_rng(seed)
    paths = []
    for _ in range(walks):
        (s, regs), path = automaton.begin([START_ID], shape), []
        for _ in range(steps):
            choices = np.flatnonzero(automaton.allowed[s])
            i = int(rng.choice(choices))
            if i == automaton.parser.end_id:
                break
            path.append(i)
            s, regs = advance(automaton, s, regs, i)
        paths.append(path)
    return paths


# --- the same masks ------------------------------------------------------------------------------
def test_character_tables_give_the_parsers_masks_on_corpus_prefixes_and_random_walks(texts):
    automaton = LazyAutomaton(AbcGrammar(VOCAB))
    reference = AbcGrammar(VOCAB)
    checked = 0
    for text in texts[:40]:
        ids = [INDEX[ch] for ch in text if ch in INDEX]
        checked += walk_and_compare(automaton, reference, ids)
    for ids in random_walks(automaton, walks=30, steps=120, seed=1):
        checked += walk_and_compare(automaton, reference, ids)
    assert checked > 5_000


def test_token_tables_give_the_parsers_masks_on_corpus_prefixes_and_random_walks(texts):
    vocab = [*SPECIALS, *sorted({tok for t in texts for tok in abc_tokens.tokenize(t)})]
    automaton = LazyAutomaton(AbcTokenGrammar(vocab))
    reference = AbcTokenGrammar(vocab)
    index = {tok: i for i, tok in enumerate(vocab)}
    checked = 0
    for text in texts[:6]:
        ids = [index[tok] for tok in abc_tokens.tokenize(text)]
        checked += walk_and_compare(automaton, reference, ids[:150])
    for ids in random_walks(automaton, walks=6, steps=60, seed=2):
        checked += walk_and_compare(automaton, reference, ids)
    assert checked > 1_000


def test_the_form_grammars_tables_give_its_masks_too(texts):
    automaton = LazyAutomaton(AbcGrammar(VOCAB, form=True))
    reference = AbcGrammar(VOCAB, form=True)
    checked = 0
    for text in texts[:10]:
        checked += walk_and_compare(automaton, reference, [INDEX[ch] for ch in text[:300]])
    for ids in random_walks(automaton, walks=20, steps=150, seed=3):
        checked += walk_and_compare(automaton, reference, ids)
    assert checked > 2_000


def sampled_pieces(automaton: LazyAutomaton, *, seeds: list[int], n: int, temperature: float):
    """Pieces the compiled loop samples through the tables (building them as it goes), from
    a small random net over the automaton's vocabulary."""
    net = small_net(automaton.size)
    return sampler.sample(net, prime=[START_ID], seeds=seeds, temperature=temperature,
                          max_tokens=n, constraint=automaton)  # fmt: skip


@pytest.mark.parametrize("form", [False, True])
def test_tables_the_compiled_loop_built_give_the_parsers_masks_on_thousands_of_sampled_prefixes(
    form,
):
    # the loop's own tables (registers counted in the loop, successors built where it
    # paused) against a fresh parse of every prefix of every piece it wrote
    automaton = LazyAutomaton(AbcGrammar(VOCAB, form=form))
    pieces = sampled_pieces(automaton, seeds=list(range(400, 412)), n=400, temperature=0.8)
    checked = 0
    for ids in pieces:
        checked += walk_and_compare(automaton, AbcGrammar(VOCAB, form=form), ids)
    assert checked > 3_000


def test_token_tables_the_compiled_loop_built_give_the_parsers_masks_on_sampled_prefixes(texts):
    vocab = [*SPECIALS, *sorted({tok for t in texts for tok in abc_tokens.tokenize(t)})]
    automaton = LazyAutomaton(AbcTokenGrammar(vocab))
    pieces = sampled_pieces(automaton, seeds=list(range(400, 406)), n=200, temperature=0.8)
    checked = 0
    for ids in pieces:
        checked += walk_and_compare(automaton, AbcTokenGrammar(vocab), ids)
    assert checked > 1_000


def test_tables_built_ahead_of_time_along_corpus_tunes_give_the_parsers_masks_and_the_same_pieces(
    texts,
):
    tunes = [[INDEX.get(ch, -1) for ch in text] for text in texts[:60]]
    ahead = LazyAutomaton(AbcGrammar(VOCAB))
    fed = ahead.replay(tunes, prime=[START_ID])
    assert fed > 3_000 and ahead.n > 500  # (many corpus tunes break a rule early on)
    built = ahead.n
    # the tables the replay built, walked again along those tunes beside a fresh parse
    for ids in tunes[:20]:
        walk_and_compare(ahead, AbcGrammar(VOCAB), [i for i in ids if i >= 0][:200])
    # a symbol the grammar refuses ends a tune's replay: "!" is refused everywhere
    bad = LazyAutomaton(AbcGrammar(VOCAB))
    assert bad.replay([[INDEX[ch] for ch in "M:4/4\n!L:1/8\n"]], prime=[START_ID]) == 6
    # the tables are a cache: pieces sampled with them are the pieces sampled without
    seeds = list(range(400, 408))
    warm = sampled_pieces(ahead, seeds=seeds, n=300, temperature=0.8)
    cold = sampled_pieces(LazyAutomaton(AbcGrammar(VOCAB)), seeds=seeds, n=300, temperature=0.8)
    assert warm == cold
    assert ahead.n >= built
    # ... and every prefix of the pieces sampled after the replay gets the parser's mask
    checked = 0
    for ids in warm:
        checked += walk_and_compare(ahead, AbcGrammar(VOCAB), ids)
    assert checked > 1_500


def test_a_replay_in_each_tunes_own_shape_gives_shaped_pieces_sampled_after_it_the_parsers_masks(
    texts,
):
    # the site's replay for the folk form: each training tune in the shape drawn from it
    known = [text for text in texts[:60] if set(text) <= set(INDEX)]
    pieces = [np.array([START_ID, *(INDEX[ch] for ch in text)]) for text in known]
    library = returns_library(way=WAY, vocab=VOCAB, pieces=pieces)
    ahead = LazyAutomaton(AbcGrammar(VOCAB, form=True))
    fed = WAY.grammar_replay(tables=ahead, pieces=pieces, state=library, form=True, seconds=0,
                             key="run 1")  # fmt: skip
    assert fed > 500 and "run 1" in ahead.replayed
    # once per key: the same run again feeds nothing
    again = WAY.grammar_replay(tables=ahead, pieces=pieces, state=library, form=True,
                               seconds=0, key="run 1")  # fmt: skip
    assert again == 0
    # a tune's own opening, in its own shape, is built: walking it builds nothing new
    tune = int(library["way_shapes_piece"][0])
    shape = WAY.form_shapes_for(state={"way_shapes": library["way_shapes"][:1]}, seeds=[0])[0]
    before = ahead.resolved
    s, regs = ahead.begin([START_ID], shape)
    for v in pieces[tune][1:16].tolist():
        s, regs = advance(ahead, s, regs, v)
    assert ahead.resolved == before
    # pieces sampled afterwards, each in a shape drawn as the site draws it
    seeds = list(range(400, 406))
    shapes = WAY.form_shapes_for(state=library, seeds=seeds)
    sampled = sampler.sample(small_net(len(VOCAB)), prime=[START_ID], seeds=seeds,
                             temperature=0.8, max_tokens=300, constraint=ahead,
                             shapes=shapes)  # fmt: skip
    checked = 0
    for ids, shape in zip(sampled, shapes, strict=True):
        checked += walk_and_compare(ahead, AbcGrammar(VOCAB, form=True), ids, shape=shape)
    assert checked > 1_000


def test_a_replay_stops_when_its_cpu_seconds_are_spent_or_its_tables_reach_their_bytes(texts):
    tunes = [[INDEX.get(ch, -1) for ch in text] for text in texts]
    ahead = LazyAutomaton(AbcGrammar(VOCAB))
    everything = sum(len(t) for t in tunes)
    assert ahead.replay(tunes, prime=[START_ID], seconds=1e-3) < everything / 10
    # half the tables' cap by default, so that sampling has room left before they restart
    small = LazyAutomaton(AbcGrammar(VOCAB), max_bytes=400_000)
    assert small.replay(tunes, prime=[START_ID], key="run 1") < everything / 2
    assert 200_000 <= small.nbytes < 400_000 and small.replayed == {"run 1"}
    # tables that start again (past their cap, between pieces) still know what was
    # replayed into them: the same pieces are not replayed at every restart
    small.replay(tunes, prime=[START_ID], max_bytes=500_000)
    small.begin([START_ID])
    assert small.n == 1 and small.replayed == {"run 1"}
    assert WAY.grammar_replay(tables=small, pieces=[[START_ID, *t] for t in tunes], state={},
                              form=False, seconds=0, key="run 1") == 0  # fmt: skip


# --- registers ---------------------------------------------------------------------------------
LONG_LINE = "M:4/4\nL:1/8\nK:G\n" + "GABc dcBA|" * 17 + "\n" + "GABc dcBA|" * 2 + "\n"


def test_lines_near_the_150_character_limit_get_the_parsers_masks(texts):
    # a 170-character body line: its masks near and past the limit come from line buckets
    automaton = LazyAutomaton(AbcGrammar(VOCAB))
    ids = [INDEX[ch] for ch in LONG_LINE]
    assert walk_and_compare(automaton, AbcGrammar(VOCAB), ids) == len(ids) + 1
    assert automaton.line_buckets == 2  # characters: short of the limit, or at it
    vocab = [*SPECIALS, *sorted({tok for t in texts for tok in abc_tokens.tokenize(t)})]
    tokens = LazyAutomaton(AbcTokenGrammar(vocab))
    token_index = {tok: i for i, tok in enumerate(vocab)}
    ids = [token_index[tok] for tok in abc_tokens.tokenize(LONG_LINE)]
    assert walk_and_compare(tokens, AbcTokenGrammar(vocab), ids) == len(ids) + 1
    assert tokens.line_buckets > 2  # tokens: each length within reach of the limit


def test_a_tie_names_the_rows_own_note_though_notes_of_one_case_share_a_table_row():
    automaton = LazyAutomaton(AbcGrammar(VOCAB))
    header = "M:4/4\nL:1/8\nK:G\n"
    after = {}
    for note in "ABFGcd":
        s, regs = automaton.begin([START_ID])
        for ch in header + "D" + note:
            s, regs = advance(automaton, s, regs, INDEX[ch])
        after[note] = s
        s, regs = advance(automaton, s, regs, INDEX["-"])
        letters = {VOCAB[i] for i in np.flatnonzero(automaton.allowed[s])} & set("ABCDEFGabcdefg")
        assert letters == {note}, note
    # the notes being read share a state by case: the letter is in the register, not the key
    assert after["A"] == after["B"] == after["F"] == after["G"]
    assert after["c"] == after["d"] != after["A"]


def test_a_chord_symbols_text_is_one_table_row_in_every_context_and_its_close_returns_there():
    automaton = LazyAutomaton(AbcGrammar(VOCAB))
    # the same chord symbol at a bar's start, mid-bar in 6/8, and in a first ending
    texts = ['M:4/4\nL:1/8\nK:G\n"Am"GABc dcBA|', 'M:6/8\nL:1/8\nK:D\nDFA "Am"d2c|',
             'M:4/4\nL:1/8\nK:G\n|:GABc dcBA|1 "Am"GABc dcBA:|2 GABc dcBA|']  # fmt: skip
    inside = set()
    for text in texts:
        s, regs = automaton.begin([START_ID])
        ids = [INDEX[ch] for ch in text]
        for k, i in enumerate(ids):
            s, regs = advance(automaton, s, regs, i)
            if text[k - 1 : k + 1] == '"A':  # (the text "A": inside the chord symbol)
                inside.add(int(automaton.group[s]))
                assert regs[3] >= 0  # (the group the quote opened in)
        assert regs[3] == -1
        assert walk_and_compare(automaton, AbcGrammar(VOCAB), ids) == len(ids) + 1
    assert len(inside) == 1  # (one group: its states differ only by the notes counted)


def small_net(size: int) -> sampler.Net:
    rng = np.random.default_rng(0)
    units = 32
    return sampler.Net(
        table=rng.normal(0, 0.5, (size, 4 * units)).astype(np.float32),
        recurrent=[rng.normal(0, 0.3, (units, 4 * units)).astype(np.float32)],
        biases=[np.zeros(4 * units, np.float32)],
        dense=[(rng.normal(0, 0.5, (units, size)).astype(np.float32), np.zeros(size), False)],
        units=[units],
    )


@pytest.mark.parametrize("form", [False, True])
def test_the_compiled_loop_moves_rows_through_the_tables_as_python_steps_do(form):
    # the loop leaves for Python only where a successor is not built: the same draws
    net, seeds = small_net(len(VOCAB)), list(range(10, 16))
    common = dict(prime=[START_ID], temperature=1.0, top_k=0, top_p=1.0, max_tokens=400,
                  end_id=END_ID, restart_id=None)  # fmt: skip
    uniforms = sampler._uniforms(seeds, max_tokens=400, restart_id=None)
    tables = LazyAutomaton(AbcGrammar(VOCAB, form=form))
    compiled = sampler.sample(
        net, seeds=seeds, constraint=tables, prime=[START_ID], max_tokens=400, end_id=END_ID
    )
    stepped = fastloop.sample_lazy_tables(
        net, uniforms=uniforms, automaton=LazyAutomaton(AbcGrammar(VOCAB, form=form)),
        compiled_loop=False, **common,
    )  # fmt: skip
    assert compiled == stepped
    assert sum(len(ids) for ids in compiled) > 600


def test_sampling_through_the_tables_draws_what_sampling_through_the_parser_draws():
    net = small_net(len(VOCAB))
    seeds = [3, 4, 5, 6]
    parsed = sampler.sample_numpy(net, prime=[START_ID], seeds=seeds, max_tokens=300,
                            constraint=AbcGrammar(VOCAB))  # fmt: skip
    tabled = sampler.sample_numpy(net, prime=[START_ID], seeds=seeds, max_tokens=300,
                            constraint=AbcGrammar(VOCAB).automaton())  # fmt: skip
    assert parsed == tabled
    assert all(len(ids) > 20 for ids in tabled)


# --- bounded -------------------------------------------------------------------------------------
def test_tables_start_again_when_they_outgrow_their_memory_budget():
    automaton = LazyAutomaton(AbcGrammar(VOCAB), max_bytes=200 * len(VOCAB) * 5)
    automaton.build(limit=500)
    assert automaton.n >= 500
    automaton.start([START_ID])  # between pieces: over budget, so built afresh
    assert automaton.n == 1
    assert automaton.allowed.shape == (1, len(VOCAB))


def test_a_batch_of_shaped_rows_keeps_its_first_rows_states_when_the_tables_outgrow_their_budget():
    # each shaped row starts with a `begin` of its own: over budget, a later row's start must
    # not build the tables afresh under the rows started before it
    net, seeds = small_net(len(VOCAB)), list(range(30, 36))
    shapes = [SHAPES[k % len(SHAPES)] for k in range(len(seeds))]
    roomy = shaped_sample(net, seeds, shapes)
    tight = LazyAutomaton(AbcGrammar(VOCAB, form=True), max_bytes=1)
    drawn = sampler.sample(net, seeds=seeds, constraint=tight, prime=[START_ID], max_tokens=400,
                           end_id=END_ID, shapes=shapes)  # fmt: skip
    assert drawn == roomy
    assert tight.n > 100  # (built during the batch; the next batch's start builds afresh)
    tight.start([START_ID])
    assert tight.n == 1


def test_a_breadth_first_build_stops_at_its_limit_and_builds_only_allowed_successors():
    automaton = LazyAutomaton(AbcGrammar(VOCAB))
    assert automaton.build(limit=300) >= 300
    allowed, group, nxt = automaton.allowed, automaton.group, automaton.next_group
    # a group's successor is built only for a symbol some state of the group allows
    allowed_in_group = np.zeros(nxt.shape, dtype=bool)
    np.logical_or.at(allowed_in_group, group, allowed)
    assert not ((nxt != UNBUILT) & ~allowed_in_group).any()
    assert (nxt != UNBUILT).sum() > 300
    start = automaton.start([START_ID])
    assert automaton.allowed[start].tolist() == [ch == "M" for ch in VOCAB]
    with pytest.raises(ValueError, match="line register"):
        automaton.snapshot([START_ID])


# --- form --------------------------------------------------------------------------------------
HEADER = "M:4/4\nL:1/8\nK:G\n"
BAR = "GABc dcBA|"


def bars(n: int) -> str:
    """n bars of BAR, four to a line."""
    return "".join(BAR + ("\n" if k % 4 == 3 else "") for k in range(n))


def can_end(grammar: AbcGrammar, body: str) -> bool:
    """Is the whole text allowed, END included?"""
    return grammar.violations(HEADER + body) == []


@pytest.fixture(scope="module")
def form() -> AbcGrammar:
    return AbcGrammar(VOCAB, form=True, part_lengths=(8, 16))


def test_a_part_closes_after_8_or_16_bars_and_no_other_number(form):
    assert "|" in form.allowed_after(HEADER + BAR * 7 + "GABc dcBA")
    assert ":" not in form.allowed_after(HEADER + "|:" + BAR * 6 + "GABc dcBA|")  # no :| at 7
    assert "]" in form.allowed_after(HEADER + BAR * 7 + "GABc dcBA|")  # |] after 8
    assert "]" not in form.allowed_after(HEADER + BAR * 8 + "GABc dcBA|")  # not after 9
    assert "]" in form.allowed_after(HEADER + bars(15) + "GABc dcBA|")  # |] after 16
    # a 16th bar may not be followed by a plain bar line: the part must close
    after16 = form.allowed_after(HEADER + bars(15) + "GABc dcBA")
    assert "|" in after16
    assert form.violations(HEADER + bars(16) + "G", end=False)


def test_a_line_may_begin_with_the_bar_line_that_ended_the_one_before_inside_a_part(form):
    # "|", a line break, "|" is one bar line, as O'Neill writes his lines and as the form
    # measures read it (`metrics.form`): it neither closes the part nor counts a bar
    three = HEADER + BAR * 3 + "\n"
    assert "|" in form.allowed_after(three)
    assert not form.violations(three + "|" + BAR * 4 + "GABc dcBA:|\n", end=False)
    assert form.violations(three + "|" + BAR * 5 + "GABc dcBA:|\n", end=False)
    # where the part ends, the next may open with a repeat on its own line
    assert not form.violations(HEADER + BAR * 7 + "GABc dcBA:|\n|:" + BAR, end=False)


def test_a_pickup_and_the_closing_bar_make_one_bar_of_the_part(form):
    # pickup of one eighth, 7 full bars, a closing bar of seven eighths: a part of 8
    body = "D|" + BAR * 7 + "GABc dcB|]\n"
    assert not form.violations(HEADER + body, end=False)
    assert form.violations(HEADER + "D|" + BAR * 8 + "GABc dcB|]\n", end=False)
    # and the closing bar must complete the pickup
    assert form.violations(HEADER + "D|" + BAR * 7 + "GABc dc|]\n", end=False)


def test_the_tune_ends_only_on_the_tonic_after_a_closed_part(form):
    assert can_end(form, BAR * 7 + "GABc dcBG|]\n")  # last note G in G major
    assert not can_end(form, BAR * 7 + "GABc dcBA|]\n")  # last note A
    assert not can_end(form, BAR * 8 + "\n")  # 8 bars but no closing bar line
    plain = AbcGrammar(VOCAB)
    assert can_end(plain, BAR * 3 + "\n")  # without form: any whole bars
    assert can_end(form, BAR * 7 + "GABc dcBG|]\n")


def test_first_and_second_endings_close_and_count_as_one_part(form):
    seven = "|:" + BAR * 6 + "GABc dcBA"
    assert can_end(form, seven + "|1GABc dcBA:|2GABc dcBG|]\n")
    # the first ending without its second does not end the tune
    assert not can_end(form, seven + "|1GABc dcBG:|\n")
    # a first ending that makes the part 9 bars long does not close it
    assert not can_end(form, seven + "|1" + BAR + "GABc dcBA:|2GABc dcBG|]\n")


# Random tunes under the form grammar, written with few symbols (notes of one or two eighths,
# plain and closing bar lines) so that a few lines of Python can count their bars on their own.
WALK = "ABcdGz2 \n|]"


def walked_tunes(count: int, seed: int) -> list[str]:
    """Random walks through the form grammar after a 4/4 header, choosing among the allowed
    symbols of WALK and END, leaning towards bar lines and END so that tunes finish."""
    automaton = LazyAutomaton(AbcGrammar(VOCAB, form=True))
    prime = [START_ID, *(INDEX[ch] for ch in HEADER)]
    rng = np.random.default_rng(seed)
    weight = np.zeros(len(VOCAB))
    weight[[INDEX[c] for c in WALK]] = 1.0
    weight[[INDEX["|"], INDEX["]"], INDEX["G"]]] = 6.0
    weight[END_ID] = 1000.0
    tunes = []
    while len(tunes) < count:
        (s, regs), text = automaton.begin(prime), HEADER
        for _ in range(600):
            p = automaton.allowed[s] * weight
            if not p.any():
                break  # only symbols outside WALK would do here: walk again
            i = int(rng.choice(len(VOCAB), p=p / p.sum()))
            if i == END_ID:
                tunes.append(text)
                break
            text += VOCAB[i]
            s, regs = advance(automaton, s, regs, i)
    return tunes


def parts_of(text: str) -> list[int]:
    """Bars per part, counted independently of the grammar: a part ends at a bar line other
    than a plain |; full bars count one, and a short bar closing a part counts one together
    with the part's short first bar (which must add up to a full bar)."""
    bar = 8  # eighths in a 4/4 bar
    body = text.split("K:G\n", 1)[1].replace("\n", " ")  # (|\n| is two bar lines)
    parts, bars, pickup = [], 0, None
    for chunk, line in re.findall(r"([^|]*)(\|\]|\|\||\|)", body):
        length = sum(2 if m[1] else 1 for m in re.finditer(r"[ABcdGz](2?)", chunk))
        if length == bar:
            bars += 1
            pickup = 0 if pickup is None else pickup
        elif length and pickup is None:
            pickup = length  # the part's pickup
        elif length:
            assert length + pickup == bar, text  # the closing bar completes the pickup
            bars += 1
        if line != "|" and bars:
            parts.append(bars)
            bars, pickup = 0, None
    return parts


def test_tunes_written_under_the_form_grammar_come_in_parts_of_8_or_16_bars_ending_on_the_tonic():
    tunes = walked_tunes(5, seed=5)
    for tune in tunes:
        parts = parts_of(tune)
        assert parts and set(parts) <= {8, 16}, tune
        last_note = re.findall(r"[ABcdG]", tune.split("K:G\n", 1)[1])[-1]
        assert last_note.upper() == "G", tune


# --- a complete tune: parts, then the end -----------------------------------------------------
TONIC_BAR = "GABc dcBG|"  # a full bar ending on G, the tonic of K:G


def test_a_folk_form_tune_ends_after_its_last_part(form):
    two_parts = BAR * 7 + TONIC_BAR[:-1] + "||\n" + BAR * 7 + TONIC_BAR[:-1] + "|]"
    assert not form.violations(HEADER + two_parts, end=False)
    # after the second part's closing bar line: the line ends, then the tune
    assert form.allowed_after(HEADER + two_parts) == {"\n"}
    assert form.allowed_after(HEADER + two_parts + "\n") == {"</s>"}
    # after one part the model may go on (or end, on the tonic)
    one_part = BAR * 7 + TONIC_BAR[:-1] + "||\n"
    assert {"G", "|", "</s>"} <= form.allowed_after(HEADER + one_part)
    # a grammar of three parts goes on after two
    three = AbcGrammar(VOCAB, form=True, max_parts=3)
    assert "G" in three.allowed_after(HEADER + two_parts + "\n")


def test_the_last_part_closes_only_after_the_tonic(form):
    part_a = "|:" + BAR * 7 + "GABc dcBA:|\n"  # the first part may close on any note
    assert not form.violations(HEADER + part_a, end=False)
    # the second part's 8th bar ends on A: no closing bar line there, the part runs to 16
    eighth = HEADER + part_a + BAR * 7 + "GABc dcBA"
    assert "|" in form.allowed_after(eighth)
    assert form.violations(eighth + "|]", end=False)
    assert not form.violations(HEADER + part_a + BAR * 7 + "GABc dcBG|]", end=False)
    # in its 16th bar the note that fills the bar must be the tonic (G or g, any octave)
    last = HEADER + part_a + bars(15) + "GABc dc"
    for ending in ("G2|]", "g2|]"):
        assert not form.violations(last + ending, end=False), ending
    # a chord is no tonic, nor is a G with an accidental (G sharp, flat or written natural)
    for ending in ("A2|]", "GA|]", "z2|]", "[GB]2|]", "^G2|]", "_g2|]", "=G2|]"):
        assert form.violations(last + ending, end=False), ending


def test_the_tunes_last_note_is_a_quarter_note_or_longer(form):
    last = HEADER + "|:" + BAR * 7 + "GABc dcBA:|\n" + bars(15) + "GABc "
    assert not form.violations(last + "d2G2|]", end=False)
    assert not form.violations(last + "G4|]", end=False)
    assert form.violations(last + "d3G|]", end=False)  # an eighth at the end: refused
    assert form.violations(last + "d2 BG|]", end=False)


def test_no_broken_rhythm_in_the_last_bar_where_the_last_note_would_have_no_room(form):
    last = HEADER + "|:" + BAR * 7 + "GABc dcBA:|\n" + bars(15) + "GABc "
    # d>B would end at six eighths: two are left, a quarter note for the tonic
    assert ">" in form.allowed_after(last + "d")
    assert not form.violations(last + "d>BG2|]", end=False)
    # B>… would end at seven: the last note could not be a quarter, so no > (nor >>) there
    assert ">" not in form.allowed_after(last + "dB")


def test_a_closing_bar_makes_one_bar_with_its_pickup(form):
    pickup = "D|"  # one eighth: the part's closing bar has seven
    assert not form.violations(HEADER + pickup + BAR * 7 + "GABc dcG|]", end=False)
    # a whole 4/4 bar after that pickup would make the part a bar and an eighth long
    assert form.violations(HEADER + pickup + BAR * 7 + "GABc dcBG|]", end=False)
    # in a part's 16th bar the notes stop an eighth short, where the part must close
    sixteenth = HEADER + pickup + bars(15) + "GABc dc"
    assert "G" in form.allowed_after(sixteenth)
    assert form.violations(sixteenth + "B2 ", end=False)  # past the closing point
    assert not form.violations(sixteenth + "G|]", end=False)


def walked_to_the_end(count: int, seed: int, **options) -> list[str]:
    """Random walks that never choose END while anything else is allowed: they end only
    where the grammar ends them."""
    automaton = LazyAutomaton(AbcGrammar(VOCAB, form=True, **options))
    prime = [START_ID, *(INDEX[ch] for ch in HEADER)]
    rng = np.random.default_rng(seed)
    weight = np.zeros(len(VOCAB))
    weight[[INDEX[c] for c in WALK]] = 1.0
    weight[[INDEX["|"], INDEX["]"], INDEX["G"]]] = 6.0
    tunes = []
    while len(tunes) < count:
        (s, regs), text = automaton.begin(prime), HEADER
        for _ in range(2000):
            allowed = automaton.allowed[s]
            if allowed.tolist() == [i == END_ID for i in range(len(VOCAB))]:
                tunes.append(text)  # END is all that is left
                break
            p = allowed * weight
            if not p.any():
                break  # only symbols outside WALK would do here: walk again
            i = int(rng.choice(len(VOCAB), p=p / p.sum()))
            text += VOCAB[i]
            s, regs = advance(automaton, s, regs, i)
    return tunes


def test_a_folk_form_tune_ends_after_two_parts_on_the_tonic_with_whole_closing_bars():
    tunes = walked_to_the_end(4, seed=7) + walked_to_the_end(3, seed=8, part_lengths=(8, 16))
    for tune in tunes:
        parts = parts_of(tune)  # (also asserts each closing bar completes its pickup)
        assert len(parts) == 2 and set(parts) <= {8, 16}, tune
        body = tune.split("K:G\n", 1)[1]
        assert body.endswith(("|]\n", "||\n")), tune
        assert re.findall(r"[ABcdG]", body)[-1].upper() == "G", tune


def test_a_part_with_a_pickup_cannot_close_on_a_whole_bar_by_a_second_bar_line():
    # (a random walk once closed a part "… dGzG |\n||": eight whole bars after a pickup)
    form = AbcGrammar(VOCAB, form=True, part_lengths=(8, 16))
    eight = HEADER + "G|" + BAR * 8
    assert form.violations(eight + "\n||", end=False)
    assert not form.violations(HEADER + "|:" + BAR * 8 + "\n||", end=False)  # no pickup


def test_a_shape_whose_last_note_no_usual_length_writes_ends_on_the_longest_that_does():
    # 10/12 of a 6/8 bar (5/8, "G5") is no plain or dotted length: without the cap the
    # tune's last bar had no note to begin with (a dead end, where a model was left free)
    grammar = AbcGrammar(VOCAB, form=True, usual_lengths=True)
    shape = FormShape(parts=((8, True), (8, True)), final=0, last=10, meter=(6, 8))
    six = "GAB cBA|"
    text = "M:6/8\nL:1/8\nK:G\n|:G|" + six * 7 + "GAB c2:|\n|:d|" + six * 7 + "dG4:|\n"
    state = grammar.fed(grammar.fresh_shaped(shape), START_ID)
    for k, i in enumerate([VOCAB.index(ch) for ch in text] + [END_ID]):
        mask = grammar.mask_of(state)
        assert mask is not None and mask[i], text[: k + 1]
        state = grammar.fed(state, i)


def test_a_tie_into_the_tunes_last_bar_leaves_room_for_the_last_note():
    # the last bar holds 2/8 here (a pickup of 6/8): a tied A and then a last G of a
    # quarter cannot both fit, a tied G (the tonic, the last note itself) can
    form = AbcGrammar(VOCAB, form=True)
    first = "GABcdc|" + BAR * 7 + "G2:|\n"
    seventh = HEADER + "|:" + first + "|:GABcdc|" + BAR * 6 + "GABc dcB"
    assert "-" not in form.allowed_after(seventh + "A")
    assert "-" in form.allowed_after(seventh + "G")
    assert not form.violations(seventh + "G-|G2:|\n")


def test_a_repeated_part_after_a_closed_repeat_begins_with_an_opening_not_a_plain_bar_line():
    # (a plain | there, then no third bar line, left a shaped tune nothing it could write)
    grammar = AbcGrammar(VOCAB, form=True)
    shape = FormShape(parts=((8, True), (8, True)), final=0, meter=(4, 4))
    state = grammar.fed(grammar.fresh_shaped(shape), START_ID)
    for ch in HEADER + "|:" + BAR * 7 + "GABc dcBA:|\n|":
        state = grammar.fed(state, VOCAB.index(ch))
    mask = grammar.mask_of(state)
    assert {VOCAB[i] for i in np.flatnonzero(mask)} == {":"}


def first_refused(shape: FormShape, text: str, *, end: bool = False) -> int | None:
    """Where the folk form first refuses `text` (then END, with `end`) in a row of `shape`;
    None where it refuses nothing. Every state on the way allows something."""
    grammar = AbcGrammar(VOCAB, form=True)
    state = grammar.fed(grammar.fresh_shaped(shape), START_ID)
    ids = [VOCAB.index(ch) for ch in text] + ([END_ID] if end else [])
    for k, i in enumerate(ids):
        mask = grammar.mask_of(state)
        assert mask is not None, text[:k]  # never a dead end
        if not mask[i]:
            return k
        state = grammar.fed(state, i)
    return None


def test_a_shaped_part_with_endings_has_its_last_bar_as_a_first_ending():
    shape = FormShape(parts=((8, True), (8, True)), final=0, meter=(4, 4), endings=(True, False))

    def refused_at(text: str, end: bool = False) -> int | None:
        return first_refused(shape, text, end=end)

    second = "|:" + BAR * 7 + "GABc d2G2:|\n"
    # no endings in the first part: its 8th bar may not begin with a plain bar line
    assert refused_at(HEADER + "|:" + BAR * 7 + "GABc dcBA:|") is not None
    one = HEADER + "|:" + BAR * 6 + "GABc dcBA|1GABc dcBA:|2GABc dcBG||\n" + second
    two = HEADER + "|:" + BAR * 5 + "GABc dcBA|1" + BAR + "GABc dcBA:|2" + BAR + "GABc dcBG||\n"
    assert refused_at(one, end=True) is None  # a first ending of one bar
    assert refused_at(two + second, end=True) is None  # or of two
    # written as the corpus writes it, a plain bar line and then the ending's bracket; a
    # token vocabulary has "|" and "[1" but no "1" (it never stands alone)
    bracket = HEADER + "|:" + BAR * 6 + "GABc dcBA|[1GABc dcBA:|[2GABc dcBG||\n" + second
    assert refused_at(bracket, end=True) is None
    before = HEADER + "|:" + BAR * 6 + "GABc dcBA|"
    assert refused_at(before + "GABc") == len(before)  # the ending, not a plain bar
    assert refused_at(before + "[GB]") == len(before) + 1  # nor a chord
    # a shape row from a corpus tune with endings says so (way_shapes: 2 for its repeat)
    from musiclib.ways.abc_text import _form_shape

    rows = [[0, 8, 2, 8, 1, 0, 0, 0, 0, 4, 4, 4], [0, 8, 1, 8, 1, 0, 0, 0, 0, 4, 4, 4]]
    assert [_form_shape(r).endings for r in rows] == [(True, False), (False, False)]


def test_a_shaped_part_whose_tune_closed_on_a_whole_bar_after_its_pickup_closes_so():
    # people write a pickup and still close the part on a whole bar in 15 % of Nottingham's tunes
    # (the pickup is played the first time only); a shape drawn from such a tune says so
    pickup = HEADER + "|:D|" + BAR * 7
    second = "|:" + BAR * 7 + "GABc d2G2:|\n"

    def refused_at(text: str, whole: tuple[bool, ...]) -> int | None:
        shape = FormShape(parts=((8, True), (8, True)), final=0, meter=(4, 4), whole=whole)
        return first_refused(shape, text, end=True)

    whole, short = pickup + "GABc dcBA:|\n" + second, pickup + "GABc dcB:|\n" + second
    assert refused_at(whole, (True, False)) is None
    assert refused_at(short, (True, False)) == len(pickup) + len("GABc dcB")  # not short
    assert refused_at(short, (False, False)) is None  # the rule for every other part
    assert refused_at(whole, (False, False)) == len(pickup) + len("GABc dcB")
    # a shape row marks such a part (WHOLE_CLOSE added to its repeat), one read before not
    from musiclib.ways.abc_text import _form_shape

    rows = [[0, 8, 5, 8, 1, 0, 0, 0, 0, 4, 4, 4], [0, 8, 1, 8, 6, 0, 0, 0, 0, 4, 4, 4]]
    shapes = [_form_shape(r) for r in rows]
    assert [s.whole for s in shapes] == [(True, False), (False, True)]
    assert [s.parts for s in shapes] == [((8, True), (8, True))] * 2
    assert [s.endings for s in shapes] == [(False, False), (False, True)]


def test_a_grammar_of_8_bar_parts_closes_every_part_after_8_bars():
    eights = AbcGrammar(VOCAB, form=True, part_lengths=(8,))
    seven = HEADER + "|:" + BAR * 7 + "GABc dcBA"
    assert "|" in eights.allowed_after(seven)  # the bar line that closes the part …
    assert eights.violations(seven + "|G", end=False)  # … but no plain one
    assert not eights.violations(seven + ":|", end=False)
    # in the last part's 8th bar the tonic ends the tune
    last = seven + ":|\n" + BAR * 7 + "GABc dc"
    assert not eights.violations(last + "G2|]\n")
    assert eights.violations(last + "A2|]", end=False)


# --- shapes: the form of one corpus tune, drawn per piece --------------------------------------
SHAPES = [
    FormShape(parts=((8, True), (16, False)), final=4),
    FormShape(parts=((4, False), (4, False), (8, True)), final=2),
    FormShape(parts=((16, True),), final=0),
    FormShape(parts=((8, True), (8, True)), final=0, meter=(4, 4)),
    FormShape(parts=((8, True), (4, False)), final=0, meter=(4, 4), whole=(True, True)),
]


@pytest.mark.parametrize("shape", SHAPES)
def test_shaped_rows_get_the_parsers_masks_from_the_tables(texts, shape):
    automaton = LazyAutomaton(AbcGrammar(VOCAB, form=True))
    reference = AbcGrammar(VOCAB, form=True)
    checked = 0
    for text in texts[:4]:
        ids = [INDEX[ch] for ch in text[:300]]
        checked += walk_and_compare(automaton, reference, ids, shape=shape)
    for ids in random_walks(automaton, walks=12, steps=200, seed=4, shape=shape):
        checked += walk_and_compare(automaton, reference, ids, shape=shape)
    assert checked > 1_500


def test_rows_of_shapes_that_differ_only_past_their_current_part_share_masks_and_keep_them_right(
    texts,
):
    # a shaped row's mask is cached by its shape as far as the next character's rules
    # read it: rows of these shapes share masks mid-part, and every one is the parser's
    grammar = AbcGrammar(VOCAB, form=True)
    grammar._cache.clear()
    automaton = LazyAutomaton(grammar)
    reference = AbcGrammar(VOCAB, form=True)
    shapes = [
        FormShape(parts=((8, True), (8, True)), final=0, last=6),
        FormShape(parts=((8, True), (8, False)), final=4, last=3),
        FormShape(parts=((8, True), (16, True), (8, False)), final=0, last=12),
        FormShape(parts=((4, False), (8, True)), final=2, last=4),
        # short ones, whose walks reach their last part's last bar and the tune's end
        FormShape(parts=((2, False), (2, True)), final=0, last=12),
        FormShape(parts=((2, True), (2, False)), final=4, last=3),
        FormShape(parts=((2, True), (3, False), (2, True)), final=0, last=2),
        FormShape(parts=((3, False),), final=2, last=6),
        FormShape(parts=((2, True), (2, False)), final=0, last=6, meter=(4, 4)),
        FormShape(parts=((2, True), (2, False)), final=0, last=6, meter=(6, 8)),
    ]
    checked = ended = 0
    for seed, shape in enumerate(shapes):
        for text in texts[:3]:
            ids = [INDEX[ch] for ch in text[:300] if ch in INDEX]
            checked += walk_and_compare(automaton, reference, ids, shape=shape)
        for ids in random_walks(automaton, walks=5, steps=400, seed=10 + seed, shape=shape):
            checked += walk_and_compare(automaton, reference, ids, shape=shape)
            ended += len(ids) < 400  # (the walk drew END)
    assert checked > 8_000 and ended >= 3
    # mid-part, before the last part, two shapes that differ only in later parts and in
    # how they end share the mask (the same array, from the cache)
    prefix = [INDEX[ch] for ch in HEADER + BAR * 3 + "GA"]
    rows = [grammar.fresh_shaped(shape) for shape in (shapes[0], shapes[2])]
    for row in rows:
        for i in [START_ID, *prefix]:
            grammar._feed_id(row, i)
    assert grammar._mask(rows[0]) is grammar._mask(rows[1])


def test_rows_of_shapes_alike_in_their_current_part_share_table_states_and_part_by_their_own():
    # the tables key a shaped row by its shape only as far as the rules read it before the
    # part closes: two shapes whose first parts agree share every state up to its closing
    # bar line, which takes each row into its own second part and its own last note
    automaton = LazyAutomaton(AbcGrammar(VOCAB, form=True))
    reference = AbcGrammar(VOCAB, form=True)
    common = FormShape(parts=((2, True), (2, True)), final=0, last=6, meter=(4, 4))
    other = FormShape(parts=((2, True), (3, True)), final=0, last=12, meter=(4, 4))
    tune = HEADER + "|:" + BAR + "GABc dcBA:|\n"
    body = [INDEX[ch] for ch in tune]
    walks = []
    for shape in (common, other):
        (s, regs), states = automaton.begin([START_ID], shape), [START_ID]
        for i in body:
            s, regs = advance(automaton, s, regs, i)
            states.append(s)
        walks.append(states)
    apart = next(k for k, (a, b) in enumerate(zip(*walks, strict=True)) if a != b)
    assert apart >= len(tune) - 2  # (after the closing :| or the newline)
    assert walks[0][-1] != walks[1][-1]
    # and each goes on as its own shape has it: two bars ending on a half note, or three
    # ending on a whole one
    rests = ("|:" + BAR + "GABc G4:|\n", "|:" + BAR * 2 + "G8:|\n")
    for shape, rest in zip((common, other), rests, strict=True):
        assert not reference.violations(tune + rest, shape=shape)
        ids = body + [INDEX[ch] for ch in rest]
        assert walk_and_compare(automaton, reference, ids, shape=shape) == len(ids) + 1
    assert reference.violations(tune + rests[1], shape=common)
    assert reference.violations(tune + rests[0], shape=other)


def test_a_shaped_tune_is_in_its_shapes_meter_in_the_header_and_the_body(form):
    jig = FormShape(parts=((8, True), (8, True)), meter=(6, 8))
    common = FormShape(parts=((8, True), (8, True)), meter=(4, 4))
    two = FormShape(parts=((8, True), (8, True)), meter=(2, 4))
    # every state along a right header allows something (a state allowing nothing would
    # let anything through: no violation, a fallback counted)
    fallbacks = form.stats["fallbacks"]
    assert not form.violations("M:6/8\nL:1/8\nK:G\n", end=False, shape=jig)
    assert not form.violations("M:C\nL:1/8\nK:G\n", end=False, shape=common)  # C is 4/4
    assert not form.violations(HEADER + BAR, end=False, shape=common)
    assert not form.violations("M:2/4\nL:1/16\nK:G\n", end=False, shape=two)
    assert form.stats["fallbacks"] == fallbacks
    assert form.violations("M:3/4\nL:1/8\nK:G\n", end=False, shape=jig)  # the same bar
    assert form.violations("M:9/8\nL:1/8\nK:G\n", end=False, shape=jig)
    assert form.violations("M:4/8\nL:1/8\nK:G\n", end=False, shape=two)  # the same bar and beat
    # a body line may not change it
    assert form.violations(HEADER + BAR + "\nM:3/4\n", end=False, shape=common)
    # a shape without a meter (saved before shapes had one) leaves it free
    assert not form.violations("M:3/4\nL:1/8\nK:G\n", end=False, shape=jig._replace(meter=None))


def test_a_shaped_tune_keeps_its_parts_its_repeat_signs_and_its_last_degree(form):
    shape = FormShape(parts=((8, False), (8, True)), final=4)  # ends on the fifth, D in G
    once, again = BAR * 7 + "GABc dcBA||\n", BAR * 7 + "GABc d4:|\n"
    assert not form.violations(HEADER + once + again, shape=shape)
    assert form.violations(HEADER + once + BAR * 7 + "GABc G4:|\n", shape=shape)  # the tonic
    assert form.violations(HEADER + BAR * 7 + "GABc dcBA:|\n" + again, shape=shape)  # repeated
    assert form.violations(HEADER + once + BAR * 7 + "GABc d4|]\n", shape=shape)  # no :|
    assert form.violations(HEADER + once + BAR * 15 + "GABc d4:|\n", shape=shape)  # 16 bars
    assert form.violations(HEADER + once, shape=shape)  # a part is owed
    # two repeated parts: the second, after a :|, opens with |: (abc2midi wants one between)
    twice = FormShape(parts=((8, True), (8, True)))
    first = BAR * 7 + "GABc dcBA:|\n"
    assert not form.violations(HEADER + first + "|:" + BAR * 7 + "GABc G4:|\n", shape=twice)
    assert form.violations(HEADER + first + BAR * 7 + "GABc G4:|\n", shape=twice)
    # one part of 16 bars, played once
    single = FormShape(parts=((16, False),))
    assert not form.violations(HEADER + bars(15) + "GABc G4|]\n", shape=single)
    assert form.violations(HEADER + BAR * 7 + "GABc dcBA||\n", end=False, shape=single)
    # the last note at least the shape's share of the bar: a whole bar (12 twelfths) here
    whole = FormShape(parts=((8, False),), last=12)
    assert not form.violations(HEADER + BAR * 7 + "G8|]\n", shape=whole)
    assert form.violations(HEADER + BAR * 7 + "GABc G4|]\n", end=False, shape=whole)


def test_rows_walked_to_the_end_in_a_shape_have_its_parts():
    automaton = LazyAutomaton(AbcGrammar(VOCAB, form=True))
    prime = [START_ID, *(INDEX[ch] for ch in HEADER)]
    rng = np.random.default_rng(5)
    weight = np.zeros(len(VOCAB))
    weight[[INDEX[c] for c in WALK]] = 1.0
    weight[[INDEX["|"], INDEX["]"], INDEX[":"], INDEX["G"], INDEX["B"]]] = 6.0
    done = 0
    for shape in SHAPES:
        (s, regs), text = automaton.begin(prime, shape), HEADER
        for _ in range(3000):
            allowed = automaton.allowed[s]
            if allowed.tolist() == [i == END_ID for i in range(len(VOCAB))]:
                break
            p = allowed * weight
            if not p.any():
                p = allowed * np.ones(len(VOCAB))
                p[END_ID] = 0
            i = int(rng.choice(len(VOCAB), p=p / p.sum()))
            text += VOCAB[i]
            s, regs = advance(automaton, s, regs, i)
        else:
            continue
        done += 1
        read = form_shape_row(shape_from_abc(abc=text))
        want = [shape.final] + [v for bars_, rep in shape.parts for v in (bars_, int(rep))]
        # (a part read as closing whole after its pickup: only where its shape says so)
        whole = [read[k] >= WHOLE_CLOSE for k in range(2, len(want), 2)]
        read[2 : len(want) : 2] = [v % WHOLE_CLOSE for v in read[2 : len(want) : 2]]
        assert read[: len(want)] == want and not any(read[len(want) : 9]), (text, read)
        assert all(s or not w for s, w in zip(check_shape(shape).whole, whole, strict=True))
        assert shape.meter is None or tuple(read[10:]) == shape.meter
    assert done >= 2


def shaped_sample(net, seeds, shapes):
    tables = LazyAutomaton(AbcGrammar(VOCAB, form=True))
    return sampler.sample(
        net, seeds=seeds, constraint=tables, prime=[START_ID], max_tokens=400, end_id=END_ID,
        shapes=shapes,
    )  # fmt: skip


def test_shaped_rows_sample_alike_in_the_compiled_loop_and_in_python_steps():
    net, seeds = small_net(len(VOCAB)), list(range(20, 26))
    shapes = [SHAPES[k % len(SHAPES)] for k in range(len(seeds))]
    common = dict(prime=[START_ID], temperature=1.0, top_k=0, top_p=1.0, max_tokens=400,
                  end_id=END_ID, restart_id=None)  # fmt: skip
    uniforms = sampler._uniforms(seeds, max_tokens=400, restart_id=None)
    compiled = shaped_sample(net, seeds, shapes)
    stepped = fastloop.sample_lazy_tables(
        net, uniforms=uniforms, automaton=LazyAutomaton(AbcGrammar(VOCAB, form=True)),
        compiled_loop=False, shapes=shapes, **common,
    )  # fmt: skip
    assert compiled == stepped
    # a row's piece depends on its own seed and shape, not on its batch
    assert shaped_sample(net, seeds[2:3], shapes[2:3]) == compiled[2:3]
    assert shaped_sample(net, seeds, None) != compiled


def test_shaped_rows_of_a_token_grammar_get_its_masks_from_the_tables(texts):
    vocab = [*SPECIALS, *sorted({tok for t in texts for tok in abc_tokens.tokenize(t)})]
    automaton = LazyAutomaton(AbcTokenGrammar(vocab, form=True))
    reference = AbcTokenGrammar(vocab, form=True)
    index = {tok: i for i, tok in enumerate(vocab)}
    checked = 0
    for shape in SHAPES[:2]:
        ids = [index[tok] for tok in abc_tokens.tokenize(texts[0])]
        checked += walk_and_compare(automaton, reference, ids[:120], shape=shape)
        for ids in random_walks(automaton, walks=3, steps=60, seed=6, shape=shape):
            checked += walk_and_compare(automaton, reference, ids, shape=shape)
    assert checked > 300


def test_a_body_field_line_comes_at_most_once_between_notes():
    # (a token model once wrote L:1/4 seven hundred times in a row, each line allowed)
    grammar = AbcGrammar(VOCAB)
    section = HEADER + BAR * 3 + "GABc dcBA||\n"
    assert not grammar.violations(section + "K:D\nL:1/4\nGABc|", end=False)
    assert grammar.violations(section + "K:D\nL:1/4\nL:1/4\nGABc|", end=False) == [
        len(section + "K:D\nL:1/4\n")
    ]
    assert grammar.violations(section + "K:D\nK:D\nGABc|", end=False) == [len(section + "K:D\n")]
    # after notes, the next section may change them again
    assert not grammar.violations(section + "K:D\nGABc dcBA|GABc dcBA||\nK:G\nGABc|", end=False)


def test_the_folk_form_writes_no_thick_thin_bar_line_as_its_tunes_never_do():
    # (a `full` model ended 4 % of its tunes on `[|`; Nottingham never writes it)
    shape = FormShape(parts=((8, False),), final=0, meter=(4, 4))
    tune = HEADER + BAR * 7 + "GABc d2G2 "
    # (refused at its bracket, which could open nothing else there: no dead end after it)
    assert first_refused(shape, tune + "[|\n", end=True) == len(tune)
    assert first_refused(shape, tune + "|]\n", end=True) is None
    assert first_refused(shape, HEADER + "[GB]ABc dcBA|") is None  # a chord's bracket
    assert "|" in AbcGrammar(VOCAB).allowed_after(HEADER + "GABc dcBA[")  # (ABC's own bar line)
