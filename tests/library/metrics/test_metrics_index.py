"""CorpusIndex: exact, transposition-invariant copy detection, checked against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musiclib.metrics.index import (
    Copy,
    CorpusIndex,
    brute_force_longest_copy,
    encode,
    gram_keys,
    longest_common_run,
)
from musiclib.metrics.notes import Note


def melody(pitches, durations=None) -> list[Note]:
    durations = durations if durations is not None else [0.5] * len(pitches)
    offsets = np.concatenate([[0.0], np.cumsum(durations)[:-1]]) if len(pitches) else []
    rows = zip(pitches, durations, offsets, strict=True)
    return [Note(int(p), float(d), float(o)) for p, d, o in rows]


def transposed(notes: list[Note], semitones: int, stretch: float = 1.0) -> list[Note]:
    return [Note(n.pitch + semitones, n.duration * stretch, n.offset * stretch) for n in notes]


def junk(rng: np.random.Generator, k: int, start: int = 60) -> list[Note]:
    """New material with leaps of 13-20 semitones and odd lengths: a folk corpus never has
    them, so a copy embedded between junk cannot be extended into it."""
    steps = rng.integers(13, 21, k) * rng.choice([-1, 1], k)
    pitches = np.clip(start + np.cumsum(steps), 30, 100)
    return melody(pitches, rng.choice([0.3, 0.7, 1.3], k))


def index_of(corpus: dict[int, list[Note]]) -> CorpusIndex:
    index = CorpusIndex()
    for tune_id, notes in corpus.items():
        index.add(tune_id=tune_id, notes=notes)
    return index


@pytest.fixture(scope="module")
def folk_index(folk_tunes) -> CorpusIndex:
    return index_of(folk_tunes)


def is_real_copy(copy: Copy, piece: list[Note], corpus: dict[int, list[Note]]) -> bool:
    """The reported positions really hold equal passages of the reported length."""
    k = copy.length_notes - 1
    a = encode(notes=piece)[copy.piece_start : copy.piece_start + k]
    b = encode(notes=corpus[copy.tune_id])[copy.tune_start : copy.tune_start + k]
    return len(a) == k and np.array_equal(a, b)


def test_the_encoding_ignores_key_and_tempo_but_not_rhythm():
    tune = melody([62, 66, 69, 74, 73], [0.5, 0.5, 1.0, 0.25, 0.25])
    assert np.array_equal(encode(notes=tune), encode(notes=transposed(tune, -7, stretch=2.0)))
    other_rhythm = melody([62, 66, 69, 74, 73], [0.5, 0.5, 0.5, 0.5, 0.5])
    assert not np.array_equal(encode(notes=tune), encode(notes=other_rhythm))
    assert len(encode(notes=tune)) == 4


def test_longest_common_run_finds_the_longest_shared_substring():
    a = np.array([1, 2, 3, 4, 5, 9, 9])
    b = np.array([7, 3, 4, 5, 9, 1, 2])
    assert longest_common_run(a=a, b=b) == (4, 2, 1)
    assert longest_common_run(a=a, b=np.array([8]))[0] == 0


def test_a_transposed_tune_embedded_in_a_new_piece_is_found_with_its_source_and_positions(
    folk_tunes, folk_index
):
    rng = np.random.default_rng(7)
    source = 123
    passage = transposed(folk_tunes[source][10:40], +5, stretch=2.0)
    before, after = junk(rng, 17), junk(rng, 12)
    shift = before[-1].pitch + 20 - passage[0].pitch  # a leap into the passage, too
    piece = before + transposed(passage, shift) + after
    copy = folk_index.longest_copy(notes=piece)
    assert copy == Copy(length_notes=30, tune_id=source, piece_start=17, tune_start=10)
    assert brute_force_longest_copy(notes=piece, corpus=folk_tunes).length_notes == 30


def test_tunes_added_after_a_query_are_found_without_a_rebuild(folk_tunes):
    index = index_of({t: folk_tunes[t] for t in range(300)})
    assert index.longest_copy(notes=folk_tunes[350]).tune_id != 350
    big = index._segments[0]
    index.add(tune_id=350, notes=folk_tunes[350])
    copy = index.longest_copy(notes=folk_tunes[350])
    assert copy.length_notes == len(folk_tunes[350]) and copy.tune_id == 350
    assert index._segments[0] is big  # the 300 tunes were not re-indexed


def test_a_removed_tune_is_no_longer_found(folk_tunes):
    corpus = {t: folk_tunes[t] for t in range(100)}
    index = index_of(corpus)
    assert index.longest_copy(notes=folk_tunes[40]).tune_id == 40
    index.remove(40)
    del corpus[40]
    assert index.longest_copy(notes=folk_tunes[40]).tune_id != 40
    assert (
        index.longest_copy(notes=folk_tunes[40]).length_notes
        == brute_force_longest_copy(notes=folk_tunes[40], corpus=corpus).length_notes
    )
    assert len(index) == 99
    index.add(tune_id=777, notes=folk_tunes[41])
    index.remove(777)  # removed before it was ever built
    assert index.nearest(notes=folk_tunes[41]) == (41, 1.0)


def test_a_stock_phrase_in_thousands_of_tunes_does_not_hide_the_longest_copy():
    rng = np.random.default_rng(0)
    stock = [60, 62, 64, 65, 67, 65, 64, 62, 60]  # in every tune, so every anchor is common
    corpus = {
        t: melody(np.concatenate([rng.integers(50, 80, 5), stock, rng.integers(50, 80, 5)]))
        for t in range(3000)
    }
    tail = [72, 71, 69, 67, 69, 71, 72, 74]
    corpus[1234] = melody(np.concatenate([rng.integers(50, 80, 5), stock, tail]))
    index = index_of(corpus)
    piece = melody(np.concatenate([[90, 40], np.array(stock + tail) + 3, [20]]))
    copy = index.longest_copy(notes=piece)
    assert copy == Copy(length_notes=17, tune_id=1234, piece_start=2, tune_start=5)
    fractions = index.ngram_fractions(notes=piece, ns=(4, 16))
    assert fractions[16] == pytest.approx(2 / 5)  # of the 5 windows, those at 2 and 3 are copied


def test_ngram_fractions_count_the_windows_found_anywhere_in_the_corpus():
    corpus = {1: melody([60, 62, 64, 65, 67]), 2: melody([70, 72, 74, 70, 69])}
    piece = melody([50, 52, 54, 55, 40, 42, 44, 40])  # 52-54-55 in tune 1, 40-42-44-40 in 2
    fractions = index_of(corpus).ngram_fractions(notes=piece, ns=(2, 3, 4, 9))
    assert fractions[2] == pytest.approx(6 / 7)
    assert fractions[3] == pytest.approx(4 / 6)
    assert fractions[4] == pytest.approx(2 / 5)
    assert np.isnan(fractions[9])


def test_nearest_finds_a_transposed_tune_and_scores_it_by_8_gram_jaccard(folk_tunes, folk_index):
    assert folk_index.nearest(notes=transposed(folk_tunes[200], 3)) == (200, 1.0)
    half = folk_tunes[201][: len(folk_tunes[201]) // 2]
    tune_id, similarity = folk_index.nearest(notes=half)
    grams_half = set(gram_keys(symbols=encode(notes=half), n=8).tolist())
    grams_tune = set(gram_keys(symbols=encode(notes=folk_tunes[tune_id]), n=8).tolist())
    assert similarity == pytest.approx(len(grams_half & grams_tune) / len(grams_half | grams_tune))
    assert folk_index.nearest(notes=junk(np.random.default_rng(1), 30)) == (None, 0.0)


def test_idiom_is_high_for_human_tunes_and_low_for_random_notes(folk_tunes):
    index = index_of({t: folk_tunes[t] for t in range(0, 400)})
    human = [index.idiom(notes=folk_tunes[t]) for t in range(400, len(folk_tunes))]
    assert np.mean([h["pitch"] for h in human]) > 0.9
    assert np.mean([h["rhythm"] for h in human]) > 0.9
    rng = np.random.default_rng(0)
    noise = melody(rng.integers(48, 84, 200), rng.choice([0.25, 0.5, 0.75, 1, 1.5, 3], 200))
    assert index.idiom(notes=noise)["pitch"] < 0.5
    assert index.idiom(notes=noise)["rhythm"] < 0.8


def test_an_index_saved_and_loaded_answers_the_same(folk_tunes, tmp_path):
    index = index_of({t: folk_tunes[t] for t in range(150)})
    index.add(tune_id=999, notes=folk_tunes[160])
    index.remove(3)
    path = tmp_path / "index.npz"
    index.save(path)
    loaded = CorpusIndex.load(path)
    assert len(loaded) == len(index) == 150
    for piece in (folk_tunes[160], folk_tunes[3][:30], folk_tunes[77][5:50]):
        assert loaded.longest_copy(notes=piece) == index.longest_copy(notes=piece)
        assert loaded.nearest(notes=piece) == index.nearest(notes=piece)
        assert loaded.idiom(notes=piece) == index.idiom(notes=piece)
    loaded.add(tune_id=5000, notes=folk_tunes[170])
    assert loaded.longest_copy(notes=folk_tunes[170]).tune_id == 5000


# --- against brute force, on many random cases -------------------------------------------------

# A tiny alphabet (3 pitch steps, 2 lengths) makes long accidental matches and heavy repeats,
# the hard case for a suffix array and for tie handling.
small_tune = st.lists(st.tuples(st.integers(60, 63), st.sampled_from([0.5, 1.0])), max_size=25)


def as_notes(pairs) -> list[Note]:
    return melody([p for p, _ in pairs], [d for _, d in pairs])


def jaccard8(a: list[Note], b: list[Note]) -> float:
    ga, gb = (set(gram_keys(symbols=encode(notes=x), n=8).tolist()) for x in (a, b))
    return len(ga & gb) / len(ga | gb) if ga & gb else 0.0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tunes=st.lists(small_tune, min_size=1, max_size=10),
    pieces=st.lists(small_tune, min_size=1, max_size=3),
    batches=st.integers(1, 4),
    removed=st.sets(st.integers(0, 9), max_size=2),
)
def test_the_index_agrees_with_brute_force_on_random_corpora(tunes, pieces, batches, removed):
    corpus = {10 * t + 3: as_notes(pairs) for t, pairs in enumerate(tunes)}
    index = CorpusIndex()
    ids = list(corpus)
    # Add in batches with queries in between, so several segments are built and merged.
    for chunk in np.array_split(np.array(ids), batches):
        for t in chunk:
            index.add(tune_id=int(t), notes=corpus[int(t)])
        index.longest_copy(notes=as_notes(pieces[0]))
    for k in removed:
        if k < len(ids) and len(corpus) > 1:
            index.remove(ids[k])
            del corpus[ids[k]]
    for pairs in pieces:
        piece = as_notes(pairs)
        expected = brute_force_longest_copy(notes=piece, corpus=corpus)
        copy = index.longest_copy(notes=piece)
        assert copy.length_notes == expected.length_notes
        assert copy.length_notes == 0 or is_real_copy(copy, piece, corpus)
        tune_id, similarity = index.nearest(notes=piece)
        best = max(jaccard8(piece, c) for c in corpus.values())
        assert similarity == pytest.approx(best)
        assert tune_id is None or jaccard8(piece, corpus[tune_id]) == pytest.approx(best)
        # n-gram fractions from plain sets of symbol tuples
        sym = encode(notes=piece)
        for n, fraction in index.ngram_fractions(notes=piece, ns=(2, 3, 5)).items():
            seen = {
                tuple(s[i : i + n - 1])
                for s in (encode(notes=c) for c in corpus.values())
                for i in range(len(s) - n + 2)
            }
            windows = [tuple(sym[i : i + n - 1]) for i in range(len(sym) - n + 2)]
            if windows:
                assert fraction == pytest.approx(np.mean([w in seen for w in windows]))
            else:
                assert np.isnan(fraction)
