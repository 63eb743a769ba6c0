"""The generate page in headless Chromium shows only the fields the chosen model's way uses
(ABC, MIDI, audio and a toy fourth way registered for the test), and sends only those."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from generator.models import GenerationJob
from musiclib.ways import register, unregister
from musiclib.ways.abc_text import FULL_PAGE
from tests.generator.toy_way import ToyWay
from tests.ways_midi.builders import make_midi_world
from tests.web.builders import make_audio_world, make_toy_world, make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# label on the page → the field's name; the fields every model uses are always shown.
LABELS = {
    "Length": "max_length",
    "Grammar-aware sampling": "grammar",
    "Shape the tune as a folk tune": "folk_form",
    "Bring bars and phrases back": "returns",
    "Let figures come back": "memory",
    "Meter": "meter",
    "Key": "key",
    "Opening notes (ABC)": "opening",
    "Start from a corpus piece": "primer_tune",
    "Or upload a MIDI primer": "primer_midi",
    "Bars of the primer": "primer_bars",
    "Seconds": "seconds",
    "Opening recording": "prime_audio",
}
SHOWN = {
    "abc": {"max_length", "grammar", "folk_form", "returns", "memory", "meter", "key", "opening"},
    "midi": {"max_length", "grammar", "memory", "primer_tune", "primer_midi", "primer_bars"},
    "audio": {"seconds", "prime_audio"},
    "toy": {"max_length"},
}
# The takes each way's models are offered first where their run does not say
# (`Capabilities.default_takes`): four only where listening tests found them better (ABC).
TAKES = {"abc": "4", "midi": "1", "audio": "1", "toy": "1"}


@pytest.fixture
def toy():
    way = register(ToyWay())
    yield way
    unregister(way.name)


def test_the_generate_page_shows_only_the_fields_of_the_chosen_models_way(
    live_server, page: Page, screenshot, toy
):
    checkpoints = {
        "abc": make_world().checkpoint,
        "midi": make_midi_world().checkpoint,
        "audio": make_audio_world()[1],
        "toy": make_toy_world()[1],
    }
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/generate/")
    model = page.get_by_label("Run and checkpoint")
    for way, checkpoint in checkpoints.items():
        model.select_option(str(checkpoint.pk))
        for label, name in LABELS.items():
            field = page.get_by_label(label, exact=True)
            if name in SHOWN[way]:
                expect(field, f"{way}: {label}").to_be_visible()
            else:
                expect(field, f"{way}: {label}").to_be_hidden()
        expect(page.get_by_label("Temperature", exact=True)).to_be_visible()
        expect(page.get_by_label("Takes per piece", exact=True)).to_have_value(TAKES[way])
        screenshot(page, f"generate-{way}-model")
    opening = page.locator("fieldset", has_text="Opening")
    expect(opening).to_be_hidden()  # the toy way takes no opening the page offers

    # What was typed for one model and is hidden for the next is not sent.
    model.select_option(str(checkpoints["abc"].pk))
    page.get_by_label("Meter", exact=True).fill("6/8")
    model.select_option(str(checkpoints["audio"].pk))
    page.get_by_label("Seconds", exact=True).fill("2")
    page.get_by_role("button", name="Generate").click()
    expect(page).to_have_url(f"{live_server.url}/jobs/{GenerationJob.objects.latest('pk').pk}/")
    job = GenerationJob.objects.latest("pk")
    assert job.checkpoint_id == checkpoints["audio"].pk and job.prime == "" and not job.grammar
    assert job.takes == 1


def test_each_model_brings_its_runs_first_sampler_and_what_the_visitor_set_stays(
    live_server, page: Page
):
    quick, full = make_world().checkpoint, make_world().checkpoint
    full.run.config = {**full.run.config, **FULL_PAGE}  # one take at 1.0, top-p 0.95
    full.run.save()
    page.goto(live_server.url + "/generate/")
    model = page.get_by_label("Run and checkpoint")
    fields = [
        page.get_by_label(label, exact=True)
        for label in ("Takes per piece", "Temperature", "Top-p")
    ]

    def offered(*values):
        for field, value in zip(fields, values, strict=True):
            expect(field).to_have_value(value)

    model.select_option(str(full.pk))
    offered("1", "1", "0.95")
    expect(page.locator('[data-range-pair] input[type="range"]')).to_have_value("1")
    model.select_option(str(quick.pk))
    offered("4", "0.9", "1")
    fields[1].fill("1.2")  # the visitor's temperature stays; the rest follow the model
    model.select_option(str(full.pk))
    offered("1", "1.2", "0.95")


def test_takes_the_visitor_set_stay_when_the_model_changes(live_server, page: Page):
    abc, midi = make_world().checkpoint, make_midi_world().checkpoint
    page.goto(live_server.url + "/generate/")
    model, takes = page.get_by_label("Run and checkpoint"), page.get_by_label("Takes per piece")
    model.select_option(str(abc.pk))
    expect(takes).to_have_value("4")
    takes.fill("2")
    model.select_option(str(midi.pk))
    expect(takes).to_have_value("2")


def test_without_grammar_the_folk_form_and_its_returns_are_cleared_and_not_sent(
    live_server, page: Page, screenshot
):
    world = make_world()
    page.goto(live_server.url + "/generate/")
    page.get_by_label("Run and checkpoint").select_option(str(world.checkpoint.pk))
    grammar = page.get_by_label("Grammar-aware sampling", exact=True)
    form, returns = (page.get_by_label(label, exact=True) for label in
                     ("Shape the tune as a folk tune", "Bring bars and phrases back"))  # fmt: skip
    for box in (grammar, form, returns):
        expect(box).to_be_checked()  # the page starts with tunes shaped as people's are
    grammar.uncheck()
    for box in (form, returns):
        expect(box).not_to_be_checked()
        expect(box).to_be_disabled()
    screenshot(page, "generate-without-grammar")
    page.get_by_role("button", name="Generate").click()
    expect(page).to_have_url(f"{live_server.url}/jobs/{GenerationJob.objects.latest('pk').pk}/")
    job = GenerationJob.objects.latest("pk")
    assert (job.grammar, job.folk_form, job.returns, job.memory) == (False, False, False, True)
    # the grammar again: the form may be chosen again, left as the visitor sets it
    page.go_back()
    page.get_by_label("Grammar-aware sampling", exact=True).check()
    expect(page.get_by_label("Shape the tune as a folk tune", exact=True)).to_be_enabled()


def test_a_model_that_looks_back_is_offered_without_bars_brought_back_and_the_memory(
    live_server, page: Page
):
    plain, looking = make_world().checkpoint, make_world().checkpoint
    looking.run.config = {**looking.run.config, "look_back_heads": 4}
    looking.run.save(update_fields=["config"])
    page.goto(live_server.url + "/generate/")
    model = page.get_by_label("Run and checkpoint")
    returns, memory = (page.get_by_label(label, exact=True) for label in
                       ("Bring bars and phrases back", "Let figures come back"))  # fmt: skip
    model.select_option(str(looking.pk))
    expect(page.get_by_label("Shape the tune as a folk tune", exact=True)).to_be_checked()
    for box in (returns, memory):
        expect(box).not_to_be_checked()
    model.select_option(str(plain.pk))
    for box in (returns, memory):
        expect(box).to_be_checked()
    # What the visitor sets stays when the model changes.
    memory.uncheck()
    model.select_option(str(looking.pk))
    model.select_option(str(plain.pk))
    expect(returns).to_be_checked()
    expect(memory).not_to_be_checked()
