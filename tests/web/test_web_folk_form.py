"""The generate form's folk-tune form option: offered for ABC models, stored with the job,
refused without the grammar that keeps it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generator.models import GenerationJob
from tests.web.test_web_generate import form_data

pytestmark = pytest.mark.django_db


def test_the_folk_tune_form_is_offered_checked_and_stored_as_chosen(client, world):
    page = client.get(reverse("generate")).content.decode()
    box = re.search(r'<input type="checkbox" name="folk_form"[^>]*>', page)
    assert box and "checked" in box[0]  # on by default: people's tunes are shaped so
    assert "Shape the tune as a folk tune" in page
    client.post(
        reverse("generate"),
        form_data(world, grammar="on", folk_form="on"),
        REMOTE_ADDR="10.0.0.4",
    )
    client.post(reverse("generate"), form_data(world, grammar="on"), REMOTE_ADDR="10.0.0.5")
    shaped = GenerationJob.objects.get(requester_ip="10.0.0.4")
    plain = GenerationJob.objects.get(requester_ip="10.0.0.5")
    assert (shaped.folk_form, plain.folk_form) == (True, False)
    assert (
        "<dt>Form</dt><dd>a folk tune's parts</dd>"
        in client.get(shaped.get_absolute_url()).content.decode()
    )


def test_the_folk_tune_form_without_grammar_aware_sampling_is_refused_on_its_field(client, world):
    response = client.post(
        reverse("generate"), form_data(world, folk_form="on"), REMOTE_ADDR="10.0.0.6"
    )
    assert response.status_code == 200  # the form again, with the refusal on its field
    assert not GenerationJob.objects.filter(requester_ip="10.0.0.6").exists()
    errors = response.context["form"].errors
    assert "grammar-aware sampling" in " ".join(errors["folk_form"])
