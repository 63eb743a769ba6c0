"""The generate page in headless Chromium: the opening fields follow the chosen run's way,
and the corpus-piece select offers only the tunes of the chosen MIDI run's corpus."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ways_midi.builders import make_midi_world
from tests.web.builders import make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_primer_fields_follow_the_chosen_runs_way(live_server, page: Page, screenshot):
    abc = make_world()
    midi, other = make_midi_world(), make_midi_world()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/generate/")
    checkpoint = page.get_by_label("Run and checkpoint")
    meter = page.get_by_label("Meter")
    tunes = page.get_by_label("Start from a corpus piece")

    checkpoint.select_option(str(midi.checkpoint.pk))
    expect(meter).to_be_hidden()
    expect(tunes).to_be_visible()
    expect(page.get_by_label("Or upload a MIDI primer")).to_be_visible()
    enabled = tunes.locator("option:not([disabled])")
    expect(enabled).to_have_count(1 + len(midi.tunes))  # "No primer" and this corpus's tunes
    tunes.select_option(str(midi.tunes[1].pk))
    screenshot(page, "generate-midi-primer")

    checkpoint.select_option(str(other.checkpoint.pk))  # another corpus: the choice is dropped
    expect(tunes).to_have_value("")
    expect(enabled).to_have_count(1 + len(other.tunes))

    checkpoint.select_option(str(abc.checkpoint.pk))
    expect(meter).to_be_visible()
    expect(tunes).to_be_hidden()
