"""The site in real headless Chromium against a live server: browse, filter, listen, download,
generate until the pieces appear, and watch a run page follow its run. Screenshots of every
page at desktop and phone widths go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from generator.models import Checkpoint, JobStatus, TrainingRun
from generator.services import piece_render, tune_render
from tests.web.builders import JIG, make_import, make_piece, make_tune, make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 90_000


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def mark_page(page: Page) -> None:
    """A flag that a reload would wipe: proves a page updated itself."""
    page.evaluate("window.__noReload = true")


def still_same_page(page: Page) -> bool:
    return page.evaluate("window.__noReload === true")


def test_a_visitor_filters_the_gallery_opens_a_piece_listens_and_downloads_each_format(
    live_server, page: Page, screenshot, tmp_path: Path
):
    world = make_world()
    heron = make_piece(world, title="The Foggy Heron (Reel)", key="D")
    piece_render(piece=heron)  # its score, engraved by the render task when it was stored
    make_piece(world, title="The Little Test Jig", key="G", meter="6/8", text=JIG)
    make_piece(world, title="Still Rendering", key="G", audio=False)
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + "/")
    expect(page.locator(".piece-card")).to_have_count(3)
    expect(page.get_by_text("rendering…")).to_be_visible()
    screenshot(page, "gallery-desktop")

    # filter by key: the select submits the form by itself
    page.get_by_text("More filters").click()
    page.get_by_label("Key").select_option("D")
    page.wait_for_url(re.compile(r"key=D"))
    expect(page.locator(".piece-card")).to_have_count(1)
    # search by title
    page.get_by_label("Search titles").fill("heron")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"q=heron"))
    screenshot(page, "gallery-filtered-desktop")

    page.get_by_role("link", name="The Foggy Heron (Reel)").click()
    page.wait_for_url(f"**{heron.get_absolute_url()}")
    expect(page.locator(".score svg").first).to_be_visible()
    box = page.locator(".score svg").first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 50

    # play with the keyboard: focus the play button and press Enter
    toggle = page.locator(".hero-play .player-toggle")
    expect(toggle).to_have_attribute("aria-label", "Play The Foggy Heron (Reel)")
    toggle.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => { const a = document.querySelector('.hero-play audio');"
        " return a && a.duration > 1 && a.currentTime > 0; }",
        timeout=30_000,
    )
    duration = page.evaluate("document.querySelector('.hero-play audio').duration")
    assert duration > 1
    expect(toggle).to_have_attribute("aria-label", "Pause The Foggy Heron (Reel)")
    page.get_by_label("Tempo").fill("120")
    assert page.evaluate("document.querySelector('.hero-play audio').playbackRate") == 1.2
    toggle.click()
    assert page.evaluate("document.querySelector('.hero-play audio').paused")
    screenshot(page, "piece-desktop")

    expected = {"abc": b"X:1", "midi": b"MThd", "musicxml": b"<?xml", "audio": b"OggS"}
    for fmt, magic in expected.items():
        with page.expect_download() as info:
            page.locator(f'a[data-format="{fmt}"]').click()
        download = info.value
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        assert target.read_bytes().startswith(magic), fmt
        assert target.name.startswith("the-foggy-heron-reel."), target.name

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator(".score svg").first).to_be_visible()
    assert no_horizontal_scroll(page)
    screenshot(page, "piece-phone")


def test_the_generate_flow_queues_a_job_and_the_pieces_appear_without_a_reload(
    celery_worker, trained_run, live_server, page: Page, screenshot
):
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + "/generate/")
    expect(page.get_by_label("Run and checkpoint")).to_be_visible()
    screenshot(page, "generate-desktop")
    page.get_by_label("Temperature", exact=True).fill("0.8")
    page.get_by_label("Seed").fill("2024")
    page.get_by_label("Meter").fill("6/8")
    page.get_by_label("Key").fill("D")
    page.get_by_label("Length").fill("200")
    page.get_by_label("How many pieces").fill("2")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    mark_page(page)
    expect(page.get_by_text("2024")).to_be_visible()
    expect(page.locator(".piece-card")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(page.locator(".status")).to_have_text("Succeeded", timeout=TIMEOUT_MS)
    # the worker renders the audio next; the cards swap in their players by themselves
    expect(page.locator(".piece-card .player-toggle")).to_have_count(2, timeout=TIMEOUT_MS)
    assert still_same_page(page)
    screenshot(page, "job-desktop")
    page.set_viewport_size(PHONE)
    assert no_horizontal_scroll(page)
    screenshot(page, "job-phone")


def test_a_run_page_updates_itself_as_the_run_trains(live_server, page: Page, screenshot):
    world = make_world(epochs=3)
    run = world.run
    history = list(run.history)
    Checkpoint.objects.filter(run=run, epoch__gt=1).delete()
    TrainingRun.objects.filter(pk=run.pk).update(
        status=JobStatus.RUNNING,
        progress=1 / 3,
        epochs_done=1,
        history=history[:1],
        started_at=timezone.now(),
        finished_at=None,
    )
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + run.get_absolute_url())
    mark_page(page)
    expect(page.locator('[data-text="epochs-done"]')).to_have_text("1")
    expect(page.locator(".chart .dot-loss")).to_have_count(1)

    Checkpoint.objects.create(run=run, epoch=2, file="x.keras", size_bytes=10, loss=1.5)
    TrainingRun.objects.filter(pk=run.pk).update(progress=2 / 3, epochs_done=2, history=history[:2])
    expect(page.locator('[data-text="epochs-done"]')).to_have_text("2", timeout=15_000)
    expect(page.locator(".chart .dot-loss")).to_have_count(2)
    expect(page.locator("[data-progress]")).to_have_attribute("aria-valuenow", "66.7")
    expect(page.locator('[data-html="checkpoints"] tbody tr')).to_have_count(2)

    TrainingRun.objects.filter(pk=run.pk).update(
        status=JobStatus.SUCCEEDED, progress=1.0, epochs_done=3, history=history,
        finished_at=timezone.now(),
    )  # fmt: skip
    expect(page.locator(".page-head .status")).to_have_text("Succeeded", timeout=15_000)
    expect(page.locator(".chart .dot-loss")).to_have_count(3)
    assert still_same_page(page)
    page.wait_for_timeout(800)  # the progress bar's width transition
    screenshot(page, "run-desktop")
    page.set_viewport_size(PHONE)
    assert no_horizontal_scroll(page)
    screenshot(page, "run-phone")


def test_a_run_page_follows_a_real_training_run_on_the_worker(
    celery_worker, live_server, page: Page, screenshot, staff_user
):
    from generator.services import training_run_create, training_run_start
    from tests.factories import make_tiny_corpus

    corpus = make_tiny_corpus(name="tiny live", tunes=20)
    run = training_run_create(corpus=corpus, preset="tiny", epochs=2, seed=4, name="Live tiny run")
    training_run_start(run=run)
    page.set_viewport_size(DESKTOP)
    page.goto(live_server.url + run.get_absolute_url())
    mark_page(page)
    expect(page.locator(".page-head .status")).to_have_text("Succeeded", timeout=TIMEOUT_MS)
    expect(page.locator('[data-text="epochs-done"]')).to_have_text("2")
    expect(page.locator(".chart .dot-loss")).to_have_count(2)
    expect(page.locator(".epoch")).to_have_count(2)
    expect(page.get_by_role("link", name="Generate from this run")).to_be_visible()
    expect(page.locator('[data-html="provenance"]')).to_contain_text("Vocab size")
    assert still_same_page(page)
    page.wait_for_timeout(800)  # the progress bar's width transition
    screenshot(page, "run-live-desktop")


def test_every_page_looks_right_on_desktop_and_phone(
    live_server, page: Page, screenshot, staff_user
):
    world = make_world()
    piece = make_piece(world, title="The Foggy Heron (Reel)")
    for i in range(5):
        make_piece(world, title=f"The Windy Mill {i} (Jig)", meter="6/8", key="G", text=JIG,
                   valid=[True, False, None, True, True][i], audio=i != 2)  # fmt: skip
    make_import(world.corpus)
    tune = make_tune(world.corpus)
    make_tune(world.corpus, text=JIG, number=2)
    piece_render(piece=piece)  # what the worker makes before these pages are first opened
    tune_render(tune=tune)
    pages = {
        "gallery": "/",
        "piece": piece.get_absolute_url(),
        "generate": "/generate/",
        "job": piece.job.get_absolute_url(),
        "runs": "/runs/",
        "run": world.run.get_absolute_url(),
        "corpora": "/corpora/",
        "corpus": world.corpus.get_absolute_url(),
        "tune": tune.get_absolute_url(),
        "login": "/accounts/login/",
        "not-found": "/pieces/999999/",
    }
    for width_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for name, path in pages.items():
            response = page.goto(live_server.url + path)
            assert response.status == (404 if name == "not-found" else 200), name
            expect(page.locator("h1")).to_be_visible()
            assert no_horizontal_scroll(page), f"{name} scrolls sideways at {width_name} width"
            screenshot(page, f"page-{name}-{width_name}")
    # staff see the run actions and the admin link
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(staff_user.username)
    page.get_by_label("Password").fill(staff_user.raw_password)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + world.run.get_absolute_url())
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    page.set_viewport_size(DESKTOP)
    screenshot(page, "page-run-staff-desktop")
