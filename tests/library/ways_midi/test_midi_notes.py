"""The MIDI way: import, piece text, round trip, tokenisations, and a tiny model end to end.

No test here touches the database or Django (like every test under tests/library).
Nottingham tests run only where ../shared/datasets/nottingham/MIDI exists (GPL data: it is
read in place, never copied into the repository).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from musiclib.ways import get_way
from musiclib.ways import midi_notes as mn
from musiclib.ways.base import ImportRefused
from musiclib.ways.midi_notes import WAY, Event, parse_text

ROOT = Path(__file__).resolve().parents[3]
NOTTINGHAM = (
    Path(os.environ.get("NOTTINGHAM_DIR", ROOT.parent / "shared" / "datasets" / "nottingham"))
    / "MIDI"
)
needs_nottingham = pytest.mark.skipif(
    not NOTTINGHAM.is_dir(),
    reason=f"Nottingham MIDI is not at {NOTTINGHAM} (GPL data: it is never copied here)",
)
EMPTY_MIDI = (
    b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 1, 0xE0])
    + b"MTrk" + (4).to_bytes(4, "big") + bytes([0, 0xFF, 0x2F, 0])
)  # fmt: skip


def events(text: str) -> list[Event]:
    return [it for it in parse_text(text).items if isinstance(it, Event)]


@pytest.fixture(scope="module")
def chorale_texts() -> list[str]:
    """The first 24 bundled chorales' soprano melodies, through the import path itself."""
    items = WAY.import_items(source="music21:bach#limit=24", upload=None, processes=2)
    assert [it.failure for it in items] == [None] * 24
    return [it.text for it in items]


@pytest.fixture(scope="module")
def midi_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four chorales written as MIDI by music21, and four files that are not good MIDI."""
    from music21 import corpus

    folder = tmp_path_factory.mktemp("midi")
    for name in ("bwv269", "bwv347", "bwv153.1", "bwv86.6"):
        corpus.parse(f"bach/{name}").write("midi", fp=folder / f"{name}.mid")
    good = (folder / "bwv269.mid").read_bytes()
    (folder / "notes.mid").write_text("X:1\nT:not midi at all\nK:G\nGABc|\n")
    (folder / "noise.mid").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "truncated.mid").write_bytes(good[: len(good) // 2])
    (folder / "empty.midi").write_bytes(EMPTY_MIDI)
    (folder / "readme.txt").write_text("not a .mid file: ignored")
    return folder


# --- import ----------------------------------------------------------------------------------


def test_it_imports_real_midi_files_and_lists_the_bad_ones_with_reasons(midi_folder):
    items = WAY.import_items(source=str(midi_folder), upload=None, processes=2)
    by_file = {it.file: it for it in items}
    assert set(by_file) == {
        "bwv269.mid",
        "bwv347.mid",
        "bwv153.1.mid",
        "bwv86.6.mid",
        "notes.mid",
        "noise.mid",
        "truncated.mid",
        "empty.midi",
    }
    for name in ("bwv269.mid", "bwv347.mid", "bwv153.1.mid", "bwv86.6.mid"):
        item = by_file[name]
        assert item.failure is None
        assert item.n_notes > 40
        assert any(len(ev.pitches) >= 3 for ev in events(item.text))  # four parts as chords
    assert all(by_file[n].failure for n in ("notes.mid", "noise.mid", "truncated.mid"))
    assert by_file["empty.midi"].failure


def test_it_rejects_a_file_that_is_not_midi(midi_folder):
    item = mn._parse_path((str(midi_folder / "notes.mid"), "notes.mid", 1, "all"))
    assert item.failure == "not a MIDI file: it is text"
    assert item.text == ""


def test_it_rejects_random_bytes_as_having_no_midi_header(midi_folder):
    item = mn._parse_path((str(midi_folder / "noise.mid"), "noise.mid", 1, "all"))
    assert item.failure == "not a MIDI file: it has no MIDI header (MThd)"


def test_it_reports_a_truncated_midi_file_as_truncated(midi_folder):
    item = mn._parse_path((str(midi_folder / "truncated.mid"), "truncated.mid", 1, "all"))
    assert item.failure.startswith("it is truncated")


def test_it_rejects_a_midi_file_without_notes():
    item = mn.parse_midi_file(data=EMPTY_MIDI, name="empty.mid", number=1, parts="all")
    assert item.failure == "it has no notes"


def test_it_rejects_an_empty_file():
    items = WAY.import_items(source="", upload=("nothing.mid", b""))
    assert [(it.file, it.failure) for it in items] == [("nothing.mid", "the file is empty")]


def test_it_imports_an_upload(midi_folder):
    data = (midi_folder / "bwv347.mid").read_bytes()
    [item] = WAY.import_items(source="", upload=("my piece.mid", data))
    assert item.failure is None and item.n_notes > 40
    assert WAY.describe(item.text)["title"] == "my piece"


def test_it_refuses_files_over_the_size_limit_and_with_too_many_notes(midi_folder, monkeypatch):
    path = str(midi_folder / "bwv269.mid")
    monkeypatch.setattr(mn, "MAX_FILE_BYTES", 1000)
    assert "MIDI files over" in mn._parse_path((path, "a.mid", 1, "all")).failure
    monkeypatch.setattr(mn, "MAX_FILE_BYTES", 10**7)
    monkeypatch.setattr(mn, "MAX_NOTES", 20)
    assert "more than 20 notes" in mn._parse_path((path, "a.mid", 1, "all")).failure


def test_it_refuses_a_file_whose_notes_lie_hours_apart():
    from music21 import note, stream

    part = stream.Part()
    part.insert(0, note.Note(60))
    part.insert(20_500, note.Note(62))  # music21 writes ticks of 1/10080 quarter
    data = mn.stream_to_midi(part)
    item = mn.parse_midi_file(data=data, name="far.mid", number=1, parts="all")
    assert item.failure == "it lasts 20,501 quarter notes; pieces over 20,000 are refused"


def test_it_refuses_a_missing_source_a_folder_without_midi_and_other_collections(tmp_path):
    with pytest.raises(ImportRefused, match="does not exist"):
        WAY.import_items(source=str(tmp_path / "nowhere"), upload=None)
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(ImportRefused, match="no .mid or .midi files"):
        WAY.import_items(source=str(tmp_path), upload=None)
    with pytest.raises(ImportRefused, match="music21:bach"):
        WAY.import_items(source="music21:oneills1850", upload=None)
    with pytest.raises(ImportRefused, match="parts must be"):
        WAY.import_items(source="music21:bach#parts=bass", upload=None)


def test_it_takes_the_soprano_of_chorales_unless_asked_for_all_parts(chorale_texts):
    assert len(chorale_texts) == 24
    assert all(len(ev.pitches) == 1 for t in chorale_texts for ev in events(t) if ev.pitches)
    [full] = WAY.import_items(source="music21:bach#parts=all,limit=1", upload=None)
    assert max(len(ev.pitches) for ev in events(full.text)) == 4


def test_it_parses_in_one_process_where_a_pool_cannot_be_made(midi_folder, monkeypatch):
    import concurrent.futures

    def refuse(*args, **kwargs):
        raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refuse)
    items = WAY.import_items(source=str(midi_folder), upload=None, processes=2)
    assert sum(it.failure is None for it in items) == 4


@needs_nottingham
def test_it_imports_nottingham_midi_without_failures():
    items = WAY.import_items(source=f"{NOTTINGHAM}#limit=40", upload=None, processes=2)
    assert len(items) == 40 and all(it.failure is None for it in items)
    first = items[0]
    assert first.file == "ashover1.mid"
    assert WAY.describe(first.text) == {
        "title": "ashover1",
        "meter": "3/4",
        "key": "G major",
        "unit_length": "",
    }
    # Melody over chords: the chords come as sonorities under each melody note.
    assert any(len(ev.pitches) == 4 for ev in events(first.text))
    [melody] = WAY.import_items(source=f"{NOTTINGHAM / 'ashover1.mid'}#parts=melody", upload=None)
    assert all(len(ev.pitches) <= 1 for ev in events(melody.text))


# --- piece text, describe, finish, validate, render ------------------------------------------


def test_the_text_format_reads_and_writes_every_kind_of_token():
    text = (
        'T:"A tune" M:3/4 K:-1m r_2 n69_1 | c57.60.64_3/2 n64_1/2~ | n64_1 r_1/3 n65_2/3 | '
        "M:2/4 n62_2"
    )
    parsed = parse_text(text)
    assert (parsed.title, parsed.meter, parsed.key, parsed.unknown) == ("A tune", "3/4", "-1m", [])
    assert parsed.items[3] == Event((57, 60, 64), 18)
    assert parsed.items[4] == Event((64,), 6, tie=True)
    assert "M:2/4" in parsed.items
    assert mn.render_text(parsed=parsed, title="A tune") == text
    assert WAY.describe(text) == {
        "title": "A tune",
        "meter": "3/4",
        "key": "D minor",
        "unit_length": "",
    }


def test_a_note_tied_over_a_bar_line_counts_once():
    assert (
        mn.count_notes(parse_text("M:2/4 n60_1 n62_1~ | n62_1 n62_1 | c60.64_2~ | c60.64_1").items)
        == 4
    )


def test_a_prime_glued_to_its_continuation_still_reads():
    # The generation service joins prime and continuation without a space.
    assert WAY.tokenize("M:4/4 K:0" + "n60_1/2n62_1/2 |") == [
        "M:4/4",
        "K:0",
        "n60_1/2",
        "n62_1/2",
        "|",
    ]
    assert parse_text("M:4/4 K:0 n60_1 bogus n61_5/7").unknown == ["bogus", "n61_5/7"]


def test_finish_puts_the_title_first_and_validate_scores_a_chorale(chorale_texts):
    text = WAY.normalise(chorale_texts[0])
    assert not text.startswith("T:")
    finished = WAY.finish(text, title='The "Foggy" Mill (Waltz)')
    assert finished.startswith("T:\"The 'Foggy' Mill (Waltz)\" M:3/4 K:1 ")
    checks = WAY.validate(finished)
    assert checks["parses"] and checks["plays"]
    assert checks["bar_accuracy"] == 1.0
    assert checks["n_notes"] == mn.count_notes(parse_text(text).items) == 46
    midi = WAY.to_midi(finished)
    assert midi[:4] == b"MThd"
    assert WAY.to_musicxml(finished).lstrip().startswith(b"<?xml")


def test_validate_measures_bars_that_do_not_add_up():
    bars = ["n60_1 n62_1 n64_1 n65_1"] * 3 + ["n67_2 n65_1"] + ["n64_4"] * 2
    checks = WAY.validate("M:4/4 K:0 " + " | ".join(bars))
    assert checks["parses"] and checks["plays"]
    assert checks["bar_accuracy"] == 3 / 4  # bar 4 lasts 3 quarters; first and last aside
    short = WAY.validate("M:4/4 K:0 n60_1 n62_1")
    assert not short["parses"] and "only 2 notes" in short["messages"][-1]


def test_to_midi_refuses_a_piece_without_notes():
    with pytest.raises(ValueError, match="no notes"):
        WAY.to_midi("M:4/4 K:0 r_4 | r_4")


# --- round trip ------------------------------------------------------------------------------


def assert_round_trip(text: str) -> None:
    midi = WAY.to_midi(text)
    back = mn.parse_midi_file(data=midi, name="back.mid", number=1, parts="all")
    assert back.failure is None
    assert WAY.tokenize(back.text) == WAY.tokenize(text)


def test_tokens_to_midi_to_tokens_is_lossless_for_chorale_melodies(chorale_texts):
    for text in chorale_texts:
        assert_round_trip(text)


def test_tokens_to_midi_to_tokens_is_lossless_for_four_part_chorales_from_midi(midi_folder):
    items = WAY.import_items(source=str(midi_folder), upload=None, processes=1)
    good = [it for it in items if it.failure is None]
    assert len(good) == 4
    for item in good:
        assert_round_trip(item.text)


def test_ties_meter_changes_long_notes_and_triplets_survive_the_round_trip():
    text = (
        "M:4/4 K:2 r_3 n62_1 | n66_2 n69_2~ | n69_1 c50.62.66_1/3 n64_1/3 n62_1/3 r_2 | "
        "M:3/4 n74_3~ | n74_3~ | n74_3 | n73_1/4 n71_1/4 n69_1/2 n67_1/6 n66_1/6 n64_2/3 n62_1"
    )
    assert_round_trip(text)
    # A note longer than 8 quarters comes back as tied pieces of at most 8.
    back = mn.parse_midi_file(
        data=WAY.to_midi("M:12/4 K:0 n60_12"), name="x.mid", number=1, parts="all"
    )
    assert WAY.tokenize(back.text) == ["M:12/4", "K:0", "n60_8~", "n60_4"]


@needs_nottingham
def test_tokens_to_midi_to_tokens_is_lossless_for_nottingham_pieces():
    files = sorted(NOTTINGHAM.glob("*.mid"))[::50]
    for path in files:
        for parts in ("all", "melody"):
            item = mn._parse_path((str(path), path.name, 1, parts))
            assert item.failure is None
            assert_round_trip(item.text)


# --- tokenisations, configuration, augmentation ----------------------------------------------


def test_the_presets_resolve_and_the_tokenization_is_a_setting():
    assert get_way("midi") is WAY
    full = WAY.resolve_config(preset="full", overrides={})
    assert (full["units"], full["dropout"], full["dense"], full["seq_length"]) == (
        [512, 512, 512],
        0.3,
        [256],
        100,
    )
    assert full["tokenization"] == "rhythm" and full["sequence_mode"] == "tunes"
    tiny = WAY.resolve_config(preset="tiny", overrides={"tokenization": "pitch_only"})
    assert tiny["tokenization"] == "pitch_only"
    with pytest.raises(ValueError, match="tokenization must be"):
        WAY.resolve_config(preset="tiny", overrides={"tokenization": "beats"})
    with pytest.raises(ValueError, match="transpose must be"):
        WAY.resolve_config(preset="tiny", overrides={"transpose": "yes"})


def test_pitch_only_tokens_are_the_originals_and_decode_to_eighth_notes(chorale_texts):
    config = WAY.resolve_config(preset="tiny", overrides={"tokenization": "pitch_only"})
    prepared = WAY.prepare(texts=chorale_texts, config=config, seed=0)
    assert prepared.stats["tokenization"] == "pitch_only"
    symbols = prepared.vocab[3:]
    assert "G4" in symbols and all(mn.is_pitch_only_token(t) for t in symbols)
    assert WAY.tokenize(chorale_texts[0])[0] == "M:3/4"  # the shared way is left as it was
    text = WAY.decode(vocab=prepared.vocab, ids=prepared.train[0])
    evs = events(text)
    assert evs and all(ev.units == mn.EIGHTH for ev in evs)
    assert "|" not in text and WAY.validate(text)["bar_accuracy"] is None
    assert WAY.detokenize(["C4", "0.4.7", "E-5", "7.11.2.5"]) == (
        "n60_1/2 c60.64.67_1/2 n75_1/2 c62.65.67.71_1/2"
    )
    # Chords are the normal order of their pitch classes, as the original wrote them.
    assert mn.pitch_only_tokens(parse_text("M:4/4 K:0 c52.55.60_1 n61_1~ | n61_1 n70_1")) == [
        "0.4.7",
        "C#4",
        "B-4",
    ]
    # A prime is read with the tokenisation its run's vocabulary shows.
    ids = WAY.encode_prime(vocab=prepared.vocab, prime="M:3/4 K:1 n67_1 | n67_2")
    assert [prepared.vocab[i] for i in ids[1:]] == ["G4", "G4"]


def test_rhythm_tokens_keep_durations_rests_and_bars(chorale_texts):
    config = WAY.resolve_config(preset="tiny", overrides={})
    prepared = WAY.prepare(texts=chorale_texts, config=config, seed=0)
    assert prepared.stats["tokenization"] == "rhythm"
    assert {"|", "M:3/4", "M:4/4"} <= set(prepared.vocab)
    assert any(t.startswith("r_") for t in prepared.vocab)
    assert len({t.split("_")[1] for t in prepared.vocab if t.startswith("n")}) >= 4
    text = WAY.decode(vocab=prepared.vocab, ids=prepared.train[0])
    assert WAY.validate(text)["bar_accuracy"] == 1.0


def test_transposition_augmentation_gives_every_other_key(chorale_texts):
    text = chorale_texts[0]  # G major
    copies = WAY.augment(text, {"transpose": True})
    assert len(copies) == 11
    original = events(text)
    shifts = set()
    for copy in copies:
        moved = events(copy)
        assert [e.units for e in moved] == [e.units for e in original]
        (shift,) = {
            b - a
            for e, m in zip(original, moved, strict=True)
            for a, b in zip(e.pitches, m.pitches, strict=True)
        }
        shifts.add(shift)
    assert shifts == set(range(-5, 7)) - {0}
    up_two = copies[sorted(shifts).index(2)]
    assert WAY.describe(up_two)["key"] == "A major"
    assert len(WAY.augment(text, {"transpose": 2})) == 4
    config = WAY.resolve_config(preset="tiny", overrides={"transpose": True, "val_fraction": 0.0})
    prepared = WAY.prepare(texts=chorale_texts[:3], config=config, seed=0)
    assert prepared.stats["pieces_train"] == 36


# --- a tiny model end to end -----------------------------------------------------------------


class NoHooks:
    def __init__(self):
        self.losses: list[float] = []

    def epoch_end(self, *, epoch, logs, model, seconds):
        self.losses.append(logs["loss"])

    def should_stop(self):
        return False

    def heartbeat(self, *, epoch, fraction):
        pass


def test_a_tiny_model_trains_on_chorale_melodies_and_samples_varied_reproducible_pieces(
    chorale_texts,
):
    from musiclib.ml import sampler
    from musiclib.ml.model import build_model
    from musiclib.ml.trainer import train

    config = WAY.resolve_config(preset="tiny", overrides={"sample_every": 0})
    prepared = WAY.prepare(texts=chorale_texts[:20], config=config, seed=3)
    model = build_model(config=config, vocab_size=len(prepared.vocab), seed=3)
    hooks = NoHooks()
    outcome = train(
        model=model,
        train_pieces=prepared.train,
        val_pieces=prepared.val,
        config=config,
        seed=3,
        epochs=12,
        initial_epoch=0,
        hooks=hooks,
    )
    assert outcome == "finished" and hooks.losses[-1] < hooks.losses[0] * 0.8
    net = sampler.net_from_keras(model)
    prime = WAY.encode_prime(vocab=prepared.vocab, prime="")
    seeds = [101, 102, 103, 104]
    outs = sampler.sample(net, prime=prime, seeds=seeds, temperature=1.0, max_tokens=150)
    texts = [WAY.decode(vocab=prepared.vocab, ids=ids) for ids in outs]
    notes = [ev for t in texts for ev in events(t) if ev.pitches]
    assert len(notes) >= 40
    assert len({ev.pitches for ev in notes}) >= 6
    assert len({ev.units for ev in notes}) >= 3
    for text in texts:
        piece = [ev.pitches for ev in events(text) if ev.pitches]
        assert Counter(piece).most_common(1)[0][1] <= 0.5 * len(piece)  # no one-note collapse
    finished = [WAY.finish(t, title="x") for t in texts]
    assert sum(WAY.validate(t)["plays"] for t in finished) >= 3
    again = sampler.sample(net, prime=prime, seeds=seeds, temperature=1.0, max_tokens=150)
    assert again == outs
    [alone] = sampler.sample(net, prime=prime, seeds=[103], temperature=1.0, max_tokens=150)
    assert alone == outs[2]
    # With the bar grammar every bar is whole, whatever the model would have played.
    grammar = WAY.grammar(vocab=prepared.vocab)
    ruled = sampler.sample(net, prime=prime, seeds=seeds, max_tokens=150, constraint=grammar)
    for ids in ruled:
        checks = WAY.validate(WAY.finish(WAY.decode(vocab=prepared.vocab, ids=ids), title="x"))
        assert checks["bar_accuracy"] in (1.0, None), checks
    assert WAY.grammar(vocab=["<pad>", "<s>", "</s>", "C4", "0.4.7"]) is None
