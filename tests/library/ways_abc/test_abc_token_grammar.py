"""Grammar-aware sampling over the token vocabulary: the character grammar, token by token.

No test here touches the database. The vocabulary is the tokens of real O'Neill tunes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musiclib.ml import sampler
from musiclib.ways import abc_tokens
from musiclib.ways.abc_grammar import AbcGrammar, AbcTokenGrammar
from musiclib.ways.abc_text import WAY, split_tunes
from musiclib.ways.base import END, END_ID, SPECIALS

HEADER = ["M:6/8", "\n", "L:1/8", "\n", "K:G", "\n"]


def oneills_texts(limit: int) -> list[str]:
    from music21 import corpus

    texts = []
    for path in sorted(corpus.getWork("oneills1850")):
        texts.extend(t for _, t in split_tunes(Path(path).read_text(encoding="latin-1")))
    return [WAY.normalise(t) for t in texts[:limit]]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return oneills_texts(400)


@pytest.fixture(scope="module")
def vocab(texts) -> list[str]:
    return [*SPECIALS, *sorted({tok for t in texts for tok in abc_tokens.tokenize(t)})]


@pytest.fixture(scope="module")
def grammar(vocab) -> AbcTokenGrammar:
    return AbcTokenGrammar(vocab)


def test_the_way_gives_a_token_vocabulary_the_token_grammar(vocab):
    assert isinstance(WAY.grammar(vocab=vocab), AbcTokenGrammar)
    assert isinstance(WAY.grammar(vocab=[*SPECIALS, *"M:L/K|\n168GA"]), AbcGrammar)


def test_a_tune_starts_with_a_meter_token_and_its_fields_come_in_order(grammar):
    first = grammar.allowed_after([])
    assert first and all(tok.startswith("M:") for tok in first)
    assert grammar.allowed_after(["M:6/8"]) == {"\n"}
    assert all(tok.startswith("L:") for tok in grammar.allowed_after(["M:6/8", "\n"]))
    after_header = grammar.allowed_after(HEADER)
    assert {"G", "^c", "z", "|:", "(3"} <= after_header and END not in after_header


def test_a_duration_follows_only_what_takes_one(grammar):
    assert {"2", "/2", "3"} <= grammar.allowed_after([*HEADER, "G"])
    assert {"2", "3"} <= grammar.allowed_after([*HEADER, "z"])
    # A chord symbol, a tuplet sign, a broken-rhythm sign or a bar line takes no duration
    # (`|2` would be a second ending, with no first one before it).
    for before in (['"~"'], ["(3"], ["G", ">"], ["G", "A", "B", "|"], ["G", " "]):
        assert not {"2", "/2", "3", "3/2"} & grammar.allowed_after([*HEADER, *before]), before


def test_a_bar_of_six_eighths_closes_only_when_full(grammar):
    bar = [*HEADER, "G", "|", "G", "A", "B", "c", "2"]  # a pickup, then 5 eighths
    assert "|" in grammar.allowed_after([*bar, "d"])
    # 5 eighths: a short bar may only end a section, so a "|" must become "||", "|]"…
    after = grammar.allowed_after([*bar, "|"])
    assert after and not {"G", "d", " ", "\n", "2"} & after
    assert all(tok[0] in "|]:" for tok in after)
    assert "|" in grammar.allowed_after([*HEADER, "G", "A"])  # the first bar may be short


def test_the_token_grammar_refuses_a_real_tune_exactly_where_the_character_grammar_does(
    texts, vocab
):
    """The first 20 O'Neill tunes under the structural rules (most break an abc2midi rule
    somewhere, ties between different notes above all): a tune's tokens are refused by the
    token grammar exactly when its characters are refused by the character grammar."""
    tokens = AbcTokenGrammar(vocab, abc2midi=False)
    chars = AbcGrammar([*SPECIALS, *sorted({c for t in texts for c in t})], abc2midi=False)
    sample = texts[:20]
    for text in sample:
        refused = bool(tokens.violations(abc_tokens.tokenize(text)))
        assert refused == bool(chars.violations(text)), text[:80]
    assert sum(not tokens.violations(abc_tokens.tokenize(t)) for t in sample) >= 10


def random_net(vocab_size: int, *, units: int = 24, seed: int = 0) -> sampler.Net:
    """An untrained model: random weights, so it proposes every token; END a little more
    likely than the rest (else a random tune would hardly ever end)."""
    rng = np.random.default_rng(seed)
    bias = np.zeros(vocab_size, np.float32)
    bias[END_ID] = 8.0
    return sampler.Net(
        table=rng.normal(0, 0.5, (vocab_size, 4 * units)).astype(np.float32),
        recurrent=[rng.normal(0, 0.3, (units, 4 * units)).astype(np.float32)],
        biases=[np.zeros(4 * units, np.float32)],
        dense=[
            (
                rng.normal(0, 0.5, (units, vocab_size)).astype(np.float32),
                bias,
                False,
            )
        ],  # fmt: skip
        units=[units],
    )


def test_token_grammar_never_produces_an_invalid_tune_from_a_random_model(vocab):
    """An untrained model's tunes, sampled with the token grammar: every finished one
    parses in music21 with every checked bar of the meter's length and plays in abc2midi,
    and the grammar never had to give up (no fallback to an unconstrained step)."""
    from musiclib.render import abc_validity

    constraint = WAY.grammar(vocab=vocab)
    # A few temperatures: a flat model wanders everywhere, a peaked one repeats itself. A
    # random model ends one piece in six or so within 400 tokens: 24 pieces leave several.
    finished = 0
    for temperature, seed in ((1.0, 0), (0.5, 100), (2.0, 200), (1.0, 300), (0.5, 400), (2.0, 500)):
        outs = sampler.sample(
            random_net(len(vocab), seed=seed),
            prime=[1],
            seeds=list(range(seed, seed + 4)),
            temperature=temperature,
            max_tokens=400,
            end_id=END_ID,
            constraint=constraint,
        )
        for ids in outs:
            tokens = [vocab[i] for i in ids if i != END_ID]
            assert constraint.violations(tokens, end=ids[-1] == END_ID) == []
            if ids[-1] != END_ID:
                continue
            finished += 1
            text = WAY.finish(WAY.decode(vocab=vocab, ids=ids), title="t")
            validity = abc_validity(abc=text)
            assert validity.parses and validity.plays, (text, validity.messages)
            assert validity.bar_accuracy in (None, 1.0), (text, validity.messages)
    assert constraint.stats["fallbacks"] == 0
    assert finished >= 3


def test_token_masks_do_not_depend_on_the_order_the_lookahead_tries_tokens(vocab, texts):
    """The look-ahead that keeps dead ends out (`_viable`) stops at the first token it finds
    allowed, trying first the characters that found one most often: the order changes how
    soon it stops, never what it finds. The same masks come out with the tries reversed."""
    from musiclib.ways import abc_grammar

    prefixes = [abc_tokens.tokenize(t)[:k] for t in texts[:12] for k in range(0, 90, 3)]
    net = sampler.Net(
        table=np.random.default_rng(1).normal(0, 2, (len(vocab), 32)).astype(np.float32),
        recurrent=[np.random.default_rng(2).normal(0, 0.3, (8, 32)).astype(np.float32)],
        biases=[np.zeros(32, np.float32)],
        dense=[
            (
                np.random.default_rng(3).normal(0, 3, (8, len(vocab))).astype(np.float32),
                np.zeros(len(vocab), np.float32),
                False,
            )
        ],  # fmt: skip
        units=[8],
    )
    walks = sampler.sample(
        net, prime=[1], seeds=range(6), temperature=1.5, max_tokens=120,
        constraint=AbcTokenGrammar(vocab),
    )  # fmt: skip
    prefixes += [[vocab[i] for i in ids[:k] if i != END_ID] for ids in walks for k in (40, 80, 120)]

    def masks(reverse: bool) -> list[frozenset[str]]:
        abc_grammar._TOKEN_SHARED.clear()  # no masks from the other order
        grammar = AbcTokenGrammar(vocab)
        if reverse:
            grammar._root_search.reverse()
            grammar._found = lambda ch: None  # keep the reversed order
        return [frozenset(grammar.allowed_after(p)) for p in prefixes]

    assert len(prefixes) > 300
    assert masks(reverse=False) == masks(reverse=True)


def test_a_shaped_part_with_endings_writes_its_first_ending_with_the_tokens_it_has():
    # People's tunes write a first ending as |[1: a token vocabulary has "|" and "[1", and
    # no "1" standing alone. The bar line before a part's first ending once allowed only
    # |1, which such a vocabulary cannot write: a dead end, after which anything went.
    from musiclib.ways.abc_grammar import FormShape

    bar = "GABc dcBA|"
    second = "|:" + bar * 7 + "GABc d2G2:|\n"
    tune = "M:4/4\nL:1/8\nK:G\n|:" + bar * 6 + "GABc dcBA|[1GABc dcBA:|[2GABc dcBG||\n" + second
    tokens = abc_tokens.tokenize(tune)
    vocab = [*SPECIALS, *sorted(set(tokens))]
    assert "[1" in vocab and "1" not in vocab and "|1" not in vocab
    grammar = AbcTokenGrammar(vocab, form=True)
    shape = FormShape(parts=((8, True), (8, True)), final=0, meter=(4, 4), endings=(True, False))
    state = grammar.fresh_shaped(shape)
    grammar._feed_id(state, vocab.index("<s>"))
    checked = False
    for k, tok in enumerate([*tokens, END]):
        mask = grammar._mask(state)
        assert mask is not None and mask[vocab.index(tok)], "".join(tokens[:k])
        if "".join(tokens[:k]) == "M:4/4\nL:1/8\nK:G\n|:" + bar * 7:  # the part's 8th bar
            assert {vocab[i] for i in np.flatnonzero(mask)} == {"[1"}
            checked = True
        grammar._feed_id(state, vocab.index(tok))
    assert checked


def test_a_token_is_allowed_exactly_when_the_parser_accepts_its_characters_and_it_leads_on(
    vocab, texts
):
    """A mask judges the tokens inside a chord symbol or annotation by a table of the
    quote's text (the parser reads a quote by its text alone), not character by character
    from each state. The masks equal a token-by-token check on every state of pieces that
    are full of chord symbols: a token is allowed where the parser accepts each of its
    characters and some token (or the end) can follow it."""
    from musiclib.ways import abc_grammar

    quotes = ['"G"', '"Am"', '"D7"', '"Em/b"', '"C#m7"', '"Bb"', '"F#m"', '"Gmaj7"', '" "']
    odd = ['"Xq"', '"^above"', '"', '"A', '"G"A', '"D"|', '"E""A"']  # refused, open, past
    quoted = sorted({*vocab, *quotes, *odd} - set(SPECIALS))
    words = [*SPECIALS, *quoted]
    abc_grammar._TOKEN_SHARED.clear()
    grammar = AbcTokenGrammar(words)
    index = {tok: i for i, tok in enumerate(words)}
    net = random_net(len(words), seed=7)
    chords = [index[q] for q in quotes + odd]
    net.dense[0][1][chords] = 3.0  # chord symbols come often
    walks = sampler.sample(
        net, prime=[1], seeds=range(8), temperature=1.2, max_tokens=150, end_id=END_ID,
        constraint=grammar,
    )  # fmt: skip
    pieces = [[words[i] for i in ids if i != END_ID] for ids in walks]
    pieces += [abc_tokens.tokenize(t)[:60] for t in texts[:4]]
    assert sum(tok in quotes for piece in pieces for tok in piece) > 40

    def by_token(st) -> np.ndarray:
        mask, parses = np.zeros(len(words), dtype=bool), np.zeros(len(words), dtype=bool)
        for i, tok in enumerate(words):
            if tok in SPECIALS:
                continue
            after = st.clone()
            parses[i] = all(grammar.chars._feed(after, ch) for ch in tok)
            mask[i] = parses[i] and grammar._viable(after)
        mask[END_ID] = grammar.chars._can_end(st)
        if not mask.any():  # a dead end: the tokens that parse, else the end
            mask = parses if parses.any() else np.arange(len(words)) == END_ID
        return mask

    states = 0
    for piece in pieces:
        st = abc_grammar._Row()
        for tok in piece:
            abc_grammar._TOKEN_SHARED.clear()  # each mask built, not found
            grammar._cache, grammar._viable_cache = {}, {}
            mask = grammar._mask(st)
            expected = by_token(st)
            assert np.array_equal(mask, expected), (piece, tok)
            states += 1
            for ch in tok:
                grammar.chars._feed(st, ch)
    assert states > 600


def test_at_a_dead_end_the_parsers_tokens_come_first_and_then_the_end():
    # No notes at all: after the header only bar lines parse, and no more than two follow
    # each other. The look-ahead finds no way on from the first; the tokens the parser
    # accepts are allowed all the same, and where it accepts none the piece ends.
    grammar = AbcTokenGrammar([*SPECIALS, "M:4/4", "L:1/8", "K:G", "\n", "|"])
    header = ["M:4/4", "\n", "L:1/8", "\n", "K:G", "\n"]
    assert grammar.allowed_after(header) == {"|"}
    assert grammar.allowed_after([*header, "|", "|"]) == {END}
    assert grammar.stats["fallbacks"] >= 2
