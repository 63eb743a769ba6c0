"""The ABC way's token-level vocabulary: exact tokenizing, the run option, primes.

No test here touches the database. The corpora are real: every O'Neill tune from music21's
bundled corpus, and the Nottingham database when it is present (GPL data, read in place).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from musiclib.ways import abc_tokens
from musiclib.ways.abc_text import WAY, split_tunes
from musiclib.ways.base import END_ID, SPECIALS, START_ID

ROOT = Path(__file__).resolve().parents[3]
# Where the site looks too (musicsite.settings.NOTTINGHAM_DIR), without asking Django.
NOTTINGHAM = Path(
    os.environ.get("NOTTINGHAM_DIR", ROOT.parent / "shared" / "datasets" / "nottingham")
)
TUNE = """X:1
T:Test
M:6/8
L:1/8
K:Gmaj
|:"G"G>A ^c'2 =B,/2 z | (3DEF [ceg]3/2 {ag}a :|1 d2 ~e ||
[K:D] !trill!f-f2 |2 g2 a |]
"""


def oneills_raw() -> list[str]:
    from music21 import corpus

    texts = []
    for path in sorted(corpus.getWork("oneills1850")):
        texts.extend(t for _, t in split_tunes(Path(path).read_text(encoding="latin-1")))
    return texts


def test_a_tune_becomes_header_fields_pitches_durations_and_bar_lines():
    tokens = abc_tokens.tokenize(WAY.normalise(TUNE))
    assert tokens[:6] == ["M:6/8", "\n", "L:1/8", "\n", "K:Gmaj", "\n"]
    body = tokens[6:]
    assert body[:9] == ["|:", '"G"', "G", ">", "A", " ", "^c'", "2", " "]
    assert ["=B,", "/2", " ", "z", " ", "|"] == body[9:15]
    for token in ("(3", "[", "]", "3/2", "{", "}", ":|1", "||", "~", "[K:D]", "!trill!"):
        assert token in body, token
    assert "-" in body and "|2" in body and body[-2:] == ["|]", "\n"]


def test_tokens_round_trip_every_oneills_tune():
    texts = oneills_raw()
    assert len(texts) > 1800
    for text in texts:
        for version in (text, WAY.normalise(text)):
            assert abc_tokens.detokenize(abc_tokens.tokenize(version)) == version


def test_tokens_round_trip_every_nottingham_tune():
    folder = NOTTINGHAM / "ABC_cleaned"
    if not folder.is_dir():
        pytest.skip(f"the Nottingham database is not at {folder} (GPL data, never committed)")
    texts = [
        t
        for path in sorted(folder.glob("*.abc"))
        for _, t in split_tunes(path.read_text(encoding="latin-1"))
    ]
    assert len(texts) > 1000
    for text in texts:
        for version in (text, WAY.normalise(text)):
            assert abc_tokens.detokenize(abc_tokens.tokenize(version)) == version


def test_any_text_round_trips_even_what_no_rule_names():
    odd = 'M:4/4\nK:C\n%comment\n"unclosed |]]] (((3:::: 1646 &*@ \\\n\t\u00e9'
    assert abc_tokens.detokenize(abc_tokens.tokenize(odd)) == odd


def test_a_token_run_prepares_a_vocabulary_of_tokens_between_start_and_end():
    texts = [TUNE, TUNE.replace("K:Gmaj", "K:D")]
    config = WAY.resolve_config(preset="tiny", overrides={"vocabulary": "tokens"})
    prepared = WAY.prepare(texts=texts, config=config, seed=0)
    assert {"M:6/8", "K:Gmaj", "K:D", "^c'", "3/2", ":|1"} <= set(prepared.vocab)
    assert prepared.stats["vocabulary"] == "tokens"
    assert abc_tokens.vocabulary_of(prepared.vocab) == "tokens"
    for seq in prepared.train + prepared.val:
        assert seq[0] == START_ID and seq[-1] == END_ID
        assert WAY.decode(vocab=prepared.vocab, ids=seq) in {WAY.normalise(t) for t in texts}


def test_a_character_run_is_unchanged_and_the_default():
    config = WAY.resolve_config(preset="quick", overrides={})
    assert config["vocabulary"] == "chars"
    prepared = WAY.prepare(texts=[TUNE, TUNE], config=config, seed=0)
    assert all(len(tok) == 1 for tok in prepared.vocab if tok not in SPECIALS)
    assert abc_tokens.vocabulary_of(prepared.vocab) == "chars"


def test_an_old_run_whose_config_has_no_vocabulary_trains_and_primes_on_characters():
    config = WAY.resolve_config(preset="tiny", overrides={})
    del config["vocabulary"]  # as stored by runs made before the option
    prepared = WAY.prepare(texts=[TUNE, TUNE], config=config, seed=0)
    assert abc_tokens.vocabulary_of(prepared.vocab) == "chars"
    ids = WAY.encode_prime(vocab=prepared.vocab, prime="M:6/8\nL:1/8\n")
    assert len(ids) == 1 + len("M:6/8\nL:1/8\n")


@pytest.mark.parametrize("value", ["words", "", None, 3, ["tokens"]])
def test_an_unknown_vocabulary_is_refused(value):
    with pytest.raises(ValueError, match="vocabulary must be one of chars, tokens"):
        WAY.resolve_config(preset="quick", overrides={"vocabulary": value})


def test_a_prime_tokenizes_with_the_runs_vocabulary():
    config = WAY.resolve_config(preset="tiny", overrides={"vocabulary": "tokens"})
    vocab = WAY.prepare(texts=[TUNE, TUNE], config=config, seed=0).vocab
    ids = WAY.encode_prime(vocab=vocab, prime="M:6/8\nL:1/8\nK:Gmaj\n^c'2")
    assert [vocab[i] for i in ids] == ["<s>", "M:6/8", "\n", "L:1/8", "\n", "K:Gmaj", "\n"] + [
        "^c'",
        "2",
    ]


def test_a_prime_with_a_token_the_model_never_saw_is_refused_naming_it():
    config = WAY.resolve_config(preset="tiny", overrides={"vocabulary": "tokens"})
    vocab = WAY.prepare(texts=[TUNE, TUNE], config=config, seed=0).vocab
    with pytest.raises(ValueError, match=r"never saw \(tokens.*'K:Bbphr'") as info:
        WAY.encode_prime(vocab=vocab, prime="M:6/8\nL:1/8\nK:Bbphr\n")
    assert "M:6/8" not in str(info.value)  # only the unknown one is named
