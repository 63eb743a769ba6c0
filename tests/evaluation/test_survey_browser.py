"""A whole survey in headless Chromium: consent, every clip played and answered, thanks; then
staff read the results. Screenshots: test-artifacts/screenshots/survey-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from evaluation.survey.models import Listener, SurveyResponse
from tests.evaluation.survey_builders import make_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.fixture(autouse=True)
def _clear_throttle_counts():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_a_listener_completes_a_survey_with_audio_that_plays_and_staff_read_the_results(
    live_server, page: Page, screenshot, staff_user
):
    survey = make_survey(tunes=3, pieces=3, clips_per_listener=6, public_results=False)
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Survey", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(survey.title)
    expect(page.get_by_text("You may stop at any time")).to_be_visible()
    screenshot(page, "survey-consent-desktop")

    page.get_by_label("Your musical experience").select_option("amateur")
    page.get_by_label("I have read the above and agree").check()
    page.get_by_role("button", name="Start listening").click()

    for number in range(1, 7):
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Clip {number} of 6")
        page.locator(".survey-player .player-toggle").click()
        page.wait_for_function(
            "() => { const a = document.querySelector('.survey-player audio');"
            " return a && a.readyState >= 2 && a.duration > 0 && a.currentTime > 0.2; }",
            timeout=30_000,
        )
        duration = page.evaluate("document.querySelector('.survey-player audio').duration")
        assert 10 < duration <= survey.clip_seconds + 1.01
        if number == 1:
            screenshot(page, "survey-listen-desktop")
        page.locator(".survey-choice", has_text="A computer" if number % 2 else "A person").click()
        page.locator(".survey-scale-confidence .survey-choice", has_text="4").click()
        page.locator(".survey-scale-liking .survey-choice", has_text=str(1 + number % 5)).click()
        page.locator(".survey-scale-coherence .survey-choice", has_text="3").click()
        if number == 2:
            page.get_by_label(survey.comment_question).fill("Lovely lilt.")
        if number == 6:
            screenshot(page, "survey-listen-answered-desktop")
        page.get_by_role("button", name="Finish" if number == 6 else "Next clip").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for listening")
    expect(page.get_by_text("You rated 6 clips")).to_be_visible()
    listener = Listener.objects.get()
    assert listener.experience == "amateur" and listener.finished_at is not None
    assert SurveyResponse.objects.filter(listener=listener).count() == 6
    assert SurveyResponse.objects.filter(comment="Lovely lilt.").count() == 1

    # the listening page on a phone (a second listener)
    page.context.clear_cookies()
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + f"/survey/{survey.pk}/")
    page.get_by_label("I have read the above and agree").check()
    page.get_by_role("button", name="Start listening").click()
    expect(page.locator(".survey-player .player-toggle")).to_be_visible()
    assert no_horizontal_scroll(page)
    screenshot(page, "survey-listen-phone")

    # anonymous visitors may not read the results; staff may
    response = page.goto(live_server.url + f"/survey/{survey.pk}/results/")
    assert response.status == 403
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(staff_user.username)
    page.get_by_label("Password").fill(staff_user.raw_password)
    page.get_by_role("button", name="Sign in").click()
    page.set_viewport_size(DESKTOP)
    response = page.goto(live_server.url + f"/survey/{survey.pk}/results/")
    assert response.status == 200
    expect(page.get_by_role("heading", name="By source")).to_be_visible()
    expect(page.locator("table").last.locator("tbody tr")).to_have_count(6)
    screenshot(page, "survey-results-desktop")
    page.set_viewport_size(PHONE)
    assert no_horizontal_scroll(page)  # wide tables scroll inside their own frame
    screenshot(page, "survey-results-phone")
