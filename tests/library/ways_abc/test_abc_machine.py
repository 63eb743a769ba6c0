"""The ABC character grammar's rules compiled (`musiclib.ml.abc_machine`): the same masks as
the Python parser (`AbcGrammar._mask`, the reference) on every prefix of corpus tunes, in
the folk form's drawn shapes, and along random walks through the grammar; and the same
pieces sampled through them as through the grammar's tables, with every option the
generate page turns on."""

from __future__ import annotations

import numpy as np
import pytest

from musiclib.metrics.form import returns_library
from musiclib.ml import abc_machine as am
from musiclib.ml import sampler
from musiclib.ml.memory import memory_fit
from musiclib.ways.abc_grammar import AbcGrammar
from musiclib.ways.abc_text import WAY
from musiclib.ways.base import END_ID, SPECIALS, START_ID
from tests.library.ways_abc.test_abc_grammar_tables import oneills_texts, small_net


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str], list[list[int]]]:
    texts = oneills_texts(120)
    vocab = [*SPECIALS, *sorted({ch for t in texts for ch in t})]
    index = {ch: i for i, ch in enumerate(vocab)}
    pieces = [[START_ID, *(index[ch] for ch in t)] for t in texts]
    return texts, vocab, pieces


def walk_and_compare(grammar: AbcGrammar, ids: list[int], shape=None, *, wander: int = 0,
                     seed: int = 0) -> int:  # fmt: skip
    """Feed `ids` (START first) to the Python parser and to the compiled rules side by side,
    asserting the same mask after each symbol; then `wander` more symbols drawn at random
    among those the mask allows. Returns the masks compared."""
    machine = grammar.machine()
    rng = np.random.default_rng(seed)
    state = grammar.fresh_shaped(shape)
    row = np.zeros(am.WIDTH, dtype=np.int64)
    shape_row = machine.shape_rows([shape], 1)[0]
    scratch = np.zeros(2 * am.TRIAL_WIDTH, dtype=np.int64)
    got = np.zeros(grammar.size, dtype=bool)
    am.reset(row)
    path = list(ids)
    checked = 0
    expected = None
    for k in range(len(ids) + wander):
        if k >= len(path):
            allowed = np.flatnonzero(expected)
            path.append(int(rng.choice(allowed)))
        symbol = path[k]
        grammar._feed_id(state, symbol)
        am.feed_symbol(row, shape_row, machine.params, machine.codes, machine.flags, symbol,
                       machine.start_id)  # fmt: skip
        expected = grammar._mask(state)
        constrained = am.mask_of(row, shape_row, machine.params, machine.codes, machine.flags,
                                 scratch, got)  # fmt: skip
        if expected is None:  # (the piece has ended: no constraint)
            assert not constrained
            break
        assert constrained and np.array_equal(got, expected), (k, path[: k + 1])
        assert not row[am.INEXACT]  # (every length landed on the grid)
        checked += 1
    return checked


def test_the_compiled_rules_give_the_parsers_masks_on_every_prefix_of_corpus_tunes(corpus):
    texts, vocab, pieces = corpus
    grammar = AbcGrammar(vocab, usual_lengths=True)
    assert sum(walk_and_compare(grammar, ids) for ids in pieces) > 25_000


def test_they_give_them_in_the_folk_forms_drawn_shapes_too(corpus):
    texts, vocab, pieces = corpus
    grammar = AbcGrammar(vocab, form=True, usual_lengths=True)
    library = returns_library(way=WAY, vocab=vocab, pieces=pieces)
    shapes = WAY.form_shapes_for(state=library, seeds=list(range(len(pieces))))
    assert (
        sum(
            walk_and_compare(grammar, ids, shape) for ids, shape in zip(pieces, shapes, strict=True)
        )
        > 25_000
    )


@pytest.mark.parametrize("form", [False, True])
def test_and_along_random_walks_from_corpus_prefixes(corpus, form):
    # (past a tune's prefix the walk writes what no tune writes: tuplets, chords, grace
    # notes, chord symbols, broken rhythm and ties anywhere the grammar lets them be)
    texts, vocab, pieces = corpus
    grammar = AbcGrammar(vocab, form=form, usual_lengths=True)
    library = returns_library(way=WAY, vocab=vocab, pieces=pieces)
    shapes = WAY.form_shapes_for(state=library, seeds=list(range(len(pieces))))
    rng = np.random.default_rng(1)
    checked = 0
    for k in range(0, len(pieces), 3):
        cut = int(rng.integers(1, len(pieces[k])))
        shape = shapes[k] if form else None
        checked += walk_and_compare(grammar, pieces[k][:cut], shape, wander=250, seed=k)
    assert checked > 10_000


def test_a_header_that_breaks_the_rules_is_read_as_the_parser_reads_it(corpus):
    texts, vocab, pieces = corpus
    grammar = AbcGrammar(vocab, form=True, usual_lengths=True)
    index = {ch: i for i, ch in enumerate(vocab)}
    for text in ("L:1/8\nM:6/8\nK:D\n|:A", "M:C|\nL:1/4\nK:Ador\nA2 B", "X:1\nT:x\nK:G\nG",
                 "M:7/8\nL:1/16\nK:F\n(3ABc"):  # fmt: skip
        ids = [START_ID, *(index[ch] for ch in text if ch in index)]
        assert walk_and_compare(grammar, ids, wander=200, seed=len(text)) > 5


def test_sampling_under_the_compiled_rules_draws_the_pieces_the_tables_draw(corpus):
    # the generate page's options: the folk form in drawn shapes, bars that come back, the
    # piece's memory, four takes weighed after 100 symbols
    texts, vocab, pieces = corpus
    net = small_net(len(vocab))
    library = returns_library(way=WAY, vocab=vocab, pieces=pieces)
    memory = memory_fit(net, [np.array(p + [END_ID]) for p in pieces[:40]], end_id=END_ID)
    grammar = AbcGrammar(vocab, form=True, usual_lengths=True)
    seeds = list(range(20, 28))
    options = dict(
        prime=[START_ID], seeds=seeds, temperature=0.9, max_tokens=500, end_id=END_ID,
        shapes=WAY.form_shapes_for(state=library, seeds=seeds),
        returns=WAY.returns_for(vocab=vocab, state=library, seeds=seeds, form=True),
        memory=None if memory is None else memory.weights, takes=4, trial=100,
    )  # fmt: skip
    tabled = sampler.sample(net, constraint=grammar.automaton(), **options)
    options["returns"] = WAY.returns_for(vocab=vocab, state=library, seeds=seeds, form=True)
    compiled = sampler.sample(net, constraint=grammar.machine(), **options)
    assert compiled == tabled
    assert sum(len(ids) for ids in compiled) > 800


def test_the_token_grammar_and_the_bars_markers_keep_the_tables():
    vocab = [*SPECIALS, *"M:4/L18K G\n|ABc", "\u2460"]
    assert not AbcGrammar(vocab, markers=True).machine_ready
    with pytest.raises(ValueError, match="markers"):
        AbcGrammar(vocab, markers=True).machine()
    assert AbcGrammar(vocab).machine_ready
