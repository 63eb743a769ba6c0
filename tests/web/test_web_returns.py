"""The generate form's option to bring bars and phrases back: offered for ABC models beside
the folk tune's shape, stored with the job and shown on its page, refused without the parts."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generator.models import GenerationJob
from tests.web.builders import make_piece
from tests.web.test_web_generate import form_data

pytestmark = pytest.mark.django_db


def test_bringing_bars_back_is_offered_checked_and_stored_as_chosen(client, world):
    page = client.get(reverse("generate")).content.decode()
    box = re.search(r'<input type="checkbox" name="returns"[^>]*>', page)
    assert box and "checked" in box[0]  # on by default: people's tunes are shaped so
    assert "Bring bars and phrases back" in page
    client.post(
        reverse("generate"),
        form_data(world, grammar="on", folk_form="on", returns="on"),
        REMOTE_ADDR="10.0.1.4",
    )
    client.post(
        reverse("generate"), form_data(world, grammar="on", folk_form="on"), REMOTE_ADDR="10.0.1.5"
    )
    returning = GenerationJob.objects.get(requester_ip="10.0.1.4")
    plain = GenerationJob.objects.get(requester_ip="10.0.1.5")
    assert (returning.returns, plain.returns) == (True, False)
    shown = client.get(returning.get_absolute_url()).content.decode()
    assert "<dt>Form</dt><dd>a folk tune's parts, bars that come back</dd>" in shown


def test_bringing_bars_back_without_the_8_bar_parts_is_refused_on_its_field(client, world):
    response = client.post(
        reverse("generate"), form_data(world, grammar="on", returns="on"), REMOTE_ADDR="10.0.1.6"
    )
    assert response.status_code == 200  # the form again, with the refusal on its field
    assert not GenerationJob.objects.filter(requester_ip="10.0.1.6").exists()
    assert "folk tune's shape" in " ".join(response.context["form"].errors["returns"])


def test_a_piece_page_says_how_its_form_was_shaped(client, world):
    job = world.job
    GenerationJob.objects.filter(pk=job.pk).update(grammar=True, folk_form=True, returns=True)
    job.refresh_from_db()
    piece = make_piece(world, job=job)
    page = client.get(piece.get_absolute_url()).content.decode()
    assert "<dt>Form</dt><dd data-form>a folk tune's parts, bars that come back</dd>" in page
    GenerationJob.objects.filter(pk=job.pk).update(folk_form=False, returns=False)
    assert "<dt>Form</dt>" not in client.get(piece.get_absolute_url()).content.decode()
