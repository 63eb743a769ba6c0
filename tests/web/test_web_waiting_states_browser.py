"""Pages that answer at once and fill in what the workers make, in real headless Chromium: a
tune's score being prepared, and the staff monitoring page asking the workers."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from generator.models import Corpus
from generator.services import tune_render
from tests.web.builders import REEL, make_tune

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TIMEOUT_MS = 30_000


def test_a_tune_page_says_its_score_is_being_prepared_then_shows_it_by_itself(
    live_server, page: Page
):
    tune = make_tune(Corpus.objects.create(name="Waiting tunes", source="tests"), text=REEL)
    page.goto(live_server.url + tune.get_absolute_url())
    expect(page.locator("[data-score-state=preparing]")).to_contain_text(
        "The score is being prepared"
    )
    expect(page.locator(".score svg")).to_have_count(0)
    tune_render(tune=tune)  # what the render task the page asked for does, on the worker
    # The page reloads itself and shows the engraved score.
    expect(page.locator(".score svg").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("The score is being prepared")).to_have_count(0)


def test_the_monitoring_page_answers_at_once_and_then_says_which_workers_answered(
    live_server, page: Page, staff_user, settings
):
    settings.HEALTH_TIMEOUT_S = 0.5  # no worker runs here: nobody will answer
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(staff_user.username)
    page.get_by_label("Password").fill(staff_user.raw_password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    page.goto(live_server.url + "/ops/")
    expect(page.get_by_role("heading", name="Queues", exact=True)).to_be_visible()
    expect(page.get_by_text("No worker answered")).to_be_visible(timeout=TIMEOUT_MS)


def test_a_tune_page_says_its_audio_is_being_prepared_then_shows_the_player_by_itself(
    live_server, page: Page
):
    tune = make_tune(Corpus.objects.create(name="Tunes heard later", source="tests"), text=REEL)
    page.goto(live_server.url + tune.get_absolute_url())
    expect(page.locator("[data-audio-state=preparing]")).to_contain_text(
        "The audio is being prepared"
    )
    expect(page.locator(".hero-play audio")).to_have_count(0)
    tune_render(tune=tune)  # what the render task the page asked for does, on the worker
    expect(page.locator(".hero-play [data-player]")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("[data-audio-state=preparing]")).to_have_count(0)


def test_a_card_player_whose_audio_is_being_made_says_so_and_plays_once_it_is_made(
    live_server, page: Page
):
    corpus = Corpus.objects.create(name="Cards heard later", source="tests")
    tune = make_tune(corpus, text=REEL)
    page.goto(live_server.url + corpus.get_absolute_url())
    card = page.locator(".tune-card").first
    card.get_by_role("button", name=f"Play {tune.title}").click()
    # The audio's URL answered 202 (the worker has not made it): the player says so and
    # asks again after its Retry-After.
    expect(card.locator(".player-status")).to_have_text("preparing audio…", timeout=TIMEOUT_MS)
    tune_render(tune=tune)
    page.wait_for_function(
        "() => { const a = document.querySelector('.tune-card audio');"
        " return a && a.readyState >= 2 && !a.error; }",
        timeout=TIMEOUT_MS,
    )
    expect(card.locator(".player-status")).not_to_have_text("audio unavailable")
