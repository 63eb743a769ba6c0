"""The sampler a run's models are offered first: its takes, temperature and top-p come from
the run's config (`page_takes`, `page_temperature`, `page_top_p`): one take at 1.0 with
top-p 0.95 for the ABC `full` and `large` presets, the way's four takes at 0.9 for `quick`
and for a run made before the settings. The generate page starts with them for the model it
offers, each model's option carries them for the page's script, and the pieces a run's moves
and critic are fitted on are drawn with them."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generator.models import JobStatus
from generator.services import generation_job_create, generation_job_execute
from generator.services.pieces import PAGE_LENGTH, page_sampler, pieces_draw
from musiclib.ways import get_way
from musiclib.ways.abc_text import FULL_PAGE
from tests.api.builders import make_world
from tests.factories import make_trained_run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def offered(page: str, name: str) -> str:
    """The value the generate page's field `name` starts with."""
    field = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
    return re.search(r'value="([^"]*)"', field).group(1)


def make_full_world():
    world = make_world()
    world.run.config = {**world.run.config, **FULL_PAGE}
    world.run.save()
    return world


def test_the_full_and_large_presets_offer_one_take_at_1_and_top_p_0_95_and_quick_four_at_0_9():
    abc = get_way("abc")
    for preset in ("full", "large"):
        config = abc.resolve_config(preset=preset, overrides={})
        assert (config["page_takes"], config["page_temperature"], config["page_top_p"]) == (
            1, 1.0, 0.95,
        )  # fmt: skip
    quick = abc.resolve_config(preset="quick", overrides={})
    assert (quick["page_takes"], quick["page_temperature"], quick["page_top_p"]) == (0, 0.9, 1.0)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"page_takes": 9}, "page_takes must be a whole number of takes, 0..8"),
        ({"page_takes": 1.5}, "page_takes must be a whole number"),
        ({"page_temperature": 0}, "page_temperature must be a number, 0.1..3.0"),
        ({"page_temperature": "hot"}, "page_temperature must be a number"),
        ({"page_top_p": 1.5}, "page_top_p must be a number in (0, 1]"),
        ({"page_top_p": 0}, "page_top_p must be a number in (0, 1]"),
    ],
)
def test_a_page_sampler_out_of_range_is_refused_naming_its_field(override, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        get_way("abc").resolve_config(preset="full", overrides=override)


def test_a_run_made_before_the_setting_is_offered_its_ways_takes_at_0_9():
    world = make_world()
    assert "page_takes" not in world.run.config
    first = page_sampler(world.run)
    assert (first.takes, first.temperature, first.top_p) == (4, 0.9, 1.0)


def test_the_generate_page_starts_with_the_sampler_the_chosen_models_run_offers(client):
    quick, full = make_world(), make_full_world()
    page = client.get(reverse("generate"), {"checkpoint": full.checkpoint.pk}).content.decode()
    assert (offered(page, "takes"), offered(page, "temperature"), offered(page, "top_p")) == (
        "1", "1.0", "0.95",
    )  # fmt: skip
    # every model's option carries its own, for the page's script to offer on a change
    for world, values in ((quick, ("4", "0.9", "1")), (full, ("1", "1", "0.95"))):
        option = re.search(rf'<option value="{world.checkpoint.pk}"[^>]*>', page).group(0)
        assert (
            re.search(r'data-takes="([^"]*)"', option).group(1),
            re.search(r'data-temperature="([^"]*)"', option).group(1),
            re.search(r'data-top-p="([^"]*)"', option).group(1),
        ) == values
    page = client.get(reverse("generate"), {"run": quick.run.pk}).content.decode()
    assert (offered(page, "takes"), offered(page, "temperature"), offered(page, "top_p")) == (
        "4", "0.9", "1.0",
    )  # fmt: skip


@pytest.mark.slow
def test_the_pieces_a_runs_moves_and_critic_learn_from_are_drawn_with_its_page_sampler(
    tiny_corpus,
):
    run = make_trained_run(tiny_corpus, epochs=1)
    checkpoint = run.chosen_checkpoint
    run.config = {**run.config, **FULL_PAGE}
    run.save()
    seeds = [1, 2, 3, 4]
    drawn = pieces_draw(checkpoint=checkpoint, seeds=seeds)
    # the pieces a visitor's job with those values gets, one take each
    job = generation_job_create(
        checkpoint=checkpoint, count=4, seed=1, temperature=1.0, top_p=0.95, takes=1,
        max_length=PAGE_LENGTH, grammar=True, folk_form=True, returns=True, memory=True,
        enqueue=False,
    )  # fmt: skip
    job = generation_job_execute(job_id=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert [p.text for p in job.pieces.order_by("index")] == drawn
    run.config = {**run.config, "page_temperature": 0.9, "page_top_p": 1.0}
    run.save()
    assert pieces_draw(checkpoint=checkpoint, seeds=seeds) != drawn
