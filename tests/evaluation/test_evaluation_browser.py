"""The evaluation pages in headless Chromium: they lay out at desktop and phone widths.
Screenshots go to test-artifacts/screenshots/evaluation-*.png."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from evaluation import services
from musiclib.metrics.melody import notes_from_text
from tests.evaluation.helpers import junk, make_piece, notes_to_abc, transposed
from tests.factories import make_tiny_corpus, make_trained_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_the_run_report_and_the_corpus_calibration_pages_lay_out_on_desktop_and_phone(
    live_server, page: Page, screenshot
):
    corpus = make_tiny_corpus(name="browser evaluation", tunes=40)
    run = make_trained_run(corpus, epochs=2, samples_per_epoch=2)
    tunes = [notes_from_text(text=t.text, way="abc") for t in corpus.tunes.order_by("pk")]
    rng = np.random.default_rng(4)
    for epoch, checkpoint in enumerate(run.checkpoints.order_by("epoch")):
        for notes in tunes[epoch * 2 : epoch * 2 + 2]:  # later epochs "memorise" more
            shuffled = [notes[i] for i in rng.permutation(len(notes))]
            part = notes[: 12 + 20 * epoch] + shuffled
            make_piece(run, text=notes_to_abc(part), epoch_sample=True, checkpoint=checkpoint)
    for notes in tunes[10:16]:
        make_piece(run, text=notes_to_abc(transposed(notes, 2)))
    for notes in tunes[16:24]:
        make_piece(run, text=notes_to_abc([notes[i] for i in rng.permutation(len(notes))]))
    services.run_report_measure(run=run)  # what the report task does

    for path, name, heading in (
        (f"/evaluation/runs/{run.pk}/", "evaluation-run-report", "copying its corpus"),
        (f"/evaluation/corpora/{corpus.pk}/", "evaluation-corpus", "borrow from each other"),
    ):
        page.set_viewport_size(DESKTOP)
        page.goto(live_server.url + path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        expect(page.locator("figure.eval-chart svg").first).to_be_visible()
        screenshot(page, f"{name}-desktop")
        page.set_viewport_size(PHONE)
        assert no_horizontal_scroll(page), name
        screenshot(page, f"{name}-phone")


def test_the_piece_evaluation_panel_lays_out_inside_a_site_page(
    live_server, page: Page, screenshot
):
    """The partial the piece page includes, rendered inside base.html."""
    from django.contrib.auth.models import AnonymousUser
    from django.template import engines
    from django.test import RequestFactory

    corpus = make_tiny_corpus(name="browser partial", tunes=40)
    run = make_trained_run(corpus, epochs=1)
    tune = corpus.tunes.order_by("pk")[7]
    melody = notes_from_text(text=tune.text, way="abc")
    rng = np.random.default_rng(5)
    before = junk(rng, 17)
    passage = transposed(melody[10:40], before[-1].pitch + 20 - melody[10].pitch)
    piece = make_piece(run, text=notes_to_abc(before + passage + junk(rng, 12, start=50)))
    services.piece_evaluate(piece=piece)

    request = RequestFactory().get(f"/pieces/{piece.pk}/")
    request.user = AnonymousUser()
    request.resolver_match = None
    template = engines["django"].from_string(
        '{% extends "base.html" %}{% block content %}<div class="detail-grid"><div '
        'class="detail-main">{% include "evaluation/_piece_evaluation.html" %}</div>'
        "</div>{% endblock %}"
    )
    html = template.render({"piece": piece}, request)
    page.goto(f"{live_server.url}/evaluation/corpora/{corpus.pk}/")  # same origin
    for size, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        page.set_content(html.replace('href="/', f'href="{live_server.url}/'))
        expect(page.locator(".eval-panel mark").first).to_be_visible()
        expect(page.locator(".eval-verdict")).to_contain_text("Likely copied")
        assert no_horizontal_scroll(page), name
        screenshot(page, f"evaluation-piece-panel-{name}")
