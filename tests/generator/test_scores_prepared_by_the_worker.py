"""A tune's or a piece's score is engraved by a task, never inside the page's request: the
page shows that the score is being prepared until the worker has made it."""

from __future__ import annotations

import socket
import time

import pytest
from celery import current_app
from django.core.cache import cache

from common.storage import file_exists
from generator.models import Corpus, JobStatus
from generator.services import (
    corpus_get_or_create,
    corpus_import,
    corpus_tunes_render,
    piece_render,
    tune_render,
)
from generator.services import renders as renders_module
from generator.services.files import media_cache, score_name, score_stored, tune_audio_name
from generator.task_names import CORPUS_RENDER_TASK, RENDER_TASK, TUNE_RENDER_TASK
from tests.factories import oneills_tunes, wait_for
from tests.web.builders import JIG, REEL, make_piece, make_tune, make_world


@pytest.fixture
def queued(monkeypatch):
    """The render tasks' messages, recorded instead of sent: [(task name, args)]."""
    sent: list[tuple[str, tuple]] = []
    for name in (CORPUS_RENDER_TASK, RENDER_TASK, TUNE_RENDER_TASK):
        task = current_app.tasks[name]
        monkeypatch.setattr(task, "delay", lambda *args, _n=name: sent.append((_n, args)))
    cache.clear()  # the "asked for within the last minutes" marks of earlier tests
    return sent


def _refuse_engraving(patch) -> None:
    def refuse(**kwargs):
        raise AssertionError("the request engraved or rendered")

    patch.setattr("musiclib.render.score_svg", refuse)
    patch.setattr("musiclib.render.midi_to_audio", refuse)


@pytest.fixture
def no_engraving_here(monkeypatch):
    """Engraving or rendering in this process (the web request's) fails the test."""
    _refuse_engraving(monkeypatch)


@pytest.fixture
def tune(db):
    corpus = Corpus.objects.create(name="Prepared tunes", source="tests")
    return make_tune(corpus, text=REEL, number=1)


def _tune_score(tune):
    return score_stored(kind="tunes", pk=tune.pk, way=tune.corpus.way, text=tune.text)


@pytest.mark.django_db
def test_a_tune_page_answers_without_engraving_and_says_the_score_is_being_prepared(
    client, tune, queued, no_engraving_here, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(tune.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "The score is being prepared" in html and 'data-score-state="preparing"' in html
    assert '<meta http-equiv="refresh" content="3">' in html
    assert 'class="score-page"' not in html and "No score could be engraved" not in html
    assert "The audio is being prepared" in html  # the player appears once it is made
    assert queued == [(TUNE_RENDER_TASK, (tune.pk,))]


@pytest.mark.django_db
def test_many_views_of_a_tune_being_prepared_ask_the_worker_once(
    client, tune, queued, no_engraving_here, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert client.get(tune.get_absolute_url()).status_code == 200
    assert queued == [(TUNE_RENDER_TASK, (tune.pk,))]


@pytest.mark.django_db
def test_after_the_render_task_the_tune_page_shows_its_score_and_asks_for_nothing(
    client, tune, queued, monkeypatch, django_capture_on_commit_callbacks
):
    tune_render(tune=tune)  # what the tune's render task does
    assert file_exists(tune_audio_name(tune))  # and the downloads: nothing made on a click
    way_text = f"{tune.corpus.way}\n{tune.text}"
    assert file_exists(media_cache("musicxml/tunes", tune.pk, way_text, "musicxml"))

    def refuse(**kwargs):
        raise AssertionError("the request engraved again")

    monkeypatch.setattr("musiclib.render.score_svg", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        html = client.get(tune.get_absolute_url()).content.decode()
    assert 'class="score-page"' in html and "Engraved score of The Test Reel" in html
    assert "being prepared" not in html and 'http-equiv="refresh"' not in html
    assert 'preload="metadata"' in html
    assert queued == []


@pytest.mark.django_db
def test_a_tune_that_cannot_be_engraved_says_why_instead_of_waiting_for_ever(
    client, tune, queued, monkeypatch, django_capture_on_commit_callbacks
):
    from musiclib.render import RenderError

    def fail(**kwargs):
        raise RenderError("the engraver gave up on bar 3")

    monkeypatch.setattr("musiclib.render.score_svg", fail)
    tune_render(tune=tune, audio=False)  # the task keeps the reason, so nobody waits for ever
    assert _tune_score(tune) == ([], "the engraver gave up on bar 3")
    broken = tune
    with django_capture_on_commit_callbacks(execute=True):
        html = client.get(broken.get_absolute_url()).content.decode()
    assert "No score could be engraved" in html and "The score is being prepared" not in html


@pytest.mark.django_db
def test_an_import_queues_the_engraving_of_its_new_tunes_once_it_commits(
    tmp_path, queued, django_capture_on_commit_callbacks
):
    corpus = corpus_get_or_create(name="engraved after import")
    old = make_tune(corpus, text=JIG, number=99)
    path = tmp_path / "three.abc"
    path.write_text("\n\n".join(oneills_tunes(3)))
    with django_capture_on_commit_callbacks(execute=True):
        job = corpus_import(corpus=corpus, source=str(path))
    assert job.imported == 3
    # Only the tunes this import added, from the first one after the corpus's last tune.
    assert queued == [(CORPUS_RENDER_TASK, (corpus.pk, old.pk))]
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again = corpus_import(corpus=corpus, source=str(path))
    assert again.imported == 0 and queued == []  # nothing new, nothing to engrave


@pytest.mark.django_db
def test_the_engraving_task_works_in_short_turns_and_queues_the_rest(
    queued, monkeypatch, django_capture_on_commit_callbacks
):
    corpus = Corpus.objects.create(name="Long corpus", source="tests")
    tunes = [make_tune(corpus, text=REEL.replace("X:1", f"X:{n}"), number=n) for n in (1, 2, 3)]
    monkeypatch.setattr(renders_module, "RENDER_TASK_BUDGET_S", 0.0)  # one tune per turn
    monkeypatch.setattr(renders_module, "RENDER_PAGE", 1)  # and read one at a time
    with django_capture_on_commit_callbacks(execute=True):
        assert corpus_tunes_render(corpus=corpus, after=0) == tunes[0].pk
    assert _tune_score(tunes[0]) is not None and _tune_score(tunes[1]) is None
    assert queued == [(CORPUS_RENDER_TASK, (corpus.pk, tunes[0].pk))]
    monkeypatch.setattr(renders_module, "RENDER_TASK_BUDGET_S", 600.0)
    with django_capture_on_commit_callbacks(execute=True):
        assert corpus_tunes_render(corpus=corpus, after=tunes[0].pk) == tunes[2].pk
    assert all(_tune_score(t) is not None for t in tunes)
    assert len(queued) == 1  # the last turn had nothing left to queue


@pytest.mark.django_db
def test_while_a_run_trains_on_this_machine_the_next_turn_of_engraving_waits(
    queued, monkeypatch, django_capture_on_commit_callbacks
):
    """Training runs at a lower CPU priority: engraving the bundled corpora on a first start
    held both cores and the first epoch came five minutes late. A run training elsewhere
    (another machine's worker) does not slow the engraving."""
    world = make_world()
    corpus = Corpus.objects.create(name="Long corpus", source="tests")
    tunes = [make_tune(corpus, text=REEL.replace("X:1", f"X:{n}"), number=n) for n in (1, 2, 3)]
    later: list[tuple[tuple, float]] = []
    task = current_app.tasks[CORPUS_RENDER_TASK]
    monkeypatch.setattr(task, "apply_async", lambda a, countdown: later.append((a, countdown)))
    monkeypatch.setattr(renders_module, "RENDER_TASK_BUDGET_S", 0.0)  # one tune per turn
    run = world.run
    run.status, run.worker = JobStatus.RUNNING, "train@elsewhere"
    run.save()
    with django_capture_on_commit_callbacks(execute=True):
        corpus_tunes_render(corpus=corpus, after=0)
    assert queued == [(CORPUS_RENDER_TASK, (corpus.pk, tunes[0].pk))] and later == []
    run.worker = f"train@{socket.gethostname()}"
    run.save()
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        corpus_tunes_render(corpus=corpus, after=tunes[0].pk)
    took = time.monotonic() - started
    assert len(queued) == 1 and [args for args, _ in later] == [(corpus.pk, tunes[1].pk)]
    assert 0 < later[0][1] <= took * renders_module.RENDER_YIELD_WHILE_TRAINING


@pytest.mark.django_db
def test_a_piece_page_whose_render_has_not_run_says_the_score_is_being_prepared(
    client, queued, monkeypatch, django_capture_on_commit_callbacks
):
    piece = make_piece(make_world(), title="Not yet engraved", audio=True)
    with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
        _refuse_engraving(patch)
        html = client.get(piece.get_absolute_url()).content.decode()
    assert "The score is being prepared" in html and 'class="score-page"' not in html
    assert queued == [(RENDER_TASK, (piece.pk,))]  # asked again, in case that task was lost
    piece_render(piece=piece)
    html = client.get(piece.get_absolute_url()).content.decode()
    assert 'class="score-page"' in html and "being prepared" not in html


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_engraves_an_imported_corpus_and_its_tune_pages_show_the_scores(
    tmp_path, celery_worker, client
):
    path = tmp_path / "four.abc"
    path.write_text("\n\n".join(oneills_tunes(4)))
    corpus = corpus_get_or_create(name="engraved by the worker")
    corpus_import(corpus=corpus, source=str(path))
    tunes = list(corpus.tunes.select_related("corpus").order_by("pk"))
    wait_for(
        lambda: all(
            file_exists(score_name(kind="tunes", pk=t.pk, way=t.corpus.way, text=t.text))
            for t in tunes
        ),
        timeout=120,
        what="the worker to engrave the imported tunes",
        worker=celery_worker,
    )
    html = client.get(tunes[-1].get_absolute_url()).content.decode()
    assert 'class="score-page"' in html and "The score is being prepared" not in html
    assert "The audio is being prepared" in html  # left to the tune's first view, then made


@pytest.mark.django_db
def test_a_command_queues_the_engraving_of_corpora_imported_before(
    queued, django_capture_on_commit_callbacks
):
    from django.core.management import CommandError, call_command

    old = Corpus.objects.create(name="Imported long ago", source="tests")
    make_tune(old, text=REEL, number=1)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("engrave_tunes", corpus="Imported long ago")
    assert queued == [(CORPUS_RENDER_TASK, (old.pk, 0))]
    with pytest.raises(CommandError, match="no corpus named"):
        call_command("engrave_tunes", corpus="Never imported")
