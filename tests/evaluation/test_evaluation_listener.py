"""The blind listener on a run's report, its page section and its JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation import listener, services
from musiclib.ways import get_way
from tests.evaluation.helpers import make_piece, notes_to_abc

pytestmark = pytest.mark.django_db


def test_the_human_side_is_the_split_the_trainer_held_out(trained_run, tiny_corpus):
    from generator.services.corpora import iter_corpus_texts

    way = get_way(trained_run.way)
    texts = list(iter_corpus_texts(tiny_corpus, tune_id_max=trained_run.tune_id_max))
    prepared = way.prepare(texts=texts, config=trained_run.config, seed=trained_run.seed)
    _, held = listener.run_split_texts(run=trained_run)
    decoded = [way.decode(vocab=prepared.vocab, ids=ids) for ids in prepared.val]
    assert len(held) == len(decoded) == 8
    # (the trainer cuts a long tune at max_tokens: what it held out starts the same way)
    assert all(h.startswith(d[:100]) for h, d in zip(held, decoded, strict=True))


def test_with_too_few_tunes_the_report_says_so_and_still_compares_form(client, trained_run):
    report = services.run_report(run=trained_run, refresh=True)
    judge = report["judge"]
    assert judge["available"] and judge["verdict"]["accuracy"] is None
    assert judge["n_human_heldout"] == 8  # 20 % of 40 tunes
    assert [row["name"] for row in judge["form"]][0] == "parts"
    html = client.get(f"/evaluation/runs/{trained_run.pk}/").content.decode()
    assert "Could these pass for human tunes?" in html
    assert "Not enough pieces for a verdict" in html
    (row,) = judge["epochs"]  # nothing is drawn when the human side is too small
    assert row["n"] == 8 and row["accuracy"] is None and row["drawn"] == 0
    assert "no verdict: too few tunes" in html


@pytest.fixture
def shuffled_run(trained_run, corpus_melodies):
    """The run with half its corpus held out (20 human tunes) and 24 pieces of the best
    checkpoint that are corpus tunes with their notes shuffled: no form, no ending."""
    trained_run.config = {**trained_run.config, "val_fraction": 0.5}
    trained_run.save(update_fields=["config"])
    rng = np.random.default_rng(0)
    for notes in list(corpus_melodies.values())[:24]:
        make_piece(trained_run, text=notes_to_abc([notes[i] for i in rng.permutation(len(notes))]))
    return trained_run


def test_the_listener_tells_shuffled_tunes_from_the_held_out_ones(client, shuffled_run):
    judge = services.run_report(run=shuffled_run, refresh=True)["judge"]
    verdict = judge["verdict"]
    assert judge["chosen_by"] == "best validation loss" and verdict["n"] == 20
    assert verdict["accuracy"] >= 0.8 and verdict["low"] <= verdict["accuracy"] <= verdict["high"]
    assert verdict["control"]["n"] == 10
    assert len(verdict["giveaways"]) == 5 and ": human " in verdict["giveaways"][0]
    # the second listener hears the shuffled line too, on features the first never reads
    second = judge["second"]
    assert second["n"] == 20 and second["accuracy"] >= 0.7 and second["control"]["n"] == 10
    html = client.get(f"/evaluation/runs/{shuffled_run.pk}/").content.decode()
    assert "What gives them away" in html and "50% is chance" in html
    assert "A second listener, on what the first never hears" in html
    rows = {r["key"]: r for r in services.run_report(run=shuffled_run)["quality"]["rows"]}
    assert rows["bars_sections"]["target"] is not None and rows["phrase_idiom"]["met"] is False


def test_the_verdict_is_in_the_json_with_each_epochs_stored_verdict(client, shuffled_run):
    services.run_report(run=shuffled_run, refresh=True)  # measured and stored, as the task does
    data = json.loads(client.get(f"/evaluation/runs/{shuffled_run.pk}/judge.json").content)
    assert data["run"] == shuffled_run.pk and data["state"] == "ready"
    assert data["verdict"]["accuracy"] >= 0.8
    report = json.loads(client.get(f"/api/v1/runs/{shuffled_run.pk}/report/").content)
    assert report["report"]["judge"]["verdict"] == data["verdict"]
    one = json.loads(client.get(f"/evaluation/runs/{shuffled_run.pk}/judge.json?epoch=1").content)
    assert one["state"] == "ready" and one["available"] and one["epoch"] == 1
    assert one["accuracy"] == data["epochs"][0]["accuracy"] is not None
    missing = client.get(f"/evaluation/runs/{shuffled_run.pk}/judge.json?epoch=99")
    assert missing.status_code == 400 and "epoch" in json.loads(missing.content)["errors"]
    junk = client.get(f"/evaluation/runs/{shuffled_run.pk}/judge.json?epoch=1e400")
    assert junk.status_code == 400


def test_each_epoch_is_judged_on_forty_tunes_drawn_from_its_checkpoint_not_its_four_samples(
    client, shuffled_run
):
    assert shuffled_run.pieces.filter(job__is_epoch_sample=True).count() < listener.MIN_PER_SIDE
    judge = services.run_report(run=shuffled_run, refresh=True)["judge"]
    (row,) = judge["epochs"]  # the tiny run has one epoch
    assert row["epoch"] == 1 and row["drawn"] == listener.JUDGE_PER_EPOCH == 40
    assert row["n"] == 20  # as many as the held-out human tunes allow
    # A one-epoch model's tunes are obvious: a judge that cannot hear that is no judge.
    assert row["accuracy"] >= 0.9 and row["low"] <= row["accuracy"] <= row["high"]
    assert row["control"]["n"] == 10 and row["control"]["accuracy"] is not None
    assert len(row["giveaways"]) == listener.EPOCH_GIVEAWAYS
    html = client.get(f"/evaluation/runs/{shuffled_run.pk}/").content.decode()
    assert "By epoch" in html and "Human against human" in html
    assert f"{row['accuracy'] * 100:.0f}% ({row['low'] * 100:.0f}%–" in html


def test_a_new_measure_reuses_the_epoch_verdicts_already_drawn(shuffled_run, monkeypatch):
    first = services.run_report(run=shuffled_run, refresh=True)["judge"]["epochs"]

    def refuse(**kwargs):
        raise AssertionError("drew again a checkpoint whose verdict is stored")

    monkeypatch.setattr(listener, "epoch_sample_texts", refuse)
    again = services.run_report(run=shuffled_run, refresh=True)["judge"]["epochs"]
    assert again == first


def test_an_epoch_whose_model_file_is_gone_has_no_verdict_and_the_report_still_stands(
    client, shuffled_run, monkeypatch
):
    def gone(**kwargs):
        raise FileNotFoundError("the object store lost it")

    monkeypatch.setattr(listener, "epoch_sample_texts", gone)
    judge = services.run_report(run=shuffled_run, refresh=True)["judge"]
    (row,) = judge["epochs"]
    assert row["accuracy"] is None and row["drawn"] == 0 and judge["verdict"]["accuracy"] >= 0.8
    html = client.get(f"/evaluation/runs/{shuffled_run.pk}/").content.decode()
    assert "no verdict: this epoch&#x27;s model could not be read" in html
    monkeypatch.undo()  # the file is back: the next measure draws again
    (row,) = services.run_report(run=shuffled_run, refresh=True)["judge"]["epochs"]
    assert row["drawn"] == listener.JUDGE_PER_EPOCH and row["accuracy"] is not None


def test_a_long_run_is_judged_at_most_at_twenty_epochs_from_first_to_last_kept_as_it_grows():
    from generator.models import Checkpoint

    checkpoints = [Checkpoint(epoch=e) for e in range(1, 101)]
    epochs = [c.epoch for c in listener.judged_epochs(checkpoints)]
    assert len(epochs) <= listener.JUDGE_EPOCHS_MAX == 20 and len(epochs) >= 15
    assert epochs[0] == 1 and epochs[-1] == 100 and epochs == sorted(set(epochs))
    grown = [c.epoch for c in listener.judged_epochs(checkpoints[:99])]
    assert set(grown[:-1]) <= set(epochs)  # one more epoch: the earlier picks stay
    assert listener.judged_epochs(checkpoints[:5]) == checkpoints[:5]


def test_a_midi_run_of_chorale_melodies_is_judged_per_epoch_too(client):
    from tests.ways_midi.builders import make_trained_midi_run

    run = make_trained_midi_run(chorales=24, val_fraction=0.5)
    judge = services.run_report(run=run, refresh=True)["judge"]
    assert judge["available"] and judge["n_human_heldout"] == 12
    (row,) = judge["epochs"]
    assert row["drawn"] == listener.JUDGE_PER_EPOCH and row["n"] == 12
    assert row["low"] <= row["accuracy"] <= row["high"]
    one = json.loads(client.get(f"/evaluation/runs/{run.pk}/judge.json?epoch=1").content)
    assert one["accuracy"] == row["accuracy"]


def test_the_tunes_drawn_for_an_epoch_are_written_exactly_as_its_epoch_samples(trained_run):
    from generator.services.pieces import epoch_sample_texts

    samples = list(trained_run.pieces.filter(job__is_epoch_sample=True).order_by("seed"))
    assert samples
    drawn = epoch_sample_texts(
        checkpoint=samples[0].checkpoint, count=len(samples), seed=samples[0].seed
    )
    assert drawn == [p.text for p in samples]
