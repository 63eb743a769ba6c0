"""Evaluation services on real O'Neill tunes: copies, calibration, the index, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from evaluation import services
from evaluation.models import CorpusIndexState, EvaluationStatus, PieceEvaluation
from evaluation.tasks import job_evaluate_task, piece_evaluate_task
from generator.models import Checkpoint, Corpus, Piece, TrainingRun
from musiclib.metrics.calibration import is_likely_copy
from musiclib.metrics.index import encode
from musiclib.metrics.melody import notes_from_text
from tests.evaluation.helpers import junk, make_piece, notes_to_abc, transposed
from tests.factories import make_tiny_corpus, oneills_tunes

pytestmark = pytest.mark.django_db


def test_written_abc_reads_back_as_the_same_melody(corpus_melodies):
    tune = next(iter(corpus_melodies.values()))
    back = notes_from_text(text=notes_to_abc(tune), way="abc")
    assert [(n.pitch, n.duration) for n in back] == [(n.pitch, n.duration) for n in tune]


def test_a_corpus_tune_transposed_into_a_new_piece_is_found_with_its_source_and_position(
    trained_run, tiny_corpus, corpus_melodies
):
    source = tiny_corpus.tunes.order_by("pk")[7]
    tune = corpus_melodies[source.pk]
    rng = np.random.default_rng(5)
    before, after = junk(rng, 17), junk(rng, 12, start=50)
    passage = transposed(tune[10:40], 3)  # a minor third up: another key
    passage = transposed(passage, before[-1].pitch + 20 - passage[0].pitch)  # and a leap in
    piece = make_piece(trained_run, text=notes_to_abc(before + passage + after))

    evaluation = services.piece_evaluate(piece=piece)

    assert evaluation.status == EvaluationStatus.DONE, evaluation.error
    assert evaluation.copy_tune_id == source.pk
    assert evaluation.copy_length == 30
    assert evaluation.copy_piece_start == 17
    # The passage may recur within the tune (a repeated strain): any occurrence is right.
    symbols = encode(notes=tune)
    wanted = encode(notes=tune[10:40])
    occurrences = [
        i for i in range(len(symbols) - len(wanted) + 1)
        if np.array_equal(symbols[i : i + len(wanted)], wanted)
    ]  # fmt: skip
    assert 10 in occurrences and evaluation.copy_tune_start in occurrences
    assert evaluation.likely_copy is True
    assert evaluation.nearest_tune_id == source.pk
    assert 0 < evaluation.nearest_similarity < 1
    assert evaluation.n_notes == 59 and evaluation.corpus_tunes == 40
    assert 0 < evaluation.ngram_8 < 1 and evaluation.novelty == pytest.approx(
        1 - evaluation.ngram_8
    )


def test_a_whole_tune_in_another_key_is_a_likely_copy_with_similarity_one(
    trained_run, tiny_corpus, corpus_melodies
):
    source = tiny_corpus.tunes.order_by("pk")[3]
    piece = make_piece(trained_run, text=notes_to_abc(transposed(corpus_melodies[source.pk], -5)))
    evaluation = services.piece_evaluate(piece=piece)
    assert evaluation.likely_copy is True
    assert evaluation.nearest_tune_id == source.pk
    assert evaluation.nearest_similarity == pytest.approx(1.0)
    assert evaluation.ngram_8 == 1.0 and evaluation.novelty == 0.0


def test_a_shuffled_piece_is_not_flagged(trained_run, tiny_corpus, corpus_melodies):
    rng = np.random.default_rng(0)
    for tune_id in list(corpus_melodies)[5:10]:
        tune = corpus_melodies[tune_id]
        shuffled = [tune[i] for i in rng.permutation(len(tune))]
        piece = make_piece(trained_run, text=notes_to_abc(shuffled))
        evaluation = services.piece_evaluate(piece=piece)
        assert evaluation.status == EvaluationStatus.DONE
        assert evaluation.likely_copy is False, (evaluation.copy_length, evaluation.ngram_8)
    calibration = CorpusIndexState.objects.get(corpus=tiny_corpus).calibration
    assert calibration["ok"] and calibration["copy_len_threshold"] >= 5


@pytest.mark.slow
def test_most_held_out_human_tunes_are_not_flagged(db):
    corpus = make_tiny_corpus(name="oneill 300", tunes=300)
    state = services.corpus_calibrate(corpus=corpus)
    cal = state.calibration
    assert cal["ok"] and cal["n_heldout"] == 50 and cal["n_tunes"] == 300
    assert cal["flagged_fraction"] <= 0.1
    assert len(cal["copy_lengths"]) == len(cal["frac8"]) == len(cal["idiom_pitch"]) == 50
    assert 5 <= cal["copy_len_threshold"] <= 60 and 0 < cal["frac8_threshold"] < 1
    assert cal["idiom_pitch_summary"]["p50"] > 0.8  # human tunes are idiomatic
    assert state.human_features["n"] == 200 and state.human_features["baseline"]
    # Tunes outside the corpus (the next 60 of the collection), judged as pieces would be.
    index = services.corpus_index_get(corpus=corpus)
    calibration = services._calibration_object(cal)
    outside = [notes_from_text(text=t, way="abc") for t in oneills_tunes(360)[300:]]
    flagged = []
    for notes in outside:
        if len(notes) < 8:
            continue
        copy_len = index.longest_copy(notes=notes).length_notes
        frac8 = index.ngram_fractions(notes=notes, ns=(8,))[8]
        flagged.append(is_likely_copy(copy_len=copy_len, frac8=frac8, calibration=calibration))
    assert np.mean(flagged) <= 0.2


def test_the_index_is_built_once_saved_and_updated_incrementally_when_tunes_are_added(
    db, monkeypatch
):
    read: list[int] = []  # how many tunes each index update reads from the database
    tune_notes = services._tune_notes

    def counting(**kwargs):
        melodies = tune_notes(**kwargs)
        read.append(len(melodies))
        return melodies

    monkeypatch.setattr(services, "_tune_notes", counting)
    corpus = make_tiny_corpus(name="growing", tunes=40)
    index = services.corpus_index_get(corpus=corpus)
    state = CorpusIndexState.objects.get(corpus=corpus)
    first_path = Path(settings.MEDIA_ROOT) / state.path
    assert len(index) == state.n_tunes == 40
    assert state.tune_id_max == corpus.tunes.order_by("-pk").first().pk
    assert first_path.exists() and state.path.startswith("evaluation/")
    assert services.corpus_index_get(corpus=corpus) is index  # cached in this process
    assert read == [40]

    make_tiny_corpus(name="growing", tunes=45)  # imports tunes 41..45 only
    newest = corpus.tunes.order_by("-pk").first()
    grown = services.corpus_index_get(corpus=corpus)
    state.refresh_from_db()
    assert grown is index and len(index) == state.n_tunes == 45
    assert read == [40, 5]  # only the new tunes were read and added
    assert state.tune_id_max == newest.pk
    assert not first_path.exists() and (Path(settings.MEDIA_ROOT) / state.path).exists()
    melody = notes_from_text(text=newest.text, way="abc")
    assert index.longest_copy(notes=melody).tune_id == newest.pk

    # Another process (no cache) loads the saved file instead of rebuilding.
    services._forget_cached_indexes()
    loaded = services.corpus_index_get(corpus=corpus)
    assert loaded is not index and len(loaded) == 45
    assert read == [40, 5, 0]  # loaded from the file: no tune read again
    assert loaded.longest_copy(notes=melody) == index.longest_copy(notes=melody)

    # A deleted tune makes the index rebuild without it.
    newest.delete()
    rebuilt = services.corpus_index_get(corpus=corpus)
    assert len(rebuilt) == 44 and rebuilt.longest_copy(notes=melody).tune_id != newest.pk


def test_a_piece_with_no_notes_gets_a_failed_status_with_a_message(trained_run):
    silent = make_piece(trained_run, text="X:1\nT:Silence\nM:4/4\nL:1/8\nK:C\nz8|z8|z8|\n")
    evaluation = services.piece_evaluate(piece=silent)
    assert evaluation.status == EvaluationStatus.FAILED
    assert "no notes" in evaluation.error
    assert evaluation.copy_length is None and evaluation.features == {}

    broken = make_piece(trained_run, text="X:1\nT:Broken\nL:0/0\nK:C\nCDEF GABc|\n")
    piece_evaluate_task(broken.pk)  # the task body, in this process: it must not raise
    evaluation = PieceEvaluation.objects.get(piece=broken)
    assert evaluation.status == EvaluationStatus.FAILED
    assert "cannot be read" in evaluation.error

    piece_evaluate_task(10**9)  # a piece deleted before its task ran: nothing happens


def test_a_failed_evaluation_clears_the_scores_of_an_earlier_one(trained_run, tiny_corpus):
    tune = tiny_corpus.tunes.order_by("pk").first()
    piece = make_piece(trained_run, text=tune.text)
    assert services.piece_evaluate(piece=piece).copy_length > 10
    Piece.objects.filter(pk=piece.pk).update(text="X:1\nK:C\nz4|\n")
    piece.refresh_from_db()
    evaluation = services.piece_evaluate(piece=piece)
    assert evaluation.status == EvaluationStatus.FAILED
    assert evaluation.copy_length is None and evaluation.copy_tune_id is None
    assert evaluation.likely_copy is None and evaluation.novelty is None


def test_a_piece_on_an_empty_corpus_gets_a_failed_status_not_a_crash(trained_run):
    empty = Corpus.objects.create(name="empty corpus")
    run = TrainingRun.objects.create(corpus=empty, name="run on nothing", status="succeeded")
    Checkpoint.objects.create(run=run, epoch=1, file="")
    piece = make_piece(run, text=trained_run.corpus.tunes.first().text)
    job_evaluate_task(piece.job_id)
    evaluation = PieceEvaluation.objects.get(piece=piece)
    assert evaluation.status == EvaluationStatus.FAILED
    assert "has no tunes" in evaluation.error and "empty corpus" in evaluation.error
    state = services.corpus_calibrate(corpus=empty)
    assert state.calibration["ok"] is False and "at least" in state.calibration["error"]
    report = services.run_report(run=run)
    assert report["n_failed"] == 1 and report["features"] == []


def test_a_piece_of_the_midi_way_is_evaluated_from_its_event_text(trained_run, tiny_corpus):
    """A MIDI-way piece on an ABC corpus: both become melodies, so a copy is still found."""
    on_grid = (  # the MIDI way's grid is a twelfth of a quarter: no dotted sixteenths
        t
        for t in tiny_corpus.tunes.order_by("pk")
        if all((n.duration * 12).is_integer() for n in notes_from_text(text=t.text, way="abc"))
    )
    tune = next(on_grid)
    melody = notes_from_text(text=tune.text, way="abc")
    events = " ".join(f"n{n.pitch + 2}_{_dur(n.duration)}" for n in melody)
    piece = make_piece(trained_run, text=f"M:4/4 K:0 {events}")
    Piece.objects.filter(pk=piece.pk).update(way="midi")
    piece.refresh_from_db()
    evaluation = services.piece_evaluate(piece=piece)
    assert evaluation.status == EvaluationStatus.DONE, evaluation.error
    assert evaluation.copy_tune_id == tune.pk and evaluation.copy_length == len(melody)


def _dur(quarters: float) -> str:
    from fractions import Fraction

    f = Fraction(quarters).limit_denominator(12)
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def test_the_run_report_has_per_epoch_series_and_features_with_kl_and_overlap(
    tiny_corpus, corpus_melodies
):
    from tests.factories import make_trained_run

    run = make_trained_run(tiny_corpus, epochs=2, samples_per_epoch=2)
    rng = np.random.default_rng(1)
    tunes = list(corpus_melodies.values())
    for notes in tunes[:3]:  # copies of corpus tunes
        make_piece(run, text=notes_to_abc(transposed(notes, 2)))
    for notes in tunes[3:9]:  # new (shuffled) material
        make_piece(run, text=notes_to_abc([notes[i] for i in rng.permutation(len(notes))]))

    report = services.run_report(run=run)

    assert report["n_pieces"] == 9 and report["n_done"] == 9
    assert "last checkpoint (epoch 2)" in report["scope"]
    assert report["novelty"]["share_flagged"] == pytest.approx(3 / 9)
    assert report["validity"]["valid"] == 1.0
    assert [e["epoch"] for e in report["epochs"]] == [1, 2]
    for epoch in report["epochs"]:
        assert epoch["n"] == 2
        assert {"valid", "copy_length", "idiom_pitch", "feature_overlap", "val_loss"} <= set(epoch)
    names = [f["name"] for f in report["features"]]
    assert len(names) == 9 and "pitch_class_histogram" in names
    for row in report["features"]:
        for key in ("kl", "overlap", "baseline_kl", "baseline_overlap"):
            assert key in row
    finite = [f for f in report["features"] if f["overlap"] is not None]
    assert len(finite) >= 6
    assert all(0 <= f["overlap"] <= 1 and f["kl"] >= 0 for f in finite)
    assert all(f["baseline_overlap"] is not None for f in report["features"])

    # Cached until something changes; a new evaluated piece makes a new report.
    assert services.run_report(run=run) == report
    make_piece(run, text=notes_to_abc(tunes[10]))
    again = services.run_report(run=run)
    assert again["n_pieces"] == 10 and again["computed_at"] != report["computed_at"]


def test_a_generation_job_that_succeeds_queues_its_evaluation_after_commit(
    trained_run, monkeypatch, django_capture_on_commit_callbacks
):
    """generator never imports evaluation: it sends generation_job_succeeded once the pieces
    are committed, and evaluation's receiver queues job_evaluate_task (evaluation/receivers.py)."""
    from generator import tasks as generator_tasks
    from generator.services import generation_job_create, generation_job_execute

    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(job_evaluate_task, "delay", lambda *a: sent.append(("evaluate", a)))
    monkeypatch.setattr(
        generator_tasks.piece_render_task, "delay", lambda *a: sent.append(("render", a))
    )
    job = generation_job_create(
        checkpoint=trained_run.last_checkpoint, count=2, seed=1, max_length=60, enqueue=False
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        generation_job_execute(job_id=job.pk)
        assert sent == []  # nothing is queued before the pieces are committed
    pieces = list(job.pieces.order_by("index").values_list("pk", flat=True))
    assert len(pieces) == 2 and len(callbacks) >= 3
    assert sent == [*(("render", (pk,)) for pk in pieces), ("evaluate", (job.pk,))]
