"""A token-vocabulary ABC run end to end: train, generate with the grammar, primes, pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generator.models import JobStatus
from generator.services import generation_job_create, generation_job_execute, training_run_create
from musiclib.ways.abc_tokens import vocabulary_of
from tests.factories import make_trained_run

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_a_token_run_trains_and_generates_a_valid_tune_with_the_grammar(tiny_corpus, client):
    run = make_trained_run(tiny_corpus, epochs=1, vocabulary="tokens")
    assert run.config["vocabulary"] == "tokens" and run.data_stats["vocabulary"] == "tokens"
    assert vocabulary_of(run.vocab) == "tokens"
    assert "L:1/8" in run.vocab and "|" in run.vocab
    job = generation_job_create(
        checkpoint=run.last_checkpoint,
        count=3,
        seed=7,
        prime="M:6/8\nL:1/8\nK:G\n",
        max_length=600,
        grammar=True,
        enqueue=False,
    )
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    pieces = list(job.pieces.order_by("index"))
    assert len(pieces) == 3
    for piece in pieces:
        assert piece.text.startswith("X:1\nT:") and "M:6/8\nL:1/8\nK:G\n" in piece.text
        assert piece.meter == "6/8"
        if piece.text.rstrip().endswith(("|", "|]", ":|", "||")):  # it ended, not cut off
            assert piece.parses, piece.text
            assert piece.bar_accuracy in (None, 1.0), piece.text
    # The run page says which vocabulary the run used; so does its evaluation report.
    page = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "<dt>vocabulary</dt><dd>tokens</dd>" in page
    from evaluation.services import run_report_measure

    run_report_measure(run=run)  # what the report task does
    report = client.get(reverse("evaluation_run_report", args=[run.pk])).content.decode()
    assert "<dt>Vocabulary</dt><dd>tokens" in report


def test_a_token_runs_prime_with_a_token_it_never_saw_is_refused_and_no_job_is_made(
    tiny_corpus,
):
    run = make_trained_run(tiny_corpus, epochs=1, vocabulary="tokens")
    before = run.last_checkpoint.jobs.count()
    with pytest.raises(ValueError, match="'K:Bbphr'"):
        generation_job_create(
            checkpoint=run.last_checkpoint, prime="M:6/8\nL:1/8\nK:Bbphr\n", enqueue=False
        )
    assert run.last_checkpoint.jobs.count() == before


def test_a_run_with_an_unknown_vocabulary_is_refused(tiny_corpus):
    with pytest.raises(ValueError, match="vocabulary must be one of chars, tokens, bars"):
        training_run_create(corpus=tiny_corpus, preset="tiny", config={"vocabulary": "words"})


def test_a_character_runs_page_shows_its_vocabulary_even_from_before_the_option(
    tiny_corpus, client
):
    run = make_trained_run(tiny_corpus, epochs=1)
    config = dict(run.config)
    del config["vocabulary"]  # as a run stored before the option has it
    type(run).objects.filter(pk=run.pk).update(config=config)
    page = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "<dt>vocabulary</dt><dd>chars</dd>" in page


def test_staff_pick_the_vocabulary_of_an_abc_run_on_the_admin_run_form(tiny_corpus, staff_client):
    from generator.models import TrainingRun

    form = {
        "name": "by tokens",
        "corpus": tiny_corpus.pk,
        "way": "abc",
        "preset": "tiny",
        "epochs": 1,
        "seed": 0,
        "config": "{}",
    }
    refused = staff_client.post("/admin/generator/trainingrun/add/", {**form, "vocabulary": "x"})
    assert refused.status_code == 200 and not TrainingRun.objects.exists()
    response = staff_client.post(
        "/admin/generator/trainingrun/add/", {**form, "vocabulary": "tokens"}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = TrainingRun.objects.get(name="by tokens")
    assert run.config["vocabulary"] == "tokens" and run.config["units"] == [16]  # tiny


def test_a_bars_run_trains_on_numbered_bars_and_its_tunes_come_out_without_them(
    tiny_corpus, client
):
    from musiclib.ways.abc_tokens import MARKS

    run = make_trained_run(tiny_corpus, epochs=1, vocabulary="bars")
    assert run.config["vocabulary"] == "bars" and vocabulary_of(run.vocab) == "bars"
    assert MARKS[1] in run.vocab
    job = generation_job_create(
        checkpoint=run.last_checkpoint,
        count=3,
        seed=7,
        prime="M:6/8\nL:1/8\nK:G\nGAB|",
        max_length=600,
        grammar=True,
        folk_form=True,
        enqueue=False,
    )
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    for piece in job.pieces.order_by("index"):
        assert not set(piece.text) & set(MARKS), piece.text
        assert "K:G\nGAB|" in piece.text
        if piece.text.rstrip().endswith(("|", "|]", ":|", "||")):  # it ended, not cut off
            assert piece.parses, piece.text
    page = client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "<dt>vocabulary</dt><dd>bars</dd>" in page
    from evaluation.services import run_report_measure

    run_report_measure(run=run)
    report = client.get(reverse("evaluation_run_report", args=[run.pk])).content.decode()
    assert "each bar numbered within its part" in report
