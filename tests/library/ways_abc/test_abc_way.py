import pytest

from musiclib.ways import get_way
from musiclib.ways.abc_text import default_unit_length, split_tunes
from musiclib.ways.base import END_ID, START_ID

WAY = get_way("abc")

TUNE = """X: 7
T:The Kesh
% a comment that is not music
S:trad
M:6/8
K:G
|:GAG GAB|ABA ABd|edd gdd|edB dBA:|

P:B
|:gfg dBd|gfg dBd:|
"""


def test_it_splits_a_multi_tune_file_at_x_lines():
    tunes = split_tunes(TUNE + "\n" + TUNE.replace("X: 7", "X:8"))
    assert [n for n, _ in tunes] == [7, 8]
    assert tunes[0][1].startswith("X: 7")


def test_it_normalises_a_tune_to_meter_unit_and_key_then_the_body():
    text = WAY.normalise(TUNE)
    assert text.splitlines()[:3] == ["M:6/8", "L:1/8", "K:G"]
    assert "comment" not in text and "T:" not in text and "P:B" not in text
    assert "\n\n" not in text  # a blank line would end the tune
    assert text.splitlines()[3] == "|:GAG GAB|ABA ABd|edd gdd|edB dBA:|"


def test_it_uses_abcs_default_unit_length_when_l_is_missing():
    assert default_unit_length("2/4") == "1/16"
    assert default_unit_length("6/8") == "1/8"


def test_it_describes_title_meter_and_key():
    assert WAY.describe(TUNE) == {
        "title": "The Kesh",
        "meter": "6/8",
        "key": "G",
        "unit_length": "",
    }


def test_it_splits_tunes_by_tune_for_validation_and_frames_each_with_start_and_end():
    texts = [TUNE.replace("GAG", n) for n in ("GAG", "GBG", "DGD", "BAG", "AGA")]
    config = WAY.resolve_config(preset="tiny", overrides={"val_fraction": 0.4})
    prepared = WAY.prepare(texts=texts, config=config, seed=1)
    assert len(prepared.train) == 3 and len(prepared.val) == 2
    for seq in prepared.train + prepared.val:
        assert seq[0] == START_ID and seq[-1] == END_ID


def test_the_same_seed_gives_the_same_split():
    texts = [TUNE.replace("GAG", n) for n in ("GAG", "GBG", "DGD", "BAG", "AGA")]
    config = WAY.resolve_config(preset="tiny", overrides={"val_fraction": 0.4})
    a = WAY.prepare(texts=texts, config=config, seed=5)
    b = WAY.prepare(texts=texts, config=config, seed=5)
    assert [x.tolist() for x in a.val] == [x.tolist() for x in b.val]


def test_it_refuses_an_empty_corpus():
    with pytest.raises(ValueError, match="empty"):
        WAY.prepare(texts=[], config=WAY.resolve_config(preset="tiny", overrides={}), seed=0)


def test_it_refuses_unknown_and_out_of_range_hyperparameters():
    with pytest.raises(ValueError, match="unknown hyperparameters: colour"):
        WAY.resolve_config(preset="quick", overrides={"colour": "blue"})
    with pytest.raises(ValueError, match="dropout"):
        WAY.resolve_config(preset="quick", overrides={"dropout": 1.5})
    with pytest.raises(ValueError, match="unknown preset"):
        WAY.resolve_config(preset="huge", overrides={})


def test_the_full_preset_has_the_original_sizes():
    config = WAY.resolve_config(preset="full", overrides={})
    assert config["units"] == [256, 256]
    assert config["seq_length"] == 100 and config["batch_size"] == 64


def test_a_prime_encodes_after_the_start_token_and_refuses_unknown_symbols():
    vocab = ["<pad>", "<s>", "</s>", "\n", ":", "/", "1", "6", "8", "D", "K", "L", "M"]
    ids = WAY.encode_prime(vocab=vocab, prime="M:6/8\nL:1/8\nK:D\n")
    assert ids[0] == START_ID and WAY.decode(vocab=vocab, ids=ids) == "M:6/8\nL:1/8\nK:D\n"
    with pytest.raises(ValueError, match="never saw"):
        WAY.encode_prime(vocab=vocab, prime="M:3/4\n")


def test_a_hyperparameter_of_the_wrong_type_is_a_clear_error_not_a_crash():
    with pytest.raises(ValueError, match="wrong type"):
        WAY.resolve_config(preset="quick", overrides={"dropout": [1]})


def test_a_key_field_is_written_as_a_musician_says_it():
    from musiclib.ways.abc_text import key_in_words

    assert key_in_words("G") == "G major"
    assert key_in_words("Em") == "E minor"
    assert key_in_words("AAeo") == "A minor"
    assert key_in_words("DDor") == "D Dorian"
    assert key_in_words("Bb") == "B♭ major"
    assert key_in_words("F#m") == "F♯ minor"
    assert key_in_words("G mixolydian") == "G Mixolydian"
    # Already words, or more than a key and a mode: left as they are.
    assert key_in_words("B♭ major") == "B♭ major"
    assert key_in_words("C exp ^f") == "C exp ^f"
    assert key_in_words("Gmixer") == "Gmixer"


def test_a_meter_symbol_is_written_as_a_musician_reads_it():
    from musiclib.ways.abc_text import meter_in_words

    assert meter_in_words("C") == "4/4 (common time)"
    assert meter_in_words(" C| ") == "2/2 (cut time)"
    assert meter_in_words("6/8") == "6/8" and meter_in_words("") == ""


def test_a_drawn_shape_keeps_its_tunes_meter_unless_the_opening_sets_one():
    import numpy as np

    from musiclib.ways.abc_text import SHAPES_STATE

    # rows as checkpoints hold them: two parts of 8 repeated, ending on the tonic, last note
    # half a bar, in 6/8; and as checkpoints saved before held them (no meter; no last note)
    state = {SHAPES_STATE: np.asarray([[0, 8, 1, 8, 1, 0, 0, 0, 0, 6, 6, 8]], dtype=np.int8)}
    (shape,) = WAY.form_shapes_for(state=state, seeds=[3])
    assert shape.parts == ((8, True), (8, True)) and shape.last == 6 and shape.meter == (6, 8)
    (opened,) = WAY.form_shapes_for(state=state, seeds=[3], prime="M:3/4\nL:1/8\nK:G\n")
    assert opened.meter is None and opened.parts == shape.parts
    older = {SHAPES_STATE: np.asarray([[0, 8, 1, 8, 1, 0, 0, 0, 0, 6]], dtype=np.int8)}
    assert WAY.form_shapes_for(state=older, seeds=[3])[0] == shape._replace(meter=None)
    oldest = {SHAPES_STATE: np.asarray([[0, 8, 1, 8, 1, 0, 0, 0, 0]], dtype=np.int8)}
    assert WAY.form_shapes_for(state=oldest, seeds=[3])[0] == shape._replace(meter=None, last=0)


def test_a_warm_up_corpus_shares_the_vocabulary_and_leaves_the_runs_split_as_it_was():
    texts = [TUNE.replace("GAG", n) for n in ("GAG", "GBG", "DGD", "BAG", "AGA")]
    other = [TUNE.replace("gfg", "^f=fz"), TUNE.replace("ABA", "A>B")]  # ^ = z > are new
    config = WAY.resolve_config(preset="tiny", overrides={"val_fraction": 0.4})
    alone = WAY.prepare(texts=texts, config=config, seed=5)
    both = WAY.prepare(texts=texts, config=config, seed=5, warmup_texts=other)
    assert alone.warmup == [] and set("^=z>") - set(alone.vocab) == set("^=z>")
    assert set(both.vocab) == set(alone.vocab) | set("^=z>")

    def texts_of(prepared, pieces):
        return [WAY.decode(vocab=prepared.vocab, ids=p) for p in pieces]

    assert texts_of(both, both.val) == texts_of(alone, alone.val)  # the same tunes held out
    assert texts_of(both, both.train) == texts_of(alone, alone.train)
    assert texts_of(both, both.warmup) == [WAY.normalise(t) for t in other]
    assert both.stats["pieces_warmup"] == 2
    # augmented as the run's training tunes are
    shifted = WAY.prepare(
        texts=texts, config={**config, "transpose": True}, seed=5, warmup_texts=other
    )
    assert len(shifted.warmup) == 2 * (1 + len(WAY.augment(other[0], {"transpose": True})))
