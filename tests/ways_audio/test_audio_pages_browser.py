"""An audio piece in real headless Chromium: the player plays, the spectrogram loads."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from generator.models import JobStatus, Piece, Way
from generator.services import (
    corpus_get_or_create,
    corpus_import,
    piece_render,
    training_run_execute,
)
from tests.factories import make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_listener_plays_an_audio_piece_and_sees_its_spectrogram(
    melody_folder, live_server, page: Page, screenshot
):
    corpus = corpus_get_or_create(name="sine melodies", way=Way.AUDIO)
    assert corpus_import(corpus=corpus, source=str(melody_folder)).status == JobStatus.SUCCEEDED
    run = training_run_execute(run_id=make_run(corpus, epochs=2, seed=3).pk, worker="here")
    assert run.status == JobStatus.SUCCEEDED, run.error
    piece = Piece.objects.filter(run=run).order_by("pk").first()
    piece_render(piece=piece)  # the render task draws its spectrogram once it is stored

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/pieces/{piece.pk}/")
    spectrogram = page.locator("img[src*='spectrogram']")
    expect(spectrogram).to_be_visible()
    page.wait_for_function(
        "() => [...document.images].some(i => i.src.includes('spectrogram') && i.naturalWidth > 0)"
    )
    audio = page.locator("audio").first
    audio.evaluate("a => { a.muted = true; return a.play(); }")
    page.wait_for_function(
        "() => { const a = document.querySelector('audio'); return a.currentTime > 0.2; }",
        timeout=30_000,
    )
    assert audio.evaluate("a => a.duration") > 1
    # A recording is not a tune: no parse badge, bars or notes, no tune type in its title.
    expect(page.locator(".hero .badge-parses, .hero .badge-valid")).to_have_count(0)
    expect(page.get_by_text("Bars that add up")).to_have_count(0)
    assert "(" not in piece.title
    screenshot(page, "piece-audio-desktop")
    page.goto(f"{live_server.url}/tunes/{corpus.tunes.first().pk}/")
    expect(page.get_by_text("human recording")).to_be_visible()
    screenshot(page, "tune-audio-desktop")
