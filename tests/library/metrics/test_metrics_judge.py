"""The blind listener: a classifier two-sample test between machine and human tunes."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_corpus import ONEILL_FILES, bundled_abc

from musiclib.metrics import judge as jd
from musiclib.metrics.form import shape_from_abc


@pytest.fixture(scope="module")
def human_tunes() -> list[str]:
    return [t for f in ONEILL_FILES for t in bundled_abc("oneills1850", f)]


@pytest.fixture(scope="module")
def human(human_tunes) -> list[dict[str, float]]:
    return [jd.describe(shape_from_abc(abc=t)) for t in human_tunes]


@pytest.fixture(scope="module")
def early_plain_tunes(human_tunes) -> list[str]:
    """Tunes of one run after its first epoch, sampled without the grammar: a small model
    trained one epoch on 300 O'Neill tunes (the others are the judge's human side)."""
    from musiclib.ml import sampler, trainer
    from musiclib.ml.model import build_model
    from musiclib.ways.abc_text import WAY
    from musiclib.ways.base import END_ID

    config = WAY.resolve_config(
        preset="tiny", overrides={"units": [64], "embedding_dim": 16, "batch_size": 16}
    )
    prepared = WAY.prepare(texts=human_tunes[:300], config=config, seed=0)
    model = build_model(config=config, vocab_size=len(prepared.vocab), seed=0)
    trainer.train(model=model, train_pieces=prepared.train, val_pieces=prepared.val,
                  config=config, seed=0, epochs=1, initial_epoch=0,
                  hooks=trainer.NullHooks())  # fmt: skip
    net = sampler.net_from_keras(model)
    prime = WAY.encode_prime(vocab=prepared.vocab, prime="")
    outs = sampler.sample(net, prime=prime, seeds=list(range(60)), temperature=1.0,
                          max_tokens=400, end_id=END_ID)  # fmt: skip
    return [WAY.finish(WAY.decode(vocab=prepared.vocab, ids=ids), title="T") for ids in outs]


def test_two_halves_of_the_human_tunes_are_told_apart_no_better_than_chance(human):
    verdict = jd.two_sample(human[::2], human[1::2], seed=0)
    assert verdict["n"] == len(human) // 2
    assert verdict["low"] < 0.5 + 0.02 and verdict["accuracy"] < 0.62


def test_it_tells_early_epoch_plain_sampler_tunes_from_human_tunes(early_plain_tunes, human):
    machine = [jd.describe(shape_from_abc(abc=t)) for t in early_plain_tunes]
    verdict = jd.judge(machine=machine, human=human[300:], seed=0)
    assert verdict["n"] == 60
    assert verdict["accuracy"] >= 0.9
    assert verdict["low"] > 0.8  # the interval too lies far above chance
    assert verdict["control"]["accuracy"] < 0.75  # while human halves of that size do not
    assert len(verdict["giveaways"]) == 5


def test_it_hears_tunes_that_stop_short_of_their_last_bars(human_tunes, human):
    cut = []
    for t in human_tunes:
        lines = t.rstrip().split("\n")
        cut.append("\n".join(lines[:-1]) + "\n" + "|".join(lines[-1].split("|")[:-3]) + "\n")
    machine = [jd.describe(shape_from_abc(abc=t)) for t in cut[::2]]
    verdict = jd.judge(machine=machine, human=human[1::2], seed=0)
    assert verdict["accuracy"] > 0.7
    names = [row["name"] for row in verdict["features"][:6]]
    assert "ends_on_tonic" in names


def test_the_giveaways_are_sentences_with_both_figures():
    human = [{"ends_on_tonic": 1.0, "notes": 100.0 + k} for k in range(20)]
    machine = [{"ends_on_tonic": float(k % 3 == 0), "notes": 100.0 + k} for k in range(20)]
    verdict = jd.judge(machine=machine, human=human, seed=0)
    assert verdict["giveaways"][0] == "ends on the tonic: human 100 %, this run 35 %"


def test_too_few_tunes_give_no_verdict():
    rows = [{"notes": float(k)} for k in range(5)]
    assert jd.two_sample(rows, rows)["accuracy"] is None


def test_the_wilson_interval_holds_the_proportion():
    low, high = jd.wilson(90, 100)
    assert low < 0.9 < high and 0.82 < low and high < 0.95
    assert jd.wilson(0, 0) != jd.wilson(0, 0)  # NaN: nothing measured


def test_the_classifier_finds_a_difference_in_one_feature_among_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = np.r_[np.zeros(100), np.ones(100)]
    x[:, 2] += 3 * y
    assert jd.cross_validated_accuracy(x, y) > 0.9
    assert jd.cross_validated_accuracy(rng.normal(size=(200, 5)), y) < 0.65


def test_it_judges_bach_chorale_melodies_of_the_midi_way():
    """The MIDI way's event texts: real soprano lines end on their tonic and are told from
    the same lines with their pitches shuffled."""
    import re

    from musiclib.metrics.form import shape_from_events
    from musiclib.ways.midi_notes import WAY

    items = WAY.import_items(source="music21:bach#limit=30", upload=None, processes=2)
    texts = [it.text for it in items if it.failure is None]
    rng = np.random.default_rng(0)

    def shuffle(text: str) -> str:
        order = iter(rng.permutation(re.findall(r"\bn(\d+)_", text)))
        return re.sub(r"\bn\d+_", lambda m: f"n{next(order)}_", text)

    shuffled = [shuffle(t) for t in texts]
    human = [jd.describe(shape_from_events(text=t)) for t in texts]
    machine = [jd.describe(shape_from_events(text=t)) for t in shuffled]
    # (a chorale's soprano may close on the fifth of the final chord: 19 of these 30 end
    # on the tonic, 6 on the fifth)
    assert np.mean([h["ends_on_tonic"] for h in human]) > 0.5
    verdict = jd.judge(machine=machine, human=human, seed=0)
    assert verdict["n"] == len(texts) >= 25
    assert verdict["accuracy"] >= 0.8


def test_the_second_listener_hears_contours_rhythm_pairs_and_downbeats():
    # C D E C | G4: up a step, up a step, down a third, up a fifth
    got = jd.second_describe(shape_from_abc(abc="X:1\nM:4/4\nL:1/4\nK:C\nCDEC|G4|]\n"))
    assert set(got) == set(jd.SECOND_NAMES)
    contours = {k: v for k, v in got.items() if k.startswith("contour_") and v}
    assert contours == pytest.approx({"contour_1_1": 1 / 3, "contour_1_-2": 1 / 3,
                                      "contour_-2_3": 1 / 3})  # fmt: skip
    rhythm = {k: v for k, v in got.items() if k.startswith("rhythm_") and v}
    assert rhythm == pytest.approx({"rhythm_3_3": 0.75, "rhythm_3_6": 0.25})  # quarters, then long
    assert got["downbeat_degree_0"] == got["downbeat_degree_7"] == 0.5
    assert got["downbeat_triad"] == 1.0 and got["offbeat_triad"] == pytest.approx(2 / 3)
    assert all(np.isnan(v) for v in jd.second_describe(shape_from_abc(abc="K:C\nC\n")).values())
