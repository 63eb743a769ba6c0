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
    html = client.get(f"/evaluation/runs/{shuffled_run.pk}/").content.decode()
    assert "What gives them away" in html and "50% is chance" in html
    rows = {r["key"]: r for r in services.run_report(run=shuffled_run)["quality"]["rows"]}
    assert rows["bars_sections"]["target"] is not None and rows["phrase_idiom"]["met"] is False


def test_the_verdict_is_in_the_json_and_staff_may_choose_the_checkpoint(
    client, admin_client, shuffled_run
):
    services.run_report(run=shuffled_run, refresh=True)  # measured and stored, as the task does
    data = json.loads(client.get(f"/evaluation/runs/{shuffled_run.pk}/judge.json").content)
    assert data["run"] == shuffled_run.pk and data["state"] == "ready"
    assert data["verdict"]["accuracy"] >= 0.8
    report = json.loads(client.get(f"/api/v1/runs/{shuffled_run.pk}/report/").content)
    assert report["report"]["judge"]["verdict"] == data["verdict"]
    url = f"/evaluation/runs/{shuffled_run.pk}/judge.json?epoch=1"
    assert client.get(url).status_code == 403
    chosen = json.loads(admin_client.get(url).content)
    assert chosen["chosen_by"] == "staff" and chosen["checkpoint_epoch"] == 1
    missing = admin_client.get(f"/evaluation/runs/{shuffled_run.pk}/judge.json?epoch=99")
    assert missing.status_code == 400 and "epoch" in json.loads(missing.content)["errors"]
