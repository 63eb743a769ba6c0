"""The line's lean (`musiclib.ml.line`): the notes' moves read from ABC characters as they
are written, counted, fitted towards a corpus's, and leaned on in both compiled loops."""

from __future__ import annotations

import numpy as np
import pytest

from musiclib.ml import line as ln
from musiclib.ml import sampler
from musiclib.ways import get_way
from musiclib.ways.base import END_ID
from tests.library.ml.test_fastloop import JIG, REEL, random_net


def moves_of(text: str) -> list[tuple[int, int]]:
    """(context, move) of each note that follows a note, by the tracker, in order of context;
    the context without the last note's degree (`degrees_of`)."""
    return sorted((ctx % ln.BAR_CONTEXTS, move) for ctx, move in context_intervals(text))


def degrees_of(text: str) -> list[tuple[int, int, int]]:
    """(the last note's degree, 0 the tonic and 7 none known, its move, the move before
    0-4) of each note that follows a note, in order of context."""
    return [
        (ctx // ln.BAR_CONTEXTS, move, ctx % ln.MOVE_CONTEXTS)
        for ctx, move in context_intervals(text)
    ]


def context_intervals(text: str) -> list[tuple[int, int]]:
    chars = sorted(set(text))
    classes, steps = ln.symbol_classes(chars)
    index = {c: i for i, c in enumerate(chars)}
    counts = ln.line_counts(pieces=[[index[c] for c in text]], classes=classes, steps=steps)
    return [
        (ctx, m - ln.SPAN)
        for ctx in range(ln.CONTEXTS)
        for m in range(ln.MOVES)
        for _ in range(int(counts[ctx, m]))
    ]


def test_each_note_counts_its_move_in_the_context_of_the_move_before():
    # G A B: a step up, then a step up after a step up; c' is an octave above c: from B a
    # ninth up (counted at the octave's edge) after a step up; B after it, a leap down.
    assert moves_of("X:1\nT:A Gig\nK:G\nGAB c'B\n") == [(0, 1), (1, 1), (1, 7), (2, -7)]
    # across a bar line, the same moves in contexts of their own
    across = ln.MOVE_CONTEXTS
    assert moves_of("K:G\nG|A|B") == [(0 + across, 1), (1 + across, 1)]


def test_a_note_is_read_by_its_degree_in_the_key_its_key_field_names():
    # In G, G is the tonic (degree 0): G A B c' (an octave above c: the 4th), then B.
    moves = [(0, 1, 0), (1, 1, 1), (2, 7, 1), (3, -7, 2)]
    assert degrees_of("X:1\nT:A Gig\nK:G\nGAB c'B\n") == moves
    # A key field's spaces and mode are read past; an inline field changes the tonic for
    # the notes after it (B is the 2nd of A); a tune without a key field has no degrees.
    assert degrees_of("K: Dmix\nGA B|[K:Ador]cB") == [(1, 1, 1), (2, -1, 1), (3, 1, 0), (4, 1, 1)]
    assert degrees_of("GAB cB\n") == [(7, 1, 0), (7, -1, 1), (7, 1, 1), (7, 1, 1)]
    # a K that begins no field (a letter in a title's text) names no key
    assert degrees_of("T:Kate\nK:E\nEF") == [(0, 1, 0)]
    assert degrees_of("T:K:G\nEF") == [(7, 1, 0)]


def test_weights_fitted_without_the_degree_serve_every_degree_alike():
    old = np.arange(ln.BAR_CONTEXTS * ln.MOVES, dtype=np.float32).reshape(ln.BAR_CONTEXTS, -1)
    full = ln.full_theta(old)
    assert full.shape == (ln.CONTEXTS, ln.MOVES)
    for degree in range(ln.DEGREES):
        assert (full[degree * ln.BAR_CONTEXTS : (degree + 1) * ln.BAR_CONTEXTS] == old).all()
    with pytest.raises(ValueError, match="weights"):
        ln.full_theta(np.zeros((3, ln.MOVES)))


def test_chord_symbols_decorations_and_fields_hold_no_notes():
    text = 'K:D\n"G"AB!trill!c [K:G] d|[1e\nC:composer\nd'
    # A B c d e, then d: the composer's line names no note (its C is taken back at the ':');
    # e follows d across a bar line, a context of its own.
    across = ln.MOVE_CONTEXTS
    assert moves_of(text) == [(0, 1), (1, -1), (1, 1), (1, 1), (1 + across, 1)]


def test_tokens_read_the_same_moves_as_characters():
    from musiclib.ways.abc_tokens import add_markers, tokenize

    text = 'X:1\nM:6/8\nK:G\n|:"G"GAB c\'B d\'2|=B,2 A,/C/ [K:D] "Am"e3:|\nC:someone\nfg\n'
    tokens = tokenize(text)
    assert "c'" in tokens and "=B," in tokens  # (a pitch with its octave marks is one token)
    vocab = sorted(set(tokens))
    classes, steps = ln.symbol_classes(vocab)
    index = {t: i for i, t in enumerate(vocab)}
    by_token = ln.line_counts(pieces=[[index[t] for t in tokens]], classes=classes, steps=steps)
    assert by_token.sum() == 11  # twelve notes (the composer line names none)
    assert (by_token == ln.text_counts([text])).all()
    assert (ln.text_counts([add_markers(text)]) == by_token).all()  # (bars: markers hold none)
    # ... but their notes are not read in semitones (`=B,` is one token): no phrase lean
    assert not ln.phrases_readable(vocab)
    with pytest.raises(ValueError, match="characters"):
        ln.Line.of(vocab, np.zeros((ln.CONTEXTS, ln.MOVES)), phrase_keys=np.zeros(1, np.int64),
                   phi=np.zeros(ln.PHRASE + 1))  # fmt: skip
    # the `bars` vocabulary's markers hold no notes: the same phrases as the plain characters,
    # and the keys a checkpoint saves (read from its ids) are those a run's end fits against
    # (read from its texts)
    marked = add_markers(text)
    chars = sorted(set(marked))
    assert ln.phrases_readable(chars)
    at = {c: i for i, c in enumerate(chars)}
    saved = ln.phrase_state(vocab=chars, pieces=[[at[c] for c in marked]])[ln.PHRASES_STATE]
    assert len(saved) > 11
    assert (saved == ln.phrase_index(ln.text_intervals([text])).keys).all()


def test_the_shares_are_read_as_a_musician_counts_them():
    chars = sorted(set("CDEFGA"))
    classes, steps = ln.symbol_classes(chars)
    index = {c: i for i, c in enumerate(chars)}

    def shares(text):
        ids = [[index[c] for c in text]]
        return ln.line_shares(ln.line_counts(pieces=ids, classes=classes, steps=steps))

    scale = shares("CDEFGFEDC")  # one turn among seven moves after a move
    assert scale["turns"] == pytest.approx(1 / 7)
    assert scale["steps"] == 1.0
    leaps = shares("CGCGCFAF")  # fifths C-G and back, a fourth C-F, thirds F-A-F
    assert leaps["fourths_fifths"] == pytest.approx(5 / 7)
    assert leaps["thirds"] == pytest.approx(2 / 7)
    assert leaps["turns"] == pytest.approx(5 / 6)  # (A after C-F goes on up)


def test_the_shares_say_how_often_a_note_lands_on_the_tonic_and_the_fifth():
    # After G, in G: A B G D G B, two on the tonic, one on the 5th; without a key, none.
    shares = ln.line_shares(ln.text_counts(["K:G\nGABGDGB"]))
    assert shares["tonic"] == pytest.approx(2 / 6) and shares["fifth"] == pytest.approx(1 / 6)
    in_d = ln.line_shares(ln.text_counts(["K:D\nGABGDGB"]))  # (D the tonic, A the 5th)
    assert in_d["tonic"] == pytest.approx(1 / 6) and in_d["fifth"] == pytest.approx(1 / 6)
    keyless = ln.line_shares(ln.text_counts(["GABGDGB"]))
    assert keyless["tonic"] == keyless["fifth"] == 0.0 and keyless["steps"] > 0


def test_a_fit_moves_the_weights_towards_the_targets_shares_where_both_have_enough():
    target = np.zeros((ln.CONTEXTS, ln.MOVES), dtype=np.int64)
    written = np.zeros_like(target)
    target[1, ln.SPAN + 3], target[1, ln.SPAN + 1] = 200, 800  # fourths a fifth of the moves
    written[1, ln.SPAN + 3], written[1, ln.SPAN + 1] = 100, 900
    written[2, ln.SPAN + 1] = 5  # too few either side to compare
    theta = ln.line_fit(theta=np.zeros((ln.CONTEXTS, ln.MOVES)), target=target, written=written)
    assert theta[1, ln.SPAN + 3] == pytest.approx(np.log(200.5 / 100.5), abs=1e-3)
    assert theta[1, ln.SPAN + 1] < 0
    assert not theta[2].any() and not theta[0].any()


def intervals(text: str) -> list[int]:
    """The intervals of a text's notes in semitones (`piece_intervals`)."""
    return [int(m) - ln.INTERVAL_SPAN for m in ln.text_intervals([text])[0]]


def test_a_tunes_intervals_are_read_in_semitones_after_octave_marks_and_without_a_field():
    # G up to c' is 17 semitones (counted as an octave), c' down to B 13; the A that begins
    # the line "A:Trad" names a field, so the next interval is from B
    assert intervals("X:1\nK:G\nGc'B\nA:Trad\nB2 c|\n") == [12, -12, 0, 1]


@pytest.mark.parametrize(
    "key, notes, expected",
    [
        ("G", "GAB c2 d|efg ^f2 e|", [2, 2, 1, 2, 2, 2, 1, -1, -2]),  # F sharp in the key
        ("F", "FGA B c|", [2, 2, 1, 2]),  # B flat
        ("Ador", "ABc d e f g|", [2, 1, 2, 2, 2, 1]),  # A dorian: G major's F sharp
        ("Em", "EFG|", [2, 1]),
        ("Bb", "Bcd e|", [2, 2, 1]),  # B flat major: E flat
        ("D", "d^cd =c B|c|", [-1, 1, -2, -1, 2]),  # =c holds to the bar line
        ("Amix", "ABc d e f g a|", [2, 2, 1, 2, 2, 1, 2]),  # D major's signature
        ("C", "C_E^^F =E|", [3, 4, -3]),
    ],
)
def test_the_key_field_and_accidentals_give_each_note_its_semitone(key, notes, expected):
    assert intervals(f"X:1\nK:{key}\n{notes}\n") == expected


def test_a_phrase_index_finds_the_longest_phrase_ending_at_each_note():
    index = ln.phrase_index(ln.text_intervals(["K:G\nGABc dedB|\n", "K:D\nDEFG ABAF|\n"]))
    (tune,) = ln.text_intervals(["K:C\nCDEF GA B,|\n"])  # steps up, then a seventh down
    # (up to 7 intervals: a phrase of 8 notes); the seventh is in neither tune
    assert index.matches(tune).tolist() == [1, 2, 3, 4, 5, 0]


def test_a_corpus_tune_is_judged_by_the_others_and_a_transposed_copy_is_no_other():
    # the third tune is the first a tone up; the second steps up six times (to C sharp in
    # D major), then leaps down a third
    tunes = ["K:G\nGABc dedB|\n", "K:D\nDEFG ABcA|\n", "K:A\nABcd efec|\n"]
    index = ln.phrase_index(ln.text_intervals(tunes))
    first, second = ln.text_intervals(tunes[:2])
    # the first judged by the second alone: its five steps up, none of its steps down
    assert index.matches(first, least=2).tolist() == [1, 2, 3, 4, 5, 0, 0]
    assert index.matches(second, least=2).tolist() == [1, 2, 3, 4, 5, 2, 0]
    found = ln.phrase_counts(intervals=[first, second], index=index, own=True)
    assert found.tolist() == [3, 2, 3, 2, 2, 2, 0, 0]


def test_each_tune_weighs_as_much_as_any_other_in_the_phrase_counts():
    index = ln.phrase_index([np.array([14, 14])])  # two whole tones up (intervals + 12)
    short = np.array([14, 14])  # both notes end a phrase the corpus has
    long = np.zeros(6, dtype=np.int64)  # six octaves down: none does
    found = ln.phrase_counts(intervals=[short, long], index=index)
    # the short tune's notes scaled by the mean length over its own (4 / 2), the long
    # one's by 4 / 6: half the weight ends a phrase, as half the tunes do all through
    assert found.tolist() == pytest.approx([4, 2, 2, 0, 0, 0, 0, 0])
    assert found[1:].sum() / found.sum() == pytest.approx(0.5)  # pooled, 2 notes of 8


def test_the_phrase_lean_stands_aside_for_a_figure_the_tune_already_played():
    # the corpus only leaps; the tune played C D E F and now C D E again
    index = ln.phrase_index(ln.text_intervals(["K:C\nCEGc|\n"]))
    text = "K:C\nCDEF|CDE"
    vocab = sorted(set(text) | set("FG"))
    line = ln.Line.of(vocab, np.zeros((ln.CONTEXTS, ln.MOVES)), phrase_keys=index.keys,
                      phi=np.full(ln.PHRASE + 1, -5.0))  # fmt: skip
    rows = ln.line_rows(line, rows=1, prime=[vocab.index(c) for c in text])
    logits = np.zeros(len(vocab), dtype=np.float32)
    out = np.empty_like(logits)
    assert ln._lean(logits, rows, 0, line.notes, line.steps, line.theta, line.phrase_keys,
                    line.phi, out)  # fmt: skip
    # F goes on with the tune's own four notes: no phrase weight; G and a repeated E do not
    assert out[vocab.index("F")] == 0.0
    assert out[vocab.index("G")] == out[vocab.index("E")] == -5.0


def test_the_lean_reads_the_tunes_own_figure_again_after_an_octave_mark():
    # c d e f, then C' D' E': the E is an octave low until its mark, read after the lean
    # had already looked at the tune; then F goes on the tune's own figure c d e f
    index = ln.phrase_index(ln.text_intervals(["K:C\nCEGc|\n"]))
    text = "K:C\ncdef|C'D'E"
    vocab = sorted(set(text) | set("f"))
    line = ln.Line.of(vocab, np.zeros((ln.CONTEXTS, ln.MOVES)), phrase_keys=index.keys,
                      phi=np.full(ln.PHRASE + 1, -5.0))  # fmt: skip
    rows = ln.line_rows(line, rows=1, prime=[vocab.index(c) for c in text])
    logits = np.zeros(len(vocab), dtype=np.float32)
    out = np.empty_like(logits)
    args = (line.notes, line.steps, line.theta, line.phrase_keys, line.phi, out)
    assert ln._lean(logits, rows, 0, *args)
    assert out[vocab.index("f")] == -5.0  # (from the low E, f is no step of the figure)
    mark = vocab.index("'")
    no_counts = np.zeros((0, 0), dtype=np.int64)
    ln._track(rows, 0, line.classes[mark], line.steps[mark], no_counts)
    assert ln._lean(logits, rows, 0, *args)
    assert out[vocab.index("f")] == 0.0


def test_a_fit_moves_the_phrase_weights_towards_the_targets_shares():
    target = np.array([10, 20, 30, 40, 50, 60, 70, 300])  # notes ending 0..7 moves found
    written = np.array([40, 40, 60, 60, 60, 60, 60, 100])
    phi = ln.line_fit(theta=np.zeros(ln.PHRASE + 1), target=target, written=written)
    assert phi[ln.PHRASE] > 0 > phi[2]
    assert phi[ln.PHRASE] == pytest.approx(
        np.log(300.5 / (target + 0.5).sum()) - np.log(100.5 / (written + 0.5).sum()), abs=1e-4
    )
    assert phi[0] == 0.0  # (10 notes in the target: too few to compare)
    shares = ln.phrase_shares(target)
    assert shares["phrases_8"] == pytest.approx(300 / 580)
    assert shares["phrases_4"] == pytest.approx((40 + 50 + 60 + 70 + 300) / 580)


def test_phrase_weights_are_stored_with_the_moves_and_moves_stored_before_have_none():
    theta = np.zeros((ln.CONTEXTS, ln.MOVES), dtype=np.float32)
    phi = np.arange(ln.PHRASE + 1, dtype=np.float32) / 10
    fit = ln.LineFit(theta, {"turns": 0.5}, {"turns": 0.5}, {"turns": 0.5}, 3, phi=phi)
    again = ln.LineFit.from_dict(fit.to_dict())
    assert np.allclose(again.weights.phi, phi) and np.allclose(again.weights.theta, theta)
    before = {k: v for k, v in fit.to_dict().items() if k != "phi"}
    assert ln.LineFit.from_dict(before).weights.phi is None
    with pytest.raises(ValueError, match="phrase weights"):
        ln.LineFit.from_dict({**fit.to_dict(), "phi": [0.0, 1.0]})


@pytest.fixture(scope="module")
def abc():
    way = get_way("abc")
    config = way.resolve_config(preset="tiny", overrides={"val_fraction": 0})
    prepared = way.prepare(texts=[REEL, JIG], config=config, seed=0)
    vocab = prepared.vocab
    assert "'" not in vocab and "," not in vocab  # (no octave marks: a letter is its note)
    net = random_net(vocab=len(vocab), units=[24], dense=[], seed=3)
    return way, vocab, net


def draw(abc, *, grammar: bool, theta=None, seeds=range(1, 25), phi=None):
    way, vocab, net = abc
    line = None
    if theta is not None:
        keys = None if phi is None else corpus_phrases(abc).keys
        line = ln.Line.of(vocab, theta, phrase_keys=keys, phi=phi)
    return sampler.sample(
        net,
        prime=way.encode_prime(vocab=vocab, prime=""),
        seeds=list(seeds),
        temperature=1.0,
        max_tokens=300,
        end_id=END_ID,
        constraint=way.grammar(vocab=vocab).automaton() if grammar else None,
        line=line,
    )


def corpus_phrases(abc) -> ln.PhraseIndex:
    return ln.phrase_index(ln.text_intervals([REEL, JIG]))


@pytest.mark.parametrize("grammar", [True, False], ids=["grammar tables", "no grammar"])
def test_a_lean_of_nothing_draws_the_same_pieces_as_none(abc, grammar):
    zero = np.zeros((ln.CONTEXTS, ln.MOVES), dtype=np.float32)
    assert draw(abc, grammar=grammar, theta=zero) == draw(abc, grammar=grammar)


@pytest.mark.parametrize("grammar", [True, False], ids=["grammar tables", "no grammar"])
def test_a_lean_against_leaps_leaves_only_steps_and_repeats(abc, grammar):
    way, vocab, _ = abc
    theta = np.full((ln.CONTEXTS, ln.MOVES), -40.0, dtype=np.float32)
    theta[:, ln.SPAN - 1 : ln.SPAN + 2] = 0.0
    classes, steps = ln.symbol_classes(vocab)
    free = ln.line_counts(pieces=draw(abc, grammar=grammar), classes=classes, steps=steps)
    leaned = ln.line_counts(
        pieces=draw(abc, grammar=grammar, theta=theta), classes=classes, steps=steps
    )
    size = np.abs(np.arange(-ln.SPAN, ln.SPAN + 1))
    assert free[:, size > 1].sum() > 50  # (the random net leaps freely)
    assert leaned.sum() > 50 and leaned[:, size > 1].sum() == 0


@pytest.mark.parametrize("grammar", [True, False], ids=["grammar tables", "no grammar"])
def test_phrase_weights_of_nothing_draw_the_same_pieces_as_none(abc, grammar):
    zero = np.zeros((ln.CONTEXTS, ln.MOVES), dtype=np.float32)
    none = np.zeros(ln.PHRASE + 1, dtype=np.float32)
    assert draw(abc, grammar=grammar, theta=zero, phi=none) == draw(abc, grammar=grammar)


@pytest.mark.parametrize("grammar", [True, False], ids=["grammar tables", "no grammar"])
def test_a_phrase_lean_leads_the_line_along_the_corpuss_phrases(abc, grammar):
    way, vocab, _ = abc
    zero = np.zeros((ln.CONTEXTS, ln.MOVES), dtype=np.float32)
    index = corpus_phrases(abc)

    def found(phi=None):
        pieces = draw(abc, grammar=grammar, theta=None if phi is None else zero, phi=phi)
        text = [way.decode(vocab=vocab, ids=ids) for ids in pieces]
        return ln.phrase_counts(intervals=ln.text_intervals(text), index=index)

    free = found()
    # a move the corpus never makes is ruled out ...
    never = found(np.array([-40, 0, 0, 0, 0, 0, 0, 0], dtype=np.float32))
    assert free[0] > 50 and never.sum() > 100 and never[0] == 0
    # ... and a note that ends a phrase of three notes or more is drawn far more often
    longer = found(np.array([-3, -3, 0, 0, 0, 0, 0, 0], dtype=np.float32))
    assert longer[2:].sum() / longer.sum() > 2 * free[2:].sum() / free.sum()


def test_a_lean_is_not_offered_with_a_python_constraint(abc):
    way, vocab, net = abc
    with pytest.raises(ValueError, match="lean"):
        sampler.sample(
            net,
            prime=way.encode_prime(vocab=vocab, prime=""),
            seeds=[1],
            end_id=END_ID,
            constraint=lambda row, ids: None,
            line=ln.Line.of(vocab, np.zeros((ln.CONTEXTS, ln.MOVES))),
        )
