"""The ABC way's `bars` vocabulary: characters with each bar numbered within its part.

No test here touches the database. The corpus is real: O'Neill's tunes from music21's
bundled corpus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musiclib.ml import sampler
from musiclib.ml.model import build_model
from musiclib.ways import abc_tokens
from musiclib.ways.abc_grammar import AbcGrammar
from musiclib.ways.abc_text import WAY, split_tunes
from musiclib.ways.base import END_ID, START_ID

M = abc_tokens.MARKS
TUNE = 'M:6/8\nL:1/8\nK:G\n|:D|"G"GAB "D"A2F|G3 G2:|\nK:D\n|:f|e2d [1c3:|[2d3||\n'


def oneills(limit: int) -> list[str]:
    from music21 import corpus

    texts = []
    for path in sorted(corpus.getWork("oneills1850")):
        texts.extend(t for _, t in split_tunes(Path(path).read_text(encoding="latin-1")))
    return [WAY.normalise(t) for t in texts[:limit]]


def test_each_bar_line_is_followed_by_the_bar_of_its_part_that_comes_next():
    marked = abc_tokens.add_markers(TUNE)
    # A repeat sign starts a part again; the pickup is the part's first bar; a second
    # ending takes the first ending's number; a key line holds no bar line.
    assert marked == (
        f'M:6/8\nL:1/8\nK:G\n|:{M[0]}D|{M[1]}"G"GAB "D"A2F|{M[2]}G3 G2:|{M[0]}\n'
        f"K:D\n|:{M[0]}f|{M[1]}e2d [1{M[2]}c3:|[2{M[2]}d3||{M[0]}\n"
    )
    assert abc_tokens.strip_markers(marked) == TUNE


def test_a_thick_bar_line_starts_a_part_as_the_grammar_reads_it():
    text = "M:4/4\nL:1/4\nK:C\nCDEF|GABc[|c4|]\n"
    assert abc_tokens.add_markers(text) == f"M:4/4\nL:1/4\nK:C\nCDEF|{M[1]}GABc[|{M[0]}c4|]{M[0]}\n"
    grammar = AbcGrammar(["<pad>", "<s>", "</s>", *sorted(set(text) | set(M))], markers=True)
    assert grammar.violations(abc_tokens.add_markers(text)) == []


def test_a_bar_line_inside_a_chord_symbol_or_an_inline_field_is_no_bar_line():
    text = 'M:4/4\nL:1/4\nK:C\nC "|"D [K:G]E F|G4|]\n'
    assert abc_tokens.add_markers(text) == f'M:4/4\nL:1/4\nK:C\nC "|"D [K:G]E F|{M[1]}G4|]{M[0]}\n'


def test_a_bars_run_trains_on_marked_text_and_its_pieces_read_as_the_tunes():
    texts = oneills(12)
    config = WAY.resolve_config(preset="tiny", overrides={"vocabulary": "bars"})
    prepared = WAY.prepare(texts=texts, config=config, seed=0)
    assert prepared.stats["vocabulary"] == "bars"
    assert abc_tokens.vocabulary_of(prepared.vocab) == "bars"
    assert {M[0], M[1], M[7]} <= set(prepared.vocab)
    for seq in prepared.train + prepared.val:
        assert seq[0] == START_ID and seq[-1] == END_ID
        text = WAY.decode(vocab=prepared.vocab, ids=seq)  # (the preset cuts long tunes)
        assert any(t.startswith(text) for t in texts) and text.startswith("M:")
    # A prime is marked as the training text was.
    ids = WAY.encode_prime(vocab=prepared.vocab, prime="M:6/8\nL:1/8\nK:G\nGAB|")
    assert prepared.vocab[ids[-1]] == M[1]


def test_it_refuses_an_unknown_vocabulary_and_names_the_three():
    with pytest.raises(ValueError, match="chars, tokens, bars"):
        WAY.resolve_config(preset="tiny", overrides={"vocabulary": "words"})


@pytest.fixture(scope="module")
def grammars():
    vocab = ["<pad>", "<s>", "</s>", *sorted({c for t in oneills(200) for c in t} | set(M))]
    return (
        vocab,
        AbcGrammar(vocab, usual_lengths=True),
        AbcGrammar(vocab, usual_lengths=True, markers=True),
    )


def test_the_grammar_allows_only_the_right_marker_where_a_bar_line_may_end(grammars):
    _, _, marked = grammars
    head = "M:6/8\nL:1/8\nK:G\nD|GAB A2F|"
    after_bar = marked.allowed_after(abc_tokens.add_markers(head)[:-1])
    assert M[2] in after_bar and ":" in after_bar and "|" in after_bar  # (or |:, ||)
    assert not after_bar & (set(M) - {M[2]}) and "G" not in after_bar and "\n" not in after_bar
    after_marker = marked.allowed_after(abc_tokens.add_markers(head))
    assert "G" in after_marker and not after_marker & set(M)
    assert not marked.allowed_after("M:6/8\nL:1/8\nK:G\nD") & set(M)  # no bar line, no marker


@pytest.mark.parametrize("form", [False, True])
def test_the_grammar_reads_marked_tunes_as_the_plain_grammar_reads_them(grammars, form):
    vocab, _, _ = grammars
    plain = AbcGrammar(vocab, usual_lengths=True, form=form)
    marked = AbcGrammar(vocab, usual_lengths=True, form=form, markers=True)
    texts = oneills(200)
    clean = 0
    for text in texts:
        text_m = abc_tokens.add_markers(text)
        # a marked position -> the plain position of the first symbol not a marker from it
        # (a bar line that may not end where it stands refuses its marker, as the plain
        # grammar refuses what follows the bar line)
        plain_at = np.cumsum([0] + [ch not in M for ch in text_m])
        bad_plain = plain.violations(text)
        bad_marked = marked.violations(text_m)
        # Every marker is allowed where it stands, and the other symbols as in the plain
        # text, up to the first one refused (after which each reads on as well as it can).
        if not bad_plain:
            clean += 1
            assert bad_marked == []
        else:
            assert bad_marked and plain_at[bad_marked[0]] == bad_plain[0]
    assert clean >= 20, clean  # (many tunes read clean: the comparison is not vacuous)


def test_pieces_sampled_with_markers_read_clean_without_them(grammars):
    vocab, plain, marked = grammars
    config = WAY.resolve_config(preset="tiny", overrides={"vocabulary": "bars"})
    net = sampler.net_from_keras(build_model(config=config, vocab_size=len(vocab), seed=3))
    prime = WAY.encode_prime(vocab=vocab, prime="M:6/8\nL:1/8\nK:G\n")
    outs = sampler.sample(
        net, prime=prime, seeds=list(range(1, 5)), temperature=1.0, max_tokens=300,
        end_id=END_ID, constraint=marked.automaton(),
    )  # fmt: skip
    ended = 0
    for ids in outs:
        text = WAY.decode(vocab=vocab, ids=[*prime, *ids])
        assert not set(text) & set(M)
        ends = bool(len(ids)) and ids[-1] == END_ID
        ended += ends
        assert plain.violations(text, end=ends) == []
    assert ended and np.all([len(ids) for ids in outs])
