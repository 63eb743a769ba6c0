"""The evaluation pages, the piece partial and the exports, through the Django test client."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.template.loader import render_to_string

from evaluation import services
from evaluation.models import EvaluationStatus, PieceEvaluation
from evaluation.presenters import verdict
from tests.evaluation.helpers import junk, make_piece, notes_to_abc, transposed

pytestmark = pytest.mark.django_db


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def pieces(trained_run, tiny_corpus, corpus_melodies):
    """A piece lifting 30 notes of a tune (in another key), a shuffled tune, a silent piece."""
    source = tiny_corpus.tunes.order_by("pk")[7]
    rng = np.random.default_rng(5)
    before, after = junk(rng, 17), junk(rng, 12, start=50)
    passage = transposed(corpus_melodies[source.pk][10:40], 3)
    passage = transposed(passage, before[-1].pitch + 20 - passage[0].pitch)
    shift = corpus_melodies[source.pk][10].pitch - passage[0].pitch
    copied = make_piece(trained_run, text=notes_to_abc(before + passage + after), title="Lifted")
    tune = corpus_melodies[tiny_corpus.tunes.order_by("pk")[9].pk]
    shuffled = make_piece(
        trained_run, text=notes_to_abc([tune[i] for i in rng.permutation(len(tune))])
    )
    silent = make_piece(trained_run, text="X:1\nT:Silence\nK:C\nz8|\n", title="Silence")
    for piece in (copied, shuffled, silent):
        services.piece_evaluate(piece=piece)
    return {
        "copied": copied,
        "shuffled": shuffled,
        "silent": silent,
        "source": source,
        "shift": shift,
    }


def test_the_run_report_page_shows_plots_and_tables(client, trained_run, pieces):
    # A one-epoch model's own sample may have no notes: add a readable one for the series.
    make_piece(trained_run, text=pieces["source"].text, epoch_sample=True)
    services.run_report_measure(run=trained_run)  # what the report task does
    response = client.get(f"/evaluation/runs/{trained_run.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Validity, idiom and feature overlap by epoch</title>" in html
    assert "Overlap area per feature</title>" in html
    for text in ("Novelty against training time", "Features against human tunes",
                 "Pitch-class histogram", "Baseline overlap", "Lifted", "could not be evaluated",
                 f"/evaluation/runs/{trained_run.pk}/scores.csv"):  # fmt: skip
        assert text in html, text
    assert "likely-copy threshold" in html


def test_the_corpus_calibration_page_shows_how_real_tunes_borrow(client, tiny_corpus):
    services.corpus_calibration_measure(corpus=tiny_corpus)  # what the calibration task does
    response = client.get(f"/evaluation/corpora/{tiny_corpus.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Calibrating…" not in html and 'http-equiv="refresh"' not in html
    assert "95th percentile" in html and 'class="eval-bar' in html
    assert "Human tunes flagged" in html and "Human against human" in html


def test_an_empty_corpus_page_says_it_is_not_calibrated(client):
    from generator.models import Corpus

    corpus = Corpus.objects.create(name="nothing here")
    services.corpus_calibration_measure(corpus=corpus)
    response = client.get(f"/evaluation/corpora/{corpus.pk}/")
    assert response.status_code == 200
    assert "Not calibrated" in response.content.decode()


def test_the_corpus_calibration_page_says_calibrating_until_the_task_has_calibrated_it(
    client, tiny_corpus, monkeypatch, django_capture_on_commit_callbacks
):
    from celery import current_app

    from evaluation.models import CorpusIndexState
    from evaluation.task_names import CORPUS_CALIBRATE_TASK
    from evaluation.tasks import corpus_calibrate_task

    sent: list[int] = []
    monkeypatch.setattr(current_app.tasks[CORPUS_CALIBRATE_TASK], "delay", sent.append)
    CorpusIndexState.objects.filter(corpus=tiny_corpus).delete()
    for _ in range(2):  # the second visit finds it under way: queued once
        with django_capture_on_commit_callbacks(execute=True):
            html = client.get(f"/evaluation/corpora/{tiny_corpus.pk}/").content.decode()
        assert "Calibrating…" in html and 'http-equiv="refresh"' in html
        assert "Not calibrated" not in html
    assert sent == [tiny_corpus.pk]
    assert not CorpusIndexState.objects.filter(corpus=tiny_corpus).exists()  # not in the request

    corpus_calibrate_task(tiny_corpus.pk)  # what the worker does with the message
    html = client.get(f"/evaluation/corpora/{tiny_corpus.pk}/").content.decode()
    assert "Calibrating…" not in html and "95th percentile" in html
    assert sent == [tiny_corpus.pk]


def test_the_piece_partial_shows_the_copy_its_source_the_shared_passage_and_the_calibration(
    pieces,
):
    source = pieces["source"]
    html = render_to_string("evaluation/_piece_evaluation.html", {"piece": pieces["copied"]})
    assert "Likely copy" in html
    assert f'href="{source.get_absolute_url()}"' in html
    assert "notes 18–47 of the piece" in html  # the copied passage, 1-based
    assert html.count("<mark") >= 60  # 30 shared notes marked on each side
    assert "the share of 8-note phrases the two tunes have in common" in html
    assert "Flagged when it borrows more than 95% of held-out human tunes do" in html
    assert "% of human tunes are flagged." in html
    shift = pieces["shift"]
    assert f"{abs(shift)} semitones {'higher' if shift > 0 else 'lower'} in the tune" in html

    html = render_to_string("evaluation/_piece_evaluation.html", {"piece": pieces["silent"]})
    assert "Not evaluated" in html and "no notes" in html

    PieceEvaluation.objects.filter(piece=pieces["shuffled"]).delete()
    html = render_to_string("evaluation/_piece_evaluation.html", {"piece": pieces["shuffled"]})
    assert "Pending" in html


def test_the_verdict_tells_new_and_idiomatic_from_new_because_it_is_noise():
    cal = {"ok": True, "idiom_pitch_summary": {"p5": 0.8}, "idiom_rhythm_summary": {"p5": 0.9}}
    idiomatic = PieceEvaluation(likely_copy=False, idiom_pitch=0.93, idiom_rhythm=0.97)
    noisy = PieceEvaluation(likely_copy=False, idiom_pitch=0.41, idiom_rhythm=0.95)
    copied = PieceEvaluation(likely_copy=True, idiom_pitch=1.0, idiom_rhythm=1.0)
    assert verdict(idiomatic, cal)["sentence"].startswith("New and idiomatic")
    assert verdict(noisy, cal)["sentence"].startswith("New because it is noise: only 41%")
    assert verdict(copied, cal)["kind"] == "copy"


def test_the_csv_and_json_exports_parse(client, trained_run, pieces):
    n = trained_run.pieces.count()  # the epoch sample too
    response = client.get(f"/evaluation/runs/{trained_run.pk}/scores.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == n
    lifted = next(r for r in rows if r["title"] == "Lifted")
    assert int(lifted["copy_length"]) == 30 and lifted["likely_copy"] == "True"
    assert int(lifted["copy_tune_id"]) == pieces["source"].pk
    assert 0 < float(lifted["ngram_8"]) < 1 and float(lifted["pitch_entropy"]) > 0
    silent = next(r for r in rows if r["title"] == "Silence")
    assert silent["status"] == "failed" and silent["copy_length"] == ""

    data = _strict(client.get(f"/evaluation/runs/{trained_run.pk}/scores.json").content)
    assert data["run"] == trained_run.pk and data["count"] == n == len(data["pieces"])
    # (the run's own epoch sample was never evaluated here: no worker took its message)
    assert {p["status"] for p in data["pieces"]} <= {"done", "failed", "pending"}
    assert data["state"] == ("measuring" if data["pending"] else "ready")

    piece = pieces["copied"]
    one = _strict(client.get(f"/evaluation/pieces/{piece.pk}/scores.json").content)
    assert one["piece_id"] == piece.pk and one["copy_length"] == 30
    assert len(one["features"]["pitch_class_histogram"]) == 12


@pytest.fixture
def queued_evaluations(monkeypatch):
    """The piece ids whose evaluation task was queued (its `delay`, recorded: no worker)."""
    from celery import current_app

    from evaluation.task_names import PIECE_EVALUATE_TASK

    sent: list[int] = []
    monkeypatch.setattr(current_app.tasks[PIECE_EVALUATE_TASK], "delay", sent.append)
    return sent


def test_the_piece_scores_export_queues_a_piece_that_has_no_evaluation_and_says_it_is_pending(
    client, trained_run, queued_evaluations, django_capture_on_commit_callbacks
):
    from evaluation.tasks import piece_evaluate_task

    piece = make_piece(trained_run, text=trained_run.corpus.tunes.first().text)
    with django_capture_on_commit_callbacks(execute=True):
        one = _strict(client.get(f"/evaluation/pieces/{piece.pk}/scores.json").content)
    assert one["status"] == EvaluationStatus.PENDING and one["piece_id"] == piece.pk
    assert one["ngram_8"] is None and one["copy_length"] is None and one["features"] is None
    assert queued_evaluations == [piece.pk]
    with django_capture_on_commit_callbacks(execute=True):  # asked again: queued once only
        client.get(f"/evaluation/pieces/{piece.pk}/scores.json")
    assert queued_evaluations == [piece.pk]

    piece_evaluate_task(piece.pk)  # what the worker does with the message
    one = _strict(client.get(f"/evaluation/pieces/{piece.pk}/scores.json").content)
    assert one["status"] == EvaluationStatus.DONE and one["ngram_8"] == 1.0


def test_the_run_exports_list_unevaluated_pieces_as_pending_and_queue_them_once(
    client, trained_run, queued_evaluations, django_capture_on_commit_callbacks
):
    from evaluation.tasks import piece_evaluate_task

    for piece in trained_run.pieces.all():  # the run's epoch sample: evaluated, as a worker does
        services.piece_evaluate(piece=piece)
    piece = make_piece(trained_run, text=trained_run.corpus.tunes.first().text, title="Late")
    with django_capture_on_commit_callbacks(execute=True):
        data = _strict(client.get(f"/evaluation/runs/{trained_run.pk}/scores.json").content)
    assert data["state"] == "measuring" and data["pending"] == 1
    late = next(p for p in data["pieces"] if p["piece_id"] == piece.pk)
    assert late["status"] == "pending" and late["copy_length"] is None and late["error"] == ""
    assert queued_evaluations == [piece.pk]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/evaluation/runs/{trained_run.pk}/scores.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    late = next(r for r in rows if r["title"] == "Late")
    assert response.status_code == 200 and late["status"] == "pending"
    assert late["copy_length"] == late["pitch_entropy"] == ""
    assert queued_evaluations == [piece.pk]  # already pending: not queued again

    piece_evaluate_task(piece.pk)
    data = _strict(client.get(f"/evaluation/runs/{trained_run.pk}/scores.json").content)
    assert data["state"] == "ready" and data["pending"] == 0
    assert {p["status"] for p in data["pieces"]} <= {"done", "failed"}


@pytest.mark.parametrize(
    "url",
    [
        "/evaluation/runs/999999999/",
        "/evaluation/runs/999999999/scores.csv",
        "/evaluation/runs/999999999/scores.json",
        "/evaluation/pieces/999999999/scores.json",
        "/evaluation/corpora/999999999/",
    ],
)
def test_unknown_ids_are_not_found(client, url):
    assert client.get(url).status_code == 404
